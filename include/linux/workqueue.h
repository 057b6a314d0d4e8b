/*
 * linux/workqueue.h: work items, delayed work and workqueues (devsim, C gnu11). Backed by devsim's workqueue model
 * (bus/workqueue.hpp): each queued instance runs its function in a kernel worker task of its own, so it interleaves
 * with everything else and can run after remove() returned. The kernel's guarantees hold: an item is pending from
 * queue_work until its function starts, and queueing a pending item fails (kernel/workqueue.c queue_work_on:
 * test_and_set_bit of WORK_STRUCT_PENDING); an item never runs concurrently with itself; cancel_work_sync takes a
 * pending instance back and waits for a running one, and queueing fails meanwhile; flush_work waits for the
 * instance queued or running at the call; flush_workqueue for everything queued on the workqueue before the call;
 * an ordered workqueue runs one item at a time, in queueing order. A delayed item is pending from
 * queue_delayed_work; its timer puts it on its workqueue at expiry (HZ is 1000: a jiffy is 1 ms of virtual time).
 * The kernel's own reads of freed memory are reported: a work item freed while queued, when its worker starts
 * (use-after-free in process_one_work); a delayed work freed while its timer is armed, when it fires (in
 * delayed_work_timer_fn); a workqueue freed by destroy_workqueue, when work is queued on it or a delayed item armed on
 * it fires (destroy_workqueue waits for what is queued, not for unfired timers, as in the kernel).
 * The state of an item is kept by devsim keyed by its address; a DECLARE_WORK global is set up at its first use in
 * each execution (module globals are restored before every load).
 * Not modelled: max_active limits other than an ordered workqueue's, CPUs (queue_work_on's cpu is ignored), WQ_*
 * flags other than ordering, rescuers, a workqueue's own lockdep map (flushing a work is lockdep-checked, flushing a
 * workqueue is not), disable_work/enable_work, work_busy, the warning for queueing on a workqueue being destroyed.
 * struct delayed_work holds no struct timer_list (its timer is devsim's).
 */
#ifndef _DEVSIM_LINUX_WORKQUEUE_H
#define _DEVSIM_LINUX_WORKQUEUE_H

#include "devsim_abi.h"
#include "jiffies.h" /* the kernel's includes linux/timer.h: delays are in jiffies */
#include "kernel.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);

struct work_struct {
  work_func_t func;
  unsigned long __devsim_work[2]; /* devsim's work item (bus::WorkStruct) lives here */
};

struct workqueue_struct; /* opaque, as in the kernel */

struct delayed_work {
  struct work_struct work;
  struct workqueue_struct *wq;
  int cpu;
};

enum {
  WQ_UNBOUND = 1 << 1,
  WQ_FREEZABLE = 1 << 2,
  WQ_MEM_RECLAIM = 1 << 3,
  WQ_HIGHPRI = 1 << 4,
  WQ_CPU_INTENSIVE = 1 << 5,
  WQ_SYSFS = 1 << 6,
  WQ_POWER_EFFICIENT = 1 << 7,
  __WQ_ORDERED = 1 << 17,
  WQ_MAX_ACTIVE = 512,
};

/* The system workqueues: one devsim system workqueue behind all of them. */
extern struct workqueue_struct *system_wq;
extern struct workqueue_struct *system_highpri_wq;
extern struct workqueue_struct *system_long_wq;
extern struct workqueue_struct *system_unbound_wq;
extern struct workqueue_struct *system_freezable_wq;

void __devsim_init_work(struct work_struct *work, work_func_t func, __DEVSIM_SITE_PARAMS);
bool __devsim_queue_work(struct workqueue_struct *wq, struct work_struct *work, __DEVSIM_SITE_PARAMS);
/* mod: 0 queue_delayed_work, 1 mod_delayed_work */
bool __devsim_queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork, unsigned long delay, int mod,
                                 __DEVSIM_SITE_PARAMS);
bool __devsim_flush_work(struct work_struct *work, __DEVSIM_SITE_PARAMS);
bool __devsim_flush_delayed_work(struct delayed_work *dwork, __DEVSIM_SITE_PARAMS);
/* sync: 0 cancel_work / cancel_delayed_work, 1 cancel_work_sync / cancel_delayed_work_sync */
bool __devsim_cancel_work(struct work_struct *work, int sync, __DEVSIM_SITE_PARAMS);
bool __devsim_work_pending(struct work_struct *work, __DEVSIM_SITE_PARAMS);
struct workqueue_struct *__devsim_alloc_workqueue(unsigned int flags, int max_active, __DEVSIM_SITE_PARAMS,
                                                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* mode: 0 flush_workqueue, 1 drain_workqueue, 2 destroy_workqueue */
void __devsim_workqueue_op(struct workqueue_struct *wq, int mode, __DEVSIM_SITE_PARAMS);

#ifdef __cplusplus
}
#endif

#define __WORK_INITIALIZER(n, f)           \
  {                                        \
    .func = (f), .__devsim_work = { 0, 0 } \
  }
#define __DELAYED_WORK_INITIALIZER(n, f, tflags) \
  { .work = __WORK_INITIALIZER((n).work, (f)), .wq = NULL, .cpu = 0 }
#define DECLARE_WORK(n, f) struct work_struct n = __WORK_INITIALIZER(n, f)
#define DECLARE_DELAYED_WORK(n, f) struct delayed_work n = __DELAYED_WORK_INITIALIZER(n, f, 0)

#define INIT_WORK(_work, _func) __devsim_init_work((_work), (_func), __DEVSIM_SITE)
#define INIT_DELAYED_WORK(_work, _func) __devsim_init_work(&(_work)->work, (_func), __DEVSIM_SITE)

#define to_delayed_work(_work) container_of(_work, struct delayed_work, work)

#define work_pending(work) __devsim_work_pending((work), __DEVSIM_SITE)
#define delayed_work_pending(w) work_pending(&(w)->work)

#define queue_work(wq, work) __devsim_queue_work((wq), (work), __DEVSIM_SITE)
#define queue_work_on(cpu, wq, work) ((void)(cpu), queue_work(wq, work))
#define schedule_work(work) queue_work(system_wq, work)
#define queue_delayed_work(wq, dwork, delay) __devsim_queue_delayed_work((wq), (dwork), (delay), 0, __DEVSIM_SITE)
#define queue_delayed_work_on(cpu, wq, dwork, delay) ((void)(cpu), queue_delayed_work(wq, dwork, delay))
#define mod_delayed_work(wq, dwork, delay) __devsim_queue_delayed_work((wq), (dwork), (delay), 1, __DEVSIM_SITE)
#define schedule_delayed_work(dwork, delay) queue_delayed_work(system_wq, dwork, delay)

#define flush_work(work) __devsim_flush_work((work), __DEVSIM_SITE)
#define flush_delayed_work(dwork) __devsim_flush_delayed_work((dwork), __DEVSIM_SITE)
#define cancel_work(work) __devsim_cancel_work((work), 0, __DEVSIM_SITE)
#define cancel_work_sync(work) __devsim_cancel_work((work), 1, __DEVSIM_SITE)
#define cancel_delayed_work(dwork) __devsim_cancel_work(&(dwork)->work, 0, __DEVSIM_SITE)
#define cancel_delayed_work_sync(dwork) __devsim_cancel_work(&(dwork)->work, 1, __DEVSIM_SITE)

#define alloc_workqueue(fmt, flags, max_active, ...) \
  __devsim_alloc_workqueue((flags), (max_active), __DEVSIM_SITE, fmt, ##__VA_ARGS__)
#define alloc_ordered_workqueue(fmt, flags, ...) \
  alloc_workqueue(fmt, WQ_UNBOUND | __WQ_ORDERED | (flags), 1, ##__VA_ARGS__)
#define create_workqueue(name) alloc_workqueue("%s", WQ_MEM_RECLAIM, 1, (name))
#define create_singlethread_workqueue(name) alloc_ordered_workqueue("%s", WQ_MEM_RECLAIM, (name))
#define flush_workqueue(wq) __devsim_workqueue_op((wq), 0, __DEVSIM_SITE)
#define drain_workqueue(wq) __devsim_workqueue_op((wq), 1, __DEVSIM_SITE)
#define destroy_workqueue(wq) __devsim_workqueue_op((wq), 2, __DEVSIM_SITE)

#endif
