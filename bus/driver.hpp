// Bus types and drivers: what matches, probes and removes.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bus/device.hpp"

namespace devsim::bus {

// What a driver module provides (struct platform_driver / usb_driver with its id table).
// probe() returns 0 or a negative errno; on failure the driver core releases everything devres holds.
struct DriverOps {
  std::string name;
  std::string bus;                    // the bus type it registers on ("platform", "usb")
  std::vector<std::string> id_table;  // modaliases it binds to (empty: the driver's own name)
  std::function<int(CoreContext&)> probe;
  std::function<void(CoreContext&)> remove;  // may be empty, as in a driver that relies on devres alone
};

// A registered driver (struct device_driver). Lives as long as the kernel (the world): unregistering (module
// unload) unbinds its devices and hides it, the record stays so stale pointers to it are not UB.
// INVARIANT: bound_ lists exactly the devices whose driver() is this driver and that finished probe().
class Driver {
 public:
  const std::string& name() const { return ops_.name; }
  BusType& bus() const { return *bus_; }
  const DriverOps& ops() const { return ops_; }
  bool registered() const { return registered_; }
  // Natively, only while no thread binds or unbinds (the list changes under the driver model's HostGuard).
  const std::list<Device*>& bound_devices() const { return bound_; }
  bool matches(const std::string& modalias) const;

 private:
  friend class DriverCore;
  friend class Kernel;
  Driver(DriverOps ops, BusType* bus) : ops_(std::move(ops)), bus_(bus) {}
  DriverOps ops_;
  BusType* bus_;
  std::atomic<bool> registered_ = false;  // atomic: natively read by attaches on other threads
  std::list<Device*> bound_;              // O(1) unbind: each device keeps its place (Device::bound_link_)
};

// A bus type (struct bus_type): its devices and drivers, and how they match.
// INVARIANT: devices() holds each registered device of this bus once, in order of registration; by name in
// O(1), so plugging and unplugging cost the same however many devices are present.
class BusType {
 public:
  const std::string& name() const { return name_; }
  // Registered devices, oldest first. Natively, only while no thread plugs or unplugs (the list changes under
  // the driver model's HostGuard, bus/host_lock.hpp).
  const std::list<Device*>& devices() const { return devices_; }
  // The device of that name, without a reference: the caller must know it stays registered (it holds the hotplug
  // lock, as the hub does, or a reference of its own). find_device_get() takes a reference in the lookup.
  Device* find_device(const std::string& name) const;
  Device* find_device_get(const std::string& name, const Site& site = Site::current()) const;
  const std::vector<Driver*>& drivers() const { return drivers_; }
  Driver* find_driver(const std::string& name) const;
  // bus_type.match: the default compares the device's modalias with the driver's id table.
  std::function<bool(const Device&, const Driver&)> match;

 private:
  friend class DriverCore;
  friend class Kernel;
  explicit BusType(std::string name) : name_(std::move(name)) {}
  // Requires the HostGuard held.
  Device* lookup(const std::string& name) const;
  Driver* lookup_driver(const std::string& name) const;
  std::string name_;
  std::list<Device*> devices_;
  std::unordered_map<std::string, std::list<Device*>::iterator> by_name_;
  std::vector<Driver*> drivers_;
};

// ---- the driver core (drivers/base/core.c, bus.c, dd.c) -------------------------------------------------------
// Each function is called from a simulated task; each takes the device lock where the kernel does.

// device_add(): registers the device on its bus and in sysfs, emits "add", then tries to bind it.
// Returns 0, or -EEXIST if a device of that name is already on the bus.
int device_add(Device* dev, const Site& site = Site::current());
// device_del(): unbinds it (remove(), devres release), deletes registered children first, emits "remove",
// takes it off the bus and out of sysfs. The memory stays until the last put_device().
void device_del(Device* dev, const Site& site = Site::current());
// device_register() = create + device_add; device_unregister() = device_del + put_device.
void device_unregister(Device* dev, const Site& site = Site::current());

// driver_register() (module load): adds the driver and binds every matching unbound device. Null if a driver of
// that name is loaded, or its previous registration is still being torn down.
Driver* driver_register(DriverOps ops, const Site& site = Site::current());
// driver_unregister() (module unload): unbinds all its devices, then hides it.
void driver_unregister(Driver* drv, const Site& site = Site::current());

// device_attach(): binds `dev` to the first matching driver; 1 if bound, 0 if none matched, <0 probe error.
int device_attach(Device* dev, const Site& site = Site::current());
// Why the device `id` on bus `bus` is not bound: the driver whose last probe failed (its name, "" when no driver
// matched the device) and that probe's error (0 when none matched). Nothing when the device is bound or absent.
// For the scenario runner's note on a device set-up left unbound; host state only (no check, no scheduling point).
struct UnboundReason {
  std::string driver;
  int error = 0;
};
std::optional<UnboundReason> unbound_reason(const std::string& bus, const std::string& id);
// device_driver_attach(): binds `dev` to `drv` (what a write to drivers/<drv>/bind does).
int device_driver_attach(Driver* drv, Device* dev, const Site& site = Site::current());
// device_release_driver(): unbinds: remove(), drvdata cleared, devres released LIFO, "unbind" emitted.
void device_release_driver(Device* dev, const Site& site = Site::current());

// Deferred probe (drivers/base/dd.c): a probe that returns -EPROBE_DEFER puts its device on the pending list; every
// successful bind afterwards (driver_bound -> driver_deferred_probe_trigger) moves the pending devices to the active
// list and queues the deferred-probe work on the system workqueue, which tries each again (deferred_probe_work_func
// -> bus_probe_device). A trigger during the probe makes it try again at once (driver_deferred_probe_add_trigger).
// device_del takes the device off the lists (driver_deferred_probe_del). Both runtimes: the work is a work item.
// Not modelled: the late_initcall that enables it (always enabled), the deferred_probe_timeout, device links,
// /sys/kernel/debug/devices_deferred, async probing.
// wait_for_device_probe(): flushes the deferred-probe work (drivers/base/dd.c), so a trigger before it has been
// acted on when it returns.
void wait_for_device_probe(const Site& site = Site::current());
// Devices on the deferred-probe lists now (pending or active), for tests.
std::size_t deferred_probe_count();

}  // namespace devsim::bus
