// What the tests of kernel C "cases" share (tests/c/*_cases.c: C functions against include/linux, run in simulated
// tasks): one task running a body, every schedule of a model, and whether a kind was reported.
#pragma once

#include <functional>
#include <string_view>

#include "sim/explorer.hpp"
#include "sim/report.hpp"
#include "sim/world.hpp"

namespace devsim::test {

// `body` as the one task "driver" of an execution.
inline sim::Execution run_in_task(const std::function<void()> &body, sim::WorldOptions options = {}) {
  return sim::run_once([body](sim::World &w) { w.spawn("driver", body); }, options);
}

// Every schedule of `model` (exhaustive, no bound). kmemleak is off: the objects the tasks share are the test's and
// outlive them.
inline sim::ExploreResult explore_every_schedule(const sim::Model &model) {
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Exhaustive;
  o.max_executions = 0;
  o.world.detect_leaks = false;
  return sim::explore(model, o);
}

inline bool any_report(const sim::ExploreResult &r, std::string_view kind) {
  for (const sim::Failure &f : r.failures)
    if (f.report.kind == kind) return true;
  return false;
}

}  // namespace devsim::test
