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

/* What a zero-size kmalloc returns: not NULL, and any access through it faults (include/linux/slab.h). */
#define ZERO_SIZE_PTR ((void *)16)
#define ZERO_OR_NULL_PTR(x) ((unsigned long)(x) <= (unsigned long)ZERO_SIZE_PTR)

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
/* kmemdup: a new allocation holding a copy of len bytes of src (mm/util.c). */
#define kmemdup(src, len, flags) __DEVSIM_NOT_TAIL(void *, __devsim_kmemdup((src), (len), (flags), __DEVSIM_SITE))
/* krealloc: a new size for p's object, its contents kept up to the smaller size; NULL p is kmalloc, a new size of 0
 * is kfree (ZERO_SIZE_PTR back); on failure NULL and p untouched (mm/slab_common.c). devsim always moves the object,
 * so the old pointer is freed memory afterwards, as the kernel allows it to be. */
#define krealloc(p, new_size, flags) \
  __DEVSIM_NOT_TAIL(void *, __devsim_krealloc((p), (new_size), (flags), __DEVSIM_SITE))

#endif
