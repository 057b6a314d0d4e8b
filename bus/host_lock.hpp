// The lock over the driver model's own bookkeeping on real OS threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "core/signal.hpp"
#include "sim/world.hpp"

namespace devsim::bus {

// Natively, the driver model's host state (a bus's device and driver lists, a driver's bound list, a device's
// children, the sysfs tree and its active counts, the /dev map, a cdev's drain counters, the uevent log) is shared
// by real threads. One lock guards all of it, as the kernel's klist spinlocks, kernfs locks and chrdevs_lock guard
// theirs; it is held only for the bookkeeping, never across a driver's callback, a sleeping lock or another
// HostGuard (it is not recursive). Waits for the bookkeeping to change (kernfs_drain, cdev_drain, a uevent) are
// wait() on it, woken by notify_all().
// In the simulator the guard holds nothing: a task switches only at a scheduling point, and no bookkeeping step
// contains one, so each is already atomic.
class HostGuard {
 public:
  HostGuard() {
    if (sim::World::current() == nullptr) lock_ = std::unique_lock(mutex());
  }
  HostGuard(const HostGuard&) = delete;
  HostGuard& operator=(const HostGuard&) = delete;

  // Natively: releases the lock until notify_all() and `done()` holds (checked under the lock). Not for the
  // simulator, which blocks its task on the object instead (World::block).
  template <class Done>
  void wait(Done done) {
    condition().wait(lock_, done);
  }
  // wait() for at most `timeout`: whether done() held at the end.
  template <class Done>
  bool wait_for(std::chrono::nanoseconds timeout, Done done) {
    return condition().wait_for(lock_, timeout, done);
  }
  // Natively: wakes every wait() to recheck. Call after the change, with or without a guard held.
  static void notify_all() {
    if (sim::World::current() == nullptr) condition().notify_all();
  }
  bool native() const { return lock_.owns_lock(); }
  // Lets the lock go before the guard's end (natively), to call out of the bookkeeping.
  void unlock() {
    if (lock_.owns_lock()) lock_.unlock();
  }

 private:
  friend class HostSignalWait;
  static std::mutex& mutex();
  static std::condition_variable& condition();
  std::unique_lock<std::mutex> lock_;
};

// Natively: a HostGuard whose wait() a signal can also end, for a sleep in `mode` (interruptible, or killable for
// SIGKILL; an uninterruptible one is a plain HostGuard wait). The sleep is registered with the thread's signal
// target before the lock is taken, as core::NativeSignalSleep requires. Not for the simulator.
class HostSignalWait {
 public:
  explicit HostSignalWait(sim::WaitMode mode)
      : sleep_(HostGuard::mutex(), HostGuard::condition(), mode), lock_(HostGuard::mutex()) {}
  // Waits until done() holds (true) or a signal the mode accepts is pending (false); done() is checked first.
  template <class Done>
  bool wait(Done done) {
    bool held = false;
    HostGuard::condition().wait(lock_, [&] {
      held = done();
      return held || sleep_.signalled();
    });
    return held;
  }

 private:
  core::NativeSignalSleep sleep_;
  std::unique_lock<std::mutex> lock_;
};

}  // namespace devsim::bus
