// Arc<T>, ArcBorrow<T>, UniqueArc<T>: the kernel's reference-counted pointer, as Rust-for-Linux has it.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "core/refcount.hpp"
#include "core/runtime.hpp"
#include "sim/kmalloc.hpp"

namespace devsim::core {

template <class T>
class Arc;
template <class T>
class ArcBorrow;
template <class T>
class UniqueArc;
template <class T>
class Weak;

namespace detail {

// The one allocation behind an Arc: the count and the value, side by side.
// INVARIANT: `data` is constructed while refcount > 0 and destroyed exactly once, by the put that takes the
// count to 0 (Rust's drop), right before the block is freed. Saturated counts never reach 0: the block leaks.
template <class T>
struct ArcInner {
  Refcount refcount{1};
  sim::AllocId id = 0;  // the block's allocation in the simulator (0 natively)
  T data;

  template <class... A>
  explicit ArcInner(A&&... args) : data(std::forward<A>(args)...) {}
};

template <class T>
void destroy_inner_data(void* p) {
  static_cast<ArcInner<T>*>(p)->data.~T();
}

template <class T, class... A>
ArcInner<T>* arc_allocate(const Site& site, A&&... args) {
  if (sim::World* w = sim_world()) {
    sim::KernelMemory& mem = w->memory();
    // The value's destructor runs at the last put; registering it with the allocation as well means a
    // leaked Arc's value is still destroyed when the world ends (set_destroy clears it at the last put).
    // Registered only once the value exists: a constructor that reaches a scheduling point (EnableWeak
    // allocates its anchor) can be unwound there, and the world must not then destroy a value never built.
    sim::AllocId id = mem.allocate(sizeof(ArcInner<T>), alignof(ArcInner<T>), false, &typeid(T), nullptr, site);
    auto* inner = new (mem.record(id).base) ArcInner<T>(std::forward<A>(args)...);
    inner->id = id;
    if constexpr (!std::is_trivially_destructible_v<T>) mem.set_destroy(id, &destroy_inner_data<T>);
    return inner;
  }
  return new ArcInner<T>(std::forward<A>(args)...);
}

// Checks, in the simulator, that the block is still allocated before the count is touched: an Arc used after
// its last put is a use-after-free, reported like any other.
template <class T>
void arc_check(ArcInner<T>* inner, bool write, const Site& site) {
  if (sim::World* w = sim_world()) w->memory().check(inner->id, &inner->refcount, sizeof(Refcount), write, site);
}

// One runtime lookup per operation: natively a clone is that lookup plus one atomic increment, inline.
template <class T>
void arc_get(ArcInner<T>* inner, const Site& site) {
  sim::World* w = sim_world();
  if (w != nullptr) [[unlikely]]
    w->memory().check(inner->id, &inner->refcount, sizeof(Refcount), true, site);
  inner->refcount.inc(w, site);
}

template <class T>
[[gnu::noinline]] void arc_put_sim(sim::World& w, ArcInner<T>* inner, const Site& site) {
  // LIFETIME: a put can run in a destructor; the world must not unwind it halfway (see NoCancelScope).
  sim::World::NoCancelScope scope(w);
  w.memory().check(inner->id, &inner->refcount, sizeof(Refcount), true, site);
  if (!inner->refcount.dec_and_test(&w, site)) return;
  inner->data.~T();
  w.memory().set_destroy(inner->id, nullptr);
  w.memory().free(inner->id, inner, site);
}

template <class T>
void arc_put(ArcInner<T>* inner, const Site& site) {
  if (sim::World* w = sim_world()) [[unlikely]] {
    arc_put_sim(*w, inner, site);
    return;
  }
  if (inner->refcount.dec_and_test(nullptr, site)) [[unlikely]]
    delete inner;
}

}  // namespace detail

// A shared, immutable (through the Arc) value with an intrusive count, in one allocation (simulated kernel
// memory in the simulator). The value never moves.
//
// INVARIANT: a non-null Arc owns one count of its block. Copying takes a count, destroying drops one; the last
// drop destroys the value and frees the block.
// Kernel semantics kept: no weak count (see Weak<T> in weak.hpp for the hotplug pattern), no abort on
// overflow (the count saturates with a warning and the value leaks).
// Does not handle: a null Arc is only produced by moving from one; using it is a bug (checked by assert).
template <class T>
class Arc {
 public:
  // Allocates the value, count 1.
  static Arc make(T value, const Site& site = Site::current()) {
    return Arc(detail::arc_allocate<T>(site, std::move(value)));
  }
  // For values that cannot move (locks, lists): constructed in place.
  template <class... A>
  static Arc emplace(const Site& site, A&&... args) {
    return Arc(detail::arc_allocate<T>(site, std::forward<A>(args)...));
  }

  Arc(const Arc& other) : inner_(other.inner_) { detail::arc_get(inner_, Site::current()); }
  Arc(Arc&& other) noexcept : inner_(std::exchange(other.inner_, nullptr)) {}
  Arc& operator=(Arc other) noexcept {
    std::swap(inner_, other.inner_);
    return *this;
  }
  ~Arc() {
    if (inner_ != nullptr) detail::arc_put(inner_, Site::current());
  }

  // Clone with the caller's site (reports name it).
  Arc clone(const Site& site = Site::current()) const {
    detail::arc_get(inner_, site);
    return Arc(inner_);
  }
  // Drops this reference now, at the caller's site (reports name it); the Arc becomes null.
  void drop(const Site& site = Site::current()) {
    if (inner_ != nullptr) detail::arc_put(std::exchange(inner_, nullptr), site);
  }

  const T& operator*() const { return inner_->data; }
  const T* operator->() const { return &inner_->data; }
  const T* get() const { return &inner_->data; }
  explicit operator bool() const { return inner_ != nullptr; }

  ArcBorrow<T> borrow() const { return ArcBorrow<T>(inner_); }
  int refcount() const { return inner_->refcount.read(); }
  friend bool ptr_eq(const Arc& a, const Arc& b) { return a.inner_ == b.inner_; }

  // ForeignOwnable: the Arc as one opaque pointer (for drvdata, private_data), and back.
  // LIFETIME: into_foreign() hands this Arc's count to the pointer; from_foreign() takes it back, once.
  void* into_foreign() && { return std::exchange(inner_, nullptr); }
  static Arc from_foreign(void* p) { return Arc(static_cast<detail::ArcInner<T>*>(p)); }
  static ArcBorrow<T> borrow_foreign(void* p) { return ArcBorrow<T>(static_cast<detail::ArcInner<T>*>(p)); }

 private:
  friend class ArcBorrow<T>;
  friend class UniqueArc<T>;
  // weak.hpp: upgrade() takes a count with inc_not_zero on the block, which only the weak machinery may do.
  friend class Weak<T>;
  explicit Arc(detail::ArcInner<T>* inner) : inner_(inner) {}
  detail::ArcInner<T>* inner_;
};

// A borrowed Arc: access to the value without a count of its own, as `&Arc<T>` / ArcBorrow in Rust.
// INVARIANT: an ArcBorrow never outlives the Arc (or foreign pointer) it was taken from; C++ cannot check
// this, so keep borrows to a scope (a callback's argument). to_arc() takes a real count, with no double
// indirection.
template <class T>
class ArcBorrow {
 public:
  const T& operator*() const { return inner_->data; }
  const T* operator->() const { return &inner_->data; }
  Arc<T> to_arc(const Site& site = Site::current()) const {
    detail::arc_get(inner_, site);
    return Arc<T>(inner_);
  }

 private:
  friend class Arc<T>;
  explicit ArcBorrow(detail::ArcInner<T>* inner) : inner_(inner) {}
  detail::ArcInner<T>* inner_;
};

// An Arc whose count is known to be 1: the value may be mutated; converts into an Arc for sharing.
// INVARIANT: the count is exactly 1 and owned by this object.
template <class T>
class UniqueArc {
 public:
  static UniqueArc make(T value, const Site& site = Site::current()) {
    return UniqueArc(detail::arc_allocate<T>(site, std::move(value)));
  }
  template <class... A>
  static UniqueArc emplace(const Site& site, A&&... args) {
    return UniqueArc(detail::arc_allocate<T>(site, std::forward<A>(args)...));
  }
  UniqueArc(UniqueArc&& other) noexcept : inner_(std::exchange(other.inner_, nullptr)) {}
  UniqueArc& operator=(UniqueArc&& other) noexcept {
    std::swap(inner_, other.inner_);
    return *this;
  }
  UniqueArc(const UniqueArc&) = delete;
  ~UniqueArc() {
    if (inner_ != nullptr) detail::arc_put(inner_, Site::current());
  }

  T& operator*() const { return inner_->data; }
  T* operator->() const { return &inner_->data; }
  // Shares it: the count stays 1, now owned by the Arc.
  Arc<T> into_arc() && { return Arc<T>(std::exchange(inner_, nullptr)); }
  operator Arc<T>() && { return std::move(*this).into_arc(); }  // NOLINT: UniqueArc -> Arc is always fine

 private:
  explicit UniqueArc(detail::ArcInner<T>* inner) : inner_(inner) {}
  detail::ArcInner<T>* inner_;
};

}  // namespace devsim::core
