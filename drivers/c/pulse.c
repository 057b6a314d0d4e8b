/*
 * pulse: a pulse counter on the platform bus, with a character device, an interrupt and a timer. The hardware
 * raises the device's interrupt on every pulse; the handler counts it and (re)arms a settle timer, so a burst of
 * pulses closer together than PULSE_SETTLE_MS is one event; when the timer fires, the burst is published as an event
 * and readers are woken. /dev/pulseN: read() sleeps until an event the file has not seen and returns the event
 * count (a u32); ioctl(PULSE_IOC_EVENTS) and ioctl(PULSE_IOC_PULSES) return the counts.
 *
 * Lifetimes. The per-device state (struct pulse) is reference counted: the binding holds one reference (dropped by
 * a devm action registered before the interrupt, so it runs after the interrupt is freed), every open file holds
 * one. The char device is cdev_alloc'd (it lives as long as a file holds it), and open finds the state through a
 * table by minor under a mutex, so an open racing with remove either gets a reference or -ENODEV.
 *
 * Built twice. PULSE_FIXED unset: the buggy variant. remove() stops the timer with del_timer_sync() first, but the
 * interrupt is devm-managed, so it is freed only after remove() returns: a pulse in between re-arms the timer, which
 * then fires after the binding's reference was dropped and the state freed (use-after-free in the timer callback).
 * PULSE_FIXED=1: the fixed variant. The timer is shut down by a devm action registered between the state's
 * reference and the interrupt, so devres runs it after the interrupt is freed and before the state's reference is
 * dropped, on unbind and on a failed probe alike; timer_shutdown_sync() also makes any later mod_timer() a no-op.
 */
#define pr_fmt(fmt) "pulse: " fmt

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/kref.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#define PULSE_MINORS 4
#define PULSE_SETTLE_MS 5
#define PULSE_IOC_EVENTS 1 /* ioctl: events published so far */
#define PULSE_IOC_PULSES 2 /* ioctl: pulses counted so far */

struct pulse {
  struct kref ref;
  spinlock_t lock; /* guards pulses, events and gone; taken by the interrupt handler */
  unsigned long pulses;
  unsigned long events;
  bool gone; /* the device was removed: file operations fail with -ENODEV */
  wait_queue_head_t wait;
  struct timer_list settle;
  struct cdev *cdev;
  struct device *node; /* /dev/pulseN */
  unsigned int minor;
};

/* What each open file has seen. */
struct pulse_file {
  struct pulse *p;
  unsigned long seen; /* events when this file last read */
};

static dev_t pulse_base;
static struct class *pulse_class;
static DEFINE_MUTEX(pulse_table_lock);
static struct pulse *pulse_table[PULSE_MINORS]; /* by minor; guarded by pulse_table_lock */

static void pulse_free(struct kref *ref) {
  kfree(container_of(ref, struct pulse, ref));
}

static void pulse_put(void *data) {
  struct pulse *p = data;

  kref_put(&p->ref, pulse_free);
}

#ifdef PULSE_FIXED
static void pulse_stop_timer(void *data) {
  struct pulse *p = data;

  timer_shutdown_sync(&p->settle);
}
#endif

/* Hard-IRQ context: count the pulse, and publish the burst once the line has been quiet for a while. */
static irqreturn_t pulse_irq(int irq, void *dev_id) {
  struct pulse *p = dev_id;

  (void)irq;
  spin_lock(&p->lock);
  WRITE_ONCE(p->pulses, p->pulses + 1);
  spin_unlock(&p->lock);
  mod_timer(&p->settle, jiffies + msecs_to_jiffies(PULSE_SETTLE_MS));
  return IRQ_HANDLED;
}

/* Softirq context: the burst is over. */
static void pulse_settle(struct timer_list *t) {
  struct pulse *p = from_timer(p, t, settle);
  unsigned long flags;

  spin_lock_irqsave(&p->lock, flags);
  WRITE_ONCE(p->events, p->events + 1);
  spin_unlock_irqrestore(&p->lock, flags);
  wake_up_interruptible(&p->wait);
}

static int pulse_open(struct inode *inode, struct file *file) {
  unsigned int minor = iminor(inode) - MINOR(pulse_base);
  struct pulse_file *pf;
  struct pulse *p;

  if (minor >= PULSE_MINORS) return -ENODEV;
  pf = kzalloc(sizeof(*pf), GFP_KERNEL);
  if (!pf) return -ENOMEM;
  mutex_lock(&pulse_table_lock);
  p = pulse_table[minor];
  if (p) kref_get(&p->ref);
  mutex_unlock(&pulse_table_lock);
  if (!p) {
    kfree(pf);
    return -ENODEV;
  }
  pf->p = p;
  spin_lock_irq(&p->lock);
  pf->seen = p->events;
  spin_unlock_irq(&p->lock);
  file->private_data = pf;
  return nonseekable_open(inode, file);
}

static int pulse_release(struct inode *inode, struct file *file) {
  struct pulse_file *pf = file->private_data;

  (void)inode;
  pulse_put(pf->p);
  kfree(pf);
  return 0;
}

/* An event this file has not seen, or the device gone. Called without the lock: a marked read each. */
static bool pulse_ready(struct pulse_file *pf) {
  return READ_ONCE(pf->p->events) != pf->seen || READ_ONCE(pf->p->gone);
}

static ssize_t pulse_read(struct file *file, char __user *buf, size_t count, loff_t *ppos) {
  struct pulse_file *pf = file->private_data;
  struct pulse *p = pf->p;
  u32 events;
  int ret;

  (void)ppos;
  if (count < sizeof(events)) return -EINVAL;
  if ((file->f_flags & O_NONBLOCK) && !pulse_ready(pf)) return -EAGAIN;
  ret = wait_event_interruptible(p->wait, pulse_ready(pf));
  if (ret) return ret;
  spin_lock_irq(&p->lock);
  if (p->gone) {
    spin_unlock_irq(&p->lock);
    return -ENODEV;
  }
  events = (u32)p->events;
  pf->seen = p->events;
  spin_unlock_irq(&p->lock);
  if (copy_to_user(buf, &events, sizeof(events))) return -EFAULT;
  return sizeof(events);
}

static long pulse_ioctl(struct file *file, unsigned int cmd, unsigned long arg) {
  struct pulse_file *pf = file->private_data;
  struct pulse *p = pf->p;
  long ret;

  (void)arg;
  spin_lock_irq(&p->lock);
  if (p->gone)
    ret = -ENODEV;
  else if (cmd == PULSE_IOC_EVENTS)
    ret = (long)p->events;
  else if (cmd == PULSE_IOC_PULSES)
    ret = (long)p->pulses;
  else
    ret = -ENOTTY;
  spin_unlock_irq(&p->lock);
  return ret;
}

static const struct file_operations pulse_fops = {
    .owner = THIS_MODULE,
    .open = pulse_open,
    .release = pulse_release,
    .read = pulse_read,
    .unlocked_ioctl = pulse_ioctl,
    .llseek = noop_llseek,
};

static int pulse_probe(struct platform_device *pdev) {
  struct device *dev = &pdev->dev;
  struct pulse *p;
  unsigned int minor;
  int irq, ret;

  irq = platform_get_irq(pdev, 0);
  if (irq < 0) return irq;

  mutex_lock(&pulse_table_lock);
  for (minor = 0; minor < PULSE_MINORS && pulse_table[minor]; minor++) {
  }
  mutex_unlock(&pulse_table_lock);
  if (minor == PULSE_MINORS) return -EBUSY;

  p = kzalloc(sizeof(*p), GFP_KERNEL);
  if (!p) return -ENOMEM;
  kref_init(&p->ref);
  spin_lock_init(&p->lock);
  init_waitqueue_head(&p->wait);
  timer_setup(&p->settle, pulse_settle, 0);
  p->minor = minor;
  /* The binding's reference, dropped at unbind. Registered before the interrupt: devres releases in reverse, so
   * the handler is gone before this runs. */
  ret = devm_add_action_or_reset(dev, pulse_put, p);
  if (ret) return ret;
#ifdef PULSE_FIXED
  /* Runs after the interrupt is freed (nothing can re-arm the timer then) and before the reference is dropped. */
  ret = devm_add_action_or_reset(dev, pulse_stop_timer, p);
  if (ret) return ret;
#endif
  ret = devm_request_irq(dev, irq, pulse_irq, 0, dev_name(dev), p);
  if (ret) {
    dev_err(dev, "cannot request IRQ %d: %d\n", irq, ret);
    return ret;
  }

  p->cdev = cdev_alloc();
  if (!p->cdev) return -ENOMEM;
  p->cdev->owner = THIS_MODULE;
  p->cdev->ops = &pulse_fops;
  ret = cdev_add(p->cdev, pulse_base + minor, 1);
  if (ret) goto err_cdev;
  p->node = device_create(pulse_class, dev, pulse_base + minor, p, "pulse%u", minor);
  if (IS_ERR(p->node)) {
    ret = PTR_ERR(p->node);
    goto err_cdev;
  }
  platform_set_drvdata(pdev, p);
  mutex_lock(&pulse_table_lock);
  if (pulse_table[minor]) { /* a concurrent probe took the minor first */
    mutex_unlock(&pulse_table_lock);
    ret = -EBUSY;
    goto err_node;
  }
  pulse_table[minor] = p;
  mutex_unlock(&pulse_table_lock);
  dev_info(dev, "pulse counter on IRQ %d, /dev/pulse%u\n", irq, minor);
  return 0;

err_node:
  device_destroy(pulse_class, pulse_base + minor);
err_cdev:
  cdev_del(p->cdev);
  return ret;
}

static void pulse_remove(struct platform_device *pdev) {
  struct pulse *p = platform_get_drvdata(pdev);

#ifndef PULSE_FIXED
  /* BUG: the interrupt is freed by devres only after remove() returns; a pulse in between re-arms the timer,
   * which fires after the binding's reference is dropped and the state freed. (The fixed variant's devm action
   * shuts the timer down after the interrupt is freed.) */
  del_timer_sync(&p->settle);
#endif
  mutex_lock(&pulse_table_lock);
  pulse_table[p->minor] = NULL;
  mutex_unlock(&pulse_table_lock);
  device_destroy(pulse_class, pulse_base + p->minor);
  cdev_del(p->cdev);
  spin_lock_irq(&p->lock);
  WRITE_ONCE(p->gone, true);
  spin_unlock_irq(&p->lock);
  wake_up_interruptible_all(&p->wait);
}

static struct platform_driver pulse_driver = {
    .probe = pulse_probe,
    .remove = pulse_remove,
    .driver =
        {
            .name = "pulse",
        },
};

static int __init pulse_init(void) {
  int ret;

  ret = alloc_chrdev_region(&pulse_base, 0, PULSE_MINORS, "pulse");
  if (ret) return ret;
  pulse_class = class_create("pulse");
  if (IS_ERR(pulse_class)) {
    ret = PTR_ERR(pulse_class);
    goto err_region;
  }
  ret = platform_driver_register(&pulse_driver);
  if (ret) goto err_class;
  return 0;

err_class:
  class_destroy(pulse_class);
err_region:
  unregister_chrdev_region(pulse_base, PULSE_MINORS);
  return ret;
}

static void __exit pulse_exit(void) {
  platform_driver_unregister(&pulse_driver);
  class_destroy(pulse_class);
  unregister_chrdev_region(pulse_base, PULSE_MINORS);
}

module_init(pulse_init);
module_exit(pulse_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("a pulse counter: platform device, IRQ, settle timer, char device (devsim example)");
