// WaitQueue: sleep until a condition holds; whoever makes it true wakes the queue.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "core/runtime.hpp"

namespace devsim::core {

// wait_queue_head_t with wait_event() and wake_up(). The condition is the caller's state, not the queue's:
// wait_event(pred) returns once pred() is true, re-checking it after every wake-up (a wake-up is a hint,
// never a promise); the waker makes the condition true first, then wakes.
//
// In the simulator: wait_event is a sleep (sleep-in-atomic under a spinlock, even if pred() is already
// true) and a scheduling point on the queue; checking pred() and going to sleep happen in one step, so no
// wake-up is lost; a waiter whose condition never comes true is a deadlock report ("wait_event"). Wake-ups
// are scheduling points too. Natively: a condition variable, with a waiter count so that a wake-up with
// nobody waiting costs one atomic read-modify-write.
//
// INVARIANT (native): pred() reads state that is written with atomics or under a lock of the caller (it runs
// concurrently with the waker), and the waker writes it before calling wake_up_*().
// Does not handle: timeouts, interruptible waits, exclusive waiters (wake_up_one wakes one waiter, whichever;
// waiters for different conditions on one queue need wake_up_all), a queue used by both runtimes.
class WaitQueue {
 public:
  WaitQueue() = default;
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  // Sleeps until pred() is true. pred() may run any number of times, on the waiting task.
  template <class Pred>
  void wait_event(Pred pred, const Site& site = Site::current());
  // May run in destructors (a release callback waking a drain): never unwound halfway.
  void wake_up_one(const Site& site = Site::current());
  void wake_up_all(const Site& site = Site::current());

 private:
  void native_wake(bool all);

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
    while (!pred())
      w->block(this, "wait_event", site, /*sleeps=*/false);
    return;
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

inline void WaitQueue::wake_up_one(const Site& site) {
  if (sim::World* w = sim_world()) {
    sim::World::NoCancelScope scope(*w);
    w->yield(sim::EventKind::Wake, this, site);
    w->touch(this, true);
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
