/* A module that calls a function devsim does not provide (declared, so it compiles; undefined when it loads): what a
 * real driver using a kernel API devsim lacks looks like. tests/c/test_c_api.cpp. */
#include <linux/init.h>
#include <linux/module.h>

int devsim_test_no_such_kernel_function(void);

static int __init unloadable_init(void) {
  return devsim_test_no_such_kernel_function();
}

static void __exit unloadable_exit(void) {}

module_init(unloadable_init);
module_exit(unloadable_exit);
MODULE_LICENSE("GPL");
