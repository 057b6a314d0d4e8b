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
/* An entry point that checks an access as the caller's (at its return address) must not be tail-called, or the
 * return address is the caller's caller's: the empty asm, which uses the result, keeps the call out of tail
 * position. */
#define __DEVSIM_NOT_TAIL(type, call)        \
  ({                                         \
    type __devsim_r = (call);                \
    __asm__ volatile("" : "+r"(__devsim_r)); \
    __devsim_r;                              \
  })

struct mutex;
struct spinlock;
struct wait_queue_head;
struct miscdevice;
struct module;
struct file_operations;
struct device;
struct platform_driver;
struct platform_device;
struct timer_list;
struct cdev;

/* slab */
void *__devsim_kmalloc(size_t size, gfp_t flags, __DEVSIM_SITE_PARAMS);
char *__devsim_kasprintf(gfp_t flags, __DEVSIM_SITE_PARAMS, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void __devsim_kfree(const void *p, __DEVSIM_SITE_PARAMS);
void *__devsim_kmemdup(const void *src, size_t len, gfp_t flags, __DEVSIM_SITE_PARAMS);
void *__devsim_memdup_user(const void *src, size_t len, int nul, __DEVSIM_SITE_PARAMS);
void *__devsim_krealloc(const void *p, size_t new_size, gfp_t flags, __DEVSIM_SITE_PARAMS);

/* printk and warnings */
int __devsim_printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* sprintf/snprintf/scnprintf: written 0 returns the length the text needs, 1 what was written */
int __devsim_snprintf(char *buf, size_t size, int written, __DEVSIM_SITE_PARAMS, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
void __devsim_warn(const char *cond, __DEVSIM_SITE_PARAMS);
/* a list corruption CONFIG_DEBUG_LIST caught (linux/list.h): a fatal "list-corruption" report; returns false */
bool __devsim_list_corruption(const char *headline, const char *detail, __DEVSIM_SITE_PARAMS);

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
unsigned long __devsim_spin_lock_irqsave(struct spinlock *l, __DEVSIM_SITE_PARAMS);
void __devsim_spin_unlock_irqrestore(struct spinlock *l, unsigned long flags, __DEVSIM_SITE_PARAMS);
void __devsim_spin_lock_irq(struct spinlock *l, __DEVSIM_SITE_PARAMS);
void __devsim_spin_unlock_irq(struct spinlock *l, __DEVSIM_SITE_PARAMS);
unsigned long __devsim_local_irq_save(__DEVSIM_SITE_PARAMS);
void __devsim_local_irq_restore(unsigned long flags, __DEVSIM_SITE_PARAMS);

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
long __devsim_wait_sleep_timeout(struct wait_queue_head *wq, unsigned long token, int state, long timeout,
                                 __DEVSIM_SITE_PARAMS);
void __devsim_finish_wait(struct wait_queue_head *wq, __DEVSIM_SITE_PARAMS);
void __devsim_wake_up(struct wait_queue_head *wq, __DEVSIM_SITE_PARAMS);
void __devsim_wake_up_interruptible(struct wait_queue_head *wq, __DEVSIM_SITE_PARAMS);
/* __wake_up with nr_exclusive (0: every exclusive waiter) and the mode TASK_INTERRUPTIBLE or TASK_NORMAL */
void __devsim_wake_up_nr(struct wait_queue_head *wq, int interruptible_only, int nr_exclusive, __DEVSIM_SITE_PARAMS);
struct device_attribute;
struct attribute_group;
int __devsim_device_create_file(struct device *dev, const struct device_attribute *attr, __DEVSIM_SITE_PARAMS);
void __devsim_device_remove_file(struct device *dev, const struct device_attribute *attr, __DEVSIM_SITE_PARAMS);
int __devsim_device_add_groups(struct device *dev, const struct attribute_group *const *groups, __DEVSIM_SITE_PARAMS);
void __devsim_device_remove_groups(struct device *dev, const struct attribute_group *const *groups,
                                   __DEVSIM_SITE_PARAMS);
/* open-coded waits: prepare_to_wait/finish_wait or add/remove_wait_queue with an entry, set_current_state,
 * schedule_timeout */
struct wait_queue_entry;
void __devsim_prepare_to_wait_entry(struct wait_queue_head *wq, struct wait_queue_entry *entry, int state,
                                    __DEVSIM_SITE_PARAMS);
void __devsim_finish_wait_entry(struct wait_queue_head *wq, struct wait_queue_entry *entry, __DEVSIM_SITE_PARAMS);
void __devsim_add_wait_queue(struct wait_queue_head *wq, struct wait_queue_entry *entry, __DEVSIM_SITE_PARAMS);
void __devsim_remove_wait_queue(struct wait_queue_head *wq, struct wait_queue_entry *entry, __DEVSIM_SITE_PARAMS);
/* exclusive waiters: woken one per wake_up, in the order they queued */
void __devsim_prepare_to_wait_exclusive_entry(struct wait_queue_head *wq, struct wait_queue_entry *entry, int state,
                                              __DEVSIM_SITE_PARAMS);
void __devsim_add_wait_queue_exclusive(struct wait_queue_head *wq, struct wait_queue_entry *entry,
                                       __DEVSIM_SITE_PARAMS);
long __devsim_prepare_to_wait_event_exclusive(struct wait_queue_head *wq, struct wait_queue_entry *entry, int state,
                                              __DEVSIM_SITE_PARAMS);
void __devsim_wait_sleep_exclusive(struct wait_queue_head *wq, struct wait_queue_entry *entry, int state,
                                   __DEVSIM_SITE_PARAMS);
void __devsim_finish_wait_exclusive(struct wait_queue_head *wq, struct wait_queue_entry *entry, __DEVSIM_SITE_PARAMS);
void __devsim_set_current_state(int state, __DEVSIM_SITE_PARAMS);
long __devsim_schedule_timeout(long timeout, __DEVSIM_SITE_PARAMS);
int __devsim_signal_pending(void);
int __devsim_fatal_signal_pending(void);

/* user memory */
unsigned long __devsim_copy_to_user(void *to, const void *from, unsigned long n, __DEVSIM_SITE_PARAMS);
unsigned long __devsim_copy_from_user(void *to, const void *from, unsigned long n, __DEVSIM_SITE_PARAMS);

/* misc devices */
int __devsim_misc_register(struct miscdevice *misc, __DEVSIM_SITE_PARAMS);
void __devsim_misc_deregister(struct miscdevice *misc, __DEVSIM_SITE_PARAMS);

/* modules */
bool __devsim_try_module_get(struct module *m);
void __devsim_module_put(struct module *m);

/* sleeping and time */
void __devsim_might_sleep(__DEVSIM_SITE_PARAMS);
void __devsim_msleep(unsigned int msecs, __DEVSIM_SITE_PARAMS);
unsigned long __devsim_jiffies(void);

/* devices (struct device: platform devices and class devices) */
struct device *__devsim_get_device(struct device *dev, __DEVSIM_SITE_PARAMS);
void __devsim_put_device(struct device *dev, __DEVSIM_SITE_PARAMS);
void *__devsim_dev_get_drvdata(const struct device *dev, __DEVSIM_SITE_PARAMS);
/* device_lock: op 0 lock, 1 unlock, 2 trylock (1 when taken), 3 lock_interruptible (0) */
int __devsim_device_lock_op(struct device *dev, int op, __DEVSIM_SITE_PARAMS);
void __devsim_dev_set_drvdata(struct device *dev, void *data, __DEVSIM_SITE_PARAMS);
void *__devsim_devm_kmalloc(struct device *dev, size_t size, gfp_t flags, __DEVSIM_SITE_PARAMS);
int __devsim_devm_add_action(struct device *dev, void (*action)(void *), void *data, int reset, __DEVSIM_SITE_PARAMS);
int __devsim_dev_printk(const char *level, const struct device *dev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* a struct class is passed as void * (class is a C++ keyword) */
void *__devsim_class_create(const char *name, __DEVSIM_SITE_PARAMS);
void __devsim_class_destroy(const void *cls, __DEVSIM_SITE_PARAMS);
struct device *__devsim_device_create(const void *cls, struct device *parent, dev_t devt, void *drvdata,
                                      __DEVSIM_SITE_PARAMS, const char *fmt, ...) __attribute__((format(printf, 8, 9)));
struct device *__devsim_device_create_with_groups(const void *cls, struct device *parent, dev_t devt, void *drvdata,
                                                  const struct attribute_group *const *groups, __DEVSIM_SITE_PARAMS,
                                                  const char *fmt, ...) __attribute__((format(printf, 9, 10)));
int __devsim_class_register(const void *cls, __DEVSIM_SITE_PARAMS);
void __devsim_class_unregister(const void *cls, __DEVSIM_SITE_PARAMS);
void __devsim_device_destroy(const void *cls, dev_t devt, __DEVSIM_SITE_PARAMS);

/* platform bus */
int __devsim_platform_driver_register(struct platform_driver *drv, struct module *owner, __DEVSIM_SITE_PARAMS);
void __devsim_platform_driver_unregister(struct platform_driver *drv, __DEVSIM_SITE_PARAMS);
int __devsim_platform_get_irq(struct platform_device *pdev, unsigned int num, __DEVSIM_SITE_PARAMS);

/* interrupts */
typedef int (*__devsim_irq_handler_t)(int, void *);
int __devsim_request_irq(unsigned int irq, __devsim_irq_handler_t handler, unsigned long flags, const char *name,
                         void *dev_id, __DEVSIM_SITE_PARAMS);
int __devsim_devm_request_irq(struct device *dev, unsigned int irq, __devsim_irq_handler_t handler, unsigned long flags,
                              const char *name, void *dev_id, __DEVSIM_SITE_PARAMS);
int __devsim_request_threaded_irq(unsigned int irq, __devsim_irq_handler_t handler, __devsim_irq_handler_t thread_fn,
                                  unsigned long flags, const char *name, void *dev_id, __DEVSIM_SITE_PARAMS);
int __devsim_devm_request_threaded_irq(struct device *dev, unsigned int irq, __devsim_irq_handler_t handler,
                                       __devsim_irq_handler_t thread_fn, unsigned long flags, const char *name,
                                       void *dev_id, __DEVSIM_SITE_PARAMS);
const void *__devsim_free_irq(unsigned int irq, void *dev_id, __DEVSIM_SITE_PARAMS);
void __devsim_disable_irq(unsigned int irq, int sync, __DEVSIM_SITE_PARAMS);
void __devsim_enable_irq(unsigned int irq, __DEVSIM_SITE_PARAMS);
void __devsim_synchronize_irq(unsigned int irq, __DEVSIM_SITE_PARAMS);

/* timers: mode 0 del_timer, 1 del_timer_sync, 2 timer_shutdown_sync, 3 timer_shutdown */
void __devsim_timer_setup(struct timer_list *timer, void (*fn)(struct timer_list *), unsigned int flags,
                          __DEVSIM_SITE_PARAMS);
int __devsim_mod_timer(struct timer_list *timer, unsigned long expires, __DEVSIM_SITE_PARAMS);
int __devsim_del_timer(struct timer_list *timer, int mode, __DEVSIM_SITE_PARAMS);
int __devsim_timer_pending(const struct timer_list *timer);

/* character devices */
int __devsim_alloc_chrdev_region(dev_t *dev, unsigned int baseminor, unsigned int count, const char *name,
                                 __DEVSIM_SITE_PARAMS);
int __devsim_register_chrdev_region(dev_t from, unsigned int count, const char *name, __DEVSIM_SITE_PARAMS);
void __devsim_unregister_chrdev_region(dev_t from, unsigned int count, __DEVSIM_SITE_PARAMS);
void __devsim_cdev_init(struct cdev *cdev, const struct file_operations *fops, __DEVSIM_SITE_PARAMS);
struct cdev *__devsim_cdev_alloc(__DEVSIM_SITE_PARAMS);
int __devsim_cdev_add(struct cdev *cdev, dev_t dev, unsigned int count, __DEVSIM_SITE_PARAMS);
void __devsim_cdev_del(struct cdev *cdev, __DEVSIM_SITE_PARAMS);

#ifdef __cplusplus
}
#endif

#endif
