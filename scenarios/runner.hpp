// Running a scenario: its model in the simulator, explored under its settings, judged against its
// expectations; reproducers written back as scenarios.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/scenario.hpp"
#include "sim/explorer.hpp"

namespace devsim::scenarios {

// Command-line overrides of a scenario's own settings.
struct Overrides {
  std::optional<sim::StrategyKind> strategy;
  std::optional<std::uint64_t> seed;
  std::optional<std::uint64_t> executions;
  std::optional<int> preemptions;
  std::optional<std::string> reduction;  // exhaustive: "dpor", "sleep-sets" or "none" (sim::parse_reduction)
  std::optional<int> pct_depth;
  std::optional<std::uint64_t> step_budget;  // scheduling points per execution
  double max_seconds = 0;                    // stop exploring after this long (0: no time limit)
  // Called about once a second of a long exploration (ExploreOptions::progress).
  std::function<void(const sim::ExploreResult&)> progress;
  // Set by SIGINT/SIGTERM: exploring stops after the running execution (ExploreOptions::stop).
  const std::atomic<bool>* stop = nullptr;
};

struct Verdict {
  bool passed = false;
  std::string summary;             // one line: what was expected and what happened
  std::vector<std::string> unmet;  // expectations that failed, as messages
  sim::ExploreResult result;       // the exploration (for a replay: one execution)
  bool replayed = false;           // the scenario carried a schedule and ran exactly it
  // A replayed schedule that did not fit the execution: "FILE:LINE:COL: ..." saying where it diverged (empty
  // when it fit). Such a replay proves nothing: it is an input error, not a verdict.
  std::string divergence;
  // devsim's own limits that executions ran into (the step budget, host memory): "devsim limit: ..." messages.
  // Not bug reports: these executions are left out of `result.failures`.
  std::vector<std::string> limits;
  // What set-up left undone, as "note: ..." messages: a device the scenario declares that had no driver bound when
  // the tasks started, and why (no driver matched it, a probe's error). Not a bug and no effect on `passed` (a
  // scenario may plug a device for a driver a task loads later), but a run whose every open fails must not read
  // as a clean bill without saying so.
  std::vector<std::string> notes;
};

// The devices left unbound after set-up, gathered over the executions of one exploration (make_model).
struct SetUpNotes {
  std::uint64_t executions = 0;  // executions whose set-up finished
  struct Unbound {
    std::string why;               // as first seen
    std::uint64_t executions = 0;  // how many executions left the device unbound
  };
  std::map<std::string, Unbound> unbound;  // by "BUS ID (MODALIAS)"
  // When asked for (list_attributes), the attribute files of each declared device after the first execution's
  // set-up, by "BUS ID": names in its sysfs directory and one level of subdirectories ("group/name"), sorted. For the
  // fuzzer, which writes and reads a driver's attributes (listing builds the lazy sysfs tree: not for every run).
  bool list_attributes = false;
  std::map<std::string, std::vector<std::string>> attributes;
};

// The step budget an execution of `scenario` gets unless overridden: the scenario's own (explore steps=N), or
// limits::kDefaultStepBudget, raised to limits::kDefaultStepsPerOperation per operation for long scenarios.
std::uint64_t default_step_budget(const Scenario& scenario);

// The simulated model of a scenario: loads the drivers, adds the devices, then runs the tasks concurrently.
// LIFETIME: the model refers to `scenario`, which must outlive every execution of it.
// With `notes`, each execution adds the devices its set-up left unbound (LIFETIME: `notes` outlives the executions).
sim::Model make_model(const Scenario& scenario, SetUpNotes* notes = nullptr);

// Explores the scenario (or replays its schedule) and judges it.
Verdict run_scenario(const Scenario& scenario, const Overrides& overrides = {}, bool trace_first_failure = false);

// A reproducer: the scenario's own text without its expectations and settings, with the failing execution's
// schedule, declaring no bug (so replaying it fails while the bug reproduces, and passes once fixed).
std::string reproducer_text(const Scenario& scenario, const sim::Report& failure);

// Whether a report satisfies an expectation: its kind, and the function if one is named (in the headline, the
// access site, or any frame of the access stack).
bool report_matches(const sim::Report& report, const Expectation& expectation);

}  // namespace devsim::scenarios
