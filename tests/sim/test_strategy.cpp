// Exhaustive search (strategy.hpp): it enumerates exactly the interleavings of a model, the preemption
// bound and sleep sets cut that space the way they promise, and a real conflict survives the reduction.
#define BOOST_TEST_MODULE sim_strategy
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sim/demo_models.hpp"
#include "sim/explorer.hpp"
#include "sim/kmalloc.hpp"
#include "sim/strategy.hpp"
#include "tests/sim/test_models.hpp"

namespace sim = devsim::sim;
using sim::test::binomial;
using sim::test::factorial;
using sim::test::multinomial;

namespace {

sim::ExploreOptions exhaustive(int preemption_bound = -1, bool sleep_sets = false) {
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Exhaustive;
  o.strategy.preemption_bound = preemption_bound;
  o.strategy.sleep_sets = sleep_sets;
  o.max_executions = 0;
  return o;
}

// Drives the strategy by hand so every execution's step log can be collected: the count alone would not
// show that the executions are the distinct interleavings rather than repeats.
std::set<std::string> distinct_interleavings(const std::vector<int>& steps, int preemption_bound, std::uint64_t* runs) {
  std::string log;
  sim::Model model = sim::test::yielding_tasks(steps, &log);
  sim::StrategyOptions so;
  so.kind = sim::StrategyKind::Exhaustive;
  so.preemption_bound = preemption_bound;
  auto strategy = sim::make_strategy(so);
  std::set<std::string> seen;
  *runs = 0;
  // A guard against a strategy that never reports exhaustion; far above any count tested here.
  while (!strategy->exhausted() && *runs < 100'000) {
    log.clear();
    sim::Execution e = sim::run_once(model, {}, strategy.get());
    BOOST_TEST(e.reports.empty());
    BOOST_TEST(e.outcome == sim::Outcome::Completed);
    seen.insert(log);
    ++*runs;
  }
  return seen;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(exhaustive_counts)

BOOST_AUTO_TEST_CASE(two_tasks_give_the_binomial_count) {
  const std::vector<std::pair<int, int>> cases = {{1, 1}, {2, 3}, {3, 3}, {4, 5}, {6, 6}, {1, 7}};
  for (auto [a, b] : cases) {
    BOOST_TEST_CONTEXT("a=" << a << " b=" << b) {
      const std::uint64_t expected = binomial(static_cast<std::uint64_t>(a + b), static_cast<std::uint64_t>(a));
      sim::ExploreResult r = sim::explore(sim::test::yielding_tasks({a, b}), exhaustive());
      BOOST_TEST(r.executions == expected);
      BOOST_TEST(r.exhausted);
      BOOST_TEST(r.failing_executions == 0u);
      BOOST_TEST(r.pruned_executions == 0u);

      std::uint64_t runs = 0;
      std::set<std::string> seen = distinct_interleavings({a, b}, -1, &runs);
      BOOST_TEST(runs == expected);
      BOOST_TEST(seen.size() == expected);
    }
  }
  // The closed forms the cases rely on, so a typo in binomial() cannot make both sides agree wrongly.
  BOOST_TEST(binomial(2, 1) == 2u);
  BOOST_TEST(binomial(5, 2) == 10u);
  BOOST_TEST(binomial(6, 3) == 20u);
  BOOST_TEST(binomial(9, 4) == 126u);
  BOOST_TEST(binomial(12, 6) == 924u);
}

BOOST_AUTO_TEST_CASE(three_tasks_give_the_multinomial_count) {
  const std::vector<std::vector<int>> cases = {{1, 1, 1}, {1, 2, 3}, {2, 2, 2}, {3, 3, 3}, {2, 3, 4}};
  for (const auto& steps : cases) {
    BOOST_TEST_CONTEXT("steps=" << steps[0] << "," << steps[1] << "," << steps[2]) {
      const std::uint64_t expected = multinomial(steps);
      sim::ExploreResult r = sim::explore(sim::test::yielding_tasks(steps), exhaustive());
      BOOST_TEST(r.executions == expected);
      BOOST_TEST(r.exhausted);
      BOOST_TEST(r.failing_executions == 0u);
    }
  }
  BOOST_TEST(multinomial({1, 1, 1}) == 6u);
  BOOST_TEST(multinomial({1, 2, 3}) == 60u);
  BOOST_TEST(multinomial({2, 2, 2}) == 90u);
  BOOST_TEST(multinomial({3, 3, 3}) == 1680u);
  BOOST_TEST(multinomial({2, 3, 4}) == 1260u);

  std::uint64_t runs = 0;
  std::set<std::string> seen = distinct_interleavings({2, 2, 2}, -1, &runs);
  BOOST_TEST(runs == 90u);
  BOOST_TEST(seen.size() == 90u);
}

BOOST_AUTO_TEST_CASE(preemption_bound_zero_gives_n_factorial) {
  // With no preemption allowed, a task runs to its end once started: only the order of the tasks varies.
  for (int n = 2; n <= 5; ++n) {
    BOOST_TEST_CONTEXT("n=" << n) {
      const std::vector<int> steps(static_cast<std::size_t>(n), 3);
      sim::ExploreResult r = sim::explore(sim::test::yielding_tasks(steps), exhaustive(0));
      BOOST_TEST(r.executions == factorial(static_cast<std::uint64_t>(n)));
      BOOST_TEST(r.exhausted);

      std::uint64_t runs = 0;
      std::set<std::string> seen = distinct_interleavings(steps, 0, &runs);
      BOOST_TEST(seen.size() == factorial(static_cast<std::uint64_t>(n)));
    }
  }
}

BOOST_AUTO_TEST_CASE(preemption_bound_one_counts_single_preemptions) {
  // Two tasks of 3 steps, at most one preemption: both orders without preemption (2), plus, for each first
  // task, a preemption after its step 1 or 2 followed by the other task running to its end (2 x 2). A
  // switch back at the other's end is free, since that task is finished.
  sim::ExploreResult r = sim::explore(sim::test::yielding_tasks({3, 3}), exhaustive(1));
  BOOST_TEST(r.executions == 6u);
  BOOST_TEST(r.exhausted);
  // Unbounded is the full binomial: the bound really did cut.
  BOOST_TEST(sim::explore(sim::test::yielding_tasks({3, 3}), exhaustive(-1)).executions == 20u);

  // Three tasks of 4 steps: 3! orders without preemption; a preemption of the first task after one of its
  // 3 inner steps by either other task, then either order of the rest (3 x 3 x 2 x 2); or of the second
  // task by the third (3 x 2 x 3). The third cannot be preempted: nothing else is left to run.
  const sim::ExploreResult three = sim::explore(sim::test::yielding_tasks({4, 4, 4}), exhaustive(1));
  BOOST_TEST(three.executions == 6u + 36u + 18u);
  BOOST_TEST(three.exhausted);
}

BOOST_AUTO_TEST_CASE(max_executions_caps_an_unfinished_search) {
  sim::ExploreOptions o = exhaustive();
  o.max_executions = 7;
  sim::ExploreResult r = sim::explore(sim::test::yielding_tasks({6, 6}), o);
  BOOST_TEST(r.executions == 7u);
  BOOST_TEST(!r.exhausted);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sleep_sets)

BOOST_AUTO_TEST_CASE(independent_yields_are_cut_at_least_tenfold) {
  const sim::Model model = sim::test::yielding_tasks({6, 6});
  sim::ExploreResult full = sim::explore(model, exhaustive());
  sim::ExploreResult reduced = sim::explore(model, exhaustive(-1, true));
  BOOST_TEST_MESSAGE("yields 6+6: " << full.executions << " executions without sleep sets, " << reduced.executions
                                    << " with (" << reduced.pruned_executions << " pruned, "
                                    << reduced.pruned_alternatives << " alternatives skipped)");
  BOOST_TEST(full.executions == 924u);
  BOOST_TEST(reduced.exhausted);
  BOOST_TEST(reduced.executions * 10 <= full.executions);
  BOOST_TEST(reduced.pruned_alternatives > 0u);
  BOOST_TEST(reduced.failing_executions == 0u);
}

BOOST_AUTO_TEST_CASE(private_objects_are_cut_at_least_tenfold) {
  // kmalloc and kfree are scheduling points too: 1 + 3 + 1 yields, 6 steps per task.
  const sim::Model model = sim::test::private_objects(2, 3);
  sim::ExploreResult full = sim::explore(model, exhaustive());
  sim::ExploreResult reduced = sim::explore(model, exhaustive(-1, true));
  BOOST_TEST_MESSAGE("private objects 2x6: " << full.executions << " executions without sleep sets, "
                                             << reduced.executions << " with (" << reduced.pruned_executions
                                             << " pruned, " << reduced.pruned_alternatives << " alternatives skipped)");
  BOOST_TEST(full.executions == 924u);
  BOOST_TEST(full.failing_executions == 0u);
  BOOST_TEST(reduced.exhausted);
  BOOST_TEST(reduced.executions * 10 <= full.executions);
  BOOST_TEST(reduced.pruned_alternatives > 0u);
  BOOST_TEST(reduced.failing_executions == 0u);
}

BOOST_AUTO_TEST_CASE(a_real_conflict_is_still_found_by_the_demo) {
  const sim::Model model = [](sim::World& w) { sim::demo::unplug_while_open(w, false); };
  sim::ExploreResult full = sim::explore(model, exhaustive());
  sim::ExploreResult reduced = sim::explore(model, exhaustive(-1, true));
  BOOST_TEST(full.executions == 6u);
  BOOST_TEST(full.failing_executions == 3u);
  BOOST_TEST(reduced.exhausted);
  BOOST_TEST(reduced.failing_executions > 0u);
  BOOST_TEST_REQUIRE(reduced.failures.size() == 1u);
  BOOST_TEST(reduced.failures[0].report.kind == sim::bug::kUseAfterFree);
  BOOST_TEST(reduced.failures[0].signature == full.failures.at(0).signature);
}

BOOST_AUTO_TEST_CASE(a_conflict_among_independent_steps_is_still_found) {
  // Two tasks with many steps that commute and one pair that does not: the reader's last step reads what
  // the freer's last step frees. Sleep sets must prune the commuting steps and keep the conflicting order.
  const sim::Model model = [](sim::World& w) {
    sim::KPtr<int> shared = sim::kmalloc<int>(1);
    w.spawn("reader", [shared] {
      sim::KPtr<int> mine = sim::kmalloc<int>(0);
      for (int i = 0; i < 4; ++i) {
        mine.write() += 1;
        sim::yield();
      }
      kfree(mine);
      static_cast<void>(shared.read());
    });
    w.spawn("freer", [shared] {
      sim::KPtr<int> mine = sim::kmalloc<int>(0);
      for (int i = 0; i < 4; ++i) {
        mine.write() += 1;
        sim::yield();
      }
      kfree(mine);
      kfree(shared);
    });
  };
  sim::ExploreResult full = sim::explore(model, exhaustive());
  sim::ExploreResult reduced = sim::explore(model, exhaustive(-1, true));
  BOOST_TEST_MESSAGE("one conflict among commuting steps: " << full.executions << " executions without sleep sets, "
                                                            << reduced.executions << " with");
  BOOST_TEST(full.exhausted);
  BOOST_TEST(reduced.exhausted);
  BOOST_TEST(full.failing_executions > 0u);
  BOOST_TEST(reduced.failing_executions > 0u);
  BOOST_TEST(reduced.executions * 10 <= full.executions);
  BOOST_TEST_REQUIRE(reduced.failures.size() == 1u);
  BOOST_TEST(reduced.failures[0].report.kind == sim::bug::kUseAfterFree);
  BOOST_TEST(reduced.failures[0].report.accessed_by->task == "reader/0");
  BOOST_TEST(reduced.failures[0].report.freed_by->task == "freer/1");
}

// Under a preemption bound a task sleeps only where the order that ran it first used a preemption fewer
// (Exhaustive::bound_slack): sleep sets still prune there, and the search still reaches every bounded outcome.
// tests/core/test_dpor_soundness.cpp compares the reached reports and final states with plain search at large.
BOOST_AUTO_TEST_CASE(under_a_preemption_bound_they_prune_less_and_keep_the_conflict) {
  const sim::Model model = sim::test::private_objects(2, 3);
  for (int bound : {2, 3}) {
    BOOST_TEST_CONTEXT("bound " << bound) {
      sim::ExploreResult full = sim::explore(model, exhaustive(bound));
      sim::ExploreResult reduced = sim::explore(model, exhaustive(bound, true));
      BOOST_TEST_MESSAGE("private objects 2x6, bound " << bound << ": " << full.executions << " executions without "
                                                       << "sleep sets, " << reduced.executions << " with");
      BOOST_TEST(full.exhausted);
      BOOST_TEST(reduced.exhausted);
      BOOST_TEST(reduced.executions < full.executions);
      BOOST_TEST(reduced.pruned_alternatives > 0u);
    }
  }
  sim::ExploreResult uaf =
      sim::explore([](sim::World& w) { sim::demo::unplug_while_open(w, false); }, exhaustive(1, true));
  BOOST_TEST(uaf.exhausted);
  BOOST_TEST_REQUIRE(uaf.failures.size() == 1u);
  BOOST_TEST(uaf.failures[0].report.kind == sim::bug::kUseAfterFree);
}

// A world extension is host state shared by every task (World::extension: each use is a write to it), named in
// footprints by its type's static key rather than by a lookup: two tasks that share nothing but an extension
// still have both their orders explored, by sleep sets and by DPOR.
struct VisitOrder {
  std::string tasks;
};

BOOST_AUTO_TEST_CASE(tasks_that_share_only_a_world_extension_are_run_in_both_orders) {
  std::string order;
  const sim::Model model = [&order](sim::World& w) {
    for (char name : {'a', 'b'}) {
      w.spawn(std::string(1, name), [&order, name] {
        sim::World& world = *sim::World::current();
        sim::KPtr<int> mine = sim::kmalloc<int>(0);  // private: a step that commutes with the other task's
        kfree(mine);
        world.extension<VisitOrder>().tasks += name;
        order = world.extension<VisitOrder>().tasks;
      });
    }
  };
  for (bool dpor : {false, true}) {
    BOOST_TEST_CONTEXT((dpor ? "dpor" : "sleep sets")) {
      sim::ExploreOptions o = exhaustive(-1, true);
      o.strategy.dpor = dpor;
      sim::StrategyOptions so = o.strategy;
      auto strategy = sim::make_strategy(so);
      std::set<std::string> seen;
      for (int runs = 0; !strategy->exhausted() && runs < 10'000; ++runs) {
        order.clear();
        sim::Execution e = sim::run_once(model, {}, strategy.get());
        BOOST_TEST(e.reports.empty());
        if (e.outcome == sim::Outcome::Completed) seen.insert(order);
      }
      BOOST_TEST(strategy->exhausted());
      BOOST_TEST((seen == std::set<std::string>{"ab", "ba"}));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
