/*
 * linux/slab.h: kmalloc and friends (devsim, C gnu11). Memory is devsim's simulated kernel memory: every access
 * of the driver to it is checked (use-after-free, out-of-bounds, data races), kfree only quarantines it, and what
 * is still allocated when an execution ends is scanned for leaks (kmemleak). An allocation that may sleep
 * (GFP_KERNEL) under a spinlock is reported. `fail-nth` fault injection fails them (NULL).
 */
#ifndef _DEVSIM_LINUX_SLAB_H
#define _DEVSIM_LINUX_SLAB_H

#include "devsim_abi.h"
#include "gfp.h"
#include "types.h"

#define kmalloc(size, flags) __devsim_kmalloc((size), (flags), __DEVSIM_SITE)
#define kzalloc(size, flags) __devsim_kmalloc((size), (flags) | __GFP_ZERO, __DEVSIM_SITE)
#define kcalloc(n, size, flags)                                                                                     \
  ({                                                                                                                \
    size_t __n = (n), __size = (size), __bytes;                                                                     \
    __builtin_mul_overflow(__n, __size, &__bytes) ? NULL                                                            \
                                                  : __devsim_kmalloc(__bytes, (flags) | __GFP_ZERO, __DEVSIM_SITE); \
  })
#define kmalloc_array(n, size, flags)                                                                         \
  ({                                                                                                          \
    size_t __n = (n), __size = (size), __bytes;                                                               \
    __builtin_mul_overflow(__n, __size, &__bytes) ? NULL : __devsim_kmalloc(__bytes, (flags), __DEVSIM_SITE); \
  })
#define kfree(p) __devsim_kfree((p), __DEVSIM_SITE)

#endif
