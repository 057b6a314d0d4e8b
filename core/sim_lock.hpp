// SimLock: what a mutex or a spinlock is inside a simulated world — an owner, waiters, lockdep, a held record.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "core/lockdep.hpp"
#include "core/runtime.hpp"

namespace devsim::core::detail {

// The simulated half of Mutex and SpinLock (their native half is a real lock beside it). Every operation is
// a scheduling point on the lock; taking it feeds lockdep and records a held resource with the engine, so a
// task that exits holding it is reported (held-at-exit), and a sleeping lock taken with an atomic hold is
// reported (sleep-in-atomic). A contended lock waits with World::block: a Mutex sleeps, a SpinLock spins
// (a busy-wait, which an atomic hold allows); a task waiting for a lock that is never released is found by
// the engine's deadlock detector.
//
// INVARIANT: `locked_` is true exactly while `owner_` (a task, or kNoTask for model set-up code) holds it.
// Waiters are not queued in order: unlock wakes one and the lock may be taken by whoever runs first, like a
// kernel mutex with optimistic spinning; a woken waiter that lost re-checks and waits again.
// A sleeping lock released while tasks wait for it takes the kernel's slow path (kernel/locking/mutex.c
// __mutex_unlock_slowpath): the lock is handed over first, and the unlocking task touches the mutex again
// afterwards (its wait_lock). Another task may take the mutex in between, so freeing the memory a mutex lives in
// because one holds it is a use-after-free in the unlocker (Documentation/locking/mutex-design.rst: "mutex_unlock()
// may access the mutex structure even after it has internally released the lock already"). Spinlocks have no
// such access: a spin_unlock is one store.
// Does not handle: destroying a locked lock, fairness (a waiter may starve, which the step budget reports as a
// livelock only if nothing else makes progress).
class SimLock {
 public:
  enum class Kind : bool { Sleeping, Spinning };

  SimLock(const char* name, const Site& init_site, Kind kind) : class_(name, init_site), kind_(kind) {}

  void lock(sim::World& w, unsigned subclass, const Site& site);
  bool try_lock(sim::World& w, const Site& site);
  // May run in a destructor (a guard's): it is never unwound halfway.
  void unlock(sim::World& w, const Site& site);

  bool locked() const { return locked_; }
  sim::TaskId owner() const { return owner_; }
  const LockClass& lock_class() const { return class_; }
  void set_novalidate_class() { class_.set_novalidate(); }
  // The memory the kernel's lock word is in, which unlock touches after the hand-over (access_after_handoff): by
  // default this object; a C driver's `struct mutex` lives elsewhere (cabi keeps its SimLock in a table).
  void set_memory(const void* at, std::size_t size) {
    memory_ = at;
    memory_size_ = size;
  }
  // "mutex <class>" / "spinlock <class>": how reports name the lock (interned: LockClass::text).
  std::string_view what() const { return class_.text(kind_ == Kind::Sleeping ? "mutex " : "spinlock "); }

 private:
  void take(sim::World& w, std::string_view what, const Site& site);

  LockClass class_;
  Kind kind_;
  // Atomics: the lock's own state is read by tasks that do not hold it (a marked access for the race
  // detector, as the kernel's lock words are), and it lives in the object that embeds the lock, so a lock in
  // freed memory is a use-after-free report at its first look.
  std::atomic<bool> locked_{false};
  std::atomic<sim::TaskId> owner_{sim::kNoTask};
  int waiters_ = 0;  // tasks blocked in lock(): what makes the kernel's unlock take its slow path
  const void* memory_ = this;
  std::size_t memory_size_ = sizeof(SimLock);
};

// The access a sleeping lock's unlock makes after handing the lock over (its wait_lock): a checked write of
// `size` bytes at `lock` if it lives in simulated memory, with a scheduling point first so that the new owner
// (or any task) may run in between. Shared by Mutex and RwSemaphore (kernel/locking/rwsem.c rwsem_wake).
// `unlock` names the operation ("mutex_unlock") for the report.
void access_after_handoff(sim::World& w, const void* lock, std::size_t size, std::string_view unlock, const Site& site);

}  // namespace devsim::core::detail
