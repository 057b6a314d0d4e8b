// KBox<T>: a unique owning box in (simulated) kernel memory, the kernel's KBox / a kmalloc'd object with
// one owner.
//
// In the simulator the value lives in a kmalloc'd block, so every access through a checked handle
// (foreign.hpp's Borrowed, revocable.hpp's guards) is checked against the allocation's shadow state and a
// use-after-free is reported with its allocation and free sites. Natively it is a plain `new T`.
//
// INVARIANT: a non-null KBox owns its value; destroying (or drop()ping) it frees the value exactly once.
// INVARIANT (sim): the block's layout is {T value; AllocId id;}, value first, so the block's address is the
// value's address and the pointer handed out by into_foreign() is a T* in both runtimes.
// Ordering of a free (sim): the block is marked freed first, then T's destructor runs. A task that touches the
// object while the destructor runs (it may contain scheduling points, e.g. an Arc put) is reported, never
// handed a half-destroyed object silently.
//
// Does not handle: arrays (KBox<T[]>), custom allocation flags (GFP_*), allocation failure (the simulator's
// fault injection belongs to a later layer). Moving the box moves ownership, never the value: addresses stay.
// A KBox created in a world must be dropped before that world ends (or is leaked and reported by kmemleak).
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "core/runtime.hpp"
#include "sim/kmalloc.hpp"

namespace devsim::core {

namespace detail {

// The simulator's layout of a boxed value. The id lets a checked handle find the shadow state from the bare
// pointer that into_foreign() produced.
template <class T>
struct KBoxBlock {
  T value;
  sim::AllocId id;

  template <class... A>
  explicit KBoxBlock(sim::AllocId i, A&&... args) : value(std::forward<A>(args)...), id(i) {}
};

template <class T>
void destroy_kbox_value(void* p) {
  static_cast<KBoxBlock<T>*>(p)->value.~T();
}

// Allocates and constructs a T: a kmalloc'd block in the simulator (a scheduling point), `new T` natively.
// `*id` is set to the allocation (0 natively).
template <class T, class... A>
T* kbox_allocate(sim::AllocId* id, const Site& site, A&&... args) {
  if (sim::World* w = sim_world()) {
    sim::KernelMemory& mem = w->memory();
    // The destructor is registered with the allocation so that a leaked box's value is still destroyed when
    // the world ends; kbox_free() unregisters it before destroying the value itself.
    *id = mem.allocate(sizeof(KBoxBlock<T>), alignof(KBoxBlock<T>), false, &typeid(T),
                       std::is_trivially_destructible_v<T> ? nullptr : &destroy_kbox_value<T>, site);
    auto* block = new (mem.record(*id).base) KBoxBlock<T>(*id, std::forward<A>(args)...);
    return &block->value;
  }
  *id = 0;
  return new T(std::forward<A>(args)...);
}

// Frees a value made by kbox_allocate. `id` says which runtime made it.
template <class T>
void kbox_free(T* p, sim::AllocId id, const Site& site) {
  if (id == 0) {
    delete p;
    return;
  }
  sim::World& w = *sim_world();
  // LIFETIME: a free can run in a destructor; the world must not unwind it between destroying the value and
  // marking the block freed, or the block would be destroyed twice or never freed (see World::NoCancelScope).
  // The value is destroyed first, as Rust's Box drops its contents before deallocating: its destructor still
  // reads live memory.
  sim::World::NoCancelScope scope(w);
  w.memory().set_destroy(id, nullptr);
  p->~T();
  w.memory().free(id, p, site);
}

// The allocation behind a pointer produced by kbox_allocate in the simulator.
template <class T>
sim::AllocId kbox_id(const T* p) {
  // INVARIANT: p is the first member of a KBoxBlock<T> (kbox_allocate made it in the simulator).
  return reinterpret_cast<const KBoxBlock<T>*>(p)->id;
}

// One checked access of [p, p + size) inside allocation `id`, made by a core/ handle (a borrow, a revocable
// guard). It is a scheduling point first: the access is an operation another task can be interleaved with,
// which is what exposes "took the pointer, was preempted, the object was freed" windows.
// When the check fails (use-after-free), the report is made by the shadow memory; if T has a destructor it has
// already run (core/ owners destroy at free time), so the accessing task is killed like an oops instead of
// being handed a destroyed object. Trivially destructible values keep KASAN's behaviour: report and go on
// (the bytes are intact in quarantine).
template <class T>
void sim_access(sim::World& w, sim::AllocId id, const void* p, std::size_t size, bool write, const Site& site) {
  w.data_access_point(write ? sim::EventKind::Write : sim::EventKind::Read, p, site);
  if (!w.memory().check(id, p, size, write, site) && !std::is_trivially_destructible_v<T>) w.oops();
}

}  // namespace detail

template <class T>
class KBox {
 public:
  // Allocates the value. A scheduling point in the simulator.
  static KBox make(T value, const Site& site = Site::current()) { return emplace(site, std::move(value)); }
  // For values that cannot move: constructed in place.
  template <class... A>
  static KBox emplace(const Site& site, A&&... args) {
    KBox b;
    b.ptr_ = detail::kbox_allocate<T>(&b.id_, site, std::forward<A>(args)...);
    return b;
  }

  KBox() = default;  // null
  KBox(KBox&& other) noexcept : ptr_(std::exchange(other.ptr_, nullptr)), id_(std::exchange(other.id_, 0)) {}
  KBox& operator=(KBox&& other) noexcept {
    KBox old(std::move(*this));  // the previous value is freed when `old` goes out of scope
    ptr_ = std::exchange(other.ptr_, nullptr);
    id_ = std::exchange(other.id_, 0);
    return *this;
  }
  KBox(const KBox&) = delete;
  KBox& operator=(const KBox&) = delete;
  ~KBox() { drop(); }

  // Frees the value now, at the caller's site (reports name it); the box becomes null.
  void drop(const Site& site = Site::current()) {
    if (ptr_ != nullptr) detail::kbox_free(std::exchange(ptr_, nullptr), std::exchange(id_, 0), site);
  }

  // Unchecked access: the box owns the value, so it is alive as long as the box is.
  T& operator*() const { return *ptr_; }
  T* operator->() const { return ptr_; }
  T* get() const { return ptr_; }
  explicit operator bool() const { return ptr_ != nullptr; }
  sim::AllocId alloc_id() const { return id_; }  // 0 natively

  // ForeignOwnable (see foreign.hpp): the box as one opaque pointer, and back.
  // LIFETIME: into_foreign() hands ownership to the pointer; from_foreign() takes it back, once.
  void* into_foreign() && {
    id_ = 0;
    return std::exchange(ptr_, nullptr);
  }
  static KBox from_foreign(void* p) {
    KBox b;
    b.ptr_ = static_cast<T*>(p);
    // The runtime that made the pointer is the one running now: a world is current for its whole life.
    b.id_ = p != nullptr && sim_world() != nullptr ? detail::kbox_id(b.ptr_) : 0;
    return b;
  }

 private:
  T* ptr_ = nullptr;
  sim::AllocId id_ = 0;
};

}  // namespace devsim::core
