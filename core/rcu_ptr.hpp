// Rcu<P>: an RCU-protected owning pointer, as Boqun Feng's `Rcu<P>` for Rust-for-Linux (seeds/003).
//
// P is a ForeignOwnable (KBox<T>, Arc<T>): the pointer stored is P's foreign form.
//   RcuReadGuard g;
//   if (auto v = cfg.dereference(g)) use(v->a);        // a borrow (null if the pointer is), valid for g's scope
//   auto old = cfg.replace(KBox<Config>::make(...));   // updaters: exclusive among themselves
//   // old (RcuOld<P>) waits for a grace period when it is destroyed, then frees the old value
//
// INVARIANT: the stored pointer is null or a value of into_foreign() owned exclusively by this Rcu. An
// update moves the old pointer's ownership into exactly one RcuOld, which gives it back to P (from_foreign)
// only after a grace period: every borrow taken under a read section that could have seen it has ended.
// INVARIANT: updaters are serialised by an internal lock (std::mutex natively; in the simulator a lock built
// on World::block), so two copy_update()s never take ownership of the same old pointer.
//
// The simulator: dereference, the updates and every access through a borrow are scheduling points; borrow
// accesses are checked against the value's allocation, so replace_and_free_unsynchronized() while a reader
// holds a borrow is reported as a use-after-free naming the reader's access site and the free site.
// RcuOld's destruction inside a read section of the same task is reported as a deadlock (synchronize_rcu()).
//
// Does not handle: pinning (an Rcu must not move: it is neither copyable nor movable), field projection,
// kfree_rcu-style batching (RcuOld::free_after_grace_period queues a call_rcu instead of blocking), readers
// that keep a borrow past their guard (C++ cannot tie the borrow's lifetime to the guard; the simulator catches
// the resulting use-after-free).
#pragma once

#include <atomic>
#include <concepts>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/foreign.hpp"
#include "core/rcu.hpp"
#include "core/runtime.hpp"

namespace devsim::core {

namespace detail {

// kernel/rcu/update.c lockdep_rcu_suspicious(), in rcu.cpp (see rcu_pointer.hpp).
void lockdep_rcu_suspicious(sim::World& w, std::string_view api, std::string_view why, const Site& site);

// Mutual exclusion for updaters, in either runtime. Not a general mutex (see mutex.hpp): no lock-order
// checking, no owner checks; it only has to make updates exclusive.
class RcuUpdaterLock {
 public:
  void lock(const Site& site) {
    if (sim::World* w = sim_world()) {
      w->yield(sim::EventKind::Acquire, this, site);
      w->touch(this, true);
      while (sim_held_) {
        ++sim_waiters_;
        struct Leave {
          std::size_t& n;
          ~Leave() { --n; }
        } leave{sim_waiters_};
        w->block(this, "Rcu<P> updater lock", site);
      }
      sim_held_ = true;
      w->note_acquired(this, "Rcu<P> updater lock", site);
      return;
    }
    native_.lock();
  }
  void unlock(const Site& site) {
    if (sim::World* w = sim_world()) {
      sim_held_ = false;
      w->note_released(this);
      if (sim_waiters_ > 0) w->wake_one(this, site);
      return;
    }
    native_.unlock();
  }

 private:
  std::mutex native_;
  bool sim_held_ = false;
  std::size_t sim_waiters_ = 0;
};

// Frees an owner now, naming `site` in the simulator's reports where the owner lets us.
template <class P>
void drop_owned(P& owner, const Site& site) {
  if constexpr (requires { owner.drop(site); }) owner.drop(site);
}

class RcuUpdaterScope {
 public:
  RcuUpdaterScope(RcuUpdaterLock& lock, const Site& site) : lock_(lock), site_(site) { lock_.lock(site); }
  ~RcuUpdaterScope() { lock_.unlock(site_); }
  RcuUpdaterScope(const RcuUpdaterScope&) = delete;
  RcuUpdaterScope& operator=(const RcuUpdaterScope&) = delete;

 private:
  RcuUpdaterLock& lock_;
  Site site_;
};

}  // namespace detail

// An unpublished value that readers may still be looking at. Destroying it (or drop()) waits for a grace period
// (synchronize_rcu, so it sleeps and must not run inside a read section), then frees the value.
// INVARIANT: a non-null RcuOld owns its pointer's foreign ownership exclusively.
template <ForeignOwnable P>
class RcuOld {
 public:
  RcuOld(RcuOld&& other) noexcept : ptr_(std::exchange(other.ptr_, nullptr)), site_(other.site_) {}
  RcuOld(const RcuOld&) = delete;
  RcuOld& operator=(const RcuOld&) = delete;
  RcuOld& operator=(RcuOld&&) = delete;
  ~RcuOld() { drop(site_); }

  // Waits for a grace period at `site`, then frees the old value.
  void drop(const Site& site = Site::current()) {
    if (ptr_ == nullptr) return;
    std::optional<sim::World::NoCancelScope> scope;
    // LIFETIME: drop runs in a destructor; waiting and freeing must not be unwound halfway.
    if (sim::World* w = sim_world()) scope.emplace(*w);
    synchronize_rcu(site);
    // The grace period is over: no borrow of the old value exists any more.
    P old = from_foreign<P>(std::exchange(ptr_, nullptr));
    detail::drop_owned(old, site);
  }

  // Frees the old value after a grace period without waiting for it (call_rcu): for updaters that cannot sleep.
  void free_after_grace_period(const Site& site = Site::current()) {
    if (ptr_ == nullptr) return;
    call_rcu(
        [p = std::exchange(ptr_, nullptr), site] {
          P old = from_foreign<P>(p);
          detail::drop_owned(old, site);
        },
        site);
  }

  // LIFETIME: the old value is alive until drop(); readers may still be reading it, so only look.
  void* foreign() const { return ptr_; }

 private:
  template <ForeignOwnable>
  friend class Rcu;
  RcuOld(void* ptr, const Site& site) : ptr_(ptr), site_(site) {}

  void* ptr_;
  Site site_;  // the update's site: the destructor's synchronize_rcu and free are reported there
};

// P's borrow must have a null state (KBox and Arc borrows do; Unit is not a pointer worth protecting).
template <class P>
concept RcuPointee = ForeignOwnable<P> && std::default_initializable<ForeignBorrowed<P>> &&
    std::constructible_from<bool, ForeignBorrowed<P>>;

template <ForeignOwnable P>
class Rcu {
  static_assert(RcuPointee<P>, "Rcu<P> needs a ForeignOwnable whose borrow can be null (KBox<T>, Arc<T>)");

 public:
  using Borrowed = ForeignBorrowed<P>;

  Rcu() = default;  // null
  explicit Rcu(P p) : ptr_(into_foreign(std::move(p))) {}
  Rcu(const Rcu&) = delete;
  Rcu& operator=(const Rcu&) = delete;

  // Waits for a grace period (readers may still hold a borrow), then frees the value, if any.
  ~Rcu() {
    void* p = ptr_.load(std::memory_order_relaxed);
    if (p != nullptr) RcuOld<P>(p, Site::current());
  }

  // The current value, borrowed for as long as `guard`'s read section lasts; a null borrow if the pointer is.
  // LIFETIME: the borrow must not outlive `guard` (C++ cannot enforce it; see the header comment).
  // PROVE_RCU (simulator): `guard` must be an active section of this task, or the dereference is reported as
  // suspicious-rcu-usage (kernel/rcu/update.c lockdep_rcu_suspicious).
  Borrowed dereference(const RcuReadGuard& guard, const Site& site = Site::current()) const {
    if (sim::World* w = sim_world()) [[unlikely]] {
      w->yield(sim::EventKind::Read, this, site);
      w->touch(this, false);
      if (!guard.active() || !rcu_read_lock_held())
        detail::lockdep_rcu_suspicious(*w, "rcu_dereference_check()",
                                       "Rcu<P>::dereference() outside an RCU read-side critical section", site);
    }
    // Acquire pairs with the updaters' release store: the new value's construction is visible.
    void* p = ptr_.load(std::memory_order_acquire);
    if (p == nullptr) return Borrowed();
    return ForeignOwnableTraits<P>::borrow(p, site);
  }

  // Read-copy-update: f(Borrowed old) (a null borrow if the pointer is null) returns the new value (P, or
  // std::optional<P>, nullopt meaning null). Exclusive among updaters. Returns the old value as an RcuOld, or nothing
  // if it was null.
  template <class F>
  std::optional<RcuOld<P>> copy_update(F&& f, const Site& site = Site::current()) {
    detail::RcuUpdaterScope lock(updater_, site);
    // The updater lock makes this Rcu's pointer ours to read without a read section.
    void* old = ptr_.load(std::memory_order_relaxed);
    Borrowed borrowed = old != nullptr ? ForeignOwnableTraits<P>::borrow(old, site) : Borrowed();
    void* fresh = nullptr;
    using R = std::invoke_result_t<F, Borrowed>;
    if constexpr (std::is_same_v<std::remove_cvref_t<R>, P>) {
      fresh = into_foreign(std::forward<F>(f)(borrowed));
    } else {
      std::optional<P> next = std::forward<F>(f)(borrowed);
      if (next) fresh = into_foreign(std::move(*next));
    }
    publish(fresh, site);
    if (old == nullptr) return std::nullopt;
    return RcuOld<P>(old, site);
  }

  // Publishes `next`; the old value comes back as an RcuOld (or nothing if it was null).
  std::optional<RcuOld<P>> replace(P next, const Site& site = Site::current()) {
    detail::RcuUpdaterScope lock(updater_, site);
    void* old = ptr_.load(std::memory_order_relaxed);
    publish(into_foreign(std::move(next)), site);
    if (old == nullptr) return std::nullopt;
    return RcuOld<P>(old, site);
  }

  // The buggy variant, named for what it does: publishes `next` and frees the old value at once, WITHOUT a
  // grace period. A reader still holding a borrow of the old value then uses freed memory: the simulator
  // reports it; natively it is undefined behaviour.
  void replace_and_free_unsynchronized(P next, const Site& site = Site::current()) {
    void* old;
    {
      detail::RcuUpdaterScope lock(updater_, site);
      old = ptr_.load(std::memory_order_relaxed);
      publish(into_foreign(std::move(next)), site);
    }
    if (old != nullptr) {
      P freed = from_foreign<P>(old);
      detail::drop_owned(freed, site);
    }
  }

  // A snapshot, for tests: whether the pointer is null now.
  bool is_null() const { return ptr_.load(std::memory_order_acquire) == nullptr; }

 private:
  void publish(void* fresh, const Site& site) {
    if (sim::World* w = sim_world()) [[unlikely]] {
      w->yield(sim::EventKind::Write, this, site);
      w->touch(this, true);
    }
    // Release: readers that load the new pointer see the new value fully constructed.
    ptr_.store(fresh, std::memory_order_release);
  }

  std::atomic<void*> ptr_{nullptr};
  detail::RcuUpdaterLock updater_;
};

}  // namespace devsim::core
