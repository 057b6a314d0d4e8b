// Weak<T>: a reference to an Arc'd object that does not keep it alive, and whose upgrade fails once it is gone.
#pragma once

#include <concepts>
#include <mutex>
#include <optional>
#include <utility>

#include "core/arc.hpp"
#include "core/runtime.hpp"

namespace devsim::core {

namespace detail {

// The hotplug pattern of seed 002 (Lutomirski: "every subsequent attempt to follow a weak reference to that
// device could be made to fail"), without a weak count in Arc: a small block with its own count, shared by the
// object and every Weak, that says where the object is while it is there.
// INVARIANT: `target` is non-null only between the first downgrade and the object's revoke(), which runs in its
// destructor at the latest, i.e. before its block is freed. So under `lock`, a non-null target points at an
// allocated block (its count may already be 0: the object is being destroyed, the revoke not yet run).
template <class T>
struct WeakAnchor {
  mutable std::mutex lock;
  mutable ArcInner<T>* target = nullptr;  // guarded by lock
  mutable bool revoked = false;           // guarded by lock
};

}  // namespace detail

// Makes T weakly referenceable: T derives from EnableWeak<T> (as from std::enable_shared_from_this) and lives in
// an Arc<T> built with Arc<T>::emplace (EnableWeak is not movable).
//
// INVARIANT: the object owns one count of its anchor and revokes the anchor in its destructor, so a Weak never
// reaches a destroyed object; explicit revoke() does it earlier (unplug) while Arcs may still exist.
// Cost: one extra allocation per object (the anchor), made in the constructor.
template <class T>
class EnableWeak {
 public:
  EnableWeak(const EnableWeak&) = delete;
  EnableWeak& operator=(const EnableWeak&) = delete;

  // From now on every upgrade fails, even while Arcs to the object remain ("the device is gone"). Idempotent;
  // true only for the call that revoked. In the simulator a scheduling point on the anchor.
  bool revoke(const Site& site = Site::current()) const {
    const detail::WeakAnchor<T>& anchor = *anchor_;
    if (sim::World* w = sim_world()) {
      w->yield(sim::EventKind::Release, &anchor, site);
      w->touch(&anchor, true);
    }
    std::lock_guard guard(anchor.lock);
    const bool first = !anchor.revoked;
    anchor.revoked = true;
    anchor.target = nullptr;
    return first;
  }

 protected:
  explicit EnableWeak(const Site& site = Site::current()) : anchor_(Arc<detail::WeakAnchor<T>>::emplace(site)) {}
  ~EnableWeak() {
    if (sim::World* w = sim_world()) {
      // LIFETIME: the revoke must complete before the block is freed: never unwound halfway.
      sim::World::NoCancelScope scope(*w);
      revoke();
      return;
    }
    revoke();
  }

 private:
  friend class Weak<T>;
  Arc<detail::WeakAnchor<T>> anchor_;
};

// A weak reference: does not keep the object alive; upgrade() gives an Arc while the object lives and has not
// been revoked, and nothing afterwards.
//
// INVARIANT: a non-empty Weak owns one count of the object's anchor, never of the object.
// The upgrade protocol (why it is safe on real threads): under the anchor's lock, a non-null target is an
// allocated block (see WeakAnchor), and inc_not_zero refuses a count that already reached 0. The object's
// destructor must take the same lock to clear the target, so it cannot finish (and the block cannot be freed)
// while an upgrade is between its check and its increment.
// In the simulator upgrade() is one scheduling point before the critical section, and none inside it: the check
// and the increment are one step, as the lock makes them natively.
// Does not handle: objects that are not in an Arc (no downgrade without one), and the object's other
// invariants: a successful upgrade of a revoked-later object is still a live object, so code that must stop
// using a device at unplug checks that separately (Revocable).
template <class T>
class Weak {
  static_assert(std::derived_from<T, EnableWeak<T>>, "Weak<T> needs T to derive from EnableWeak<T>");

 public:
  Weak() = default;  // never upgrades
  // downgrade: a Weak to the object `arc` points at.
  explicit Weak(const Arc<T>& arc, const Site& site = Site::current()) {
    const EnableWeak<T>& base = *arc;
    const detail::WeakAnchor<T>& anchor = *base.anchor_;
    {
      std::lock_guard guard(anchor.lock);
      // LIFETIME: `arc` holds a count, so the object's destructor (its revoke) has not run: pointing the anchor
      // at the block is safe. Every Arc of the object has the same block, so this is set once.
      if (!anchor.revoked) anchor.target = arc.inner_;
    }
    anchor_.emplace(base.anchor_.clone(site));
  }

  // An Arc to the object, or nothing if it is being destroyed, destroyed, or revoked.
  std::optional<Arc<T>> upgrade(const Site& site = Site::current()) const {
    if (!anchor_) return std::nullopt;
    const detail::WeakAnchor<T>& anchor = **anchor_;
    sim::World* w = sim_world();
    if (w != nullptr) {
      w->yield(sim::EventKind::Acquire, &anchor, site);
      w->touch(&anchor, true);
    }
    std::lock_guard guard(anchor.lock);
    // No scheduling point from here to the increment: the lock's critical section is one step.
    detail::ArcInner<T>* inner = anchor.target;
    if (inner == nullptr) return std::nullopt;
    // LIFETIME: target non-null under the lock: the block is allocated (the check proves it in the simulator).
    if (w != nullptr) w->memory().check(inner->id, &inner->refcount, sizeof(Refcount), true, site);
    if (!inner->refcount.inc_not_zero_no_yield(site)) return std::nullopt;
    return Arc<T>(inner);
  }

  // False for a default-constructed (or moved-from) Weak; says nothing about whether upgrade would succeed.
  explicit operator bool() const { return anchor_.has_value(); }

 private:
  std::optional<Arc<detail::WeakAnchor<T>>> anchor_;
};

// Rust's Arc::downgrade.
template <class T>
Weak<T> downgrade(const Arc<T>& arc, const Site& site = Site::current()) {
  return Weak<T>(arc, site);
}

}  // namespace devsim::core
