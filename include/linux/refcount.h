/*
 * linux/refcount.h: refcount_t (devsim, C gnu11). Backed by devsim's Refcount (core/refcount.hpp): every
 * operation is a scheduling point on the count, increment from 0 and overflow saturate and warn as
 * lib/refcount.c does, and a count in freed memory is a use-after-free.
 */
#ifndef _DEVSIM_LINUX_REFCOUNT_H
#define _DEVSIM_LINUX_REFCOUNT_H

#include "devsim_abi.h"
#include "types.h"

typedef struct refcount_struct {
  atomic_t refs;
} refcount_t;

#define REFCOUNT_INIT(n)      \
  {                           \
    .refs = {.counter = (n) } \
  }

#define refcount_set(r, n) __devsim_refcount_set(&(r)->refs.counter, (n))
#define refcount_read(r) __devsim_refcount_read(&(r)->refs.counter)
#define refcount_inc(r) __devsim_refcount_inc(&(r)->refs.counter, __DEVSIM_SITE)
#define refcount_dec_and_test(r) __devsim_refcount_dec_and_test(&(r)->refs.counter, __DEVSIM_SITE)
#define refcount_inc_not_zero(r) __devsim_refcount_inc_not_zero(&(r)->refs.counter, __DEVSIM_SITE)

#endif
