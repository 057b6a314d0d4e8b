// PCT (strategy.hpp): a bug of depth 3 among 3 tasks of 20 steps is found within a fixed budget for every
// seed, and faster than by a random walk.
#define BOOST_TEST_MODULE sim_pct
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "sim/explorer.hpp"
#include "sim/kmalloc.hpp"
#include "tests/sim/test_models.hpp"

namespace sim = devsim::sim;

namespace {

constexpr int kSteps = 20;
constexpr std::uint64_t kBudget = 10'000;

// Two windows, each opened and closed by one task at fixed steps of its own:
//   A's window is open from A's step 5 until its step 15.
//   B checks A's window at its steps 1 and 10; if it was open both times, B frees `obj` at the end of its
//   step 10 and holds its own window open from step 11 until its step 15.
//   C checks B's window at its steps 1 and 20; if it was open both times, C reads `obj`: a use-after-free.
// So the bug needs A preempted inside its window while B runs 10 steps, then B preempted inside its window
// while C runs all 20: two preemptions at chosen places, depth 3 (A's window before B's check, B's window
// before C's check, plus the order that starts A first). PCT produces exactly such long uninterrupted
// runs; a random walk switches at almost every step, so it almost never lets C run 20 steps while B runs
// fewer than 4.
void two_windows(sim::World& w) {
  struct Windows {
    bool a_open = false;
    bool b_open = false;
  };
  auto win = std::make_shared<Windows>();
  sim::KPtr<int> obj = sim::kmalloc<int>(7);
  // Freed only in the buggy schedules; its lifetime is not what this model is about.
  sim::kmemleak_not_leak(obj);

  w.spawn("A", [win] {
    for (int step = 1; step <= kSteps; ++step) {
      if (step == 5) win->a_open = true;
      if (step == 15) win->a_open = false;
      if (step < kSteps) sim::yield();
    }
  });
  w.spawn("B", [win, obj] {
    bool armed = false;
    for (int step = 1; step <= kSteps; ++step) {
      if (step == 1) armed = win->a_open;
      if (step == 10) armed = armed && win->a_open;
      if (step == 11 && armed) win->b_open = true;
      if (step == 15) win->b_open = false;
      if (step == kSteps) break;
      // kfree's scheduling point takes the place of this step's yield: the free itself runs at the start
      // of step 11, in the same step that opens the window.
      if (step == 10 && armed)
        sim::kfree(obj);
      else
        sim::yield();
    }
  });
  w.spawn("C", [win, obj] {
    bool saw = false;
    for (int step = 1; step <= kSteps; ++step) {
      if (step == 1) saw = win->b_open;
      if (step == kSteps && saw && win->b_open) static_cast<void>(obj.read());
      if (step < kSteps) sim::yield();
    }
  });
}

// Executions until the first failure (1-based), or kBudget + 1 if none within the budget.
std::uint64_t executions_to_bug(sim::StrategyKind kind, std::uint64_t seed, int depth = 3) {
  sim::ExploreOptions o;
  o.strategy.kind = kind;
  o.strategy.seed = seed;
  o.strategy.pct_depth = depth;
  o.max_executions = kBudget;
  o.stop_at_first_failure = true;
  const sim::ExploreResult r = sim::explore(two_windows, o);
  if (!r.first_failure) return kBudget + 1;
  BOOST_TEST(r.failures.at(0).report.kind == sim::bug::kUseAfterFree);
  BOOST_TEST(r.failures.at(0).report.accessed_by->task == "C/2");
  BOOST_TEST(r.failures.at(0).report.freed_by->task == "B/1");
  BOOST_TEST(r.failures.at(0).first_execution == r.first_failure->index);
  return r.first_failure->index + 1;
}

double median(std::vector<std::uint64_t> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? static_cast<double>(v[n / 2])
                    : (static_cast<double>(v[n / 2 - 1]) + static_cast<double>(v[n / 2])) / 2;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_bug_is_real_and_needs_two_preemptions) {
  // The schedule PCT aims for: A to its step 7, B to its step 12, C to its end.
  sim::Schedule s;
  auto pick = [&s](sim::TaskId t, int times) {
    for (int i = 0; i < times; ++i)
      s.push_back({sim::Choice::Kind::Task, t});
  };
  pick(0, 8);   // start A, continue it through its steps 1..7
  pick(1, 12);  // preempt A: B runs its steps 1..12 (the 11th decision is kfree's scheduling point)
  pick(2, 20);  // preempt B: C runs all of its steps
  const sim::Execution e = sim::replay(two_windows, s, {});
  BOOST_TEST(!e.diverged);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kUseAfterFree);

  // With one preemption at most, no schedule reaches it: exhaustive search of that space is clean. The
  // space: 3! orders without preemption; one preemption of the first task after any of its 19 inner steps,
  // by either other task, then either order of the rest (3 x 19 x 2 x 2); or one of the second task, by the
  // last (3 x 2 x 19). 6 + 228 + 114 = 348.
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Exhaustive;
  o.strategy.preemption_bound = 1;
  o.max_executions = 10'000;  // far above 348: a bound that stopped bounding fails here instead of hanging
  const sim::ExploreResult bound1 = sim::explore(two_windows, o);
  BOOST_TEST(bound1.executions == 348u);
  BOOST_TEST(bound1.exhausted);
  BOOST_TEST(bound1.failing_executions == 0u);

  // Two preemptions suffice.
  o.strategy.preemption_bound = 2;
  o.max_executions = 100'000;
  o.stop_at_first_failure = true;
  const sim::ExploreResult bound2 = sim::explore(two_windows, o);
  BOOST_TEST_MESSAGE("preemption bound 2: bug found at execution " << bound2.executions);
  BOOST_TEST_REQUIRE(bound2.first_failure.has_value());
  BOOST_TEST(bound2.failures.at(0).report.kind == sim::bug::kUseAfterFree);
}

BOOST_AUTO_TEST_CASE(pct_depth_3_finds_it_for_every_seed_and_beats_random) {
  std::vector<std::uint64_t> pct, random;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    pct.push_back(executions_to_bug(sim::StrategyKind::Pct, seed));
    random.push_back(executions_to_bug(sim::StrategyKind::Random, seed));
    BOOST_TEST_MESSAGE("seed " << seed << ": pct " << pct.back() << ", random " << random.back());
  }
  for (std::size_t i = 0; i < pct.size(); ++i)
    BOOST_TEST(pct[i] <= kBudget, "pct seed " << i + 1 << " found the bug within the budget");
  const double pct_median = median(pct), random_median = median(random);
  BOOST_TEST_MESSAGE("median executions to the bug: pct " << pct_median << ", random " << random_median);
  BOOST_TEST(pct_median < random_median);
}
