// Devres<T>: a driver resource that is revoked when the driver unbinds (Rust-for-Linux's Devres).
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "bus/devm.hpp"
#include "core/arc.hpp"
#include "core/revocable.hpp"

namespace devsim::bus {

// A value (an I/O mapping, a clock, a registration) that must not be used once its device is unbound. It lives
// in an Arc'd Revocable shared between the Devres handle and a devres action of the device: at unbind the
// action revokes it (waiting for readers in flight, then destroying the value), so every holder of the handle
// — a work item, an open file, a timer — sees it gone instead of using a stale resource.
//
// INVARIANT: the value is alive while the device is bound to the driver that created it; after unbind,
// try_access() is empty for everyone.
// Access needs proof: access(BoundContext) is for code running while the device is bound (probe, remove, a
// callback holding the context) and reports a context misuse when the proof is for another device or the
// resource was already revoked; code without the proof uses try_access() and handles "gone".
// Differs from Rust: access() returns a guard (an RCU read section: do not sleep while holding it), because a
// BoundContext in C++ does not keep unbind from running concurrently.
// Does not handle: a Devres created outside probe (use devm_* there), moving the handle across worlds.
template <class T>
class Devres {
 public:
  using Guard = typename core::Revocable<T>::Guard;

  // Devres::new(): null if the devres entry cannot be registered (the value is destroyed at once then).
  static std::optional<Devres> create(const BoundContext& dev, T value, const Site& site = Site::current()) {
    core::Arc<core::Revocable<T>> shared = core::Arc<core::Revocable<T>>::emplace(site, std::move(value), site);
    core::Arc<core::Revocable<T>> for_unbind = shared.clone(site);
    int r = devm_add_action_or_reset(
        dev, "Devres<" + demangled(typeid(T)) + ">",
        [held = std::move(for_unbind)]() mutable {
          // Revocable is internally synchronised (Rust: revoke(&self)); the Arc hands out const access only.
          const_cast<core::Revocable<T>*>(held.get())->revoke();
          held.drop();
        },
        site);
    if (r != 0) return std::nullopt;
    return Devres(std::move(shared), &dev.device());
  }

  // Access with proof of binding.
  Guard access(const BoundContext& dev, const Site& site = Site::current()) const {
    if (&dev.device() != device_) {
      report_context_misuse("context-misuse: Devres::access() with another device's context", site);
      return revocable()->try_access(site);
    }
    Guard g = revocable()->try_access(site);
    if (!g) report_context_misuse("context-misuse: Devres::access() after the resource was revoked", site);
    return g;
  }
  // Access from anywhere: empty once the driver unbound.
  Guard try_access(const Site& site = Site::current()) const { return revocable()->try_access(site); }

 private:
  Devres(core::Arc<core::Revocable<T>> shared, Device* dev) : shared_(std::move(shared)), device_(dev) {}
  // LIFETIME: the Arc keeps the Revocable alive for as long as this handle exists, revoked or not.
  core::Revocable<T>* revocable() const { return const_cast<core::Revocable<T>*>(shared_.get()); }

  core::Arc<core::Revocable<T>> shared_;
  Device* device_;  // identity only, never dereferenced
};

}  // namespace devsim::bus
