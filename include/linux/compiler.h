/* linux/compiler.h: annotations and marked accesses (devsim, C gnu11). */
#ifndef _DEVSIM_LINUX_COMPILER_H
#define _DEVSIM_LINUX_COMPILER_H

/* Address-space annotations are for sparse; they compile to nothing, as in the kernel without __CHECKER__. */
#define __user
#define __kernel
#define __iomem
#define __force
#define __must_check __attribute__((warn_unused_result))
#define __maybe_unused __attribute__((unused))
#define __always_unused __attribute__((unused))
#ifndef __always_inline /* the C library's <sys/cdefs.h> has one too (C++ side of the ABI) */
#define __always_inline inline __attribute__((always_inline))
#endif
#define noinline __attribute__((noinline))
#define fallthrough __attribute__((__fallthrough__))
#define __init
#define __exit
#define __read_mostly

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define barrier() __asm__ __volatile__("" : : : "memory")

/*
 * READ_ONCE/WRITE_ONCE: marked accesses. They compile to relaxed atomics, so devsim's instrumentation sees them as
 * marked (never a data race, as KCSAN treats them) and they still reach the use-after-free checks. Scalars of
 * 1, 2, 4 or 8 bytes only (the kernel's rule too).
 */
#define READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, val) __atomic_store_n(&(x), (val), __ATOMIC_RELAXED)
#define smp_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define smp_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

#ifndef __cplusplus         /* the C++ side of the ABI has its own `mb` and friends in scope */
#include "../asm/barrier.h" /* as the kernel's headers bring it in for nearly every driver */
#endif

#endif
