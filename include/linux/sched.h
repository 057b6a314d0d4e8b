/* linux/sched.h: task states and the current task (devsim, C gnu11); signals are in sched/signal.h. */
#ifndef _DEVSIM_LINUX_SCHED_H
#define _DEVSIM_LINUX_SCHED_H

#include "sched/signal.h"
#include "wait.h"

#endif
