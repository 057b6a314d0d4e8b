// SpinLock and SpinLockGuard: the kernel's busy-waiting lock; holding it is atomic context.
#pragma once

#include <atomic>
#include <optional>
#include <thread>
#include <utility>

#include "core/lockdep.hpp"
#include "core/runtime.hpp"
#include "core/sim_lock.hpp"

namespace devsim::core {

class SpinLockGuard;

// A spinning mutual-exclusion lock (spinlock_t). One API for both runtimes:
// - natively a test-and-test-and-set flag on one atomic, which yields the CPU after a short spin (user space
//   cannot disable preemption, so a holder may be descheduled);
// - in the simulator every operation is a scheduling point on the lock; holding it is an atomic hold, so
//   sleeping under it (Mutex::lock, a completion wait, World::sleep_for…) is reported as sleep-in-atomic; a
//   contended lock spins (World::block without sleeping), so a spin that can never end is a deadlock report;
//   lockdep orders it with every other lock class.
//
// The lock class is the construction site or `name`; built through a factory, pass a name or the site.
// INVARIANT: only the holder unlocks it (reported as bad-unlock-balance in the simulator).
// Does not handle: interrupt state (core/irqflags.hpp's spin_lock_irqsave disables them around this lock),
// recursion (a bug: reported, then it deadlocks), fairness (no ticket order), a lock used by both runtimes.
class SpinLock {
 public:
  explicit SpinLock(const Site& site = Site::current()) : sim_(nullptr, site, detail::SimLock::Kind::Spinning) {}
  // `name` has static storage; spinlocks with one name are one lockdep class.
  explicit SpinLock(const char* name, const Site& site = Site::current())
      : sim_(name, site, detail::SimLock::Kind::Spinning) {}
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  void lock(const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.lock(*w, 0, site);
    native_lock();
  }
  // spin_lock_nested(): at lockdep nesting level `subclass`.
  void lock_nested(unsigned subclass, const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.lock(*w, subclass, site);
    native_lock();
  }
  bool try_lock(const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.try_lock(*w, site);
    return !flag_.load(std::memory_order_relaxed) && !flag_.exchange(true, std::memory_order_acquire);
  }
  void unlock(const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) return sim_.unlock(*w, site);
    flag_.store(false, std::memory_order_release);
  }

  [[nodiscard]] SpinLockGuard guard(const Site& site = Site::current());
  [[nodiscard]] std::optional<SpinLockGuard> try_guard(const Site& site = Site::current());

  // Simulator only (natively false / kNoTask).
  bool is_locked() const { return sim_.locked(); }
  sim::TaskId owner() const { return sim_.owner(); }
  const LockClass& lock_class() const { return sim_.lock_class(); }

 private:
  void native_lock() {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      // Spin on a plain load, so waiters do not bounce the cache line with writes.
      for (int spins = 0; flag_.load(std::memory_order_relaxed); ++spins) {
        if (spins >= kSpinsBeforeYield) {
          std::this_thread::yield();
          spins = 0;
        } else {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        }
      }
    }
  }
  static constexpr int kSpinsBeforeYield = 64;

  detail::SimLock sim_;
  std::atomic<bool> flag_{false};
};

// Holds a SpinLock from guard() until destroyed or unlock()ed; movable within one task.
// INVARIANT: a guard with a non-null lock holds it. LIFETIME: the SpinLock outlives the guard.
class [[nodiscard]] SpinLockGuard {
 public:
  SpinLockGuard(SpinLockGuard&& other) noexcept : lock_(std::exchange(other.lock_, nullptr)) {}
  SpinLockGuard& operator=(SpinLockGuard&&) = delete;
  SpinLockGuard(const SpinLockGuard&) = delete;
  ~SpinLockGuard() {
    if (lock_ != nullptr) lock_->unlock();
  }
  void unlock(const Site& site = Site::current()) {
    if (lock_ != nullptr) std::exchange(lock_, nullptr)->unlock(site);
  }
  bool owns_lock() const { return lock_ != nullptr; }

 private:
  friend class SpinLock;
  explicit SpinLockGuard(SpinLock& l) : lock_(&l) {}
  SpinLock* lock_;
};

inline SpinLockGuard SpinLock::guard(const Site& site) {
  lock(site);
  return SpinLockGuard(*this);
}

inline std::optional<SpinLockGuard> SpinLock::try_guard(const Site& site) {
  if (!try_lock(site)) return std::nullopt;
  return SpinLockGuard(*this);
}

}  // namespace devsim::core
