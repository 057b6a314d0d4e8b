// Blocking user calls are not deadlocks (issue 11, item 8): interruptible, killable and timed waits, signals,
// and the end of an execution killing processes asleep in interruptible waits.
//
// Kernel sources modelled:
// - include/linux/wait.h ___wait_event / prepare_to_wait_event (kernel/sched/wait.c): the condition is checked
//   before the signal; an interruptible sleep returns -ERESTARTSYS on signal_pending(), a killable one only on
//   fatal_signal_pending() (signal_pending_state, include/linux/sched/signal.h).
// - include/linux/wait.h ___wait_cond_timeout: a timed wait returns the time left, at least 1 when the condition
//   holds, 0 when the time ran out.
// - kernel/sched/completion.c do_wait_for_common: the same for completions.
// - kernel/signal.c: SIGKILL wakes TASK_INTERRUPTIBLE and TASK_KILLABLE sleepers (signal_wake_up_state), never
//   TASK_UNINTERRUPTIBLE ones; kernel threads do not take signals (kernel/kthread.c: they ignore them), so a
//   kernel-side wait that can never complete stays a hang.
// - kernel/hung_task.c: an uninterruptible sleep that never ends is what the hung-task detector reports.
//
// Every model is explored exhaustively within 2 preemptions (they have two or three tasks and a handful of
// scheduling points, so the bound covers every interleaving that matters).
#define BOOST_TEST_MODULE semantics_blocking_waits
#include <boost/test/unit_test.hpp>

#include <memory>

#include "core/completion.hpp"
#include "core/signal.hpp"
#include "core/spinlock.hpp"
#include "core/waitqueue.hpp"
#include "sim/explorer.hpp"
#include "sim/world.hpp"

using namespace devsim;

namespace {

sim::ExploreOptions exhaustive(int preemptions = 2) {
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Exhaustive;
  o.strategy.preemption_bound = preemptions;
  o.max_executions = 0;
  return o;
}

void violation(std::string what) {
  sim::World& w = sim::world();
  sim::Report r;
  r.kind = "model-violation";
  r.headline = std::move(what);
  w.report(std::move(r));
}

bool every_failure_is(const sim::ExploreResult& r, std::string_view kind) {
  for (const sim::Failure& f : r.failures)
    if (f.report.kind != kind) return false;
  return true;
}

struct Shared {
  core::WaitQueue wq;
  core::Completion done;
  bool ready = false;
  long result = 12345;
  int returns = 0;
};

enum class Wait { Interruptible, Killable, Uninterruptible };

// One process reads from a device that never gets data: it waits in `mode`, as a user task or a kernel thread.
sim::Model lonely_reader(Wait mode, bool user, std::shared_ptr<int> interrupted) {
  return [=](sim::World& w) {
    auto s = std::make_shared<Shared>();
    sim::TaskId id = w.spawn("reader", [s, mode, interrupted] {
      long r = 0;
      switch (mode) {
        case Wait::Interruptible:
          r = s->wq.wait_event_interruptible([&] { return s->ready; });
          break;
        case Wait::Killable:
          r = s->wq.wait_event_killable([&] { return s->ready; });
          break;
        case Wait::Uninterruptible:
          s->wq.wait_event([&] { return s->ready; });
          break;
      }
      if (r == -core::kERESTARTSYS && core::fatal_signal_pending()) ++*interrupted;
    });
    if (user) w.set_user_task(id);
    w.spawn("other", [] { sim::yield(); });
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_process_asleep_in_an_interruptible_read_is_killed_not_reported) {
  for (Wait mode : {Wait::Interruptible, Wait::Killable}) {
    auto interrupted = std::make_shared<int>(0);
    sim::ExploreResult r = sim::explore(lonely_reader(mode, /*user=*/true, interrupted), exhaustive());
    BOOST_TEST(r.exhausted);
    BOOST_TEST(r.failing_executions == 0u);
    // Every execution ended with the reader killed out of its sleep, returning -ERESTARTSYS.
    BOOST_TEST(static_cast<std::uint64_t>(*interrupted) == r.executions);
  }
}

BOOST_AUTO_TEST_CASE(an_uninterruptible_user_sleep_that_never_ends_is_a_deadlock) {
  auto interrupted = std::make_shared<int>(0);
  sim::ExploreResult r = sim::explore(lonely_reader(Wait::Uninterruptible, true, interrupted), exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST(every_failure_is(r, sim::bug::kDeadlock));
}

BOOST_AUTO_TEST_CASE(a_kernel_thread_interruptible_wait_that_never_completes_is_a_deadlock) {
  // Kernel threads take no signals: nothing ends this wait.
  auto interrupted = std::make_shared<int>(0);
  sim::ExploreResult r = sim::explore(lonely_reader(Wait::Interruptible, /*user=*/false, interrupted), exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST(every_failure_is(r, sim::bug::kDeadlock));
  BOOST_TEST(*interrupted == 0);
}

BOOST_AUTO_TEST_CASE(a_signal_ends_an_interruptible_wait_unless_the_condition_already_holds) {
  // A reader, a writer that makes the condition true and wakes, and a signaller. In every schedule the reader
  // returns 0 with the condition true, or -ERESTARTSYS having seen it false; some schedules give each.
  auto zero = std::make_shared<int>(0);
  auto restart = std::make_shared<int>(0);
  sim::Model m = [=](sim::World& w) {
    auto s = std::make_shared<Shared>();
    sim::TaskId reader = w.spawn("reader", [s, zero, restart] {
      long r = s->wq.wait_event_interruptible([&] { return s->ready; });
      if (r == 0 && !s->ready) violation("returned 0 with the condition false");
      if (r == 0) ++*zero;
      if (r == -core::kERESTARTSYS) ++*restart;
      if (r != 0 && r != -core::kERESTARTSYS) violation("unexpected result");
    });
    w.set_user_task(reader);
    w.spawn("writer", [s] {
      s->ready = true;
      s->wq.wake_up_all();
    });
    w.spawn("signaller", [reader] {
      sim::world().yield();
      sim::world().send_signal(reader, /*fatal=*/false);
    });
  };
  sim::ExploreResult r = sim::explore(m, exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u);
  BOOST_TEST(*zero > 0);
  BOOST_TEST(*restart > 0);
}

BOOST_AUTO_TEST_CASE(a_killable_wait_ignores_an_ordinary_signal_and_ends_on_sigkill) {
  for (bool fatal : {false, true}) {
    auto zero = std::make_shared<int>(0);
    auto restart = std::make_shared<int>(0);
    sim::Model m = [=](sim::World& w) {
      auto s = std::make_shared<Shared>();
      sim::TaskId reader = w.spawn("reader", [s, zero, restart] {
        long r = s->wq.wait_event_killable([&] { return s->ready; });
        (r == 0 ? *zero : *restart) += 1;
      });
      w.spawn("signaller", [s, reader, fatal] {
        sim::world().send_signal(reader, fatal);
        sim::world().sleep_for(1000);
        s->ready = true;
        s->wq.wake_up_all();
      });
    };
    sim::ExploreResult r = sim::explore(m, exhaustive());
    BOOST_TEST(r.exhausted);
    BOOST_TEST(r.failing_executions == 0u);
    if (fatal) {
      BOOST_TEST(static_cast<std::uint64_t>(*restart) == r.executions);
    } else {
      BOOST_TEST(static_cast<std::uint64_t>(*zero) == r.executions);  // woken by the data, not the signal
    }
  }
}

BOOST_AUTO_TEST_CASE(timed_waits_return_the_time_left_or_zero_and_never_deadlock) {
  // The writer makes the condition true after 1000 ns. With a 3000 ns timeout the reader gets exactly 2000 left;
  // with 500 ns it times out (0). Then a completion wait of 3000 ns. Nobody is a user task: a timed wait is
  // never a deadlock.
  for (sim::Nanos timeout : {sim::Nanos{3000}, sim::Nanos{500}}) {
    auto results = std::make_shared<std::vector<long>>();
    sim::Model m = [=](sim::World& w) {
      auto s = std::make_shared<Shared>();
      w.spawn("reader", [s, results, timeout] {
        results->push_back(s->wq.wait_event_timeout([&] { return s->ready; }, timeout));
        results->push_back(static_cast<long>(s->done.wait_for_completion_timeout(3000)));
      });
      w.spawn("writer", [s] {
        sim::world().sleep_for(1000);
        s->ready = true;
        s->wq.wake_up_all();
        s->done.complete();
      });
    };
    sim::ExploreResult r = sim::explore(m, exhaustive());
    BOOST_TEST(r.exhausted);
    BOOST_TEST(r.failing_executions == 0u);
    BOOST_REQUIRE(results->size() == 2 * r.executions);
    for (std::size_t i = 0; i < results->size(); i += 2) {
      if (timeout == 3000) {
        BOOST_TEST((*results)[i] == 2000);
        BOOST_TEST((*results)[i + 1] == 3000);  // began at 1000 ns, done at 1000 ns
      } else {
        BOOST_TEST((*results)[i] == 0);
        BOOST_TEST((*results)[i + 1] == 2500);  // began at 500 ns, done at 1000 ns
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(completion_waits_interruptible_and_killable) {
  // wait_for_completion_interruptible: a signal first gives -ERESTARTSYS; a completion first gives 0. Nobody
  // completes the second completion: the killable wait is ended by the kill at the end of the execution.
  auto restart = std::make_shared<int>(0);
  auto killed = std::make_shared<int>(0);
  sim::Model m = [=](sim::World& w) {
    auto s = std::make_shared<Shared>();
    auto never = std::make_shared<core::Completion>();
    sim::TaskId t = w.spawn("waiter", [s, never, restart, killed] {
      long r = s->done.wait_for_completion_interruptible();
      if (r == -core::kERESTARTSYS) ++*restart;
      sim::world().deliver_signals();  // back in user space: the handler ran
      if (never->wait_for_completion_killable() == -core::kERESTARTSYS) ++*killed;
    });
    w.set_user_task(t);
    w.spawn("completer", [s, t] {
      sim::world().send_signal(t, false);
      s->done.complete();
    });
  };
  sim::ExploreResult r = sim::explore(m, exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u);
  BOOST_TEST(*restart > 0);
  BOOST_TEST(static_cast<std::uint64_t>(*restart) < r.executions);
  BOOST_TEST(static_cast<std::uint64_t>(*killed) == r.executions);
}

BOOST_AUTO_TEST_CASE(an_interruptible_wait_under_a_spinlock_is_still_sleep_in_atomic) {
  // might_sleep() in ___wait_event's callers: being interruptible does not make sleeping in atomic context legal.
  sim::Model m = [](sim::World& w) {
    auto s = std::make_shared<Shared>();
    auto lock = std::make_shared<core::SpinLock>("blocking_waits_lock");
    s->ready = true;
    sim::TaskId t = w.spawn("reader", [s, lock] {
      core::SpinLockGuard g = lock->guard();
      (void)s->wq.wait_event_interruptible([&] { return s->ready; });
    });
    w.set_user_task(t);
  };
  sim::ExploreResult r = sim::explore(m, exhaustive());
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST(every_failure_is(r, sim::bug::kSleepInAtomic));
}
