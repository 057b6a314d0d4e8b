/*
 * linux/cdev.h: character devices (devsim, C gnu11), as fs/char_dev.c has them. cdev_add makes the device numbers
 * [dev, dev + count) open this cdev; the /dev node is device_create's (device.h). Opening the node looks the cdev up
 * by number under chrdevs_lock (-ENXIO once cdev_del removed it), takes a reference on its kobject and on its
 * owner module (cdev->owner) and on the module of its fops (fops->owner), sets inode->i_cdev and calls the driver's
 * open; the last close calls release and then drops those references (a failed open drops them at once). So an
 * open file keeps the struct cdev referenced after cdev_del: a cdev embedded in driver data that is freed while a
 * file is open is a use-after-free in the kernel's cdev_put, as in the kernel. A cdev_alloc'd cdev is freed at its
 * last reference. The kobject count lives in the struct (simulated memory): every get and put is a checked access.
 * Not modelled: cdev_device_add/cdev_set_parent (the cdev pins no parent), kobj_map's probe callbacks.
 */
#ifndef _DEVSIM_LINUX_CDEV_H
#define _DEVSIM_LINUX_CDEV_H

#include "devsim_abi.h"
#include "fs.h"
#include "module.h"
#include "types.h"

struct cdev {
  int __devsim_refs;    /* devsim's: the kobject's count (a core::Refcount) */
  int __devsim_dynamic; /* devsim's: allocated by cdev_alloc, freed at the last put */
  struct module *owner;
  const struct file_operations *ops;
  dev_t dev;
  unsigned int count;
};

#define cdev_init(cdev, fops) __devsim_cdev_init((cdev), (fops), __DEVSIM_SITE)
#define cdev_alloc() __devsim_cdev_alloc(__DEVSIM_SITE)
#define cdev_add(p, dev, count) __devsim_cdev_add((p), (dev), (count), __DEVSIM_SITE)
#define cdev_del(p) __devsim_cdev_del((p), __DEVSIM_SITE)

#endif
