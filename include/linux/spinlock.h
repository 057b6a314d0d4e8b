/*
 * linux/spinlock.h: spinning locks (devsim, C gnu11). Backed by devsim's SpinLock (core/spinlock.hpp): a
 * scheduling point, lockdep-checked, and atomic context while held (sleeping under one is reported). The _irq and
 * _irqsave variants disable interrupts as core/irqflags.hpp models it: lockdep sees the lock taken with interrupts
 * off (a lock also taken in a hard-IRQ handler must be taken so elsewhere, or it is "inconsistent lock state"), and
 * interrupts-off is atomic context. Devsim has no CPUs: disabling interrupts does not hold a handler back. The _bh
 * variants are the plain lock (softirq states are not tracked).
 */
#ifndef _DEVSIM_LINUX_SPINLOCK_H
#define _DEVSIM_LINUX_SPINLOCK_H

#include "atomic.h" /* as the kernel's brings in linux/atomic.h */
#include "devsim_abi.h"
#include "types.h"

typedef struct spinlock {
  const char *name;
  unsigned long __devsim_pad;
} spinlock_t;

#define __SPIN_LOCK_UNLOCKED(lockname) \
  { .name = #lockname, .__devsim_pad = 0 }
#define DEFINE_SPINLOCK(x) spinlock_t x = __SPIN_LOCK_UNLOCKED(x)

#define spin_lock_init(l) __devsim_spin_lock_init((l), #l, __DEVSIM_SITE)
#define spin_lock(l) __devsim_spin_lock((l), __DEVSIM_SITE)
#define spin_unlock(l) __devsim_spin_unlock((l), __DEVSIM_SITE)
#define spin_lock_irq(l) __devsim_spin_lock_irq((l), __DEVSIM_SITE)
#define spin_unlock_irq(l) __devsim_spin_unlock_irq((l), __DEVSIM_SITE)
#define spin_lock_bh(l) spin_lock(l)
#define spin_unlock_bh(l) spin_unlock(l)
#define spin_lock_irqsave(l, flags) ((flags) = __devsim_spin_lock_irqsave((l), __DEVSIM_SITE))
#define spin_unlock_irqrestore(l, flags) __devsim_spin_unlock_irqrestore((l), (flags), __DEVSIM_SITE)
#define local_irq_save(flags) ((flags) = __devsim_local_irq_save(__DEVSIM_SITE))
#define local_irq_restore(flags) __devsim_local_irq_restore((flags), __DEVSIM_SITE)

#endif
