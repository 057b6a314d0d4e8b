/* Uses every macro and function of linux/workqueue.h once, for the compile check (check_c_drivers_compile.sh).
 * Compiled only, never loaded. */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/types.h>
#include <linux/workqueue.h>

struct poller {
  struct work_struct work;
  struct delayed_work poll;
  int value;
};

static void poller_work(struct work_struct *work) {
  struct poller *p = container_of(work, struct poller, work);

  p->value++;
}

static void poller_poll(struct work_struct *work) {
  struct poller *p = container_of(to_delayed_work(work), struct poller, poll);

  p->value--;
}

static void global_fn(struct work_struct *work) {
  (void)work;
}

static DECLARE_WORK(global_work, global_fn);
static DECLARE_DELAYED_WORK(global_dwork, global_fn);

int every_workqueue(void);
int every_workqueue(void) {
  struct poller *p = kzalloc(sizeof(*p), GFP_KERNEL);
  struct workqueue_struct *wq, *ordered, *old, *single;
  int ret = 0;

  if (!p) return -ENOMEM;
  INIT_WORK(&p->work, poller_work);
  INIT_DELAYED_WORK(&p->poll, poller_poll);
  wq = alloc_workqueue("poller%d", WQ_UNBOUND | WQ_MEM_RECLAIM | WQ_HIGHPRI | WQ_FREEZABLE, WQ_MAX_ACTIVE, 0);
  ordered = alloc_ordered_workqueue("poller_ordered", WQ_MEM_RECLAIM);
  old = create_workqueue("poller_old");
  single = create_singlethread_workqueue("poller_single");
  if (!wq || !ordered || !old || !single) ret = -ENOMEM;
  if (schedule_work(&p->work)) ret++;
  if (queue_work(wq, &p->work)) ret++;
  if (queue_work_on(0, ordered, &p->work)) ret++;
  if (work_pending(&p->work)) ret++;
  if (flush_work(&p->work)) ret++;
  if (cancel_work(&p->work)) ret++;
  if (cancel_work_sync(&p->work)) ret++;
  if (schedule_delayed_work(&p->poll, HZ)) ret++;
  if (queue_delayed_work(system_wq, &p->poll, 1)) ret++;
  if (queue_delayed_work_on(0, system_long_wq, &p->poll, 1)) ret++;
  if (mod_delayed_work(system_unbound_wq, &p->poll, 2)) ret++;
  if (delayed_work_pending(&p->poll)) ret++;
  if (cancel_delayed_work(&p->poll)) ret++;
  if (flush_delayed_work(&p->poll)) ret++;
  if (cancel_delayed_work_sync(&p->poll)) ret++;
  if (queue_work(system_highpri_wq, &global_work)) ret++;
  if (queue_delayed_work(system_freezable_wq, &global_dwork, 0)) ret++;
  flush_workqueue(wq);
  drain_workqueue(ordered);
  destroy_workqueue(wq);
  destroy_workqueue(ordered);
  destroy_workqueue(old);
  destroy_workqueue(single);
  kfree(p);
  return ret;
}
