/* Class device attributes (linux/device.h) that tests/c/test_c_class_device.cpp runs in simulated tasks: a class the
 * driver defines with dev_groups, a device made with more groups, one more attribute made by device_create_file, and
 * the two orders of tearing them down. Kernel C against include/linux. */
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

struct widget {
  struct device *dev;
  int level;
};

static ssize_t level_show(struct device *dev, struct device_attribute *attr, char *buf) {
  struct widget *w = dev_get_drvdata(dev);

  (void)attr;
  return sysfs_emit(buf, "%d\n", w->level);
}
static DEVICE_ATTR_RO(level);

static ssize_t kind_show(struct device *dev, struct device_attribute *attr, char *buf) {
  (void)dev;
  (void)attr;
  return sysfs_emit(buf, "widget\n");
}
static DEVICE_ATTR_RO(kind);
static struct attribute *widget_class_attrs[] = {&dev_attr_kind.attr, NULL};
ATTRIBUTE_GROUPS(widget_class);

static ssize_t serial_show(struct device *dev, struct device_attribute *attr, char *buf) {
  (void)attr;
  return sysfs_emit(buf, "%s-serial\n", dev_name(dev));
}
static DEVICE_ATTR_RO(serial);
static struct attribute *widget_extra_attrs[] = {&dev_attr_serial.attr, NULL};
ATTRIBUTE_GROUPS(widget_extra);

static const struct class widget_class = {
    .name = "widget",
    .dev_groups = widget_class_groups,
};

/* class_register, then a device without a parent (/sys/devices/virtual/widget/widget3) with the extra group, then
 * its level attribute. */
struct widget *class_case_make(void) {
  struct widget *w = kzalloc(sizeof(*w), GFP_KERNEL);

  if (!w || class_register(&widget_class)) return NULL;
  w->level = 7;
  w->dev = device_create_with_groups(&widget_class, NULL, MKDEV(250, 3), w, widget_extra_groups, "widget%d", 3);
  if (IS_ERR(w->dev) || device_create_file(w->dev, &dev_attr_level)) return NULL;
  return w;
}

/* Fixed: the device (and its attributes, drained) goes before the state its show reads. Buggy: the state first. */
void class_case_destroy(struct widget *w, int state_first) {
  if (state_first) kfree(w);
  device_destroy(&widget_class, MKDEV(250, 3));
  class_unregister(&widget_class);
  if (!state_first) kfree(w);
}

/* class_create (a class devsim allocates) and a device under another class device: its directory is inside its
 * parent's (/sys/devices/virtual/gadget/gadget0/gadget0.1). One execution at a time uses the class. */
static struct class *gadget_class;

int class_case_nested(void) {
  struct device *outer, *inner;

  gadget_class = class_create("gadget");
  if (IS_ERR(gadget_class)) return -1;
  outer = device_create(gadget_class, NULL, MKDEV(251, 0), NULL, "gadget0");
  if (IS_ERR(outer)) return -2;
  inner = device_create(gadget_class, outer, MKDEV(251, 1), NULL, "gadget0.%d", 1);
  if (IS_ERR(inner)) return -3;
  return 0;
}

void class_case_nested_destroy(void) {
  device_destroy(gadget_class, MKDEV(251, 1));
  device_destroy(gadget_class, MKDEV(251, 0));
  class_destroy(gadget_class);
}
