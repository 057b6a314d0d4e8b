/*
 * linux/sched/signal.h: signals of the current task (devsim, C gnu11). A signal is what the scenario's
 * `signal TASK` sends; fatal signals are those of a task being killed at the end of an execution. `current` stands
 * for the running task; the task argument is not consulted (only the current task can be asked).
 */
#ifndef _DEVSIM_LINUX_SCHED_SIGNAL_H
#define _DEVSIM_LINUX_SCHED_SIGNAL_H

#include "../devsim_abi.h"

struct task_struct;
#define current ((struct task_struct *)0)
#define signal_pending(task) ((void)(task), __devsim_signal_pending())
#define fatal_signal_pending(task) ((void)(task), __devsim_fatal_signal_pending())

#endif
