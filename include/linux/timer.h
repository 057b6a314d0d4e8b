/*
 * linux/timer.h: timers (devsim, C gnu11). Backed by devsim's timers (bus/timer.hpp): each arming is a simulated
 * task that sleeps until the expiry in virtual time and runs the function in softirq (atomic) context. The armed
 * state is keyed by the timer's address, and the kernel's own read of a timer in freed memory when it fires is
 * reported (use-after-free in call_timer_fn). del_timer does not wait for a running callback; del_timer_sync
 * and timer_shutdown_sync do, and stop a callback that re-arms itself; after timer_shutdown(_sync), mod_timer
 * does nothing (kernel/time/timer.c). Not modelled: deferrable and pinned timers (flags are ignored), slack,
 * add_timer_on, DEFINE_TIMER.
 */
#ifndef _DEVSIM_LINUX_TIMER_H
#define _DEVSIM_LINUX_TIMER_H

#include "devsim_abi.h"
#include "jiffies.h"
#include "kernel.h"
#include "types.h"

#define TIMER_DEFERRABLE 0x00080000
#define TIMER_PINNED 0x00100000
#define TIMER_IRQSAFE 0x00200000

struct timer_list {
  unsigned long expires;
  void (*function)(struct timer_list *);
  u32 flags;
  unsigned long __devsim_timer[2]; /* devsim's timer object (bus::TimerList) lives here */
};

#define timer_setup(timer, callback, flags) __devsim_timer_setup((timer), (callback), (flags), __DEVSIM_SITE)
#define from_timer(var, callback_timer, timer_fieldname) container_of(callback_timer, __typeof__(*var), timer_fieldname)
#define timer_container_of(var, callback_timer, timer_fieldname) from_timer(var, callback_timer, timer_fieldname)

#define mod_timer(timer, expires) __devsim_mod_timer((timer), (expires), __DEVSIM_SITE)
#define add_timer(timer) ((void)__devsim_mod_timer((timer), (timer)->expires, __DEVSIM_SITE))
#define del_timer(timer) __devsim_del_timer((timer), 0, __DEVSIM_SITE)
#define del_timer_sync(timer) __devsim_del_timer((timer), 1, __DEVSIM_SITE)
#define timer_delete(timer) del_timer(timer)
#define timer_delete_sync(timer) del_timer_sync(timer)
#define timer_shutdown_sync(timer) __devsim_del_timer((timer), 2, __DEVSIM_SITE)
#define timer_shutdown(timer) __devsim_del_timer((timer), 3, __DEVSIM_SITE)
#define timer_pending(timer) __devsim_timer_pending(timer)

#endif
