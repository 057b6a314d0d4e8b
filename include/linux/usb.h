/*
 * linux/usb.h: USB interface drivers, the USB character-device minors and URBs (devsim, C gnu11).
 *
 * Backed by devsim's USB bus (bus/usb.hpp) through the C ABI (cabi/usb.cpp). A module registers a struct usb_driver
 * (usb_register, or module_usb_driver); it binds the devices the scenario plugs with the module's name, or
 * "usb:vVVVVpPPPP" of one of its id_table entries, as modalias (`device usb 1-1 MODULE`). Every mock device has one
 * interface whose setting has four endpoints, in this order: interrupt-in 0x81 (wMaxPacketSize 8, bInterval 10),
 * bulk-in 0x82 and bulk-out 0x02 (wMaxPacketSize 64 each), interrupt-out 0x01 (wMaxPacketSize 8, bInterval 10). The
 * struct usb_device and the struct usb_interface stand for one devsim device: usb_get_dev/usb_put_dev and
 * usb_get_intf/usb_put_intf are its reference count, and both structs are in simulated memory, freed with it (a driver
 * that uses them after the last reference is caught).
 *
 * Probe and disconnect run as drivers/usb/core/driver.c runs them: before disconnect (unplug, unbind, module
 * unload), every URB of the interface still in flight is given back with -ESHUTDOWN and waited for
 * (usb_unbind_interface -> usb_disable_interface); after an unplug usb_submit_urb fails with -ENODEV, after an
 * unbind with -ENOENT (the endpoint is disabled). The driver core clears the interface's data after disconnect.
 *
 * Character devices (drivers/usb/core/file.c): usb_register_dev takes a minor from minor_base upwards under
 * minor_rwsem (for writing) and makes a class device named after the last component of the class driver's name
 * formatted with the minor - minor_base ("usb/adutux%d" -> adutux0) and its node, /dev/<what the class driver's
 * devnode callback returns> (legousbtower.c: "usb/legousbtower0"), else /dev/<the device's name>, as devtmpfs
 * names it; opening the node runs usb_open, which
 * holds minor_rwsem for reading while it looks the minor up and calls the driver's open; usb_deregister_dev takes
 * minor_rwsem for writing, so it waits for an open in progress and no open reaches the driver afterwards.
 *
 * URBs: usb_alloc_urb/usb_free_urb (counted: an URB in flight holds a reference, so does its anchor), usb_fill_int_urb/
 * usb_fill_bulk_urb/usb_fill_control_urb, usb_submit_urb, usb_kill_urb (waits for a running completion),
 * usb_unlink_urb (asynchronous), usb_poison_urb, anchors; usb_control_msg/usb_bulk_msg/usb_interrupt_msg (below).
 * The completion handler runs in a task of its own, in hard-IRQ context, as the host controller's interrupt gives the
 * URB back. A transfer buffer or a setup packet on the submitting task's stack is refused, -EAGAIN with a warning, as
 * usb_hcd_map_urb_for_dma refuses it (CONFIG_VMAP_STACK): DMA buffers come from kmalloc.
 *
 * The mock device, scripted by the scenario per endpoint (0, 0x81, 0x82, 0x02, 0x01): `usb-data PORT [EP] "BYTES"`
 * makes it send BYTES as one transfer on an IN endpoint (default 0x81) or as the data stage of the next control
 * transfer (EP 0); `usb-error PORT EP -ERRNO` makes it end the next transfer on EP with that status (-EPROTO, -EILSEQ,
 * -ETIME, -EPIPE for a stall...). An IN URB takes the first thing scripted for its endpoint, or waits in the controller
 * for it (bytes beyond the buffer: -EOVERFLOW); what is scripted while no URB waits is kept (at most 16 per endpoint)
 * for the next one. OUT URBs complete at once with the whole buffer unless an error is scripted for the endpoint. A
 * control transfer completes at once: the scripted status, else an IN one with the scripted bytes (none: 0 bytes)
 * and an OUT one with its whole data stage. A stall is not sticky: the transfer after the failed one succeeds whether
 * or not the driver calls usb_clear_halt.
 *
 * Not modelled: configurations, alternate settings, isochronous transfers, scatter-gather, runtime PM
 * (usb_autopm_* are no-ops returning 0), system suspend/resume (the suspend/resume/reset_resume members are accepted
 * with the kernel's signatures and never called), pre_reset/post_reset, completion order across endpoints.
 */
#ifndef _DEVSIM_LINUX_USB_H
#define _DEVSIM_LINUX_USB_H

#include "device.h"
#include "devsim_abi.h"
#include "errno.h"
#include "fs.h"
#include "kernel.h"
#include "module.h"
#include "pm.h"
#ifndef __cplusplus /* sched/signal.h's `current` would rewrite the C++ side of the ABI */
#include "sched.h"  /* as the kernel's usb.h brings in schedule_timeout and the task states */
#endif
#include "types.h"
/* What a USB driver finds declared without including it, as the kernel's usb.h brings it in (through device.h,
 * fs.h, completion.h, sched.h, mutex.h, interrupt.h): the locks, the wait queues and the counting semaphore
 * usb-skeleton-style drivers keep in their state. Not for devsim's C++ side (cabi/usb.cpp), whose names their
 * macros would rewrite. */
#ifndef __cplusplus
#include "../asm/byteorder.h"
#include "completion.h"
#include "rwsem.h"
#include "sched.h"
#include "semaphore.h"
#include "spinlock.h"
#include "string.h"
#include "wait.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef __u16 __devsim_le16;
typedef u64 dma_addr_t; /* include/linux/types.h; a bus address as the host controller sees it */

/* The errno values URB status codes use that errno.h does not list (the kernel's numbers). */
#ifndef EXFULL
#define EXFULL 54
#endif
#ifndef EILSEQ
#define EILSEQ 84
#endif
#ifndef EADDRINUSE
#define EADDRINUSE 98
#endif
#ifndef ECONNRESET
#define ECONNRESET 104
#endif
#ifndef EINPROGRESS
#define EINPROGRESS 115
#endif
#ifndef EREMOTEIO
#define EREMOTEIO 121
#endif
#ifndef ENOSR
#define ENOSR 63
#endif
#ifndef ECOMM
#define ECOMM 70
#endif

/* ---- descriptors (include/uapi/linux/usb/ch9.h) ---- */

#define USB_DIR_OUT 0
#define USB_DIR_IN 0x80
#define USB_ENDPOINT_NUMBER_MASK 0x0f
#define USB_ENDPOINT_DIR_MASK 0x80
#define USB_ENDPOINT_XFERTYPE_MASK 0x03
#define USB_ENDPOINT_XFER_CONTROL 0
#define USB_ENDPOINT_XFER_ISOC 1
#define USB_ENDPOINT_XFER_BULK 2
#define USB_ENDPOINT_XFER_INT 3
#define USB_ENDPOINT_MAXP_MASK 0x07ff

/* Control requests (bRequestType: direction, type, recipient; bRequest). */
#define USB_TYPE_MASK (0x03 << 5)
#define USB_TYPE_STANDARD (0x00 << 5)
#define USB_TYPE_CLASS (0x01 << 5)
#define USB_TYPE_VENDOR (0x02 << 5)
#define USB_RECIP_MASK 0x1f
#define USB_RECIP_DEVICE 0x00
#define USB_RECIP_INTERFACE 0x01
#define USB_RECIP_ENDPOINT 0x02
#define USB_RECIP_OTHER 0x03
#define USB_REQ_GET_STATUS 0x00
#define USB_REQ_CLEAR_FEATURE 0x01
#define USB_REQ_SET_FEATURE 0x03
#define USB_REQ_GET_DESCRIPTOR 0x06
#define USB_REQ_GET_CONFIGURATION 0x08
#define USB_REQ_SET_CONFIGURATION 0x09
#define USB_REQ_GET_INTERFACE 0x0a
#define USB_REQ_SET_INTERFACE 0x0b
#define USB_ENDPOINT_HALT 0

/* Descriptor types (include/uapi/linux/usb/ch9.h). */
#define USB_DT_DEVICE 0x01
#define USB_DT_CONFIG 0x02
#define USB_DT_STRING 0x03
#define USB_DT_INTERFACE 0x04
#define USB_DT_ENDPOINT 0x05

struct usb_ctrlrequest {
  __u8 bRequestType;
  __u8 bRequest;
  __devsim_le16 wValue;
  __devsim_le16 wIndex;
  __devsim_le16 wLength;
} __attribute__((packed));

struct usb_device_descriptor {
  __u8 bLength;
  __u8 bDescriptorType;
  __devsim_le16 bcdUSB;
  __u8 bDeviceClass;
  __u8 bDeviceSubClass;
  __u8 bDeviceProtocol;
  __u8 bMaxPacketSize0;
  __devsim_le16 idVendor;
  __devsim_le16 idProduct;
  __devsim_le16 bcdDevice;
  __u8 iManufacturer;
  __u8 iProduct;
  __u8 iSerialNumber;
  __u8 bNumConfigurations;
};

/* The configuration descriptor (include/uapi/linux/usb/ch9.h); bMaxPower in units of 2 mA. */
struct usb_config_descriptor {
  __u8 bLength;
  __u8 bDescriptorType;
  __devsim_le16 wTotalLength;
  __u8 bNumInterfaces;
  __u8 bConfigurationValue;
  __u8 iConfiguration;
  __u8 bmAttributes;
  __u8 bMaxPower;
} __attribute__((packed));

/* include/uapi/linux/usb/ch9.h; the mock device is a high-speed one. */
enum usb_device_speed {
  USB_SPEED_UNKNOWN = 0,
  USB_SPEED_LOW,
  USB_SPEED_FULL,
  USB_SPEED_HIGH,
  USB_SPEED_WIRELESS,
  USB_SPEED_SUPER,
  USB_SPEED_SUPER_PLUS,
};

struct usb_interface_descriptor {
  __u8 bLength;
  __u8 bDescriptorType;
  __u8 bInterfaceNumber;
  __u8 bAlternateSetting;
  __u8 bNumEndpoints;
  __u8 bInterfaceClass;
  __u8 bInterfaceSubClass;
  __u8 bInterfaceProtocol;
  __u8 iInterface;
};

struct usb_endpoint_descriptor {
  __u8 bLength;
  __u8 bDescriptorType;
  __u8 bEndpointAddress;
  __u8 bmAttributes;
  __devsim_le16 wMaxPacketSize;
  __u8 bInterval;
};

static inline int usb_endpoint_num(const struct usb_endpoint_descriptor *epd) {
  return epd->bEndpointAddress & USB_ENDPOINT_NUMBER_MASK;
}
static inline int usb_endpoint_type(const struct usb_endpoint_descriptor *epd) {
  return epd->bmAttributes & USB_ENDPOINT_XFERTYPE_MASK;
}
static inline int usb_endpoint_dir_in(const struct usb_endpoint_descriptor *epd) {
  return (epd->bEndpointAddress & USB_ENDPOINT_DIR_MASK) == USB_DIR_IN;
}
static inline int usb_endpoint_dir_out(const struct usb_endpoint_descriptor *epd) {
  return (epd->bEndpointAddress & USB_ENDPOINT_DIR_MASK) == USB_DIR_OUT;
}
static inline int usb_endpoint_xfer_bulk(const struct usb_endpoint_descriptor *epd) {
  return usb_endpoint_type(epd) == USB_ENDPOINT_XFER_BULK;
}
static inline int usb_endpoint_xfer_int(const struct usb_endpoint_descriptor *epd) {
  return usb_endpoint_type(epd) == USB_ENDPOINT_XFER_INT;
}
static inline int usb_endpoint_is_bulk_in(const struct usb_endpoint_descriptor *epd) {
  return usb_endpoint_xfer_bulk(epd) && usb_endpoint_dir_in(epd);
}
static inline int usb_endpoint_is_bulk_out(const struct usb_endpoint_descriptor *epd) {
  return usb_endpoint_xfer_bulk(epd) && usb_endpoint_dir_out(epd);
}
static inline int usb_endpoint_is_int_in(const struct usb_endpoint_descriptor *epd) {
  return usb_endpoint_xfer_int(epd) && usb_endpoint_dir_in(epd);
}
static inline int usb_endpoint_is_int_out(const struct usb_endpoint_descriptor *epd) {
  return usb_endpoint_xfer_int(epd) && usb_endpoint_dir_out(epd);
}
static inline int usb_endpoint_maxp(const struct usb_endpoint_descriptor *epd) {
  return epd->wMaxPacketSize & USB_ENDPOINT_MAXP_MASK;
}

/* ---- device ids (include/linux/mod_devicetable.h, include/linux/usb.h) ---- */

#define USB_DEVICE_ID_MATCH_VENDOR 0x0001
#define USB_DEVICE_ID_MATCH_PRODUCT 0x0002
#define USB_DEVICE_ID_MATCH_DEV_LO 0x0004
#define USB_DEVICE_ID_MATCH_DEV_HI 0x0008
#define USB_DEVICE_ID_MATCH_DEV_CLASS 0x0010
#define USB_DEVICE_ID_MATCH_DEV_SUBCLASS 0x0020
#define USB_DEVICE_ID_MATCH_DEV_PROTOCOL 0x0040
#define USB_DEVICE_ID_MATCH_INT_CLASS 0x0080
#define USB_DEVICE_ID_MATCH_INT_SUBCLASS 0x0100
#define USB_DEVICE_ID_MATCH_INT_PROTOCOL 0x0200
#define USB_DEVICE_ID_MATCH_INT_NUMBER 0x0400
#define USB_DEVICE_ID_MATCH_DEVICE (USB_DEVICE_ID_MATCH_VENDOR | USB_DEVICE_ID_MATCH_PRODUCT)
#define USB_DEVICE_ID_MATCH_INT_INFO \
  (USB_DEVICE_ID_MATCH_INT_CLASS | USB_DEVICE_ID_MATCH_INT_SUBCLASS | USB_DEVICE_ID_MATCH_INT_PROTOCOL)

struct usb_device_id {
  __u16 match_flags;
  __u16 idVendor;
  __u16 idProduct;
  __u16 bcdDevice_lo, bcdDevice_hi;
  __u8 bDeviceClass, bDeviceSubClass, bDeviceProtocol;
  __u8 bInterfaceClass, bInterfaceSubClass, bInterfaceProtocol, bInterfaceNumber;
  unsigned long driver_info;
};

#define USB_DEVICE(vend, prod) .match_flags = USB_DEVICE_ID_MATCH_DEVICE, .idVendor = (vend), .idProduct = (prod)
/* Interface matches (include/linux/usb.h). devsim's device has one interface, number 0, whose class, subclass and
 * protocol a scenario's modalias sets ("usb:vVVVVpPPPPic0Aisc00ip00"; without them 0xff, 0, 0). */
#define USB_DEVICE_INTERFACE_CLASS(vend, prod, cl)                                                                    \
  .match_flags = USB_DEVICE_ID_MATCH_DEVICE | USB_DEVICE_ID_MATCH_INT_CLASS, .idVendor = (vend), .idProduct = (prod), \
  .bInterfaceClass = (cl)
#define USB_DEVICE_INTERFACE_PROTOCOL(vend, prod, pr)                                               \
  .match_flags = USB_DEVICE_ID_MATCH_DEVICE | USB_DEVICE_ID_MATCH_INT_PROTOCOL, .idVendor = (vend), \
  .idProduct = (prod), .bInterfaceProtocol = (pr)
#define USB_DEVICE_INTERFACE_NUMBER(vend, prod, num)                                                                   \
  .match_flags = USB_DEVICE_ID_MATCH_DEVICE | USB_DEVICE_ID_MATCH_INT_NUMBER, .idVendor = (vend), .idProduct = (prod), \
  .bInterfaceNumber = (num)
#define USB_INTERFACE_INFO(cl, sc, pr)                                                              \
  .match_flags = USB_DEVICE_ID_MATCH_INT_INFO, .bInterfaceClass = (cl), .bInterfaceSubClass = (sc), \
  .bInterfaceProtocol = (pr)
#define USB_DEVICE_AND_INTERFACE_INFO(vend, prod, cl, sc, pr)                                                        \
  .match_flags = USB_DEVICE_ID_MATCH_INT_INFO | USB_DEVICE_ID_MATCH_DEVICE, .idVendor = (vend), .idProduct = (prod), \
  .bInterfaceClass = (cl), .bInterfaceSubClass = (sc), .bInterfaceProtocol = (pr)
#define USB_VENDOR_AND_INTERFACE_INFO(vend, cl, sc, pr)                                         \
  .match_flags = USB_DEVICE_ID_MATCH_INT_INFO | USB_DEVICE_ID_MATCH_VENDOR, .idVendor = (vend), \
  .bInterfaceClass = (cl), .bInterfaceSubClass = (sc), .bInterfaceProtocol = (pr)

/* ---- devices, interfaces, drivers ---- */

enum usb_device_state {
  USB_STATE_NOTATTACHED = 0,
  USB_STATE_ATTACHED,
  USB_STATE_POWERED,
  USB_STATE_RECONNECTING,
  USB_STATE_UNAUTHENTICATED,
  USB_STATE_DEFAULT,
  USB_STATE_ADDRESS,
  USB_STATE_CONFIGURED,
  USB_STATE_SUSPENDED
};

struct usb_host_endpoint {
  struct usb_endpoint_descriptor desc;
};

struct usb_host_interface {
  struct usb_interface_descriptor desc;
  struct usb_host_endpoint *endpoint; /* desc.bNumEndpoints of them */
};

/*
 * usb_find_common_endpoints(): the first bulk-in, bulk-out, interrupt-in and interrupt-out endpoint of `alt`, for each
 * pointer that is not NULL (set to NULL when there is none); 0 when every one asked for was found, else -ENXIO.
 * The _reverse form takes the last of each kind. (drivers/usb/core/usb.c usb_find_common_endpoints.)
 */
static inline int __devsim_usb_take_endpoint(struct usb_endpoint_descriptor *epd,
                                             struct usb_endpoint_descriptor **bulk_in,
                                             struct usb_endpoint_descriptor **bulk_out,
                                             struct usb_endpoint_descriptor **int_in,
                                             struct usb_endpoint_descriptor **int_out) {
  struct usb_endpoint_descriptor **slot = NULL;

  if (usb_endpoint_is_bulk_in(epd))
    slot = bulk_in;
  else if (usb_endpoint_is_bulk_out(epd))
    slot = bulk_out;
  else if (usb_endpoint_is_int_in(epd))
    slot = int_in;
  else if (usb_endpoint_is_int_out(epd))
    slot = int_out;
  if (slot && !*slot) *slot = epd;
  return (!bulk_in || *bulk_in) && (!bulk_out || *bulk_out) && (!int_in || *int_in) && (!int_out || *int_out);
}

static inline int __devsim_usb_find_endpoints(struct usb_host_interface *alt, int reverse,
                                              struct usb_endpoint_descriptor **bulk_in,
                                              struct usb_endpoint_descriptor **bulk_out,
                                              struct usb_endpoint_descriptor **int_in,
                                              struct usb_endpoint_descriptor **int_out) {
  int n = alt->desc.bNumEndpoints;
  int k;

  if (bulk_in) *bulk_in = NULL;
  if (bulk_out) *bulk_out = NULL;
  if (int_in) *int_in = NULL;
  if (int_out) *int_out = NULL;
  for (k = 0; k < n; k++) {
    struct usb_endpoint_descriptor *epd = &alt->endpoint[reverse ? n - 1 - k : k].desc;

    if (__devsim_usb_take_endpoint(epd, bulk_in, bulk_out, int_in, int_out)) return 0;
  }
  return -ENXIO;
}

static inline int __must_check usb_find_common_endpoints(struct usb_host_interface *alt,
                                                         struct usb_endpoint_descriptor **bulk_in,
                                                         struct usb_endpoint_descriptor **bulk_out,
                                                         struct usb_endpoint_descriptor **int_in,
                                                         struct usb_endpoint_descriptor **int_out) {
  return __devsim_usb_find_endpoints(alt, 0, bulk_in, bulk_out, int_in, int_out);
}
static inline int __must_check usb_find_common_endpoints_reverse(struct usb_host_interface *alt,
                                                                 struct usb_endpoint_descriptor **bulk_in,
                                                                 struct usb_endpoint_descriptor **bulk_out,
                                                                 struct usb_endpoint_descriptor **int_in,
                                                                 struct usb_endpoint_descriptor **int_out) {
  return __devsim_usb_find_endpoints(alt, 1, bulk_in, bulk_out, int_in, int_out);
}
static inline int __must_check usb_find_bulk_in_endpoint(struct usb_host_interface *alt,
                                                         struct usb_endpoint_descriptor **bulk_in) {
  return usb_find_common_endpoints(alt, bulk_in, NULL, NULL, NULL);
}
static inline int __must_check usb_find_bulk_out_endpoint(struct usb_host_interface *alt,
                                                          struct usb_endpoint_descriptor **bulk_out) {
  return usb_find_common_endpoints(alt, NULL, bulk_out, NULL, NULL);
}
static inline int __must_check usb_find_int_in_endpoint(struct usb_host_interface *alt,
                                                        struct usb_endpoint_descriptor **int_in) {
  return usb_find_common_endpoints(alt, NULL, NULL, int_in, NULL);
}
static inline int __must_check usb_find_int_out_endpoint(struct usb_host_interface *alt,
                                                         struct usb_endpoint_descriptor **int_out) {
  return usb_find_common_endpoints(alt, NULL, NULL, NULL, int_out);
}
static inline int __must_check usb_find_last_bulk_in_endpoint(struct usb_host_interface *alt,
                                                              struct usb_endpoint_descriptor **bulk_in) {
  return usb_find_common_endpoints_reverse(alt, bulk_in, NULL, NULL, NULL);
}
static inline int __must_check usb_find_last_bulk_out_endpoint(struct usb_host_interface *alt,
                                                               struct usb_endpoint_descriptor **bulk_out) {
  return usb_find_common_endpoints_reverse(alt, NULL, bulk_out, NULL, NULL);
}
static inline int __must_check usb_find_last_int_in_endpoint(struct usb_host_interface *alt,
                                                             struct usb_endpoint_descriptor **int_in) {
  return usb_find_common_endpoints_reverse(alt, NULL, NULL, int_in, NULL);
}
static inline int __must_check usb_find_last_int_out_endpoint(struct usb_host_interface *alt,
                                                              struct usb_endpoint_descriptor **int_out) {
  return usb_find_common_endpoints_reverse(alt, NULL, NULL, NULL, int_out);
}

struct usb_device {
  int devnum;
  char devpath[16];
  enum usb_device_state state;
  struct usb_device_descriptor descriptor;
  enum usb_device_speed speed;
  struct usb_host_config *config;    /* its configurations: the mock device has one */
  struct usb_host_config *actconfig; /* the active one, the same */
  struct device dev;                 /* stands for devsim's device, as the interface's does */
  /* The strings the USB core read at enumeration (usb_cache_string), NUL-terminated; NULL when the device has none. */
  char *product;
  char *manufacturer;
  char *serial;
  int string_langid; /* usb_string's language: set at the first call, -1 when the device has no strings */
  unsigned int have_langid : 1;
};

struct usb_interface {
  struct usb_host_interface *altsetting;
  struct usb_host_interface *cur_altsetting;
  unsigned int num_altsetting;
  int minor; /* usb_register_dev's minor, -1 when none */
  struct device dev;
  struct device *usb_dev; /* the class device of the minor */
};

#define USB_MAXINTERFACES 32
/* A configuration: its descriptor and its interfaces (include/linux/usb.h). */
struct usb_host_config {
  struct usb_config_descriptor desc;
  char *string;
  struct usb_interface *interface[USB_MAXINTERFACES];
};

#define to_usb_device(d) container_of((d), struct usb_device, dev)
#define to_usb_interface(d) container_of((d), struct usb_interface, dev)

struct usb_driver {
  const char *name;
  int (*probe)(struct usb_interface *intf, const struct usb_device_id *id);
  void (*disconnect)(struct usb_interface *intf);
  int (*unlocked_ioctl)(struct usb_interface *intf, unsigned int code, void *buf);
  int (*suspend)(struct usb_interface *intf, pm_message_t message);
  int (*resume)(struct usb_interface *intf);
  int (*reset_resume)(struct usb_interface *intf);
  int (*pre_reset)(struct usb_interface *intf);
  int (*post_reset)(struct usb_interface *intf);
  const struct usb_device_id *id_table;      /* ends with an all-zero entry */
  const struct attribute_group **dev_groups; /* created on the interface after probe, removed before disconnect */
  struct device_driver driver; /* its driver.dev_groups, when dev_groups is unset, are used the same way */
  unsigned int supports_autosuspend : 1;
  unsigned int soft_unbind : 1;
  unsigned int disable_hub_initiated_lpm : 1;
};

struct usb_class_driver {
  char *name; /* a printf format taking the minor - minor_base: "skel%d" */
#ifdef __cplusplus
  char *(*devnode)(const struct device *dev, umode_t *mode);
#else
  /* (const struct device *dev, umode_t *mode) since Linux 6.2, (struct device *dev, umode_t *mode) before: left
   * unprototyped so that a driver of either era compiles without a warning (the one this takes is silenced here,
   * for builds with the kernel's -Wstrict-prototypes); devsim calls it with the two pointers. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#ifdef __clang__
#if __has_warning("-Wdeprecated-non-prototype")
#pragma GCC diagnostic ignored "-Wdeprecated-non-prototype"
#endif
#endif
  char *(*devnode)();
#pragma GCC diagnostic pop
#endif
  const struct file_operations *fops;
  int minor_base;
};

struct usb_device *__devsim_interface_to_usbdev(struct usb_interface *intf, __DEVSIM_SITE_PARAMS);
struct usb_device *__devsim_usb_get_dev(struct usb_device *dev, __DEVSIM_SITE_PARAMS);
void __devsim_usb_put_dev(struct usb_device *dev, __DEVSIM_SITE_PARAMS);
int __devsim_usb_register_driver(struct usb_driver *drv, struct module *owner, __DEVSIM_SITE_PARAMS);
void __devsim_usb_deregister(struct usb_driver *drv, __DEVSIM_SITE_PARAMS);
int __devsim_usb_register_dev(struct usb_interface *intf, struct usb_class_driver *class_driver, __DEVSIM_SITE_PARAMS);
void __devsim_usb_deregister_dev(struct usb_interface *intf, struct usb_class_driver *class_driver,
                                 __DEVSIM_SITE_PARAMS);
struct usb_interface *__devsim_usb_find_interface(struct usb_driver *drv, int minor, __DEVSIM_SITE_PARAMS);

#define interface_to_usbdev(intf) __devsim_interface_to_usbdev((intf), __DEVSIM_SITE)
#define usb_get_dev(dev) __devsim_usb_get_dev((dev), __DEVSIM_SITE)
#define usb_put_dev(dev) __devsim_usb_put_dev((dev), __DEVSIM_SITE)
/* The interface and its device are one devsim device: their counts are one. */
static inline struct usb_interface *usb_get_intf(struct usb_interface *intf) {
  get_device(&intf->dev);
  return intf;
}
static inline void usb_put_intf(struct usb_interface *intf) {
  put_device(&intf->dev);
}

static inline void *usb_get_intfdata(struct usb_interface *intf) {
  return dev_get_drvdata(&intf->dev);
}
static inline void usb_set_intfdata(struct usb_interface *intf, void *data) {
  dev_set_drvdata(&intf->dev, data);
}

#define usb_register(drv) __devsim_usb_register_driver((drv), THIS_MODULE, __DEVSIM_SITE)
#define usb_deregister(drv) __devsim_usb_deregister((drv), __DEVSIM_SITE)
#define usb_register_dev(intf, class_driver) __devsim_usb_register_dev((intf), (class_driver), __DEVSIM_SITE)
#define usb_deregister_dev(intf, class_driver) __devsim_usb_deregister_dev((intf), (class_driver), __DEVSIM_SITE)
#define usb_find_interface(drv, minor) __devsim_usb_find_interface((drv), (minor), __DEVSIM_SITE)

/* Runtime power management is not modelled: the device is always awake. */
static inline int usb_autopm_get_interface(struct usb_interface *intf) {
  (void)intf;
  return 0;
}
static inline void usb_autopm_put_interface(struct usb_interface *intf) {
  (void)intf;
}
static inline void usb_enable_autosuspend(struct usb_device *udev) {
  (void)udev;
}
static inline void usb_disable_autosuspend(struct usb_device *udev) {
  (void)udev;
}

/* include/linux/usb.h usb_translate_errors: what a driver may pass on to user space; anything else is -EIO. */
static inline int usb_translate_errors(int error_code) {
  switch (error_code) {
    case 0:
    case -ENOMEM:
    case -ENODEV:
    case -EOPNOTSUPP:
      return error_code;
    default:
      return -EIO;
  }
}

/* module_usb_driver: a module whose init registers the driver and whose exit deregisters it. */
#define module_usb_driver(__usb_driver)          \
  static int __init __usb_driver##_init(void) {  \
    return usb_register(&(__usb_driver));        \
  }                                              \
  module_init(__usb_driver##_init);              \
  static void __exit __usb_driver##_exit(void) { \
    usb_deregister(&(__usb_driver));             \
  }                                              \
  module_exit(__usb_driver##_exit)

/* ---- URBs ---- */

struct urb;
struct usb_anchor;
typedef void (*usb_complete_t)(struct urb *);

#define URB_SHORT_NOT_OK 0x0001
#define URB_ZERO_PACKET 0x0040
#define URB_NO_TRANSFER_DMA_MAP 0x0004

struct urb {
  int __devsim_refs;         /* devsim's: the URB's reference count (usb_get_urb/usb_free_urb) */
  struct usb_anchor *anchor; /* the anchor it is on (usb_anchor_urb), NULL when none */
  struct usb_device *dev;
  unsigned int pipe;
  int status;
  unsigned int transfer_flags;
  void *transfer_buffer;
  dma_addr_t transfer_dma;
  u32 transfer_buffer_length;
  u32 actual_length;
  unsigned char *setup_packet; /* control URBs: the 8-byte struct usb_ctrlrequest */
  dma_addr_t setup_dma;
  int start_frame;
  int number_of_packets;
  int interval;
  int error_count;
  void *context;
  usb_complete_t complete;
};

/* Pipes (include/linux/usb.h): type in bits 30-31, endpoint in 15-18, device in 8-14, direction in bit 7. */
#define PIPE_ISOCHRONOUS 0
#define PIPE_INTERRUPT 1
#define PIPE_CONTROL 2
#define PIPE_BULK 3
#define usb_pipein(pipe) ((pipe)&USB_DIR_IN)
#define usb_pipeout(pipe) (!usb_pipein(pipe))
#define usb_pipeendpoint(pipe) (((pipe) >> 15) & 0xf)
#define usb_pipetype(pipe) (((pipe) >> 30) & 3)
static inline unsigned int __create_pipe(struct usb_device *dev, unsigned int endpoint) {
  return ((unsigned int)dev->devnum << 8) | (endpoint << 15);
}
#define usb_sndbulkpipe(dev, ep) ((PIPE_BULK << 30) | __create_pipe(dev, ep))
#define usb_rcvbulkpipe(dev, ep) ((PIPE_BULK << 30) | __create_pipe(dev, ep) | USB_DIR_IN)
#define usb_sndintpipe(dev, ep) ((PIPE_INTERRUPT << 30) | __create_pipe(dev, ep))
#define usb_rcvintpipe(dev, ep) ((PIPE_INTERRUPT << 30) | __create_pipe(dev, ep) | USB_DIR_IN)
#define usb_sndctrlpipe(dev, ep) ((PIPE_CONTROL << 30) | __create_pipe(dev, ep))
#define usb_rcvctrlpipe(dev, ep) ((PIPE_CONTROL << 30) | __create_pipe(dev, ep) | USB_DIR_IN)
#define usb_pipecontrol(pipe) (usb_pipetype((pipe)) == PIPE_CONTROL)
#define usb_pipebulk(pipe) (usb_pipetype((pipe)) == PIPE_BULK)
#define usb_pipeint(pipe) (usb_pipetype((pipe)) == PIPE_INTERRUPT)

struct urb *__devsim_usb_alloc_urb(int iso_packets, gfp_t mem_flags, __DEVSIM_SITE_PARAMS);
void __devsim_usb_free_urb(struct urb *urb, __DEVSIM_SITE_PARAMS);
struct urb *__devsim_usb_get_urb(struct urb *urb, __DEVSIM_SITE_PARAMS);
int __devsim_usb_submit_urb(struct urb *urb, gfp_t mem_flags, __DEVSIM_SITE_PARAMS);
void __devsim_usb_kill_urb(struct urb *urb, __DEVSIM_SITE_PARAMS);
int __devsim_usb_unlink_urb(struct urb *urb, __DEVSIM_SITE_PARAMS);

#define usb_alloc_urb(iso_packets, mem_flags) __devsim_usb_alloc_urb((iso_packets), (mem_flags), __DEVSIM_SITE)
#define usb_free_urb(urb) __devsim_usb_free_urb((urb), __DEVSIM_SITE)
#define usb_get_urb(urb) __devsim_usb_get_urb((urb), __DEVSIM_SITE)
#define usb_submit_urb(urb, mem_flags) __devsim_usb_submit_urb((urb), (mem_flags), __DEVSIM_SITE)
#define usb_kill_urb(urb) __devsim_usb_kill_urb((urb), __DEVSIM_SITE)
#define usb_unlink_urb(urb) __devsim_usb_unlink_urb((urb), __DEVSIM_SITE)

/*
 * usb_poison_urb: as usb_kill_urb (gives the URB back with -ENOENT if it is in flight and waits for its completion to
 * return), and every later submission fails with -EPERM until usb_unpoison_urb. usb_block_urb rejects submissions
 * without killing. Poisoning nests: each poison needs its unpoison. (drivers/usb/core/urb.c.)
 */
void __devsim_usb_poison_urb(struct urb *urb, __DEVSIM_SITE_PARAMS);
void __devsim_usb_unpoison_urb(struct urb *urb, __DEVSIM_SITE_PARAMS);
void __devsim_usb_block_urb(struct urb *urb, __DEVSIM_SITE_PARAMS);
#define usb_poison_urb(urb) __devsim_usb_poison_urb((urb), __DEVSIM_SITE)
#define usb_unpoison_urb(urb) __devsim_usb_unpoison_urb((urb), __DEVSIM_SITE)
#define usb_block_urb(urb) __devsim_usb_block_urb((urb), __DEVSIM_SITE)

/*
 * DMA-able buffers for URBs (usb_alloc_coherent, usb_free_coherent): simulated memory, like kmalloc with mem_flags
 * (not zeroed unless __GFP_ZERO); *dma gets the buffer's bus address. The device is read (a freed one is a
 * use-after-free, as the kernel's hcd_buffer_alloc/hcd_buffer_free read dev->bus). NULL for a NULL device or size 0.
 */
void *__devsim_usb_alloc_coherent(struct usb_device *dev, size_t size, gfp_t mem_flags, dma_addr_t *dma,
                                  __DEVSIM_SITE_PARAMS);
void __devsim_usb_free_coherent(struct usb_device *dev, size_t size, void *addr, dma_addr_t dma, __DEVSIM_SITE_PARAMS);
#define usb_alloc_coherent(dev, size, mem_flags, dma) \
  __devsim_usb_alloc_coherent((dev), (size), (mem_flags), (dma), __DEVSIM_SITE)
#define usb_free_coherent(dev, size, addr, dma) __devsim_usb_free_coherent((dev), (size), (addr), (dma), __DEVSIM_SITE)

/*
 * Anchors (drivers/usb/core/urb.c): a set of URBs a driver tracks together. usb_anchor_urb takes a reference on the
 * URB and puts it on the anchor (a poisoned anchor poisons it); an URB leaves its anchor when the host controller
 * gives it back (usb_unanchor_urb just before its completion handler; the anchor counts as empty for
 * usb_wait_anchor_empty_timeout and usb_kill_anchored_urbs only once that handler returned, as hcd.c's
 * __usb_hcd_giveback_urb suspends the anchor's wake-ups around it). usb_kill_anchored_urbs/usb_poison_anchored_urbs
 * kill (poison) the anchored URBs newest first until the anchor is empty: an URB anchored but never submitted never
 * leaves, and the kill spins, as the kernel's does. usb_unlink_anchored_urbs unlinks them without waiting,
 * usb_scuttle_anchored_urbs takes them off without killing, usb_get_from_anchor takes the oldest off (with a
 * reference for the caller). The anchor itself is only touched: the list is the model's.
 */
struct usb_anchor {
  unsigned int __devsim_urbs; /* devsim's: how many URBs are anchored (the list is kept by devsim) */
  unsigned int poisoned : 1;
};

void __devsim_init_usb_anchor(struct usb_anchor *anchor, __DEVSIM_SITE_PARAMS);
void __devsim_usb_anchor_urb(struct urb *urb, struct usb_anchor *anchor, __DEVSIM_SITE_PARAMS);
void __devsim_usb_unanchor_urb(struct urb *urb, __DEVSIM_SITE_PARAMS);
void __devsim_usb_kill_anchored_urbs(struct usb_anchor *anchor, __DEVSIM_SITE_PARAMS);
void __devsim_usb_poison_anchored_urbs(struct usb_anchor *anchor, __DEVSIM_SITE_PARAMS);
void __devsim_usb_unpoison_anchored_urbs(struct usb_anchor *anchor, __DEVSIM_SITE_PARAMS);
void __devsim_usb_unlink_anchored_urbs(struct usb_anchor *anchor, __DEVSIM_SITE_PARAMS);
void __devsim_usb_scuttle_anchored_urbs(struct usb_anchor *anchor, __DEVSIM_SITE_PARAMS);
struct urb *__devsim_usb_get_from_anchor(struct usb_anchor *anchor, __DEVSIM_SITE_PARAMS);
int __devsim_usb_wait_anchor_empty_timeout(struct usb_anchor *anchor, unsigned int timeout, __DEVSIM_SITE_PARAMS);
int __devsim_usb_anchor_empty(struct usb_anchor *anchor, __DEVSIM_SITE_PARAMS);

#define init_usb_anchor(anchor) __devsim_init_usb_anchor((anchor), __DEVSIM_SITE)
#define usb_anchor_urb(urb, anchor) __devsim_usb_anchor_urb((urb), (anchor), __DEVSIM_SITE)
#define usb_unanchor_urb(urb) __devsim_usb_unanchor_urb((urb), __DEVSIM_SITE)
#define usb_kill_anchored_urbs(anchor) __devsim_usb_kill_anchored_urbs((anchor), __DEVSIM_SITE)
#define usb_poison_anchored_urbs(anchor) __devsim_usb_poison_anchored_urbs((anchor), __DEVSIM_SITE)
#define usb_unpoison_anchored_urbs(anchor) __devsim_usb_unpoison_anchored_urbs((anchor), __DEVSIM_SITE)
#define usb_unlink_anchored_urbs(anchor) __devsim_usb_unlink_anchored_urbs((anchor), __DEVSIM_SITE)
#define usb_scuttle_anchored_urbs(anchor) __devsim_usb_scuttle_anchored_urbs((anchor), __DEVSIM_SITE)
#define usb_get_from_anchor(anchor) __devsim_usb_get_from_anchor((anchor), __DEVSIM_SITE)
/* timeout in milliseconds; nonzero when the anchor became empty in time, 0 when it timed out. */
#define usb_wait_anchor_empty_timeout(anchor, timeout) \
  __devsim_usb_wait_anchor_empty_timeout((anchor), (timeout), __DEVSIM_SITE)
#define usb_anchor_empty(anchor) __devsim_usb_anchor_empty((anchor), __DEVSIM_SITE)

/*
 * Synchronous messages (drivers/usb/core/message.c): an URB submitted and waited for, uninterruptibly, up to
 * `timeout` milliseconds (0: no limit); on timeout the URB is killed and the call fails with -ETIMEDOUT. After an
 * unplug they fail with -ENODEV; one in flight when the device goes fails with -ESHUTDOWN. usb_control_msg returns
 * the bytes transferred; usb_bulk_msg/usb_interrupt_msg return 0 and store them in *actual_length (also on error).
 * usb_bulk_msg on an interrupt endpoint makes an interrupt transfer, as the kernel's does. What the mock device
 * answers: see the top of this file. usb_clear_halt sends CLEAR_FEATURE(ENDPOINT_HALT) to the endpoint.
 */
#define USB_CTRL_GET_TIMEOUT 5000
#define USB_CTRL_SET_TIMEOUT 5000

int __devsim_usb_control_msg(struct usb_device *dev, unsigned int pipe, __u8 request, __u8 requesttype, __u16 value,
                             __u16 index, void *data, __u16 size, int timeout, __DEVSIM_SITE_PARAMS);
int __devsim_usb_bulk_msg(struct usb_device *dev, unsigned int pipe, void *data, int len, int *actual_length,
                          int timeout, __DEVSIM_SITE_PARAMS);
int __devsim_usb_clear_halt(struct usb_device *dev, int pipe, __DEVSIM_SITE_PARAMS);
#define usb_control_msg(dev, pipe, request, requesttype, value, index, data, size, timeout)                      \
  __devsim_usb_control_msg((dev), (pipe), (request), (requesttype), (value), (index), (data), (size), (timeout), \
                           __DEVSIM_SITE)
#define usb_bulk_msg(dev, pipe, data, len, actual_length, timeout) \
  __devsim_usb_bulk_msg((dev), (pipe), (data), (len), (actual_length), (timeout), __DEVSIM_SITE)
#define usb_interrupt_msg(dev, pipe, data, len, actual_length, timeout) \
  __devsim_usb_bulk_msg((dev), (pipe), (data), (len), (actual_length), (timeout), __DEVSIM_SITE)

#ifndef __cplusplus
/* drivers/usb/core/message.c (Linux 5.10): the data goes through a buffer of its own, kmalloc'd with memflags, so the
 * caller's may be on its stack. Both return 0 or an error; a receive that gets fewer bytes than asked is -EREMOTEIO
 * (the caller's buffer untouched). */
static inline int usb_control_msg_send(struct usb_device *dev, __u8 endpoint, __u8 request, __u8 requesttype,
                                       __u16 value, __u16 index, const void *driver_data, __u16 size, int timeout,
                                       gfp_t memflags) {
  unsigned int pipe = usb_sndctrlpipe(dev, endpoint);
  void *data = NULL;
  int ret;

  if (size) {
    data = kmemdup(driver_data, size, memflags);
    if (!data) return -ENOMEM;
  }
  ret = usb_control_msg(dev, pipe, request, requesttype, value, index, data, size, timeout);
  kfree(data);
  return ret < 0 ? ret : 0;
}

static inline int usb_control_msg_recv(struct usb_device *dev, __u8 endpoint, __u8 request, __u8 requesttype,
                                       __u16 value, __u16 index, void *driver_data, __u16 size, int timeout,
                                       gfp_t memflags) {
  unsigned int pipe = usb_rcvctrlpipe(dev, endpoint);
  void *data;
  int ret;

  if (!size || !driver_data) return -EINVAL;
  data = kmalloc(size, memflags);
  if (!data) return -ENOMEM;
  ret = usb_control_msg(dev, pipe, request, requesttype, value, index, data, size, timeout);
  if (ret >= 0) {
    if (ret == size) {
      memcpy(driver_data, data, size);
      ret = 0;
    } else {
      ret = -EREMOTEIO;
    }
  }
  kfree(data);
  return ret;
}
#endif

#define USB_MAJOR 180 /* include/uapi/linux/major.h */
#ifndef __cplusplus
/*
 * usb_get_descriptor (drivers/usb/core/message.c): descriptor `type`/`index` of the device into `buf`; the bytes read
 * or a negative error. As the kernel does, up to three tries: a failure other than -ETIMEDOUT, or an empty answer, is
 * asked again, and an answer whose second byte is not `type` is -ENODATA (also tried again).
 */
static inline int usb_get_descriptor(struct usb_device *dev, unsigned char type, unsigned char index, void *buf,
                                     int size) {
  int i, result = -ENOMEM;

  memset(buf, 0, (size_t)size); /* make sure we parse really received data */
  for (i = 0; i < 3; ++i) {
    result = usb_control_msg(dev, usb_rcvctrlpipe(dev, 0), USB_REQ_GET_DESCRIPTOR, USB_DIR_IN, (type << 8) + index, 0,
                             buf, size, USB_CTRL_GET_TIMEOUT);
    if (result <= 0 && result != -ETIMEDOUT) continue;
    if (result > 1 && ((unsigned char *)buf)[1] != type) {
      result = -ENODATA;
      continue;
    }
    break;
  }
  return result;
}

/* usb_get_string (message.c): three tries, an empty answer or a stall asked again, a wrong type -ENODATA. */
static inline int __devsim_usb_get_string(struct usb_device *dev, unsigned short langid, unsigned char index,
                                          unsigned char *buf, int size) {
  int i, result = -EINVAL;

  if (size <= 0) return -EINVAL;
  for (i = 0; i < 3; ++i) {
    result = usb_control_msg(dev, usb_rcvctrlpipe(dev, 0), USB_REQ_GET_DESCRIPTOR, USB_DIR_IN,
                             (USB_DT_STRING << 8) + index, langid, buf, size, USB_CTRL_GET_TIMEOUT);
    if (result == 0 || result == -EPIPE) continue;
    if (result > 1 && buf[1] != USB_DT_STRING) {
      result = -ENODATA;
      continue;
    }
    break;
  }
  return result;
}

/* usb_string_sub (message.c): all 255 bytes asked first, else the length and then that many; an even length. */
static inline int __devsim_usb_string_sub(struct usb_device *dev, unsigned int langid, unsigned int index,
                                          unsigned char *buf) {
  int rc = __devsim_usb_get_string(dev, (unsigned short)langid, (unsigned char)index, buf, 255);

  if (rc < 2) {
    rc = __devsim_usb_get_string(dev, (unsigned short)langid, (unsigned char)index, buf, 2);
    if (rc == 2) rc = __devsim_usb_get_string(dev, (unsigned short)langid, (unsigned char)index, buf, buf[0]);
  }
  if (rc >= 2) {
    if (buf[0] < rc) rc = buf[0]; /* extra junk at the end of the descriptor */
    rc = rc - (rc & 1);
  }
  if (rc < 2) rc = (rc < 0 ? rc : -EINVAL);
  return rc;
}

/* usb_get_langid (message.c): the device's first language, asked once per device (string descriptor 0). */
static inline int __devsim_usb_get_langid(struct usb_device *dev, unsigned char *tbuf) {
  int err;

  if (dev->have_langid) return 0;
  if (dev->string_langid < 0) return -EPIPE;
  err = __devsim_usb_string_sub(dev, 0, 0, tbuf);
  if (err == -ENODATA || (err > 0 && err < 4)) { /* malformed: English */
    dev->string_langid = 0x0409;
    dev->have_langid = 1;
    return 0;
  }
  if (err < 0) { /* the device cannot do strings: none is asked again */
    dev->string_langid = -1;
    return -EPIPE;
  }
  dev->string_langid = tbuf[2] | (tbuf[3] << 8);
  dev->have_langid = 1;
  return 0;
}

/*
 * utf16s_to_utf8s (fs/nls/nls_base.c) for little-endian input: at most `maxout` bytes; a character that does not fit,
 * or an unpaired surrogate, is skipped.
 */
static inline int __devsim_utf16le_to_utf8(const unsigned char *in, int inlen, char *out, int maxout) {
  char *op = out;

  while (inlen > 0 && maxout > 0) {
    unsigned long u = in[0] | (unsigned long)in[1] << 8;
    int size;

    in += 2;
    inlen--;
    if (u < 0x80) {
      *op++ = (char)u;
      maxout--;
      continue;
    }
    if (u >= 0xd800 && u <= 0xdfff) {
      unsigned long v;

      if (u >= 0xdc00 || inlen <= 0) continue; /* an unpaired surrogate */
      v = in[0] | (unsigned long)in[1] << 8;
      if (v < 0xdc00 || v > 0xdfff) continue;
      u = 0x10000 + ((u - 0xd800) << 10) + (v - 0xdc00);
      in += 2;
      inlen--;
    }
    size = u < 0x800 ? 2 : u < 0x10000 ? 3 : 4;
    if (size > maxout) continue; /* does not fit: skipped, as utf32_to_utf8 returns -1 */
    switch (size) {
      case 2:
        op[0] = (char)(0xc0 | (u >> 6));
        break;
      case 3:
        op[0] = (char)(0xe0 | (u >> 12));
        op[1] = (char)(0x80 | ((u >> 6) & 0x3f));
        break;
      default:
        op[0] = (char)(0xf0 | (u >> 18));
        op[1] = (char)(0x80 | ((u >> 12) & 0x3f));
        op[2] = (char)(0x80 | ((u >> 6) & 0x3f));
        break;
    }
    op[size - 1] = (char)(0x80 | (u & 0x3f));
    op += size;
    maxout -= size;
  }
  return (int)(op - out);
}

/*
 * usb_string (drivers/usb/core/message.c): string descriptor `index` in the device's language as NUL-terminated UTF-8
 * in `buf` (`size` bytes with the NUL); its length or a negative error. The first call asks string descriptor 0 for
 * the language (usb_get_langid); every request is a control transfer the mock device answers (from its descriptors,
 * or with what is scripted on endpoint 0), with message.c's retries.
 */
static inline int usb_string(struct usb_device *dev, int index, char *buf, size_t size) {
  unsigned char *tbuf;
  int err;

  if (size <= 0 || !buf) return -EINVAL;
  buf[0] = 0;
  if (index <= 0 || index >= 256) return -EINVAL;
  tbuf = (unsigned char *)kmalloc(256, GFP_NOIO);
  if (!tbuf) return -ENOMEM;
  err = __devsim_usb_get_langid(dev, tbuf);
  if (err < 0) goto errout;
  err = __devsim_usb_string_sub(dev, (unsigned int)dev->string_langid, (unsigned int)index, tbuf);
  if (err < 0) goto errout;
  size--; /* leave room for the trailing NUL */
  err = __devsim_utf16le_to_utf8(&tbuf[2], (err - 2) / 2, buf, (int)size);
  buf[err] = 0;
errout:
  kfree(tbuf);
  return err;
}
#endif
#define usb_clear_halt(dev, pipe) __devsim_usb_clear_halt((dev), (pipe), __DEVSIM_SITE)

static inline void usb_fill_bulk_urb(struct urb *urb, struct usb_device *dev, unsigned int pipe, void *transfer_buffer,
                                     int buffer_length, usb_complete_t complete_fn, void *context) {
  urb->dev = dev;
  urb->pipe = pipe;
  urb->transfer_buffer = transfer_buffer;
  urb->transfer_buffer_length = (u32)buffer_length;
  urb->complete = complete_fn;
  urb->context = context;
}

static inline void usb_fill_control_urb(struct urb *urb, struct usb_device *dev, unsigned int pipe,
                                        unsigned char *setup_packet, void *transfer_buffer, int buffer_length,
                                        usb_complete_t complete_fn, void *context) {
  usb_fill_bulk_urb(urb, dev, pipe, transfer_buffer, buffer_length, complete_fn, context);
  urb->setup_packet = setup_packet;
}

static inline void usb_fill_int_urb(struct urb *urb, struct usb_device *dev, unsigned int pipe, void *transfer_buffer,
                                    int buffer_length, usb_complete_t complete_fn, void *context, int interval) {
  usb_fill_bulk_urb(urb, dev, pipe, transfer_buffer, buffer_length, complete_fn, context);
  urb->interval = interval;
}

#ifdef __cplusplus
}
#endif

#endif
