/*
 * my_tally: /dev/tally counts the ioctls made on it. The count lives in a kzalloc'd struct that module_exit frees.
 * The bug: the file operations name no .owner, so nothing stops rmmod while /dev/tally is open, and the open file's
 * next ioctl increments freed memory. Setting .owner = THIS_MODULE fixes it (rmmod then fails with -EAGAIN).
 */
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

struct tally {
  struct mutex lock;
  long count;
};

static struct tally* tally;

static long tally_ioctl(struct file* file, unsigned int cmd, unsigned long arg) {
  struct tally* t = tally;
  long now;

  (void)file;
  (void)arg;
  if (cmd != 1) return -ENOTTY;
  mutex_lock(&t->lock);
  now = ++t->count;
  mutex_unlock(&t->lock);
  return now;
}

static const struct file_operations tally_fops = {
    .unlocked_ioctl = tally_ioctl, /* no .owner: the bug */
};

static struct miscdevice tally_misc = {
    .minor = MISC_DYNAMIC_MINOR,
    .name = "tally",
    .fops = &tally_fops,
};

static int __init tally_init(void) {
  int ret;

  tally = kzalloc(sizeof(*tally), GFP_KERNEL);
  if (!tally) return -ENOMEM;
  mutex_init(&tally->lock);
  ret = misc_register(&tally_misc);
  if (ret) kfree(tally);
  return ret;
}

static void __exit tally_exit(void) {
  misc_deregister(&tally_misc);
  kfree(tally);
}

module_init(tally_init);
module_exit(tally_exit);
MODULE_LICENSE("GPL");
