/*
 * linux/moduleparam.h: module parameters (devsim, C gnu11). A parameter keeps the value its definition gives: devsim
 * loads a module with no arguments and has no /sys/module/NAME/parameters, so module_param only checks that the
 * variable exists and marks it used.
 */
#ifndef _DEVSIM_LINUX_MODULEPARAM_H
#define _DEVSIM_LINUX_MODULEPARAM_H

#include "stat.h"

#define module_param_named(name, value, type, perm) \
  static const void *const __devsim_param_##name __attribute__((unused)) = &(value)
#define module_param(name, type, perm) module_param_named(name, name, type, perm)
#define module_param_array(name, type, nump, perm) module_param_named(name, name, type, perm)
#define module_param_string(name, string, len, perm) module_param_named(name, string, charp, perm)
#define MODULE_PARM_DESC(name, desc) extern const char __devsim_modinfo_unused[]

#endif
