/* The linux/string.h and sprintf cases tests/c/test_c_string.cpp runs in simulated tasks: kernel C against
 * include/linux. */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>

/* The answers of lib/string.c and lib/vsprintf.c, packed in order. */
int string_case_answers(long *out) {
  char *buf = kzalloc(8, GFP_KERNEL);
  int n = 0;
  out[n++] = snprintf(buf, 8, "%d-%s", 42, "abcdef");  /* 9: what it would have written */
  out[n++] = (long)strlen(buf);                        /* 7: truncated, terminated */
  out[n++] = scnprintf(buf, 8, "%d-%s", 42, "abcdef"); /* 7: what it wrote */
  out[n++] = strscpy(buf, "0123456789", 8);            /* -E2BIG */
  out[n++] = strcmp(buf, "0123456");                   /* 0 */
  out[n++] = strncmp("abc", "abd", 2);                 /* 0 */
  out[n++] = strchr(buf, '4') - buf;                   /* 4 */
  out[n++] = sprintf(buf, "v%d", 7);                   /* 2 */
  out[n++] = memcmp(buf, "v7", 3);                     /* 0: the terminator too */
  strcpy(buf, "ab");
  strcat(buf, "cd");
  out[n++] = memcmp(buf, "abcd", 5); /* 0 */
  {
    static const char *const modes[] = {"hex", "ascii", "raw"};

    out[n++] = sysfs_match_string(modes, "raw\n");                         /* 2: one trailing newline ignored */
    out[n++] = sysfs_match_string(modes, "raw\n\n");                       /* -EINVAL */
    out[n++] = match_string(modes, ARRAY_SIZE(modes), "ascii");            /* 1 */
    out[n++] = match_string(modes, ARRAY_SIZE(modes), "ascii\n");          /* -EINVAL: exact */
    out[n++] = sysfs_streq("hex", "hex\n") && sysfs_streq("hex\n", "hex"); /* 1 */
  }
  kfree(buf);
  return n;
}

/* strcat past the end of its buffer. */
void string_case_strcat_overflow(void) {
  char *buf = kzalloc(4, GFP_KERNEL);
  strcpy(buf, "ab");
  strcat(buf, "cd");
  kfree(buf);
}

/* sprintf of more than the buffer holds. */
void string_case_sprintf_overflow(void) {
  char *buf = kmalloc(4, GFP_KERNEL);
  sprintf(buf, "%s", "too long");
  kfree(buf);
}

/* strlen of a string that was freed. */
size_t string_case_strlen_after_free(void) {
  char *s = kmemdup("name", 5, GFP_KERNEL);
  kfree(s);
  return strlen(s);
}
