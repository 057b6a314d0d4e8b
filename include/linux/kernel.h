/* linux/kernel.h: the everyday helpers (devsim, C gnu11). */
#ifndef _DEVSIM_LINUX_KERNEL_H
#define _DEVSIM_LINUX_KERNEL_H

#include "compiler.h"
#include "errno.h"
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
#ifndef __cplusplus /* std::swap is C++'s */
/* include/linux/minmax.h swap: exchanges two lvalues of one type. */
#define swap(a, b)                  \
  do {                              \
    __typeof__(a) __devsim_t = (a); \
    (a) = (b);                      \
    (b) = __devsim_t;               \
  } while (0)
#endif

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
/* kasprintf (lib/kasprintf.c): the formatted text in a new kmalloc allocation of its length + 1 with `gfp` (NULL when
 * the allocation fails; kfree it). */
#define kasprintf(gfp, fmt, ...) __devsim_kasprintf((gfp), __DEVSIM_SITE, fmt, ##__VA_ARGS__)

/*
 * simple_strtoull and friends, kstrtoull and friends (lib/vsprintf.c, lib/kstrtox.c), inline: every byte they look at
 * is the driver's read (an unterminated buffer read past its end is out of bounds). Base 0 takes 0x (hex) and 0
 * (octal) prefixes, base 16 an optional 0x. The simple_ forms stop at the first non-digit and ignore overflow; the
 * kstrto forms take one trailing newline, are -EINVAL for anything else or no digits, -ERANGE on overflow.
 */
#ifndef __cplusplus
static inline int __devsim_isxdigit(char c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}
static inline unsigned int __devsim_strto_base(const char **s, unsigned int base) {
  const char *p = *s;

  if (base == 0) {
    if (p[0] == '0') {
      base = ((p[1] | 0x20) == 'x' && __devsim_isxdigit(p[2])) ? 16 : 8;
    } else {
      base = 10;
    }
  }
  if (base == 16 && p[0] == '0' && (p[1] | 0x20) == 'x') p += 2;
  *s = p;
  return base;
}
static inline int __devsim_digit(char c, unsigned int base) {
  int v = (c >= '0' && c <= '9') ? c - '0' : ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ? (c | 0x20) - 'a' + 10 : 99;
  return v < (int)base ? v : -1;
}
/* Parses digits at *s; returns the value, advances *s, sets *overflow. */
static inline unsigned long long __devsim_strto_digits(const char **s, unsigned int base, int *overflow) {
  unsigned long long v = 0;
  const char *p = *s;
  int d;

  *overflow = 0;
  while ((d = __devsim_digit(*p, base)) >= 0) {
    if (v > (~0ULL - (unsigned long long)d) / base) *overflow = 1;
    v = v * base + (unsigned long long)d;
    p++;
  }
  *s = p;
  return v;
}
static inline unsigned long long simple_strtoull(const char *cp, char **endp, unsigned int base) {
  int overflow;
  unsigned long long v;

  base = __devsim_strto_base(&cp, base);
  v = __devsim_strto_digits(&cp, base, &overflow);
  if (endp) *endp = (char *)cp;
  return v;
}
static inline unsigned long simple_strtoul(const char *cp, char **endp, unsigned int base) {
  return (unsigned long)simple_strtoull(cp, endp, base);
}
static inline long long simple_strtoll(const char *cp, char **endp, unsigned int base) {
  if (*cp == '-') return -(long long)simple_strtoull(cp + 1, endp, base);
  return (long long)simple_strtoull(cp, endp, base);
}
static inline long simple_strtol(const char *cp, char **endp, unsigned int base) {
  return (long)simple_strtoll(cp, endp, base);
}
static inline int __must_check kstrtoull(const char *s, unsigned int base, unsigned long long *res) {
  const char *start;
  int overflow;
  unsigned long long v;

  if (*s == '+') s++;
  base = __devsim_strto_base(&s, base);
  start = s;
  v = __devsim_strto_digits(&s, base, &overflow);
  if (s == start) return -EINVAL;
  if (overflow) return -ERANGE;
  if (*s == '\n') s++;
  if (*s) return -EINVAL;
  *res = v;
  return 0;
}
static inline int __must_check kstrtoll(const char *s, unsigned int base, long long *res) {
  unsigned long long v;
  int rv;

  if (*s == '-') {
    rv = kstrtoull(s + 1, base, &v);
    if (rv) return rv;
    if (v > (unsigned long long)__LONG_LONG_MAX__ + 1) return -ERANGE;
    *res = -(long long)v;
    return 0;
  }
  rv = kstrtoull(s, base, &v);
  if (rv) return rv;
  if (v > (unsigned long long)__LONG_LONG_MAX__) return -ERANGE;
  *res = (long long)v;
  return 0;
}
static inline int __must_check kstrtoul(const char *s, unsigned int base, unsigned long *res) {
  unsigned long long v;
  int rv = kstrtoull(s, base, &v);

  if (rv) return rv;
  if (v > ~0UL) return -ERANGE;
  *res = (unsigned long)v;
  return 0;
}
static inline int __must_check kstrtouint(const char *s, unsigned int base, unsigned int *res) {
  unsigned long long v;
  int rv = kstrtoull(s, base, &v);

  if (rv) return rv;
  if (v > ~0U) return -ERANGE;
  *res = (unsigned int)v;
  return 0;
}
static inline int __must_check kstrtoint(const char *s, unsigned int base, int *res) {
  long long v;
  int rv = kstrtoll(s, base, &v);

  if (rv) return rv;
  if (v > __INT_MAX__ || v < -__INT_MAX__ - 1) return -ERANGE;
  *res = (int)v;
  return 0;
}
static inline int __must_check kstrtol(const char *s, unsigned int base, long *res) {
  long long v;
  int rv = kstrtoll(s, base, &v);

  if (rv) return rv;
  *res = (long)v;
  return 0;
}
#endif /* !__cplusplus */

#define BUILD_BUG_ON(condition) _Static_assert(!(condition), "BUILD_BUG_ON failed: " #condition)

#endif
