/* linux/kernel.h: the everyday helpers (devsim, C gnu11). */
#ifndef _DEVSIM_LINUX_KERNEL_H
#define _DEVSIM_LINUX_KERNEL_H

#include "compiler.h"
#include "printk.h"
#include "string.h" /* as the kernel's headers bring it in for nearly every driver */
#include "types.h"

#define ARRAY_SIZE(arr) (sizeof(arr) / sizeof((arr)[0]))

/* container_of: the structure that embeds `ptr` as `member`, with the kernel's type check. */
#define container_of(ptr, type, member)                                                                 \
  ({                                                                                                    \
    void *__mptr = (void *)(ptr);                                                                       \
    _Static_assert(__builtin_types_compatible_p(__typeof__(*(ptr)), __typeof__(((type *)0)->member)) || \
                       __builtin_types_compatible_p(__typeof__(*(ptr)), void),                          \
                   "pointer type mismatch in container_of()");                                          \
    ((type *)((char *)__mptr - offsetof(type, member)));                                                \
  })

/* min/max evaluate each argument once; both sides must have the same type (the kernel's strict check). */
#define __devsim_cmp(x, y, op)                                                \
  ({                                                                          \
    __typeof__(x) __x = (x);                                                  \
    __typeof__(y) __y = (y);                                                  \
    (void)(&__x == &__y); /* warns (error with -Werror) on a type mismatch */ \
    __x op __y ? __x : __y;                                                   \
  })
#define min(x, y) __devsim_cmp(x, y, <)
#define max(x, y) __devsim_cmp(x, y, >)
#define min_t(type, x, y) __devsim_cmp((type)(x), (type)(y), <)
#define max_t(type, x, y) __devsim_cmp((type)(x), (type)(y), >)
#define clamp(val, lo, hi) min(max(val, lo), hi)

/* WARN_ON(cond): when cond holds, a "warning" report (the kernel prints a WARNING with a backtrace and goes on).
 * Evaluates to cond, so `if (WARN_ON(x)) return -EINVAL;` works. */
#define WARN_ON(condition)                                                 \
  ({                                                                       \
    int __ret_warn_on = !!(condition);                                     \
    if (unlikely(__ret_warn_on)) __devsim_warn(#condition, __DEVSIM_SITE); \
    unlikely(__ret_warn_on);                                               \
  })
#define WARN_ON_ONCE(condition) WARN_ON(condition)
/* sprintf, snprintf, scnprintf (lib/vsprintf.c): the C library's formatting into the driver's buffer, whose bytes
 * are checked as the driver's writes; the kernel's %p extensions print as plain pointers. */
#ifndef __cplusplus /* devsim's C++ side (cabi/) keeps the C library's names */
#define sprintf(buf, fmt, ...) \
  __DEVSIM_NOT_TAIL(int, __devsim_snprintf((buf), (size_t)-1, 0, __DEVSIM_SITE, fmt, ##__VA_ARGS__))
#define snprintf(buf, size, fmt, ...) \
  __DEVSIM_NOT_TAIL(int, __devsim_snprintf((buf), (size), 0, __DEVSIM_SITE, fmt, ##__VA_ARGS__))
#define scnprintf(buf, size, fmt, ...) \
  __DEVSIM_NOT_TAIL(int, __devsim_snprintf((buf), (size), 1, __DEVSIM_SITE, fmt, ##__VA_ARGS__))
#endif

#define BUILD_BUG_ON(condition) _Static_assert(!(condition), "BUILD_BUG_ON failed: " #condition)

#endif
