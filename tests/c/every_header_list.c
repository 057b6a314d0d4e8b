/* Uses every name of linux/list.h once, so the compile check (check_c_drivers_compile.sh) covers the header. */
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/slab.h>

struct every_list_item {
  int value;
  struct list_head node;
};

static LIST_HEAD(every_list);
static struct list_head every_list_too = LIST_HEAD_INIT(every_list_too);

static int __init every_list_init(void) {
  struct every_list_item a = {.value = 1}, b = {.value = 2}, c = {.value = 3}, *pos, *n;
  struct list_head other, *p, *q;
  size_t count = 0;
  INIT_LIST_HEAD(&other);
  list_add(&a.node, &every_list);
  list_add_tail(&b.node, &every_list);
  list_move(&b.node, &every_list);
  list_move_tail(&b.node, &every_list);
  list_replace(&b.node, &c.node);
  list_replace_init(&c.node, &b.node);
  list_add(&c.node, &other);
  list_splice(&other, &every_list_too);
  list_splice_tail(&every_list_too, &other);
  list_splice_init(&other, &every_list_too);
  INIT_LIST_HEAD(&other);
  list_splice_tail_init(&other, &every_list_too);
  list_for_each(p, &every_list) count++;
  list_for_each_safe(p, q, &every_list) count++;
  list_for_each_entry(pos, &every_list, node) count += (size_t)pos->value;
  list_for_each_entry_reverse(pos, &every_list, node) count += (size_t)pos->value;
  list_for_each_entry_safe(pos, n, &every_list, node) list_del_init(&pos->node);
  pos = list_first_entry_or_null(&every_list, struct every_list_item, node);
  if (pos == NULL && list_empty(&every_list) && !list_is_singular(&every_list_too) && count > 0 &&
      list_is_head(&every_list, &every_list) && list_count_nodes(&every_list) == 0)
    pr_info("every list %zu\n", count);
  list_add(&a.node, &every_list);
  if (list_is_first(&a.node, &every_list) && list_is_last(&a.node, &every_list) &&
      list_entry(every_list.next, struct every_list_item, node) == &a &&
      list_last_entry(&every_list, struct every_list_item, node) == &a &&
      list_first_entry(&every_list, struct every_list_item, node) == list_next_entry(&a, node) &&
      list_prev_entry(&a, node) != NULL)
    list_del(&a.node);
  return 0;
}
module_init(every_list_init);
MODULE_LICENSE("GPL");
