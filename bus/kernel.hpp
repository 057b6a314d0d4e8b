// Kernel: the simulated kernel of one world — its buses, drivers, sysfs, uevents, /dev and firmware files.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bus/driver.hpp"
#include "bus/sysfs.hpp"
#include "bus/uevent.hpp"
#include "bus/workqueue.hpp"
#include "core/mutex.hpp"
#include "core/spinlock.hpp"

namespace devsim::bus {

class Cdev;

// Everything the driver model keeps per machine: one per World (sim::machine_state), so executions never share
// kernel state, and natively one per NativeMachine (sim/machine.hpp); created on first use.
// Natively its tables are shared by real threads: each method takes the driver model's HostGuard
// (bus/host_lock.hpp) where it reads or changes them; the maps handed out by reference (devnodes(),
// firmware_files()) only under one, or before any thread runs.
// INVARIANT: buses and drivers are never destroyed before the world: raw pointers to them stay valid for the
// whole execution (unregistering only hides them).
// Does not handle: namespaces, several "machines" in one world.
class Kernel {
 public:
  Kernel() = default;
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  // The kernel of the machine this thread runs on.
  static Kernel& get();

  // bus_register(): idempotent; the default match compares modalias with the driver's id table.
  BusType& register_bus(const std::string& name);
  BusType* find_bus(const std::string& name) const;
  const std::vector<std::unique_ptr<BusType>>& buses() const { return buses_; }

  Sysfs& sysfs() { return sysfs_; }
  UeventLog& uevents() { return uevents_; }

  // /dev: node name ("gpiochip0") to character device, maintained by cdev_add/cdev_del.
  Cdev* find_devnode(const std::string& name) const;
  std::map<std::string, Cdev*>& devnodes() { return devnodes_; }
  // cdev_lock: held across an open's lookup and its cdev reference, and by cdev_del's unmapping, so an open
  // either misses a deleted node or holds a reference taken before the owner's last put.
  core::SpinLock& cdev_lock() { return cdev_lock_; }
  // The hub's event lock (khubd / hub_events): plugs and unplugs are handled one at a time, so one port is never
  // connected and disconnected concurrently.
  core::Mutex& hotplug_lock() { return hotplug_lock_; }

  // Firmware files request_firmware() can find: name -> contents.
  std::map<std::string, std::string>& firmware_files() { return firmware_; }

  // Deferred probe (drivers/base/dd.c; bus/driver.hpp says what is modelled). The lists and the trigger count are
  // under the HostGuard; deferred_probe_mutex orders the work's taking of a device (its reference) against
  // device_del, as the kernel's deferred_probe_mutex does.
  // INVARIANT: a device is on a list, or between the work's taking it off and its reference, iff its
  // deferred_probe_ is set.
  struct DeferredProbe {
    std::vector<Device*> pending;
    std::vector<Device*> active;
    std::uint64_t triggers = 0;
    core::Mutex mutex{"deferred_probe_mutex"};
    WorkStruct work;
    bool work_ready = false;  // init_work done (under mutex)
  };
  DeferredProbe& deferred_probe() { return deferred_probe_; }

 private:
  friend class DriverCore;
  std::vector<std::unique_ptr<BusType>> buses_;
  std::vector<std::unique_ptr<Driver>> drivers_;
  Sysfs sysfs_;
  UeventLog uevents_;
  std::map<std::string, Cdev*> devnodes_;
  core::SpinLock cdev_lock_{"cdev_lock"};
  core::Mutex hotplug_lock_{"hotplug_lock"};
  std::map<std::string, std::string> firmware_;
  DeferredProbe deferred_probe_;
};

inline Kernel& kernel() {
  return Kernel::get();
}

}  // namespace devsim::bus
