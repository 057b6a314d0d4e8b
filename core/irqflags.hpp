// Interrupt state of the running task: hard-IRQ context, and interrupts disabled on its CPU.
#pragma once

#include <string_view>

#include "core/runtime.hpp"
#include "core/spinlock.hpp"

namespace devsim::core {

// include/linux/irqflags.h and include/linux/spinlock.h, in the simulator. Natively (no simulated world) the
// state is per thread and nothing is held back: in_hardirq() is true between hardirq_enter() and hardirq_exit()
// (bus/native_runtime.cpp brackets hard-IRQ handlers on its CPU threads with them), irqs_disabled() there and
// inside local_irq_disable()/spin_lock_irqsave(), which otherwise do nothing beyond the lock itself. Per task:
// - in_hardirq(): the task is a hard-IRQ handler (bus/irq.cpp brackets handlers with hardirq_enter/exit);
// - irqs_disabled(): local_irq_save()/local_irq_disable()/spin_lock_irqsave() are in effect. That is atomic
//   context: sleeping there is sleep-in-atomic.
// lockdep records, per lock class, whether it was ever taken in hard-IRQ context ({IN-HARDIRQ-W}) and whether
// it was ever taken in process context with interrupts enabled ({HARDIRQ-ON-W}); a class with both is
// "inconsistent lock state" (kernel/locking/lockdep.c mark_lock / print_usage_bug), because an interrupt
// arriving on the CPU that holds it would spin forever on it. Like the rest of the graph, usage lasts for a
// boot (one exploration).
//
// CPUs (sim::World::hardirq_preempt): every task that is not a hard-IRQ handler runs on a CPU of its own and
// never migrates. An interrupt is delivered when its handler task first gets to run (after the scheduling point
// that starts it), on a CPU the explorer chooses then (a value choice, only at that moment): an idle CPU, if one
// exists (some task is asleep, waiting or finished), or the CPU of a task that is running (runnable). On a task's
// CPU the handler preempts it: the task does not run until the handler returns (kernel/irq/handle.c
// handle_irq_event runs the handler on the interrupted CPU's stack). A CPU whose task has interrupts disabled,
// or that already runs a handler, holds the interrupt back until they are enabled there (include/linux/irqflags.h
// local_irq_restore): the handler waits, it is not re-routed. So a plain spin_lock() taken with interrupts on
// and an interrupt on that CPU whose handler takes the same lock is executed as what it is: the handler spins,
// the holder never runs again, and the engine reports a hard lockup.
// Does not handle: a fixed number of CPUs (there are as many as tasks), migration and CPU affinity, preemption
// of a task waiting (asleep or spinning: its CPU counts as idle), softirq context and its states
// ({IN-SOFTIRQ-W}), irq-safe -> irq-unsafe dependency chains, threaded handlers, NMIs; two interrupts of one
// line may run their handler on two CPUs at once (the kernel serialises them: IRQD_IRQ_INPROGRESS).
using irqflags_t = unsigned long;

namespace bug {
// kernel/locking/lockdep.c print_usage_bug(): "inconsistent lock state".
inline constexpr std::string_view kInconsistentLockState = "inconsistent-lock-state";
}  // namespace bug

bool in_hardirq();
bool irqs_disabled();
void local_irq_disable(const Site& site = Site::current());
void local_irq_enable(const Site& site = Site::current());
// local_irq_save(flags) / local_irq_restore(flags): flags remember whether interrupts were already off.
void local_irq_save(irqflags_t& flags, const Site& site = Site::current());
void local_irq_restore(irqflags_t flags, const Site& site = Site::current());
// spin_lock_irqsave / spin_unlock_irqrestore, spin_lock_irq / spin_unlock_irq.
void spin_lock_irqsave(SpinLock& lock, irqflags_t& flags, const Site& site = Site::current());
void spin_unlock_irqrestore(SpinLock& lock, irqflags_t flags, const Site& site = Site::current());
void spin_lock_irq(SpinLock& lock, const Site& site = Site::current());
void spin_unlock_irq(SpinLock& lock, const Site& site = Site::current());

// spin_lock_irqsave() for a scope (the kernel's guard(spinlock_irqsave)). LIFETIME: the lock outlives it.
class [[nodiscard]] SpinLockIrqSaveGuard {
 public:
  explicit SpinLockIrqSaveGuard(SpinLock& lock, const Site& site = Site::current()) : lock_(lock), site_(site) {
    spin_lock_irqsave(lock_, flags_, site);
  }
  ~SpinLockIrqSaveGuard() { spin_unlock_irqrestore(lock_, flags_, site_); }
  SpinLockIrqSaveGuard(const SpinLockIrqSaveGuard&) = delete;
  SpinLockIrqSaveGuard& operator=(const SpinLockIrqSaveGuard&) = delete;

 private:
  SpinLock& lock_;
  Site site_;
  irqflags_t flags_ = 0;
};

// The task a running hard-IRQ handler preempted on its CPU (kNoTask: it runs on an idle CPU, or the current task
// is not a handler).
sim::TaskId interrupted_task();

// For the IRQ layer (bus/irq.cpp).
// `task` is a hard-IRQ handler task (raise_irq spawned it): it has no CPU of its own, no interrupt goes to it.
void note_irq_task(sim::TaskId task);
// The current task takes its interrupt: it chooses the CPU (see above), waits while that CPU has interrupts
// disabled, then enters hard-IRQ context there, preempting the CPU's task. hardirq_exit() returns from it.
void hardirq_enter(const Site& site);
void hardirq_exit();
// hardirq_enter() for a scope: the CPU is given back by hardirq_exit() even when the handler is unwound (an oops,
// the end of the execution).
class HardIrqScope {
 public:
  explicit HardIrqScope(const Site& site) { hardirq_enter(site); }
  ~HardIrqScope() { hardirq_exit(); }
  HardIrqScope(const HardIrqScope&) = delete;
  HardIrqScope& operator=(const HardIrqScope&) = delete;
};

}  // namespace devsim::core
