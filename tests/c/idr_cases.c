/* The linux/idr.h cases tests/c/test_c_idr.cpp runs in simulated tasks: kernel C against include/linux only. */
#include <linux/err.h>
#include <linux/errno.h>
#include <linux/idr.h>
#include <linux/mutex.h>
#include <linux/slab.h>

static int a, b, c;

/* The answers of a fixed sequence, packed into an array the test compares. */
int idr_case_semantics(long *out) {
  struct idr *idr = kzalloc(sizeof(*idr), GFP_KERNEL);
  int n = 0, id;
  void *entry;
  idr_init(idr);
  out[n++] = idr_is_empty(idr);                     /* 1 */
  out[n++] = idr_alloc(idr, &a, 0, 0, GFP_KERNEL);  /* 0: lowest free */
  out[n++] = idr_alloc(idr, &b, 0, 0, GFP_KERNEL);  /* 1 */
  out[n++] = idr_alloc(idr, &c, 5, 7, GFP_KERNEL);  /* 5: from start */
  out[n++] = idr_alloc(idr, &c, 5, 7, GFP_KERNEL);  /* 6 */
  out[n++] = idr_alloc(idr, &c, 5, 7, GFP_KERNEL);  /* -ENOSPC: end is exclusive */
  out[n++] = idr_find(idr, 1) == &b;                /* 1 */
  out[n++] = idr_remove(idr, 0) == &a;              /* 1 */
  out[n++] = idr_find(idr, 0) == NULL;              /* 1 */
  out[n++] = idr_alloc(idr, &a, 0, 0, GFP_KERNEL);  /* 0 again: lowest free */
  out[n++] = idr_replace(idr, &c, 1) == &b;         /* 1 */
  out[n++] = PTR_ERR(idr_replace(idr, &c, 3));      /* -ENOENT */
  out[n++] = idr_alloc(idr, &a, -1, 0, GFP_KERNEL); /* -EINVAL, and a warning */
  n += 0;
  id = 0;
  {
    long sum = 0;
    idr_for_each_entry(idr, entry, id) sum = sum * 10 + id; /* 0 1 5 6 -> 156 */
    out[n++] = sum;
  }
  out[n++] = idr_alloc_cyclic(idr, &a, 0, 8, GFP_KERNEL); /* 2: first free from 0 */
  out[n++] = idr_alloc_cyclic(idr, &a, 0, 8, GFP_KERNEL); /* 3: after the last */
  idr_remove(idr, 2);
  out[n++] = idr_alloc_cyclic(idr, &a, 0, 8, GFP_KERNEL); /* 4, not the freed 2 */
  out[n++] = idr_alloc_cyclic(idr, &a, 0, 8, GFP_KERNEL); /* 7 */
  out[n++] = idr_alloc_cyclic(idr, &a, 0, 8, GFP_KERNEL); /* 2: wrapped */
  idr_destroy(idr);
  out[n++] = idr_is_empty(idr); /* 1 */
  kfree(idr);
  return n;
}

int ida_case_semantics(long *out) {
  DEFINE_IDA(ida);
  int n = 0;
  out[n++] = ida_is_empty(&ida);                        /* 1 */
  out[n++] = ida_alloc(&ida, GFP_KERNEL);               /* 0 */
  out[n++] = ida_alloc(&ida, GFP_KERNEL);               /* 1 */
  out[n++] = ida_alloc_min(&ida, 10, GFP_KERNEL);       /* 10 */
  out[n++] = ida_alloc_range(&ida, 10, 11, GFP_KERNEL); /* 11: max is inclusive */
  out[n++] = ida_alloc_range(&ida, 10, 11, GFP_KERNEL); /* -ENOSPC */
  out[n++] = ida_alloc_max(&ida, 1, GFP_KERNEL);        /* -ENOSPC */
  ida_free(&ida, 0);
  out[n++] = ida_alloc_max(&ida, 1, GFP_KERNEL); /* 0 again */
  ida_destroy(&ida);
  out[n++] = ida_is_empty(&ida); /* 1 */
  return n;
}

void ida_case_free_unallocated(void) {
  DEFINE_IDA(ida);
  ida_free(&ida, 3);
}

/* The IDR inside driver data freed while a lookup still uses it. */
void idr_case_find_in_freed(void) {
  struct idr *idr = kzalloc(sizeof(*idr), GFP_KERNEL);
  idr_alloc(idr, &a, 0, 0, GFP_KERNEL);
  kfree(idr);
  (void)idr_find(idr, 0);
}

/* Shared by two tasks: an IDR in simulated memory and the lock the fixed callers take. */
struct idr_users {
  struct mutex lock;
  struct idr idr;
};

struct idr_users *idr_case_shared(void) {
  struct idr_users *u = kzalloc(sizeof(*u), GFP_KERNEL);
  mutex_init(&u->lock);
  idr_init(&u->idr);
  return u;
}
int idr_case_alloc(struct idr_users *u, int locked) {
  int id;
  if (locked) mutex_lock(&u->lock);
  id = idr_alloc(&u->idr, &a, 0, 0, GFP_KERNEL);
  if (locked) mutex_unlock(&u->lock);
  return id;
}
/* A lookup with no lock, as an RCU reader does: allowed alongside a locked change. */
int idr_case_lookup(struct idr_users *u) {
  return idr_find(&u->idr, 0) != NULL;
}
