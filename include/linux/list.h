/*
 * linux/list.h: the kernel's circular doubly-linked lists (devsim, C gnu11).
 *
 * The operations are inline C in the driver's own translation unit, as the kernel's are, so every link they read
 * or write is an access of the driver's: devsim's instrumentation sees it, a list entry freed while linked is a
 * use-after-free at the operation that touches it, and two tasks changing a list without a common lock are a data
 * race. The checks of CONFIG_DEBUG_LIST (lib/list_debug.c __list_add_valid_or_report and
 * __list_del_entry_valid_or_report) run before each add and delete: a detected corruption is a fatal
 * "list-corruption" report, and the operation is skipped (CONFIG_BUG_ON_DATA_CORRUPTION stops the kernel there).
 *
 * list_del leaves x86-64's poison in the removed entry (LIST_POISON1/2, non-canonical addresses), so walking
 * through a deleted entry is a general-protection fault, which devsim reports as that task's oops.
 *
 * Not provided: hlist, the RCU list variants (list_add_rcu, list_for_each_entry_rcu), list_sort.
 */
#ifndef _DEVSIM_LINUX_LIST_H
#define _DEVSIM_LINUX_LIST_H

#include "compiler.h"
#include "devsim_abi.h"
#include "kernel.h"
#include "types.h"

/* include/linux/poison.h with x86-64's CONFIG_ILLEGAL_POINTER_VALUE. */
#define POISON_POINTER_DELTA 0xdead000000000000UL
#define LIST_POISON1 ((void *)(0x100 + POISON_POINTER_DELTA))
#define LIST_POISON2 ((void *)(0x122 + POISON_POINTER_DELTA))

#define LIST_HEAD_INIT(name) \
  { &(name), &(name) }
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)

static inline void INIT_LIST_HEAD(struct list_head *list) {
  WRITE_ONCE(list->next, list);
  WRITE_ONCE(list->prev, list);
}

/* CONFIG_DEBUG_LIST: whether `entry` may go between `prev` and `next`. Reports and answers false if not. */
static inline bool __devsim_list_add_valid(struct list_head *entry, struct list_head *prev, struct list_head *next,
                                           __DEVSIM_SITE_PARAMS) {
  if (unlikely(prev == NULL || next == NULL))
    return __devsim_list_corruption("list_add corruption: a link is NULL",
                                    "the list head was never initialised (INIT_LIST_HEAD) or is zeroed", __file, __line,
                                    __func);
  if (unlikely(next->prev != prev))
    return __devsim_list_corruption("list_add corruption. next->prev should be prev",
                                    "the list changed under the caller, or the entry after the insertion point is "
                                    "stale",
                                    __file, __line, __func);
  if (unlikely(prev->next != next))
    return __devsim_list_corruption("list_add corruption. prev->next should be next",
                                    "the list changed under the caller, or the insertion point is stale", __file,
                                    __line, __func);
  if (unlikely(entry == prev || entry == next))
    return __devsim_list_corruption(
        "list_add double add", "the entry is already on this list, next to where it was added", __file, __line, __func);
  return true;
}

/* CONFIG_DEBUG_LIST: whether `entry` is linked where its neighbours say. Reports and answers false if not. */
static inline bool __devsim_list_del_valid(struct list_head *entry, __DEVSIM_SITE_PARAMS) {
  struct list_head *prev = entry->prev, *next = entry->next;
  if (unlikely(next == LIST_POISON1))
    return __devsim_list_corruption("list_del corruption, entry->next is LIST_POISON1",
                                    "the entry was already deleted (list_del twice)", __file, __line, __func);
  if (unlikely(prev == LIST_POISON2))
    return __devsim_list_corruption("list_del corruption, entry->prev is LIST_POISON2",
                                    "the entry was already deleted (list_del twice)", __file, __line, __func);
  if (unlikely(prev == NULL || next == NULL))
    return __devsim_list_corruption("list_del corruption: a link is NULL",
                                    "the entry was never added to a list, or was zeroed", __file, __line, __func);
  if (unlikely(prev->next != entry))
    return __devsim_list_corruption("list_del corruption. prev->next should be entry",
                                    "the entry's neighbour no longer points at it", __file, __line, __func);
  if (unlikely(next->prev != entry))
    return __devsim_list_corruption("list_del corruption. next->prev should be entry",
                                    "the entry's neighbour no longer points at it", __file, __line, __func);
  return true;
}

static inline void __devsim_list_link(struct list_head *entry, struct list_head *prev, struct list_head *next) {
  next->prev = entry;
  entry->next = next;
  entry->prev = prev;
  WRITE_ONCE(prev->next, entry);
}
static inline void __devsim_list_unlink(struct list_head *prev, struct list_head *next) {
  next->prev = prev;
  WRITE_ONCE(prev->next, next);
}

#define __devsim_list_add(entry, prev, next)                                                      \
  do {                                                                                            \
    struct list_head *__e = (entry), *__p = (prev), *__n = (next);                                \
    if (__devsim_list_add_valid(__e, __p, __n, __DEVSIM_SITE)) __devsim_list_link(__e, __p, __n); \
  } while (0)

/* list_add: after `head` (a stack); list_add_tail: before it (a queue). */
#define list_add(entry, head)                   \
  do {                                          \
    struct list_head *__h = (head);             \
    __devsim_list_add((entry), __h, __h->next); \
  } while (0)
#define list_add_tail(entry, head)              \
  do {                                          \
    struct list_head *__h = (head);             \
    __devsim_list_add((entry), __h->prev, __h); \
  } while (0)

/* list_del: unlinks and poisons; list_del_init: unlinks and leaves the entry on no list. */
#define list_del(entry)                                \
  do {                                                 \
    struct list_head *__d = (entry);                   \
    if (__devsim_list_del_valid(__d, __DEVSIM_SITE)) { \
      __devsim_list_unlink(__d->prev, __d->next);      \
      __d->next = (struct list_head *)LIST_POISON1;    \
      __d->prev = (struct list_head *)LIST_POISON2;    \
    }                                                  \
  } while (0)
#define list_del_init(entry)                           \
  do {                                                 \
    struct list_head *__d = (entry);                   \
    if (__devsim_list_del_valid(__d, __DEVSIM_SITE)) { \
      __devsim_list_unlink(__d->prev, __d->next);      \
      INIT_LIST_HEAD(__d);                             \
    }                                                  \
  } while (0)
#define list_move(entry, head)       \
  do {                               \
    struct list_head *__m = (entry); \
    list_del(__m);                   \
    list_add(__m, (head));           \
  } while (0)
#define list_move_tail(entry, head)  \
  do {                               \
    struct list_head *__m = (entry); \
    list_del(__m);                   \
    list_add_tail(__m, (head));      \
  } while (0)

/* list_replace: `new` takes `old`'s place; `old` keeps stale links (list_replace_init re-initialises it). */
static inline void list_replace(struct list_head *old, struct list_head *new) {
  new->next = old->next;
  new->next->prev = new;
  new->prev = old->prev;
  new->prev->next = new;
}
static inline void list_replace_init(struct list_head *old, struct list_head *new) {
  list_replace(old, new);
  INIT_LIST_HEAD(old);
}

static inline int list_empty(const struct list_head *head) {
  return READ_ONCE(head->next) == head;
}
static inline int list_is_head(const struct list_head *list, const struct list_head *head) {
  return list == head;
}
static inline int list_is_first(const struct list_head *list, const struct list_head *head) {
  return list->prev == head;
}
static inline int list_is_last(const struct list_head *list, const struct list_head *head) {
  return list->next == head;
}
static inline int list_is_singular(const struct list_head *head) {
  return !list_empty(head) && (head->next == head->prev);
}

static inline void __devsim_list_splice(const struct list_head *list, struct list_head *prev, struct list_head *next) {
  struct list_head *first = list->next, *last = list->prev;
  first->prev = prev;
  prev->next = first;
  last->next = next;
  next->prev = last;
}
/* list_splice: `list`'s entries go after `head` (list_splice_tail: before it); `list` keeps stale links unless
 * the _init variant re-initialises it. */
static inline void list_splice(const struct list_head *list, struct list_head *head) {
  if (!list_empty(list)) __devsim_list_splice(list, head, head->next);
}
static inline void list_splice_tail(const struct list_head *list, struct list_head *head) {
  if (!list_empty(list)) __devsim_list_splice(list, head->prev, head);
}
static inline void list_splice_init(struct list_head *list, struct list_head *head) {
  if (!list_empty(list)) {
    __devsim_list_splice(list, head, head->next);
    INIT_LIST_HEAD(list);
  }
}
static inline void list_splice_tail_init(struct list_head *list, struct list_head *head) {
  if (!list_empty(list)) {
    __devsim_list_splice(list, head->prev, head);
    INIT_LIST_HEAD(list);
  }
}
static inline size_t list_count_nodes(const struct list_head *head) {
  size_t n = 0;
  for (const struct list_head *p = head->next; p != head; p = p->next)
    ++n;
  return n;
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) list_entry((ptr)->next, type, member)
#define list_last_entry(ptr, type, member) list_entry((ptr)->prev, type, member)
#define list_first_entry_or_null(ptr, type, member)           \
  ({                                                          \
    struct list_head *__head = (ptr);                         \
    struct list_head *__pos = READ_ONCE(__head->next);        \
    __pos != __head ? list_entry(__pos, type, member) : NULL; \
  })
#define list_next_entry(pos, member) list_entry((pos)->member.next, __typeof__(*(pos)), member)
#define list_prev_entry(pos, member) list_entry((pos)->member.prev, __typeof__(*(pos)), member)
#define list_entry_is_head(pos, head, member) (&(pos)->member == (head))

#define list_for_each(pos, head) for (pos = (head)->next; !list_is_head(pos, (head)); pos = pos->next)
#define list_for_each_safe(pos, n, head) \
  for (pos = (head)->next, n = pos->next; !list_is_head(pos, (head)); pos = n, n = pos->next)
#define list_for_each_entry(pos, head, member)                                                         \
  for (pos = list_first_entry(head, __typeof__(*pos), member); !list_entry_is_head(pos, head, member); \
       pos = list_next_entry(pos, member))
#define list_for_each_entry_reverse(pos, head, member)                                                \
  for (pos = list_last_entry(head, __typeof__(*pos), member); !list_entry_is_head(pos, head, member); \
       pos = list_prev_entry(pos, member))
#define list_for_each_entry_safe(pos, n, head, member)                                           \
  for (pos = list_first_entry(head, __typeof__(*pos), member), n = list_next_entry(pos, member); \
       !list_entry_is_head(pos, head, member); pos = n, n = list_next_entry(n, member))

#endif
