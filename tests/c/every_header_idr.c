/* Uses every name of linux/idr.h once, so the compile check (check_c_drivers_compile.sh) covers the header. */
#include <linux/idr.h>
#include <linux/kernel.h>
#include <linux/module.h>

static DEFINE_IDR(every_idr);
static DEFINE_IDA(every_ida);
static struct idr every_idr_too = IDR_INIT(every_idr_too);
static struct ida every_ida_too = IDA_INIT(every_ida_too);

static int every_idr_visit(int id, void *entry, void *data) {
  (void)entry;
  *(int *)data += id;
  return 0;
}

static int __init every_idr_init(void) {
  int id, sum = 0, x = 0;
  void *entry;
  idr_init(&every_idr_too);
  ida_init(&every_ida_too);
  id = idr_alloc(&every_idr, &x, 0, 0, GFP_KERNEL);
  id += idr_alloc_cyclic(&every_idr, &x, 0, 16, GFP_KERNEL);
  if (idr_find(&every_idr, 0) == &x && !idr_is_empty(&every_idr)) (void)idr_replace(&every_idr, &sum, 0);
  idr_for_each_entry(&every_idr, entry, id) sum++;
  id = 0;
  (void)idr_get_next(&every_idr, &id);
  sum += idr_for_each(&every_idr, every_idr_visit, &sum);
  (void)idr_remove(&every_idr, 0);
  idr_destroy(&every_idr);
  id = ida_alloc(&every_ida, GFP_KERNEL);
  ida_free(&every_ida, id);
  id = ida_alloc_min(&every_ida, 1, GFP_KERNEL) + ida_alloc_max(&every_ida, 8, GFP_KERNEL) +
       ida_alloc_range(&every_ida_too, 2, 3, GFP_KERNEL);
  if (!ida_is_empty(&every_ida)) ida_destroy(&every_ida);
  pr_info("%d %d\n", id, sum);
  return 0;
}
module_init(every_idr_init);
MODULE_LICENSE("GPL");
