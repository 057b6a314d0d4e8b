/*
 * linux/rcupdate.h: RCU (devsim, C gnu11). Backed by devsim's RCU (core/rcu.hpp, core/rcu_pointer.hpp): a read-side
 * critical section is an atomic hold of the task (sleeping in it is reported; a task that ends inside one is
 * held-at-exit), sections nest; synchronize_rcu waits for exactly the sections open when it started (inside one:
 * a deadlock report); call_rcu runs its function after a grace period that starts at the call, in an RCU-callback
 * task in atomic context, and kfree_rcu frees the object that way. So freeing an object readers may still hold
 * without a grace period is a use-after-free in the reader, in some schedule; reading the rcu_head of a freed object
 * when its callback runs is one too. As CONFIG_PROVE_RCU does, rcu_dereference outside rcu_read_lock, and
 * rcu_dereference_protected or rcu_dereference_check with a false condition outside one, are
 * "suspicious RCU usage" reports (kernel/rcu/update.c lockdep_rcu_suspicious).
 * rcu_dereference is an acquire load and rcu_assign_pointer a release store (marked accesses: never a data race).
 * Not modelled: sparse's __rcu address space (the annotation is empty), the _bh/_sched flavours and
 * rcu_read_lock_held() queries, expedited grace periods, kfree_rcu's one-argument form (kvfree_rcu_mightsleep),
 * lockdep_is_held (write the condition as an expression the driver can evaluate).
 */
#ifndef _DEVSIM_LINUX_RCUPDATE_H
#define _DEVSIM_LINUX_RCUPDATE_H

#include "compiler.h"
#include "devsim_abi.h"
#include "kernel.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef __rcu
#define __rcu
#endif

struct rcu_head {
  struct rcu_head *next;
  void (*func)(struct rcu_head *head);
};
typedef void (*rcu_callback_t)(struct rcu_head *head);

void __devsim_rcu_read_lock(__DEVSIM_SITE_PARAMS);
void __devsim_rcu_read_unlock(__DEVSIM_SITE_PARAMS);
void __devsim_synchronize_rcu(__DEVSIM_SITE_PARAMS);
void __devsim_call_rcu(struct rcu_head *head, rcu_callback_t func, __DEVSIM_SITE_PARAMS);
void __devsim_kfree_rcu(const void *obj, struct rcu_head *head, __DEVSIM_SITE_PARAMS);
void __devsim_rcu_barrier(__DEVSIM_SITE_PARAMS);
/* The happens-before edge of a publication: publish 1 in rcu_assign_pointer (a release on the pointer), 0 after the
 * load of rcu_dereference (an acquire). Explicit because the pointer may be a module global, which lives in host
 * memory where the instrumentation sees no atomics. */
void __devsim_rcu_pointer_sync(const void *pp, int publish);
/* PROVE_RCU's check of an accessor: kind 0 rcu_dereference, 1 rcu_dereference_check, 2 rcu_dereference_protected */
void __devsim_rcu_dereference_check(int kind, int cond, __DEVSIM_SITE_PARAMS);

#ifdef __cplusplus
}
#endif

#define rcu_read_lock() __devsim_rcu_read_lock(__DEVSIM_SITE)
#define rcu_read_unlock() __devsim_rcu_read_unlock(__DEVSIM_SITE)
#define synchronize_rcu() __devsim_synchronize_rcu(__DEVSIM_SITE)
#define call_rcu(head, func) __devsim_call_rcu((head), (func), __DEVSIM_SITE)
/* rcu_barrier(): waits for every callback queued before it (a module's exit, before its callbacks' code goes). */
#define rcu_barrier() __devsim_rcu_barrier(__DEVSIM_SITE)
/* kfree_rcu(ptr, rhf): frees ptr after a grace period; `rhf` is the struct rcu_head member (checked to be one). */
#define kfree_rcu(ptr, rhf)                                                                                        \
  do {                                                                                                             \
    __typeof__(ptr) ___p = (ptr);                                                                                  \
    _Static_assert(__builtin_types_compatible_p(__typeof__(___p->rhf), struct rcu_head), "not a struct rcu_head"); \
    if (___p) __devsim_kfree_rcu(___p, &___p->rhf, __DEVSIM_SITE);                                                 \
  } while (0)

#define __devsim_rcu_load(p)                                      \
  ({                                                              \
    __typeof__(p) ___p = __atomic_load_n(&(p), __ATOMIC_ACQUIRE); \
    __devsim_rcu_pointer_sync(&(p), 0);                           \
    ___p;                                                         \
  })
#define rcu_dereference(p)                               \
  ({                                                     \
    __devsim_rcu_dereference_check(0, 0, __DEVSIM_SITE); \
    __devsim_rcu_load(p);                                \
  })
#define rcu_dereference_check(p, c)                          \
  ({                                                         \
    __devsim_rcu_dereference_check(1, !!(c), __DEVSIM_SITE); \
    __devsim_rcu_load(p);                                    \
  })
#define rcu_dereference_protected(p, c)                      \
  ({                                                         \
    __devsim_rcu_dereference_check(2, !!(c), __DEVSIM_SITE); \
    __atomic_load_n(&(p), __ATOMIC_RELAXED);                 \
  })
#define rcu_dereference_raw(p) __devsim_rcu_load(p)
#define rcu_access_pointer(p) __atomic_load_n(&(p), __ATOMIC_RELAXED)
#define rcu_assign_pointer(p, v)                    \
  do {                                              \
    __typeof__(p) ___v = (v);                       \
    __devsim_rcu_pointer_sync(&(p), 1);             \
    __atomic_store_n(&(p), ___v, __ATOMIC_RELEASE); \
  } while (0)
#define RCU_INIT_POINTER(p, v)                      \
  do {                                              \
    __typeof__(p) ___v = (v);                       \
    __atomic_store_n(&(p), ___v, __ATOMIC_RELAXED); \
  } while (0)
#define RCU_INITIALIZER(v) (v)

#endif
