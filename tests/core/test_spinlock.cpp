// SpinLock (core/spinlock.hpp): mutual exclusion in every schedule, sleeping under a spinlock reported as
// sleep-in-atomic (a mutex, a completion wait, a virtual-time sleep), a contended spin that is not a sleep,
// held-at-exit, and the native lock.
#define BOOST_TEST_MODULE core_spinlock
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <thread>

#include "core/completion.hpp"
#include "core/mutex.hpp"
#include "core/spinlock.hpp"
#include "tests/core/locks_helpers.hpp"

using namespace devsim;
using core::test::exhaustive;

namespace {

struct Shared {
  core::SpinLock lock{"counter_lock"};
  int value = 0;
  int finished = 0;
};

sim::Model counter_model(int* contended) {
  return [contended](sim::World& w) {
    auto s = std::make_shared<Shared>();
    for (int i = 0; i < 2; ++i) {
      w.spawn("inc" + std::to_string(i), [s, contended] {
        {
          if (s->lock.is_locked()) ++*contended;
          core::SpinLockGuard g = s->lock.guard();
          const int v = s->value;
          sim::yield();
          s->value = v + 1;
        }
        if (++s->finished == 2 && s->value != 2) core::test::violation("lost update");
      });
    }
  };
}

// Runs `sleeper` in a task that holds a spinlock; returns the execution.
template <class F>
sim::Execution under_spinlock(F sleeper) {
  return core::test::run_task([sleeper] {
    core::SpinLock s("S");
    core::SpinLockGuard g = s.guard();
    sleeper();
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(no_lost_update_under_the_spinlock_in_any_schedule) {
  int contended = 0;
  sim::ExploreResult r = sim::explore(counter_model(&contended), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);
  BOOST_TEST(contended > 0);
}

BOOST_AUTO_TEST_CASE(mutex_lock_under_a_spinlock_is_sleep_in_atomic) {
  sim::Execution e = under_spinlock([] {
    core::Mutex m("M");
    m.lock();  // free: it would not even sleep, and it is still a bug
    m.unlock();
  });
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kSleepInAtomic);
  BOOST_TEST(e.reports[0].headline ==
             "sleeping function called from invalid context: mutex_lock M in task t/0 while holding spinlock S");
}

BOOST_AUTO_TEST_CASE(a_completion_wait_under_a_spinlock_is_sleep_in_atomic) {
  sim::Execution e = under_spinlock([] {
    core::Completion done;
    done.complete();
    done.wait_for_completion();
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kSleepInAtomic);
  BOOST_TEST(core::test::contains(e.reports[0].headline, "wait_for_completion in task t/0 while holding spinlock S"));
}

BOOST_AUTO_TEST_CASE(a_virtual_sleep_under_a_spinlock_is_sleep_in_atomic) {
  sim::Execution e = under_spinlock([] { sim::world().sleep_for(100); });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kSleepInAtomic);
  BOOST_TEST(core::test::contains(e.reports[0].headline, "while holding spinlock S"));
}

BOOST_AUTO_TEST_CASE(spinning_for_a_spinlock_while_holding_one_is_not_a_sleep) {
  struct Two {
    core::SpinLock outer{"outer"};
    core::SpinLock inner{"inner"};
  };
  int contended = 0;
  sim::ExploreResult r = sim::explore(
      [&contended](sim::World& w) {
        auto s = std::make_shared<Two>();
        w.spawn("nests", [s, &contended] {
          auto go = s->outer.guard();
          if (s->inner.is_locked()) ++contended;
          auto gi = s->inner.guard();  // may spin, under `outer`: allowed
        });
        w.spawn("inner_only", [s] {
          auto gi = s->inner.guard();
          sim::yield();
        });
      },
      exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u);
  BOOST_TEST(contended > 0);
}

BOOST_AUTO_TEST_CASE(exiting_with_a_spinlock_held_is_reported) {
  sim::Execution e = core::test::run_task([] {
    auto* s = new core::SpinLock("forgotten");
    s->lock();
    delete s;  // the engine's record of the hold outlives the object: only the report matters here
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kHeldAtExit);
  BOOST_TEST(e.reports[0].headline == "task t/0 exited holding spinlock forgotten");
}

BOOST_AUTO_TEST_CASE(trylock_and_guards) {
  // The schedule: start the holder, let it take the lock, then switch to the trier at the holder's yield.
  const sim::Model model = [](sim::World& w) {
    auto s = std::make_shared<core::SpinLock>();
    w.spawn("holder", [s] {
      core::SpinLockGuard g = s->guard();
      sim::yield();
      BOOST_TEST(s->owner() == 0u);
    });
    w.spawn("trier", [s] {
      BOOST_TEST(s->is_locked());
      BOOST_TEST(!s->try_lock());
      auto g = s->try_guard();
      BOOST_TEST(!g.has_value());
    });
  };
  sim::Execution e = sim::replay(model, *sim::parse_schedule("t0 t0 t1"));
  BOOST_TEST(!e.diverged);
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(native_spinlock_excludes_another_thread) {
  core::SpinLock s;
  s.lock();
  bool other_got_it = true;
  std::thread([&] { other_got_it = s.try_lock(); }).join();
  BOOST_TEST(!other_got_it);
  s.unlock();
  std::thread([&] {
    other_got_it = s.try_lock();
    if (other_got_it) s.unlock();
  }).join();
  BOOST_TEST(other_got_it);
  {
    auto g = s.try_guard();
    BOOST_TEST(g.has_value());
    BOOST_TEST(!s.try_lock());
  }
  BOOST_TEST(s.try_lock());
  s.unlock();
}
