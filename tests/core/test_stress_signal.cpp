// Signals on real OS threads (core/signal.hpp, NativeSignalTarget): what devsim stress gives each scenario task.
// The kernel's rules, as the simulator has them (tests/semantics/test_blocking_waits.cpp):
// - include/linux/wait.h ___wait_event: the condition is checked before the signal (prepare_to_wait_event returns
//   -ERESTARTSYS only when signal_pending_state says the mode accepts it), so a wait whose condition holds succeeds
//   with a signal pending;
// - kernel/sched/completion.c do_wait_for_common: a done is taken before the signal is looked at;
// - kernel/signal.c signal_wake_up_state: a signal wakes TASK_INTERRUPTIBLE sleepers, SIGKILL also TASK_WAKEKILL
//   (killable) ones; an uninterruptible sleep goes on;
// - a signal stays pending until the return to user space delivers it (SIGKILL stays: the process exits).
// Each sleeper is waited for with sleeping() (it has registered its sleep), never a timed sleep. Runs on real threads
// (ctest label "native").
#define BOOST_TEST_MODULE core_stress_signal
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/completion.hpp"
#include "core/signal.hpp"
#include "core/waitqueue.hpp"

using namespace devsim;
using core::NativeSignalTarget;

namespace {

constexpr long kRestart = -core::kERESTARTSYS;
constexpr sim::Nanos kHour = 3'600'000'000'000;

// Waits until `target` has registered a sleep a signal can end.
void until_asleep(const NativeSignalTarget& target) {
  while (!target.sleeping())
    std::this_thread::yield();
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_signal_ends_an_interruptible_wait_and_stays_pending_until_delivered) {
  core::WaitQueue wq;
  NativeSignalTarget target;
  long result = 1;
  bool pending_after = false;
  std::thread sleeper([&] {
    NativeSignalTarget::Scope scope(target);
    result = wq.wait_event_interruptible([] { return false; });
    pending_after = core::signal_pending();
    target.deliver();
  });
  until_asleep(target);
  target.send(/*fatal=*/false);
  sleeper.join();
  BOOST_TEST(result == kRestart);
  BOOST_TEST(pending_after);
  BOOST_TEST(!target.pending());
  BOOST_TEST(!target.sleeping());
}

BOOST_AUTO_TEST_CASE(a_timed_interruptible_wait_ends_on_the_signal_not_the_time) {
  core::WaitQueue wq;
  NativeSignalTarget target;
  long result = 1;
  std::thread sleeper([&] {
    NativeSignalTarget::Scope scope(target);
    result = wq.wait_event_interruptible_timeout([] { return false; }, kHour);
  });
  until_asleep(target);
  target.send(false);
  sleeper.join();
  BOOST_TEST(result == kRestart);
}

BOOST_AUTO_TEST_CASE(the_condition_wins_over_a_pending_signal) {
  core::WaitQueue wq;
  NativeSignalTarget target;
  target.send(false);
  NativeSignalTarget::Scope scope(target);
  BOOST_TEST(wq.wait_event_interruptible([] { return true; }) == 0);
  // Not held: a pending signal ends the wait before it sleeps.
  BOOST_TEST(wq.wait_event_interruptible([] { return false; }) == kRestart);
  core::Completion done;
  done.complete();
  BOOST_TEST(done.wait_for_completion_interruptible() == 0);
  BOOST_TEST(done.wait_for_completion_interruptible() == kRestart);  // the done was taken
}

BOOST_AUTO_TEST_CASE(a_killable_wait_sleeps_through_a_signal_and_ends_on_sigkill) {
  core::WaitQueue wq;
  NativeSignalTarget target;
  std::atomic<bool> ready{false};
  std::atomic<long> first{1};  // read by this thread while the sleeper runs
  long second = 1;
  std::thread sleeper([&] {
    NativeSignalTarget::Scope scope(target);
    first = wq.wait_event_killable([&] { return ready.load(); });
    target.deliver();
    second = wq.wait_event_killable([] { return false; });
  });
  until_asleep(target);
  target.send(/*fatal=*/false);  // must not end the sleep
  ready = true;
  wq.wake_up_all();
  // The second wait: only SIGKILL ends it.
  while (first == 1 || !target.sleeping())
    std::this_thread::yield();
  target.send(/*fatal=*/true);
  sleeper.join();
  BOOST_TEST(first.load() == 0);
  BOOST_TEST(second == kRestart);
  BOOST_TEST(target.fatal());
  target.deliver();
  BOOST_TEST(target.pending());  // SIGKILL is never delivered away
}

BOOST_AUTO_TEST_CASE(an_uninterruptible_wait_is_not_ended_by_sigkill) {
  core::WaitQueue wq;
  NativeSignalTarget target;
  std::atomic<bool> ready{false};
  std::atomic<bool> returned{false};
  std::thread sleeper([&] {
    NativeSignalTarget::Scope scope(target);
    wq.wait_event([&] { return ready.load(); });
    returned = true;
  });
  target.send(/*fatal=*/true);
  BOOST_TEST(!target.sleeping());  // an uninterruptible sleep never registers: nothing can end it
  BOOST_TEST(!returned.load());
  ready = true;
  wq.wake_up_all();
  sleeper.join();
  BOOST_TEST(returned.load());
}

BOOST_AUTO_TEST_CASE(a_completion_wait_ends_on_a_signal_without_taking_a_done) {
  core::Completion done;
  NativeSignalTarget target;
  std::atomic<long> interruptible{1};  // read by this thread while the sleeper runs
  long killable = 1;
  std::thread sleeper([&] {
    NativeSignalTarget::Scope scope(target);
    interruptible = done.wait_for_completion_interruptible();
    target.deliver();
    killable = done.wait_for_completion_killable();
  });
  until_asleep(target);
  target.send(false);
  while (interruptible == 1 || !target.sleeping())
    std::this_thread::yield();
  target.send(true);
  sleeper.join();
  BOOST_TEST(interruptible.load() == kRestart);
  BOOST_TEST(killable == kRestart);
  BOOST_TEST(!done.try_wait());  // nothing was completed, nothing consumed
}

BOOST_AUTO_TEST_CASE(a_thread_without_a_target_has_no_signals) {
  BOOST_TEST(NativeSignalTarget::current() == nullptr);
  BOOST_TEST(!core::signal_pending());
  BOOST_TEST(!core::fatal_signal_pending());
  core::WaitQueue wq;
  BOOST_TEST(wq.wait_event_interruptible_timeout([] { return false; }, 1'000'000) == 0);  // the time ran out
}
