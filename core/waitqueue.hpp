// WaitQueue: sleep until a condition holds; whoever makes it true wakes the queue.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>

#include "core/runtime.hpp"
#include "core/signal.hpp"

namespace devsim::core {

// wait_queue_head_t with wait_event() and wake_up(). The condition is the caller's state, not the queue's:
// wait_event(pred) returns once pred() is true, re-checking it after every wake-up (a wake-up is a hint,
// never a promise); the waker makes the condition true first, then wakes.
//
// In the simulator: wait_event is a sleep (sleep-in-atomic under a spinlock, even if pred() is already
// true) and a scheduling point on the queue. pred() may itself reach scheduling points (a driver's condition
// reading shared memory); as the kernel's waiter is on the queue before it reads the condition (prepare_to_wait),
// a wake-up since the check began sends the waiter round again instead of to sleep, so no wake-up is lost; a
// waiter whose condition never comes true is a deadlock report ("wait_event"). Wake-ups
// are scheduling points too. Natively: a condition variable, with a waiter count so that a wake-up with
// nobody waiting costs one atomic read-modify-write.
//
// INVARIANT (native): pred() reads state that is written with atomics or under a lock of the caller (it runs
// concurrently with the waker), and the waker writes it before calling wake_up_*().
// Interruptible, killable and timed waits (include/linux/wait.h ___wait_event, prepare_to_wait_event): the
// condition is checked before the signal, so a wait whose condition holds returns success even with a signal
// pending; a signal the mode accepts ends the wait with -ERESTARTSYS; a timeout is virtual nanoseconds (the
// kernel's jiffies), and a timed wait returns what is left of it (at least 1 if the condition holds, 0 if the
// time ran out with the condition false). A user task asleep in an interruptible or killable wait when nothing
// else can run is killed (SIGKILL), not reported: that is a process blocked in read(), a normal state.
// Natively: a signal is NativeSignalTarget::send() to the sleeper's thread (devsim stress gives each scenario task
// one); timeouts are real time.
// A user task asleep interruptibly or killably with its condition true when nothing else can run is a lost wake-up
// (World::probe_sleeping_users).
// Does not handle: exclusive waiters (wake_up_one wakes one waiter, whichever, and a waiter still checking its
// condition counts as woken by it besides; waiters for different conditions on one queue need wake_up_all), a
// queue used by both runtimes.
class WaitQueue {
 public:
  WaitQueue() = default;
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  // Sleeps until pred() is true. pred() may run any number of times, on the waiting task.
  template <class Pred>
  void wait_event(Pred pred, const Site& site = Site::current());
  // 0 once pred() holds, -ERESTARTSYS on a signal (wait_event_interruptible) / on SIGKILL (wait_event_killable).
  template <class Pred>
  long wait_event_interruptible(Pred pred, const Site& site = Site::current()) {
    return wait(pred, sim::WaitMode::Interruptible, std::nullopt, "wait_event_interruptible", site);
  }
  template <class Pred>
  long wait_event_killable(Pred pred, const Site& site = Site::current()) {
    return wait(pred, sim::WaitMode::Killable, std::nullopt, "wait_event_killable", site);
  }
  // The time left (>= 1) once pred() holds, 0 when `timeout` ran out with pred() false.
  template <class Pred>
  long wait_event_timeout(Pred pred, sim::Nanos timeout, const Site& site = Site::current()) {
    return wait(pred, sim::WaitMode::Uninterruptible, timeout, "wait_event_timeout", site);
  }
  // The same, or -ERESTARTSYS on a signal.
  template <class Pred>
  long wait_event_interruptible_timeout(Pred pred, sim::Nanos timeout, const Site& site = Site::current()) {
    return wait(pred, sim::WaitMode::Interruptible, timeout, "wait_event_interruptible_timeout", site);
  }
  // May run in destructors (a release callback waking a drain): never unwound halfway.
  void wake_up_one(const Site& site = Site::current());
  void wake_up_all(const Site& site = Site::current());

 private:
  void native_wake(bool all);
  template <class Pred>
  long wait(Pred& pred, sim::WaitMode mode, std::optional<sim::Nanos> timeout, const char* what, const Site& site);

  // The condition, tested as the kernel's ___wait_event tests it: with the task queued and not running, where a
  // blocking operation is a warning (World::might_sleep).
  template <class Pred>
  static bool test(sim::World& w, Pred& pred, const Site& site) {
    sim::World::NotRunningScope scope(w, site);
    return pred();
  }
  // Whether wake_up_*() ran since the waiter read `token` (before its condition). The condition of a driver's
  // wait_event() may read shared memory, and such a read can be a scheduling point (World::access_point): a wake-up
  // that runs there finds no sleeper, and without this the waiter would go to sleep on the condition it already
  // read as false and never wake. In the kernel it is on the queue in TASK_(UN)INTERRUPTIBLE before it reads the
  // condition (include/linux/wait.h ___wait_event, prepare_to_wait_event), so such a wake-up sets it running and
  // schedule() returns at once.
  bool woken_since(sim::World& w, std::uint64_t token) {
    w.touch(this, false);  // the check reads the queue, against a wake-up's write
    return sim_wakeups_ != token;
  }

  std::uint64_t sim_wakeups_ = 0;  // the simulator's wake-ups of this queue so far
  std::atomic<int> native_waiters_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

template <class Pred>
void WaitQueue::wait_event(Pred pred, const Site& site) {
  if (sim::World* w = sim_world()) {
    w->might_sleep("wait_event", site);
    w->yield(sim::EventKind::Sync, this, site);
    w->touch(this, false);
    for (;;) {
      const std::uint64_t token = sim_wakeups_;  // prepare_to_wait(): on the queue before the condition is read
      if (test(*w, pred, site)) return;
      if (!woken_since(*w, token)) w->block(this, "wait_event", site, /*sleeps=*/false);
    }
  }
  if (pred()) return;
  // Both sides do a read-modify-write of the waiter count, so one of them comes first in its modification
  // order: either the waker reads this waiter (and takes the slow path below), or its RMW came first, this
  // one reads from it (acq_rel) and pred() sees the condition the waker wrote before waking.
  native_waiters_.fetch_add(1, std::memory_order_acq_rel);
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, pred);
  }
  native_waiters_.fetch_sub(1, std::memory_order_relaxed);
}

template <class Pred>
long WaitQueue::wait(Pred& pred, sim::WaitMode mode, std::optional<sim::Nanos> timeout, const char* what,
                     const Site& site) {
  // What a satisfied timed wait returns: the time left, at least 1 (___wait_cond_timeout).
  auto left = [&](sim::Nanos now, sim::Nanos deadline) {
    return static_cast<long>(std::max<sim::Nanos>(deadline > now ? deadline - now : 0, 1));
  };
  if (sim::World* w = sim_world()) {
    w->might_sleep(what, site);
    w->yield(sim::EventKind::Sync, this, site);
    w->touch(this, false);
    const sim::Nanos deadline = timeout ? w->now() + *timeout : 0;
    for (;;) {
      const std::uint64_t token = sim_wakeups_;  // prepare_to_wait_event(): on the queue before the condition
      if (test(*w, pred, site)) {
        w->wait_condition_held(site);  // a lost wake-up if only the end-of-execution probe woke it
        return timeout ? left(w->now(), deadline) : 0;
      }
      const bool signalled = mode == sim::WaitMode::Interruptible ? w->signal_pending()
                             : mode == sim::WaitMode::Killable    ? w->fatal_signal_pending()
                                                                  : false;
      if (signalled) return -kERESTARTSYS;
      if (timeout && w->now() >= deadline) return 0;
      if (woken_since(*w, token)) continue;
      w->block_wait(this, what, mode, timeout ? std::optional<sim::Nanos>(deadline - w->now()) : std::nullopt, site,
                    /*retests=*/true);
    }
  }
  if (!timeout && mode == sim::WaitMode::Uninterruptible) {
    wait_event(pred, site);
    return 0;
  }
  const auto start = std::chrono::steady_clock::now();
  // Registered before mu_ is taken (NativeSignalTarget's INVARIANT): a signal sent meanwhile is not lost.
  NativeSignalSleep sleep(mu_, cv_, mode);
  native_waiters_.fetch_add(1, std::memory_order_acq_rel);
  // The condition first, then the signal, as ___wait_event checks them: a wait whose condition holds succeeds
  // even with a signal pending.
  bool held = false;
  bool signalled = false;
  {
    std::unique_lock lock(mu_);
    const auto done = [&] {
      held = pred();
      signalled = !held && sleep.signalled();
      return held || signalled;
    };
    if (timeout) {
      cv_.wait_for(lock, std::chrono::nanoseconds(*timeout), done);
    } else {
      cv_.wait(lock, done);
    }
  }
  native_waiters_.fetch_sub(1, std::memory_order_relaxed);
  if (signalled) return -kERESTARTSYS;
  if (!held) return 0;  // the time ran out
  if (!timeout) return 0;
  const auto spent = static_cast<sim::Nanos>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
  return left(spent, *timeout);
}

inline void WaitQueue::wake_up_one(const Site& site) {
  if (sim::World* w = sim_world()) {
    sim::World::NoCancelScope scope(*w);
    w->yield(sim::EventKind::Wake, this, site);
    w->touch(this, true);
    ++sim_wakeups_;
    w->wake_one(this, site);
    return;
  }
  native_wake(false);
}

inline void WaitQueue::wake_up_all(const Site& site) {
  if (sim::World* w = sim_world()) {
    sim::World::NoCancelScope scope(*w);
    w->yield(sim::EventKind::Wake, this, site);
    w->touch(this, true);
    ++sim_wakeups_;
    w->wake_all(this, site);
    return;
  }
  native_wake(true);
}

inline void WaitQueue::native_wake(bool all) {
  // An RMW, not a load: it pairs with the waiter's increment (see wait_event). No fences: TSan cannot see them.
  if (native_waiters_.fetch_add(0, std::memory_order_acq_rel) == 0) return;
  // A waiter between its check of pred() and its sleep holds mu_: taking it here means the waiter is either
  // asleep (and notified below) or has not checked yet (and will see the condition).
  { std::lock_guard lock(mu_); }
  if (all)
    cv_.notify_all();
  else
    cv_.notify_one();
}

}  // namespace devsim::core
