/* Uses every macro and function of the driver-model headers of include/linux/ (device, platform, interrupts,
 * timers, jiffies, character devices, atomics, completions, signals, delays, error pointers) once, so the compile
 * check (check_c_drivers_compile.sh) covers what no shipped driver uses yet. Compiled only, never loaded. */
#include <linux/atomic.h>
#include <linux/cdev.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/err.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/mod_devicetable.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/types.h>

struct every {
  atomic_t count;
  atomic_long_t total;
  struct completion done;
  struct timer_list timer;
  struct cdev cdev;
  spinlock_t lock;
  int irq;
};

static DECLARE_COMPLETION(every_global_done);
static const struct platform_device_id every_ids[] = {{"every", 0}, {"", 0}};
static const struct of_device_id every_of_ids[] = {{.compatible = "devsim,every"}, {}};
static struct class *every_class;

static irqreturn_t every_irq(int irq, void *dev_id) {
  struct every *e = dev_id;

  atomic_inc(&e->count);
  complete(&e->done);
  return IRQ_RETVAL(irq >= 0);
}

static irqreturn_t every_irq_thread(int irq, void *dev_id) {
  struct every *e = dev_id;

  msleep(1);
  atomic_inc(&e->count);
  return irq >= 0 ? IRQ_HANDLED : IRQ_WAKE_THREAD;
}

static void every_timer(struct timer_list *t) {
  struct every *e = from_timer(e, t, timer);
  unsigned long flags;

  local_irq_save(flags);
  local_irq_restore(flags);
  complete_all(&e->done);
}

static void every_action(void *data) {
  struct every *e = data;

  timer_shutdown_sync(&e->timer);
}

static int every_probe(struct platform_device *pdev) {
  struct device *dev = &pdev->dev;
  struct every *e = devm_kzalloc(dev, sizeof(*e), GFP_KERNEL);
  void *scratch = devm_kmalloc(dev, 16, GFP_KERNEL);
  int *many = devm_kcalloc(dev, 4, sizeof(int), GFP_KERNEL);
  struct cdev *dyn = cdev_alloc();
  struct device *node;
  dev_t base;
  int ret;

  if (!e || !scratch || !many || !dyn) return -ENOMEM;
  atomic_set(&e->count, 0);
  atomic_add(2, &e->count);
  atomic_sub(1, &e->count);
  atomic_dec(&e->count);
  if (atomic_inc_return(&e->count) != 1 || atomic_dec_return(&e->count) != 0) return -EINVAL;
  if (atomic_add_return(3, &e->count) != 3 || atomic_sub_return(3, &e->count) != 0) return -EINVAL;
  if (atomic_fetch_add(1, &e->count) != 0 || !atomic_dec_and_test(&e->count)) return -EINVAL;
  if (atomic_inc_and_test(&e->count) || atomic_xchg(&e->count, 5) != 1 || atomic_cmpxchg(&e->count, 5, 6) != 5)
    return -EINVAL;
  atomic_long_set(&e->total, atomic_read(&e->count));
  atomic_long_inc(&e->total);
  if (atomic_long_read(&e->total) != 7) return -EINVAL;
  init_completion(&e->done);
  reinit_completion(&e->done);
  spin_lock_init(&e->lock);
  timer_setup(&e->timer, every_timer, TIMER_DEFERRABLE);
  e->timer.expires = jiffies + HZ;
  add_timer(&e->timer);
  if (!timer_pending(&e->timer) || time_after(jiffies, e->timer.expires) || time_before_eq(e->timer.expires, jiffies))
    dev_warn(dev, "timer at %u ms\n", jiffies_to_msecs(e->timer.expires));
  mod_timer(&e->timer, jiffies + msecs_to_jiffies(10) + usecs_to_jiffies(100));
  del_timer(&e->timer);
  del_timer_sync(&e->timer);
  timer_delete(&e->timer);
  timer_delete_sync(&e->timer);
  timer_shutdown(&e->timer);
  if (time_is_before_jiffies(e->timer.expires) && time_is_after_jiffies(0) && time_after_eq(jiffies, 0))
    dev_dbg(dev, "past\n");
  ret = devm_add_action(dev, every_action, e);
  if (!ret) ret = devm_add_action_or_reset(dev, every_action, e);
  if (ret) return dev_err_probe(dev, ret, "no action\n");
  e->irq = platform_get_irq(pdev, 0);
  if (e->irq < 0) e->irq = platform_get_irq_optional(pdev, 1);
  ret = devm_request_irq(dev, e->irq, every_irq, IRQF_SHARED | IRQF_TRIGGER_RISING, dev_name(dev), e);
  if (ret) return ret;
  ret = request_irq(e->irq + 1, every_irq, IRQF_ONESHOT, "every", e);
  if (!ret) {
    disable_irq(e->irq + 1);
    disable_irq_nosync(e->irq + 1);
    enable_irq(e->irq + 1);
    enable_irq(e->irq + 1);
    synchronize_irq(e->irq + 1);
    free_irq(e->irq + 1, e);
  }
  ret = request_threaded_irq(e->irq + 2, every_irq, every_irq_thread, IRQF_ONESHOT, "every-thread", e);
  if (!ret) free_irq(e->irq + 2, e);
  ret = devm_request_threaded_irq(dev, e->irq + 3, NULL, every_irq_thread, IRQF_ONESHOT, "every-thread", e);
  if (ret) return ret;
  spin_lock_irq(&e->lock);
  spin_unlock_irq(&e->lock);
  ret = alloc_chrdev_region(&base, 0, 2, "every");
  if (ret) return ret;
  ret = register_chrdev_region(MKDEV(MAJOR(base) + 1, 0), 1, "every2");
  if (!ret) unregister_chrdev_region(MKDEV(MAJOR(base) + 1, 0), 1);
  cdev_init(&e->cdev, NULL);
  e->cdev.owner = THIS_MODULE;
  ret = cdev_add(&e->cdev, base, 1);
  if (!ret) ret = cdev_add(dyn, base + 1, 1);
  node = device_create(every_class, dev, base, e, "every%d", 0);
  if (IS_ERR_OR_NULL(node))
    ret = PTR_ERR_OR_ZERO(node);
  else if (get_device(node))
    put_device(node);
  device_destroy(every_class, base);
  cdev_del(dyn);
  cdev_del(&e->cdev);
  unregister_chrdev_region(base, 2);
  if (IS_ERR(ERR_PTR(-EIO)) && PTR_ERR(ERR_PTR(-EIO)) == -EIO) dev_info(dev, "errors\n");
  dev_notice(dev, "%d\n", ret);
  dev_emerg(NULL, "no device\n");
  dev_crit(dev, "x\n");
  dev_alert(dev, "x\n");
  dev_printk(KERN_INFO, dev, "x\n");
  if (signal_pending(current) || fatal_signal_pending(current)) return -ERESTARTSYS;
  if (wait_for_completion_interruptible(&e->done) || wait_for_completion_killable(&e->done)) return -EINTR;
  wait_for_completion(&every_global_done);
  if (!try_wait_for_completion(&e->done) && completion_done(&e->done)) return -EBUSY;
  msleep(1);
  (void)msleep_interruptible(1);
  usleep_range(10, 20);
  udelay(1);
  ndelay(1);
  mdelay(1);
  platform_set_drvdata(pdev, e);
  dev_set_drvdata(dev, platform_get_drvdata(pdev));
  device_lock(dev);
  device_unlock(dev);
  if (device_trylock(dev)) device_unlock(dev);
  if (!device_lock_interruptible(dev)) {
    device_lock_assert(dev);
    device_unlock(dev);
  }
  return dev_get_drvdata(to_platform_device(dev)->dev.parent ? dev->parent : dev) == e ? 0 : -ENODEV;
}

static void every_remove(struct platform_device *pdev) {
  struct every *e = platform_get_drvdata(pdev);

  del_timer_sync(&e->timer);
}

static struct platform_driver every_driver = {
    .probe = every_probe,
    .remove = every_remove,
    .id_table = every_ids,
    .driver =
        {
            .name = "every",
            .owner = THIS_MODULE,
            .of_match_table = every_of_ids,
        },
};

static int __init every_init(void) {
  every_class = class_create("every");
  if (IS_ERR(every_class)) return PTR_ERR(every_class);
  return platform_driver_register(&every_driver);
}

static void __exit every_exit(void) {
  platform_driver_unregister(&every_driver);
  class_destroy(every_class);
}

module_init(every_init);
module_exit(every_exit);
MODULE_LICENSE("GPL");
MODULE_DEVICE_TABLE(platform, every_ids);
