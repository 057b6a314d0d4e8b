// Helpers shared by the core/ suites that run in the simulator: one-task worlds, exhaustive exploration, and a
// minimal sleeping lock for models (core/ locks are tested on their own; these suites must not depend on them).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/explorer.hpp"
#include "sim/world.hpp"
#include "tests/sim/test_models.hpp"  // printers for engine enums in BOOST_TEST

namespace devsim::core::test {

// Runs `body` as the only task of a world; returns the whole execution (reports, outcome).
template <class F>
sim::Execution run_task(F body) {
  return sim::run_once([&](sim::World& w) { w.spawn("t", body); });
}

// Every schedule of `model` with at most `preemptions` preemptions, no sleep sets (the plain count).
inline sim::ExploreResult explore_exhaustively(const sim::Model& model, int preemptions = 2) {
  sim::ExploreOptions options;
  options.strategy.kind = sim::StrategyKind::Exhaustive;
  options.strategy.preemption_bound = preemptions;
  options.max_executions = 0;
  return sim::explore(model, options);
}

inline bool found(const sim::ExploreResult& result, std::string_view headline) {
  for (const sim::Failure& f : result.failures)
    if (f.report.headline == headline) return true;
  return false;
}

inline std::vector<std::string> headlines(const std::vector<sim::Report>& reports) {
  std::vector<std::string> out;
  for (const sim::Report& r : reports)
    out.push_back(r.headline);
  return out;
}

// A sleeping lock for models (the lookup table's lock): a scheduling point to take it, blocks while held.
class ModelLock {
 public:
  void lock() {
    sim::World& w = sim::world();
    w.yield(sim::EventKind::Acquire, this);
    while (held_)
      w.block(this, "model lock");
    held_ = true;
    w.note_acquired(this, "model lock");
  }
  void unlock() {
    sim::World& w = sim::world();
    held_ = false;
    w.note_released(this);
    w.wake_one(this);
  }

 private:
  bool held_ = false;
};

}  // namespace devsim::core::test
