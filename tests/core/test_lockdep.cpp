// lockdep (core/lockdep.hpp): lock-order inversions between tasks and across longer chains, recursive
// locking, nesting levels, trylock, and the engine's deadlock report when the inversion really deadlocks.
#define BOOST_TEST_MODULE core_lockdep
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

#include "core/lockdep.hpp"
#include "core/mutex.hpp"
#include "core/spinlock.hpp"
#include "tests/core/locks_helpers.hpp"

using namespace devsim;
using core::test::any_detail_contains;
using core::test::exhaustive;

namespace {

struct TwoLocks {
  core::Mutex a{"A"};
  core::Mutex b{"B"};
};

// The acquisition sites of the ABBA model, so that reports can be checked against them exactly.
const sim::Site kT0TakesA = sim::Site::current();
const sim::Site kT0TakesB = sim::Site::current();
const sim::Site kT1TakesB = sim::Site::current();
const sim::Site kT1TakesA = sim::Site::current();

// Two tasks take both locks; t1 in the opposite order unless `fixed`.
sim::Model abba(bool fixed) {
  return [fixed](sim::World& w) {
    auto s = std::make_shared<TwoLocks>();
    w.spawn("t0", [s] {
      s->a.lock(kT0TakesA);
      sim::yield();
      s->b.lock(kT0TakesB);
      s->b.unlock();
      s->a.unlock();
    });
    w.spawn("t1", [s, fixed] {
      if (fixed) {
        auto ga = s->a.guard();
        sim::yield();
        auto gb = s->b.guard();
        return;
      }
      s->b.lock(kT1TakesB);
      sim::yield();
      s->a.lock(kT1TakesA);
      s->a.unlock();
      s->b.unlock();
    });
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(abba_inversion_is_reported_in_every_schedule) {
  sim::ExploreResult r = sim::explore(abba(false), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  // Every schedule takes both orders (the second attempt is validated before it waits), so every one fails. The
  // report does not stop the execution, as lockdep's splat does not stop the kernel (kernel/locking/lockdep.c
  // print_circular_bug): where both tasks then block on each other, the deadlock is reported too.
  BOOST_TEST(r.failing_executions == r.executions);
  std::uint64_t inversions = 0, deadlocks = 0;
  for (const sim::Failure& f : r.failures) {
    BOOST_TEST((f.report.kind == core::bug::kLockOrderInversion || f.report.kind == sim::bug::kDeadlock),
               f.report.kind);
    (f.report.kind == sim::bug::kDeadlock ? deadlocks : inversions) += f.count;
  }
  BOOST_TEST(inversions == r.executions);
  BOOST_TEST(deadlocks > 0u);
  BOOST_TEST(deadlocks < r.executions);
  BOOST_TEST_REQUIRE(!r.failures.empty());
  bool saw_t1_closing_the_cycle = false;
  for (const sim::Failure& f : r.failures) {
    const sim::Report& rep = f.report;
    if (rep.kind != core::bug::kLockOrderInversion) continue;
    BOOST_TEST(!rep.fatal);
    // Both orders, each with both of its sites and its task.
    BOOST_TEST(any_detail_contains(rep, "A -> B by task t0/0: mutex A taken at " + sim::describe(kT0TakesA) +
                                            ", then mutex B at " + sim::describe(kT0TakesB)));
    BOOST_TEST(any_detail_contains(rep, "B -> A by task t1/1: mutex B taken at " + sim::describe(kT1TakesB) +
                                            ", then mutex A at " + sim::describe(kT1TakesA)));
    if (rep.accessed_by->task == "t1/1") {
      saw_t1_closing_the_cycle = true;
      BOOST_TEST(rep.headline ==
                 "possible circular locking dependency detected: task t1/1 acquires mutex A while holding mutex B");
      BOOST_TEST(rep.accessed_by->site->line() == kT1TakesA.line());
      BOOST_TEST(rep.details[0].starts_with("new order:      B -> A"));
      BOOST_TEST(rep.details[1].starts_with("existing order: A -> B"));
      BOOST_TEST(rep.details[2] ==
                 "possible unsafe locking scenario: task t1/1 holds mutex B and waits for mutex A while task t0/0 "
                 "holds mutex A and waits for mutex B: deadlock");
    }
  }
  BOOST_TEST(saw_t1_closing_the_cycle);
}

BOOST_AUTO_TEST_CASE(the_same_order_in_both_tasks_is_never_reported) {
  sim::ExploreResult r = sim::explore(abba(true), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);
}

BOOST_AUTO_TEST_CASE(a_real_abba_deadlock_is_also_caught_by_the_engine) {
  sim::ExploreOptions o = exhaustive(2);
  o.world.stop_on_first_bug = false;  // let the schedule run into the hang after lockdep's report
  sim::ExploreResult r = sim::explore(abba(false), o);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == r.executions);
  bool deadlock = false;
  for (const sim::Failure& f : r.failures) {
    if (f.report.kind != sim::bug::kDeadlock) continue;
    deadlock = true;
    BOOST_TEST(any_detail_contains(f.report, "task t0/0 waits for mutex B"));
    BOOST_TEST(any_detail_contains(f.report, "task t1/1 waits for mutex A"));
    BOOST_TEST(any_detail_contains(f.report, "  holding mutex A"));
  }
  BOOST_TEST(deadlock);
}

BOOST_AUTO_TEST_CASE(an_inversion_through_a_chain_of_three_classes) {
  struct Three {
    core::Mutex a{"A"}, b{"B"}, c{"C"};
  };
  sim::Execution e = sim::run_once([](sim::World& w) {
    auto s = std::make_shared<Three>();
    // Default choices run the tasks one after the other: no deadlock can happen, lockdep still sees it.
    w.spawn("ab", [s] {
      auto g1 = s->a.guard();
      auto g2 = s->b.guard();
    });
    w.spawn("bc", [s] {
      auto g1 = s->b.guard();
      auto g2 = s->c.guard();
    });
    w.spawn("ca", [s](sim::World& w) {
      BOOST_TEST(core::lockdep::depends(w, s->a.lock_class(), s->c.lock_class()));  // transitively
      BOOST_TEST(core::lockdep::dependency_count(w) == 2u);
      auto g1 = s->c.guard();
      auto g2 = s->a.guard();
    });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  const sim::Report& r = e.reports[0];
  BOOST_TEST(r.kind == "lock-order-inversion");
  BOOST_TEST(r.headline ==
             "possible circular locking dependency detected: task ca/2 acquires mutex A while holding mutex C");
  BOOST_TEST_REQUIRE(r.details.size() == 3u);
  BOOST_TEST(r.details[0].starts_with("new order:      C -> A by task ca/2"));
  BOOST_TEST(r.details[1].starts_with("existing order: A -> B by task ab/0"));
  BOOST_TEST(r.details[2].starts_with("existing order: B -> C by task bc/1"));
}

BOOST_AUTO_TEST_CASE(taking_the_same_mutex_twice_is_recursive_locking) {
  sim::Execution e = core::test::run_task([] {
    core::Mutex m("M");
    m.lock();
    m.lock();  // reported before it would wait for itself forever
  });
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "recursive-locking");
  BOOST_TEST(e.reports[0].headline ==
             "possible recursive locking detected: task t/0 acquires mutex M while already holding it");
}

BOOST_AUTO_TEST_CASE(two_locks_of_one_class_need_a_nesting_level) {
  struct Dev {
    core::Mutex lock{"dev->lock"};
  };
  sim::Execution plain = core::test::run_task([] {
    Dev parent, child;
    auto g1 = parent.lock.guard();
    auto g2 = child.lock.guard();
  });
  BOOST_TEST_REQUIRE(plain.reports.size() == 1u);
  BOOST_TEST(plain.reports[0].kind == "recursive-locking");
  BOOST_TEST(plain.reports[0].headline ==
             "possible recursive locking detected: task t/0 acquires mutex dev->lock while holding mutex dev->lock "
             "of the same class");

  sim::Execution nested = core::test::run_task([] {
    Dev parent, child;
    parent.lock.lock();
    child.lock.lock_nested(1);
    child.lock.unlock();
    parent.lock.unlock();
  });
  BOOST_TEST(nested.outcome == sim::Outcome::Completed);
  BOOST_TEST(nested.reports.empty());
}

BOOST_AUTO_TEST_CASE(a_trylock_adds_no_order) {
  // t0 takes B only by trylock under A, so there is no A -> B dependency and t1's B -> A is fine: a trylock
  // cannot wait, so this pair cannot deadlock.
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        auto s = std::make_shared<TwoLocks>();
        w.spawn("t0", [s] {
          auto ga = s->a.guard();
          sim::yield();
          if (auto gb = s->b.try_guard()) sim::yield();
        });
        w.spawn("t1", [s] {
          auto gb = s->b.guard();
          sim::yield();
          auto ga = s->a.guard();
        });
      },
      exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u);
}

BOOST_AUTO_TEST_CASE(spinlocks_and_mutexes_share_one_graph) {
  struct Mixed {
    core::Mutex m{"M"};
    core::SpinLock s{"S"};
    core::SpinLock t{"T"};
  };
  sim::Execution e = sim::run_once([](sim::World& w) {
    auto s = std::make_shared<Mixed>();
    w.spawn("first", [s](sim::World& w) {
      auto gm = s->m.guard();
      auto gs = s->s.guard();
      auto gt = s->t.guard();
      BOOST_TEST(core::lockdep::depends(w, s->m.lock_class(), s->t.lock_class()));
      BOOST_TEST(core::lockdep::held(w, &s->m));
      BOOST_TEST(!core::lockdep::depends(w, s->t.lock_class(), s->m.lock_class()));
    });
    w.spawn("second", [s] {
      auto gt = s->t.guard();
      auto gs = s->s.guard();
    });
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "lock-order-inversion");
  BOOST_TEST(e.reports[0].headline ==
             "possible circular locking dependency detected: task second/1 acquires spinlock S while holding "
             "spinlock T");
}

BOOST_AUTO_TEST_CASE(lockdep_is_silent_natively) {
  TwoLocks s;
  s.a.lock();
  s.b.lock();
  s.b.unlock();
  s.a.unlock();
  s.b.lock();
  s.a.lock();  // the inverse order: natively nothing checks it, and nothing hangs on one thread
  s.a.unlock();
  s.b.unlock();
  BOOST_TEST(!s.a.is_locked());
}
