/*
 * linux/sysfs.h: attributes and attribute groups (devsim, C gnu11).
 *
 * An attribute is a file of a device's sysfs directory (linux/device.h: device_create_file, device_add_group, a
 * driver's dev_groups); the scenario's `sysfs-read PATH` and `sysfs-write PATH VALUE` call its show and store in
 * the reading task, under kernfs's active protection: removing the attribute waits for the calls in flight, and
 * a call after the removal began is refused (-ENODEV). show gets a zeroed PAGE_SIZE buffer in simulated memory
 * (writing past it is out of bounds), store a copy of the value with a NUL after it.
 * A group's is_visible is asked for each attribute when the group is created (0: not created). sysfs_create_group
 * and friends take a device's kobject (&dev->kobj): groups of device attributes.
 * Not modelled: kobjects of their own (kobject_create_and_add, kobj_attribute), binary attributes, permissions (mode
 * is kept and ignored), poll on attributes (sysfs_notify is a no-op).
 */
#ifndef _DEVSIM_LINUX_SYSFS_H
#define _DEVSIM_LINUX_SYSFS_H

#include "../asm/page.h"
#include "compiler.h"
#include "kernel.h"
#include "kobject.h"
#include "stringify.h"
#include "types.h"

struct attribute {
  const char *name;
  umode_t mode;
};

struct attribute_group {
  const char *name; /* a subdirectory holding the attributes; NULL: the device's own directory */
  umode_t (*is_visible)(struct kobject *kobj, struct attribute *attr, int index);
  struct attribute **attrs; /* NULL-terminated */
};

#define __ATTR(_name, _mode, _show, _store) \
  { .attr = {.name = __stringify(_name), .mode = (_mode)}, .show = (_show), .store = (_store) }
#define __ATTR_RO(_name) __ATTR(_name, 0444, _name##_show, NULL)
#define __ATTR_RO_MODE(_name, _mode) __ATTR(_name, (_mode), _name##_show, NULL)
#define __ATTR_RW(_name) __ATTR(_name, 0644, _name##_show, _name##_store)
#define __ATTR_RW_MODE(_name, _mode) __ATTR(_name, (_mode), _name##_show, _name##_store)
#define __ATTR_WO(_name) __ATTR(_name, 0200, NULL, _name##_store)

/* static const struct attribute_group NAME_group and NAME_groups[], from NAME_attrs[]. */
#define ATTRIBUTE_GROUPS(_name)                             \
  static const struct attribute_group _name##_group = {     \
      .attrs = _name##_attrs,                               \
  };                                                        \
  static const struct attribute_group *_name##_groups[] = { \
      &_name##_group,                                       \
      NULL,                                                 \
  }

/* fs/sysfs/file.c: formatting into a show's buffer, never past its page. */
#define sysfs_emit(buf, fmt, ...) scnprintf((buf), PAGE_SIZE, fmt, ##__VA_ARGS__)
#define sysfs_emit_at(buf, at, fmt, ...) scnprintf((buf) + (at), PAGE_SIZE - (at), fmt, ##__VA_ARGS__)
#define sysfs_notify(kobj, dir, attr) ((void)(kobj), (void)(dir), (void)(attr))

/* Groups on a device's kobject (kobj_to_dev, linux/device.h): device_add_group and friends. */
#define sysfs_create_group(kobj, grp) device_add_group(kobj_to_dev(kobj), (grp))
#define sysfs_remove_group(kobj, grp) device_remove_group(kobj_to_dev(kobj), (grp))
#define sysfs_create_groups(kobj, groups) device_add_groups(kobj_to_dev(kobj), (groups))
#define sysfs_remove_groups(kobj, groups) device_remove_groups(kobj_to_dev(kobj), (groups))

#endif
