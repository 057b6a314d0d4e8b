// Running a scenario: its model in the simulator, explored under its settings, judged against its
// expectations; reproducers written back as scenarios.
#pragma once

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
  std::optional<int> pct_depth;
};

struct Verdict {
  bool passed = false;
  std::string summary;             // one line: what was expected and what happened
  std::vector<std::string> unmet;  // expectations that failed, as messages
  sim::ExploreResult result;       // the exploration (for a replay: one execution)
  bool replayed = false;           // the scenario carried a schedule and ran exactly it
};

// The simulated model of a scenario: loads the drivers, adds the devices, then runs the tasks concurrently.
// LIFETIME: the model refers to `scenario`, which must outlive every execution of it.
sim::Model make_model(const Scenario& scenario);

// Explores the scenario (or replays its schedule) and judges it.
Verdict run_scenario(const Scenario& scenario, const Overrides& overrides = {}, bool trace_first_failure = false);

// A reproducer: the scenario's own text without its expectations and settings, with the failing execution's
// schedule, declaring no bug (so replaying it fails while the bug reproduces, and passes once fixed).
std::string reproducer_text(const Scenario& scenario, const sim::Report& failure);

// Whether a report satisfies an expectation: its kind, and the function if one is named (in the headline, the
// access site, or any frame of the access stack).
bool report_matches(const sim::Report& report, const Expectation& expectation);

}  // namespace devsim::scenarios
