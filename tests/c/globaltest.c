/*
 * globaltest: a test module whose tasks share state only through module globals (tests/c/test_c_globals.cpp).
 * A misc device, /dev/globaltest:
 *   ioctl 1 sets the flag `published` (WRITE_ONCE); ioctl 2 returns it (READ_ONCE). Nothing else is shared: the
 *   two calls touch no lock, no simulated object and no wait queue in common, so only the global orders them.
 *   ioctl 3 claims the global `owner` without a lock (check, then set): returns 0 when it was free, -EBUSY when
 *   taken; ioctl 4 gives it back. Plain accesses from two tasks with nothing ordering them: a data race.
 *   ioctl 7 and 8 do the same under the mutex `owner_lock`: no race.
 *   ioctl 9 allocates an ID in the global IDR `ids` without a lock (two such changes race: include/linux/idr.h
 *   leaves their serialisation to the caller); ioctl 10 does it under `owner_lock`. Both return the ID.
 *   ioctl 5 fills a kmalloc'd item and publishes it through the global `ready` with smp_store_release; ioctl 6
 *   reads the item after smp_load_acquire of `ready` sees it (-EAGAIN before). The flag orders the item's
 *   plain accesses: no data race (tools/memory-model/Documentation/explanation.txt, release-acquire).
 */
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

#define GT_PUBLISH 1
#define GT_PUBLISHED 2
#define GT_CLAIM 3
#define GT_RELEASE 4
#define GT_PUBLISH_ITEM 5
#define GT_READ_ITEM 6
#define GT_CLAIM_LOCKED 7
#define GT_RELEASE_LOCKED 8
#define GT_ID 9
#define GT_ID_LOCKED 10

struct item {
  int v;
};

static int published;
static int owner;
static DEFINE_MUTEX(owner_lock);
static DEFINE_IDR(ids);
static int ready;
static struct item *item;

static long globaltest_ioctl(struct file *file, unsigned int cmd, unsigned long arg) {
  (void)file;
  (void)arg;
  switch (cmd) {
  case GT_PUBLISH:
    WRITE_ONCE(published, 1);
    return 0;
  case GT_PUBLISHED:
    return READ_ONCE(published);
  case GT_CLAIM:
    if (owner) return -EBUSY;
    owner = 1;
    return 0;
  case GT_RELEASE:
    owner = 0;
    return 0;
  case GT_CLAIM_LOCKED: {
    long ret = 0;

    mutex_lock(&owner_lock);
    if (owner)
      ret = -EBUSY;
    else
      owner = 1;
    mutex_unlock(&owner_lock);
    return ret;
  }
  case GT_RELEASE_LOCKED:
    mutex_lock(&owner_lock);
    owner = 0;
    mutex_unlock(&owner_lock);
    return 0;
  case GT_ID:
    return idr_alloc(&ids, &published, 0, 0, GFP_KERNEL);
  case GT_ID_LOCKED: {
    long id;

    mutex_lock(&owner_lock);
    id = idr_alloc(&ids, &published, 0, 0, GFP_KERNEL);
    mutex_unlock(&owner_lock);
    return id;
  }
  case GT_PUBLISH_ITEM:
    if (item) return -EEXIST;
    item = kzalloc(sizeof(*item), GFP_KERNEL);
    if (!item) return -ENOMEM;
    item->v = 42;
    smp_store_release(&ready, 1);
    return 0;
  case GT_READ_ITEM:
    if (!smp_load_acquire(&ready)) return -EAGAIN;
    return item->v;
  }
  return -ENOTTY;
}

static const struct file_operations globaltest_fops = {
    .owner = THIS_MODULE,
    .unlocked_ioctl = globaltest_ioctl,
};

static struct miscdevice globaltest_misc = {
    .minor = MISC_DYNAMIC_MINOR,
    .name = "globaltest",
    .fops = &globaltest_fops,
};

static int __init globaltest_init(void) {
  return misc_register(&globaltest_misc);
}

static void __exit globaltest_exit(void) {
  misc_deregister(&globaltest_misc);
  kfree(item);
  idr_destroy(&ids);
}

module_init(globaltest_init);
module_exit(globaltest_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("module globals test module (devsim)");
