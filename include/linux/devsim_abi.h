/*
 * linux/devsim_abi.h: the C ABI the <linux/...> headers call into. Implemented in C++ by devsim (cabi/); a
 * driver never includes this header itself. Every entry point that can report takes the caller's source site
 * (__FILE__, __LINE__, __func__), so a report names the driver's line, not the header's.
 */
#ifndef _DEVSIM_LINUX_DEVSIM_ABI_H
#define _DEVSIM_LINUX_DEVSIM_ABI_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define __DEVSIM_SITE __FILE__, __LINE__, __func__
#define __DEVSIM_SITE_PARAMS const char *__file, int __line, const char *__func

struct mutex;
struct spinlock;
struct wait_queue_head;
struct miscdevice;
struct module;

/* slab */
void *__devsim_kmalloc(size_t size, gfp_t flags, __DEVSIM_SITE_PARAMS);
void __devsim_kfree(const void *p, __DEVSIM_SITE_PARAMS);

/* printk and warnings */
int __devsim_printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void __devsim_warn(const char *cond, __DEVSIM_SITE_PARAMS);

/* locks */
void __devsim_mutex_init(struct mutex *m, const char *name, __DEVSIM_SITE_PARAMS);
void __devsim_mutex_lock(struct mutex *m, __DEVSIM_SITE_PARAMS);
int __devsim_mutex_lock_interruptible(struct mutex *m, __DEVSIM_SITE_PARAMS);
int __devsim_mutex_trylock(struct mutex *m, __DEVSIM_SITE_PARAMS);
void __devsim_mutex_unlock(struct mutex *m, __DEVSIM_SITE_PARAMS);
int __devsim_mutex_is_locked(struct mutex *m);
void __devsim_spin_lock_init(struct spinlock *l, const char *name, __DEVSIM_SITE_PARAMS);
void __devsim_spin_lock(struct spinlock *l, __DEVSIM_SITE_PARAMS);
void __devsim_spin_unlock(struct spinlock *l, __DEVSIM_SITE_PARAMS);

/* refcount_t (struct kref is built on it) */
void __devsim_refcount_set(int *counter, int n);
void __devsim_refcount_inc(int *counter, __DEVSIM_SITE_PARAMS);
int __devsim_refcount_dec_and_test(int *counter, __DEVSIM_SITE_PARAMS);
int __devsim_refcount_inc_not_zero(int *counter, __DEVSIM_SITE_PARAMS);
int __devsim_refcount_read(const int *counter);

/* wait queues: prepare returns a token; sleep blocks unless a wake-up came since the token was taken */
void __devsim_init_waitqueue_head(struct wait_queue_head *wq, __DEVSIM_SITE_PARAMS);
unsigned long __devsim_prepare_to_wait(struct wait_queue_head *wq, int state, __DEVSIM_SITE_PARAMS);
long __devsim_wait_sleep(struct wait_queue_head *wq, unsigned long token, int state, __DEVSIM_SITE_PARAMS);
void __devsim_wake_up(struct wait_queue_head *wq, __DEVSIM_SITE_PARAMS);
int __devsim_signal_pending(void);

/* user memory */
unsigned long __devsim_copy_to_user(void *to, const void *from, unsigned long n, __DEVSIM_SITE_PARAMS);
unsigned long __devsim_copy_from_user(void *to, const void *from, unsigned long n, __DEVSIM_SITE_PARAMS);

/* misc devices */
int __devsim_misc_register(struct miscdevice *misc, __DEVSIM_SITE_PARAMS);
void __devsim_misc_deregister(struct miscdevice *misc, __DEVSIM_SITE_PARAMS);

/* modules */
bool __devsim_try_module_get(struct module *m);
void __devsim_module_put(struct module *m);

/* sleeping */
void __devsim_might_sleep(__DEVSIM_SITE_PARAMS);

#ifdef __cplusplus
}
#endif

#endif
