/* linux/firmware.h cases that tests/c/test_c_firmware.cpp runs in simulated tasks: kernel C against include/linux. */
#include <linux/completion.h>
#include <linux/firmware.h>
#include <linux/slab.h>

/* The size of `name`, and its first byte in *first; the error when it cannot be had. */
long firmware_case_size(const char *name, int *first) {
  const struct firmware *fw;
  long size;
  int r = request_firmware(&fw, name, NULL);

  if (r) return r;
  size = (long)fw->size;
  *first = fw->size ? fw->data[0] : -1;
  release_firmware(fw);
  return size;
}

/* Reads the data after releasing it. */
int firmware_case_read_after_release(const char *name) {
  const struct firmware *fw;
  int r = request_firmware(&fw, name, NULL);

  if (r) return r;
  release_firmware(fw);
  return fw->data[0];
}

struct loader {
  long size;
};

static void loaded(const struct firmware *fw, void *context) {
  struct loader *l = context;

  l->size = fw ? (long)fw->size : -1;
  release_firmware(fw);
}

static void loaded_and_freed(const struct firmware *fw, void *context) {
  loaded(fw, context);
  kfree(context);
}

/* request_firmware_nowait: the continuation owns the loader (fixed), or the requester frees it at once while the
 * request may still be in flight (buggy: the continuation writes freed memory). */
int firmware_case_nowait(const char *name, int buggy) {
  struct loader *l = kzalloc(sizeof(*l), GFP_KERNEL);
  int r;

  if (!l) return -ENOMEM;
  r = request_firmware_nowait(NULL, FW_ACTION_UEVENT, name, NULL, GFP_KERNEL, l, buggy ? loaded : loaded_and_freed);
  if (r) {
    kfree(l);
    return r;
  }
  if (buggy) kfree(l);
  return 0;
}
