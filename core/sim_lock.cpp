#include "core/sim_lock.hpp"

#include <utility>

namespace devsim::core::detail {

void SimLock::take(sim::World& w, std::string_view what, const Site& site) {
  locked_ = true;
  owner_ = w.current_task();
  w.note_exclusive(+1);
  w.note_acquired(this, what, site, kind_ == Kind::Sleeping ? sim::HoldKind::Sleepable : sim::HoldKind::Atomic);
}

void SimLock::lock(sim::World& w, unsigned subclass, const Site& site) {
  const std::string_view name = what();
  // mutex_lock() may sleep even when the lock is free: an atomic caller is a bug on every path.
  if (kind_ == Kind::Sleeping) w.might_sleep(class_.text("mutex_lock "), site);
  w.yield(sim::EventKind::Acquire, this, site);
  w.touch(this, true);
  // Before waiting, as the kernel validates in lock_acquire(): an inversion is reported even on the schedule
  // that deadlocks, not only on the ones that get through.
  lockdep::acquire(w, this, class_, subclass, name, /*trylock=*/false, site);
  // sleep-in-atomic was checked above, once: the wait itself is not re-checked.
  if (locked_) {
    // LIFETIME: the count is restored even when the task is unwound out of block() at the end of the world.
    struct Waiting {
      int& n;
      explicit Waiting(int& count) : n(++count) {}
      ~Waiting() { --n; }
    } waiting(waiters_);
    while (locked_)
      w.block(this, name, site, /*sleeps=*/false);
  }
  take(w, name, site);
}

bool SimLock::try_lock(sim::World& w, const Site& site) {
  w.yield(sim::EventKind::Acquire, this, site);
  w.touch(this, true);
  if (locked_) return false;
  const std::string_view name = what();
  lockdep::acquire(w, this, class_, 0, name, /*trylock=*/true, site);
  take(w, name, site);
  return true;
}

void SimLock::unlock(sim::World& w, const Site& site) {
  // LIFETIME: guards unlock from their destructors, which may run while the task is being unwound.
  sim::World::NoCancelScope scope(w);
  w.yield(sim::EventKind::Release, this, site);
  w.touch(this, true);
  const sim::TaskId me = w.current_task();
  if (!locked_ || owner_ != me) {
    sim::Report r;
    r.kind = std::string(bug::kBadUnlock);
    r.headline = "bad unlock balance detected: task " + w.task_label(me) + " releases " + std::string(what()) +
                 (locked_ ? " held by task " + w.task_label(owner_.load()) : " which is not locked");
    r.accessed_by = w.task_site(me, site);
    w.report(std::move(r));
    if (!locked_) return;  // nothing to release; the kernel leaves the count alone too
  }
  locked_ = false;
  owner_ = sim::kNoTask;
  w.note_exclusive(-1);
  w.note_released(this);
  lockdep::release(w, this);
  w.wake_one(this, site);
  // mutex_unlock()'s fast path is one atomic release of the owner field; with waiters it is
  // __mutex_unlock_slowpath, which takes lock->wait_lock after the release.
  if (kind_ == Kind::Sleeping && waiters_ > 0) access_after_handoff(w, memory_, memory_size_, "mutex_unlock", site);
}

void access_after_handoff(sim::World& w, const void* lock, std::size_t size, std::string_view unlock,
                          const Site& site) {
  sim::KernelMemory& mem = w.memory();
  const sim::AllocId id = mem.find(lock);
  if (id == 0) return;  // a host object (a global lock): never freed within an execution
  // The new owner may run here, and may free the object the lock is embedded in.
  // A data access's point, not a primitive's: the check below reports it, naming the unlock.
  w.data_access_point(sim::EventKind::Write, lock, site);
  mem.check(
      id, lock, size, true, site,
      std::string(unlock) +
          " touches the lock after handing it to a waiter (its wait_lock; Documentation/locking/mutex-design.rst): "
          "the task that took it next must not free it while the unlocker may still be inside");
}

}  // namespace devsim::core::detail
