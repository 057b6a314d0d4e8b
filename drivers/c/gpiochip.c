/*
 * gpiosim: a GPIO chip character device for a small GPIO expander on the platform bus, shaped like gpiolib's. The
 * expander sits on a slow bus: every access to it is a transfer that sleeps (GPIOSIM_XFER_US), as for an I2C or USB
 * expander. /dev/gpiochipN: ioctl(GPIOSIM_IOC_REQUEST, line) requests a line handle for the file (the line becomes
 * an output the file owns; another file gets -EBUSY), ioctl(GPIOSIM_IOC_GET/SET) read and drive a requested line,
 * read() returns one byte: the levels of the file's lines as a bitmap, ioctl(GPIOSIM_IOC_CHIPINFO) the line count.
 * Closing the file gives its lines back (each is turned back into an input).
 *
 * Two objects, as gpiolib splits them. struct gpiosim_chip is the hardware side (gpiolib's struct gpio_chip): the
 * driver's, devm-allocated in probe, so it is freed when the driver unbinds, right after remove(). struct
 * gpiosim_device is the character device's side (struct gpio_device): reference counted, the binding holds one
 * reference and every open file another, so it outlives the binding while a file is open. It points at the chip;
 * remove() "numbs" it by clearing that pointer, and every file operation checks the pointer and returns -ENODEV
 * once it is NULL.
 *
 * Built twice. GPIOSIM_FIXED unset: the buggy variant. The check is a bare load: a call that saw the chip before
 * remove() cleared the pointer goes on using it, and the chip is freed under it as soon as remove() returns (the
 * call is asleep in a bus transfer by then): a use-after-free of the chip. GPIOSIM_FIXED=1: the fixed variant, as
 * gpiolib fixed it: the pointer is read and used under gdev->sem held for reading, and remove() clears it with the
 * semaphore held for writing, so remove() waits for the calls in flight and later calls see NULL.
 */
#define pr_fmt(fmt) "gpiosim: " fmt

#include <linux/cdev.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/kref.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uaccess.h>

#define GPIOSIM_NGPIO 8
#define GPIOSIM_MINORS 4
#define GPIOSIM_XFER_US 200 /* one transfer on the expander's bus */

/* ioctls on /dev/gpiochipN. arg: the line offset; for SET, offset | value << 8. */
#define GPIOSIM_IOC_CHIPINFO 0 /* the number of lines */
#define GPIOSIM_IOC_REQUEST 1  /* request a line handle for this file */
#define GPIOSIM_IOC_GET 2      /* the level of a line this file requested */
#define GPIOSIM_IOC_SET 3      /* drive a line this file requested */

/* The hardware side (gpiolib's struct gpio_chip): devm-allocated, freed when the driver unbinds. */
struct gpiosim_chip {
  struct device *parent;
  struct mutex bus_lock; /* one transfer at a time */
  unsigned int ngpio;
  u8 level[GPIOSIM_NGPIO];  /* the pins' levels, as the expander reports them */
  u8 output[GPIOSIM_NGPIO]; /* the direction registers: 1 = driven by us */
};

/* The character device's side (gpiolib's struct gpio_device): reference counted. */
struct gpiosim_device {
  struct kref ref;           /* the binding's, and one per open file */
  struct rw_semaphore sem;   /* fixed variant: guards chip (readers: file operations; the writer: remove) */
  struct gpiosim_chip *chip; /* NULL once the chip is gone ("numbed") */
  spinlock_t lines_lock;     /* guards requested */
  unsigned long requested;   /* the lines some file holds a handle on */
  struct cdev *cdev;
  struct device *node; /* /dev/gpiochipN */
  unsigned int minor;
};

/* An open file: the device it pins and the line handles it holds. */
struct gpiosim_file {
  struct gpiosim_device *gdev;
  unsigned long lines;
};

static dev_t gpiosim_base;
static struct class *gpiosim_class;
static DEFINE_MUTEX(gpiosim_table_lock);
static struct gpiosim_device *gpiosim_table[GPIOSIM_MINORS]; /* by minor; guarded by gpiosim_table_lock */

static void gpiosim_device_release(struct kref *ref) {
  kfree(container_of(ref, struct gpiosim_device, ref));
}

/*
 * The chip behind a device, for the length of one file operation (NULL: it is gone); every gpiosim_chip_enter is
 * paired with a gpiosim_chip_exit, whatever it returned.
 */
#ifdef GPIOSIM_FIXED
static struct gpiosim_chip *gpiosim_chip_enter(struct gpiosim_device *gdev) {
  down_read(&gdev->sem);
  return gdev->chip;
}

static void gpiosim_chip_exit(struct gpiosim_device *gdev) {
  up_read(&gdev->sem);
}
#else
static struct gpiosim_chip *gpiosim_chip_enter(struct gpiosim_device *gdev) {
  /* BUG: checked, then used, with nothing keeping the chip from being freed in between: remove() can clear the
   * pointer and devres free the chip while the caller is still using what it read here. */
  return READ_ONCE(gdev->chip);
}

static void gpiosim_chip_exit(struct gpiosim_device *gdev) {
  (void)gdev;
}
#endif

/* ---- the hardware: each access is a transfer on the expander's bus (it sleeps) ---- */

static int gpiosim_chip_get(struct gpiosim_chip *chip, unsigned int offset) {
  int level;

  mutex_lock(&chip->bus_lock);
  usleep_range(GPIOSIM_XFER_US, 2 * GPIOSIM_XFER_US);
  level = chip->level[offset];
  mutex_unlock(&chip->bus_lock);
  return level;
}

static void gpiosim_chip_set(struct gpiosim_chip *chip, unsigned int offset, int value) {
  mutex_lock(&chip->bus_lock);
  usleep_range(GPIOSIM_XFER_US, 2 * GPIOSIM_XFER_US);
  chip->level[offset] = value ? 1 : 0;
  mutex_unlock(&chip->bus_lock);
}

static void gpiosim_chip_direction(struct gpiosim_chip *chip, unsigned int offset, bool output) {
  mutex_lock(&chip->bus_lock);
  usleep_range(GPIOSIM_XFER_US, 2 * GPIOSIM_XFER_US);
  chip->output[offset] = output;
  mutex_unlock(&chip->bus_lock);
}

/* ---- the character device ---- */

static int gpiosim_open(struct inode *inode, struct file *file) {
  unsigned int minor = iminor(inode) - MINOR(gpiosim_base);
  struct gpiosim_device *gdev;
  struct gpiosim_chip *chip;
  struct gpiosim_file *gf;

  if (minor >= GPIOSIM_MINORS) return -ENODEV;
  mutex_lock(&gpiosim_table_lock);
  gdev = gpiosim_table[minor];
  if (gdev) kref_get(&gdev->ref);
  mutex_unlock(&gpiosim_table_lock);
  if (!gdev) return -ENODEV;

  chip = gpiosim_chip_enter(gdev);
  if (!chip) {
    gpiosim_chip_exit(gdev);
    kref_put(&gdev->ref, gpiosim_device_release);
    return -ENODEV;
  }
  gpiosim_chip_exit(gdev);

  gf = kzalloc(sizeof(*gf), GFP_KERNEL);
  if (!gf) {
    kref_put(&gdev->ref, gpiosim_device_release);
    return -ENOMEM;
  }
  gf->gdev = gdev; /* the file's reference, dropped in release */
  file->private_data = gf;
  return nonseekable_open(inode, file);
}

static int gpiosim_release(struct inode *inode, struct file *file) {
  struct gpiosim_file *gf = file->private_data;
  struct gpiosim_device *gdev = gf->gdev;
  struct gpiosim_chip *chip;
  unsigned int i;

  (void)inode;
  chip = gpiosim_chip_enter(gdev);
  for (i = 0; i < GPIOSIM_NGPIO; i++) {
    if (!(gf->lines & (1UL << i))) continue;
    if (chip) gpiosim_chip_direction(chip, i, false); /* back to an input */
    spin_lock(&gdev->lines_lock);
    gdev->requested &= ~(1UL << i);
    spin_unlock(&gdev->lines_lock);
  }
  gpiosim_chip_exit(gdev);
  kref_put(&gdev->ref, gpiosim_device_release);
  kfree(gf);
  return 0;
}

static long gpiosim_request(struct gpiosim_file *gf, struct gpiosim_chip *chip, unsigned int offset) {
  struct gpiosim_device *gdev = gf->gdev;
  bool busy;

  spin_lock(&gdev->lines_lock);
  busy = gdev->requested & (1UL << offset);
  if (!busy) gdev->requested |= 1UL << offset;
  spin_unlock(&gdev->lines_lock);
  if (busy) return -EBUSY;
  gf->lines |= 1UL << offset;
  gpiosim_chip_direction(chip, offset, true);
  return 0;
}

static long gpiosim_ioctl(struct file *file, unsigned int cmd, unsigned long arg) {
  struct gpiosim_file *gf = file->private_data;
  struct gpiosim_device *gdev = gf->gdev;
  unsigned int offset = arg & 0xff;
  struct gpiosim_chip *chip;
  long ret;

  chip = gpiosim_chip_enter(gdev);
  if (!chip) {
    ret = -ENODEV;
    goto out;
  }
  if (cmd == GPIOSIM_IOC_CHIPINFO) {
    ret = chip->ngpio;
    goto out;
  }
  if (cmd != GPIOSIM_IOC_REQUEST && cmd != GPIOSIM_IOC_GET && cmd != GPIOSIM_IOC_SET) {
    ret = -ENOTTY;
    goto out;
  }
  if (offset >= chip->ngpio) {
    ret = -EINVAL;
    goto out;
  }
  if (cmd == GPIOSIM_IOC_REQUEST) {
    ret = (gf->lines & (1UL << offset)) ? -EBUSY : gpiosim_request(gf, chip, offset);
  } else if (!(gf->lines & (1UL << offset))) {
    ret = -EPERM; /* no handle on that line */
  } else if (cmd == GPIOSIM_IOC_GET) {
    ret = gpiosim_chip_get(chip, offset);
  } else {
    gpiosim_chip_set(chip, offset, (arg >> 8) & 1);
    ret = 0;
  }
out:
  gpiosim_chip_exit(gdev);
  return ret;
}

static ssize_t gpiosim_read(struct file *file, char __user *buf, size_t count, loff_t *ppos) {
  struct gpiosim_file *gf = file->private_data;
  struct gpiosim_device *gdev = gf->gdev;
  struct gpiosim_chip *chip;
  unsigned int i;
  u8 levels = 0;

  (void)ppos;
  if (count < 1) return -EINVAL;
  chip = gpiosim_chip_enter(gdev);
  if (!chip) {
    gpiosim_chip_exit(gdev);
    return -ENODEV;
  }
  for (i = 0; i < GPIOSIM_NGPIO; i++)
    if ((gf->lines & (1UL << i)) && gpiosim_chip_get(chip, i)) levels |= 1U << i;
  gpiosim_chip_exit(gdev);
  if (copy_to_user(buf, &levels, 1)) return -EFAULT;
  return 1;
}

static const struct file_operations gpiosim_fops = {
    .owner = THIS_MODULE,
    .open = gpiosim_open,
    .release = gpiosim_release,
    .read = gpiosim_read,
    .unlocked_ioctl = gpiosim_ioctl,
    .llseek = noop_llseek,
};

/* ---- the platform driver ---- */

static int gpiosim_probe(struct platform_device *pdev) {
  struct device *dev = &pdev->dev;
  struct gpiosim_device *gdev;
  struct gpiosim_chip *chip;
  unsigned int minor, i;
  int ret;

  chip = devm_kzalloc(dev, sizeof(*chip), GFP_KERNEL);
  if (!chip) return -ENOMEM;
  chip->parent = dev;
  chip->ngpio = GPIOSIM_NGPIO;
  mutex_init(&chip->bus_lock);
  for (i = 0; i < GPIOSIM_NGPIO; i++)
    chip->level[i] = i & 1; /* what the pins read at power-up */

  gdev = kzalloc(sizeof(*gdev), GFP_KERNEL);
  if (!gdev) return -ENOMEM;
  kref_init(&gdev->ref);
  init_rwsem(&gdev->sem);
  spin_lock_init(&gdev->lines_lock);
  gdev->chip = chip;

  mutex_lock(&gpiosim_table_lock);
  for (minor = 0; minor < GPIOSIM_MINORS && gpiosim_table[minor]; minor++) {
  }
  if (minor < GPIOSIM_MINORS) gpiosim_table[minor] = gdev; /* no node yet: nothing opens it before cdev_add */
  mutex_unlock(&gpiosim_table_lock);
  if (minor == GPIOSIM_MINORS) {
    ret = -EBUSY;
    goto err_free;
  }
  gdev->minor = minor;

  gdev->cdev = cdev_alloc();
  if (!gdev->cdev) {
    ret = -ENOMEM;
    goto err_table;
  }
  gdev->cdev->owner = THIS_MODULE;
  gdev->cdev->ops = &gpiosim_fops;
  ret = cdev_add(gdev->cdev, gpiosim_base + minor, 1);
  if (ret) goto err_cdev;
  gdev->node = device_create(gpiosim_class, dev, gpiosim_base + minor, gdev, "gpiochip%u", minor);
  if (IS_ERR(gdev->node)) {
    ret = PTR_ERR(gdev->node);
    goto err_cdev;
  }
  platform_set_drvdata(pdev, gdev);
  dev_info(dev, "%u lines, /dev/gpiochip%u\n", chip->ngpio, minor);
  return 0;

err_cdev:
  cdev_del(gdev->cdev);
err_table:
  mutex_lock(&gpiosim_table_lock);
  gpiosim_table[minor] = NULL;
  mutex_unlock(&gpiosim_table_lock);
err_free:
  kfree(gdev); /* no node was made: no file can hold a reference */
  return ret;
}

static void gpiosim_remove(struct platform_device *pdev) {
  struct gpiosim_device *gdev = platform_get_drvdata(pdev);

  /* No new opens. */
  mutex_lock(&gpiosim_table_lock);
  gpiosim_table[gdev->minor] = NULL;
  mutex_unlock(&gpiosim_table_lock);
  device_destroy(gpiosim_class, gpiosim_base + gdev->minor);
  cdev_del(gdev->cdev);

  /* Numb the device: the chip is freed by devres as soon as this returns; open files get -ENODEV from now on. */
#ifdef GPIOSIM_FIXED
  down_write(&gdev->sem); /* waits for the file operations using the chip */
  gdev->chip = NULL;
  up_write(&gdev->sem);
#else
  WRITE_ONCE(gdev->chip, NULL); /* BUG: a call that read the pointer before this still uses the chip */
#endif
  kref_put(&gdev->ref, gpiosim_device_release); /* the binding's reference */
}

static struct platform_driver gpiosim_driver = {
    .probe = gpiosim_probe,
    .remove = gpiosim_remove,
    .driver =
        {
            .name = "gpiosim",
        },
};

static int __init gpiosim_init(void) {
  int ret;

  ret = alloc_chrdev_region(&gpiosim_base, 0, GPIOSIM_MINORS, "gpiosim");
  if (ret) return ret;
  gpiosim_class = class_create("gpiosim");
  if (IS_ERR(gpiosim_class)) {
    ret = PTR_ERR(gpiosim_class);
    goto err_region;
  }
  ret = platform_driver_register(&gpiosim_driver);
  if (ret) goto err_class;
  return 0;

err_class:
  class_destroy(gpiosim_class);
err_region:
  unregister_chrdev_region(gpiosim_base, GPIOSIM_MINORS);
  return ret;
}

static void __exit gpiosim_exit(void) {
  platform_driver_unregister(&gpiosim_driver);
  class_destroy(gpiosim_class);
  unregister_chrdev_region(gpiosim_base, GPIOSIM_MINORS);
}

module_init(gpiosim_init);
module_exit(gpiosim_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("a GPIO chip character device for a GPIO expander on a slow bus (devsim example)");
