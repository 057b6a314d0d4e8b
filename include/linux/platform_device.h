/*
 * linux/platform_device.h: platform drivers (devsim, C gnu11). Backed by devsim's platform bus (bus/platform.hpp):
 * platform_driver_register (in module_init, or module_platform_driver) registers a driver that binds the
 * scenario's platform devices declared with this module's name as modalias (`device platform ID MODULE`); probe
 * and remove run under the device lock as the driver core runs them, at plug, bind, unbind, unplug and module
 * unload. The bus driver is named after the module (so /sys/bus/platform/drivers/MODULE/bind and the scenario's
 * `bind MODULE ID` find it). platform_get_irq returns the device's interrupt lines as the machine describes them:
 * the lines given with the module (devsim_add_c_driver IRQS), the same for every device it binds. remove returns
 * void, as since Linux 6.11. Not modelled: id_table and of_match_table matching, platform data, resources other
 * than IRQs (platform_get_resource, devm_platform_ioremap_resource), shutdown, suspend/resume.
 */
#ifndef _DEVSIM_LINUX_PLATFORM_DEVICE_H
#define _DEVSIM_LINUX_PLATFORM_DEVICE_H

#include "device.h"
#include "devsim_abi.h"
#include "mod_devicetable.h"
#include "module.h"
#include "types.h"

struct platform_device {
  const char *name;
  int id;
  struct device dev;
  const struct platform_device_id *id_entry;
};

struct platform_driver {
  int (*probe)(struct platform_device *);
  void (*remove)(struct platform_device *);
  void (*shutdown)(struct platform_device *);
  struct device_driver driver;
  const struct platform_device_id *id_table;
};

#define to_platform_device(x) container_of((x), struct platform_device, dev)

#define platform_get_drvdata(pdev) dev_get_drvdata(&(pdev)->dev)
#define platform_set_drvdata(pdev, data) dev_set_drvdata(&(pdev)->dev, (data))

#define platform_driver_register(drv) __devsim_platform_driver_register((drv), THIS_MODULE, __DEVSIM_SITE)
#define platform_driver_unregister(drv) __devsim_platform_driver_unregister((drv), __DEVSIM_SITE)
#define platform_get_irq(pdev, num) __devsim_platform_get_irq((pdev), (num), __DEVSIM_SITE)
#define platform_get_irq_optional(pdev, num) platform_get_irq(pdev, num)

/* module_platform_driver: a module whose init registers the driver and whose exit unregisters it. */
#define module_platform_driver(__platform_driver)          \
  static int __init __platform_driver##_init(void) {       \
    return platform_driver_register(&(__platform_driver)); \
  }                                                        \
  module_init(__platform_driver##_init);                   \
  static void __exit __platform_driver##_exit(void) {      \
    platform_driver_unregister(&(__platform_driver));      \
  }                                                        \
  module_exit(__platform_driver##_exit)

#endif
