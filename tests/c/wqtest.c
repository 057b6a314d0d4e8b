/*
 * wqtest: a test module for linux/workqueue.h (tests/c/test_c_workqueue.cpp). A misc device, /dev/wqtest, whose
 * ioctls each exercise one guarantee of the workqueue API and return 0 when it held (a negative step number when
 * not). module_exit frees the object whose work item may still be queued: without WQTEST_FIXED it does not cancel
 * it first (the bug: the work can run on freed memory), with WQTEST_FIXED=1 it calls cancel_work_sync first.
 */
#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#define WQT_QUEUE_WHILE_PENDING 1 /* ordered wq: a second queue_work of a pending item fails, it runs once */
#define WQT_START 2               /* queue the slow work */
#define WQT_CANCEL 3              /* arg 1: cancel_work_sync, 0: cancel_work; 1 if the slow work is still running */
#define WQT_KICK 4                /* queue the work that module_exit may leave behind */
#define WQT_FLUSH_WQ 5            /* flush_workqueue waits for three items queued before it */
#define WQT_DELAYED 6             /* delayed work: pending through its delay, mod/cancel/flush */
#define WQT_GLOBAL 7              /* the DECLARE_WORK global: runs once per execution; returns its run count */
#define WQT_DELAYED_FREE 8        /* arg 0: kfree with the timer armed (bug); 1: cancel_delayed_work_sync first */
#define WQT_DESTROY_ARMED 9       /* arg 0: destroy_workqueue with a delayed item armed on it (bug); 1: cancel first */
#define WQT_FLUSH_LOCKED 10       /* arg 1: flush_work under the mutex the work takes (bug); 0: after dropping it */

struct wqtest {
  struct work_struct blocker; /* holds the ordered workqueue until `gate` is set */
  struct work_struct counted; /* counts its runs */
  struct work_struct slow;    /* state 1 while it runs, 2 when it returned */
  struct work_struct kick;    /* touches the object: the work module_exit must cancel */
  struct work_struct sleepers[3];
  struct delayed_work dwork;
  atomic_t gate;
  atomic_t counted_runs;
  atomic_t slow_state;
  atomic_t sleepers_done;
  atomic_t dwork_runs;
  unsigned long dwork_ran_at;
  int kicked;
};

struct poller {
  struct delayed_work poll;
  int polls;
};

static struct wqtest *wqt;
static DEFINE_MUTEX(locker_mutex);
static int locker_runs;
static struct workqueue_struct *ordered_wq;
static struct workqueue_struct *plain_wq;
static atomic_t global_runs;

static void global_fn(struct work_struct *work) {
  (void)work;
  atomic_inc(&global_runs);
}
static DECLARE_WORK(global_work, global_fn);

static void blocker_fn(struct work_struct *work) {
  struct wqtest *t = container_of(work, struct wqtest, blocker);

  while (!atomic_read(&t->gate))
    msleep(1);
}

static void counted_fn(struct work_struct *work) {
  struct wqtest *t = container_of(work, struct wqtest, counted);

  atomic_inc(&t->counted_runs);
}

static void slow_fn(struct work_struct *work) {
  struct wqtest *t = container_of(work, struct wqtest, slow);

  atomic_set(&t->slow_state, 1);
  msleep(1);
  atomic_set(&t->slow_state, 2);
}

static void kick_fn(struct work_struct *work) {
  struct wqtest *t = container_of(work, struct wqtest, kick);

  t->kicked++;
}

static void sleeper_fn(struct work_struct *work) {
  msleep(2);
  atomic_inc(&wqt->sleepers_done);
  (void)work;
}

static void dwork_fn(struct work_struct *work) {
  struct wqtest *t = container_of(to_delayed_work(work), struct wqtest, dwork);

  t->dwork_ran_at = jiffies;
  atomic_inc(&t->dwork_runs);
}

static void poll_fn(struct work_struct *work) {
  struct poller *p = container_of(to_delayed_work(work), struct poller, poll);

  p->polls++;
}

static void locker_fn(struct work_struct *work) {
  (void)work;
  mutex_lock(&locker_mutex);
  locker_runs++;
  mutex_unlock(&locker_mutex);
}
static DECLARE_WORK(locker_work, locker_fn);

/* A poller freed with its delayed work armed: the timer reads the freed item when it fires. */
static long delayed_free(unsigned long fixed) {
  struct poller *p = kzalloc(sizeof(*p), GFP_KERNEL);

  if (!p) return -ENOMEM;
  INIT_DELAYED_WORK(&p->poll, poll_fn);
  schedule_delayed_work(&p->poll, 5);
  if (fixed) cancel_delayed_work_sync(&p->poll);
  kfree(p);
  msleep(10);
  return 0;
}

/* destroy_workqueue does not wait for a delayed item whose timer has not fired: it fires on the freed workqueue. */
static long destroy_armed(unsigned long fixed) {
  struct workqueue_struct *wq = alloc_workqueue("wqtest_armed", 0, 0);
  struct poller *p = kzalloc(sizeof(*p), GFP_KERNEL);
  long ret = -ENOMEM;

  if (!wq || !p) goto out;
  INIT_DELAYED_WORK(&p->poll, poll_fn);
  queue_delayed_work(wq, &p->poll, 5);
  if (fixed) cancel_delayed_work_sync(&p->poll);
  destroy_workqueue(wq);
  wq = NULL;
  msleep(10);
  cancel_delayed_work_sync(&p->poll);
  ret = p->polls;
out:
  if (wq) destroy_workqueue(wq);
  kfree(p);
  return ret;
}

/* Flushing a work while holding a lock the work takes: a deadlock if the work has not run yet, and lockdep's
 * inversion whether or not it has (the work's lockdep map). */
static long flush_locked(unsigned long under_lock) {
  schedule_work(&locker_work);
  msleep(5); /* the work has run by now: no deadlock in this execution */
  if (under_lock) mutex_lock(&locker_mutex);
  flush_work(&locker_work);
  if (under_lock) mutex_unlock(&locker_mutex);
  return locker_runs;
}

static long queue_while_pending(struct wqtest *t) {
  bool first, second;

  atomic_set(&t->gate, 0);
  if (!queue_work(ordered_wq, &t->blocker)) return -1;
  first = queue_work(ordered_wq, &t->counted);
  second = queue_work(ordered_wq, &t->counted); /* still pending behind the blocker */
  if (!first) return -2;
  if (second) return -3;
  if (!work_pending(&t->counted)) return -4;
  atomic_set(&t->gate, 1);
  flush_workqueue(ordered_wq);
  if (work_pending(&t->counted)) return -5;
  if (atomic_read(&t->counted_runs) != 1) return -6;
  return 0;
}

static long flush_wq(struct wqtest *t) {
  int i;

  for (i = 0; i < 3; i++)
    if (!queue_work(plain_wq, &t->sleepers[i])) return -1;
  flush_workqueue(plain_wq);
  return atomic_read(&t->sleepers_done) == 3 ? 0 : -2;
}

static long delayed(struct wqtest *t) {
  unsigned long start = jiffies;

  if (!schedule_delayed_work(&t->dwork, 5)) return -1;
  if (schedule_delayed_work(&t->dwork, 5)) return -2; /* pending during the delay */
  if (!delayed_work_pending(&t->dwork)) return -3;
  if (!mod_delayed_work(system_wq, &t->dwork, 10)) return -4; /* was pending: re-armed */
  if (!cancel_delayed_work(&t->dwork)) return -5;
  if (delayed_work_pending(&t->dwork)) return -6;
  flush_delayed_work(&t->dwork); /* nothing pending: nothing runs */
  if (atomic_read(&t->dwork_runs) != 0) return -7;
  if (!queue_delayed_work(system_wq, &t->dwork, 100)) return -8;
  flush_delayed_work(&t->dwork); /* fires the timer at once and waits for the run */
  if (atomic_read(&t->dwork_runs) != 1 || time_after_eq(t->dwork_ran_at, start + 100)) return -9;
  if (!schedule_delayed_work(&t->dwork, 20)) return -10;
  msleep(30); /* the timer fires after its delay of virtual time */
  flush_work(&t->dwork.work);
  if (atomic_read(&t->dwork_runs) != 2 || time_before(t->dwork_ran_at, start + 20)) return -11;
  if (!schedule_delayed_work(&t->dwork, 50)) return -12;
  if (!cancel_delayed_work_sync(&t->dwork)) return -13;
  msleep(60);
  if (atomic_read(&t->dwork_runs) != 2) return -14; /* a cancelled timer never fires */
  return 0;
}

static long wqtest_ioctl(struct file *file, unsigned int cmd, unsigned long arg) {
  struct wqtest *t = wqt;

  (void)file;
  switch (cmd) {
    case WQT_QUEUE_WHILE_PENDING:
      return queue_while_pending(t);
    case WQT_START:
      atomic_set(&t->slow_state, 0);
      return schedule_work(&t->slow) ? 0 : -EBUSY;
    case WQT_CANCEL:
      if (arg)
        cancel_work_sync(&t->slow);
      else
        cancel_work(&t->slow);
      return atomic_read(&t->slow_state) == 1;
    case WQT_KICK:
      return schedule_work(&t->kick) ? 0 : -EBUSY;
    case WQT_FLUSH_WQ:
      return flush_wq(t);
    case WQT_DELAYED:
      return delayed(t);
    case WQT_GLOBAL:
      schedule_work(&global_work);
      flush_work(&global_work);
      return atomic_read(&global_runs);
    case WQT_DELAYED_FREE:
      return delayed_free(arg);
    case WQT_DESTROY_ARMED:
      return destroy_armed(arg);
    case WQT_FLUSH_LOCKED:
      return flush_locked(arg);
    default:
      return -ENOTTY;
  }
}

static const struct file_operations wqtest_fops = {
    .owner = THIS_MODULE,
    .unlocked_ioctl = wqtest_ioctl,
};

static struct miscdevice wqtest_misc = {
    .minor = MISC_DYNAMIC_MINOR,
    .name = "wqtest",
    .fops = &wqtest_fops,
};

static int __init wqtest_init(void) {
  struct wqtest *t;
  int i, ret;

  t = kzalloc(sizeof(*t), GFP_KERNEL);
  if (!t) return -ENOMEM;
  INIT_WORK(&t->blocker, blocker_fn);
  INIT_WORK(&t->counted, counted_fn);
  INIT_WORK(&t->slow, slow_fn);
  INIT_WORK(&t->kick, kick_fn);
  for (i = 0; i < 3; i++)
    INIT_WORK(&t->sleepers[i], sleeper_fn);
  INIT_DELAYED_WORK(&t->dwork, dwork_fn);
  ordered_wq = alloc_ordered_workqueue("wqtest_ordered", 0);
  plain_wq = alloc_workqueue("wqtest%d", 0, 0, 0);
  if (!ordered_wq || !plain_wq) {
    ret = -ENOMEM;
    goto fail;
  }
  wqt = t;
  ret = misc_register(&wqtest_misc);
  if (ret) goto fail;
  return 0;
fail:
  if (ordered_wq) destroy_workqueue(ordered_wq);
  if (plain_wq) destroy_workqueue(plain_wq);
  kfree(t);
  return ret;
}

static void __exit wqtest_exit(void) {
  int i;

  misc_deregister(&wqtest_misc);
  cancel_work_sync(&wqt->slow);
  cancel_delayed_work_sync(&wqt->dwork);
  for (i = 0; i < 3; i++)
    cancel_work_sync(&wqt->sleepers[i]);
  cancel_work_sync(&global_work);
#ifdef WQTEST_FIXED
  cancel_work_sync(&wqt->kick);
#endif
  /* Without WQTEST_FIXED: BUG, the kick work may still be queued, and it runs on the freed object. */
  destroy_workqueue(ordered_wq); /* drains: the blocker and counted works have run */
  destroy_workqueue(plain_wq);
  kfree(wqt);
  wqt = NULL;
}

module_init(wqtest_init);
module_exit(wqtest_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("linux/workqueue.h test module (devsim)");
