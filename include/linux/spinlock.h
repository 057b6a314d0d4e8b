/*
 * linux/spinlock.h: spinning locks (devsim, C gnu11). Backed by devsim's SpinLock (core/spinlock.hpp): a
 * scheduling point, lockdep-checked, and atomic context while held (sleeping under one is reported). The _irq and
 * _irqsave variants take the same lock; interrupts are not masked (flags is set to 0).
 */
#ifndef _DEVSIM_LINUX_SPINLOCK_H
#define _DEVSIM_LINUX_SPINLOCK_H

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
#define spin_lock_irq(l) spin_lock(l)
#define spin_unlock_irq(l) spin_unlock(l)
#define spin_lock_bh(l) spin_lock(l)
#define spin_unlock_bh(l) spin_unlock(l)
#define spin_lock_irqsave(l, flags) \
  do {                              \
    (flags) = 0;                    \
    spin_lock(l);                   \
  } while (0)
#define spin_unlock_irqrestore(l, flags) \
  do {                                   \
    (void)(flags);                       \
    spin_unlock(l);                      \
  } while (0)

#endif
