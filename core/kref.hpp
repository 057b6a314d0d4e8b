// Kref: the kernel's struct kref, an embedded reference count with a release callback at the last put.
#pragma once

#include <type_traits>
#include <utility>

#include "core/refcount.hpp"
#include "core/runtime.hpp"

namespace devsim::core {

// struct kref (include/linux/kref.h) on top of refcount_t: the count lives inside the object it counts, and
// whoever drops the last reference runs `release`, which frees the object.
//
// INVARIANT: a holder of a reference may get() another; only get_unless_zero() may be used by code that reaches
// the object without holding a reference (a lookup table, a list walked under a lock). A get() on a count that
// already hit 0 is reported as "refcount_t: addition on 0; use-after-free." (by Refcount) and saturates: the
// release already ran or is about to.
// INVARIANT: put() runs `release` exactly once, in the caller that took the count to 0, and never for a
// saturated count (saturation leaks, never frees early).
//
// Does not handle: the lookup structure's own locking. get_unless_zero() only tells a dying object from a live
// one; the object's memory must still be valid while it is called, which is the job of the lock that release
// takes to unpublish the object (or of RCU) — or of put_mutex()/put_lock(). In the simulator every operation is a
// scheduling point on the count (see Refcount).
class Kref {
 public:
  // kref_init: the creator's reference.
  Kref() = default;
  Kref(const Kref&) = delete;
  Kref& operator=(const Kref&) = delete;

  // kref_init on an object being reused: the count is 1 again. Only while nobody else can see the object.
  void init() { refcount_.set(1); }
  // kref_read: a snapshot, for tests and debugging only (stale the moment it returns).
  int read() const { return refcount_.read(); }

  // kref_get: the caller already holds a reference.
  void get(const Site& site = Site::current()) { refcount_.inc(site); }
  // kref_get without a scheduling point before it, for a caller that found the object in a structure holding it
  // alive and must not be interleaved between the lookup and the increment (a klist walk: klist_next pins the
  // node while bus_find_device takes its device reference).
  void get_no_yield(const Site& site = Site::current()) { refcount_.inc(nullptr, site); }
  // kref_get_unless_zero: a reference, unless the last one is already gone (the object is being released).
  // Returns false in that case: treat the object as not found.
  [[nodiscard]] bool get_unless_zero(const Site& site = Site::current()) { return refcount_.inc_not_zero(site); }
  // The same without a scheduling point: for a lookup that in the kernel takes the reference under the lock
  // guarding the structure it walks (klist_next under the klist's lock), so finding and pinning are one step.
  [[nodiscard]] bool get_unless_zero_in_lookup(const Site& site = Site::current()) {
    return refcount_.inc_not_zero_no_yield(site);
  }

  // kref_put_mutex()/kref_put_lock() (include/linux/kref.h, lib/refcount.c refcount_dec_and_mutex_lock): drops
  // a reference; the last one is dropped with `lock` held and `release` runs with it held, and must unlock it. A
  // lookup that finds the object under `lock` may then kref_get() it (not only get_unless_zero): the count cannot
  // reach 0 while the lock is held, and release unpublishes the object before unlocking.
  // Lock: Mutex (kref_put_mutex) or SpinLock (kref_put_lock), anything with lock(site)/unlock(site).
  // LIFETIME: as put(); when it returns false, `lock` is not held.
  template <class Release, class Lock>
  bool put_mutex(Release&& release, Lock& lock, const Site& site = Site::current()) {
    if (refcount_.dec_not_one(site)) return false;  // not the last reference: no lock needed
    lock.lock(site);
    if (!refcount_.dec_and_test(site)) {
      lock.unlock(site);  // someone took a reference meanwhile, under the lock
      return false;
    }
    if constexpr (std::is_invocable_v<Release&, Kref*>)
      release(this);
    else
      release();
    return true;
  }
  template <class Release, class Lock>
  bool put_lock(Release&& release, Lock& lock, const Site& site = Site::current()) {
    return put_mutex(std::forward<Release>(release), lock, site);
  }

  // kref_put: drops a reference; if it was the last, calls release (with this Kref, like the kernel's
  // container_of callbacks, or with no argument) and returns true.
  // LIFETIME: once put() returned true the object may be gone; once it returned false another task may already
  // have released it. Do not touch the object after put() either way.
  template <class Release>
  bool put(Release&& release, const Site& site = Site::current()) {
    if (!refcount_.dec_and_test(site)) return false;
    if constexpr (std::is_invocable_v<Release&, Kref*>)
      release(this);
    else
      release();
    return true;
  }

 private:
  Refcount refcount_{1};
};

}  // namespace devsim::core
