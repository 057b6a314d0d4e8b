/*
 * linux/kobject.h: the kobject of a struct device (devsim, C gnu11): what sysfs groups and is_visible are given.
 * Not modelled: kobjects of their own (kobject_create_and_add, kobject_put, ktype release), kobj_attribute.
 */
#ifndef _DEVSIM_LINUX_KOBJECT_H
#define _DEVSIM_LINUX_KOBJECT_H

struct kobject {
  const char *name; /* unused: a device's name is dev_name() */
};

#endif
