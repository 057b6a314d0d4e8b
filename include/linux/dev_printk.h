/* linux/dev_printk.h: printing about a device, dev_printk and the dev_* family (devsim, C gnu11). <linux/device.h>
 * includes it, as the kernel's does. */
#ifndef _DEVSIM_LINUX_DEV_PRINTK_H
#define _DEVSIM_LINUX_DEV_PRINTK_H

#include "devsim_abi.h"
#include "printk.h"

struct device;

/* dev_* printing reads the device (a freed one is a use-after-free; NULL prints "(NULL device *)"). */
#define dev_printk(level, dev, fmt, ...) __devsim_dev_printk(level, (dev), fmt, ##__VA_ARGS__)
#define dev_emerg(dev, fmt, ...) dev_printk(KERN_EMERG, dev, fmt, ##__VA_ARGS__)
#define dev_crit(dev, fmt, ...) dev_printk(KERN_CRIT, dev, fmt, ##__VA_ARGS__)
#define dev_alert(dev, fmt, ...) dev_printk(KERN_ALERT, dev, fmt, ##__VA_ARGS__)
#define dev_err(dev, fmt, ...) dev_printk(KERN_ERR, dev, fmt, ##__VA_ARGS__)
#define dev_warn(dev, fmt, ...) dev_printk(KERN_WARNING, dev, fmt, ##__VA_ARGS__)
#define dev_notice(dev, fmt, ...) dev_printk(KERN_NOTICE, dev, fmt, ##__VA_ARGS__)
#define dev_info(dev, fmt, ...) dev_printk(KERN_INFO, dev, fmt, ##__VA_ARGS__)
#define dev_dbg(dev, fmt, ...) dev_printk(KERN_DEBUG, dev, fmt, ##__VA_ARGS__)
#define dev_err_probe(dev, err, fmt, ...)                                    \
  ({                                                                         \
    int __err = (err);                                                       \
    if (__err != -517 /* -EPROBE_DEFER */) dev_err(dev, fmt, ##__VA_ARGS__); \
    __err;                                                                   \
  })

#endif
