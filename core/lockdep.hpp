// lockdep: lock classes and the lock-order graph that finds inversions before they deadlock.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/runtime.hpp"

namespace devsim::core {

// A lock's class, lockdep's unit of reasoning (the kernel's lock_class_key): every lock initialised at the
// same source site, or given the same explicit name, is one class. An order seen between two locks of two
// classes is an order between the classes, so an inversion is found even when the two runs used different
// device instances, and even when the deadlocking interleaving never happened.
//
// INVARIANT: `name` (if any) has static storage (a string literal), like a lock_class_key; a LockClass is
// three words and costs nothing to build natively.
class LockClass {
 public:
  LockClass(const char* name, const Site& init_site) : name_(name), init_site_(init_site) {}

  const char* name() const { return name_; }
  const Site& init_site() const { return init_site_; }
  // The explicit name, or "file:line" of the site that initialised the lock.
  std::string label() const;
  // prefix + label() + suffix, made once per class and thread and interned (sim/intern.hpp): how a lock names itself
  // on every acquisition ("mutex dev->lock") without building the text each time.
  // INVARIANT: `prefix` and `suffix` are string literals (the cache knows them by address).
  std::string_view text(const char* prefix, const char* suffix = "") const;
  // Same name if either has one; otherwise the same initialisation site.
  bool same_as(const LockClass& other) const;
  // lockdep_set_novalidate_class(): lockdep tracks the lock as held but never validates it — no recursion check,
  // no dependency to or from it (kernel/locking/lockdep.c: __lockdep_no_validate__ acquires with check = 0). The
  // driver core does this to every device lock (drivers/base/core.c device_initialize).
  void set_novalidate() { novalidate_ = true; }
  bool novalidate() const { return novalidate_; }

 private:
  const char* name_;
  Site init_site_;
  bool novalidate_ = false;
};

namespace bug {
inline constexpr std::string_view kLockOrderInversion = "lock-order-inversion";  // circular locking dependency
inline constexpr std::string_view kRecursiveLocking = "recursive-locking";       // AA: a class taken twice
inline constexpr std::string_view kBadUnlock = "bad-unlock-balance";             // unlock of a lock not held
}  // namespace bug

// The simulator's lock validator. Locks call acquire() before they take (or wait for) a lock and release()
// when they give it back; everything else is bookkeeping in the world's LockdepState extension: which locks
// each task holds, and every "class A held while class B acquired" dependency seen so far, with the sites of
// both acquisitions and the task.
//
// Reported, like the kernel's lockdep (all fatal):
// - "lock-order-inversion": acquiring B while holding A when B -> ... -> A was already recorded. Both orders
//   are in the details with their sites and tasks. Reported once per pair of classes.
// - "recursive-locking": acquiring a class already held by the same task (the same lock, or another lock of
//   the same class without a distinct subclass, as with mutex_lock_nested()).
//
// The graph lasts for an exploration (sim::Boot); lockdep_map.hpp: work items, SRCU; irqflags.hpp: IRQ usage.
// Does not handle: read/write locks, softirq states, ordering through completions or wait queues (crossrelease,
// gone since 4.15); the engine's deadlock detector still catches the real hang. Native code: lockdep does nothing.
// The graph is not part of any footprint: with sleep sets, two acquisitions of unrelated locks commute, so an
// exploration may find an inversion through fewer schedules, never a false one.
namespace lockdep {

// Validates and records the acquisition of `lock` (of class `cls`, nesting level `subclass`) by the current
// task at `site`. `what` names the lock in reports ("mutex dev->lock"). A trylock is recorded as held but
// neither checked nor ordered: it cannot wait, so it cannot deadlock. Call before waiting for the lock.
// Outside a task it does nothing. Returns false if it reported.
bool acquire(sim::World& w, const void* lock, const LockClass& cls, unsigned subclass, std::string_view what,
             bool trylock, const Site& site);
// Forgets that the current task holds `lock`. Outside a task, or if the task does not hold it, does nothing
// (the lock reports a bad unlock itself: it knows its owner).
void release(sim::World& w, const void* lock);

// Whether the current task holds `lock` (lockdep_is_held).
bool held(sim::World& w, const void* lock);
// Whether the dependency `before` -> ... -> `after` has been recorded in this world (subclass 0).
bool depends(sim::World& w, const LockClass& before, const LockClass& after);
// How many direct dependencies (edges) the world's graph holds.
std::size_t dependency_count(sim::World& w);

}  // namespace lockdep
}  // namespace devsim::core
