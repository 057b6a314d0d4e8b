/*
 * linux/notifier.h: notifier chains, raw, atomic and blocking (devsim, C gnu11).
 *
 * As kernel/notifier.c has them, and inline in the driver's translation unit: every link of the chain and every
 * notifier_block field read while walking it is the driver's own access, so a notifier_block freed while still
 * registered is a use-after-free at the next call of the chain, and a raw chain changed and walked without the
 * caller's lock is a data race. A blocking chain's walk holds its rwsem for reading, register and unregister take it
 * for writing (linux/rwsem.h), so once blocking_notifier_chain_unregister returns no callback of that block runs or
 * will run. Blocks are kept by descending priority, equal priorities in registration order; registering a block
 * twice warns and is -EEXIST; unregistering one not registered is -ENOENT; a callback's NOTIFY_STOP_MASK ends the
 * walk. Atomic chains walk under rcu_read_lock and unregister waits for a grace period. Not provided: SRCU chains
 * (srcu_notifier_*), the _robust and _cond forms.
 */
#ifndef _DEVSIM_LINUX_NOTIFIER_H
#define _DEVSIM_LINUX_NOTIFIER_H

#include "compiler.h"
#include "errno.h"
#include "kernel.h"
#include "rcupdate.h"
#include "rwsem.h"
#include "spinlock.h"
#include "types.h"

struct notifier_block;
typedef int (*notifier_fn_t)(struct notifier_block *nb, unsigned long action, void *data);

struct notifier_block {
  notifier_fn_t notifier_call;
  struct notifier_block *next;
  int priority;
};

struct raw_notifier_head {
  struct notifier_block *head;
};

struct blocking_notifier_head {
  struct rw_semaphore rwsem;
  struct notifier_block *head;
};

struct atomic_notifier_head {
  spinlock_t lock;
  struct notifier_block __rcu *head;
};

#define NOTIFY_DONE 0x0000
#define NOTIFY_OK 0x0001
#define NOTIFY_STOP_MASK 0x8000
#define NOTIFY_BAD (NOTIFY_STOP_MASK | 0x0002)
#define NOTIFY_STOP (NOTIFY_OK | NOTIFY_STOP_MASK)

#define RAW_NOTIFIER_INIT(name) \
  { .head = NULL }
#define RAW_NOTIFIER_HEAD(name) struct raw_notifier_head name = RAW_NOTIFIER_INIT(name)
#define RAW_INIT_NOTIFIER_HEAD(name) \
  do {                               \
    (name)->head = NULL;             \
  } while (0)
#define ATOMIC_NOTIFIER_INIT(name) \
  { .lock = __SPIN_LOCK_UNLOCKED((name).lock), .head = NULL }
#define ATOMIC_NOTIFIER_HEAD(name) struct atomic_notifier_head name = ATOMIC_NOTIFIER_INIT(name)
#define ATOMIC_INIT_NOTIFIER_HEAD(name) \
  do {                                  \
    spin_lock_init(&(name)->lock);      \
    (name)->head = NULL;                \
  } while (0)
#define BLOCKING_NOTIFIER_INIT(name) \
  { .rwsem = __RWSEM_INITIALIZER((name).rwsem), .head = NULL }
#define BLOCKING_NOTIFIER_HEAD(name) struct blocking_notifier_head name = BLOCKING_NOTIFIER_INIT(name)
#define BLOCKING_INIT_NOTIFIER_HEAD(name) \
  do {                                    \
    init_rwsem(&(name)->rwsem);           \
    (name)->head = NULL;                  \
  } while (0)

/* kernel/notifier.c notifier_chain_register: by descending priority, after the blocks of equal priority. */
static inline int __devsim_notifier_chain_register(struct notifier_block **nl, struct notifier_block *n) {
  while (*nl != NULL) {
    if (unlikely(*nl == n)) {
      WARN_ON(*nl == n); /* "notifier callback already registered" */
      return -EEXIST;
    }
    if (n->priority > (*nl)->priority) break;
    nl = &(*nl)->next;
  }
  n->next = *nl;
  WRITE_ONCE(*nl, n);
  return 0;
}

static inline int __devsim_notifier_chain_unregister(struct notifier_block **nl, struct notifier_block *n) {
  while (*nl != NULL) {
    if (*nl == n) {
      WRITE_ONCE(*nl, n->next);
      return 0;
    }
    nl = &(*nl)->next;
  }
  return -ENOENT;
}

/* The walk reads each block's next before calling it, so a callback may unregister its own block. */
static inline int __devsim_notifier_call_chain(struct notifier_block **nl, unsigned long val, void *v) {
  int ret = NOTIFY_DONE;
  struct notifier_block *nb = READ_ONCE(*nl), *next_nb;
  while (nb != NULL) {
    next_nb = READ_ONCE(nb->next);
    ret = nb->notifier_call(nb, val, v);
    if (ret & NOTIFY_STOP_MASK) break;
    nb = next_nb;
  }
  return ret;
}

static inline int raw_notifier_chain_register(struct raw_notifier_head *nh, struct notifier_block *n) {
  return __devsim_notifier_chain_register(&nh->head, n);
}
static inline int raw_notifier_chain_unregister(struct raw_notifier_head *nh, struct notifier_block *n) {
  return __devsim_notifier_chain_unregister(&nh->head, n);
}
static inline int raw_notifier_call_chain(struct raw_notifier_head *nh, unsigned long val, void *v) {
  return __devsim_notifier_call_chain(&nh->head, val, v);
}

static inline int blocking_notifier_chain_register(struct blocking_notifier_head *nh, struct notifier_block *n) {
  int ret;
  down_write(&nh->rwsem);
  ret = __devsim_notifier_chain_register(&nh->head, n);
  up_write(&nh->rwsem);
  return ret;
}
static inline int blocking_notifier_chain_unregister(struct blocking_notifier_head *nh, struct notifier_block *n) {
  int ret;
  down_write(&nh->rwsem);
  ret = __devsim_notifier_chain_unregister(&nh->head, n);
  up_write(&nh->rwsem);
  return ret;
}
/* kernel/notifier.c blocking_notifier_call_chain: an empty chain is not locked at all. */
static inline int blocking_notifier_call_chain(struct blocking_notifier_head *nh, unsigned long val, void *v) {
  int ret = NOTIFY_DONE;
  if (READ_ONCE(nh->head) != NULL) {
    down_read(&nh->rwsem);
    ret = __devsim_notifier_call_chain(&nh->head, val, v);
    up_read(&nh->rwsem);
  }
  return ret;
}

/* kernel/notifier.c's atomic chains: callers may be in atomic context; the walk runs under rcu_read_lock, register
 * and unregister under the chain's spinlock with interrupts off, and unregister waits for a grace period
 * (synchronize_rcu), so once it returns no callback of that block runs or will run. */
static inline int atomic_notifier_chain_register(struct atomic_notifier_head *nh, struct notifier_block *n) {
  unsigned long flags;
  int ret;
  spin_lock_irqsave(&nh->lock, flags);
  ret = __devsim_notifier_chain_register(&nh->head, n);
  spin_unlock_irqrestore(&nh->lock, flags);
  return ret;
}
static inline int atomic_notifier_chain_unregister(struct atomic_notifier_head *nh, struct notifier_block *n) {
  unsigned long flags;
  int ret;
  spin_lock_irqsave(&nh->lock, flags);
  ret = __devsim_notifier_chain_unregister(&nh->head, n);
  spin_unlock_irqrestore(&nh->lock, flags);
  synchronize_rcu();
  return ret;
}
static inline int atomic_notifier_call_chain(struct atomic_notifier_head *nh, unsigned long val, void *v) {
  int ret;
  rcu_read_lock();
  ret = __devsim_notifier_call_chain(&nh->head, val, v);
  rcu_read_unlock();
  return ret;
}

static inline int notifier_from_errno(int err) {
  return err ? (NOTIFY_STOP_MASK | (NOTIFY_OK - err)) : NOTIFY_OK;
}
static inline int notifier_to_errno(int ret) {
  ret &= ~NOTIFY_STOP_MASK;
  return ret > NOTIFY_OK ? NOTIFY_OK - ret : 0;
}

#endif
