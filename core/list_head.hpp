// struct list_head: the kernel's C-style intrusive doubly-linked list, with CONFIG_DEBUG_LIST checks.
#pragma once

#include <string_view>

#include "core/runtime.hpp"

namespace devsim::core {

// The raw API, for drivers written the C way (and for the buggy variant of R15: the same node inserted twice).
// Nothing here stops misuse; the checks of CONFIG_DEBUG_LIST (lib/list_debug.c) detect the common corruptions
// at the operation that would make them worse:
// - list_add of an entry that is already adjacent to the insertion point ("list_add double add"), or at a
//   point whose neighbours do not point back at each other ("list_add corruption");
// - list_del of an entry already deleted (LIST_POISON1/2) or whose neighbours no longer point at it
//   ("list_del corruption").
// A detected corruption is reported (kind "list-corruption", fatal, like CONFIG_BUG_ON_DATA_CORRUPTION in the
// simulator) and the operation is skipped: the function returns false and the list is left as it was. Natively
// there is no report sink: the check still refuses the operation and returns false.
//
// Does not handle: locking (callers serialise, as with a spinlock in the kernel), entries freed while still
// linked (a use-after-free the memory detector sees only if the entry lives in simulated memory and is accessed
// through a KPtr), and corruptions the kernel's checks miss (an entry added to a second list before being
// deleted from the first one is only caught when a neighbour is next added or deleted).
// In the simulator each operation is one scheduling point on the list head (or the entry, for list_del).
//
// Storage: a value-initialised ListHead has null links; call init_list_head() on a head before use (entries get
// their links from list_add).
struct ListHead {
  ListHead* next = nullptr;
  ListHead* prev = nullptr;
};

namespace bug {
inline constexpr std::string_view kListCorruption = "list-corruption";
}

// The kernel's poison values (include/linux/poison.h, POISON_POINTER_DELTA 0): never dereferenced, only
// compared, so a second list_del is recognised.
inline ListHead* const kListPoison1 = reinterpret_cast<ListHead*>(0x100);
inline ListHead* const kListPoison2 = reinterpret_cast<ListHead*>(0x122);

// INIT_LIST_HEAD: an empty list (or an entry that is on no list).
inline void init_list_head(ListHead& head) {
  head.next = &head;
  head.prev = &head;
}
inline bool list_empty(const ListHead& head) {
  return head.next == &head;
}

// Inserts `entry` right after `head` (a stack). False if a corruption was detected (and nothing was done).
bool list_add(ListHead& entry, ListHead& head, const Site& site = Site::current());
// Inserts `entry` right before `head` (a queue). False if a corruption was detected.
bool list_add_tail(ListHead& entry, ListHead& head, const Site& site = Site::current());
// Unlinks `entry` and poisons its links. False if a corruption was detected.
bool list_del(ListHead& entry, const Site& site = Site::current());
// Unlinks `entry` and re-initialises it (on no list). False if a corruption was detected.
bool list_del_init(ListHead& entry, const Site& site = Site::current());

}  // namespace devsim::core
