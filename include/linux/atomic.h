/*
 * linux/atomic.h: atomic_t and atomic_long_t (devsim, C gnu11). Each operation is a C11 atomic builtin, so devsim's
 * instrumentation sees a marked access (never a data race, still checked for use-after-free, a scheduling point).
 * Ordering: the value-returning operations are fully ordered, the others relaxed, as in
 * Documentation/atomic_t.txt; devsim runs every atomic sequentially consistent, which is at least as strong.
 */
#ifndef _DEVSIM_LINUX_ATOMIC_H
#define _DEVSIM_LINUX_ATOMIC_H

#include "types.h"

typedef struct {
  long counter;
} atomic_long_t;

#define ATOMIC_INIT(i) \
  { (i) }
#define ATOMIC_LONG_INIT(i) \
  { (i) }

#define __devsim_atomic_ops(prefix, type, ctype)                                              \
  static inline ctype prefix##_read(const type *v) {                                          \
    return __atomic_load_n(&v->counter, __ATOMIC_RELAXED);                                    \
  }                                                                                           \
  static inline void prefix##_set(type *v, ctype i) {                                         \
    __atomic_store_n(&v->counter, i, __ATOMIC_RELAXED);                                       \
  }                                                                                           \
  static inline void prefix##_add(ctype i, type *v) {                                         \
    __atomic_fetch_add(&v->counter, i, __ATOMIC_RELAXED);                                     \
  }                                                                                           \
  static inline void prefix##_sub(ctype i, type *v) {                                         \
    __atomic_fetch_sub(&v->counter, i, __ATOMIC_RELAXED);                                     \
  }                                                                                           \
  static inline void prefix##_inc(type *v) {                                                  \
    prefix##_add(1, v);                                                                       \
  }                                                                                           \
  static inline void prefix##_dec(type *v) {                                                  \
    prefix##_sub(1, v);                                                                       \
  }                                                                                           \
  static inline ctype prefix##_add_return(ctype i, type *v) {                                 \
    return __atomic_add_fetch(&v->counter, i, __ATOMIC_SEQ_CST);                              \
  }                                                                                           \
  static inline ctype prefix##_sub_return(ctype i, type *v) {                                 \
    return __atomic_sub_fetch(&v->counter, i, __ATOMIC_SEQ_CST);                              \
  }                                                                                           \
  static inline ctype prefix##_inc_return(type *v) {                                          \
    return prefix##_add_return(1, v);                                                         \
  }                                                                                           \
  static inline ctype prefix##_dec_return(type *v) {                                          \
    return prefix##_sub_return(1, v);                                                         \
  }                                                                                           \
  static inline ctype prefix##_fetch_add(ctype i, type *v) {                                  \
    return __atomic_fetch_add(&v->counter, i, __ATOMIC_SEQ_CST);                              \
  }                                                                                           \
  static inline bool prefix##_dec_and_test(type *v) {                                         \
    return prefix##_sub_return(1, v) == 0;                                                    \
  }                                                                                           \
  static inline bool prefix##_inc_and_test(type *v) {                                         \
    return prefix##_add_return(1, v) == 0;                                                    \
  }                                                                                           \
  static inline ctype prefix##_xchg(type *v, ctype n) {                                       \
    return __atomic_exchange_n(&v->counter, n, __ATOMIC_SEQ_CST);                             \
  }                                                                                           \
  static inline ctype prefix##_cmpxchg(type *v, ctype old, ctype n) {                         \
    __atomic_compare_exchange_n(&v->counter, &old, n, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
    return old;                                                                               \
  }

__devsim_atomic_ops(atomic, atomic_t, int) __devsim_atomic_ops(atomic_long, atomic_long_t, long)

#endif
