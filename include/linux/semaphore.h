/*
 * linux/semaphore.h: counting semaphores (devsim, C gnu11).
 *
 * Built as kernel/locking/semaphore.c builds them, on a spinlock taken with interrupts off (up() may be called from
 * an interrupt handler, as usb-skeleton's write completion does) and a wait queue: down() sleeps until the count is
 * positive and takes one; up() gives one back and wakes the sleepers. Inline in the driver, so the count is the
 * driver's memory (a semaphore in freed memory is a use-after-free). down_interruptible and down_killable return
 * -EINTR on a signal (the scenario's `signal`); down_trylock returns 0 when it took the semaphore, 1 when not (the
 * inverse of mutex_trylock, as the kernel's). Sleeping in down() in atomic context is reported. Not modelled:
 * down_timeout, FIFO hand-over (every sleeper is woken and retries), lockdep (a semaphore has no owner: the
 * kernel's does not track it either).
 */
#ifndef _DEVSIM_LINUX_SEMAPHORE_H
#define _DEVSIM_LINUX_SEMAPHORE_H

#include "compiler.h"
#include "errno.h"
#include "spinlock.h"
#include "types.h"
#include "wait.h"

struct semaphore {
  spinlock_t lock;
  unsigned int count;
  wait_queue_head_t wait;
};

#define __SEMAPHORE_INITIALIZER(name, n) \
  { .lock = __SPIN_LOCK_UNLOCKED(semaphore->lock), .count = (n), .wait = __WAIT_QUEUE_HEAD_INITIALIZER((name).wait) }
#define DEFINE_SEMAPHORE(name, n) struct semaphore name = __SEMAPHORE_INITIALIZER(name, n)

static inline void sema_init(struct semaphore *sem, int val) {
  spin_lock_init(&sem->lock);
  sem->count = (unsigned int)val;
  init_waitqueue_head(&sem->wait);
}

/* Takes one if there is one: 1 when taken. */
static inline int __devsim_sem_take(struct semaphore *sem) {
  unsigned long flags;
  int taken = 0;
  spin_lock_irqsave(&sem->lock, flags);
  if (sem->count > 0) {
    sem->count--;
    taken = 1;
  }
  spin_unlock_irqrestore(&sem->lock, flags);
  return taken;
}

static inline void down(struct semaphore *sem) {
  wait_event(sem->wait, __devsim_sem_take(sem));
}
static inline int __must_check down_interruptible(struct semaphore *sem) {
  return wait_event_interruptible(sem->wait, __devsim_sem_take(sem)) ? -EINTR : 0;
}
static inline int __must_check down_killable(struct semaphore *sem) {
  return wait_event_killable(sem->wait, __devsim_sem_take(sem)) ? -EINTR : 0;
}
static inline int __must_check down_trylock(struct semaphore *sem) {
  return !__devsim_sem_take(sem);
}
static inline void up(struct semaphore *sem) {
  unsigned long flags;
  spin_lock_irqsave(&sem->lock, flags);
  sem->count++;
  spin_unlock_irqrestore(&sem->lock, flags);
  wake_up(&sem->wait);
}

#endif
