// Interrupt state of the running task: hard-IRQ context, and interrupts disabled on its CPU.
#pragma once

#include <string_view>

#include "core/runtime.hpp"
#include "core/spinlock.hpp"

namespace devsim::core {

// include/linux/irqflags.h and include/linux/spinlock.h, in the simulator (natively they do nothing beyond the
// lock itself). Per task:
// - in_hardirq(): the task is a hard-IRQ handler (bus/irq.cpp brackets handlers with hardirq_enter/exit);
// - irqs_disabled(): local_irq_save()/local_irq_disable()/spin_lock_irqsave() are in effect. That is atomic
//   context: sleeping there is sleep-in-atomic.
// lockdep records, per lock class, whether it was ever taken in hard-IRQ context ({IN-HARDIRQ-W}) and whether
// it was ever taken in process context with interrupts enabled ({HARDIRQ-ON-W}); a class with both is
// "inconsistent lock state" (kernel/locking/lockdep.c mark_lock / print_usage_bug), because an interrupt
// arriving on the CPU that holds it would spin forever on it. Like the rest of the graph, usage lasts for a
// boot (one exploration).
// Does not handle: CPUs (a handler is a task of its own that interleaves at scheduling points; it does not
// preempt a particular task, and disabling interrupts does not hold handlers back), softirq states
// ({IN-SOFTIRQ-W}), irq-safe -> irq-unsafe dependency chains, threaded handlers.
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

// For the IRQ layer (bus/irq.cpp): the current task enters / leaves hard-IRQ context.
void hardirq_enter(const Site& site);
void hardirq_exit();

}  // namespace devsim::core
