// ARef<T>: an owned reference to an object that manages its own count (a device, a kref'd structure).
#pragma once

#include <cassert>
#include <concepts>
#include <cstddef>
#include <utility>

#include "core/runtime.hpp"

namespace devsim::core {

// The customisation point, as Rust-for-Linux's `AlwaysRefCounted`: how to take and drop one reference on a T
// that carries its own count (get_device/put_device for a device). By default it calls the free functions
// `inc_ref(T&, const Site&)` and `dec_ref(T*, const Site&)`, found by argument-dependent lookup next to T;
// specialise the template instead when T's namespace cannot get them.
//
// Contract of an implementation (it is what ARef relies on):
// - inc_ref(obj) is only called on an object the caller holds a reference to (count > 0), so it never
//   resurrects a dying object;
// - dec_ref(obj) drops exactly one reference and may free the object (it must not be touched afterwards).
namespace aref_adl {
// Outside any class, so that the unqualified calls below reach T's functions by argument-dependent lookup
// (a class member of the same name would hide them).
template <class U>
void call_inc_ref(U& obj, const Site& site) {
  inc_ref(obj, site);
}
template <class U>
void call_dec_ref(U* obj, const Site& site) {
  dec_ref(obj, site);
}
template <class U>
concept HasRefFunctions = requires(U& obj, U* ptr, const Site& site) {
  inc_ref(obj, site);
  dec_ref(ptr, site);
};
}  // namespace aref_adl

template <class T>
struct AlwaysRefCounted {
  static void inc_ref(T& obj, const Site& site) requires aref_adl::HasRefFunctions<T> {
    aref_adl::call_inc_ref(obj, site);
  }
  static void dec_ref(T* obj, const Site& site) requires aref_adl::HasRefFunctions<T> {
    aref_adl::call_dec_ref(obj, site);
  }
};

template <class T>
concept RefCountedObject = requires(T& obj, T* ptr, const Site& site) {
  AlwaysRefCounted<T>::inc_ref(obj, site);
  AlwaysRefCounted<T>::dec_ref(ptr, site);
};

// An owning pointer to an always-refcounted object: holds exactly one reference, dropped on destruction.
//
// INVARIANT: a non-null ARef owns one reference to its object, so the object is alive as long as the ARef is.
// Copying takes another reference; moving transfers it; destroying (or drop()) gives it back.
// The ways in:
// - ARef(obj): from a borrow (a T& the caller may use now, because it holds a reference or is inside a
//   callback that guarantees one): takes a new reference;
// - from_raw(ptr): adopts a reference the caller already took (get_device() in C), without taking another.
// The way out: into_raw() hands the reference back to the caller as a raw pointer (the caller must drop it).
//
// Does not handle: objects reached without a reference (a lookup table): that needs get_unless_zero under
// the table's lock (kref.hpp) or a Weak (weak.hpp). A null ARef only comes from a move or a default ctor;
// dereferencing one is a bug (assert).
// In the simulator the reference operations are the object's own (its Kref is a scheduling point); a drop in
// a destructor runs in a NoCancelScope, because the object's release may yield (kfree).
template <class T>
requires RefCountedObject<T>
class ARef {
 public:
  ARef() = default;
  // Takes a reference on a borrowed object. LIFETIME: the caller's borrow keeps the count above 0 meanwhile.
  explicit ARef(T& obj, const Site& site = Site::current()) : ptr_(&obj) { AlwaysRefCounted<T>::inc_ref(obj, site); }
  // Adopts a reference the caller owns (no increment). LIFETIME: `ptr` must carry one reference the caller
  // gives up here.
  static ARef from_raw(T* ptr) {
    ARef r;
    r.ptr_ = ptr;
    return r;
  }

  ARef(const ARef& other) : ptr_(other.ptr_) {
    if (ptr_ != nullptr) AlwaysRefCounted<T>::inc_ref(*ptr_, Site::current());
  }
  ARef(ARef&& other) noexcept : ptr_(std::exchange(other.ptr_, nullptr)) {}
  ARef& operator=(ARef other) noexcept {
    std::swap(ptr_, other.ptr_);
    return *this;
  }
  ~ARef() {
    if (ptr_ != nullptr) put(ptr_, Site::current());
  }

  // Another reference, with the caller's site in reports.
  ARef clone(const Site& site = Site::current()) const {
    assert(ptr_ != nullptr);
    return ARef(*ptr_, site);
  }
  // Drops the reference now, at the caller's site; the ARef becomes null.
  void drop(const Site& site = Site::current()) {
    if (ptr_ != nullptr) put(std::exchange(ptr_, nullptr), site);
  }
  // Gives the reference to the caller as a raw pointer; the ARef becomes null.
  [[nodiscard]] T* into_raw() && { return std::exchange(ptr_, nullptr); }

  T& operator*() const {
    assert(ptr_ != nullptr);
    return *ptr_;
  }
  T* operator->() const {
    assert(ptr_ != nullptr);
    return ptr_;
  }
  T* get() const { return ptr_; }
  explicit operator bool() const { return ptr_ != nullptr; }
  friend bool operator==(const ARef& a, const ARef& b) { return a.ptr_ == b.ptr_; }

 private:
  static void put(T* ptr, const Site& site) {
    if (sim::World* w = sim_world()) {
      // LIFETIME: a put can run in a destructor during teardown; the release it may trigger must not be
      // unwound halfway.
      sim::World::NoCancelScope scope(*w);
      AlwaysRefCounted<T>::dec_ref(ptr, site);
      return;
    }
    AlwaysRefCounted<T>::dec_ref(ptr, site);
  }

  T* ptr_ = nullptr;
};

}  // namespace devsim::core
