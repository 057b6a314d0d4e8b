/*
 * usbskel: a USB interface driver in the shape of drivers/usb/usb-skeleton.c, with an interrupt-in endpoint for
 * reads. /dev/skelN (usb_register_dev, minors from USBSKEL_MINOR_BASE): read() submits the interrupt-in URB if no
 * transfer is waiting, sleeps until its completion handler (hard-IRQ context) says the transfer is over, and
 * copies what the device sent; write() copies the user's bytes into a buffer and sends them with a bulk-out URB,
 * whose completion frees the buffer and counts the bytes.
 *
 * Built four times.
 *  - neither defined: the buggy variant, the disconnect race fixed across drivers/usb/misc in 2019. The state is
 *    freed in disconnect() whatever files are open: open() only counts openers (the count is never consulted), and
 *    read(), write() and release() trust file->private_data. A file opened before the unplug and used after it (a
 *    read, a write, or just the close) uses freed memory.
 *  - USBSKEL_FIXED=1: usb-skeleton's lifetime rules. The state is kref-counted: the binding holds one reference
 *    and every open file one (taken in open(), which usb_open runs under the USB core's minor_rwsem, so it cannot
 *    race with usb_deregister_dev); disconnect() sets `disconnected` under io_mutex, which read() and write()
 *    check under the same mutex, kills the interrupt-in URB and the write URBs still in flight
 *    (anchored to `submitted`: the USB core's flush before disconnect() does not wait for a completion already
 *    under way, drivers/usb/core/hcd.c usb_hcd_flush_endpoint) and drops the binding's reference; release() drops
 *    the file's.
 *  - USBSKEL_FIXED=1 USBSKEL_HANG=1: the fixed variant, except that read() takes an interrupt-in transfer the USB
 *    core gave back at the unplug (-ESHUTDOWN) for "no data yet" and waits, holding io_mutex, for disconnect() to
 *    mark the device gone, which disconnect() does only once it holds io_mutex: the unplug hangs until the reading
 *    process gets a signal (the shape of drivers/usb/misc/iowarrior.c's read and disconnect, a hung-task).
 *  - USBSKEL_IO_AFTER_DISCONNECT=1: the fixed variant's lifetime rules without its `disconnected` checks, the bug
 *    "USB: usblcd: fix I/O after disconnect" fixed: read() and write() of a file opened before an unbind still
 *    submit URBs to the device after disconnect() returned (Documentation/driver-api/usb/callbacks.rst: "You are
 *    not allowed any IO to a device after returning from this callback").
 */
#define pr_fmt(fmt) "usbskel: " fmt

#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/kref.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#include <linux/usb.h>
#include <linux/wait.h>

#if defined(USBSKEL_FIXED) || defined(USBSKEL_IO_AFTER_DISCONNECT)
#define USBSKEL_KREF 1 /* the state is kref-counted: the binding and every open file hold a reference */
#endif

#define USBSKEL_VENDOR_ID 0xfff0
#define USBSKEL_PRODUCT_ID 0xfff0
#define USBSKEL_MINOR_BASE 192
#define USBSKEL_MAX_WRITE 64

static const struct usb_device_id usbskel_table[] = {
    {USB_DEVICE(USBSKEL_VENDOR_ID, USBSKEL_PRODUCT_ID)}, {} /* terminating entry */
};
MODULE_DEVICE_TABLE(usb, usbskel_table);

struct usb_skel {
  struct usb_device *udev;
  struct usb_interface *interface; /* a reference (usb_get_intf): completion handlers print through it */
  struct urb *int_in_urb;
  unsigned char *int_in_buffer;
  size_t int_in_size;
  size_t int_in_filled; /* bytes the last transfer brought */
  size_t int_in_copied; /* of which read() returned so far */
  __u8 int_in_endpointAddr;
  __u8 int_in_interval;
  __u8 bulk_out_endpointAddr;
  int errors;        /* the last URB error, reported by the next read */
  bool ongoing_read; /* the interrupt-in URB is in flight */
  unsigned long written;
  spinlock_t err_lock; /* guards errors, ongoing_read, written: taken by the completion handlers */
  struct kref kref;
  struct mutex io_mutex; /* serialises I/O with disconnect */
  bool disconnected;
  int open_count;
  wait_queue_head_t int_in_wait;
  struct usb_anchor submitted; /* write URBs in flight (the kref-counted variants) */
};

static struct usb_driver usbskel_driver;

static void usbskel_delete(struct kref *kref) {
  struct usb_skel *dev = container_of(kref, struct usb_skel, kref);

  usb_free_urb(dev->int_in_urb);
  usb_put_intf(dev->interface);
  usb_put_dev(dev->udev);
  kfree(dev->int_in_buffer);
  kfree(dev);
}

/* Hard-IRQ context: the interrupt-in transfer is over. */
static void usbskel_int_callback(struct urb *urb) {
  struct usb_skel *dev = urb->context;
  unsigned long flags;

  spin_lock_irqsave(&dev->err_lock, flags);
  if (urb->status) {
    if (!(urb->status == -ENOENT || urb->status == -ECONNRESET || urb->status == -ESHUTDOWN))
      dev_err(&dev->interface->dev, "interrupt-in status %d\n", urb->status);
    dev->errors = urb->status;
  } else {
    dev->int_in_filled = urb->actual_length;
  }
  dev->ongoing_read = false;
  spin_unlock_irqrestore(&dev->err_lock, flags);
  wake_up_interruptible(&dev->int_in_wait);
}

/* ongoing_read, read under err_lock: what the completion handler wrote before clearing it is then seen too. */
static bool usbskel_read_ongoing(struct usb_skel *dev) {
  bool ongoing;

  spin_lock_irq(&dev->err_lock);
  ongoing = dev->ongoing_read;
  spin_unlock_irq(&dev->err_lock);
  return ongoing;
}

static int usbskel_do_read_io(struct usb_skel *dev, size_t count) {
  int rv;

  usb_fill_int_urb(dev->int_in_urb, dev->udev, usb_rcvintpipe(dev->udev, dev->int_in_endpointAddr), dev->int_in_buffer,
                   (int)min(dev->int_in_size, count), usbskel_int_callback, dev, dev->int_in_interval);
  spin_lock_irq(&dev->err_lock);
  dev->ongoing_read = true;
  spin_unlock_irq(&dev->err_lock);
  dev->int_in_filled = 0;
  dev->int_in_copied = 0;
  rv = usb_submit_urb(dev->int_in_urb, GFP_KERNEL);
  if (rv < 0) {
    rv = (rv == -ENOMEM) ? rv : -EIO;
    spin_lock_irq(&dev->err_lock);
    dev->ongoing_read = false;
    spin_unlock_irq(&dev->err_lock);
  }
  return rv;
}

static int usbskel_open(struct inode *inode, struct file *file) {
  struct usb_interface *interface;
  struct usb_skel *dev;

  interface = usb_find_interface(&usbskel_driver, iminor(inode));
  if (!interface) return -ENODEV;
  dev = usb_get_intfdata(interface);
  if (!dev) return -ENODEV;
#ifdef USBSKEL_KREF
  kref_get(&dev->kref); /* the file's reference: usb_open holds minor_rwsem, so disconnect has not begun */
#else
  dev->open_count++;
#endif
  file->private_data = dev;
  return 0;
}

static int usbskel_release(struct inode *inode, struct file *file) {
  struct usb_skel *dev = file->private_data;

  (void)inode;
#ifdef USBSKEL_KREF
  kref_put(&dev->kref, usbskel_delete);
#else
  mutex_lock(&dev->io_mutex);
  dev->open_count--;
  mutex_unlock(&dev->io_mutex);
#endif
  return 0;
}

static ssize_t usbskel_read(struct file *file, char __user *buffer, size_t count, loff_t *ppos) {
  struct usb_skel *dev = file->private_data;
  bool ongoing;
  int rv;

  (void)ppos;
  if (!count) return 0;
  rv = mutex_lock_interruptible(&dev->io_mutex);
  if (rv < 0) return rv;
#ifdef USBSKEL_FIXED
  if (dev->disconnected) {
    rv = -ENODEV;
    goto exit;
  }
#endif
retry:
  ongoing = usbskel_read_ongoing(dev);
  if (ongoing) {
    if (file->f_flags & O_NONBLOCK) {
      rv = -EAGAIN;
      goto exit;
    }
    rv = wait_event_interruptible(dev->int_in_wait, !usbskel_read_ongoing(dev));
    if (rv < 0) goto exit;
  }
  /* The completions set errors in hard-IRQ context under err_lock: read and clear it under the same lock. */
  spin_lock_irq(&dev->err_lock);
  rv = dev->errors;
  if (rv < 0) dev->errors = 0;
  spin_unlock_irq(&dev->err_lock);
#ifdef USBSKEL_HANG
  if (rv == -ESHUTDOWN) { /* "the device is going: wait until disconnect says so" (with io_mutex held) */
    rv = wait_event_interruptible(dev->int_in_wait, READ_ONCE(dev->disconnected));
    if (rv == 0) rv = -ENODEV;
    goto exit;
  }
#endif
  if (rv < 0) {
    rv = (rv == -EPIPE) ? rv : -EIO;
    goto exit;
  }
  if (dev->int_in_filled > dev->int_in_copied) {
    size_t chunk = min(dev->int_in_filled - dev->int_in_copied, count);

    if (copy_to_user(buffer, dev->int_in_buffer + dev->int_in_copied, chunk)) {
      rv = -EFAULT;
    } else {
      dev->int_in_copied += chunk;
      rv = (int)chunk;
    }
  } else {
    rv = usbskel_do_read_io(dev, count);
    if (rv >= 0) goto retry;
  }
exit:
  mutex_unlock(&dev->io_mutex);
  return rv;
}

/* Hard-IRQ context: the bulk-out transfer is over. */
static void usbskel_write_callback(struct urb *urb) {
  struct usb_skel *dev = urb->context;
  unsigned long flags;

  spin_lock_irqsave(&dev->err_lock, flags);
  if (urb->status)
    dev->errors = urb->status;
  else
    dev->written += urb->actual_length;
  spin_unlock_irqrestore(&dev->err_lock, flags);
  kfree(urb->transfer_buffer);
}

static ssize_t usbskel_write(struct file *file, const char __user *user_buffer, size_t count, loff_t *ppos) {
  struct usb_skel *dev = file->private_data;
  size_t writesize = min_t(size_t, count, USBSKEL_MAX_WRITE);
  struct urb *urb;
  char *buf;
  int rv;

  (void)ppos;
  if (!count) return 0;
  buf = kmalloc(writesize, GFP_KERNEL);
  if (!buf) return -ENOMEM;
  if (copy_from_user(buf, user_buffer, writesize)) {
    kfree(buf);
    return -EFAULT;
  }
  urb = usb_alloc_urb(0, GFP_KERNEL);
  if (!urb) {
    kfree(buf);
    return -ENOMEM;
  }
  mutex_lock(&dev->io_mutex);
#ifdef USBSKEL_FIXED
  if (dev->disconnected) {
    mutex_unlock(&dev->io_mutex);
    usb_free_urb(urb);
    kfree(buf);
    return -ENODEV;
  }
#endif
  usb_fill_bulk_urb(urb, dev->udev, usb_sndbulkpipe(dev->udev, dev->bulk_out_endpointAddr), buf, (int)writesize,
                    usbskel_write_callback, dev);
#ifdef USBSKEL_KREF
  usb_anchor_urb(urb, &dev->submitted);
#endif
  rv = usb_submit_urb(urb, GFP_KERNEL);
  mutex_unlock(&dev->io_mutex);
  if (rv) {
#ifdef USBSKEL_KREF
    usb_unanchor_urb(urb);
#endif
    kfree(buf);
    usb_free_urb(urb);
    return rv == -ENODEV ? rv : -EIO;
  }
  /* The host controller holds its own reference until the completion handler ran. */
  usb_free_urb(urb);
  return (ssize_t)writesize;
}

static const struct file_operations usbskel_fops = {
    .owner = THIS_MODULE,
    .read = usbskel_read,
    .write = usbskel_write,
    .open = usbskel_open,
    .release = usbskel_release,
    .llseek = noop_llseek,
};

static struct usb_class_driver usbskel_class = {
    .name = "skel%d",
    .fops = &usbskel_fops,
    .minor_base = USBSKEL_MINOR_BASE,
};

static int usbskel_probe(struct usb_interface *interface, const struct usb_device_id *id) {
  struct usb_host_interface *alt = interface->cur_altsetting;
  struct usb_endpoint_descriptor *int_in = NULL, *bulk_out = NULL;
  struct usb_skel *dev;
  unsigned int i;
  int rv;

  (void)id;
  for (i = 0; i < alt->desc.bNumEndpoints; i++) {
    struct usb_endpoint_descriptor *ep = &alt->endpoint[i].desc;

    if (!int_in && usb_endpoint_is_int_in(ep)) int_in = ep;
    if (!bulk_out && usb_endpoint_is_bulk_out(ep)) bulk_out = ep;
  }
  if (!int_in || !bulk_out) {
    dev_err(&interface->dev, "needs an interrupt-in and a bulk-out endpoint\n");
    return -ENODEV;
  }
  dev = kzalloc(sizeof(*dev), GFP_KERNEL);
  if (!dev) return -ENOMEM;
  kref_init(&dev->kref);
  mutex_init(&dev->io_mutex);
  spin_lock_init(&dev->err_lock);
  init_waitqueue_head(&dev->int_in_wait);
  init_usb_anchor(&dev->submitted);
  dev->udev = usb_get_dev(interface_to_usbdev(interface));
  dev->interface = usb_get_intf(interface);
  dev->int_in_endpointAddr = int_in->bEndpointAddress;
  dev->int_in_interval = int_in->bInterval;
  dev->bulk_out_endpointAddr = bulk_out->bEndpointAddress;
  dev->int_in_size = usb_endpoint_maxp(int_in);
  rv = -ENOMEM;
  dev->int_in_buffer = kmalloc(dev->int_in_size, GFP_KERNEL);
  if (!dev->int_in_buffer) goto error;
  dev->int_in_urb = usb_alloc_urb(0, GFP_KERNEL);
  if (!dev->int_in_urb) goto error;
  usb_set_intfdata(interface, dev);
  rv = usb_register_dev(interface, &usbskel_class);
  if (rv) {
    dev_err(&interface->dev, "no minor for this device\n");
    usb_set_intfdata(interface, NULL);
    goto error;
  }
  dev_info(&interface->dev, "usbskel attached to skel%d\n", interface->minor - USBSKEL_MINOR_BASE);
  return 0;

error:
  kref_put(&dev->kref, usbskel_delete);
  return rv;
}

static void usbskel_disconnect(struct usb_interface *interface) {
  struct usb_skel *dev = usb_get_intfdata(interface);

  usb_deregister_dev(interface, &usbskel_class); /* no open reaches the driver from here on */
#ifdef USBSKEL_KREF
  mutex_lock(&dev->io_mutex);
  dev->disconnected = true;
  mutex_unlock(&dev->io_mutex);
#ifdef USBSKEL_HANG
  wake_up_interruptible(&dev->int_in_wait); /* too late: a reader asleep above holds io_mutex */
#endif
  usb_kill_urb(dev->int_in_urb);
  usb_kill_anchored_urbs(&dev->submitted); /* a completion under way too: it may be the last to touch `dev` */
  kref_put(&dev->kref, usbskel_delete);    /* the binding's reference: open files keep theirs */
#else
  /* The state goes with the device, open files or not. */
  usb_kill_urb(dev->int_in_urb);
  usbskel_delete(&dev->kref);
#endif
  dev_info(&interface->dev, "usbskel disconnected\n");
}

static struct usb_driver usbskel_driver = {
    .name = "usbskel",
    .probe = usbskel_probe,
    .disconnect = usbskel_disconnect,
    .id_table = usbskel_table,
};

module_usb_driver(usbskel_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A usb-skeleton-style driver with an interrupt-in endpoint");
