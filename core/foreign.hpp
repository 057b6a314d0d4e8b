// ForeignOwnable: an owning pointer that can travel through a C-style `void*` field (drvdata, file
// private_data, an RCU-protected pointer) and come back, as Rust-for-Linux's `ForeignOwnable` trait.
//
// The customisation point is ForeignOwnableTraits<P>, specialised for KBox<T>, Arc<T> and Unit:
//   static void* into_foreign(P&& p);          // ownership moves into the pointer
//   static Borrowed borrow(void* p, site);      // a view, valid while the pointer still owns the value
//   static P from_foreign(void* p);             // ownership comes back; once per into_foreign
// and the free functions into_foreign / borrow_foreign / from_foreign call it. `ForeignOwnable<P>` is the
// concept that says a type has it.
//
// INVARIANT: each pointer from into_foreign() is given to from_foreign() at most once; borrows taken from it
// end before that call. C++ cannot check this; the simulator does, when it is broken: a Borrowed's accesses
// are checked against the allocation, so a borrow used after the value was freed is a reported
// use-after-free naming the borrower's site and the free site.
//
// Does not handle: borrow_mut-style exclusive borrows (KBox's Borrowed allows writes; exclusivity is the
// caller's), pinned values beyond "the value never moves" (true of KBox and Arc), arbitrary user types (write
// a specialisation).
#pragma once

#include <concepts>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <variant>

#include "core/arc.hpp"
#include "core/kbox.hpp"
#include "core/runtime.hpp"

namespace devsim::core {

// Rust's `()`: owns nothing, travels as a null pointer.
using Unit = std::monostate;

// A borrowed view of a value owned elsewhere (by a foreign pointer, an Rcu<P>), or null (false in a
// condition: Rcu<P>::dereference of a null pointer). T may be const.
//
// In the simulator every access is a checked access (a scheduling point, then the shadow check), reported
// at the site given to the accessor, or for operator-> and operator* at the site the borrow was taken.
// Natively an access is a plain dereference.
// INVARIANT: `id_` is the allocation holding `*ptr_` in the simulator, 0 natively.
template <class T>
class Borrowed {
 public:
  Borrowed() = default;  // null
  Borrowed(T* ptr, sim::AllocId id, const Site& site) : ptr_(ptr), id_(id), site_(site) {}

  explicit operator bool() const { return ptr_ != nullptr; }

  T& operator*() const {
    check(ptr_, sizeof(T), false, site_);
    return *ptr_;
  }
  T* operator->() const {
    check(ptr_, sizeof(T), false, site_);
    return ptr_;
  }
  // The whole value, checked as a read of sizeof(T) bytes at `site`.
  const T& read(const Site& site = Site::current()) const {
    check(ptr_, sizeof(T), false, site);
    return *ptr_;
  }
  // The whole value for writing (only for non-const T).
  template <class U = T>
  requires(!std::is_const_v<U>) U& write(const Site& site = Site::current()) const {
    check(ptr_, sizeof(T), true, site);
    return *ptr_;
  }
  // One member, checked with its own size and offset (what KASAN would print).
  template <class M, class U = std::remove_const_t<T>>
  M load(M U::*member, const Site& site = Site::current()) const {
    const M* field = &(ptr_->*member);
    check(field, sizeof(M), false, site);
    return *field;
  }
  template <class M, class V, class U = T>
  requires(!std::is_const_v<U>) void store(M U::*member, V&& value, const Site& site = Site::current()) const {
    M* field = &(ptr_->*member);
    check(field, sizeof(M), true, site);
    *field = std::forward<V>(value);
  }

  // LIFETIME: whoever uses the raw pointer must say why the value is still alive.
  T* unchecked() const { return ptr_; }
  sim::AllocId alloc_id() const { return id_; }

 private:
  void check(const void* p, std::size_t size, bool write, const Site& site) const {
    if (id_ != 0) detail::sim_access<std::remove_const_t<T>>(*sim_world(), id_, p, size, write, site);
  }

  T* ptr_ = nullptr;
  sim::AllocId id_ = 0;
  Site site_;
};

// An Arc's borrowed view: read-only, and it can take a real count of its own.
template <class T>
class ArcForeignBorrow : public Borrowed<const T> {
 public:
  ArcForeignBorrow() = default;  // null
  ArcForeignBorrow(void* foreign, const T* ptr, sim::AllocId id, const Site& site)
      : Borrowed<const T>(ptr, id, site), foreign_(foreign) {}
  // LIFETIME: valid while the borrow is (the foreign pointer still owns a count).
  Arc<T> to_arc(const Site& site = Site::current()) const { return Arc<T>::borrow_foreign(foreign_).to_arc(site); }

 private:
  void* foreign_ = nullptr;
};

template <class P>
struct ForeignOwnableTraits;  // not ForeignOwnable unless specialised

template <class T>
struct ForeignOwnableTraits<KBox<T>> {
  using Borrowed = core::Borrowed<T>;
  static void* into_foreign(KBox<T>&& p) { return std::move(p).into_foreign(); }
  static Borrowed borrow(void* p, const Site& site) {
    T* value = static_cast<T*>(p);
    return Borrowed(value, sim_world() != nullptr ? detail::kbox_id(value) : 0, site);
  }
  static KBox<T> from_foreign(void* p) { return KBox<T>::from_foreign(p); }
};

template <class T>
struct ForeignOwnableTraits<Arc<T>> {
  using Borrowed = ArcForeignBorrow<T>;
  static void* into_foreign(Arc<T>&& p) { return std::move(p).into_foreign(); }
  static Borrowed borrow(void* p, const Site& site) {
    // INVARIANT: Arc<T>::into_foreign() returns its ArcInner<T>* (see arc.hpp's from_foreign, which casts
    // back); the block's allocation id sits in it, and the value is its `data` member.
    auto* inner = static_cast<detail::ArcInner<T>*>(p);
    return Borrowed(p, &inner->data, inner->id, site);
  }
  static Arc<T> from_foreign(void* p) { return Arc<T>::from_foreign(p); }
};

template <>
struct ForeignOwnableTraits<Unit> {
  using Borrowed = Unit;
  static void* into_foreign(Unit&&) { return nullptr; }
  static Borrowed borrow(void*, const Site&) { return {}; }
  static Unit from_foreign(void*) { return {}; }
};

template <class P>
concept ForeignOwnable = std::movable<P> && requires(P p, void* v, const Site& s) {
  typename ForeignOwnableTraits<P>::Borrowed;
  { ForeignOwnableTraits<P>::into_foreign(std::move(p)) } -> std::same_as<void*>;
  { ForeignOwnableTraits<P>::borrow(v, s) } -> std::same_as<typename ForeignOwnableTraits<P>::Borrowed>;
  { ForeignOwnableTraits<P>::from_foreign(v) } -> std::same_as<P>;
};

template <ForeignOwnable P>
using ForeignBorrowed = typename ForeignOwnableTraits<P>::Borrowed;

// Ownership into the pointer.
template <ForeignOwnable P>
void* into_foreign(P&& p) {
  return ForeignOwnableTraits<std::remove_cvref_t<P>>::into_foreign(std::move(p));
}
// A view of the value the pointer owns. `p` must come from into_foreign<P>() and not yet be given back.
template <ForeignOwnable P>
ForeignBorrowed<P> borrow_foreign(void* p, const Site& site = Site::current()) {
  return ForeignOwnableTraits<P>::borrow(p, site);
}
// Ownership back out of the pointer, once.
template <ForeignOwnable P>
P from_foreign(void* p) {
  return ForeignOwnableTraits<P>::from_foreign(p);
}

}  // namespace devsim::core
