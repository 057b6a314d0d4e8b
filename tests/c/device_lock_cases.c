/* The device_lock cases tests/c/test_c_device_lock.cpp runs in simulated tasks: kernel C against include/linux. */
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/slab.h>

struct counted {
  struct device *dev;
  int count;
};

struct counted *device_lock_case_new(void) {
  struct class *cls = class_create("devsim_lock_test");
  struct counted *c = kzalloc(sizeof(*c), GFP_KERNEL);
  c->dev = device_create(cls, NULL, MKDEV(250, 1), c, "locktest%d", 1);
  return c;
}

/* A read-modify-write of the count, under the device's lock or not. */
void device_lock_case_bump(struct counted *c, int locked) {
  int seen;
  if (locked) device_lock(c->dev);
  seen = c->count;
  c->count = seen + 1;
  if (locked) device_unlock(c->dev);
}

int device_lock_case_count(struct counted *c) {
  int n, taken = device_trylock(c->dev);
  n = c->count;
  if (taken) device_unlock(c->dev);
  return taken ? n : -1;
}

/* dev_err through a member of a NULL pointer (a driver's &dev->interface->dev after disconnect cleared interface):
 * the near-NULL address that dev_printk reads. */
struct holder {
  int pad[4];
  struct device dev;
};
void device_case_print_through_null(void) {
  /* &h->dev for h == NULL, computed without the member access UBSan (the test suite's sanitizer build) rejects. */
  struct device *dev = (struct device *)(unsigned long)offsetof(struct holder, dev);

  dev_err(dev, "gone\n");
}
