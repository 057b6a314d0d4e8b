// Helpers shared by the bus/ suites: running a model, exploring it exhaustively, reading reports.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "sim/explorer.hpp"
#include "sim/world.hpp"

namespace devsim::sim {
// Lets BOOST_TEST print the outcomes it compares (found by argument-dependent lookup).
inline std::ostream& boost_test_print_type(std::ostream& os, Outcome outcome) {
  return os << to_string(outcome);
}
}  // namespace devsim::sim

namespace devsim::bus::test {

// Exhaustive search with a small preemption bound: every schedule that matters for these models.
inline sim::ExploreOptions exhaustive(int preemptions = 2) {
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Exhaustive;
  o.strategy.preemption_bound = preemptions;
  o.max_executions = 0;
  return o;
}

// The reports as text, for failure messages.
inline std::string describe(const std::vector<sim::Report>& reports) {
  std::string out;
  for (const sim::Report& r : reports)
    out += sim::render_text(r);
  return out;
}

inline bool has_kind(const std::vector<sim::Report>& reports, const std::string& kind) {
  for (const sim::Report& r : reports)
    if (r.kind == kind) return true;
  return false;
}

inline bool found_kind(const sim::ExploreResult& r, const std::string& kind) {
  for (const sim::Failure& f : r.failures)
    if (f.report.kind == kind) return true;
  return false;
}

// A finding a model raises itself, so exhaustive search checks a property in every schedule.
inline void expect(bool condition, const std::string& what) {
  if (condition) return;
  sim::Report r;
  r.kind = "test-expectation";
  r.headline = what;
  sim::world().report(std::move(r));
}

}  // namespace devsim::bus::test
