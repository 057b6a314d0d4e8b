// Signals as a sleeping kernel path sees them: signal_pending(current), and the error an interrupted sleep
// returns; natively, the signal state of a task thread and the sleeps a signal ends.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "core/runtime.hpp"

namespace devsim::core {

// -ERESTARTSYS (include/linux/errno.h): what an interrupted sleep returns to its caller. The system call's
// return to user space turns it into -EINTR (a handler without SA_RESTART) or restarts the call; devsim's
// user side (scenarios) models the former.
inline constexpr int kERESTARTSYS = 512;

// Natively: the signal state of one process's thread (a scenario task on a real OS thread), as the kernel keeps it
// in task_struct (TIF_SIGPENDING, the pending set) and what it sleeps on. A signal is sent from any thread; it
// wakes the target from an interruptible sleep, or from a killable one if it is SIGKILL (kernel/signal.c
// signal_wake_up_state: TASK_INTERRUPTIBLE, or TASK_WAKEKILL for a fatal signal), and stays pending until the
// target's return to user space delivers it (deliver()).
// INVARIANT: a sleep registers (NativeSignalSleep) before it takes its lock and checks, and send() sets the signal
// before it takes that lock to notify: a signal sent at any moment of the sleep either is seen by the sleeper's
// check or finds it asleep on the condition variable and wakes it.
// Lock order: the target's mutex, then the sleep's. A sleeper never takes the target's mutex holding its own.
class NativeSignalTarget {
 public:
  NativeSignalTarget() = default;
  NativeSignalTarget(const NativeSignalTarget&) = delete;
  NativeSignalTarget& operator=(const NativeSignalTarget&) = delete;

  // A signal (SIGKILL if `fatal`): pending from now on; wakes the target from a sleep its mode lets end.
  void send(bool fatal);
  bool pending() const { return pending_.load(std::memory_order_acquire); }
  bool fatal() const { return fatal_.load(std::memory_order_acquire); }
  // The return to user space: a non-fatal signal is delivered (no longer pending); SIGKILL stays (the process exits).
  void deliver();
  // Whether the target sleeps now in a wait a signal can end (tests wait for it before sending).
  bool sleeping() const;

  // The calling thread's target; null for threads no signal reaches (workers, timers, interrupts, the main thread).
  static NativeSignalTarget* current();
  // Makes `target` the calling thread's for the scope's lifetime.
  // LIFETIME: `target` outlives the scope.
  class Scope {
   public:
    explicit Scope(NativeSignalTarget& target);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    NativeSignalTarget* previous_;
  };

 private:
  friend class NativeSignalSleep;
  mutable std::mutex mu_;
  std::atomic<bool> pending_{false};
  std::atomic<bool> fatal_{false};
  // The sleep in progress (under mu_); null when awake or in an uninterruptible sleep.
  std::mutex* sleep_mu_ = nullptr;
  std::condition_variable* sleep_cv_ = nullptr;
  sim::WaitMode sleep_mode_ = sim::WaitMode::Uninterruptible;
};

// Natively: a sleep on (mu, cv) of the calling thread in `mode`, for its scope. Construct it before taking `mu`;
// under `mu`, signalled() says whether a signal the mode accepts is pending (always false for an uninterruptible
// sleep or a thread no signal reaches). The sleep's waiting predicate must include signalled().
// LIFETIME: `mu` and `cv` outlive the scope (the sleep's wait queue or completion, which the sleeper uses).
class NativeSignalSleep {
 public:
  NativeSignalSleep(std::mutex& mu, std::condition_variable& cv, sim::WaitMode mode);
  ~NativeSignalSleep();
  NativeSignalSleep(const NativeSignalSleep&) = delete;
  NativeSignalSleep& operator=(const NativeSignalSleep&) = delete;
  bool signalled() const;

 private:
  NativeSignalTarget* target_;
  sim::WaitMode mode_;
};

// signal_pending(current) (include/linux/sched/signal.h). In the simulator: a signal sent to the current task
// (World::send_signal, the scenario operation `signal TASK`, or the kill of a sleeping process at the end of
// an execution) that its return to user space has not delivered yet. Natively: the same for a thread with a
// NativeSignalTarget (a scenario task under devsim stress); false on others.
inline bool signal_pending() {
  if (sim::World* w = sim_world()) return w->signal_pending();
  const NativeSignalTarget* t = NativeSignalTarget::current();
  return t != nullptr && t->pending();
}
// fatal_signal_pending(current): the pending signal is SIGKILL.
inline bool fatal_signal_pending() {
  if (sim::World* w = sim_world()) return w->fatal_signal_pending();
  const NativeSignalTarget* t = NativeSignalTarget::current();
  return t != nullptr && t->fatal();
}

}  // namespace devsim::core
