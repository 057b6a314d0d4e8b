/*
 * linux/completion.h: completions (devsim, C gnu11), built on wait.h as the kernel builds them on a wait queue:
 * `done` counts complete() calls not yet consumed (complete_all saturates it), taken under the queue's lock with
 * interrupts off (complete may be called from an interrupt handler). wait_for_completion sleeps uninterruptibly
 * (never woken: a deadlock report), the _interruptible and _killable forms return -ERESTARTSYS on a signal.
 * Not modelled: the _timeout forms.
 */
#ifndef _DEVSIM_LINUX_COMPLETION_H
#define _DEVSIM_LINUX_COMPLETION_H

#include "compiler.h"
#include "spinlock.h"
#include "types.h"
#include "wait.h"

struct completion {
  unsigned int done;
  wait_queue_head_t wait;
};

#define COMPLETION_INITIALIZER(work) \
  { 0, __WAIT_QUEUE_HEAD_INITIALIZER((work).wait) }
#define DECLARE_COMPLETION(work) struct completion work = COMPLETION_INITIALIZER(work)
#define __DEVSIM_COMPLETION_ALL (~0U)

#define init_completion(x)           \
  do {                               \
    WRITE_ONCE((x)->done, 0);        \
    init_waitqueue_head(&(x)->wait); \
  } while (0)
#define reinit_completion(x) WRITE_ONCE((x)->done, 0)

/* Takes one completion if there is one: the consuming half of every wait. */
static inline bool __devsim_completion_take(struct completion *x) {
  unsigned long flags;
  bool taken = false;

  spin_lock_irqsave(&x->wait.lock, flags);
  if (x->done) {
    if (x->done != __DEVSIM_COMPLETION_ALL) WRITE_ONCE(x->done, x->done - 1);
    taken = true;
  }
  spin_unlock_irqrestore(&x->wait.lock, flags);
  return taken;
}

#define __devsim_wait_for_completion(x, state)                                \
  ({                                                                          \
    struct completion *__x = (x);                                             \
    long __r = 0;                                                             \
    while (!__devsim_completion_take(__x)) {                                  \
      __r = __devsim_wait_event(__x->wait, READ_ONCE(__x->done) != 0, state); \
      if (__r) break;                                                         \
    }                                                                         \
    __r;                                                                      \
  })

#define wait_for_completion(x) ((void)__devsim_wait_for_completion(x, TASK_UNINTERRUPTIBLE))
#define wait_for_completion_interruptible(x) ((int)__devsim_wait_for_completion(x, TASK_INTERRUPTIBLE))
#define wait_for_completion_killable(x) ((int)__devsim_wait_for_completion(x, TASK_KILLABLE))
#define try_wait_for_completion(x) __devsim_completion_take(x)
#define completion_done(x) (READ_ONCE((x)->done) != 0)

#define complete(x)                                                                 \
  do {                                                                              \
    struct completion *__c = (x);                                                   \
    unsigned long __flags;                                                          \
    spin_lock_irqsave(&__c->wait.lock, __flags);                                    \
    if (__c->done != __DEVSIM_COMPLETION_ALL) WRITE_ONCE(__c->done, __c->done + 1); \
    spin_unlock_irqrestore(&__c->wait.lock, __flags);                               \
    wake_up(&__c->wait);                                                            \
  } while (0)
#define complete_all(x)                               \
  do {                                                \
    struct completion *__c = (x);                     \
    unsigned long __flags;                            \
    spin_lock_irqsave(&__c->wait.lock, __flags);      \
    WRITE_ONCE(__c->done, __DEVSIM_COMPLETION_ALL);   \
    spin_unlock_irqrestore(&__c->wait.lock, __flags); \
    wake_up_all(&__c->wait);                          \
  } while (0)

#endif
