/*
 * linux/hw_random.h: hardware random number generators (devsim, C gnu11), as drivers/char/hw_random/core.c
 * serves them.
 *
 * hwrng_register(rng) adds a generator (-EINVAL without a name or a read/data_read callback, -EEXIST for a name
 * already registered). The one with the highest quality is current (the first registered among equals): its
 * `init` runs when it becomes current (an error fails the registration), and the core reads 32 bytes from a new
 * current generator at once, without waiting (add_early_randomness: `read(rng, buf, 32, false)` under the core's
 * reading_mutex), so a driver's read runs inside its probe. /dev/hwrng (a misc device the core makes at the first
 * registration) reads the current generator: each round takes a reference on it under rng_mutex, calls
 * `read(rng, buf, n, !O_NONBLOCK)` under reading_mutex and drops the reference; -ENODEV with no generator, -EAGAIN
 * for a non-blocking read that got nothing; a blocking read that gets nothing asks again, as the kernel's loop does,
 * until a signal (-EINTR). hwrng_unregister(rng) takes it off the list (the next best becomes current) and then
 * waits, uninterruptibly, until the last reference is dropped and its `cleanup` has run (the core's
 * `cleanup_done`): a driver may free what its read uses once it returned. devm_hwrng_register unregisters when the
 * driver unbinds (devres). The core reads the generator's fields from the driver's memory: a generator freed while
 * registered is a use-after-free in the core.
 * Not modelled: the fill thread (hwrng_fillfn, which reads the current generator in a loop to feed the entropy pool:
 * the core's own reads here are add_early_randomness's and /dev/hwrng's), `data_present`/`data_read` (a generator
 * with only those registers but is read as returning nothing), the sysfs attributes (rng_current, rng_available,
 * rng_quality: no user choice of generator), `quality` 0 meaning "do not feed the pool", the struct's internal
 * members (list, ref, cleanup_done, dying: the core keeps them itself).
 */
#ifndef _DEVSIM_LINUX_HW_RANDOM_H
#define _DEVSIM_LINUX_HW_RANDOM_H

#include "devsim_abi.h"
#include "types.h"

struct device;

struct hwrng {
  const char *name;
  int (*init)(struct hwrng *rng);
  void (*cleanup)(struct hwrng *rng);
  int (*data_present)(struct hwrng *rng, int wait);
  int (*data_read)(struct hwrng *rng, u32 *data);
  int (*read)(struct hwrng *rng, void *data, size_t max, bool wait);
  unsigned long priv;
  unsigned short quality;
};

#ifdef __cplusplus
extern "C" {
#endif
int __devsim_hwrng_register(struct hwrng *rng, __DEVSIM_SITE_PARAMS);
void __devsim_hwrng_unregister(struct hwrng *rng, __DEVSIM_SITE_PARAMS);
int __devsim_devm_hwrng_register(struct device *dev, struct hwrng *rng, __DEVSIM_SITE_PARAMS);
#ifdef __cplusplus
}
#endif

#ifndef __cplusplus
#define hwrng_register(rng) __devsim_hwrng_register((rng), __DEVSIM_SITE)
#define hwrng_unregister(rng) __devsim_hwrng_unregister((rng), __DEVSIM_SITE)
#define devm_hwrng_register(dev, rng) __devsim_devm_hwrng_register((dev), (rng), __DEVSIM_SITE)
#endif

#endif
