// WaitQueue (core/waitqueue.hpp): wait_event re-checks its condition, no wake-up is lost in any schedule,
// a missing wake-up is a deadlock, wake_up_one wakes one waiter and wake_up_all every one; the native path.
#define BOOST_TEST_MODULE core_waitqueue
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "core/compiler.hpp"
#include "core/mutex.hpp"
#include "core/spinlock.hpp"
#include "core/waitqueue.hpp"
#include "sim/kmalloc.hpp"
#include "tests/core/locks_helpers.hpp"

using namespace devsim;
using core::test::exhaustive;

namespace {

struct Shared {
  core::WaitQueue wq;
  bool ready = false;
  int checks = 0;  // how many times the waiter evaluated its condition
};

// A waiter sleeps until `ready`; a waker sets it and (unless `forget`) wakes the queue.
sim::Model flag_model(bool forget, int* rechecks) {
  return [=](sim::World& w) {
    auto s = std::make_shared<Shared>();
    w.spawn("waiter", [s, rechecks] {
      s->wq.wait_event([&] {
        ++s->checks;
        return s->ready;
      });
      if (!s->ready) core::test::violation("wait_event returned with the condition false");
      if (s->checks > 1) ++*rechecks;
    });
    w.spawn("waker", [s, forget] {
      sim::yield();
      s->ready = true;
      if (!forget) s->wq.wake_up_all();
    });
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(no_wake_up_is_lost_in_any_schedule) {
  int rechecks = 0;
  sim::ExploreResult r = sim::explore(flag_model(false, &rechecks), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);
  BOOST_TEST(rechecks > 0);  // some schedules really slept and re-checked after the wake-up
}

BOOST_AUTO_TEST_CASE(a_forgotten_wake_up_is_a_deadlock_when_the_waiter_slept_first) {
  int rechecks = 0;
  sim::ExploreResult r = sim::explore(flag_model(true, &rechecks), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions > 0u);
  BOOST_TEST(r.failing_executions < r.executions);  // when the flag came first, the waiter never slept
  BOOST_TEST(core::test::every_failure_is(r, sim::bug::kDeadlock));
  BOOST_TEST(core::test::any_detail_contains(r.failures[0].report, "task waiter/0 waits for wait_event at"));
}

BOOST_AUTO_TEST_CASE(wake_up_one_wakes_one_waiter_and_wake_up_all_every_one) {
  // Default choices: both waiters run first and sleep; the waker then sets the flag and wakes.
  auto model = [](bool all, int* through) {
    return [=](sim::World& w) {
      auto s = std::make_shared<Shared>();
      for (int i = 0; i < 2; ++i) {
        w.spawn("waiter" + std::to_string(i), [s, through] {
          s->wq.wait_event([&] { return s->ready; });
          ++*through;
        });
      }
      w.spawn("waker", [s, all] {
        s->ready = true;
        if (all)
          s->wq.wake_up_all();
        else
          s->wq.wake_up_one();
      });
    };
  };
  int through = 0;
  sim::Execution one = sim::run_once(model(false, &through));
  BOOST_TEST(one.outcome == sim::Outcome::Deadlock);  // the second waiter was never woken
  BOOST_TEST(through == 1);
  BOOST_TEST_REQUIRE(one.reports.size() == 1u);
  BOOST_TEST(core::test::any_detail_contains(one.reports[0], "task waiter1/1 waits for wait_event"));

  through = 0;
  sim::Execution all = sim::run_once(model(true, &through));
  BOOST_TEST(all.outcome == sim::Outcome::Completed);
  BOOST_TEST(through == 2);
}

BOOST_AUTO_TEST_CASE(a_true_condition_returns_without_sleeping_but_not_under_a_spinlock) {
  sim::Execution fine = core::test::run_task([] {
    core::WaitQueue wq;
    wq.wait_event([] { return true; });
  });
  BOOST_TEST(fine.outcome == sim::Outcome::Completed);

  sim::Execution atomic = core::test::run_task([] {
    core::SpinLock s("S");
    auto g = s.guard();
    core::WaitQueue wq;
    wq.wait_event([] { return true; });
  });
  BOOST_TEST_REQUIRE(atomic.reports.size() == 1u);
  BOOST_TEST(atomic.reports[0].kind == sim::bug::kSleepInAtomic);
}

BOOST_AUTO_TEST_CASE(native_wait_event_sees_the_condition) {
  core::WaitQueue wq;
  std::atomic<int> stage{0};
  int seen = -1;
  std::thread t([&] {
    wq.wait_event([&] { return stage.load() >= 1; });
    seen = stage.load();
    stage.store(2);
    wq.wake_up_one();
  });
  stage.store(1);
  wq.wake_up_all();
  wq.wait_event([&] { return stage.load() == 2; });
  t.join();
  BOOST_TEST(seen == 1);
  wq.wake_up_all();  // nobody waits: a no-op
}

// A condition that reads shared memory twice, as `wait_event(wq, READ_ONCE(f->done) || READ_ONCE(f->error))` does:
// the second read is a scheduling point (World::access_point), and a waker that sets `done` and wakes the queue
// there finds nobody asleep. The kernel's waiter is on the queue in TASK_UNINTERRUPTIBLE before it reads the
// condition (include/linux/wait.h ___wait_event, kernel/sched/wait.c prepare_to_wait_event), so that wake-up sets
// it running and its schedule() returns at once: correct code, no deadlock in any schedule. (It was reported as a
// deadlock before WaitQueue counted its wake-ups.) Without the wake-up the deadlock is still found.
struct Flags {
  int done = 0;
  int error = 0;
};

sim::Model two_read_condition_model(bool wake) {
  return [wake](sim::World& w) {
    // LIFETIME: the flags stay for the execution (this model does not free them; kmemleak is off below).
    Flags* f = sim::kzalloc<Flags>().unchecked();
    auto wq = std::make_shared<core::WaitQueue>();
    w.spawn("waiter", [wq, f] { wq->wait_event([f] { return READ_ONCE(f->done) != 0 || READ_ONCE(f->error) != 0; }); });
    w.spawn("waker", [wq, f, wake] {
      WRITE_ONCE(f->done, 1);
      if (wake) wq->wake_up_all();
    });
  };
}

BOOST_AUTO_TEST_CASE(a_wake_up_while_the_condition_is_read_is_not_lost) {
  sim::ExploreOptions o = exhaustive(2);
  o.world.detect_leaks = false;
  const sim::ExploreResult r = sim::explore(two_read_condition_model(true), o);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);

  const sim::ExploreResult forgotten = sim::explore(two_read_condition_model(false), o);
  BOOST_TEST(forgotten.exhausted);
  BOOST_TEST(forgotten.failing_executions > 0u);
  BOOST_TEST(core::test::every_failure_is(forgotten, sim::bug::kDeadlock));
}

// The condition runs with the task queued and not running (prepare_to_wait_event set TASK_UNINTERRUPTIBLE): a mutex
// taken there is the kernel's warning "do not call blocking ops when !TASK_RUNNING" (kernel/sched/core.c
// __might_sleep, WARN_ONCE: one report, and the wait goes on). Taken after the wait returned, it is fine.
BOOST_AUTO_TEST_CASE(a_mutex_in_the_condition_is_a_blocking_op_while_not_running) {
  auto model = [](bool in_condition) {
    return [in_condition](sim::World& w) {
      struct Shared {
        core::WaitQueue wq;
        core::Mutex lock{"waitqueue_test_lock"};
        bool done = false;
      };
      auto s = std::make_shared<Shared>();
      w.spawn("waiter", [s, in_condition] {
        s->wq.wait_event([&] {
          if (!in_condition) return s->done;
          s->lock.lock();
          const bool done = s->done;
          s->lock.unlock();
          return done;
        });
        s->lock.lock();
        s->lock.unlock();
      });
      w.spawn("waker", [s] {
        s->lock.lock();
        s->done = true;
        s->lock.unlock();
        s->wq.wake_up_all();
      });
    };
  };
  const sim::ExploreResult bad = sim::explore(model(true), exhaustive(2));
  BOOST_TEST(bad.exhausted);
  BOOST_TEST(bad.failing_executions == bad.executions);  // every schedule tests the condition at least once
  BOOST_TEST(core::test::every_failure_is(bad, sim::bug::kBlockingNotRunning));
  BOOST_REQUIRE(!bad.failures.empty());
  BOOST_TEST(bad.failures[0].report.fatal == false);

  const sim::ExploreResult good = sim::explore(model(false), exhaustive(2));
  BOOST_TEST(good.exhausted);
  BOOST_TEST(good.executions > 1u);
  BOOST_TEST(good.failing_executions == 0u);
}

// The same forgotten wake-up with the waiter a user process in wait_event_interruptible: asleep when nothing else can
// run, it would be killed (a process blocked in read() is normal), but its condition holds, so it would sleep until a
// signal in the kernel: woken once to test it, it reports a lost wake-up (World::probe_sleeping_users). With the
// wake-up, or with the flag never set, never.
BOOST_AUTO_TEST_CASE(a_user_process_asleep_with_its_condition_true_is_a_lost_wake_up) {
  auto model = [](bool set, bool wake) {
    return [=](sim::World& w) {
      auto s = std::make_shared<Shared>();
      const sim::TaskId reader = w.spawn("reader", [s] {
        if (s->wq.wait_event_interruptible([&] { return s->ready; }) != 0) return;  // killed at the end
        if (!s->ready) core::test::violation("wait_event_interruptible returned 0 with the condition false");
      });
      w.set_user_task(reader);
      w.spawn("waker", [s, set, wake] {
        sim::yield();
        if (set) s->ready = true;
        if (wake) s->wq.wake_up_all();
      });
    };
  };
  sim::ExploreResult lost = sim::explore(model(true, false), exhaustive(2));
  BOOST_TEST(lost.exhausted);
  BOOST_TEST(lost.failing_executions > 0u);
  BOOST_TEST(lost.failing_executions < lost.executions);
  BOOST_TEST(core::test::every_failure_is(lost, sim::bug::kLostWakeup));
  BOOST_REQUIRE(!lost.failures.empty());
  BOOST_TEST(lost.failures[0].report.headline.find(
                 "lost wake-up: task reader/0 sleeps in wait_event_interruptible though its condition holds") == 0u,
             lost.failures[0].report.headline);
  for (auto [set, wake] : {std::pair{true, true}, std::pair{false, false}, std::pair{false, true}}) {
    sim::ExploreResult r = sim::explore(model(set, wake), exhaustive(2));
    BOOST_TEST(r.exhausted);
    BOOST_TEST(r.failing_executions == 0u, (r.failures.empty() ? "" : r.failures[0].report.headline));
  }
}
