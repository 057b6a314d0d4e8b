// Wait queues of kernel C (include/linux/wait.h's wait_event: prepare_to_wait, the condition, the sleep): the
// waiter is queued and not running while it tests its condition (include/linux/wait.h ___wait_event,
// kernel/sched/wait.c prepare_to_wait_event). So a wake-up during the test is not lost, and a blocking operation in
// the condition is the kernel's warning "do not call blocking ops when !TASK_RUNNING" (kernel/sched/core.c
// __might_sleep), which ends with the wait (finish_wait).
#define BOOST_TEST_MODULE c_wait
#include <boost/test/unit_test.hpp>
#include <optional>

#include "tests/c/case_run.hpp"

extern "C" {
struct waiting;
struct waiting *wait_case_new(void);
void wait_case_two_reads(struct waiting *w);
void wait_case_locked_condition(struct waiting *w);
void wait_case_lock_after(struct waiting *w);
void wait_case_complete(struct waiting *w);
void wait_case_open_coded(struct waiting *w);
void wait_case_times_out(struct waiting *w);
void wait_case_alloc_kernel(struct waiting *w);
void wait_case_alloc_atomic(struct waiting *w);
void wait_case_event_timeout(struct waiting *w);
void wait_case_event_times_out(struct waiting *w);
void wait_case_queue_then_state(struct waiting *w);
void wait_case_state_then_queue(struct waiting *w);
void wait_case_state_after_test(struct waiting *w);
void wait_case_complete_interruptible(struct waiting *w);
void wait_case_interruptible(struct waiting *w);
void wait_case_killable(struct waiting *w);
void wait_case_complete_without_wake_up(struct waiting *w);
void wait_case_interruptible_or_signal(struct waiting *w);
void wait_case_take_exclusive(struct waiting *w);
void wait_case_take(struct waiting *w);
void wait_case_put_two_wake_one(struct waiting *w);
void wait_case_put_two_wake_all(struct waiting *w);
void wait_case_put_two_wake_two(struct waiting *w);
void wait_case_put_one(struct waiting *w);
void wait_case_take_open_coded_exclusive(struct waiting *w);
void wait_case_read_holding_lock(struct waiting *w);
void wait_case_read_then_lock(struct waiting *w);
void wait_case_disconnect_interruptible(struct waiting *w);
void wait_case_disconnect(struct waiting *w);
void wait_case_read_until_killed(struct waiting *w);
void wait_case_wait_error_idle(struct waiting *w);
void wait_case_wait_error(struct waiting *w);
}

namespace sim = devsim::sim;
namespace test = devsim::test;

namespace {

// A waiter running `wait` and a task that completes: every schedule.
sim::ExploreResult waiter_and_completer(void (*wait)(struct waiting *),
                                        void (*complete)(struct waiting *) = wait_case_complete) {
  const sim::Model model = [wait, complete](sim::World &w) {
    w.spawn("setup", [&w, wait, complete] {
      // LIFETIME: simulated memory the tasks share; the world outlives them.
      struct waiting *c = wait_case_new();
      w.spawn("waiter", [c, wait] { wait(c); });
      w.spawn("completer", [c, complete] { complete(c); });
    });
  };
  return test::explore_every_schedule(model);
}

using Case = void (*)(struct waiting *);

// User processes running `readers` (each a process that can be killed at the end of an execution), a kernel task
// running `put` (none: nothing), and with `signal_first`, a task that signals the first reader: every schedule.
// With more than two tasks the search is bounded to two preemptions (enough for every bug here: the lost wake-ups
// need none, the readers block and the producer runs).
// `removal`: the producer runs as the driver core's removal of a device does (sim::World::RemovalScope).
sim::ExploreResult readers_and_producer(std::vector<Case> readers, Case put, bool signal_first = false,
                                        bool removal = false) {
  const sim::Model model = [readers, put, signal_first, removal](sim::World &w) {
    w.spawn("setup", [&w, readers, put, signal_first, removal] {
      // LIFETIME: simulated memory the tasks share; the world outlives them.
      struct waiting *c = wait_case_new();
      std::vector<sim::TaskId> ids;
      for (Case r : readers) {
        ids.push_back(w.spawn("reader", [c, r] { r(c); }));
        w.set_user_task(ids.back());
      }
      if (put != nullptr)
        w.spawn("producer", [&w, c, put, removal] {
          std::optional<sim::World::RemovalScope> removing;
          if (removal) removing.emplace(&w);
          put(c);
        });
      if (signal_first)
        w.spawn("signaller", [&w, first = ids.front()] {
          w.yield();
          w.send_signal(first, /*fatal=*/false);
        });
    });
  };
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Exhaustive;
  o.max_executions = 0;
  o.world.detect_leaks = false;
  if (readers.size() + (put != nullptr) + signal_first > 2) o.strategy.preemption_bound = 2;
  return sim::explore(model, o);
}

std::string first_headline(const sim::ExploreResult &r) {
  return r.failures.empty() ? std::string() : r.failures.front().report.headline;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_wake_up_while_the_condition_is_tested_is_not_lost) {
  const sim::ExploreResult r = waiter_and_completer(wait_case_two_reads);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);
}

BOOST_AUTO_TEST_CASE(a_mutex_in_the_condition_is_a_blocking_op_while_not_running) {
  const sim::ExploreResult r = waiter_and_completer(wait_case_locked_condition);
  BOOST_TEST(r.exhausted);
  // The condition is tested at least once in every schedule, with the task not running each time.
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST(test::any_report(r, sim::bug::kBlockingNotRunning));
  BOOST_REQUIRE(!r.failures.empty());
  BOOST_TEST(r.failures[0].report.headline.find("mutex_lock") != std::string::npos, r.failures[0].report.headline);
}

BOOST_AUTO_TEST_CASE(the_same_mutex_after_the_wait_is_fine) {
  const sim::ExploreResult r = waiter_and_completer(wait_case_lock_after);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);
}

// The open-coded form of the same wait (include/linux/wait.h prepare_to_wait/finish_wait, kernel/time/
// sleep_timeout.c schedule_timeout): a wake-up after the prepare ends the sleep however the steps interleave (the
// case WARNs if its 100 jiffies ran out).
BOOST_AUTO_TEST_CASE(an_open_coded_wait_is_woken_in_every_schedule) {
  const sim::ExploreResult r = waiter_and_completer(wait_case_open_coded);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);
}

// schedule_timeout with nobody to wake the task returns 0 once its jiffies passed (virtual time, HZ 1000), returns
// the whole timeout at once for a running task, and schedule_timeout_uninterruptible sleeps on no queue.
BOOST_AUTO_TEST_CASE(schedule_timeout_sleeps_its_jiffies_when_nobody_wakes_the_task) {
  const sim::Execution e = test::run_in_task([] { wait_case_times_out(wait_case_new()); },
                                             [] {
                                               sim::WorldOptions o;
                                               o.detect_leaks = false;
                                               return o;
                                             }());
  BOOST_TEST((e.outcome == sim::Outcome::Completed));
  BOOST_TEST(e.reports.empty(), (e.reports.empty() ? "" : e.reports.front().headline));
}

// A GFP_KERNEL allocation between prepare_to_wait and schedule_timeout is the kernel's __might_sleep warning
// (kernel/sched/core.c: "do not call blocking ops when !TASK_RUNNING"; include/linux/sched/mm.h might_alloc); the
// same with GFP_ATOMIC is fine.
BOOST_AUTO_TEST_CASE(a_sleeping_allocation_between_prepare_and_schedule_is_a_blocking_op_while_not_running) {
  const sim::ExploreResult kernel = waiter_and_completer(wait_case_alloc_kernel);
  BOOST_TEST(kernel.exhausted);
  BOOST_TEST(kernel.failing_executions == kernel.executions);
  BOOST_TEST(test::any_report(kernel, sim::bug::kBlockingNotRunning));
  BOOST_REQUIRE(!kernel.failures.empty());
  BOOST_TEST(kernel.failures[0].report.headline.find("kmalloc") != std::string::npos,
             kernel.failures[0].report.headline);
  const sim::ExploreResult atomic = waiter_and_completer(wait_case_alloc_atomic);
  BOOST_TEST(atomic.exhausted);
  BOOST_TEST(atomic.executions > 1u);
  BOOST_TEST(atomic.failing_executions == 0u);
}

// The wait_event forms with a timeout (include/linux/wait.h ___wait_cond_timeout): woken in time, the jiffies left
// (at least 1) in every schedule; never woken, 0 after exactly the timeout of virtual time; a condition already true
// with no time left is 1.
BOOST_AUTO_TEST_CASE(wait_event_timeout_returns_the_jiffies_left_or_zero) {
  const sim::ExploreResult r = waiter_and_completer(wait_case_event_timeout);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);
  sim::WorldOptions o;
  o.detect_leaks = false;
  const sim::Execution e = test::run_in_task([] { wait_case_event_times_out(wait_case_new()); }, o);
  BOOST_TEST((e.outcome == sim::Outcome::Completed));
  BOOST_TEST(e.reports.empty(), (e.reports.empty() ? "" : e.reports.front().headline));
}

// add_wait_queue/remove_wait_queue (kernel/sched/wait.c; the entry of DECLARE_WAITQUEUE wakes with
// default_wake_function, kernel/sched/core.c try_to_wake_up, which sets the task running and leaves it queued): in
// either order of queueing and set_current_state, with the condition tested after both, a wake-up is never lost. With
// the condition tested before set_current_state and not again, a wake-up in between is lost: some schedule sleeps its
// whole timeout (the case's WARN_ON), others do not.
BOOST_AUTO_TEST_CASE(add_wait_queue_loses_a_wake_up_only_when_the_condition_is_tested_before_the_state_is_set) {
  for (auto wait : {wait_case_queue_then_state, wait_case_state_then_queue}) {
    const sim::ExploreResult r = waiter_and_completer(wait);
    BOOST_TEST(r.exhausted);
    BOOST_TEST(r.executions > 1u);
    BOOST_TEST(r.failing_executions == 0u, (r.failures.empty() ? "" : r.failures.front().report.headline));
  }
  const sim::ExploreResult lost = waiter_and_completer(wait_case_state_after_test);
  BOOST_TEST(lost.exhausted);
  BOOST_TEST(lost.failing_executions > 0u);
  BOOST_TEST(lost.failing_executions < lost.executions);
  BOOST_TEST(test::any_report(lost, "warning"));
}

// wake_up_interruptible is __wake_up(wq, TASK_INTERRUPTIBLE, 1, NULL) (include/linux/wait.h), and try_to_wake_up
// (kernel/sched/core.c) wakes a task only when its state matches that mode: a wait_event (TASK_UNINTERRUPTIBLE) or
// wait_event_killable (TASK_KILLABLE) sleeper is passed by, and if it went to sleep before the wake-up it sleeps on
// (a kernel thread asleep for good either way: a deadlock report). Some schedules test the condition after the
// completer set it and never sleep; so the hang is found in some schedules, not all. An interruptible waiter is woken
// in every schedule.
BOOST_AUTO_TEST_CASE(wake_up_interruptible_leaves_uninterruptible_and_killable_sleepers_asleep) {
  const sim::ExploreResult lost = waiter_and_completer(wait_case_two_reads, wait_case_complete_interruptible);
  BOOST_TEST(lost.exhausted);
  BOOST_TEST(lost.failing_executions > 0u);
  BOOST_TEST(lost.failing_executions < lost.executions);
  BOOST_TEST(test::any_report(lost, "deadlock"));
  const sim::ExploreResult killable = waiter_and_completer(wait_case_killable, wait_case_complete_interruptible);
  BOOST_TEST(killable.exhausted);
  BOOST_TEST(killable.failing_executions > 0u);
  BOOST_TEST(killable.failing_executions < killable.executions);
  BOOST_TEST(test::any_report(killable, "deadlock"));
  const sim::ExploreResult woken = waiter_and_completer(wait_case_interruptible, wait_case_complete_interruptible);
  BOOST_TEST(woken.exhausted);
  BOOST_TEST(woken.executions > 1u);
  BOOST_TEST(woken.failing_executions == 0u, (woken.failures.empty() ? "" : woken.failures.front().report.headline));
  // Woken by wake_up, the same two waiters never hang.
  for (auto wait : {wait_case_two_reads, wait_case_killable}) {
    const sim::ExploreResult r = waiter_and_completer(wait);
    BOOST_TEST(r.exhausted);
    BOOST_TEST(r.failing_executions == 0u, (r.failures.empty() ? "" : r.failures.front().report.headline));
  }
}

// A reader asleep in wait_event_interruptible whose condition became true with no wake-up after it sleeps until a
// signal in the kernel (nothing else calls try_to_wake_up for it, kernel/sched/wait.c). At the end of an execution it
// is woken once to test its condition before the kill: a lost wake-up when it holds. Never when the completer wakes
// the queue, and never for a reader whose condition is still false (a process blocked in read() is normal), even
// when a signal would make it true.
BOOST_AUTO_TEST_CASE(a_condition_made_true_without_a_wake_up_is_a_lost_wake_up) {
  const sim::ExploreResult lost = readers_and_producer({wait_case_interruptible}, wait_case_complete_without_wake_up);
  BOOST_TEST(lost.exhausted);
  BOOST_TEST(lost.failing_executions > 0u);
  BOOST_TEST(lost.failing_executions < lost.executions);  // the reader that tests after the write never sleeps
  BOOST_TEST(test::any_report(lost, sim::bug::kLostWakeup));
  BOOST_TEST(
      first_headline(lost).find("sleeps in wait_event_interruptible though its condition holds") != std::string::npos,
      first_headline(lost));
  const sim::ExploreResult woken = readers_and_producer({wait_case_interruptible}, wait_case_complete);
  BOOST_TEST(woken.exhausted);
  BOOST_TEST(woken.executions > 1u);
  BOOST_TEST(woken.failing_executions == 0u, first_headline(woken));
  for (Case reader : {wait_case_interruptible, wait_case_interruptible_or_signal, wait_case_killable}) {
    const sim::ExploreResult idle = readers_and_producer({reader}, nullptr);
    BOOST_TEST(idle.exhausted);
    BOOST_TEST(idle.failing_executions == 0u, first_headline(idle));
  }
}

// Exclusive waiters (kernel/sched/wait.c: prepare_to_wait_exclusive and prepare_to_wait_event queue them at the
// tail; __wake_up_common stops after nr_exclusive of them were woken; wake_up_interruptible is nr_exclusive 1,
// wake_up_interruptible_all 0). Two consumers, two items and one wake-up: the second consumer sleeps on with an item
// there, a lost wake-up, which non-exclusive waiters (all woken) never have; wake_up_interruptible_all or one
// wake-up per item never lose one.
BOOST_AUTO_TEST_CASE(wake_up_wakes_one_exclusive_waiter) {
  const sim::ExploreResult one =
      readers_and_producer({wait_case_take_exclusive, wait_case_take_exclusive}, wait_case_put_two_wake_one);
  BOOST_TEST(one.exhausted);
  BOOST_TEST(one.failing_executions > 0u);
  BOOST_TEST(test::any_report(one, sim::bug::kLostWakeup));
  BOOST_TEST(first_headline(one).find("wait_event_interruptible") != std::string::npos, first_headline(one));
  for (Case put : {wait_case_put_two_wake_all, wait_case_put_two_wake_two}) {
    const sim::ExploreResult r = readers_and_producer({wait_case_take_exclusive, wait_case_take_exclusive}, put);
    BOOST_TEST(r.exhausted);
    BOOST_TEST(r.executions > 1u);
    BOOST_TEST(r.failing_executions == 0u, first_headline(r));
  }
  const sim::ExploreResult shared = readers_and_producer({wait_case_take, wait_case_take}, wait_case_put_two_wake_one);
  BOOST_TEST(shared.exhausted);
  BOOST_TEST(shared.failing_executions == 0u, first_headline(shared));
}

// prepare_to_wait_event (kernel/sched/wait.c) takes an exclusive waiter with a signal pending off the queue before it
// tests its condition, and ___wait_event (include/linux/wait.h) returns success when the condition holds even then:
// a wake-up that selected the signalled waiter is used by it, one after goes to the other waiter. One item, one
// wake-up, the first consumer signalled: never a lost wake-up.
BOOST_AUTO_TEST_CASE(a_signalled_exclusive_waiter_never_loses_the_wake_up) {
  const sim::ExploreResult r = readers_and_producer({wait_case_take_exclusive, wait_case_take_exclusive},
                                                    wait_case_put_one, /*signal_first=*/true);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u, first_headline(r));
}

// The open-coded form (prepare_to_wait_exclusive, schedule, finish_wait) with enough wake-ups: never a report. (Its
// lost wake-up is not reported: after schedule() a driver may rely on having been woken, so the probe does not
// wake it; the kill ends it.)
BOOST_AUTO_TEST_CASE(an_open_coded_exclusive_wait_with_a_wake_up_per_item_is_clean) {
  for (Case put : {wait_case_put_two_wake_all, wait_case_put_two_wake_two}) {
    const sim::ExploreResult r =
        readers_and_producer({wait_case_take_open_coded_exclusive, wait_case_take_open_coded_exclusive}, put);
    BOOST_TEST(r.exhausted);
    BOOST_TEST(r.executions > 1u);
    BOOST_TEST(r.failing_executions == 0u, first_headline(r));
  }
}

// kernel/hung_task.c check_hung_uninterruptible_tasks: a task in TASK_UNINTERRUPTIBLE (not killable, not TASK_IDLE)
// that does not run for hung_task_timeout_secs is reported. At the end of an execution, before the processes asleep
// in interruptible sleeps are killed, a removal (drivers/base/core.c device_del, drivers/base/dd.c
// device_release_driver, driver_unregister) asleep so would sleep until that signal: a hung-task report (not fatal).
// The ldusb/legousbtower shape: read sleeps holding the device's mutex, disconnect needs it.
BOOST_AUTO_TEST_CASE(a_removal_blocked_on_a_mutex_a_sleeping_reader_holds_is_a_hung_task) {
  const sim::ExploreResult r =
      readers_and_producer({wait_case_read_holding_lock}, wait_case_disconnect, false, /*removal=*/true);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(test::any_report(r, sim::bug::kHungTask));
  BOOST_TEST(r.failing_executions < r.executions);  // the disconnect first: the reader finds `done`
  BOOST_REQUIRE(!r.failures.empty());
  const sim::Report &rep = r.failures.front().report;
  BOOST_TEST(rep.kind == sim::bug::kHungTask);
  BOOST_TEST(!rep.fatal);
  BOOST_TEST(rep.headline.find("producer") != std::string::npos, rep.headline);
  BOOST_TEST(rep.headline.find("mutex") != std::string::npos, rep.headline);
  BOOST_TEST(rep.headline.find("while removing a device or driver") != std::string::npos, rep.headline);
}

// The same wait outside a removal (a write behind a read that holds the mutex, as drivers/usb/usb-skeleton.c's
// skel_write behind skel_read when the device sends nothing) waits as it would on a silent real device: not counted.
BOOST_AUTO_TEST_CASE(the_same_wait_outside_a_removal_is_not_a_hung_task) {
  const sim::ExploreResult r = readers_and_producer({wait_case_read_holding_lock}, wait_case_disconnect);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u, first_headline(r));
}

BOOST_AUTO_TEST_CASE(no_hung_task_when_the_reader_sleeps_without_the_mutex) {
  const sim::ExploreResult r =
      readers_and_producer({wait_case_read_then_lock}, wait_case_disconnect, false, /*removal=*/true);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u, first_headline(r));
}

// mutex_lock_interruptible sleeps in TASK_INTERRUPTIBLE (kernel/locking/mutex.c __mutex_lock_interruptible_slowpath),
// which the detector passes by; mutex_lock's TASK_UNINTERRUPTIBLE it does not.
BOOST_AUTO_TEST_CASE(a_removal_blocked_in_mutex_lock_interruptible_is_not_hung) {
  const sim::ExploreResult r =
      readers_and_producer({wait_case_read_holding_lock}, wait_case_disconnect_interruptible, false, true);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(!test::any_report(r, sim::bug::kHungTask), first_headline(r));
}

// TASK_IDLE (wait_event_idle) counts no load and is passed by; wait_event's TASK_UNINTERRUPTIBLE is reported.
BOOST_AUTO_TEST_CASE(an_idle_wait_is_not_hung_and_an_uninterruptible_one_is) {
  const sim::ExploreResult idle =
      readers_and_producer({wait_case_read_until_killed}, wait_case_wait_error_idle, false, true);
  BOOST_TEST(idle.exhausted);
  BOOST_TEST(idle.failing_executions == 0u, first_headline(idle));
  const sim::ExploreResult plain =
      readers_and_producer({wait_case_read_until_killed}, wait_case_wait_error, false, true);
  BOOST_TEST(plain.exhausted);
  BOOST_TEST(plain.failing_executions == plain.executions, first_headline(plain));
  BOOST_TEST(test::any_report(plain, sim::bug::kHungTask));
}
