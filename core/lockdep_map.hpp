// lockdep maps: lockdep's view of things that are not locks but wait like them (work items, SRCU domains).
#pragma once

#include <string>
#include <string_view>

#include "core/lockdep.hpp"

namespace devsim::core {

// struct lockdep_map without a lock: a class (its initialisation site, like the static lock_class_key behind
// INIT_WORK() or init_srcu_struct()) that code "acquires" where it would wait for, or run inside, the thing it
// stands for. The kernel annotates (kernel/workqueue.c, kernel/rcu/srcutree.c):
// - process_one_work(): lock_map_acquire(&work->lockdep_map) around the work function;
// - __flush_work() (flush_work, cancel_work_sync): lock_map_acquire + release of the work's map, whether or not
//   the work is pending, so flushing under a lock the work takes is reported even if the work already ran;
// - srcu_read_lock(): a recursive read acquire of the domain's map; synchronize_srcu(): lock_sync(), an acquire
//   and release that orders it after every lock held.
// A recursive read acquisition is never reported as recursive and records no dependency into it (a cycle
// through one is not a deadlock: lockdep's strong-path rule); dependencies out of it are recorded as usual.
// Natively: nothing.
namespace lockdep {

void lock_map_acquire(const void* map, const LockClass& cls, std::string_view what, const Site& site);
void lock_map_acquire_read(const void* map, const LockClass& cls, std::string_view what, const Site& site);
void lock_map_release(const void* map);
// lock_sync(): acquire and release at once (synchronize_srcu).
void lock_sync(const void* map, const LockClass& cls, std::string_view what, const Site& site);

}  // namespace lockdep
}  // namespace devsim::core
