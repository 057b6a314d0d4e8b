/* Kernel C against linux/hw_random.h for tests/c/test_c_hwrng.cpp: a generator embedded in kzalloc'd driver state,
 * as chaoskey.c embeds its struct hwrng, whose read fills the buffer with one byte value. */
#include <linux/errno.h>
#include <linux/hw_random.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>

struct rngcase {
  struct hwrng rng;
  unsigned char byte;
  int inits;
  int reads;
  int cleanups;
};

static int rngcase_init(struct hwrng *rng) {
  struct rngcase *c = container_of(rng, struct rngcase, rng);

  c->inits++;
  return 0;
}

static void rngcase_cleanup(struct hwrng *rng) {
  struct rngcase *c = container_of(rng, struct rngcase, rng);

  c->cleanups++;
}

static int rngcase_read(struct hwrng *rng, void *data, size_t max, bool wait) {
  struct rngcase *c = container_of(rng, struct rngcase, rng);

  (void)wait;
  c->reads++;
  memset(data, c->byte, max);
  return (int)max;
}

struct rngcase *rngcase_new(const char *name, unsigned char byte, unsigned short quality, int with_read) {
  struct rngcase *c = kzalloc(sizeof(*c), GFP_KERNEL);

  if (!c) return NULL;
  c->rng.name = name;
  c->rng.init = rngcase_init;
  c->rng.cleanup = rngcase_cleanup;
  if (with_read) c->rng.read = rngcase_read;
  c->rng.quality = quality;
  c->byte = byte;
  return c;
}

int rngcase_register(struct rngcase *c) {
  return hwrng_register(&c->rng);
}

void rngcase_unregister(struct rngcase *c) {
  hwrng_unregister(&c->rng);
}

/* The remove of a driver that frees its state before it unregisters (the bug), or after (as chaoskey.c does). */
void rngcase_remove(struct rngcase *c, int buggy) {
  if (buggy) {
    kfree(c);
    hwrng_unregister(&c->rng);
    return;
  }
  hwrng_unregister(&c->rng);
  kfree(c);
}

void rngcase_free(struct rngcase *c) {
  kfree(c);
}

int rngcase_inits(struct rngcase *c) {
  return c->inits;
}
int rngcase_reads(struct rngcase *c) {
  return c->reads;
}
int rngcase_cleanups(struct rngcase *c) {
  return c->cleanups;
}
