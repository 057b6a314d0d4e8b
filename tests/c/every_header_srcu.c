/* Uses every macro and function of linux/srcu.h once, for the compile check (check_c_drivers_compile.sh). Compiled
 * only, never loaded. */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/types.h>

struct chip {
  struct srcu_struct srcu;
  int __rcu *level;
};

DEFINE_SRCU(global_srcu);
DEFINE_STATIC_SRCU(static_srcu);

int every_srcu(void);
int every_srcu(void) {
  struct chip *c = kzalloc(sizeof(*c), GFP_KERNEL);
  int *level;
  int idx, ret = 0;

  if (!c) return -ENOMEM;
  if (init_srcu_struct(&c->srcu)) {
    kfree(c);
    return -ENOMEM;
  }
  idx = srcu_read_lock(&c->srcu);
  level = srcu_dereference(c->level, &c->srcu);
  if (level) ret = *level;
  level = srcu_dereference_check(c->level, &c->srcu, srcu_read_lock_held(&c->srcu));
  srcu_read_unlock(&c->srcu, idx);
  synchronize_srcu(&c->srcu);
  idx = srcu_read_lock(&global_srcu);
  srcu_read_unlock(&global_srcu, idx);
  synchronize_srcu(&static_srcu);
  cleanup_srcu_struct(&c->srcu);
  kfree(c);
  return ret + (level != NULL);
}
