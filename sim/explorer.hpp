// Running a model many times under a strategy: the explorer API every front end uses.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/choice.hpp"
#include "sim/report.hpp"
#include "sim/strategy.hpp"
#include "sim/world.hpp"

namespace devsim::sim {

// A model builds one execution: it is called with a fresh world, creates the initial simulated state and
// spawns tasks. It must be deterministic: everything nondeterministic goes through the world's choices.
using Model = std::function<void(World&)>;

struct ExploreResult;

struct ExploreOptions {
  StrategyOptions strategy;
  std::uint64_t max_executions = 1000;  // 0: no limit (exhaustive runs until done)
  double max_seconds = 0;               // 0: no time limit
  WorldOptions world;
  bool stop_at_first_failure = false;
  bool trace_first_failure = false;  // replay the first failure with tracing on and keep its trace
  // Called on the exploring thread about once a second of a long exploration, with what is done so far (its
  // `seconds` set): how front ends print a progress line.
  std::function<void(const ExploreResult&)> progress;
  // When set (by a signal handler: SIGINT, SIGTERM), the exploration ends after the execution that is running, with
  // what it found so far. LIFETIME: the flag outlives the explore() call.
  const std::atomic<bool>* stop = nullptr;
};

// One distinct bug: every failing execution whose report has this signature.
struct Failure {
  std::string signature;  // kind + access site + free site
  std::uint64_t count = 0;
  std::uint64_t first_execution = 0;  // 0-based index
  Report report;                      // the first report with this signature (its schedule included)
};

// One execution, kept whole.
struct Execution {
  std::uint64_t index = 0;
  Outcome outcome = Outcome::Completed;
  Schedule schedule;
  std::vector<Report> reports;
  std::string trace_json;  // when tracing was on
  bool diverged = false;   // a replayed schedule did not fit
};

struct ExploreResult {
  std::uint64_t executions = 0;
  std::uint64_t failing_executions = 0;
  std::uint64_t pruned_executions = 0;    // stopped early as redundant (sleep sets)
  std::uint64_t pruned_alternatives = 0;  // the strategy's count of skipped equivalent branches
  bool exhausted = false;                 // an exhaustive strategy covered its whole space
  bool out_of_time = false;               // max_seconds ended it before its execution budget or search did
  bool interrupted = false;               // ExploreOptions::stop ended it
  double seconds = 0;
  std::vector<Failure> failures;  // distinct signatures, in order of discovery
  std::optional<Execution> first_failure;
};

ExploreResult explore(const Model& model, const ExploreOptions& options);

// Runs one execution of `model` with the given strategy (default choices if none).
Execution run_once(const Model& model, const WorldOptions& options = {}, Strategy* strategy = nullptr,
                   StackPool* pool = nullptr);

// Replays a recorded schedule exactly (tracing on if options.trace).
Execution replay(const Model& model, const Schedule& schedule, const WorldOptions& options = {});

}  // namespace devsim::sim
