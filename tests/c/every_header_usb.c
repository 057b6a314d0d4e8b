/*
 * Uses every function and macro of linux/usb.h that the other C files do not, for the compile check
 * (check_c_drivers_compile.sh), and is also built as the test module cusb_api (tests/c/CMakeLists.txt) that
 * test_c_usb.cpp loads: a USB interface driver whose ioctls each exercise one piece of the USB API against the mock
 * device, returning what the API returned so the scenario can expect it.
 *
 * /dev/usbapi0 (minor 200): the state is kref-counted (the binding and every open file hold a reference), and
 * disconnect sets `disconnected` under io_mutex, which every ioctl checks, as usb-skeleton does
 * (USBAPI_UNCHECKED + n: ioctl n without the check).
 */
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/kref.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#include <linux/usb.h>
#include <linux/wait.h>

#define USBAPI_MINOR_BASE 200
#define USBAPI_BUF 64
#define USBAPI_MAX_URBS 8
#define USBAPI_TIMEOUT_MS 100

/* The ioctls: see test_c_usb.cpp for what each is expected to return. */
#define USBAPI_ENDPOINTS 1     /* usb_find_common_endpoints and friends: the addresses found, packed */
#define USBAPI_POISON 2        /* submit the interrupt-in URB, poison it, submit again: that submission's result */
#define USBAPI_STATUS 3        /* the interrupt-in URB's last completion status */
#define USBAPI_UNPOISON 4      /* unpoison the interrupt-in URB and submit it: the submission's result */
#define USBAPI_LENGTH 5        /* the interrupt-in URB's last actual_length */
#define USBAPI_ANCHOR_OUT 6    /* arg bulk-out URBs anchored, then waited for: the completions counted at the end */
#define USBAPI_ANCHOR_IN 7     /* arg interrupt-in URBs anchored, a short wait, then killed: the -ENOENT completions */
#define USBAPI_ANCHOR_POISON 8 /* a poisoned anchor rejects a new URB: that submission's result */
#define USBAPI_BULK_READ 9     /* usb_bulk_msg on bulk-in, the bytes copied to the user buffer: the length */
#define USBAPI_INT_READ 10     /* usb_interrupt_msg on interrupt-in, as above */
#define USBAPI_CTRL_IN 11      /* usb_control_msg, IN, 8 bytes asked, copied to the user buffer: its result */
#define USBAPI_CTRL_OUT 12     /* usb_control_msg, OUT, 4 bytes: its result */
#define USBAPI_BULK_WRITE 13   /* usb_bulk_msg on bulk-out, 8 bytes: the length sent, or the error */
#define USBAPI_CLEAR_HALT 14   /* usb_clear_halt on bulk-in: its result */
#define USBAPI_BULK_WAIT 15    /* usb_bulk_msg on bulk-in with no timeout: the length, or the error */
#define USBAPI_FORGOTTEN 16    /* an URB anchored but never submitted, then usb_kill_anchored_urbs: never returns */
#define USBAPI_CTRL_ASYNC 17   /* a control URB (usb_fill_control_urb), submitted then killed: its status */
#define USBAPI_NO_KILL 18      /* disconnect leaves the interrupt-in URB to the USB core's flush (the bug): 0 */
#define USBAPI_DESCRIPTOR 19   /* the device descriptor's bMaxPacketSize0, bcdUSB and bcdDevice, packed */
#define USBAPI_DEVICE_DESC                                                                   \
  20 /* usb_get_descriptor of the device descriptor, 18 bytes to the user buffer: its result \
      */
#define USBAPI_CONFIG_DESC \
  21                     /* usb_get_descriptor of configuration 0, 64 bytes asked, to the user buffer: its result */
#define USBAPI_SERIAL 22 /* udev->serial, as the USB core read it, to the user buffer: its length */
#define USBAPI_CONFIG \
  23 /* udev->speed | actconfig's bMaxPower << 8 | its interface[0] is ours << 16 | config too << 17 */
#define USBAPI_MEMDUP 24 /* memdup_user_nul of 8 bytes of the user buffer: strlen of the copy, or the error */
#define USBAPI_BOGUS_DIR                                                                      \
  25 /* usb_control_msg of an IN request (4 bytes) on an OUT pipe: its result (and a warning) \
      */
/* 26: usb_control_msg of a vendor IN request into 4 bytes on the stack; 27: usb_bulk_msg of 4 bytes on the stack; 28:
 * an URB whose setup packet is on the stack. Each: the result (-EAGAIN, and a warning) */
#define USBAPI_STACK_CONTROL 26
#define USBAPI_STACK_BULK 27
#define USBAPI_STACK_SETUP 28
/* 29: usb_control_msg_recv of a vendor request into 2 bytes on the stack: its result, else the bytes (b0 | b1 << 8);
 * 30: usb_control_msg_send of 2 bytes on the stack: its result */
#define USBAPI_MSG_RECV 29
#define USBAPI_MSG_SEND 30
/* 31: sleeps interruptibly holding io_mutex for a wake-up that never comes (ldusb.c's read after its interrupt-in URB
 * is gone): disconnect, which takes io_mutex, then waits until the process gets a signal. 0, or -ERESTARTSYS */
#define USBAPI_SLEEP_LOCKED 31
#define USBAPI_STRING 40     /* + index: usb_string(index) into 16 bytes, to the user buffer: its result */
#define USBAPI_UNCHECKED 100 /* added to a command: the same without the disconnected check (I/O after disconnect) */

static const struct usb_device_id usbapi_table[] = {
    {USB_DEVICE(0xfff1, 0xfff1)},
    {.match_flags = USB_DEVICE_ID_MATCH_VENDOR, .idVendor = 0xfff2}, /* any product of vendor 0xfff2 */
    {USB_DEVICE_AND_INTERFACE_INFO(0xfff4, 0x0001, 0x0a, 0x00, 0x00)}, /* its CDC data interface only */
    {USB_INTERFACE_INFO(0x07, 0x01, 0x02)},                            /* any bidirectional printer */
    {},
};
MODULE_DEVICE_TABLE(usb, usbapi_table);

struct usbapi {
  struct usb_device *udev;
  struct usb_interface *interface;
  struct usb_endpoint_descriptor *bulk_in, *bulk_out, *int_in;
  struct urb *int_urb;
  unsigned char *int_buf;
  dma_addr_t int_dma;
  struct usb_anchor submitted;
  spinlock_t lock; /* guards the counters and statuses below: the completions run in hard-IRQ context */
  int int_status;
  unsigned int int_length;
  int completions;
  int killed;
  struct kref kref;
  struct mutex io_mutex;
  bool disconnected;
  bool no_kill; /* disconnect does not kill the interrupt-in URB (USBAPI_NO_KILL) */
  int level;    /* the sysfs attribute `level` (the driver's dev_groups) */
  int reads;    /* how often `reads` (device_create_file in probe) was shown */
  wait_queue_head_t never_wq; /* USBAPI_SLEEP_LOCKED sleeps here; nothing wakes it */
  int never;
};

static struct usb_driver usbapi_driver;

static void usbapi_delete(struct kref *kref) {
  struct usbapi *dev = container_of(kref, struct usbapi, kref);

  usb_free_urb(dev->int_urb);
  if (dev->int_buf) usb_free_coherent(dev->udev, USBAPI_BUF, dev->int_buf, dev->int_dma);
  usb_put_dev(dev->udev);
  kfree(dev);
}

static void usbapi_int_callback(struct urb *urb) {
  struct usbapi *dev = urb->context;
  unsigned long flags;

  spin_lock_irqsave(&dev->lock, flags);
  dev->int_status = urb->status;
  dev->int_length = urb->actual_length;
  spin_unlock_irqrestore(&dev->lock, flags);
}

/* The completion of an URB nobody waits for. */
static void usbapi_noop_complete(struct urb *urb) {
  (void)urb;
}

/* The completion of an anchored URB: counts, frees the buffer the URB owned. */
static void usbapi_anchored_callback(struct urb *urb) {
  struct usbapi *dev = urb->context;
  unsigned long flags;

  spin_lock_irqsave(&dev->lock, flags);
  dev->completions++;
  if (urb->status == -ENOENT) dev->killed++;
  spin_unlock_irqrestore(&dev->lock, flags);
  usb_free_coherent(urb->dev, USBAPI_BUF, urb->transfer_buffer, urb->transfer_dma);
}

static int usbapi_counter(struct usbapi *dev, int *counter) {
  int v;

  spin_lock_irq(&dev->lock);
  v = *counter;
  spin_unlock_irq(&dev->lock);
  return v;
}

static void usbapi_fill_int(struct usbapi *dev) {
  usb_fill_int_urb(dev->int_urb, dev->udev, usb_rcvintpipe(dev->udev, dev->int_in->bEndpointAddress), dev->int_buf,
                   usb_endpoint_maxp(dev->int_in), usbapi_int_callback, dev, dev->int_in->bInterval);
  dev->int_urb->transfer_dma = dev->int_dma;
  dev->int_urb->transfer_flags |= URB_NO_TRANSFER_DMA_MAP;
}

/* One URB with a coherent buffer, anchored on dev->submitted and submitted; the anchor and the host controller hold
 * it (the caller's reference is dropped). 0 or the error. */
static int usbapi_anchor_one(struct usbapi *dev, bool in) {
  struct urb *urb = usb_alloc_urb(0, GFP_KERNEL);
  unsigned char *buf;
  int rv;

  if (!urb) return -ENOMEM;
  buf = usb_alloc_coherent(dev->udev, USBAPI_BUF, GFP_KERNEL, &urb->transfer_dma);
  if (!buf) {
    usb_free_urb(urb);
    return -ENOMEM;
  }
  if (in)
    usb_fill_int_urb(urb, dev->udev, usb_rcvintpipe(dev->udev, dev->int_in->bEndpointAddress), buf,
                     usb_endpoint_maxp(dev->int_in), usbapi_anchored_callback, dev, dev->int_in->bInterval);
  else
    usb_fill_bulk_urb(urb, dev->udev, usb_sndbulkpipe(dev->udev, dev->bulk_out->bEndpointAddress), buf, 8,
                      usbapi_anchored_callback, dev);
  urb->transfer_flags |= URB_NO_TRANSFER_DMA_MAP;
  usb_anchor_urb(urb, &dev->submitted);
  rv = usb_submit_urb(urb, GFP_KERNEL);
  if (rv) {
    usb_unanchor_urb(urb);
    usb_free_coherent(dev->udev, USBAPI_BUF, buf, urb->transfer_dma);
  }
  usb_free_urb(urb);
  return rv;
}

static long usbapi_endpoints(struct usbapi *dev) {
  struct usb_host_interface *alt = dev->interface->cur_altsetting;
  struct usb_host_interface three;
  struct usb_endpoint_descriptor *bi, *bo, *ii, *io;
  long packed;

  if (usb_find_common_endpoints(alt, &bi, &bo, &ii, &io)) return -ENXIO;
  packed = ((long)bi->bEndpointAddress << 16) | ((long)bo->bEndpointAddress << 8) | ii->bEndpointAddress;
  if (io->bEndpointAddress != 0x01) return -EINVAL;
  if (usb_find_common_endpoints_reverse(alt, &bi, &bo, &ii, &io) || io->bEndpointAddress != 0x01 ||
      packed != (((long)bi->bEndpointAddress << 16) | ((long)bo->bEndpointAddress << 8) | ii->bEndpointAddress))
    return -EINVAL;
  if (usb_find_bulk_in_endpoint(alt, &bi) || usb_find_bulk_out_endpoint(alt, &bo) ||
      usb_find_int_in_endpoint(alt, &ii) || usb_find_int_out_endpoint(alt, &io) ||
      usb_find_last_bulk_in_endpoint(alt, &bi) || usb_find_last_bulk_out_endpoint(alt, &bo) ||
      usb_find_last_int_in_endpoint(alt, &ii) || usb_find_last_int_out_endpoint(alt, &io))
    return -EINVAL;
  /* A setting without an interrupt-out endpoint (the mock's first three): -ENXIO, and the pointer cleared. */
  three = *alt;
  three.desc.bNumEndpoints = 3;
  io = (void *)1;
  if (usb_find_int_out_endpoint(&three, &io) != -ENXIO || io) return -EINVAL;
  if (usb_find_last_int_out_endpoint(&three, &io) != -ENXIO || io) return -EINVAL;
  if (usb_find_common_endpoints(&three, &bi, &bo, &ii, &io) != -ENXIO) return -EINVAL;
  return packed;
}

static long usbapi_anchor_poison(struct usbapi *dev) {
  long rv;

  rv = usbapi_anchor_one(dev, true);
  if (rv) return rv;
  usb_poison_anchored_urbs(&dev->submitted); /* kills the one anchored, and poisons the anchor */
  if (!usb_anchor_empty(&dev->submitted)) return -EBUSY;
  rv = usbapi_anchor_one(dev, true); /* anchored on a poisoned anchor: poisoned itself */
  usb_unpoison_anchored_urbs(&dev->submitted);
  if (usbapi_anchor_one(dev, true) != 0) return -EIO;
  usb_unlink_anchored_urbs(&dev->submitted);
  if (usb_wait_anchor_empty_timeout(&dev->submitted, 1000) == 0) return -ETIMEDOUT;
  return rv;
}

/* include/uapi/asm-generic/ioctl.h's encoding: iowarrior.h's IOW_GETINFO, _IOR(0xC0, 3, a 40-byte struct). */
struct usbapi_info40 {
  char bytes[40];
};
_Static_assert(_IOR(0xC0, 3, struct usbapi_info40) == 0x8028C003u, "_IOR");
_Static_assert(_IOW(0xC0, 1, __u8 *) == 0x4008C001u && _IO('U', 7) == 0x5507u && _IOWR(1, 2, int) == 0xC0040102u,
               "_IOW, _IO, _IOWR");
_Static_assert(_IOC_DIR(0x8028C003u) == _IOC_READ && _IOC_TYPE(0x8028C003u) == 0xC0 && _IOC_NR(0x8028C003u) == 3 &&
                   _IOC_SIZE(0x8028C003u) == 40,
               "_IOC_DIR, _IOC_TYPE, _IOC_NR, _IOC_SIZE");

static long usbapi_read_msg(struct usbapi *dev, unsigned long arg, bool interrupt, int timeout) {
  unsigned char *buf = kmalloc(USBAPI_BUF, GFP_KERNEL);
  int actual = -1;
  int rv;

  if (!buf) return -ENOMEM;
  if (interrupt)
    rv = usb_interrupt_msg(dev->udev, usb_rcvintpipe(dev->udev, dev->int_in->bEndpointAddress), buf,
                           usb_endpoint_maxp(dev->int_in), &actual, timeout);
  else
    rv = usb_bulk_msg(dev->udev, usb_rcvbulkpipe(dev->udev, dev->bulk_in->bEndpointAddress), buf, USBAPI_BUF, &actual,
                      timeout);
  if (rv == 0 && actual > 0 && copy_to_user((void __user *)arg, buf, (unsigned long)actual)) rv = -EFAULT;
  kfree(buf);
  return rv ? rv : actual;
}

static long usbapi_ioctl_locked(struct usbapi *dev, unsigned int cmd, unsigned long arg) {
  unsigned char *buf;
  int actual = 0;
  long rv;
  unsigned long i;

  switch (cmd) {
    case USBAPI_ENDPOINTS:
      return usbapi_endpoints(dev);
    case USBAPI_POISON:
      usbapi_fill_int(dev);
      rv = usb_submit_urb(dev->int_urb, GFP_KERNEL);
      if (rv) return rv;
      usb_poison_urb(dev->int_urb); /* gives it back with -ENOENT and waits for the completion */
      return usb_submit_urb(dev->int_urb, GFP_KERNEL);
    case USBAPI_STATUS:
      return usbapi_counter(dev, &dev->int_status);
    case USBAPI_UNPOISON:
      usb_unpoison_urb(dev->int_urb);
      usbapi_fill_int(dev);
      return usb_submit_urb(dev->int_urb, GFP_KERNEL);
    case USBAPI_LENGTH:
      spin_lock_irq(&dev->lock);
      rv = dev->int_length;
      spin_unlock_irq(&dev->lock);
      return rv;
    case USBAPI_ANCHOR_OUT:
      for (i = 0; i < arg && i < USBAPI_MAX_URBS; i++) {
        rv = usbapi_anchor_one(dev, false);
        if (rv) return rv;
      }
      /* Empty only once every completion returned: the count is complete here. */
      if (usb_wait_anchor_empty_timeout(&dev->submitted, 1000) == 0) return -ETIMEDOUT;
      if (!usb_anchor_empty(&dev->submitted)) return -EBUSY;
      return usbapi_counter(dev, &dev->completions);
    case USBAPI_ANCHOR_IN:
      for (i = 0; i < arg && i < USBAPI_MAX_URBS; i++) {
        rv = usbapi_anchor_one(dev, true);
        if (rv) return rv;
      }
      /* Nothing comes from the device: the wait times out. */
      if (usb_wait_anchor_empty_timeout(&dev->submitted, 10) != 0) return -EBUSY;
      usb_kill_anchored_urbs(&dev->submitted);
      if (!usb_anchor_empty(&dev->submitted)) return -EBUSY;
      return usbapi_counter(dev, &dev->killed);
    case USBAPI_ANCHOR_POISON:
      return usbapi_anchor_poison(dev);
    case USBAPI_BULK_READ:
      return usbapi_read_msg(dev, arg, false, USBAPI_TIMEOUT_MS);
    case USBAPI_INT_READ:
      return usbapi_read_msg(dev, arg, true, USBAPI_TIMEOUT_MS);
    case USBAPI_BULK_WAIT:
      return usbapi_read_msg(dev, arg, false, 0);
    case USBAPI_SLEEP_LOCKED:
      return wait_event_interruptible(dev->never_wq, READ_ONCE(dev->never));
    case USBAPI_CTRL_IN:
      buf = kzalloc(8, GFP_KERNEL);
      if (!buf) return -ENOMEM;
      rv = usb_control_msg(dev->udev, usb_rcvctrlpipe(dev->udev, 0), 0x01,
                           USB_DIR_IN | USB_TYPE_VENDOR | USB_RECIP_DEVICE, 0, 0, buf, 8, USB_CTRL_GET_TIMEOUT);
      if (rv > 0 && copy_to_user((void __user *)arg, buf, (unsigned long)rv)) rv = -EFAULT;
      kfree(buf);
      return rv;
    case USBAPI_CTRL_OUT:
      buf = kzalloc(4, GFP_KERNEL);
      if (!buf) return -ENOMEM;
      rv = usb_control_msg(dev->udev, usb_sndctrlpipe(dev->udev, 0), 0x02,
                           USB_DIR_OUT | USB_TYPE_VENDOR | USB_RECIP_INTERFACE, 1, 0, buf, 4, USB_CTRL_SET_TIMEOUT);
      kfree(buf);
      return rv;
    case USBAPI_BULK_WRITE:
      buf = kzalloc(8, GFP_KERNEL);
      if (!buf) return -ENOMEM;
      rv = usb_bulk_msg(dev->udev, usb_sndbulkpipe(dev->udev, dev->bulk_out->bEndpointAddress), buf, 8, &actual,
                        USBAPI_TIMEOUT_MS);
      kfree(buf);
      return rv ? rv : actual;
    case USBAPI_CLEAR_HALT:
      return usb_clear_halt(dev->udev, usb_rcvbulkpipe(dev->udev, dev->bulk_in->bEndpointAddress));
    case USBAPI_FORGOTTEN: {
      struct urb *urb = usb_alloc_urb(0, GFP_KERNEL);

      if (!urb) return -ENOMEM;
      usb_anchor_urb(urb, &dev->submitted); /* the bug: never submitted, never unanchored */
      usb_free_urb(urb);
      usb_kill_anchored_urbs(&dev->submitted);
      return 0;
    }
    case USBAPI_CTRL_ASYNC: {
      struct usb_ctrlrequest *dr = kzalloc(sizeof(*dr), GFP_KERNEL);
      struct urb *urb = usb_alloc_urb(0, GFP_KERNEL);
      unsigned int pipe = usb_sndctrlpipe(dev->udev, 0);

      rv = -ENOMEM;
      if (dr && urb && usb_pipecontrol(pipe) && usb_pipeout(pipe) && !usb_pipebulk(pipe) && !usb_pipeint(pipe)) {
        dr->bRequestType = USB_DIR_OUT | USB_TYPE_STANDARD | USB_RECIP_ENDPOINT;
        dr->bRequest = USB_REQ_CLEAR_FEATURE;
        dr->wValue = USB_ENDPOINT_HALT;
        dr->wIndex = dev->bulk_in->bEndpointAddress;
        usb_fill_control_urb(urb, dev->udev, pipe, (unsigned char *)dr, NULL, 0, usbapi_int_callback, dev);
        usb_get_urb(urb); /* held across the wait below, dropped after */
        rv = usb_submit_urb(urb, GFP_KERNEL);
        usb_kill_urb(urb); /* waits for the completion */
        if (rv == 0) rv = urb->status;
        usb_free_urb(urb);
      }
      usb_free_urb(urb);
      kfree(dr);
      return rv;
    }
    case USBAPI_DESCRIPTOR:
      return dev->udev->descriptor.bMaxPacketSize0 | (long)le16_to_cpu(dev->udev->descriptor.bcdUSB) << 8 |
             (long)le16_to_cpu(dev->udev->descriptor.bcdDevice) << 24;
    case USBAPI_NO_KILL:
      dev->no_kill = true;
      return 0;
    case USBAPI_DEVICE_DESC:
    case USBAPI_CONFIG_DESC: {
      const int size = cmd == USBAPI_DEVICE_DESC ? 18 : 64;

      buf = kmalloc(size, GFP_KERNEL);
      if (!buf) return -ENOMEM;
      rv = usb_get_descriptor(dev->udev, cmd == USBAPI_DEVICE_DESC ? USB_DT_DEVICE : USB_DT_CONFIG, 0, buf, size);
      if (rv > 0 && copy_to_user((void __user *)arg, buf, (unsigned long)rv)) rv = -EFAULT;
      kfree(buf);
      return rv;
    }
    case USBAPI_CONFIG:
      return dev->udev->speed | (long)dev->udev->actconfig->desc.bMaxPower << 8 |
             (long)(dev->udev->actconfig->interface[0] == dev->interface) << 16 |
             (long)(dev->udev->config == dev->udev->actconfig) << 17;
    case USBAPI_MEMDUP: {
      char *copy = memdup_user_nul((const void __user *)arg, 8);

      if (IS_ERR(copy)) return PTR_ERR(copy);
      rv = (long)strlen(copy);
      kfree(copy);
      return rv;
    }
    case USBAPI_BOGUS_DIR:
      buf = kzalloc(4, GFP_KERNEL);
      if (!buf) return -ENOMEM;
      rv = usb_control_msg(dev->udev, usb_sndctrlpipe(dev->udev, 0), 0x01,
                           USB_DIR_IN | USB_TYPE_VENDOR | USB_RECIP_DEVICE, 0, 0, buf, 4, USB_CTRL_GET_TIMEOUT);
      kfree(buf);
      return rv;
    case USBAPI_STACK_CONTROL: {
      u8 on_stack[4];

      return usb_control_msg(dev->udev, usb_rcvctrlpipe(dev->udev, 0), 0x01,
                             USB_DIR_IN | USB_TYPE_VENDOR | USB_RECIP_DEVICE, 0, 0, on_stack, sizeof(on_stack),
                             USB_CTRL_GET_TIMEOUT);
    }
    case USBAPI_STACK_BULK: {
      u8 on_stack[4] = {1, 2, 3, 4};
      int sent = 0;

      rv = usb_bulk_msg(dev->udev, usb_sndbulkpipe(dev->udev, dev->bulk_out->bEndpointAddress), on_stack,
                        sizeof(on_stack), &sent, 1000);
      return rv ? rv : sent;
    }
    case USBAPI_STACK_SETUP: {
      struct usb_ctrlrequest setup = {
          .bRequestType = USB_DIR_OUT | USB_TYPE_VENDOR | USB_RECIP_DEVICE,
          .bRequest = 0x02,
      };
      struct urb *urb = usb_alloc_urb(0, GFP_KERNEL);

      if (!urb) return -ENOMEM;
      usb_fill_control_urb(urb, dev->udev, usb_sndctrlpipe(dev->udev, 0), (unsigned char *)&setup, NULL, 0,
                           usbapi_noop_complete, NULL);
      rv = usb_submit_urb(urb, GFP_KERNEL);
      if (!rv) usb_kill_urb(urb);
      usb_free_urb(urb);
      return rv;
    }
    case USBAPI_MSG_RECV: {
      u8 answer[2];

      rv = usb_control_msg_recv(dev->udev, 0, 0x01, USB_DIR_IN | USB_TYPE_VENDOR | USB_RECIP_DEVICE, 0, 0, answer,
                                sizeof(answer), USB_CTRL_GET_TIMEOUT, GFP_KERNEL);
      return rv ? rv : answer[0] | answer[1] << 8;
    }
    case USBAPI_MSG_SEND: {
      u8 request[2] = {7, 8};

      return usb_control_msg_send(dev->udev, 0, 0x02, USB_DIR_OUT | USB_TYPE_VENDOR | USB_RECIP_DEVICE, 0, 0, request,
                                  sizeof(request), USB_CTRL_SET_TIMEOUT, GFP_KERNEL);
    }
    case USBAPI_SERIAL:
      rv = dev->udev->serial ? (long)strlen(dev->udev->serial) : 0;
      if (rv > 0 && copy_to_user((void __user *)arg, dev->udev->serial, (unsigned long)rv)) rv = -EFAULT;
      return rv;
    default:
      if (cmd > USBAPI_STRING && cmd < USBAPI_STRING + 16) {
        char text[16];

        rv = usb_string(dev->udev, (int)(cmd - USBAPI_STRING), text, sizeof(text));
        if (rv >= 0 && copy_to_user((void __user *)arg, text, (unsigned long)rv + 1)) rv = -EFAULT;
        return rv;
      }
      return -ENOTTY;
  }
}

static long usbapi_ioctl(struct file *file, unsigned int cmd, unsigned long arg) {
  struct usbapi *dev = file->private_data;
  long rv;

  mutex_lock(&dev->io_mutex);
  if (cmd > USBAPI_UNCHECKED) /* the bug of usblcd.c before "USB: usblcd: fix I/O after disconnect" */
    rv = usbapi_ioctl_locked(dev, cmd - USBAPI_UNCHECKED, arg);
  else
    rv = dev->disconnected ? -ENODEV : usbapi_ioctl_locked(dev, cmd, arg);
  mutex_unlock(&dev->io_mutex);
  return rv;
}

static int usbapi_open(struct inode *inode, struct file *file) {
  struct usb_interface *interface = usb_find_interface(&usbapi_driver, iminor(inode));
  struct usbapi *dev;

  if (!interface) return -ENODEV;
  dev = usb_get_intfdata(interface);
  if (!dev) return -ENODEV;
  kref_get(&dev->kref);
  file->private_data = dev;
  return 0;
}

static int usbapi_release(struct inode *inode, struct file *file) {
  struct usbapi *dev = file->private_data;

  (void)inode;
  kref_put(&dev->kref, usbapi_delete);
  return 0;
}

static const struct file_operations usbapi_fops = {
    .owner = THIS_MODULE,
    .open = usbapi_open,
    .release = usbapi_release,
    .unlocked_ioctl = usbapi_ioctl,
    .llseek = noop_llseek,
};

/* sysfs attributes of the interface: `level` (read-write, through the driver's dev_groups) and `reads` (read-only,
 * created in probe and removed in disconnect), on /sys/bus/usb/devices/<port>/. */
static ssize_t level_show(struct device *d, struct device_attribute *attr, char *buf) {
  struct usbapi *dev = usb_get_intfdata(to_usb_interface(d));

  (void)attr;
  return sysfs_emit(buf, "%d\n", dev->level);
}

static ssize_t level_store(struct device *d, struct device_attribute *attr, const char *buf, size_t count) {
  struct usbapi *dev = usb_get_intfdata(to_usb_interface(d));
  int value;
  int rv = kstrtoint(buf, 10, &value);

  (void)attr;
  if (rv) return rv;
  dev->level = value;
  return (ssize_t)count;
}
static DEVICE_ATTR_RW(level);

static ssize_t reads_show(struct device *d, struct device_attribute *attr, char *buf) {
  struct usbapi *dev = usb_get_intfdata(to_usb_interface(d));
  int len = 0;

  (void)attr;
  len += sysfs_emit_at(buf, len, "%d", ++dev->reads);
  len += sysfs_emit_at(buf, len, "\n");
  return len;
}
static DEVICE_ATTR_RO(reads);

/* `minor`, an attribute of the class device usb_register_dev made (intf->usb_dev): it goes with that device. */
static ssize_t minor_show(struct device *d, struct device_attribute *attr, char *buf) {
  (void)attr;
  return sysfs_emit(buf, "%u\n", MINOR(d->devt));
}
static DEVICE_ATTR_RO(minor);

/* `hidden` is in the group but is_visible says 0 for it: never created. */
static ssize_t hidden_show(struct device *d, struct device_attribute *attr, char *buf) {
  (void)d;
  (void)attr;
  return sysfs_emit(buf, "hidden\n");
}
static DEVICE_ATTR_RO(hidden);

static umode_t usbapi_attr_visible(struct kobject *kobj, struct attribute *attr, int index) {
  (void)index;
  return kobj_to_dev(kobj) != NULL && attr == &dev_attr_hidden.attr ? 0 : attr->mode;
}

static struct attribute *usbapi_attrs[] = {
    &dev_attr_level.attr,
    &dev_attr_hidden.attr,
    NULL,
};
static const struct attribute_group usbapi_group = {
    .is_visible = usbapi_attr_visible,
    .attrs = usbapi_attrs,
};
static const struct attribute_group *usbapi_groups[] = {
    &usbapi_group,
    NULL,
};

/* `more/reads_too`: a named group the driver adds itself (sysfs_create_group on the interface's kobject). */
static struct attribute *more_attrs[] = {
    &dev_attr_reads.attr,
    NULL,
};
static const struct attribute_group more_group = {
    .name = "more",
    .attrs = more_attrs,
};

/* drivers/usb/core/file.c: the class device is named after the last component of the name ("usbapi0"); the node
 * is where devnode says, as legousbtower.c's puts it under usb/ (the string is the core's to free). */
#ifdef USBAPI_OLD_DEVNODE
/* Before Linux 6.2 the callback took a `struct device *`: a driver of that era compiles without a warning (the
 * module cusb_script of test_c_usb.cpp is this one, and its node is there). */
static char *usbapi_devnode(struct device *dev, umode_t *mode) {
#else
static char *usbapi_devnode(const struct device *dev, umode_t *mode) {
#endif
  (void)mode;
  return kasprintf(GFP_KERNEL, "usb/%s", dev_name(dev));
}

static struct usb_class_driver usbapi_class = {
    .name = "usbclass/usbapi%d",
    .devnode = usbapi_devnode,
    .fops = &usbapi_fops,
    .minor_base = USBAPI_MINOR_BASE,
};

static int usbapi_probe(struct usb_interface *interface, const struct usb_device_id *id) {
  struct usbapi *dev;
  int rv;

  (void)id;
  dev = kzalloc(sizeof(*dev), GFP_KERNEL);
  if (!dev) return -ENOMEM;
  kref_init(&dev->kref);
  mutex_init(&dev->io_mutex);
  init_waitqueue_head(&dev->never_wq);
  spin_lock_init(&dev->lock);
  init_usb_anchor(&dev->submitted);
  dev->udev = usb_get_dev(interface_to_usbdev(interface));
  dev->interface = interface;
  rv = usb_find_common_endpoints(interface->cur_altsetting, &dev->bulk_in, &dev->bulk_out, &dev->int_in, NULL);
  if (rv) goto error;
  rv = -ENOMEM;
  dev->int_urb = usb_alloc_urb(0, GFP_KERNEL);
  if (!dev->int_urb) goto error;
  dev->int_buf = usb_alloc_coherent(dev->udev, USBAPI_BUF, GFP_KERNEL, &dev->int_dma);
  if (!dev->int_buf) goto error;
  usb_set_intfdata(interface, dev);
  rv = usb_register_dev(interface, &usbapi_class);
  if (rv) {
    usb_set_intfdata(interface, NULL);
    goto error;
  }
  rv = device_create_file(&interface->dev, &dev_attr_reads);
  if (!rv) rv = sysfs_create_group(&interface->dev.kobj, &more_group);
  if (!rv) rv = device_create_file(interface->usb_dev, &dev_attr_minor);
  if (rv) {
    usb_deregister_dev(interface, &usbapi_class);
    usb_set_intfdata(interface, NULL);
    goto error;
  }
  return 0;

error:
  kref_put(&dev->kref, usbapi_delete);
  return rv;
}

static void usbapi_disconnect(struct usb_interface *interface) {
  struct usbapi *dev = usb_get_intfdata(interface);
  bool no_kill;

  device_remove_file(&interface->dev, &dev_attr_reads); /* waits for a show in flight */
  sysfs_remove_group(&interface->dev.kobj, &more_group);
  usb_deregister_dev(interface, &usbapi_class);
  mutex_lock(&dev->io_mutex);
  dev->disconnected = true;
  no_kill = dev->no_kill;
  mutex_unlock(&dev->io_mutex);
  if (!no_kill) usb_kill_urb(dev->int_urb);
  usb_kill_anchored_urbs(&dev->submitted);
  usb_scuttle_anchored_urbs(&dev->submitted);
  kref_put(&dev->kref, usbapi_delete);
}

/* Nothing calls these (devsim has no system sleep): accepted with the kernel's signatures. */
static int usbapi_suspend(struct usb_interface *interface, pm_message_t message) {
  struct usbapi *dev = usb_get_intfdata(interface);

  if (PMSG_IS_AUTO(message)) return -EBUSY;
  usb_kill_anchored_urbs(&dev->submitted);
  usb_block_urb(dev->int_urb);
  return 0;
}

static int usbapi_resume(struct usb_interface *interface) {
  struct usbapi *dev = usb_get_intfdata(interface);
  struct urb *urb = usb_get_from_anchor(&dev->submitted); /* with a reference for the caller */

  if (urb) usb_free_urb(urb);
  usb_unpoison_urb(dev->int_urb);
  return 0;
}

static struct usb_driver usbapi_driver = {
    .name = "usbapi",
    .probe = usbapi_probe,
    .disconnect = usbapi_disconnect,
    .suspend = usbapi_suspend,
    .resume = usbapi_resume,
    .reset_resume = usbapi_resume,
    .id_table = usbapi_table,
    .dev_groups = usbapi_groups,
    .supports_autosuspend = 1,
};

module_usb_driver(usbapi_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("The USB API's test module");
