/* The linux/semaphore.h cases tests/c/test_c_semaphore.cpp runs in simulated tasks: kernel C against include/linux. */
#include <linux/semaphore.h>
#include <linux/slab.h>

static DEFINE_SEMAPHORE(static_sem, 1);

/* down_trylock's answers as digits behind a leading 1: a semaphore of 2 taken, taken, refused, (up) taken; the
 * static one of 1 taken. */
long semaphore_case_counting(void) {
  struct semaphore sem;
  long digits = 0;
  sema_init(&sem, 2);
  digits = digits * 10 + down_trylock(&sem); /* 0 */
  digits = digits * 10 + down_trylock(&sem); /* 0 */
  digits = digits * 10 + down_trylock(&sem); /* 1 */
  up(&sem);
  digits = digits * 10 + down_trylock(&sem);        /* 0 */
  digits = digits * 10 + down_trylock(&static_sem); /* 0 */
  up(&static_sem);
  return 10000 + digits;
}

struct semaphore *semaphore_case_new(int count) {
  struct semaphore *sem = kzalloc(sizeof(*sem), GFP_KERNEL);
  sema_init(sem, count);
  return sem;
}
void semaphore_case_down(struct semaphore *sem) {
  down(sem);
}
void semaphore_case_up(struct semaphore *sem) {
  up(sem);
}
