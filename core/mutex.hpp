// Mutex and MutexGuard: the kernel's sleeping lock, checked by lockdep in the simulator.
#pragma once

#include <mutex>
#include <optional>
#include <utility>

#include "core/lockdep.hpp"
#include "core/runtime.hpp"
#include "core/sim_lock.hpp"

namespace devsim::core {

class MutexGuard;

// A sleeping mutual-exclusion lock (struct mutex). One API for both runtimes:
// - natively it is a std::mutex, behind one check of sim_world();
// - in the simulator every lock, trylock and unlock is a scheduling point on the mutex; the owner is tracked;
//   a contended lock blocks the task; taking it is a sleep (sleep-in-atomic under a spinlock or in an RCU
//   read section, even when it is free); lockdep checks the order against every other lock class and
//   reports recursion; a task that exits holding it is reported (held-at-exit).
//
// The lock class is where the mutex was constructed, or `name` (mutex_init's lock_class_key). A mutex built
// through a factory (std::make_unique, Arc::emplace) would get the factory's site: pass a name or the site.
// INVARIANT: only the task that locked a mutex unlocks it (reported as bad-unlock-balance in the simulator,
// undefined natively, as with std::mutex).
// Unlocking with waiters hands the mutex over and then touches it once more (kernel/locking/mutex.c
// __mutex_unlock_slowpath): the task that takes it next must not free it on the strength of holding it, while the
// unlocker may still be inside unlock() — reported as a use-after-free in the unlocker. Free such an object from a
// reference count (Kref), not from "I hold its lock and I am the last user".
// Does not handle: recursive locking (a bug: reported, then it deadlocks), interruptible or killable waits,
// lock hand-off fairness, a mutex used by both runtimes (a Mutex belongs to the runtime that uses it first),
// destroying a locked mutex.
class Mutex {
 public:
  explicit Mutex(const Site& site = Site::current()) : sim_(nullptr, site, detail::SimLock::Kind::Sleeping) {}
  // `name` has static storage; mutexes with one name are one lockdep class wherever they were initialised.
  explicit Mutex(const char* name, const Site& site = Site::current())
      : sim_(name, site, detail::SimLock::Kind::Sleeping) {}
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // mutex_lock(): sleeps until the mutex is free.
  void lock(const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.lock(*w, 0, site);
    native_.lock();
  }
  // mutex_lock_nested(): the same, at lockdep nesting level `subclass`, for two locks of one class taken in
  // a fixed hierarchy (parent before child). Natively the same as lock().
  void lock_nested(unsigned subclass, const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.lock(*w, subclass, site);
    native_.lock();
  }
  // mutex_trylock(): takes it if free; never waits, so lockdep does not order it.
  bool try_lock(const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.try_lock(*w, site);
    return native_.try_lock();
  }
  void unlock(const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.unlock(*w, site);
    native_.unlock();
  }

  // The RAII forms (guard(mutex) / Rust's Mutex::lock()): unlocks when the guard dies.
  [[nodiscard]] MutexGuard guard(const Site& site = Site::current());
  [[nodiscard]] std::optional<MutexGuard> try_guard(const Site& site = Site::current());

  // Simulator only (natively always false / kNoTask): for assertions and tests.
  bool is_locked() const { return sim_.locked(); }
  sim::TaskId owner() const { return sim_.owner(); }
  // lockdep_assert_held(): whether the current task holds it (simulator; natively true, nothing is tracked).
  bool held_by_current() const {
    if (sim::World* w = sim_world()) return sim_.locked() && sim_.owner() == w->current_task();
    return true;
  }
  const LockClass& lock_class() const { return sim_.lock_class(); }
  // lockdep_set_novalidate_class(): lockdep tracks the mutex as held but never validates its order or recursion
  // (drivers/base/core.c device_initialize does this to every device lock). Call right after construction.
  void set_novalidate_class() { sim_.set_novalidate_class(); }
  // Where the kernel's mutex is when it is not this object (a C driver's `struct mutex`): what unlock touches after
  // handing the mutex over (SimLock::set_memory).
  void set_memory(const void* at, std::size_t size) { sim_.set_memory(at, size); }

 private:
  detail::SimLock sim_;
  std::mutex native_;
};

// Holds a Mutex from guard() until it is destroyed or unlock()ed. Movable (ownership of the lock moves with
// it, within one task); a moved-from or unlocked guard does nothing.
// INVARIANT: a guard with a non-null mutex holds it. LIFETIME: the Mutex outlives the guard.
class [[nodiscard]] MutexGuard {
 public:
  MutexGuard(MutexGuard&& other) noexcept : mutex_(std::exchange(other.mutex_, nullptr)) {}
  MutexGuard& operator=(MutexGuard&&) = delete;
  MutexGuard(const MutexGuard&) = delete;
  ~MutexGuard() {
    if (mutex_ != nullptr) mutex_->unlock();
  }
  // Unlocks early, at the caller's site.
  void unlock(const Site& site = Site::current()) {
    if (mutex_ != nullptr) std::exchange(mutex_, nullptr)->unlock(site);
  }
  bool owns_lock() const { return mutex_ != nullptr; }

 private:
  friend class Mutex;
  explicit MutexGuard(Mutex& m) : mutex_(&m) {}
  Mutex* mutex_;
};

inline MutexGuard Mutex::guard(const Site& site) {
  lock(site);
  return MutexGuard(*this);
}

inline std::optional<MutexGuard> Mutex::try_guard(const Site& site) {
  if (!try_lock(site)) return std::nullopt;
  return MutexGuard(*this);
}

}  // namespace devsim::core
