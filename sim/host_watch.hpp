// Host memory that exploration footprints must see although it is not simulated memory: the writable segments
// (.data and .bss) of the C modules loaded on this thread, where the modules' globals live. Two tasks that share
// state only through a global are ordered by nothing else the engine records (no lock, no simulated object, no
// wake-up); without this, dynamic partial-order reduction takes them to be independent and runs one order only.
//
// Accesses to watched memory are footprinted and race-checked as accesses to simulated memory are: plain ones
// against each other (two tasks, one writing, nothing ordering them: KCSAN's data race), marked ones (READ_ONCE,
// atomics) never, and a marked access's release or acquire order (smp_store_release, smp_load_acquire, a
// value-returning atomic_t operation) is a happens-before edge, so a global flag that publishes a simulated
// object orders the object's accesses. They are not scheduling points (docs/architecture.md). Only C modules are
// watched: their translation units hold the driver's code alone. A C++ driver's translation units also instantiate the
// engine's inline code, whose accesses to its own containers must not reach the footprint it is in the middle of
// changing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace devsim::sim::host_watch {

// [t_base, t_base + t_span) covers every range this thread watches: the prefilter every instrumented access to
// host memory pays (one subtraction, one comparison). A span of 0 watches nothing.
inline constinit thread_local std::uintptr_t t_base = 0;
inline constinit thread_local std::uintptr_t t_span = 0;

inline bool may_watch(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) - t_base < t_span;
}

// Watches [at, at + size) on this thread from now on; `owner` names it in reports ("module usbskel").
// LIFETIME: for the thread's life; the memory must stay mapped that long (module copies are never unloaded).
void watch(const void* at, std::size_t size, std::string owner);

// An instrumented access that passed the prefilter, with its kAccess* flags (sim/memory.hpp) and the return
// address of its callback. When it falls in a watched range and a task made it: each 8-byte word it covers joins
// the task's current footprint (when the world records footprints), and the race detector sees it.
void on_access(const void* p, std::size_t size, unsigned flags, std::uintptr_t pc) noexcept;

}  // namespace devsim::sim::host_watch
