/* asm/byteorder.h: byte order conversions for a little-endian CPU (devsim, C gnu11). linux/types.h has the
 * __le and __be types; <linux/usb.h> includes this header, as the kernel's does through linux/usb/ch9.h. */
#ifndef _DEVSIM_ASM_BYTEORDER_H
#define _DEVSIM_ASM_BYTEORDER_H

#include "../linux/types.h"

#define __LITTLE_ENDIAN 1234
#define le16_to_cpu(x) ((u16)(x))
#define cpu_to_le16(x) ((__le16)(x))
#define le32_to_cpu(x) ((u32)(x))
#define cpu_to_le32(x) ((__le32)(x))
#define le64_to_cpu(x) ((u64)(x))
#define cpu_to_le64(x) ((__le64)(x))
#define be16_to_cpu(x) ((u16)__builtin_bswap16((u16)(x)))
#define cpu_to_be16(x) ((__be16)__builtin_bswap16((u16)(x)))
#define be32_to_cpu(x) ((u32)__builtin_bswap32((u32)(x)))
#define cpu_to_be32(x) ((__be32)__builtin_bswap32((u32)(x)))
#define be64_to_cpu(x) ((u64)__builtin_bswap64((u64)(x)))
#define cpu_to_be64(x) ((__be64)__builtin_bswap64((u64)(x)))
#define le16_to_cpus(p) ((void)(p))
#define le32_to_cpus(p) ((void)(p))

#endif
