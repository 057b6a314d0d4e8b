/*
 * linux/wait.h: wait queues (devsim, C gnu11).
 *
 * wait_event*(wq, condition) follow the kernel's loop (include/linux/wait.h ___wait_event): prepare to wait,
 * test the condition, sleep. devsim numbers the queue's wake-ups: a sleep is skipped when a wake-up came after the
 * prepare, so a wake-up between the test and the sleep is never lost, however the test's own accesses interleave.
 * The condition is tested before signals, so a wait whose condition holds succeeds with a signal pending; a signal
 * ends an interruptible wait with -ERESTARTSYS (the scenario's `signal TASK`); a task asleep in an interruptible
 * wait when nothing else can run is killed, not reported. Waiting is a sleep: under a spinlock it is reported.
 * The _timeout forms sleep at most their jiffies of virtual time (HZ is 1000), which passes only when no task can run.
 * wake_up_interruptible wakes only TASK_INTERRUPTIBLE sleepers (kernel/sched/core.c try_to_wake_up matches the
 * state): a wait_event or wait_event_killable sleeper stays asleep.
 * Exclusive waiters (prepare_to_wait_exclusive, add_wait_queue_exclusive, wait_event_*_exclusive) queue at the tail
 * and wake_up wakes every other waiter but only the first exclusive one it can wake (kernel/sched/wait.c
 * __wake_up_common: a task already running is passed over); wake_up_all and wake_up_nr(wq, 0) wake them all. A
 * wait_event_*_exclusive waiter with a signal pending leaves the queue before it tests its condition, as
 * prepare_to_wait_event does, so a wake-up after that goes to another waiter.
 * A user process still asleep in a wait_event loop when nothing else can run is woken once to test its condition
 * before it is killed: if the condition holds, nothing woke it after it became true, and that is reported as a
 * lost wake-up (the process would sleep until a signal). The open-coded forms below are not tested so (after
 * schedule() a driver may rely on having been woken): a lost wake-up there ends with the kill.
 *
 * The open-coded form (DEFINE_WAIT, prepare_to_wait, then schedule_timeout or schedule from sched.h, then
 * finish_wait) is the same wait split in three: prepare_to_wait queues the task in `state` (a scheduling point; the
 * queue in freed memory is a use-after-free), schedule_timeout sleeps unless a wake-up of that queue came since the
 * prepare or a signal the state accepts is pending, and returns the jiffies left (0 when the time ran out); after it
 * the task is running again. Between prepare and schedule the task is not TASK_RUNNING: a call that may sleep there
 * is `blocking-op-not-running`, as the kernel's __might_sleep warns. The entry's `func` is never called (a wake-up
 * wakes the task, as autoremove_wake_function does).
 * The older form (DECLARE_WAITQUEUE, add_wait_queue, set_current_state, schedule_timeout, remove_wait_queue) keeps
 * the task on the queue until remove_wait_queue, in either order of add and set_current_state: a wake-up after both
 * sets the task running, so its next schedule_timeout returns at once, and a set_current_state after a wake-up
 * puts it back to sleep (the kernel's lost wake-up when the condition is not tested again).
 */
#ifndef _DEVSIM_LINUX_WAIT_H
#define _DEVSIM_LINUX_WAIT_H

#include "devsim_abi.h"
#include "spinlock.h"
#include "types.h"

#define TASK_RUNNING 0x0000
#define TASK_INTERRUPTIBLE 0x0001
#define TASK_UNINTERRUPTIBLE 0x0002
#define TASK_WAKEKILL 0x0100
#define TASK_KILLABLE (TASK_WAKEKILL | TASK_UNINTERRUPTIBLE)
/* An uninterruptible sleep that counts no load: the hung-task detector passes it by (kernel/hung_task.c). */
#define TASK_NOLOAD 0x0400
#define TASK_IDLE (TASK_UNINTERRUPTIBLE | TASK_NOLOAD)

typedef struct wait_queue_head {
  spinlock_t lock;
  /* devsim's wake-up counts, read and written atomically: every wake-up, and those that wake a task in any sleep
   * (wake_up, wake_up_all: not the _interruptible forms), which is what an uninterruptible or killable waiter counts */
  unsigned long __devsim_wakeups;
  unsigned long __devsim_wakeups_normal;
} wait_queue_head_t;

#define __WAIT_QUEUE_HEAD_INITIALIZER(name) \
  { .lock = __SPIN_LOCK_UNLOCKED(name.lock), .__devsim_wakeups = 0, .__devsim_wakeups_normal = 0 }
#define DECLARE_WAIT_QUEUE_HEAD(name) struct wait_queue_head name = __WAIT_QUEUE_HEAD_INITIALIZER(name)
#define init_waitqueue_head(wq) __devsim_init_waitqueue_head((wq), __DEVSIM_SITE)

#define __devsim_wait_event(wq_head, condition, state)                                      \
  ({                                                                                        \
    long __ret = 0;                                                                         \
    for (;;) {                                                                              \
      unsigned long __token = __devsim_prepare_to_wait(&(wq_head), (state), __DEVSIM_SITE); \
      if (condition) break;                                                                 \
      __ret = __devsim_wait_sleep(&(wq_head), __token, (state), __DEVSIM_SITE);             \
      if (__ret != 0) break;                                                                \
    }                                                                                       \
    __devsim_finish_wait(&(wq_head), __DEVSIM_SITE);                                        \
    __ret;                                                                                  \
  })

/* wait_event_timeout and friends (include/linux/wait.h ___wait_cond_timeout): 0 if the condition is still false when
 * `timeout` jiffies ran out, else the jiffies left (at least 1); the interruptible and killable forms return
 * -ERESTARTSYS on a signal. */
#define __devsim_wait_event_timeout(wq_head, condition, state, timeout)                        \
  ({                                                                                           \
    long __ret = (timeout);                                                                    \
    for (;;) {                                                                                 \
      unsigned long __token = __devsim_prepare_to_wait(&(wq_head), (state), __DEVSIM_SITE);    \
      int __cond = !!(condition);                                                              \
      if (__cond && !__ret) __ret = 1;                                                         \
      if (__cond || !__ret) break;                                                             \
      __ret = __devsim_wait_sleep_timeout(&(wq_head), __token, (state), __ret, __DEVSIM_SITE); \
      if (__ret < 0) break;                                                                    \
    }                                                                                          \
    __devsim_finish_wait(&(wq_head), __DEVSIM_SITE);                                           \
    __ret;                                                                                     \
  })
#define wait_event_timeout(wq_head, condition, timeout) \
  __devsim_wait_event_timeout(wq_head, condition, TASK_UNINTERRUPTIBLE, timeout)
#define wait_event_interruptible_timeout(wq_head, condition, timeout) \
  __devsim_wait_event_timeout(wq_head, condition, TASK_INTERRUPTIBLE, timeout)
#define wait_event_killable_timeout(wq_head, condition, timeout) \
  __devsim_wait_event_timeout(wq_head, condition, TASK_KILLABLE, timeout)

#define wait_event(wq_head, condition) ((void)__devsim_wait_event(wq_head, condition, TASK_UNINTERRUPTIBLE))
#define wait_event_idle(wq_head, condition) ((void)__devsim_wait_event(wq_head, condition, TASK_IDLE))
#define wait_event_interruptible(wq_head, condition) ((int)__devsim_wait_event(wq_head, condition, TASK_INTERRUPTIBLE))
#define wait_event_killable(wq_head, condition) ((int)__devsim_wait_event(wq_head, condition, TASK_KILLABLE))

#ifndef __cplusplus /* the C++ side of the ABI uses only the queue head; list.h is C */
#include "list.h"

struct wait_queue_entry;
typedef int (*wait_queue_func_t)(struct wait_queue_entry *wq_entry, unsigned mode, int flags, void *key);
int default_wake_function(struct wait_queue_entry *wq_entry, unsigned mode, int flags, void *key);
int autoremove_wake_function(struct wait_queue_entry *wq_entry, unsigned mode, int sync, void *key);

struct wait_queue_entry {
  unsigned int flags;
  void *private;
  wait_queue_func_t func;
  struct list_head entry;
};
typedef struct wait_queue_entry wait_queue_entry_t;

#define DEFINE_WAIT_FUNC(name, function) \
  struct wait_queue_entry name = {.private = NULL, .func = function, .entry = LIST_HEAD_INIT((name).entry)}
#define DEFINE_WAIT(name) DEFINE_WAIT_FUNC(name, autoremove_wake_function)
#define init_wait(wait)                      \
  do {                                       \
    (wait)->flags = 0;                       \
    (wait)->private = NULL;                  \
    (wait)->func = autoremove_wake_function; \
    INIT_LIST_HEAD(&(wait)->entry);          \
  } while (0)
#define prepare_to_wait(wq, entry, state) __devsim_prepare_to_wait_entry((wq), (entry), (state), __DEVSIM_SITE)
#define prepare_to_wait_exclusive(wq, entry, state) \
  __devsim_prepare_to_wait_exclusive_entry((wq), (entry), (state), __DEVSIM_SITE)
#define finish_wait(wq, entry) __devsim_finish_wait_entry((wq), (entry), __DEVSIM_SITE)
/* An entry for add_wait_queue: it stays on the queue across wake-ups until remove_wait_queue. Only the current task
 * can be queued (the task argument is not consulted, as in signal.h). */
#define __WAITQUEUE_INITIALIZER(name, tsk)                                   \
  {                                                                          \
    .private = (tsk), .func = default_wake_function, .entry = { NULL, NULL } \
  }
#define DECLARE_WAITQUEUE(name, tsk) struct wait_queue_entry name = __WAITQUEUE_INITIALIZER(name, tsk)
#define add_wait_queue(wq, entry) __devsim_add_wait_queue((wq), (entry), __DEVSIM_SITE)
#define add_wait_queue_exclusive(wq, entry) __devsim_add_wait_queue_exclusive((wq), (entry), __DEVSIM_SITE)
#define remove_wait_queue(wq, entry) __devsim_remove_wait_queue((wq), (entry), __DEVSIM_SITE)

/* ___wait_event with an exclusive entry: a signal makes prepare_to_wait_event take the entry off the queue and return
 * -ERESTARTSYS, which ends the wait only if the condition is still false. */
#define __devsim_wait_event_exclusive(wq_head, condition, state)                                              \
  ({                                                                                                          \
    struct wait_queue_entry __wq_entry;                                                                       \
    long __ret = 0;                                                                                           \
    init_wait(&__wq_entry);                                                                                   \
    for (;;) {                                                                                                \
      long __int = __devsim_prepare_to_wait_event_exclusive(&(wq_head), &__wq_entry, (state), __DEVSIM_SITE); \
      if (condition) break;                                                                                   \
      if (__int) {                                                                                            \
        __ret = __int;                                                                                        \
        break;                                                                                                \
      }                                                                                                       \
      __devsim_wait_sleep_exclusive(&(wq_head), &__wq_entry, (state), __DEVSIM_SITE);                         \
    }                                                                                                         \
    __devsim_finish_wait_exclusive(&(wq_head), &__wq_entry, __DEVSIM_SITE);                                   \
    __ret;                                                                                                    \
  })
#define wait_event_interruptible_exclusive(wq_head, condition) \
  ((int)__devsim_wait_event_exclusive(wq_head, condition, TASK_INTERRUPTIBLE))
#define wait_event_killable_exclusive(wq_head, condition) \
  ((int)__devsim_wait_event_exclusive(wq_head, condition, TASK_KILLABLE))
#define wait_event_idle_exclusive(wq_head, condition) \
  ((void)__devsim_wait_event_exclusive(wq_head, condition, TASK_IDLE))
#endif /* !__cplusplus */

#define wake_up(wq) __devsim_wake_up((wq), __DEVSIM_SITE)
#define wake_up_all(wq) __devsim_wake_up_nr((wq), 0, 0, __DEVSIM_SITE)
#define wake_up_nr(wq, nr) __devsim_wake_up_nr((wq), 0, (nr), __DEVSIM_SITE)
/* The _interruptible forms wake only tasks asleep in TASK_INTERRUPTIBLE (__wake_up with TASK_INTERRUPTIBLE,
 * kernel/sched/core.c try_to_wake_up: the state must match): a wait_event or wait_event_killable sleeper stays
 * asleep. */
#define wake_up_interruptible(wq) __devsim_wake_up_interruptible((wq), __DEVSIM_SITE)
#define wake_up_interruptible_all(wq) __devsim_wake_up_nr((wq), 1, 0, __DEVSIM_SITE)
#define wake_up_interruptible_nr(wq, nr) __devsim_wake_up_nr((wq), 1, (nr), __DEVSIM_SITE)

#endif
