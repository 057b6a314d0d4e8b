#include "core/srcu.hpp"

#include <algorithm>

#include "core/lockdep_map.hpp"

namespace devsim::core {

SrcuReadGuard Srcu::sim_read_lock(sim::World& w, const Site& site) {
  w.yield(sim::EventKind::Acquire, this, site);
  w.touch(this, true);
  const std::uint64_t token = sim_next_token_++;
  sim_sections_.push_back({token, w.current_task(), sim_gp_seq_, site});
  // LIFETIME: the hold names `this` as its resource; the guard releases it before the domain can go away.
  w.note_acquired(this, "srcu_read_lock(" + name_ + ")", site, sim::HoldKind::Sleepable);
  // srcu_read_lock(): srcu_lock_acquire(&ssp->dep_map), a recursive read (include/linux/srcu.h).
  lockdep::lock_map_acquire_read(&lockdep_class_, lockdep_class_, "srcu " + name_, site);
  return SrcuReadGuard(this, &w, 0, token, site);
}

bool Srcu::read_lock_held() const {
  sim::World* w = sim_world();
  if (w == nullptr) return true;
  const sim::TaskId self = w->current_task();
  return std::any_of(sim_sections_.begin(), sim_sections_.end(),
                     [self](const SimSection& s) { return s.task == self; });
}

void Srcu::sim_read_unlock(sim::World& w, std::uint64_t token, const Site& site) {
  // LIFETIME: runs in guard destructors; the section must be left even when the task is being unwound.
  sim::World::NoCancelScope scope(w);
  w.yield(sim::EventKind::Release, this, site);
  w.touch(this, true);
  w.note_released(this);
  lockdep::lock_map_release(&lockdep_class_);
  auto it = std::find_if(sim_sections_.begin(), sim_sections_.end(),
                         [token](const SimSection& s) { return s.token == token; });
  if (it == sim_sections_.end()) return;
  sim_sections_.erase(it);
  if (sim_waiters_ > 0) w.wake_all(this, site);
}

void Srcu::synchronize(const Site& site) {
  if (sim::World* w = sim_world()) {
    w->yield(sim::EventKind::Sync, this, site);
    w->touch(this, true);
    if (w->tearing_down()) return;
    const sim::TaskId self = w->current_task();
    for (const SimSection& s : sim_sections_) {
      if (s.task != self) continue;
      sim::Report r;
      r.kind = std::string(sim::bug::kDeadlock);
      r.headline = "deadlock: synchronize_srcu(" + name_ + ") inside its own SRCU read-side critical section in task " +
                   w->task_label(self);
      r.accessed_by = w->task_site(self, site);
      r.details.push_back("srcu_read_lock(" + name_ + ") taken at " + sim::describe(s.site) +
                          "; the grace period waits for this very section to end");
      w->report(std::move(r));
      return;  // waiting would hang the task forever
    }
    if (!w->might_sleep("synchronize_srcu(" + name_ + ")", site)) return;
    // __synchronize_srcu(): srcu_lock_sync(&ssp->dep_map) (kernel/rcu/srcutree.c): ordered after every lock held.
    lockdep::lock_sync(&lockdep_class_, lockdep_class_, "srcu " + name_, site);
    const std::uint64_t gp = ++sim_gp_seq_;
    auto older = [gp](const SimSection& s) { return s.start < gp; };
    while (std::any_of(sim_sections_.begin(), sim_sections_.end(), older) && !w->tearing_down()) {
      ++sim_waiters_;
      struct Leave {
        std::size_t& n;
        ~Leave() { --n; }
      } leave{sim_waiters_};
      // Sleeping here was checked above, once.
      w->block(this, "synchronize_srcu(" + name_ + ") grace period", site, /*sleeps=*/false);
    }
    return;
  }
  std::lock_guard<std::mutex> lock(synchronize_mutex_);
  const unsigned active = index_.load(std::memory_order_seq_cst) & 1u;
  // Readers that loaded the index before the previous flip may have incremented the now-inactive counter after
  // that flip's wait: they can hold a pointer this update unpublished, so drain them first.
  native_wait_drained(active ^ 1u);
  index_.store(active ^ 1u, std::memory_order_seq_cst);
  // New readers now count on the other side; the old side only drains.
  native_wait_drained(active);
}

void Srcu::native_wait_drained(unsigned i) {
  std::atomic<int>& counter = counters_[i].value;
  int v = counter.load(std::memory_order_seq_cst);
  if (v == 0) return;
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  while ((v = counter.load(std::memory_order_seq_cst)) != 0)
    counter.wait(v, std::memory_order_seq_cst);
  waiters_.fetch_sub(1, std::memory_order_seq_cst);
}

std::size_t Srcu::readers() const {
  if (sim_world() != nullptr) return sim_sections_.size();
  return static_cast<std::size_t>(counters_[0].value.load() + counters_[1].value.load());
}

}  // namespace devsim::core
