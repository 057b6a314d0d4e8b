/*
 * linux/uaccess.h: copying to and from user memory (devsim, C gnu11).
 *
 * A read or write call hands the driver a user buffer of exactly the count the scenario gave (`read fd 16`); a
 * write's buffer holds zero bytes (the scenario language carries no data yet). copy_to_user/copy_from_user
 * return the number of bytes NOT copied, as the kernel's: a user range outside the current call's buffer
 * copies nothing (so the driver returns -EFAULT). The kernel side is checked as an access of n bytes (a copy
 * from freed memory is a use-after-free). Both may fault and sleep: under a spinlock they are reported.
 */
#ifndef _DEVSIM_LINUX_UACCESS_H
#define _DEVSIM_LINUX_UACCESS_H

#include "compiler.h"
#include "devsim_abi.h"
#include "errno.h"
#include "types.h"

#define copy_to_user(to, from, n) __devsim_copy_to_user((void *)(to), (from), (n), __DEVSIM_SITE)
#define copy_from_user(to, from, n) __devsim_copy_from_user((to), (const void *)(from), (n), __DEVSIM_SITE)

#define put_user(x, ptr)                                               \
  ({                                                                   \
    __typeof__(*(ptr)) __pu_val = (x);                                 \
    copy_to_user((ptr), &__pu_val, sizeof(*(ptr))) != 0 ? -EFAULT : 0; \
  })
#define get_user(x, ptr)                                                                \
  ({                                                                                    \
    __typeof__(*(ptr)) __gu_val;                                                        \
    int __gu_err = copy_from_user(&__gu_val, (ptr), sizeof(*(ptr))) != 0 ? -EFAULT : 0; \
    (x) = __gu_err != 0 ? (__typeof__(*(ptr)))0 : __gu_val;                             \
    __gu_err;                                                                           \
  })

#endif
