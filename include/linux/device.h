/*
 * linux/device.h: struct device, device classes and managed resources (devsim, C gnu11).
 *
 * A platform device's struct device stands for devsim's device (bus/device.hpp): get_device/put_device are its
 * reference count, and the struct (inside struct platform_device, in simulated memory) is freed when the last
 * reference goes, so a driver that uses it after that is caught. dev_get_drvdata/dev_set_drvdata read and write
 * dev->driver_data, which the driver core clears after the driver unbinds (after remove() and the devm releases).
 * devm_kzalloc/devm_kmalloc/devm_add_action(_or_reset) are released when the driver unbinds, last in first out,
 * after remove(); calling them on a device with no driver is reported (context-misuse) and fails.
 * device_create(class, parent, devt, drvdata, fmt, ...) creates the /dev node that opens the character device
 * registered for devt (cdev.h); device_destroy removes the node (open files stay open).
 * Device attributes (DEVICE_ATTR_RO/RW/WO, device_create_file, device_add_group(s), a driver's dev_groups) are files
 * of the device's sysfs directory, /sys/bus/<bus>/devices/<name>/ (a USB interface's is 1-1:1.0, inside its
 * device's 1-1), with kernfs's active protection (linux/sysfs.h); a driver's dev_groups are created after its probe
 * returned 0 and removed, draining their callers, before its remove/disconnect (drivers/base/dd.c really_probe,
 * __device_release_driver); what a driver leaves goes with the device's directory at device_del.
 * A class device (device_create, device_create_with_groups) has a directory too, as get_device_parent places it
 * (drivers/base/core.c): PARENT/CLASS/NAME under a bus device, /sys/devices/virtual/CLASS/NAME without a parent,
 * linked from /sys/class/CLASS/NAME, with its "dev" attribute ("MAJOR:MINOR"), its class's dev_groups and the
 * groups it was created with; device_destroy removes them, draining their callers, before the last put.
 * Not modelled: struct kobject, device links, power management, dev_err_probe's deferral bookkeeping (it prints and
 * returns the error), uevents of class devices, class attributes (class_create_file), a class's devnode callback.
 */
#ifndef _DEVSIM_LINUX_DEVICE_H
#define _DEVSIM_LINUX_DEVICE_H

#include "compiler.h"
#include "dev_printk.h"
#include "devsim_abi.h"
#include "err.h"
#include "gfp.h"
#include "kernel.h"
#include "kref.h" /* as the kernel's, through linux/kobject.h */
#include "module.h"
#include "mutex.h"
#include "printk.h"
#include "sysfs.h"
#include "types.h"

struct device_driver {
  const char *name;
  struct module *owner;
  const struct of_device_id *of_match_table;
  const struct attribute_group **dev_groups; /* created on each device it binds, after probe */
};

struct device {
  struct device *parent;
  const char *init_name;
  void *driver_data; /* dev_set_drvdata */
  dev_t devt;
  void (*release)(struct device *dev);
  const char *__devsim_name; /* devsim's: the name, in the same allocation */
  void *__devsim_dev;        /* devsim's: the device model object behind it (NULL: a class device) */
  int __devsim_refs;         /* devsim's: a class device's reference count */
  struct kobject kobj;       /* what sysfs groups and is_visible see (kobj_to_dev) */
};

#define kobj_to_dev(k) container_of((k), struct device, kobj)

#ifndef __cplusplus /* `class` is a C++ keyword: the C++ side of the ABI sees the layout as struct __devsim_class */
struct class {
  const char *name;
  const struct attribute_group **dev_groups; /* created on each of its devices (device_add_attrs) */
};
#endif
struct __devsim_class {
  const char *name;
  const struct attribute_group **dev_groups;
};

static inline const char *dev_name(const struct device *dev) {
  return dev->init_name ? dev->init_name : dev->__devsim_name;
}
/* A platform device's driver data is the device model's (cleared by the driver core after unbind); a class
 * device's is its driver_data field. Either way the device is read (a freed one is a use-after-free). */
#define dev_get_drvdata(dev) __devsim_dev_get_drvdata((dev), __DEVSIM_SITE)
/* device_lock: the device's mutex, which the driver core holds around probe, remove, bind and unbind (a driver that
 * takes it in its own remove deadlocks, as in the kernel); a class device has its own. Not validated by lockdep,
 * as the kernel's (lockdep_set_novalidate_class). */
#define device_lock(dev) ((void)__devsim_device_lock_op((dev), 0, __DEVSIM_SITE))
#define device_unlock(dev) ((void)__devsim_device_lock_op((dev), 1, __DEVSIM_SITE))
#define device_trylock(dev) __devsim_device_lock_op((dev), 2, __DEVSIM_SITE)
#define device_lock_interruptible(dev) __devsim_device_lock_op((dev), 3, __DEVSIM_SITE)
#define device_lock_assert(dev) ((void)(dev))
#define dev_set_drvdata(dev, data) __devsim_dev_set_drvdata((dev), (data), __DEVSIM_SITE)

/* drivers/base/core.c: an attribute of the device (show/store get the device and the attribute). */
struct device_attribute {
  struct attribute attr;
  ssize_t (*show)(struct device *dev, struct device_attribute *attr, char *buf);
  ssize_t (*store)(struct device *dev, struct device_attribute *attr, const char *buf, size_t count);
};
#define DEVICE_ATTR(_name, _mode, _show, _store) \
  struct device_attribute dev_attr_##_name = __ATTR(_name, _mode, _show, _store)
#define DEVICE_ATTR_RW(_name) struct device_attribute dev_attr_##_name = __ATTR_RW(_name)
#define DEVICE_ATTR_ADMIN_RW(_name) struct device_attribute dev_attr_##_name = __ATTR_RW_MODE(_name, 0600)
#define DEVICE_ATTR_RO(_name) struct device_attribute dev_attr_##_name = __ATTR_RO(_name)
#define DEVICE_ATTR_ADMIN_RO(_name) struct device_attribute dev_attr_##_name = __ATTR_RO_MODE(_name, 0400)
#define DEVICE_ATTR_WO(_name) struct device_attribute dev_attr_##_name = __ATTR_WO(_name)
#define to_dev_attr(_attr) container_of((_attr), struct device_attribute, attr)
/* 0; -EINVAL without an attribute name or for a device with no directory (a class device after device_destroy). */
#define device_create_file(dev, attr) __devsim_device_create_file((dev), (attr), __DEVSIM_SITE)
/* Drains the attribute's show/store calls in flight, then removes it; nothing when absent. */
#define device_remove_file(dev, attr) __devsim_device_remove_file((dev), (attr), __DEVSIM_SITE)
#define device_add_group(dev, grp) \
  __devsim_device_add_groups((dev), (const struct attribute_group *[]){(grp), NULL}, __DEVSIM_SITE)
#define device_remove_group(dev, grp) \
  __devsim_device_remove_groups((dev), (const struct attribute_group *[]){(grp), NULL}, __DEVSIM_SITE)
#define device_add_groups(dev, groups) __devsim_device_add_groups((dev), (groups), __DEVSIM_SITE)
#define device_remove_groups(dev, groups) __devsim_device_remove_groups((dev), (groups), __DEVSIM_SITE)

#define get_device(dev) __devsim_get_device((dev), __DEVSIM_SITE)
#define put_device(dev) __devsim_put_device((dev), __DEVSIM_SITE)

#define devm_kmalloc(dev, size, gfp) __devsim_devm_kmalloc((dev), (size), (gfp), __DEVSIM_SITE)
#define devm_kzalloc(dev, size, gfp) __devsim_devm_kmalloc((dev), (size), (gfp) | __GFP_ZERO, __DEVSIM_SITE)
#define devm_kcalloc(dev, n, size, gfp) __devsim_devm_kmalloc((dev), (n) * (size), (gfp) | __GFP_ZERO, __DEVSIM_SITE)
#define devm_add_action(dev, action, data) __devsim_devm_add_action((dev), (action), (data), 0, __DEVSIM_SITE)
#define devm_add_action_or_reset(dev, action, data) __devsim_devm_add_action((dev), (action), (data), 1, __DEVSIM_SITE)

#define class_create(name) ((struct class *)__devsim_class_create((name), __DEVSIM_SITE))
#define class_destroy(cls) __devsim_class_destroy((cls), __DEVSIM_SITE)
/* A class the driver defines (static const struct class, as since Linux 6.4): /sys/class/NAME; unregistering it
 * leaves the struct to the driver. */
#define class_register(cls) __devsim_class_register((cls), __DEVSIM_SITE)
#define class_unregister(cls) __devsim_class_unregister((cls), __DEVSIM_SITE)
#define device_create(cls, parent, devt, drvdata, fmt, ...) \
  __devsim_device_create((cls), (parent), (devt), (drvdata), __DEVSIM_SITE, fmt, ##__VA_ARGS__)
#define device_create_with_groups(cls, parent, devt, drvdata, groups, fmt, ...) \
  __devsim_device_create_with_groups((cls), (parent), (devt), (drvdata), (groups), __DEVSIM_SITE, fmt, ##__VA_ARGS__)
#define device_destroy(cls, devt) __devsim_device_destroy((cls), (devt), __DEVSIM_SITE)

#endif
