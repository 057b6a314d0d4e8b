/*
 * rcutest: a test module for linux/rcupdate.h (tests/c/test_c_rcu.cpp). A misc device, /dev/rcutest, over one
 * RCU-protected item: ioctl 1 reads it under rcu_read_lock (returns a + b, always 3); ioctl 2 replaces it and frees
 * the old one in the way its argument selects: 0 kfree at once (the bug: a reader may still hold it), 1 after
 * synchronize_rcu, 2 with kfree_rcu, 3 from a call_rcu callback; ioctl 3 dereferences it outside rcu_read_lock;
 * ioctl 4 dereferences it with rcu_dereference_protected, holding the update lock when the argument is 1.
 * The same over SRCU (linux/srcu.h, tests/c/test_c_srcu.cpp), with a reader that sleeps in its section: ioctl 5 reads
 * (returns a + b), ioctl 6 replaces (argument 0: kfree at once, the bug; 1: after synchronize_srcu), ioctl 7
 * dereferences outside a section.
 */
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/srcu.h>

#define RT_READ 1
#define RT_REPLACE 2
#define RT_DEREF_UNLOCKED 3
#define RT_PROTECTED 4
#define RT_SRCU_READ 5
#define RT_SRCU_REPLACE 6
#define RT_SRCU_DEREF_UNLOCKED 7

struct item {
  int a;
  int b;
  struct rcu_head rcu;
};

static struct item __rcu *current_item;
static DEFINE_MUTEX(update_lock);
static struct item __rcu *srcu_item;
DEFINE_STATIC_SRCU(item_srcu);

static struct item *new_item(void) {
  struct item *it = kzalloc(sizeof(*it), GFP_KERNEL);

  if (it) {
    it->a = 1;
    it->b = 2;
  }
  return it;
}

static void item_free_rcu(struct rcu_head *head) {
  kfree(container_of(head, struct item, rcu));
}

static long rt_read(void) {
  struct item *it;
  long v = -ENOENT;

  rcu_read_lock();
  it = rcu_dereference(current_item);
  if (it) v = it->a + it->b;
  rcu_read_unlock();
  return v;
}

static long rt_replace(unsigned long how) {
  struct item *n = new_item(), *old;

  if (!n) return -ENOMEM;
  mutex_lock(&update_lock);
  old = rcu_dereference_protected(current_item, mutex_is_locked(&update_lock));
  rcu_assign_pointer(current_item, n);
  mutex_unlock(&update_lock);
  if (!old) return 0;
  switch (how) {
    case 0:
      kfree(old); /* BUG: a reader that dereferenced it before the assignment may still use it */
      break;
    case 1:
      synchronize_rcu();
      kfree(old);
      break;
    case 2:
      kfree_rcu(old, rcu);
      break;
    default:
      call_rcu(&old->rcu, item_free_rcu);
      break;
  }
  return 0;
}

static long rt_srcu_read(void) {
  struct item *it;
  long v = -ENOENT;
  int idx;

  idx = srcu_read_lock(&item_srcu);
  it = srcu_dereference(srcu_item, &item_srcu);
  if (it) {
    msleep(1); /* SRCU readers may sleep */
    v = it->a + it->b;
  }
  srcu_read_unlock(&item_srcu, idx);
  return v;
}

static long rt_srcu_replace(unsigned long how) {
  struct item *n = new_item(), *old;

  if (!n) return -ENOMEM;
  mutex_lock(&update_lock);
  old = rcu_dereference_protected(srcu_item, mutex_is_locked(&update_lock));
  rcu_assign_pointer(srcu_item, n);
  mutex_unlock(&update_lock);
  if (how) synchronize_srcu(&item_srcu);
  kfree(old); /* without synchronize_srcu: BUG, a sleeping reader may still hold it */
  return 0;
}

static long rcutest_ioctl(struct file *file, unsigned int cmd, unsigned long arg) {
  struct item *it;
  long v;

  (void)file;
  switch (cmd) {
    case RT_READ:
      return rt_read();
    case RT_REPLACE:
      return rt_replace(arg);
    case RT_DEREF_UNLOCKED:
      it = rcu_dereference(current_item); /* BUG: no read-side critical section */
      return it ? 0 : -ENOENT;
    case RT_PROTECTED:
      if (arg) mutex_lock(&update_lock);
      it = rcu_dereference_protected(current_item, mutex_is_locked(&update_lock));
      v = it ? it->a : -ENOENT;
      if (arg) mutex_unlock(&update_lock);
      return v;
    case RT_SRCU_READ:
      return rt_srcu_read();
    case RT_SRCU_REPLACE:
      return rt_srcu_replace(arg);
    case RT_SRCU_DEREF_UNLOCKED:
      it = srcu_dereference(srcu_item, &item_srcu); /* BUG: no SRCU read-side critical section */
      return it ? 0 : -ENOENT;
    default:
      return -ENOTTY;
  }
}

static const struct file_operations rcutest_fops = {
    .owner = THIS_MODULE,
    .unlocked_ioctl = rcutest_ioctl,
};

static struct miscdevice rcutest_misc = {
    .minor = MISC_DYNAMIC_MINOR,
    .name = "rcutest",
    .fops = &rcutest_fops,
};

static int __init rcutest_init(void) {
  struct item *it = new_item(), *sit = new_item();
  int ret = -ENOMEM;

  if (!it || !sit) goto fail;
  RCU_INIT_POINTER(current_item, it);
  RCU_INIT_POINTER(srcu_item, sit);
  ret = misc_register(&rcutest_misc);
  if (!ret) return 0;
  RCU_INIT_POINTER(current_item, NULL);
  RCU_INIT_POINTER(srcu_item, NULL);
fail:
  kfree(it);
  kfree(sit);
  return ret;
}

static void __exit rcutest_exit(void) {
  struct item *it;

  misc_deregister(&rcutest_misc);
  it = rcu_dereference_protected(current_item, 1);
  RCU_INIT_POINTER(current_item, NULL);
  if (rcu_access_pointer(current_item)) it = NULL;
  kfree(it);
  kfree(rcu_dereference_protected(srcu_item, 1));
  RCU_INIT_POINTER(srcu_item, NULL);
  rcu_barrier(); /* the callbacks queued by call_rcu are this module's code */
}

module_init(rcutest_init);
module_exit(rcutest_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("linux/rcupdate.h test module (devsim)");
