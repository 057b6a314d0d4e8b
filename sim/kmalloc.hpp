// kmalloc/kzalloc/kfree and the checked handle they return.
#pragma once

#include <cstddef>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "sim/gfp.hpp"
#include "sim/memory.hpp"
#include "sim/native_kmalloc.hpp"
#include "sim/once.hpp"
#include "sim/world.hpp"

namespace devsim::sim {

// Reports a null-pointer dereference at `site` and kills the current task (never returns).
[[noreturn]] void null_dereference(const Site& site);

// A pointer to a simulated kernel object. Every read and write through it is checked against the
// allocation's shadow state and recorded: a use-after-free or out-of-bounds access is reported, never
// undefined behaviour (freed objects stay intact in quarantine until the world ends).
//
// Dereferencing a null KPtr is reported as null-ptr-deref and kills the current task, like an oops.
// Natively (no simulated world) an access through a KPtr is a plain access, checked by whatever the build has
// (ASan: use-after-free of a kfree'd block, see sim/native_kmalloc.hpp; TSan: data races); a null one is an oops
// on stderr and aborts.
// A KPtr is a plain value (no ownership): copying it is what C code does with pointers, and is exactly
// what makes lifetime bugs possible.
// INVARIANT: one word, like the kernel's pointer. The allocation it points into is found from the address (the
// region's granule map, O(1)), never stored beside it: a two-word handle read while another task stores a new
// one could be torn by a scheduling point between its words, a state no kernel pointer can be in.
template <class T>
class KPtr {
 public:
  KPtr() = default;
  KPtr(std::nullptr_t) {}  // NOLINT: a null handle converts implicitly, like NULL
  explicit KPtr(T* pointer) : ptr_(pointer) {}
  // `id` is where `pointer` was allocated; kept for callers that have it, not stored.
  KPtr(T* pointer, AllocId /*id*/) : ptr_(pointer) {}

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
  // common lock on purpose (a "gone" flag). Checked like load/store; never a data race (sim/once.hpp says how,
  // in either runtime).
  template <class M, class U = T>
  M load_once(M U::*member, const Site& site = Site::current()) const {
    check_null(site);
    const M* field = &(ptr_->*member);
    check(field, sizeof(M), false, site);
    return sim::read_once(field);
  }
  template <class M, class V, class U = T>
  void store_once(M U::*member, V&& value, const Site& site = Site::current()) const {
    check_null(site);
    M* field = &(ptr_->*member);
    check(field, sizeof(M), true, site);
    sim::write_once(field, static_cast<M>(std::forward<V>(value)));
  }

  // The raw pointer, unchecked. LIFETIME: whoever calls this must say why the object is alive.
  T* unchecked() const { return ptr_; }
  // The allocation the pointer points into (0 for null or memory that is not simulated, and natively).
  AllocId id() const {
    World* w = World::current();
    return ptr_ != nullptr && w != nullptr ? w->memory().find(ptr_) : 0;
  }
  explicit operator bool() const { return ptr_ != nullptr; }
  friend bool operator==(const KPtr& a, const KPtr& b) { return a.ptr_ == b.ptr_; }

 private:
  void check_null(const Site& site) const {
    if (ptr_ == nullptr) null_dereference(site);
  }
  void check(const void* p, std::size_t size, bool write, const Site& site) const {
    check_null(site);
    World* w = World::current();
    if (w == nullptr) return;  // natively: a plain access
    KernelMemory& m = w->memory();
    m.check(m.find(ptr_), p, size, write, site);
  }

  T* ptr_ = nullptr;
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

// might_alloc() (include/linux/sched/mm.h), called by every slab allocation (mm/slub.c slab_pre_alloc_hook): an
// allocation that may sleep (gfpflags_allow_blocking: GFP_KERNEL, GFP_NOIO, GFP_NOFS) in atomic context is
// "sleeping function called from invalid context", whether or not this one would have slept; in a task that set
// itself not running (between prepare_to_wait and schedule) it is __might_sleep's "do not call blocking ops when
// !TASK_RUNNING" warning. GFP_ATOMIC and GFP_NOWAIT are fine in both. `what` names the call (kmalloc, or an API
// that allocates with the caller's flags). Returns false when it reported sleep-in-atomic.
inline bool might_alloc(gfp_t flags, const Site& site = Site::current(), const char* what = "kmalloc") {
  if (!gfpflags_allow_blocking(flags)) return true;
  World* w = World::current();
  if (w == nullptr) return true;
  return w->might_sleep(w->atomic_hold() == nullptr ? std::string_view(what)
                                                    : std::string(what) + "(" + std::string(gfp_name(flags)) + ")",
                        site);
}

// Allocates a T in simulated kernel memory, move-constructed from `value` (zero-filled first with __GFP_ZERO).
// A scheduling point. Its C++ destructor runs when the world ends (kfree only marks it freed: the kernel runs no
// destructors). Returns a null handle when fault injection fails this allocation (WorldOptions::fail_nth).
// Natively (no simulated world) the block comes from the quarantining heap of sim/native_kmalloc.hpp.
template <class T>
KPtr<T> kmalloc(T value, gfp_t flags, const Site& site = Site::current()) {
  might_alloc(flags, site);
  World* w = World::current();
  if (w == nullptr) {
    void* block = native::kmalloc(sizeof(T), alignof(T), has(flags, __GFP_ZERO), site);
    return KPtr<T>(new (block) T(std::move(value)));
  }
  if (w->should_fail_alloc(site)) return nullptr;
  KernelMemory& mem = w->memory();
  AllocId id = mem.allocate(sizeof(T), alignof(T), has(flags, __GFP_ZERO), &typeid(T), detail::destroyer<T>(), site);
  T* p = new (mem.record(id).base) T(std::move(value));
  return KPtr<T>(p, id);
}
// kmalloc(GFP_KERNEL): the flags most callers pass.
template <class T>
KPtr<T> kmalloc(T value = T(), const Site& site = Site::current()) {
  return kmalloc<T>(std::move(value), GFP_KERNEL, site);
}
// kzalloc: zero-filled, then value-initialised.
template <class T>
KPtr<T> kzalloc(gfp_t flags, const Site& site = Site::current()) {
  might_alloc(flags, site);
  World* w = World::current();
  if (w == nullptr) return KPtr<T>(new (native::kmalloc(sizeof(T), alignof(T), true, site)) T());
  if (w->should_fail_alloc(site)) return nullptr;
  KernelMemory& mem = w->memory();
  AllocId id = mem.allocate(sizeof(T), alignof(T), true, &typeid(T), detail::destroyer<T>(), site);
  T* p = new (mem.record(id).base) T();
  return KPtr<T>(p, id);
}
// kzalloc(GFP_KERNEL).
template <class T>
KPtr<T> kzalloc(const Site& site = Site::current()) {
  return kzalloc<T>(GFP_KERNEL, site);
}

// Natively: into the quarantine (never reused; poisoned under ASan). The C++ destructor never runs.
template <class T>
void kfree(KPtr<T> p, const Site& site = Site::current()) {
  World* w = World::current();
  if (w == nullptr) {
    native::kfree(p.unchecked(), site);
    return;
  }
  w->memory().free(p.id(), p.unchecked(), site);
}
// kfree of a raw pointer (C-style code that lost the handle).
inline void kfree_raw(const void* p, const Site& site = Site::current()) {
  World* w = World::current();
  if (w == nullptr) {
    native::kfree(p, site);
    return;
  }
  w->memory().free_raw(p, site);
}
// kmemleak_not_leak: the object is meant to outlive the execution.
template <class T>
void kmemleak_not_leak(KPtr<T> p) {
  World* w = World::current();
  if (w == nullptr) return native::not_leak(p.unchecked());
  w->memory().mark_not_leak(p.id());
}

}  // namespace devsim::sim
