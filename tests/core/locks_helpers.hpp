// Helpers shared by the lock suites (mutex, spinlock, lockdep, completion, waitqueue, gate): how they run
// a task, explore a model exhaustively, and flag a broken invariant from inside a model.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "sim/explorer.hpp"
#include "sim/world.hpp"
#include "tests/sim/test_models.hpp"

namespace devsim::core::test {

// Bounded exhaustive search over every schedule, with no execution limit.
inline sim::ExploreOptions exhaustive(int preemption_bound) {
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Exhaustive;
  o.strategy.preemption_bound = preemption_bound;
  o.max_executions = 0;
  return o;
}

// Runs `body` as the only task of a world (default choices).
template <class F>
sim::Execution run_task(F body) {
  return sim::run_once([&](sim::World& w) { w.spawn("t", body); });
}

// A model's own invariant check failed: reported like a bug, so the explorer counts it.
inline void violation(std::string what) {
  sim::World& w = sim::world();
  sim::Report r;
  r.kind = "model-violation";
  r.headline = std::move(what);
  r.accessed_by = w.task_site(w.current_task(), sim::Site::current());
  w.report(std::move(r));
}

inline bool has_kind(const std::vector<sim::Report>& reports, std::string_view kind) {
  return std::any_of(reports.begin(), reports.end(), [&](const sim::Report& r) { return r.kind == kind; });
}

inline bool every_failure_is(const sim::ExploreResult& r, std::string_view kind) {
  return std::all_of(r.failures.begin(), r.failures.end(),
                     [&](const sim::Failure& f) { return f.report.kind == kind; });
}

inline bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

inline bool any_detail_contains(const sim::Report& r, std::string_view part) {
  return std::any_of(r.details.begin(), r.details.end(), [&](const std::string& d) { return contains(d, part); });
}

}  // namespace devsim::core::test
