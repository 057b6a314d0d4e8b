/*
 * linux/string.h: the kernel's string and memory functions (devsim, C gnu11).
 *
 * Each is devsim's (cabi/kernel_api.cpp), not the C library's, so what it reads and writes is checked as the
 * driver's access at the driver's call site: a copy out of freed memory is a use-after-free, past the end of an
 * allocation out of bounds, and two unserialised copies into the same bytes a data race. A memcpy the compiler
 * emits by itself (a struct assignment) is the compiler's and goes unchecked by this header.
 */
#ifndef _DEVSIM_LINUX_STRING_H
#define _DEVSIM_LINUX_STRING_H

#include "devsim_abi.h"
#include "errno.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif
void *__devsim_memcpy(void *dst, const void *src, size_t n, int overlap, __DEVSIM_SITE_PARAMS);
void *__devsim_memset(void *dst, int c, size_t n, __DEVSIM_SITE_PARAMS);
int __devsim_memcmp(const void *a, const void *b, size_t n, __DEVSIM_SITE_PARAMS);
size_t __devsim_strnlen(const char *s, size_t max, __DEVSIM_SITE_PARAMS);
int __devsim_strncmp(const char *a, const char *b, size_t n, __DEVSIM_SITE_PARAMS);
char *__devsim_strchr(const char *s, int c, __DEVSIM_SITE_PARAMS);
ssize_t __devsim_strscpy(char *dst, const char *src, size_t size, __DEVSIM_SITE_PARAMS);
#ifdef __cplusplus
}
#endif

/* For C drivers only: devsim's C++ side (cabi/) includes these headers and keeps the C library's names. */
#ifndef __cplusplus
#define memcpy(dst, src, n) __DEVSIM_NOT_TAIL(void *, __devsim_memcpy((dst), (src), (n), 0, __DEVSIM_SITE))
#define memmove(dst, src, n) __DEVSIM_NOT_TAIL(void *, __devsim_memcpy((dst), (src), (n), 1, __DEVSIM_SITE))
#define memset(dst, c, n) __DEVSIM_NOT_TAIL(void *, __devsim_memset((dst), (c), (n), __DEVSIM_SITE))
#define memcmp(a, b, n) __DEVSIM_NOT_TAIL(int, __devsim_memcmp((a), (b), (n), __DEVSIM_SITE))
#define strlen(s) __DEVSIM_NOT_TAIL(size_t, __devsim_strnlen((s), (size_t)-1, __DEVSIM_SITE))
#define strnlen(s, max) __DEVSIM_NOT_TAIL(size_t, __devsim_strnlen((s), (max), __DEVSIM_SITE))
#define strcmp(a, b) __DEVSIM_NOT_TAIL(int, __devsim_strncmp((a), (b), (size_t)-1, __DEVSIM_SITE))
#define strncmp(a, b, n) __DEVSIM_NOT_TAIL(int, __devsim_strncmp((a), (b), (n), __DEVSIM_SITE))
#define strchr(s, c) __DEVSIM_NOT_TAIL(char *, __devsim_strchr((s), (c), __DEVSIM_SITE))
/* strscpy: copies at most size - 1 bytes and terminates; the length, or -E2BIG when truncated (lib/string.c). */
#define strscpy(dst, src, size) __DEVSIM_NOT_TAIL(ssize_t, __devsim_strscpy((dst), (src), (size), __DEVSIM_SITE))
/* strcpy and strcat: the copy's reads and writes checked as above. */
#define strcpy(dst, src) __DEVSIM_NOT_TAIL(char *, __devsim_strcat((dst), (src), 0, __DEVSIM_SITE))
#define strcat(dst, src) __DEVSIM_NOT_TAIL(char *, __devsim_strcat((dst), (src), 1, __DEVSIM_SITE))
/* memdup_user (mm/util.c): a GFP_USER allocation holding len bytes copied from user memory; ERR_PTR(-ENOMEM), or
 * ERR_PTR(-EFAULT) when the user range does not hold them. memdup_user_nul adds a NUL after them. Free with kfree. */
#define memdup_user(src, len) __DEVSIM_NOT_TAIL(void *, __devsim_memdup_user((src), (len), 0, __DEVSIM_SITE))
#define memdup_user_nul(src, len) __DEVSIM_NOT_TAIL(void *, __devsim_memdup_user((src), (len), 1, __DEVSIM_SITE))

static inline char *__devsim_strcat(char *dst, const char *src, int append, __DEVSIM_SITE_PARAMS) {
  size_t at = append ? __devsim_strnlen(dst, (size_t)-1, __file, __line, __func) : 0;
  size_t n = __devsim_strnlen(src, (size_t)-1, __file, __line, __func);

  __devsim_memcpy(dst + at, src, n + 1, 0, __file, __line, __func);
  return dst;
}

/* lib/string.c: sysfs_streq compares ignoring one trailing newline on either side; match_string and
 * __sysfs_match_string return the index of the first entry that matches among n (or up to a NULL entry), else
 * -EINVAL. */
static inline bool sysfs_streq(const char *s1, const char *s2) {
  while (*s1 && *s1 == *s2) {
    s1++;
    s2++;
  }
  if (*s1 == *s2) return true;
  if (!*s1 && *s2 == '\n' && !s2[1]) return true;
  if (*s1 == '\n' && !s1[1] && !*s2) return true;
  return false;
}

static inline int match_string(const char *const *array, size_t n, const char *string) {
  size_t index;

  for (index = 0; index < n; index++) {
    if (!array[index]) break;
    if (!strcmp(array[index], string)) return (int)index;
  }
  return -EINVAL;
}

static inline int __sysfs_match_string(const char *const *array, size_t n, const char *str) {
  size_t index;

  for (index = 0; index < n; index++) {
    if (!array[index]) break;
    if (sysfs_streq(array[index], str)) return (int)index;
  }
  return -EINVAL;
}
#define sysfs_match_string(_a, _s) __sysfs_match_string(_a, ARRAY_SIZE(_a), _s)
#endif

#endif
