/* linux/kref.h: struct kref, an embedded reference count with a release function (devsim, C gnu11). Built on
 * refcount_t, as the kernel's: see <linux/refcount.h> for what is checked. */
#ifndef _DEVSIM_LINUX_KREF_H
#define _DEVSIM_LINUX_KREF_H

#include "refcount.h"

struct kref {
  refcount_t refcount;
};

#define KREF_INIT(n) \
  { .refcount = REFCOUNT_INIT(n) }

#define kref_init(k) refcount_set(&(k)->refcount, 1)
#define kref_read(k) refcount_read(&(k)->refcount)
#define kref_get(k) refcount_inc(&(k)->refcount)
#define kref_get_unless_zero(k) refcount_inc_not_zero(&(k)->refcount)
/* kref_put: drops a reference; the last one calls release (which usually frees the object). Returns 1 then. */
#define kref_put(k, release)                            \
  ({                                                    \
    struct kref *__k = (k);                             \
    void (*__release)(struct kref *) = (release);       \
    int __last = refcount_dec_and_test(&__k->refcount); \
    if (__last) __release(__k);                         \
    __last;                                             \
  })

#endif
