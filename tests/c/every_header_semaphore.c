/* Uses every name of linux/semaphore.h and linux/init.h once, so the compile check covers them. */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/semaphore.h>

static DEFINE_SEMAPHORE(every_sem, 1);
static struct semaphore every_sem_too = __SEMAPHORE_INITIALIZER(every_sem_too, 0);
static int every_init_value __initdata = 3;

static int __init every_semaphore_init(void) {
  int ret = 0;
  sema_init(&every_sem_too, every_init_value);
  down(&every_sem);
  up(&every_sem);
  ret |= down_interruptible(&every_sem_too);
  ret |= down_killable(&every_sem_too);
  if (!down_trylock(&every_sem_too)) up(&every_sem_too);
  return ret;
}
static void __exit every_semaphore_exit(void) {}
module_init(every_semaphore_init);
module_exit(every_semaphore_exit);
MODULE_LICENSE("GPL");
