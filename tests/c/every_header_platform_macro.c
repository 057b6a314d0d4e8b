/* module_platform_driver, which defines the module's init and exit: compiled only (check_c_drivers_compile.sh). */
#include <linux/module.h>
#include <linux/platform_device.h>

static int macro_probe(struct platform_device *pdev) {
  return pdev->id == 0 ? 0 : 0;
}

static struct platform_driver macro_driver = {
    .probe = macro_probe,
    .driver = {.name = "macro"},
};
module_platform_driver(macro_driver);
MODULE_LICENSE("GPL");
