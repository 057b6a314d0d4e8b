/* Uses every macro and function of include/linux/ once, so the compile check (check_c_drivers_compile.sh) covers
 * the parts of the headers no shipped driver uses yet. Compiled only, never loaded. */
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/kernel.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/printk.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

struct thing {
  struct kref ref;
  refcount_t users;
  spinlock_t lock;
  struct mutex mutex;
  wait_queue_head_t wait;
  int ready;
  u32 values[4];
};

static DEFINE_SPINLOCK(global_lock);
static DECLARE_WAIT_QUEUE_HEAD(global_wait);
static DEFINE_MUTEX(global_mutex);

static void thing_release(struct kref *ref) {
  kfree(container_of(ref, struct thing, ref));
}

static long every_ioctl(struct file *file, unsigned int cmd, unsigned long arg) {
  struct thing *t = kcalloc(1, sizeof(*t), GFP_KERNEL);
  u32 __user *uptr = (u32 __user *)arg;
  unsigned long flags;
  u32 v = 0;
  int *array = kmalloc_array(4, sizeof(int), GFP_ATOMIC);
  long ret = 0;

  (void)file;
  if (!t) return -ENOMEM;
  {
    char *dup = kmemdup(t, sizeof(*t), GFP_KERNEL);
    char *grown = krealloc(dup, 2 * sizeof(*t), GFP_KERNEL);
    if (!ZERO_OR_NULL_PTR(grown) && grown != ZERO_SIZE_PTR) kfree(grown);
  }
  kref_init(&t->ref);
  refcount_set(&t->users, 1);
  refcount_inc(&t->users);
  if (refcount_dec_and_test(&t->users)) pr_warn("unexpected\n");
  if (!refcount_inc_not_zero(&t->users)) pr_err("gone: %d\n", refcount_read(&t->users));
  spin_lock_init(&t->lock);
  mutex_init(&t->mutex);
  init_waitqueue_head(&t->wait);
  spin_lock_irqsave(&t->lock, flags);
  t->ready = 1;
  spin_unlock_irqrestore(&t->lock, flags);
  spin_lock(&global_lock);
  spin_unlock(&global_lock);
  spin_lock_irq(&global_lock);
  spin_unlock_irq(&global_lock);
  if (mutex_trylock(&global_mutex)) mutex_unlock(&global_mutex);
  if (mutex_lock_interruptible(&t->mutex)) return -ERESTARTSYS;
  WARN_ON(!mutex_is_locked(&t->mutex));
  mutex_unlock(&t->mutex);
  mutex_destroy(&t->mutex);
  wake_up(&global_wait);
  wake_up_all(&t->wait);
  wake_up_interruptible_all(&t->wait);
  wait_event(t->wait, READ_ONCE(t->ready));
  if (wait_event_killable(global_wait, READ_ONCE(t->ready))) ret = -EINTR;
  if (get_user(v, uptr)) ret = -EFAULT;
  v = max(v, (u32)ARRAY_SIZE(t->values));
  v = clamp(v, (u32)1, (u32)8);
  v = min_t(u32, v, 3);
  v = max_t(int, v, 0);
  swap(t->values[0], t->values[1]);
  if (put_user(v, uptr)) ret = -EFAULT;
  if (likely(array) && !unlikely(kref_get_unless_zero(&t->ref) == 0)) kref_put(&t->ref, thing_release);
  WARN_ON_ONCE(kref_read(&t->ref) != 1);
  BUILD_BUG_ON(sizeof(u64) != 8);
  WRITE_ONCE(t->values[0], cmd);
  smp_store_release(&t->values[1], 1);
  (void)smp_load_acquire(&t->values[1]);
  barrier();
  printk(KERN_INFO "done %u\n", v);
  pr_info("%d\n", EAGAIN + EFAULT + ENODEV + EBUSY + ENOTTY + EINVAL + ENXIO + EIO + EPIPE);
  pr_debug("x\n");
  kfree(array);
  kref_put(&t->ref, thing_release);
  return ret;
}

static int every_open(struct inode *inode, struct file *file) {
  unsigned int minor = iminor(inode) + imajor(inode) + MINOR(inode->i_rdev) + MAJOR(MKDEV(10, 1));

  if (minor > 4096 || file_inode(file) != inode) return -ENODEV;
  if (!try_module_get(THIS_MODULE)) return -ENODEV;
  module_put(THIS_MODULE);
  return nonseekable_open(inode, file);
}

static ssize_t every_read(struct file *file, char __user *buf, size_t count, loff_t *ppos) {
  char data[8] = {0};
  size_t n = min(count, sizeof(data));

  if (file->f_flags & O_NONBLOCK) return -EAGAIN;
  if (copy_from_user(data, buf, n) || copy_to_user(buf, data, n)) return -EFAULT;
  *ppos += n;
  return n;
}

static const struct file_operations every_fops = {
    .owner = THIS_MODULE,
    .open = every_open,
    .read = every_read,
    .unlocked_ioctl = every_ioctl,
    .llseek = noop_llseek,
};

static struct miscdevice every_misc = {
    .minor = MISC_DYNAMIC_MINOR,
    .name = "every",
    .fops = &every_fops,
};
module_misc_device(every_misc);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("devsim");
MODULE_DESCRIPTION("every header once");
MODULE_VERSION("1");
MODULE_ALIAS("every");
EXPORT_SYMBOL(every_misc);
EXPORT_SYMBOL_GPL(every_misc);
