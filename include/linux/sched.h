/* linux/sched.h: task states, the current task and schedule() (devsim, C gnu11); signals are in sched/signal.h. */
#ifndef _DEVSIM_LINUX_SCHED_H
#define _DEVSIM_LINUX_SCHED_H

#include "devsim_abi.h"
#include "jiffies.h"
#include "sched/signal.h"
#include "wait.h"

/*
 * The current task's state and schedule() (kernel/sched/core.c, kernel/time/sleep_timeout.c). set_current_state
 * with a sleeping state, then schedule_timeout, sleeps that long in virtual time (HZ is 1000: a jiffy is 1 ms)
 * unless a signal the state accepts is pending or comes; after prepare_to_wait (wait.h) a wake-up of that queue ends
 * the sleep too. schedule_timeout returns the jiffies left, 0 when the time ran out; called with TASK_RUNNING it
 * only lets others run and returns `timeout`. MAX_SCHEDULE_TIMEOUT sleeps without a bound (a sleep nothing ends is
 * a deadlock, or a killed task if interruptible, as wait.h's). Sleeping in atomic context is reported.
 */
#define MAX_SCHEDULE_TIMEOUT ((long)(~0UL >> 1))
#define set_current_state(state) __devsim_set_current_state((state), __DEVSIM_SITE)
#define __set_current_state(state) __devsim_set_current_state((state), __DEVSIM_SITE)
#define schedule_timeout(timeout) __devsim_schedule_timeout((timeout), __DEVSIM_SITE)
#define schedule() ((void)__devsim_schedule_timeout(MAX_SCHEDULE_TIMEOUT, __DEVSIM_SITE))
#define schedule_timeout_interruptible(timeout) \
  (__devsim_set_current_state(TASK_INTERRUPTIBLE, __DEVSIM_SITE), __devsim_schedule_timeout((timeout), __DEVSIM_SITE))
#define schedule_timeout_killable(timeout) \
  (__devsim_set_current_state(TASK_KILLABLE, __DEVSIM_SITE), __devsim_schedule_timeout((timeout), __DEVSIM_SITE))
#define schedule_timeout_uninterruptible(timeout) \
  (__devsim_set_current_state(TASK_UNINTERRUPTIBLE, __DEVSIM_SITE), __devsim_schedule_timeout((timeout), __DEVSIM_SITE))

#endif
