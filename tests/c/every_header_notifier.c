/* Uses every name of linux/notifier.h once, so the compile check (check_c_drivers_compile.sh) covers the header. */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/notifier.h>

static BLOCKING_NOTIFIER_HEAD(every_blocking_chain);
static ATOMIC_NOTIFIER_HEAD(every_atomic_chain);
static struct atomic_notifier_head every_atomic_too = ATOMIC_NOTIFIER_INIT(every_atomic_too);
static RAW_NOTIFIER_HEAD(every_raw_chain);
static struct blocking_notifier_head every_blocking_too = BLOCKING_NOTIFIER_INIT(every_blocking_too);
static struct raw_notifier_head every_raw_too = RAW_NOTIFIER_INIT(every_raw_too);

static int every_notify(struct notifier_block *nb, unsigned long action, void *data) {
  (void)nb;
  (void)data;
  return action ? NOTIFY_BAD : NOTIFY_DONE;
}

static struct notifier_block every_nb = {.notifier_call = every_notify, .priority = 1};
static struct notifier_block every_nb_too = {.notifier_call = every_notify};

static int __init every_notifier_init(void) {
  notifier_fn_t fn = every_notify;
  int ret;
  BLOCKING_INIT_NOTIFIER_HEAD(&every_blocking_too);
  RAW_INIT_NOTIFIER_HEAD(&every_raw_too);
  ATOMIC_INIT_NOTIFIER_HEAD(&every_atomic_too);
  ret = atomic_notifier_chain_register(&every_atomic_chain, &every_nb);
  ret |= atomic_notifier_call_chain(&every_atomic_chain, 0, NULL);
  ret |= atomic_notifier_chain_unregister(&every_atomic_chain, &every_nb);
  ret |= blocking_notifier_chain_register(&every_blocking_chain, &every_nb);
  ret |= raw_notifier_chain_register(&every_raw_chain, &every_nb_too);
  ret |= blocking_notifier_call_chain(&every_blocking_chain, 0, NULL);
  ret |= raw_notifier_call_chain(&every_raw_chain, 1, NULL) & ~(NOTIFY_STOP | NOTIFY_OK);
  ret |= blocking_notifier_chain_unregister(&every_blocking_chain, &every_nb);
  ret |= raw_notifier_chain_unregister(&every_raw_chain, &every_nb_too);
  ret |= notifier_to_errno(notifier_from_errno(0)) + (fn == NULL);
  return ret;
}
module_init(every_notifier_init);
MODULE_LICENSE("GPL");
