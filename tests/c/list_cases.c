/* The linux/list.h cases tests/c/test_c_list.cpp runs in simulated tasks: kernel C against include/linux only. */
#include <linux/list.h>
#include <linux/slab.h>

struct item {
  int value;
  struct list_head node;
};

static struct item *item_new(int value) {
  struct item *it = kzalloc(sizeof(*it), GFP_KERNEL);
  if (it) it->value = value;
  return it;
}

/* Builds 1 2 3 with add_tail, puts 0 first with add, moves 3 to the front, deletes 1, splices 7 8 at the tail and
 * returns the values as decimal digits in list order, then the count of nodes: 3027 8 -> 302785 (digits, count). */
long list_case_operations(void) {
  struct list_head *head = kzalloc(sizeof(*head), GFP_KERNEL), other;
  struct item *it, *tmp;
  long digits = 0;
  INIT_LIST_HEAD(head);
  INIT_LIST_HEAD(&other);
  struct item *one = item_new(1), *three;
  list_add_tail(&one->node, head);
  list_add_tail(&item_new(2)->node, head);
  three = item_new(3);
  list_add_tail(&three->node, head);
  list_add(&item_new(0)->node, head);
  list_move(&three->node, head);
  list_del(&one->node);
  kfree(one);
  list_add_tail(&item_new(7)->node, &other);
  list_add_tail(&item_new(8)->node, &other);
  list_splice_tail_init(&other, head);
  list_for_each_entry(it, head, node) digits = digits * 10 + it->value;
  digits = digits * 10 + (long)list_count_nodes(head);
  if (!list_empty(&other) || list_first_entry(head, struct item, node) != three) digits = -1;
  list_for_each_entry_safe(it, tmp, head, node) {
    list_del(&it->node);
    kfree(it);
  }
  if (!list_empty(head)) digits = -2;
  kfree(head);
  return digits;
}

/* list_del twice: CONFIG_DEBUG_LIST sees LIST_POISON1 in the entry. */
void list_case_double_del(void) {
  LIST_HEAD(head);
  struct item *it = item_new(1);
  list_add(&it->node, &head);
  list_del(&it->node);
  list_del(&it->node);
  kfree(it);
}

/* list_add of an entry already first on the list. */
void list_case_double_add(void) {
  LIST_HEAD(head);
  struct item *it = item_new(1);
  list_add(&it->node, &head);
  list_add(&it->node, &head);
  list_del(&it->node);
  kfree(it);
}

/* Keeps walking from an entry after list_del poisoned it: the walk loads through LIST_POISON1. */
int list_case_walk_from_deleted(void) {
  LIST_HEAD(head);
  struct item *a = item_new(1), *b = item_new(2);
  int sum = 0;
  list_add_tail(&a->node, &head);
  list_add_tail(&b->node, &head);
  list_del(&a->node);
  sum += list_next_entry(a, node)->value; /* a->node.next is LIST_POISON1 */
  return sum;
}

/* Frees an entry that is still linked, then walks the list. */
int list_case_free_while_linked(void) {
  LIST_HEAD(head);
  struct item *a = item_new(1), *b = item_new(2), *it;
  int sum = 0;
  list_add_tail(&a->node, &head);
  list_add_tail(&b->node, &head);
  kfree(a);
  list_for_each_entry(it, &head, node) sum += it->value;
  return sum;
}
