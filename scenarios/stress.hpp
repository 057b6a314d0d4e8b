// Native stress: a scenario's tasks on real OS threads, again and again, with small random delays at operation
// boundaries to widen race windows. The detectors are the native ones: ASan (a use-after-free ends the process
// with its report), TSan (data races), LeakSanitizer (leaks, at exit), and the driver model's own reports
// (sim/native_report.hpp: MMIO after iounmap, double and invalid kfree, context misuse, unexpected results).
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

#include "scenarios/scenario.hpp"

namespace devsim::scenarios {

struct StressOptions {
  std::uint64_t iterations = 1000;
  double max_seconds = 0;  // stop after this long (0: no time limit)
  std::uint64_t seed = 1;  // the delays' random sequence (threads interleave as the OS schedules them regardless)
  // A `sleep` of the scenario sleeps this fraction of its duration (1: real time; 0: not at all).
  double sleep_scale = 1.0;
  std::uint32_t max_delay_us = 50;  // the longest random delay at an operation boundary (0: none)
  // A phase of an iteration (set-up, the tasks, shut-down) still running after this long stops the run: something
  // is blocked, and a native thread cannot be interrupted. For the tasks, as the simulator does when nothing else
  // can run, tasks that all sleep interruptibly or killably are first killed (SIGKILL) and given as long again.
  double iteration_timeout_seconds = 10;
  // Check the results the scenario allows (`=> 0 | -ENODEV`). Off by default: a scenario's results often rest on its
  // virtual-time sleeps ordering the tasks (the hub unplugs while the app's call sleeps), an order real threads do
  // not keep, so a result the simulator guarantees may differ natively with no bug in the driver.
  bool check_results = false;
};

struct StressResult {
  std::uint64_t iterations = 0;  // iterations that finished
  double seconds = 0;
  std::uint64_t reports = 0;  // the driver model's native reports (printed on stderr as they came)
  // Iterations whose tasks were all left asleep (interruptibly or killably) at the deadline and were killed.
  std::uint64_t sleepers_killed = 0;
  // Which phase of an iteration did not finish in time (a devsim limit: see StressOptions); None if none.
  enum class Phase { None, SetUp, Tasks, ShutDown };
  Phase hung = Phase::None;
  bool passed() const { return reports == 0 && hung == Phase::None; }
};

// Why `scenario` cannot run natively, as "FILE:LINE:COL: message", or "" if it can (every shipped scenario can; a
// scenario naming a driver this build does not have cannot).
std::string native_obstacle(const Scenario& scenario);

// Runs the scenario natively until an iteration reports, the iterations or the time run out. Requires that
// native_obstacle() is empty and that no simulated world is current. `progress` (may be empty) is called after each
// iteration.
StressResult stress_scenario(const Scenario& scenario, const StressOptions& options,
                             const std::function<void(const StressResult&)>& progress = {});

}  // namespace devsim::scenarios
