/* Uses every name of linux/hw_random.h once, so the compile check (check_c_drivers_compile.sh) covers the header, and
 * what drivers/usb/misc/chaoskey.c needs of linux/usb.h beside it. */
#include <linux/device.h>
#include <linux/errno.h>
#include <linux/hw_random.h>
#include <linux/usb.h>

static int every_hwrng_read(struct hwrng *rng, void *data, size_t max, bool wait) {
  (void)rng;
  (void)data;
  (void)wait;
  return (int)max;
}

static struct hwrng every_hwrng = {
    .name = "every-hwrng",
    .read = every_hwrng_read,
    .quality = 1024,
};

int every_header_hw_random(struct device *dev);
int every_header_hw_random(struct device *dev) {
  int err = hwrng_register(&every_hwrng);

  if (err) return err;
  hwrng_unregister(&every_hwrng);
  return devm_hwrng_register(dev, &every_hwrng);
}

int every_header_usb_autosuspend(struct usb_device *udev, int error);
int every_header_usb_autosuspend(struct usb_device *udev, int error) {
  usb_enable_autosuspend(udev);
  usb_disable_autosuspend(udev);
  return usb_translate_errors(error) == -EIO ? usb_translate_errors(-EOPNOTSUPP) : 0;
}
