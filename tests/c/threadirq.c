/*
 * threadirq: a test module for threaded interrupts (linux/interrupt.h request_threaded_irq, IRQF_ONESHOT), on the
 * platform bus with one interrupt line (tests/c/test_c_api.cpp). The hard handler wakes the thread; the thread
 * function sleeps (process context), then counts the interrupt in the driver's state.
 *
 * Variants, by defines:
 *   TIRQ_FIXED unset: remove() frees the state before free_irq(), so a thread function still running (or woken
 *     and not yet run) uses it freed: a use-after-free in tirq_thread. TIRQ_FIXED=1: free_irq() first, which waits
 *     for the thread function (synchronize_irq's threads_active), then kfree().
 *   TIRQ_ONESHOT=1: requested with IRQF_ONESHOT, so the line stays masked while the thread function runs and the
 *     hard handler never finds it running. Unset: flags 0, and the hard handler can run while the thread function
 *     sleeps: its WARN_ON reports that (the overlap a driver relying on ONESHOT would not expect).
 */
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/interrupt.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/slab.h>

struct tirq {
  int irq;
  int in_thread; /* the thread function is running */
  int count;     /* interrupts the thread function handled */
};

static irqreturn_t tirq_hard(int irq, void *dev_id) {
  struct tirq *t = dev_id;

  (void)irq;
  WARN_ON(READ_ONCE(t->in_thread));
  return IRQ_WAKE_THREAD;
}

static irqreturn_t tirq_thread(int irq, void *dev_id) {
  struct tirq *t = dev_id;

  (void)irq;
  WRITE_ONCE(t->in_thread, 1);
  msleep(1);
  t->count++;
  WRITE_ONCE(t->in_thread, 0);
  return IRQ_HANDLED;
}

static int tirq_probe(struct platform_device *pdev) {
  struct tirq *t;
  unsigned long flags = 0;
  int ret;

  t = kzalloc(sizeof(*t), GFP_KERNEL);
  if (!t) return -ENOMEM;
  t->irq = platform_get_irq(pdev, 0);
  if (t->irq < 0) {
    ret = t->irq;
    goto err;
  }
#ifdef TIRQ_ONESHOT
  flags = IRQF_ONESHOT;
#endif
  ret = request_threaded_irq(t->irq, tirq_hard, tirq_thread, flags, "threadirq", t);
  if (ret) goto err;
  platform_set_drvdata(pdev, t);
  return 0;
err:
  kfree(t);
  return ret;
}

static void tirq_remove(struct platform_device *pdev) {
  struct tirq *t = platform_get_drvdata(pdev);
  int irq = t->irq;

#ifdef TIRQ_FIXED
  free_irq(irq, t);
  kfree(t);
#else
  kfree(t);
  free_irq(irq, t);
#endif
}

static struct platform_driver tirq_driver = {
    .probe = tirq_probe,
    .remove = tirq_remove,
    .driver =
        {
            .name = "threadirq",
        },
};
module_platform_driver(tirq_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("threaded interrupt test module");
