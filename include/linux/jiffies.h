/*
 * linux/jiffies.h: the tick count (devsim, C gnu11). HZ is 1000: a jiffy is one millisecond of devsim's virtual
 * time, which starts at 0 in every execution (the kernel starts jiffies five minutes before the wrap, INITIAL_JIFFIES:
 * devsim does not, so a wrap is never exercised). `jiffies` reads the clock; it cannot be assigned.
 * time_after/time_before compare with the kernel's wrap-safe signed difference.
 */
#ifndef _DEVSIM_LINUX_JIFFIES_H
#define _DEVSIM_LINUX_JIFFIES_H

#include "devsim_abi.h"
#include "types.h"

#define HZ 1000
#define MAX_JIFFY_OFFSET ((long)(~0UL >> 1) - 1)
#define jiffies (__devsim_jiffies())

#define time_after(a, b) ((long)((b) - (a)) < 0)
#define time_before(a, b) time_after(b, a)
#define time_after_eq(a, b) ((long)((a) - (b)) >= 0)
#define time_before_eq(a, b) time_after_eq(b, a)
#define time_is_before_jiffies(a) time_after(jiffies, a)
#define time_is_after_jiffies(a) time_before(jiffies, a)

static inline unsigned long msecs_to_jiffies(const unsigned int m) {
  return (unsigned long)m * HZ / 1000;
}
static inline unsigned long usecs_to_jiffies(const unsigned int u) {
  return ((unsigned long)u * HZ + 999999) / 1000000;
}
static inline unsigned int jiffies_to_msecs(const unsigned long j) {
  return (unsigned int)(j * 1000 / HZ);
}

#endif
