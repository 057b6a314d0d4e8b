/* The kmemdup/krealloc cases tests/c/test_c_slab.cpp runs in simulated tasks: kernel C against include/linux. */
#include <linux/slab.h>
#include <linux/string.h>

/* kmemdup and krealloc keep the bytes: returns the sum of the checks passed (5 when all do). */
int slab_case_copies(void) {
  char *a = kmalloc(4, GFP_KERNEL), *b, *c;
  int ok = 0;
  memcpy(a, "abcd", 4);
  b = kmemdup(a, 4, GFP_KERNEL);
  ok += b != a && memcmp(b, "abcd", 4) == 0;
  c = krealloc(b, 8, GFP_KERNEL); /* grows: b is freed, its bytes are in c */
  ok += c != NULL && memcmp(c, "abcd", 4) == 0;
  c[7] = 'z'; /* the new size is usable */
  c = krealloc(c, 2, GFP_KERNEL);
  ok += c != NULL && c[0] == 'a' && c[1] == 'b';
  ok += krealloc(c, 0, GFP_KERNEL) == ZERO_SIZE_PTR; /* frees c */
  b = krealloc(NULL, 3, GFP_KERNEL);
  ok += b != NULL;
  kfree(b);
  kfree(a);
  return ok;
}

/* Keeps using the pointer krealloc was given. */
char slab_case_stale_after_krealloc(void) {
  char *a = kzalloc(4, GFP_KERNEL);
  char *b = krealloc(a, 64, GFP_KERNEL);
  char stale = a[0];
  kfree(b);
  return stale;
}
