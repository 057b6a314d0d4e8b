/* linux/types.h: the kernel's fixed-size integer types, bool, size_t and friends (devsim, C gnu11). */
#ifndef _DEVSIM_LINUX_TYPES_H
#define _DEVSIM_LINUX_TYPES_H

#include <stddef.h> /* size_t, NULL, offsetof: provided by the compiler, not the C library */

#ifndef __cplusplus
typedef _Bool bool;
#define true 1
#define false 0
#endif

typedef signed char s8;
typedef unsigned char u8;
typedef short s16;
typedef unsigned short u16;
typedef int s32;
typedef unsigned int u32;
typedef long long s64;
typedef unsigned long long u64;
typedef u8 __u8;
typedef u16 __u16;
typedef u32 __u32;
typedef u64 __u64;
typedef s32 __s32;
typedef s64 __s64;
typedef long __kernel_ssize_t;
typedef long long __kernel_loff_t;
typedef u32 __kernel_dev_t;
#ifdef __cplusplus
/* The C++ side of the ABI (cabi/) also sees the C library's types of these names, which differ (its dev_t is 64
 * bits): there the names stand for the kernel's types. */
#define ssize_t __kernel_ssize_t
#define loff_t __kernel_loff_t
#define dev_t __kernel_dev_t
#else
typedef __kernel_ssize_t ssize_t;
typedef __kernel_loff_t loff_t;
typedef __kernel_dev_t dev_t;
#endif
typedef u16 __le16;
typedef u16 __be16;
typedef u32 __le32;
typedef u32 __be32;
typedef u64 __le64;
typedef u64 __be64;
typedef unsigned int fmode_t;
typedef unsigned short umode_t;
typedef unsigned int gfp_t;
typedef unsigned int __poll_t;

typedef struct {
  int counter;
} atomic_t;

/* The kernel defines the list links here too (include/linux/types.h); <linux/list.h> has the operations. */
struct list_head {
  struct list_head *next, *prev;
};

#endif
