// SRCU: sleepable RCU, one grace-period domain per Srcu object (the kernel's srcu_struct).
//
// Readers (read_lock -> SrcuReadGuard) may sleep while they hold a section; synchronize() waits for the
// readers of THIS domain only.
//
// Simulator semantics: read_lock/unlock are scheduling points; a section is a sleepable hold
// (HoldKind::Sleepable: exiting a task inside one is held-at-exit, sleeping is fine). Each section records the
// domain's grace-period sequence number when it began; synchronize() starts grace period g and waits exactly
// for the sections of this domain that began before g. synchronize() inside a section of the same domain held
// by the same task is reported as a deadlock and returns at once; inside an atomic hold (an RCU read section,
// a spinlock) it is sleep-in-atomic. During world teardown synchronize() returns at once.
//
// Native semantics: the classic two-counter SRCU. A reader increments the counter of the current index and
// decrements the same counter at unlock; synchronize() (serialised by a mutex) waits for the inactive counter
// to drain (readers that read a stale index), flips the index, then waits for the previously active counter
// to drain. All counter and index operations are seq_cst; waits use std::atomic::wait, woken only when a
// synchronizer announced itself. Readers never block on writers.
//
// INVARIANT: a guard is released on the task / thread that took it (release by another is not modelled).
// Does not handle: srcu_down_read/srcu_up_read (cross-task sections), call_srcu, expedited grace periods,
// detecting natively that synchronize() runs inside its own section (it deadlocks, as in the kernel without
// lockdep). An Srcu belongs to one world (or to native threads) for its whole life and must outlive its readers.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/lockdep.hpp"
#include "core/runtime.hpp"

namespace devsim::core {

class Srcu;

// One SRCU read section of one domain, for the guard's scope. Movable; a moved-from guard holds nothing.
// INVARIANT: an active guard holds exactly one section of `domain_`. LIFETIME: the domain outlives the guard.
class SrcuReadGuard {
 public:
  SrcuReadGuard(SrcuReadGuard&& other) noexcept
      : domain_(other.domain_),
        world_(other.world_),
        index_(other.index_),
        token_(other.token_),
        site_(other.site_),
        active_(std::exchange(other.active_, false)) {}
  SrcuReadGuard& operator=(SrcuReadGuard&&) = delete;
  SrcuReadGuard(const SrcuReadGuard&) = delete;
  SrcuReadGuard& operator=(const SrcuReadGuard&) = delete;
  ~SrcuReadGuard() { unlock(site_); }

  // Ends the section now (srcu_read_unlock) at `site`.
  void unlock(const Site& site = Site::current());
  bool active() const { return active_; }
  unsigned index() const { return index_; }     // the kernel's srcu_read_lock() return value (native)
  sim::World* world() const { return world_; }  // null natively
  const Site& site() const { return site_; }

 private:
  friend class Srcu;
  SrcuReadGuard(Srcu* domain, sim::World* world, unsigned index, std::uint64_t token, const Site& site)
      : domain_(domain), world_(world), index_(index), token_(token), site_(site) {}

  Srcu* domain_;
  sim::World* world_;
  unsigned index_;
  std::uint64_t token_;  // the section's identity in the simulator
  Site site_;
  bool active_ = true;
};

class Srcu {
 public:
  // The lockdep class is the construction site, like init_srcu_struct()'s static key...
  explicit Srcu(std::string_view name, const Site& site = Site::current())
      : name_(name), lockdep_class_(nullptr, site) {}
  // ...or, given a name with static storage (a string literal), that name, as for Mutex and SpinLock (members
  // built by one implicit constructor share its site).
  explicit Srcu(const char* name = "srcu", const Site& site = Site::current())
      : name_(name), lockdep_class_(name, site) {}
  Srcu(const Srcu&) = delete;
  Srcu& operator=(const Srcu&) = delete;

  // srcu_read_lock: a section of this domain; readers may sleep while they hold it.
  SrcuReadGuard read_lock(const Site& site = Site::current()) {
    if (sim::World* w = sim_world()) [[unlikely]]
      return sim_read_lock(*w, site);
    const unsigned i = index_.load(std::memory_order_seq_cst) & 1u;
    counters_[i].value.fetch_add(1, std::memory_order_seq_cst);
    return SrcuReadGuard(this, nullptr, i, 0, site);
  }

  // synchronize_srcu: returns once every section of this domain open at the call has ended. Sleeps.
  void synchronize(const Site& site = Site::current());

  const std::string& name() const { return name_; }
  // srcu_read_lock_held(): the current task is inside a section of this domain (simulator). Natively, where
  // there is no PROVE_RCU, true.
  bool read_lock_held() const;
  // Test hook: sections of this domain open now (simulator: exact; native: a racy snapshot).
  std::size_t readers() const;

 private:
  friend class SrcuReadGuard;
  SrcuReadGuard sim_read_lock(sim::World& w, const Site& site);
  void sim_read_unlock(sim::World& w, std::uint64_t token, const Site& site);
  void native_read_unlock(unsigned i) {
    // The synchronizer announces itself (waiters_) before reading the counter; seq_cst on both sides means
    // that either it sees this decrement or this load sees its announcement (no lost wake-up).
    if (counters_[i].value.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        waiters_.load(std::memory_order_seq_cst) != 0) [[unlikely]]
      counters_[i].value.notify_all();
  }
  void native_wait_drained(unsigned i);

  std::string name_;
  LockClass lockdep_class_;  // the domain's lockdep map (simulator): see lockdep_map.hpp
  // ---- native --------------------------------------------------------------------------------------------
  struct alignas(64) Counter {
    std::atomic<int> value{0};  // int: std::atomic<int>::wait is a futex wait
  };
  alignas(64) std::atomic<unsigned> index_{0};
  std::atomic<int> waiters_{0};
  Counter counters_[2];
  std::mutex synchronize_mutex_;  // the flip protocol needs one synchronizer at a time
  // ---- simulator -----------------------------------------------------------------------------------------
  struct SimSection {
    std::uint64_t token;
    sim::TaskId task;
    std::uint64_t start;  // sim_gp_seq_ when it began
    Site site;
  };
  std::vector<SimSection> sim_sections_;
  std::uint64_t sim_gp_seq_ = 0;
  std::uint64_t sim_next_token_ = 1;
  std::size_t sim_waiters_ = 0;  // channel: this
};

inline void SrcuReadGuard::unlock(const Site& site) {
  if (!std::exchange(active_, false)) return;
  if (world_ != nullptr) [[unlikely]]
    domain_->sim_read_unlock(*world_, token_, site);
  else
    domain_->native_read_unlock(index_);
}

}  // namespace devsim::core
