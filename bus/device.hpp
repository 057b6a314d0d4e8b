// Device: the driver model's struct device — a refcounted object whose memory outlives its binding.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include "bus/devres.hpp"
#include "core/foreign.hpp"
#include "core/kref.hpp"
#include "core/mutex.hpp"
#include "sim/kmalloc.hpp"

namespace devsim::bus {

class BusType;
class Driver;
class MmioRegion;

// Registration state, kept apart from the refcount (BRIEF §2.1): a device is unregistered (Dead) long before
// its last reference is dropped, and may be referenced, never registered, or registered and unbound.
enum class DeviceState : std::uint8_t {
  Initialized,  // device_initialize(): counted, not yet visible
  Registered,   // device_add(): on its bus, in sysfs; bound when driver() is set
  Dead,         // device_del(): gone from the bus and sysfs; memory lives until the last put
};
std::string_view to_string(DeviceState state);

// struct device. Allocated in simulated kernel memory by Device::create(), so a use after its release is a
// reported use-after-free (every accessor below is a checked access). The memory is freed by the last
// put_device(), which first runs the release callback (never at device_del()/unplug).
//
// INVARIANT: refs_ counts the references; each holder (the creator, the parent link of every child, an open
// file's cdev, an ARef<Device>, a firmware request in flight) owns one. The parent's reference is held from
// create() to the release, so a parent outlives its children.
// INVARIANT: driver_ is set from just before probe() until after remove() and the devres release; bound()
// means probe() succeeded and remove() has not started.
// Does not handle: device_move, power management, links between suppliers and consumers, DMA.
class Device {
 public:
  using Release = std::function<void(Device&)>;

  // device_initialize(): count 1, owned by the caller. `parent` gets a reference (dropped at release).
  static Device* create(std::string name, BusType* bus, Device* parent, Release release = {},
                        const Site& site = Site::current());

  // Accessors are checked reads: using a released device is a use-after-free at the caller's site.
  const std::string& name(const Site& site = Site::current()) const;
  BusType* bus(const Site& site = Site::current()) const;
  Device* parent(const Site& site = Site::current()) const;
  Driver* driver(const Site& site = Site::current()) const;
  DeviceState state(const Site& site = Site::current()) const;
  bool bound(const Site& site = Site::current()) const;
  // The sysfs directory: "/sys/devices/platform/gpio0".
  const std::string& devpath(const Site& site = Site::current()) const;
  // Match key against a driver's id table ("pl061", "usb:1234:5678"); defaults to the name.
  const std::string& modalias(const Site& site = Site::current()) const;
  void set_modalias(std::string alias, const Site& site = Site::current());
  int refcount() const { return kref_.read(); }

  // dev_set_drvdata/dev_get_drvdata: an opaque pointer the driver manages itself (C style).
  void set_drvdata(void* data, const Site& site = Site::current());
  void* drvdata(const Site& site = Site::current()) const;
  // The Rust way: the device owns a ForeignOwnable (KBox, Arc) as its driver data; the driver core drops it right
  // after remove() (before devres is released), so nothing of it outlives the binding unless the driver shared
  // it (an Arc clone held by an open file).
  template <core::ForeignOwnable P>
  void set_drvdata_owned(P data, const Site& site = Site::current()) {
    set_drvdata(core::into_foreign(std::move(data)), site);
    drop_drvdata_ = [](void* p) { static_cast<void>(core::from_foreign<P>(p)); };
  }
  // A borrow of the owned driver data (valid while bound).
  template <core::ForeignOwnable P>
  auto drvdata_borrow(const Site& site = Site::current()) const {
    return core::borrow_foreign<P>(drvdata(site), site);
  }

  // device_lock(): held by the driver core around probe, remove, bind and unbind. Not validated by lockdep
  // (lockdep_set_novalidate_class, as in the kernel): orders involving it are not checked.
  core::Mutex& lock() { return lock_; }
  DevresList& devres() { return devres_; }
  // The device's register window ("hardware"): null if the bus gave it none.
  MmioRegion* mmio() const { return mmio_; }
  void set_mmio(MmioRegion* region) { mmio_ = region; }

  // Runs `hook` at the release, before the memory goes, after any hook added before it: for a layer that keeps
  // its own per-device object (the C ABI's struct platform_device, cabi/driver_model.cpp) and frees it with the
  // device.
  void add_release_hook(Release hook);

  // Registered children (device_add with this parent), oldest first.
  const std::list<Device*>& children() const { return children_; }
  // Checked access to the whole object by kernel code (get_device, the driver core).
  bool touch(bool write, const Site& site) const;
  sim::AllocId allocation() const { return alloc_; }

 private:
  friend class DriverCore;
  friend class BusType;  // find_device_get: the lookup's reference
  friend void put_device(Device* dev, const Site& site);
  friend Device* get_device(Device* dev, const Site& site);
  // drivers/base/core.c device_initialize: mutex_init(&dev->mutex) then lockdep_set_novalidate_class(), because
  // the driver core nests device locks (a parent's probe adds children, whose probe runs under their own lock)
  // in ways one lock class cannot express. A real self-deadlock is still found by the deadlock detector.
  Device() : lock_("device_lock") { lock_.set_novalidate_class(); }
  void release(const Site& site);

  core::Kref kref_;
  sim::AllocId alloc_ = 0;
  std::string name_;
  std::string devpath_;
  std::string modalias_;
  BusType* bus_ = nullptr;
  Device* parent_ = nullptr;
  // Atomic: natively, any thread may read them (an unbind_store, a driver's bound_context) while the driver core
  // changes them under the device lock.
  std::atomic<Driver*> driver_ = nullptr;
  std::atomic<bool> bound_ = false;
  std::atomic<DeviceState> state_ = DeviceState::Initialized;
  void* drvdata_ = nullptr;
  void (*drop_drvdata_)(void*) = nullptr;  // set when the drvdata is an owned ForeignOwnable
  Release release_;
  core::Mutex lock_;
  DevresList devres_;
  MmioRegion* mmio_ = nullptr;
  // Registered children; sibling_ is this device's place in its parent's list (O(1) removal however many
  // siblings it has).
  std::list<Device*> children_;
  std::list<Device*>::iterator sibling_;
  std::list<Device*>::iterator bound_link_;  // this device's place in its driver's bound list
  // On the deferred-probe lists, or taken off them by the deferred-probe work that has not got its reference yet
  // (under the HostGuard; see DriverCore's deferred probe).
  bool deferred_probe_ = false;
  // The last failed probe (drivers/base/dd.c really_probe's error, which the kernel logs) and its driver; null and
  // 0 while no probe failed. Read by unbound_reason(). Written under the device lock.
  Driver* failed_probe_driver_ = nullptr;
  int failed_probe_error_ = 0;
};

// A device attribute (DEVICE_ATTR): /sys/devices/.../<dev>/<name>. show/store get the device; removal of the
// device drains callers in flight (kernfs), so a callback never runs on a deleted device.
// Returns false if the device is not registered.
bool device_create_file(Device& dev, const std::string& name, std::function<std::string(Device&)> show,
                        std::function<int(Device&, const std::string&)> store = {}, const Site& site = Site::current());

// get_device(): takes a reference (the caller must already hold one or be otherwise sure the device is
// alive: a kref_get on a released device is "refcount_t: addition on 0; use-after-free."). Returns `dev`.
Device* get_device(Device* dev, const Site& site = Site::current());
// put_device(): drops one; the last runs the release callback and frees the memory.
void put_device(Device* dev, const Site& site = Site::current());

// AlwaysRefCounted for ARef<Device> (found by argument-dependent lookup).
inline void inc_ref(Device& dev, const Site& site) {
  get_device(&dev, site);
}
inline void dec_ref(Device* dev, const Site& site) {
  put_device(dev, site);
}

// Rust's Device<Core>: the device as probe() and remove() see it. Only the driver core makes one, so code
// that takes a CoreContext& can only run inside probe/remove: the type is the proof.
class CoreContext {
 public:
  Device& device() const { return dev_; }
  Device* operator->() const { return &dev_; }

 private:
  friend class DriverCore;
  explicit CoreContext(Device& dev) : dev_(dev) {}
  Device& dev_;
};

// Rust's Device<Bound>: proof that the device is bound to a driver for as long as this object lives. Made from
// a CoreContext (probe and remove run bound), or checked at run time by bound_context().
// LIFETIME: valid only within the scope it was obtained in; do not store it.
class BoundContext {
 public:
  BoundContext(const CoreContext& core) : dev_(core.device()) {}  // NOLINT: Core implies Bound
  Device& device() const { return dev_; }
  Device* operator->() const { return &dev_; }

 private:
  friend std::optional<BoundContext> bound_context(Device& dev, const Site& site);
  explicit BoundContext(Device& dev) : dev_(dev) {}
  Device& dev_;
};

// The run-time check for code that cannot carry the proof: a BoundContext if `dev` has a driver (probing,
// bound or being removed), else a "context-misuse" report at `site` and nothing.
std::optional<BoundContext> bound_context(Device& dev, const Site& site = Site::current());

namespace bug {
inline constexpr std::string_view kContextMisuse = "context-misuse";
}
// Reports a context misuse ("devm_kzalloc() on gpio0, which is not bound").
void report_context_misuse(std::string headline, const Site& site);

}  // namespace devsim::bus
