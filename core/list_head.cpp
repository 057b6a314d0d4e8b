#include "core/list_head.hpp"

#include <string>
#include <utility>

namespace devsim::core {

namespace {

// The headlines are the kernel's messages up to the first pointer value: host pointers differ between runs, and
// reports must not.
bool corrupted(std::string_view headline, std::string_view detail, const Site& site) {
  if (sim::World* w = sim_world()) {
    sim::Report r;
    r.kind = std::string(bug::kListCorruption);
    r.headline = std::string(headline);
    r.details.emplace_back(detail);
    r.accessed_by = w->task_site(w->current_task(), site);
    w->report(std::move(r));
  }
  return false;
}

// One scheduling point per operation; the step after it writes the entry and both neighbours, which is what
// partial-order reduction must see (null and poisoned links are not objects).
void schedule(const ListHead& object, const Site& site) {
  if (sim::World* w = sim_world()) w->yield(sim::EventKind::Sync, &object, site);
}
void touch(const ListHead* node) {
  if (node == nullptr || node == kListPoison1 || node == kListPoison2) return;
  if (sim::World* w = sim_world()) w->touch(node, true);
}

// __list_add_valid_or_report().
bool add_valid(const ListHead& entry, const ListHead* prev, const ListHead* next, const Site& site) {
  if (prev == nullptr || next == nullptr)
    return corrupted(prev == nullptr ? "list_add corruption. prev is NULL." : "list_add corruption. next is NULL.",
                     "the list head was never initialised (init_list_head) or was freed", site);
  if (next->prev != prev)
    return corrupted("list_add corruption. next->prev should be prev",
                     "the list was changed behind the caller's back (an entry re-added or freed while linked)", site);
  if (prev->next != next)
    return corrupted("list_add corruption. prev->next should be next",
                     "the list was changed behind the caller's back (an entry re-added or freed while linked)", site);
  if (&entry == prev || &entry == next)
    return corrupted("list_add double add",
                     "the new entry is already linked right at the insertion point: it is on this list", site);
  return true;
}

// __list_del_entry_valid_or_report().
bool del_valid(const ListHead& entry, const Site& site) {
  const ListHead* prev = entry.prev;
  const ListHead* next = entry.next;
  if (next == nullptr || prev == nullptr)
    return corrupted(
        next == nullptr ? "list_del corruption, entry->next is NULL" : "list_del corruption, entry->prev is NULL",
        "the entry was never added to a list", site);
  if (next == kListPoison1)
    return corrupted("list_del corruption, entry->next is LIST_POISON1",
                     "the entry was already deleted (list_del twice)", site);
  if (prev == kListPoison2)
    return corrupted("list_del corruption, entry->prev is LIST_POISON2",
                     "the entry was already deleted (list_del twice)", site);
  if (prev->next != &entry)
    return corrupted("list_del corruption. prev->next should be entry",
                     "the entry's neighbour no longer points at it (it was re-added, or the list was corrupted)", site);
  if (next->prev != &entry)
    return corrupted("list_del corruption. next->prev should be entry",
                     "the entry's neighbour no longer points at it (it was re-added, or the list was corrupted)", site);
  return true;
}

bool insert(ListHead& entry, ListHead* prev, ListHead* next, const Site& site) {
  touch(&entry);
  touch(prev);
  touch(next);
  if (!add_valid(entry, prev, next, site)) return false;
  next->prev = &entry;
  entry.next = next;
  entry.prev = prev;
  prev->next = &entry;
  return true;
}

bool unlink(ListHead& entry, const Site& site) {
  touch(&entry);
  touch(entry.prev);
  touch(entry.next);
  if (!del_valid(entry, site)) return false;
  entry.next->prev = entry.prev;
  entry.prev->next = entry.next;
  return true;
}

}  // namespace

bool list_add(ListHead& entry, ListHead& head, const Site& site) {
  schedule(head, site);
  return insert(entry, &head, head.next, site);
}

bool list_add_tail(ListHead& entry, ListHead& head, const Site& site) {
  schedule(head, site);
  return insert(entry, head.prev, &head, site);
}

bool list_del(ListHead& entry, const Site& site) {
  schedule(entry, site);
  if (!unlink(entry, site)) return false;
  entry.next = kListPoison1;
  entry.prev = kListPoison2;
  return true;
}

bool list_del_init(ListHead& entry, const Site& site) {
  schedule(entry, site);
  if (!unlink(entry, site)) return false;
  init_list_head(entry);
  return true;
}

}  // namespace devsim::core
