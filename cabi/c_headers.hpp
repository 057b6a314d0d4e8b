// The C structures of include/linux/ as the C++ side of the ABI sees them (one definition for both languages).
// Include it after every other header: the C headers define macros (copy_to_user, misc_register, …) that would
// rewrite later C++ code; the ones that clash with devsim's names are undefined here.
#pragma once

extern "C" {
#include "include/linux/fs.h"
#include "include/linux/miscdevice.h"
#include "include/linux/module.h"
#include "include/linux/mutex.h"
#include "include/linux/refcount.h"
#include "include/linux/spinlock.h"
#include "include/linux/wait.h"
}

#undef misc_register
#undef misc_deregister
#undef ssize_t
#undef loff_t
#undef dev_t
