// Revocable<T> and SrcuRevocable<T>: a value that its owner can revoke while others may still be reading it,
// as Rust-for-Linux's `Revocable` (rust/kernel/revocable.rs). The pattern of brief §2.3: clear the flag, wait
// for the readers in flight, then destroy.
//
//   Revocable<Regs> regs(Regs{...});
//   if (auto g = regs.try_access()) use(g->base);    // RCU read section for g's scope: must not sleep
//   regs.revoke();                                     // unavailable, waits for readers, destroys: true once
//
// Revocable readers hold an RCU read section (rcu.hpp), so they must not sleep (the simulator reports
// sleep-in-atomic); SrcuRevocable readers hold an SRCU section of the revocable's own domain (srcu.hpp) and may
// sleep. Everything else is the same.
//
// INVARIANT: while a guard is active, the value is alive: revoke() clears availability before it waits for a
// grace period, and a guard exists only if availability was seen inside a read section.
// INVARIANT: the value is destroyed exactly once: by the revoke call that cleared availability, or by the
// destructor if nobody revoked.
//
// Storage: natively the value is stored inline (no allocation). In the simulator it lives in a kmalloc'd
// block, and every access through a guard is a checked access (a scheduling point, then the shadow check), so
// revoke_nosync() destroying the value while a reader still holds a guard is reported as a use-after-free that
// names the reader's access site and the revoke's free site (and the revocable's allocation site).
//
// Does not handle: revoking from inside a read section of the same kind (revoke() waits for a grace period:
// reported as a deadlock in the simulator, std::logic_error natively for RCU), moving a Revocable (readers point
// into it), a Revocable created in one runtime and used in the other, mutual exclusion between readers that
// write through write()/store() (the value's own locks provide it).
#pragma once

#include <atomic>
#include <cstddef>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/kbox.hpp"
#include "core/rcu.hpp"
#include "core/runtime.hpp"
#include "core/srcu.hpp"

namespace devsim::core {

// Access to a revocable's value for as long as the guard lives (it holds the read section), or an empty guard
// (false in a condition) when the value was revoked: `if (auto g = r.try_access()) use(g->field);`.
// In the simulator operator-> and operator* are checked reads at the site where the guard was taken; read(),
// write(), load() and store() are checked at their own call sites. Natively they are plain accesses.
// INVARIANT: data_ is non-null only while the guard holds a read section, and the value is alive then (see
// Revocable).
template <class T, class Revocation>
class BasicRevocable;

template <class T, class ReadGuard>
class RevocableGuard {
 public:
  RevocableGuard(RevocableGuard&& other) noexcept
      : guard_(std::move(other.guard_)),
        data_(std::exchange(other.data_, nullptr)),
        id_(other.id_),
        site_(other.site_) {}
  RevocableGuard(const RevocableGuard&) = delete;
  RevocableGuard& operator=(const RevocableGuard&) = delete;
  RevocableGuard& operator=(RevocableGuard&&) = delete;

  const T& operator*() const {
    check(data_, sizeof(T), false, site_);
    return *data_;
  }
  const T* operator->() const {
    check(data_, sizeof(T), false, site_);
    return data_;
  }
  const T& read(const Site& site = Site::current()) const {
    check(data_, sizeof(T), false, site);
    return *data_;
  }
  T& write(const Site& site = Site::current()) const {
    check(data_, sizeof(T), true, site);
    return *data_;
  }
  template <class M, class U = T>
  M load(M U::*member, const Site& site = Site::current()) const {
    const M* field = &(data_->*member);
    check(field, sizeof(M), false, site);
    return *field;
  }
  template <class M, class V, class U = T>
  void store(M U::*member, V&& value, const Site& site = Site::current()) const {
    M* field = &(data_->*member);
    check(field, sizeof(M), true, site);
    *field = std::forward<V>(value);
  }

  explicit operator bool() const { return data_ != nullptr; }
  bool has_value() const { return data_ != nullptr; }

  // Ends the read section now; the guard becomes empty.
  void release(const Site& site = Site::current()) {
    guard_.unlock(site);
    data_ = nullptr;
  }
  // LIFETIME: valid only while the guard is active.
  T* unchecked() const { return data_; }
  const Site& site() const { return site_; }

 private:
  template <class, class>
  friend class BasicRevocable;
  // Takes the read section in place (no guard is moved on the fast path); empty until the revocable fills it.
  template <class Revocation>
  RevocableGuard(Revocation& revocation, const Site& site) : guard_(revocation.lock(site)), site_(site) {}

  void check(const void* p, std::size_t size, bool write, const Site& site) const {
    if (id_ != 0) [[unlikely]]
      detail::sim_access<T>(*sim_world(), id_, p, size, write, site);
  }

  ReadGuard guard_;  // inactive in an empty guard
  T* data_ = nullptr;
  sim::AllocId id_ = 0;  // the value's allocation in the simulator, 0 natively
  Site site_;            // where try_access was called: the reader
};

namespace detail {

// How a revocable waits for its readers: RCU.
struct RcuRevocation {
  using ReadGuard = RcuReadGuard;
  ReadGuard lock(const Site& site) { return RcuReadGuard(site); }
  void synchronize(const Site& site) { synchronize_rcu(site); }
};

// … or its own SRCU domain.
struct SrcuRevocation {
  using ReadGuard = SrcuReadGuard;
  Srcu domain{"revocable"};
  ReadGuard lock(const Site& site) { return domain.read_lock(site); }
  void synchronize(const Site& site) { domain.synchronize(site); }
};

}  // namespace detail

template <class T, class Revocation>
class BasicRevocable {
 public:
  using Guard = RevocableGuard<T, typename Revocation::ReadGuard>;

  // Stores the value (in the simulator: allocates it, a scheduling point).
  explicit BasicRevocable(T value, const Site& site = Site::current())
      : BasicRevocable(std::in_place, site, std::move(value)) {}
  template <class... A>
  explicit BasicRevocable(std::in_place_t, const Site& site, A&&... args) {
    if (sim_world() != nullptr) {
      data_ = detail::kbox_allocate<T>(&id_, site, std::forward<A>(args)...);
    } else {
      data_ = new (storage_) T(std::forward<A>(args)...);
    }
  }
  BasicRevocable(const BasicRevocable&) = delete;
  BasicRevocable& operator=(const BasicRevocable&) = delete;

  // Destroys the value if nobody revoked it.
  // LIFETIME: the owner guarantees no reader is left (Rust: dropping needs ownership), so no grace period.
  ~BasicRevocable() {
    if (available_.load(std::memory_order_relaxed)) destroy(Site::current());
  }

  // A guard giving access to the value (holding a read section), or an empty guard if it was revoked.
  Guard try_access(const Site& site = Site::current()) {
    Guard g(revocation_, site);
    // The section knows its runtime: one sim_world() lookup per access, in the lock.
    if (sim::World* w = g.guard_.world()) [[unlikely]]
      w->touch(this, false);
    // seq_cst pairs with revoke()'s exchange for the SRCU counters' ordering argument (srcu.hpp); on x86 it is a
    // plain load, and RCU needs no more than acquire.
    if (available_.load(std::memory_order_seq_cst)) [[likely]] {
      g.data_ = data_;
      g.id_ = id_;
    } else {
      g.guard_.unlock(site);
    }
    return g;
  }

  // Calls f(const T&) inside a read section if the value is available. Returns f's result (std::optional of
  // it; bool "ran" for void f), or nothing if revoked. The access is checked at `site` in the simulator.
  template <class F>
  auto try_access_with(F&& f, const Site& site = Site::current()) {
    using R = std::invoke_result_t<F, const T&>;
    Guard g = try_access(site);
    if constexpr (std::is_void_v<R>) {
      if (!g) return false;
      std::forward<F>(f)(g.read(site));
      return true;
    } else {
      if (!g) return std::optional<R>();
      return std::optional<R>(std::forward<F>(f)(g.read(site)));
    }
  }

  // Makes the value unavailable, waits for every reader that might still see it (a grace period), then
  // destroys it. Idempotent: true only for the call that revoked. Sleeps (not from inside a read section).
  bool revoke(const Site& site = Site::current()) {
    if (!begin_revoke(site)) return false;
    revocation_.synchronize(site);
    destroy(site);
    return true;
  }

  // The buggy variant, named for what it does: revokes and destroys at once, WITHOUT waiting for readers in
  // flight. Correct only if the caller knows there are none (Rust's unsafe revoke_nosync). The simulator reports
  // a reader's later access as use-after-free; natively a concurrent reader is undefined behaviour.
  bool revoke_nosync(const Site& site = Site::current()) {
    if (!begin_revoke(site)) return false;
    destroy(site);
    return true;
  }

  // A snapshot: whether try_access() would succeed now.
  bool is_available() const { return available_.load(std::memory_order_acquire); }
  // The read side's domain (SrcuRevocable: its Srcu), for tests and for sharing the grace period.
  Revocation& revocation() { return revocation_; }

 private:
  bool begin_revoke(const Site& site) {
    if (sim::World* w = sim_world()) [[unlikely]] {
      w->yield(sim::EventKind::Sync, this, site);
      w->touch(this, true);
    }
    return available_.exchange(false, std::memory_order_seq_cst);
  }
  void destroy(const Site& site) {
    if (id_ != 0) {
      detail::kbox_free(data_, id_, site);
    } else {
      data_->~T();
    }
  }

  std::atomic<bool> available_{true};
  sim::AllocId id_ = 0;
  // INVARIANT: points at storage_ natively, at the kmalloc'd value in the simulator; the value is alive while
  // available_ is true or a guard taken while it was true is active.
  T* data_ = nullptr;
  [[no_unique_address]] Revocation revocation_;
  alignas(T) std::byte storage_[sizeof(T)];
};

// RCU-based: readers must not sleep while they hold a guard.
template <class T>
using Revocable = BasicRevocable<T, detail::RcuRevocation>;
// SRCU-based (its own domain): readers may sleep while they hold a guard.
template <class T>
using SrcuRevocable = BasicRevocable<T, detail::SrcuRevocation>;

}  // namespace devsim::core
