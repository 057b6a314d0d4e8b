/* Uses every macro and function of linux/rcupdate.h once, for the compile check (check_c_drivers_compile.sh).
 * Compiled only, never loaded. */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/types.h>

struct config {
  int value;
  struct rcu_head rcu;
};

static struct config __rcu *active = RCU_INITIALIZER(NULL);
static DEFINE_MUTEX(config_lock);

static void config_free(struct rcu_head *head) {
  kfree(container_of(head, struct config, rcu));
}

int every_rcu(void);
int every_rcu(void) {
  struct config *c = kzalloc(sizeof(*c), GFP_KERNEL), *old, *seen;
  int ret = 0;

  if (!c) return -ENOMEM;
  rcu_read_lock();
  seen = rcu_dereference(active);
  if (seen) ret = seen->value;
  seen = rcu_dereference_check(active, mutex_is_locked(&config_lock));
  if (seen) ret += seen->value;
  seen = rcu_dereference_raw(active);
  rcu_read_unlock();
  if (rcu_access_pointer(active)) ret++;
  mutex_lock(&config_lock);
  old = rcu_dereference_protected(active, mutex_is_locked(&config_lock));
  rcu_assign_pointer(active, c);
  mutex_unlock(&config_lock);
  if (old) {
    synchronize_rcu();
    call_rcu(&old->rcu, config_free);
  }
  mutex_lock(&config_lock);
  old = rcu_dereference_protected(active, 1);
  RCU_INIT_POINTER(active, NULL);
  mutex_unlock(&config_lock);
  kfree_rcu(old, rcu);
  rcu_barrier();
  return ret + (seen != NULL);
}
