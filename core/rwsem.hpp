// RwSemaphore: the kernel's read/write semaphore (struct rw_semaphore), checked by lockdep in the simulator.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "core/lockdep.hpp"
#include "core/runtime.hpp"

namespace devsim::core {

namespace detail {
// The simulated half of RwSemaphore: readers, the writer, waiters, lockdep and the held records.
// INVARIANT: either `writer_` is a task and `readers_` is empty, or `writer_` is kNoTask; `readers_` lists each
// read hold (a task once per down_read).
class SimRwSem {
 public:
  SimRwSem(const char* name, const Site& init_site) : class_(name, init_site) {}
  void down_read(sim::World& w, const Site& site);
  bool down_read_trylock(sim::World& w, const Site& site);
  void up_read(sim::World& w, const Site& site);
  void down_write(sim::World& w, const Site& site);
  bool down_write_trylock(sim::World& w, const Site& site);
  void up_write(sim::World& w, const Site& site);
  void downgrade_write(sim::World& w, const Site& site);

  bool write_locked() const { return writer_ != sim::kNoTask; }
  int read_holds() const { return static_cast<int>(readers_.size()); }
  const LockClass& lock_class() const { return class_; }
  // As SimLock::set_memory: where the kernel's semaphore is, for what rwsem_wake() touches after a release.
  void set_memory(const void* at, std::size_t size) {
    memory_ = at;
    memory_size_ = size;
  }

 private:
  std::string_view what() const { return class_.text("rwsem "); }
  std::string_view what_read() const { return class_.text("rwsem ", " (read)"); }
  bool read_blocked() const { return writer_ != sim::kNoTask || writers_waiting_ > 0; }
  void bad_unlock(sim::World& w, const std::string& headline, const Site& site);
  // After a release: wakes the waiters; with waiters, rwsem_wake() then touches the semaphore (its wait_lock).
  void wake_after_release(sim::World& w, const Site& site);

  LockClass class_;
  std::vector<sim::TaskId> readers_;
  sim::TaskId writer_ = sim::kNoTask;
  int writers_waiting_ = 0;
  int waiters_ = 0;
  const void* memory_ = this;
  std::size_t memory_size_ = sizeof(SimRwSem);
};
}  // namespace detail

// A sleeping read/write lock (include/linux/rwsem.h, kernel/locking/rwsem.c). One API for both runtimes:
// natively a mutex and a condition variable; in the simulator every operation is a scheduling point, taking it
// may sleep (sleep-in-atomic when called atomically), and lockdep checks it like a mutex.
//
// Semantics (as the kernel's):
// - any number of readers, or one writer; a task that exits holding it is reported (held-at-exit);
// - a reader waits while a writer holds it or waits for it (the kernel's readers queue behind a waiting writer
//   once it set the handoff bit), so read-write-read in one task with a writer waiting in between deadlocks;
// - lockdep treats down_read like down_write (rwsem readers are non-recursive readers: lockdep-design.rst
//   "Recursive read locks"): a second down_read of one class in one task is "recursive-locking", and an order
//   inverted between a read and any acquisition of another lock is an inversion;
// - downgrade_write() turns the write hold into a read hold without releasing it (lock_downgrade: no new order);
// - up_read/up_write with waiters touch the semaphore after releasing it (rwsem_wake takes sem->wait_lock), as
//   mutex_unlock does: freeing the object it lives in because one holds it is a use-after-free.
// INVARIANT: only a holder releases it (reported as bad-unlock-balance in the simulator).
// Does not handle: reader lock stealing ahead of a waiting writer (a kernel optimisation no correct code relies
// on), down_read_non_owner, killable/interruptible variants, optimistic spinning, lockdep's recursive-read
// (read_lock) rules, a semaphore used by both runtimes.
class RwSemaphore {
 public:
  explicit RwSemaphore(const Site& site = Site::current()) : sim_(nullptr, site) {}
  // `name` has static storage; semaphores with one name are one lockdep class.
  explicit RwSemaphore(const char* name, const Site& site = Site::current()) : sim_(name, site) {}
  RwSemaphore(const RwSemaphore&) = delete;
  RwSemaphore& operator=(const RwSemaphore&) = delete;

  void down_read(const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.down_read(*w, site);
    std::unique_lock lock(native_);
    cv_.wait(lock, [this] { return !writer_ && writers_waiting_ == 0; });
    ++readers_;
  }
  bool down_read_trylock(const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.down_read_trylock(*w, site);
    std::lock_guard lock(native_);
    if (writer_ || writers_waiting_ > 0) return false;
    ++readers_;
    return true;
  }
  void up_read(const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.up_read(*w, site);
    std::lock_guard lock(native_);
    if (--readers_ == 0) cv_.notify_all();
  }
  void down_write(const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.down_write(*w, site);
    std::unique_lock lock(native_);
    ++writers_waiting_;
    cv_.wait(lock, [this] { return !writer_ && readers_ == 0; });
    --writers_waiting_;
    writer_ = true;
  }
  bool down_write_trylock(const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.down_write_trylock(*w, site);
    std::lock_guard lock(native_);
    if (writer_ || readers_ > 0) return false;
    writer_ = true;
    return true;
  }
  void up_write(const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.up_write(*w, site);
    std::lock_guard lock(native_);
    writer_ = false;
    cv_.notify_all();
  }
  // downgrade_write(): the writer becomes a reader without letting another writer in.
  void downgrade_write(const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.downgrade_write(*w, site);
    std::lock_guard lock(native_);
    writer_ = false;
    ++readers_;
    cv_.notify_all();
  }

  // Simulator only (natively false / 0): for assertions and tests.
  bool is_write_locked() const { return sim_.write_locked(); }
  int read_holds() const { return sim_.read_holds(); }
  const LockClass& lock_class() const { return sim_.lock_class(); }
  // Where the kernel's semaphore is when it is not this object (a C driver's `struct rw_semaphore`).
  void set_memory(const void* at, std::size_t size) { sim_.set_memory(at, size); }

 private:
  detail::SimRwSem sim_;
  std::mutex native_;
  std::condition_variable cv_;
  int readers_ = 0;
  bool writer_ = false;
  int writers_waiting_ = 0;
};

}  // namespace devsim::core
