/*
 * linux/idr.h: ID allocators, struct idr (an ID -> pointer map) and struct ida (IDs only) (devsim, C gnu11).
 *
 * The contents live in devsim (cabi/idr.cpp), found through a key the C struct carries: a zeroed struct (DEFINE_IDR,
 * DEFINE_IDA, idr_init, ida_init, kzalloc, a module global restored for a new load) is an empty map. What the C
 * struct stands for is checked as the kernel's locking rules have it (lib/idr.c, Documentation/core-api/idr.rst):
 * - an IDR's changes (idr_alloc*, idr_remove, idr_replace, idr_destroy) need the caller's lock: each writes the
 *   struct, so two unserialised changes are a data race; idr_find, idr_get_next and idr_for_each may run under RCU
 *   alongside a change: their read is a marked one, never a data race;
 * - an IDA takes its own lock: its operations are marked accesses and race with nothing;
 * - any of them on a struct in freed memory is a use-after-free at the caller;
 * - idr_alloc and ida_alloc with a GFP that may sleep are reported in atomic context, as the kernel's allocation is;
 * - ida_free of an ID that is not allocated warns, as lib/idr.c ida_free does.
 * Lowest free ID first (idr_alloc, ida_alloc*), next after the last (idr_alloc_cyclic), -ENOSPC when the range is
 * full, -EINVAL for a negative start. Not modelled: the radix tree's own allocations (an IDR never destroyed is not a
 * leak here), idr_preload, the _u32/_ul variants, IDR_INIT_BASE, xarray.
 */
#ifndef _DEVSIM_LINUX_IDR_H
#define _DEVSIM_LINUX_IDR_H

#include "devsim_abi.h"
#include "gfp.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

struct idr {
  unsigned long __devsim_key;   /* 0: empty, not yet known to devsim; else the contents' key in this execution */
  unsigned char __devsim_users; /* written by every change: what unserialised changes race on */
  unsigned int idr_next;        /* idr_alloc_cyclic's next start */
};

struct ida {
  unsigned long __devsim_key;
};

void *__devsim_idr_op(struct idr *idr, int op, void *ptr, int a, int b, gfp_t gfp, __DEVSIM_SITE_PARAMS);
int __devsim_idr_alloc(struct idr *idr, void *ptr, int start, int end, int cyclic, gfp_t gfp, __DEVSIM_SITE_PARAMS);
void *__devsim_idr_get_next(struct idr *idr, int *nextid, __DEVSIM_SITE_PARAMS);
int __devsim_ida_alloc(struct ida *ida, unsigned int min, unsigned int max, gfp_t gfp, __DEVSIM_SITE_PARAMS);
void __devsim_ida_op(struct ida *ida, int op, unsigned int id, __DEVSIM_SITE_PARAMS);
int __devsim_ida_is_empty(struct ida *ida, __DEVSIM_SITE_PARAMS);

#ifdef __cplusplus
}
#endif

/* __devsim_idr_op's operations */
#define __DEVSIM_IDR_FIND 0
#define __DEVSIM_IDR_REMOVE 1
#define __DEVSIM_IDR_REPLACE 2
#define __DEVSIM_IDR_DESTROY 3
#define __DEVSIM_IDR_IS_EMPTY 4
/* __devsim_ida_op's operations */
#define __DEVSIM_IDA_FREE 0
#define __DEVSIM_IDA_DESTROY 1

#define IDR_INIT(name) \
  { 0, 0, 0 }
#define DEFINE_IDR(name) struct idr name = IDR_INIT(name)
#define IDA_INIT(name) \
  { 0 }
#define DEFINE_IDA(name) struct ida name = IDA_INIT(name)

static inline void idr_init(struct idr *idr) {
  idr->__devsim_key = 0;
  idr->__devsim_users = 0;
  idr->idr_next = 0;
}
#define idr_alloc(idr, ptr, start, end, gfp) __devsim_idr_alloc((idr), (ptr), (start), (end), 0, (gfp), __DEVSIM_SITE)
#define idr_alloc_cyclic(idr, ptr, start, end, gfp) \
  __devsim_idr_alloc((idr), (ptr), (start), (end), 1, (gfp), __DEVSIM_SITE)
#define idr_find(idr, id) __devsim_idr_op((idr), __DEVSIM_IDR_FIND, NULL, (int)(id), 0, 0, __DEVSIM_SITE)
#define idr_remove(idr, id) __devsim_idr_op((idr), __DEVSIM_IDR_REMOVE, NULL, (int)(id), 0, 0, __DEVSIM_SITE)
/* idr_replace: the old pointer, or ERR_PTR(-ENOENT) when the ID is not allocated. */
#define idr_replace(idr, ptr, id) __devsim_idr_op((idr), __DEVSIM_IDR_REPLACE, (ptr), (int)(id), 0, 0, __DEVSIM_SITE)
#define idr_destroy(idr) ((void)__devsim_idr_op((idr), __DEVSIM_IDR_DESTROY, NULL, 0, 0, 0, __DEVSIM_SITE))
#define idr_is_empty(idr) (__devsim_idr_op((idr), __DEVSIM_IDR_IS_EMPTY, NULL, 0, 0, 0, __DEVSIM_SITE) != NULL)
/* idr_get_next: the first entry with an ID >= *nextid (which it sets to that ID), or NULL. */
#define idr_get_next(idr, nextid) __devsim_idr_get_next((idr), (nextid), __DEVSIM_SITE)
#define idr_for_each_entry(idr, entry, id) for ((id) = 0; ((entry) = idr_get_next((idr), &(id))) != NULL; (id) += 1U)
/* idr_for_each: fn(id, entry, data) for each entry in ID order; stops at and returns the first non-zero result. */
static inline int idr_for_each(struct idr *idr, int (*fn)(int id, void *p, void *data), void *data) {
  void *entry;
  int id = 0, ret = 0;
  while (ret == 0 && (entry = __devsim_idr_get_next(idr, &id, __DEVSIM_SITE)) != NULL) {
    ret = fn(id, entry, data);
    id++;
  }
  return ret;
}

static inline void ida_init(struct ida *ida) {
  ida->__devsim_key = 0;
}
/* ida_alloc_range: the lowest free ID in [min, max]; -ENOSPC when none; -EINVAL for a negative min. */
#define ida_alloc_range(ida, min, max, gfp) __devsim_ida_alloc((ida), (min), (max), (gfp), __DEVSIM_SITE)
#define ida_alloc(ida, gfp) ida_alloc_range((ida), 0, 0x7fffffffU, (gfp))
#define ida_alloc_min(ida, min, gfp) ida_alloc_range((ida), (min), 0x7fffffffU, (gfp))
#define ida_alloc_max(ida, max, gfp) ida_alloc_range((ida), 0, (max), (gfp))
#define ida_free(ida, id) __devsim_ida_op((ida), __DEVSIM_IDA_FREE, (unsigned int)(id), __DEVSIM_SITE)
#define ida_destroy(ida) __devsim_ida_op((ida), __DEVSIM_IDA_DESTROY, 0, __DEVSIM_SITE)
#define ida_is_empty(ida) __devsim_ida_is_empty((ida), __DEVSIM_SITE)

#endif
