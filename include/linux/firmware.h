/*
 * linux/firmware.h: firmware requests (devsim, C gnu11).
 *
 * request_firmware(&fw, name, dev) sleeps while the file loads (1 ms of virtual time) and hands over a struct
 * firmware in simulated memory, its data in the same allocation; release_firmware frees both, so a use of fw->data
 * after it is a use-after-free. A file exists when the scenario provides it (`firmware NAME "CONTENTS"`); otherwise
 * -ENOENT. request_firmware_nowait returns at once: a task "firmware" loads the file and calls cont(fw, context), fw
 * NULL when it is missing; the request holds a reference to the module (try_module_get: -EFAULT when it is going)
 * and to dev until cont returned (drivers/base/firmware_loader/main.c). release_firmware(NULL) does nothing.
 * Not modelled: the user-space fallback (`uevent` is ignored), the firmware cache, request_firmware_into_buf,
 * firmware_request_platform, the warnings of firmware_request_nowarn (the same as request_firmware here).
 */
#ifndef _DEVSIM_LINUX_FIRMWARE_H
#define _DEVSIM_LINUX_FIRMWARE_H

#include "device.h"
#include "devsim_abi.h"
#include "gfp.h"
#include "module.h"
#include "types.h"

#define FW_ACTION_NOUEVENT 0
#define FW_ACTION_UEVENT 1

struct firmware {
  size_t size;
  const u8 *data;
  void *priv; /* unused */
};

#ifdef __cplusplus
extern "C" {
#endif
int __devsim_request_firmware(const struct firmware **fw, const char *name, struct device *dev, __DEVSIM_SITE_PARAMS);
int __devsim_request_firmware_nowait(struct module *module, const char *name, struct device *dev, void *context,
                                     void (*cont)(const struct firmware *fw, void *context), __DEVSIM_SITE_PARAMS);
void __devsim_release_firmware(const struct firmware *fw, __DEVSIM_SITE_PARAMS);
#ifdef __cplusplus
}
#endif

/* For C drivers only: devsim's C++ side (cabi/) includes this header and keeps bus/firmware.hpp's names. */
#ifndef __cplusplus
#define request_firmware(fw, name, dev) __devsim_request_firmware((fw), (name), (dev), __DEVSIM_SITE)
#define firmware_request_nowarn(fw, name, dev) __devsim_request_firmware((fw), (name), (dev), __DEVSIM_SITE)
#define request_firmware_direct(fw, name, dev) __devsim_request_firmware((fw), (name), (dev), __DEVSIM_SITE)
#define request_firmware_nowait(module, uevent, name, dev, gfp, context, cont) \
  ((void)(uevent), (void)(gfp),                                                \
   __devsim_request_firmware_nowait((module), (name), (dev), (context), (cont), __DEVSIM_SITE))
#define release_firmware(fw) __devsim_release_firmware((fw), __DEVSIM_SITE)
#define MODULE_FIRMWARE(x) __devsim_modinfo
#endif

#endif
