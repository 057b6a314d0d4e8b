/* Uses every macro and function of linux/rwsem.h once, for the compile check (check_c_drivers_compile.sh). Compiled
 * only, never loaded. */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/types.h>

struct table {
  struct rw_semaphore sem;
  int value;
};

static DECLARE_RWSEM(global_sem);

int every_rwsem(void);
int every_rwsem(void) {
  struct table *t = kzalloc(sizeof(*t), GFP_KERNEL);
  int ret = 0;

  if (!t) return -ENOMEM;
  init_rwsem(&t->sem);
  down_read(&t->sem);
  ret += t->value;
  up_read(&t->sem);
  if (down_read_trylock(&t->sem)) up_read(&t->sem);
  if (down_read_interruptible(&t->sem) == 0) up_read(&t->sem);
  if (down_read_killable(&t->sem) == 0) up_read(&t->sem);
  down_write(&t->sem);
  t->value = 1;
  downgrade_write(&t->sem);
  ret += t->value;
  up_read(&t->sem);
  if (down_write_trylock(&t->sem)) up_write(&t->sem);
  if (down_write_killable(&t->sem) == 0) up_write(&t->sem);
  if (rwsem_is_locked(&global_sem)) ret = -EBUSY;
  down_write(&global_sem);
  up_write(&global_sem);
  kfree(t);
  return ret;
}
