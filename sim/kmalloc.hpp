// kmalloc/kzalloc/kfree and the checked handle they return.
#pragma once

#include <cstddef>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "sim/memory.hpp"
#include "sim/world.hpp"

namespace devsim::sim {

// Reports a null-pointer dereference at `site` and kills the current task (never returns).
[[noreturn]] void null_dereference(const Site& site);

// A pointer to a simulated kernel object. Every read and write through it is checked against the
// allocation's shadow state and recorded: a use-after-free or out-of-bounds access is reported, never
// undefined behaviour (freed objects stay intact in quarantine until the world ends).
//
// Dereferencing a null KPtr is reported as null-ptr-deref and kills the current task, like an oops.
// A KPtr is a plain value (no ownership): copying it is what C code does with pointers, and is exactly
// what makes lifetime bugs possible.
template <class T>
class KPtr {
 public:
  KPtr() = default;
  KPtr(std::nullptr_t) {}  // NOLINT: a null handle converts implicitly, like NULL
  KPtr(T* pointer, AllocId id) : ptr_(pointer), id_(id) {}

  // The whole object, checked as a read (or write) of sizeof(T) bytes.
  const T& read(const Site& site = Site::current()) const {
    check(ptr_, sizeof(T), false, site);
    return *ptr_;
  }
  T& write(const Site& site = Site::current()) const {
    check(ptr_, sizeof(T), true, site);
    return *ptr_;
  }
  // One member, checked with its own size and offset (what KASAN would print). U is T, deferred so that
  // KPtr<int> and other non-class T stay instantiable (`M int::*` is ill-formed).
  template <class M, class U = T>
  M load(M U::*member, const Site& site = Site::current()) const {
    check_null(site);
    const M* field = &(ptr_->*member);
    check(field, sizeof(M), false, site);
    return *field;
  }
  template <class M, class V, class U = T>
  void store(M U::*member, V&& value, const Site& site = Site::current()) const {
    check_null(site);
    M* field = &(ptr_->*member);
    check(field, sizeof(M), true, site);
    *field = std::forward<V>(value);
  }

  // The marked forms (READ_ONCE / WRITE_ONCE of one member): for a field that tasks read and write without a
  // common lock on purpose (a "gone" flag). Checked like load/store; never a data race.
  template <class M, class U = T>
  M load_once(M U::*member, const Site& site = Site::current()) const {
    check_null(site);
    const M* field = &(ptr_->*member);
    check(field, sizeof(M), false, site);
    // Marked by scope, not by a relaxed atomic: g++'s instrumentation reports a relaxed atomic load or store
    // of a plain object as a plain access.
    ++shadow::t_view.no_race_depth;
    __asm__ __volatile__("" ::: "memory");  // keep the scope around the access
    M v = *static_cast<const volatile M*>(field);
    __asm__ __volatile__("" ::: "memory");
    --shadow::t_view.no_race_depth;
    return v;
  }
  template <class M, class V, class U = T>
  void store_once(M U::*member, V&& value, const Site& site = Site::current()) const {
    check_null(site);
    M* field = &(ptr_->*member);
    check(field, sizeof(M), true, site);
    M v = static_cast<M>(std::forward<V>(value));
    ++shadow::t_view.no_race_depth;
    __asm__ __volatile__("" ::: "memory");  // keep the scope around the access
    *static_cast<volatile M*>(field) = v;
    __asm__ __volatile__("" ::: "memory");
    --shadow::t_view.no_race_depth;
  }

  // The raw pointer, unchecked. LIFETIME: whoever calls this must say why the object is alive.
  T* unchecked() const { return ptr_; }
  AllocId id() const { return id_; }
  explicit operator bool() const { return ptr_ != nullptr; }
  friend bool operator==(const KPtr& a, const KPtr& b) { return a.ptr_ == b.ptr_; }

 private:
  void check_null(const Site& site) const {
    if (ptr_ == nullptr) null_dereference(site);
  }
  void check(const void* p, std::size_t size, bool write, const Site& site) const {
    check_null(site);
    World::current()->memory().check(id_, p, size, write, site);
  }

  T* ptr_ = nullptr;
  AllocId id_ = 0;
};

namespace detail {
template <class T>
void destroy_object(void* p) {
  static_cast<T*>(p)->~T();
}
template <class T>
constexpr void (*destroyer())(void*) {
  if constexpr (std::is_trivially_destructible_v<T>)
    return nullptr;
  else
    return &destroy_object<T>;
}
}  // namespace detail

// Allocates a T in simulated kernel memory, move-constructed from `value`. A scheduling point. Its C++
// destructor runs when the world ends (kfree only marks it freed: the kernel runs no destructors). Returns a
// null handle when fault injection fails this allocation (WorldOptions::fail_nth).
template <class T>
KPtr<T> kmalloc(T value = T(), const Site& site = Site::current()) {
  if (World::current()->should_fail_alloc(site)) return nullptr;
  KernelMemory& mem = World::current()->memory();
  AllocId id = mem.allocate(sizeof(T), alignof(T), false, &typeid(T), detail::destroyer<T>(), site);
  T* p = new (mem.record(id).base) T(std::move(value));
  return KPtr<T>(p, id);
}
// kzalloc: zero-filled, then value-initialised.
template <class T>
KPtr<T> kzalloc(const Site& site = Site::current()) {
  if (World::current()->should_fail_alloc(site)) return nullptr;
  KernelMemory& mem = World::current()->memory();
  AllocId id = mem.allocate(sizeof(T), alignof(T), true, &typeid(T), detail::destroyer<T>(), site);
  T* p = new (mem.record(id).base) T();
  return KPtr<T>(p, id);
}

template <class T>
void kfree(KPtr<T> p, const Site& site = Site::current()) {
  World::current()->memory().free(p.id(), p.unchecked(), site);
}
// kfree of a raw pointer (C-style code that lost the handle).
inline void kfree_raw(const void* p, const Site& site = Site::current()) {
  World::current()->memory().free_raw(p, site);
}
// kmemleak_not_leak: the object is meant to outlive the execution.
template <class T>
void kmemleak_not_leak(KPtr<T> p) {
  World::current()->memory().mark_not_leak(p.id());
}

}  // namespace devsim::sim
