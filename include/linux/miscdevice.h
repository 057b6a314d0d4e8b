/*
 * linux/miscdevice.h: misc character devices (devsim, C gnu11). Backed by devsim's misc core (bus/cdev.hpp,
 * drivers/char/misc.c): misc_register makes /dev/<name>; opening it runs misc_open, which under misc_mtx sets
 * file->private_data to the struct miscdevice and calls the driver's open, still under misc_mtx;
 * misc_deregister takes misc_mtx too. An open file pins nothing of the driver but, through fops->owner, its
 * module. Not modelled: fixed minor conflicts (a dynamic minor is numbered from 1 per execution), groups, modes,
 * nodename.
 */
#ifndef _DEVSIM_LINUX_MISCDEVICE_H
#define _DEVSIM_LINUX_MISCDEVICE_H

#include "devsim_abi.h"
#include "fs.h"
#include "module.h"
#include "types.h"

#define MISC_DYNAMIC_MINOR 255
#define MISC_MAJOR 10

struct device;

struct miscdevice {
  int minor;
  const char *name;
  const struct file_operations *fops;
  struct device *parent;
  const char *nodename;
  umode_t mode;
};

#define misc_register(misc) __devsim_misc_register((misc), __DEVSIM_SITE)
#define misc_deregister(misc) __devsim_misc_deregister((misc), __DEVSIM_SITE)

/* module_misc_device: a module whose init registers the device and whose exit deregisters it. */
#define module_misc_device(__misc_device)         \
  static int __init __misc_device##_init(void) {  \
    return misc_register(&(__misc_device));       \
  }                                               \
  module_init(__misc_device##_init);              \
  static void __exit __misc_device##_exit(void) { \
    misc_deregister(&(__misc_device));            \
  }                                               \
  module_exit(__misc_device##_exit)

#endif
