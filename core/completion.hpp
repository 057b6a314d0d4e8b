// Completion: "this has happened" for one waiter per complete(), or for everyone after complete_all().
#pragma once

#include <atomic>
#include <climits>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "core/runtime.hpp"

namespace devsim::core {

// struct completion (kernel/sched/completion.c), with its counting semantics:
// - complete() adds one "done": it releases one waiter, now or in the future (a later wait returns at once);
// - complete_all() releases every waiter, present and future, until reinit();
// - wait_for_completion() sleeps until done > 0 and consumes one (none after complete_all());
// - try_wait() consumes one without sleeping, or fails.
//
// In the simulator each operation is a scheduling point on the completion; waiting is a sleep
// (sleep-in-atomic under a spinlock or in an RCU read section, even if already done); a wait nobody will
// complete is a deadlock report (the wait is named "completion"). Natively: a std::mutex and
// std::condition_variable around the count.
//
// INVARIANT: done_ == kAll from complete_all() until reinit(); otherwise done_ counts complete()s not yet
// consumed by a waiter.
// Timed, interruptible and killable waits (kernel/sched/completion.c do_wait_for_common): a signal the mode
// accepts ends the wait with -ERESTARTSYS before consuming a done; a timed wait returns the time left (>= 1)
// or 0, in virtual nanoseconds (the kernel's jiffies). Natively a signal is NativeSignalTarget::send()
// (core/signal.hpp). Does not handle: reinit() racing with waiters (a bug in the kernel too: reinit only between uses),
// more than UINT_MAX - 1 outstanding complete()s (the kernel's limit as well).
class Completion {
 public:
  Completion() = default;
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;

  // May run in a destructor (a release callback): it is never unwound halfway.
  void complete(const Site& site = Site::current());
  void complete_all(const Site& site = Site::current());
  void wait_for_completion(const Site& site = Site::current());
  // 0 when done was consumed, -ERESTARTSYS on a signal / on SIGKILL.
  long wait_for_completion_interruptible(const Site& site = Site::current());
  long wait_for_completion_killable(const Site& site = Site::current());
  // The time left (>= 1) when done was consumed, 0 when `timeout` ran out.
  unsigned long wait_for_completion_timeout(sim::Nanos timeout, const Site& site = Site::current());
  // The time left, 0 on timeout, or -ERESTARTSYS on a signal.
  long wait_for_completion_interruptible_timeout(sim::Nanos timeout, const Site& site = Site::current());
  // try_wait_for_completion(): true if it consumed a done (or the completion is completed for all).
  bool try_wait(const Site& site = Site::current());
  // completion_done(): true if a wait would not sleep. Not a scheduling point.
  bool done() const { return done_.load(std::memory_order_acquire) != 0; }
  // reinit_completion(): forget every done, including complete_all().
  void reinit(const Site& site = Site::current());

 private:
  static constexpr unsigned kAll = UINT_MAX;
  long wait_common(sim::WaitMode mode, std::optional<sim::Nanos> timeout, const char* what, const Site& site);

  // Writes under mu_ natively; the atomic lets done() read without it.
  std::atomic<unsigned> done_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace devsim::core
