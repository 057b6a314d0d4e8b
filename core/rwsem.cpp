#include "core/rwsem.hpp"

#include <algorithm>
#include <utility>

#include "core/sim_lock.hpp"

namespace devsim::core::detail {

namespace {
// Counts a waiter for as long as it waits, even when the task is unwound out of block() at the end of the world.
struct Waiting {
  int& n;
  explicit Waiting(int& count) : n(++count) {}
  ~Waiting() { --n; }
  Waiting(const Waiting&) = delete;
  Waiting& operator=(const Waiting&) = delete;
};
}  // namespace

void SimRwSem::down_read(sim::World& w, const Site& site) {
  const std::string_view name = what_read();
  w.might_sleep(class_.text("down_read "), site);
  w.yield(sim::EventKind::Acquire, this, site);
  w.touch(this, true);
  lockdep::acquire(w, this, class_, 0, name, /*trylock=*/false, site);
  if (read_blocked()) {
    Waiting waiting(waiters_);
    while (read_blocked())
      w.block(this, name, site, /*sleeps=*/false);
  }
  readers_.push_back(w.current_task());
  w.note_acquired(this, name, site, sim::HoldKind::Sleepable);
}

bool SimRwSem::down_read_trylock(sim::World& w, const Site& site) {
  w.yield(sim::EventKind::Acquire, this, site);
  w.touch(this, true);
  if (read_blocked() || waiters_ > 0) return false;
  const std::string_view name = what_read();
  lockdep::acquire(w, this, class_, 0, name, /*trylock=*/true, site);
  readers_.push_back(w.current_task());
  w.note_acquired(this, name, site, sim::HoldKind::Sleepable);
  return true;
}

void SimRwSem::down_write(sim::World& w, const Site& site) {
  const std::string_view name = what();
  w.might_sleep(class_.text("down_write "), site);
  w.yield(sim::EventKind::Acquire, this, site);
  w.touch(this, true);
  lockdep::acquire(w, this, class_, 0, name, /*trylock=*/false, site);
  if (writer_ != sim::kNoTask || !readers_.empty()) {
    Waiting waiting(waiters_);
    Waiting writer(writers_waiting_);
    while (writer_ != sim::kNoTask || !readers_.empty())
      w.block(this, name, site, /*sleeps=*/false);
  }
  writer_ = w.current_task();
  w.note_acquired(this, name, site, sim::HoldKind::Sleepable);
}

bool SimRwSem::down_write_trylock(sim::World& w, const Site& site) {
  w.yield(sim::EventKind::Acquire, this, site);
  w.touch(this, true);
  if (writer_ != sim::kNoTask || !readers_.empty() || waiters_ > 0) return false;
  const std::string_view name = what();
  lockdep::acquire(w, this, class_, 0, name, /*trylock=*/true, site);
  writer_ = w.current_task();
  w.note_acquired(this, name, site, sim::HoldKind::Sleepable);
  return true;
}

void SimRwSem::bad_unlock(sim::World& w, const std::string& headline, const Site& site) {
  sim::Report r;
  r.kind = std::string(bug::kBadUnlock);
  r.headline = headline;
  r.accessed_by = w.task_site(w.current_task(), site);
  w.report(std::move(r));
}

void SimRwSem::wake_after_release(sim::World& w, const Site& site) {
  if (waiters_ == 0) return;  // the fast path: one atomic update of the count, nothing after it
  w.wake_all(this, site);
  access_after_handoff(w, memory_, memory_size_, "rwsem_wake (up_read, up_write)", site);
}

void SimRwSem::up_read(sim::World& w, const Site& site) {
  // LIFETIME: may run from a destructor while the task is unwound.
  sim::World::NoCancelScope scope(w);
  w.yield(sim::EventKind::Release, this, site);
  w.touch(this, true);
  const sim::TaskId me = w.current_task();
  auto it = std::find(readers_.begin(), readers_.end(), me);
  if (it == readers_.end()) {
    bad_unlock(w,
               "bad unlock balance detected: task " + w.task_label(me) + " releases " + std::string(what()) +
                   " for reading, which it does not hold for reading",
               site);
    return;
  }
  readers_.erase(it);
  w.note_released(this);
  lockdep::release(w, this);
  if (readers_.empty()) wake_after_release(w, site);
}

void SimRwSem::up_write(sim::World& w, const Site& site) {
  sim::World::NoCancelScope scope(w);
  w.yield(sim::EventKind::Release, this, site);
  w.touch(this, true);
  const sim::TaskId me = w.current_task();
  if (writer_ != me) {
    bad_unlock(w,
               "bad unlock balance detected: task " + w.task_label(me) + " releases " + std::string(what()) +
                   " for writing, which it does not hold for writing",
               site);
    return;
  }
  writer_ = sim::kNoTask;
  w.note_released(this);
  lockdep::release(w, this);
  wake_after_release(w, site);
}

void SimRwSem::downgrade_write(sim::World& w, const Site& site) {
  w.yield(sim::EventKind::Release, this, site);
  w.touch(this, true);
  const sim::TaskId me = w.current_task();
  if (writer_ != me) {
    bad_unlock(w,
               "downgrade_write of " + std::string(what()) + " by task " + w.task_label(me) +
                   ", which does not hold it for writing",
               site);
    return;
  }
  // kernel/locking/rwsem.c downgrade_write + lock_downgrade: still held, now shared; lockdep keeps the hold.
  writer_ = sim::kNoTask;
  readers_.push_back(me);
  if (waiters_ > 0) w.wake_all(this, site);
}

}  // namespace devsim::core::detail
