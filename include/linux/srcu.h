/*
 * linux/srcu.h: sleepable RCU (devsim, C gnu11). Backed by devsim's SRCU (core/srcu.hpp), one domain per C
 * srcu_struct, keyed by its address (made by init_srcu_struct, or at first use for DEFINE_SRCU/DEFINE_STATIC_SRCU):
 * readers may sleep inside srcu_read_lock/srcu_read_unlock; synchronize_srcu waits for exactly the sections of that
 * domain open when it started (inside one of them, in the same task: a deadlock report; in atomic context:
 * sleep-in-atomic); a task that ends inside a section is held-at-exit; lockdep sees a section as a recursive read
 * of the domain. srcu_dereference outside a section of its domain is "suspicious RCU usage", as with
 * CONFIG_PROVE_RCU. cleanup_srcu_struct with a reader inside warns (kernel/rcu/srcutree.c cleanup_srcu_struct);
 * an srcu_struct in freed memory is a use-after-free.
 * The index srcu_read_lock returns is always 0 (the kernel's flips between 0 and 1); srcu_read_unlock with another
 * index, or in a task holding no section of the domain, warns. Not modelled: a section ended by another task than
 * the one that began it (srcu_down_read/srcu_up_read), call_srcu, srcu_barrier, expedited grace periods.
 */
#ifndef _DEVSIM_LINUX_SRCU_H
#define _DEVSIM_LINUX_SRCU_H

#include "devsim_abi.h"
#include "rcupdate.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The domain lives in devsim, keyed by the struct's address; the C object carries the name. */
struct srcu_struct {
  const char *name;
  unsigned long __devsim_pad;
};

int __devsim_init_srcu_struct(struct srcu_struct *ssp, const char *name, __DEVSIM_SITE_PARAMS);
void __devsim_cleanup_srcu_struct(struct srcu_struct *ssp, __DEVSIM_SITE_PARAMS);
int __devsim_srcu_read_lock(struct srcu_struct *ssp, __DEVSIM_SITE_PARAMS);
void __devsim_srcu_read_unlock(struct srcu_struct *ssp, int idx, __DEVSIM_SITE_PARAMS);
void __devsim_synchronize_srcu(struct srcu_struct *ssp, __DEVSIM_SITE_PARAMS);
int __devsim_srcu_read_lock_held(struct srcu_struct *ssp);
/* PROVE_RCU's check of srcu_dereference_check: inside a section of ssp, or cond */
void __devsim_srcu_dereference_check(struct srcu_struct *ssp, int cond, __DEVSIM_SITE_PARAMS);

#ifdef __cplusplus
}
#endif

#define __SRCU_STRUCT_INIT(srcuname) \
  { .name = #srcuname, .__devsim_pad = 0 }
#define DEFINE_SRCU(srcuname) struct srcu_struct srcuname = __SRCU_STRUCT_INIT(srcuname)
#define DEFINE_STATIC_SRCU(srcuname) static struct srcu_struct srcuname = __SRCU_STRUCT_INIT(srcuname)

#define init_srcu_struct(ssp) __devsim_init_srcu_struct((ssp), #ssp, __DEVSIM_SITE)
#define cleanup_srcu_struct(ssp) __devsim_cleanup_srcu_struct((ssp), __DEVSIM_SITE)
#define srcu_read_lock(ssp) __devsim_srcu_read_lock((ssp), __DEVSIM_SITE)
#define srcu_read_unlock(ssp, idx) __devsim_srcu_read_unlock((ssp), (idx), __DEVSIM_SITE)
#define synchronize_srcu(ssp) __devsim_synchronize_srcu((ssp), __DEVSIM_SITE)
#define srcu_read_lock_held(ssp) __devsim_srcu_read_lock_held(ssp)
#define srcu_dereference_check(p, ssp, c)                         \
  ({                                                              \
    __devsim_srcu_dereference_check((ssp), !!(c), __DEVSIM_SITE); \
    __devsim_rcu_load(p);                                         \
  })
#define srcu_dereference(p, ssp) srcu_dereference_check((p), (ssp), 0)

#endif
