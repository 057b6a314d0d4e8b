// The managed (devm_*) allocators and actions a driver calls in probe().
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <typeinfo>

#include "bus/device.hpp"
#include "bus/devres.hpp"
#include "bus/errno.hpp"
#include "sim/kmalloc.hpp"

namespace devsim::bus {

// "Priv" for a driver's struct: devres entries and reports name types the way a reader wrote them.
std::string demangled(const std::type_info& type);

// For code holding the proof that the device is bound (probe, remove, a Devres access):

// devm_kzalloc(): a zeroed, value-initialised T in simulated kernel memory, kfree'd when the driver unbinds
// (after remove(), or when probe fails). A null handle when the allocation fails.
// LIFETIME: the object lives as long as the *binding*, not as long as anything that points at it: an open
// file that keeps the pointer after unbind uses freed memory (race R1).
// With gfp flags (devm_kzalloc(dev, size, gfp)): the same might_alloc() rule as kzalloc.
template <class T>
sim::KPtr<T> devm_kzalloc(const BoundContext& dev, sim::gfp_t flags, const Site& site = Site::current()) {
  sim::KPtr<T> p = sim::kzalloc<T>(flags, site);
  if (!p) return p;
  std::string name = "devm_kzalloc(" + demangled(typeid(T)) + ")";
  if (!dev.device().devres().add_sited(
          std::move(name), [p](const Site& at) { sim::kfree(p, at); }, site)) {
    sim::kfree(p, site);
    return nullptr;
  }
  return p;
}
template <class T>
sim::KPtr<T> devm_kzalloc(const BoundContext& dev, const Site& site = Site::current()) {
  return devm_kzalloc<T>(dev, sim::GFP_KERNEL, site);
}

// devm_add_action(): runs `action` at unbind, in LIFO order with the other entries. -ENOMEM (and the action
// not run) when the entry cannot be allocated.
int devm_add_action(const BoundContext& dev, std::string name, std::function<void()> action,
                    const Site& site = Site::current());
// devm_add_action_or_reset(): the same, but when registering fails the action runs at once, so the caller's
// error path has nothing left to undo.
int devm_add_action_or_reset(const BoundContext& dev, std::string name, std::function<void()> action,
                             const Site& site = Site::current());

// devres groups, for undoing part of a probe.
DevresList::GroupId devres_open_group(const BoundContext& dev, const Site& site = Site::current());
void devres_close_group(const BoundContext& dev, DevresList::GroupId group);
std::size_t devres_release_group(const BoundContext& dev, DevresList::GroupId group,
                                 const Site& site = Site::current());

// C-style entry points on a plain Device&: the binding is checked at run time, and a call on a device without
// a driver is reported ("context-misuse") and fails.
template <class T>
sim::KPtr<T> devm_kzalloc(Device& dev, const Site& site = Site::current()) {
  std::optional<BoundContext> ctx = bound_context(dev, site);
  if (!ctx) return nullptr;
  return devm_kzalloc<T>(*ctx, site);
}
int devm_add_action(Device& dev, std::string name, std::function<void()> action, const Site& site = Site::current());

}  // namespace devsim::bus
