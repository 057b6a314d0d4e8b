// The limits of devsim's input, in one place: the parser, the runner and the command line check against these,
// and docs/scenario-language.md lists them. A value outside a limit is an input error (FILE:LINE:COL, exit 2),
// never a silent clamp or wrap-around.
#pragma once

#include <cstddef>
#include <cstdint>

namespace devsim::scenarios::limits {

// A scenario file: at most 1 MiB, read only from a regular file.
inline constexpr std::uint64_t kMaxFileBytes = 1u << 20;
// Names (tasks, variables, device ids, firmware files): at most 64 bytes of the documented alphabet.
inline constexpr std::size_t kMaxNameLength = 64;
// Tasks of one scenario. Each task is a fiber with its own mapped stack; tens of thousands exhaust the host's
// vm.max_map_count, so the language stops well before.
inline constexpr std::uint64_t kMaxTasks = 1024;
// Executions of one run (explore executions=, --executions). 0 is "until exhaustive search ends".
inline constexpr std::uint64_t kMaxExecutions = 1'000'000'000;
// PCT depth: the strategy keeps depth-1 change points per execution; bugs of depth > 10 are not found in
// practice, and a huge depth only costs memory.
inline constexpr std::uint64_t kMaxPctDepth = 64;
// Exhaustive search's preemption bound (no bound: leave it out).
inline constexpr std::uint64_t kMaxPreemptions = 1000;
// Scheduling points of one execution (explore steps=, --step-budget).
inline constexpr std::uint64_t kMinStepBudget = 100;
inline constexpr std::uint64_t kMaxStepBudget = 10'000'000'000ULL;
// The default step budget grows with the scenario: at least this many scheduling points per operation.
inline constexpr std::uint64_t kDefaultStepsPerOperation = 100;
inline constexpr std::uint64_t kDefaultStepBudget = 100'000;
// One sleep: at most an hour of virtual time (so the sum of every sleep of a file fits virtual time).
inline constexpr std::uint64_t kMaxSleepNanos = 3'600'000'000'000ULL;
// Byte count of read/write: at most 1 MiB per call.
inline constexpr std::uint64_t kMaxIoBytes = 1u << 20;
// Interrupt lines.
inline constexpr std::uint64_t kMaxIrq = 1023;
// Results after '=>': an errno is -1..-4095 (the kernel's MAX_ERRNO, include/linux/err.h); a value is 0..2^63-1.
inline constexpr std::int64_t kMaxErrno = 4095;
// fail-nth N.
inline constexpr std::uint64_t kMaxFailNth = 1'000'000'000;
// run --time: seconds.
inline constexpr double kMaxSeconds = 30.0 * 24 * 3600;

}  // namespace devsim::scenarios::limits
