/*
 * linux/module.h: module entry points (devsim, C gnu11).
 *
 * As in a kernel module, module_init(fn) makes fn the module's init_module and module_exit(fn) its
 * cleanup_module; devsim's module loader calls them at `load`/`unload` (and unloads what is still loaded when an
 * execution ends). THIS_MODULE is the module's own struct module (defined by the build, as modpost's .mod.c does),
 * and a file whose fops name it as .owner holds a module reference while open: unloading then fails with
 * -EAGAIN (kernel/module/main.c delete_module -> try_stop_module: -EWOULDBLOCK). MODULE_* are no-ops.
 */
#ifndef _DEVSIM_LINUX_MODULE_H
#define _DEVSIM_LINUX_MODULE_H

#include "compiler.h"
#include "devsim_abi.h"
#include "types.h"
#ifndef __cplusplus /* stat.h's S_I* are the C library's names too, on the C++ side of the ABI */
#include "moduleparam.h"
#endif

struct module {
  const char *name;
};

extern struct module __this_module;
#define THIS_MODULE (&__this_module)

typedef int (*initcall_t)(void);
typedef void (*exitcall_t)(void);

#define module_init(initfn)                                  \
  static inline initcall_t __maybe_unused __inittest(void) { \
    return initfn;                                           \
  }                                                          \
  int init_module(void) __attribute__((alias(#initfn), visibility("default")))

#define module_exit(exitfn)                                  \
  static inline exitcall_t __maybe_unused __exittest(void) { \
    return exitfn;                                           \
  }                                                          \
  void cleanup_module(void) __attribute__((alias(#exitfn), visibility("default")))

#define __devsim_modinfo extern const char __devsim_modinfo_unused[]
#define MODULE_LICENSE(x) __devsim_modinfo
#define MODULE_AUTHOR(x) __devsim_modinfo
#define MODULE_DESCRIPTION(x) __devsim_modinfo
#define MODULE_VERSION(x) __devsim_modinfo
#define MODULE_ALIAS(x) __devsim_modinfo
#define MODULE_DEVICE_TABLE(type, name) __devsim_modinfo
#define EXPORT_SYMBOL(sym) __devsim_modinfo
#define EXPORT_SYMBOL_GPL(sym) __devsim_modinfo

static inline bool try_module_get(struct module *module) {
  return __devsim_try_module_get(module);
}
static inline void module_put(struct module *module) {
  __devsim_module_put(module);
}

#endif
