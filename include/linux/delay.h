/*
 * linux/delay.h: delays (devsim, C gnu11). msleep and usleep_range sleep in virtual time (a scheduling point; a
 * sleep in atomic context is reported). udelay, ndelay and mdelay busy-wait in the kernel: in devsim they take no
 * time at all.
 */
#ifndef _DEVSIM_LINUX_DELAY_H
#define _DEVSIM_LINUX_DELAY_H

#include "devsim_abi.h"

#define msleep(ms) __devsim_msleep((ms), __DEVSIM_SITE)
#define msleep_interruptible(ms) (__devsim_msleep((ms), __DEVSIM_SITE), 0UL)
#define usleep_range(min, max) __devsim_msleep((unsigned int)(((min) + 999) / 1000), __DEVSIM_SITE)
#define udelay(us) ((void)(us))
#define ndelay(ns) ((void)(ns))
#define mdelay(ms) ((void)(ms))

#endif
