// The driver core: registration, matching, binding and unbinding (drivers/base/core.c, bus.c, dd.c).
#include <algorithm>
#include <set>
#include <stdexcept>

#include "bus/driver.hpp"
#include "bus/errno.hpp"
#include "bus/host_lock.hpp"
#include "bus/kernel.hpp"
#include "bus/workqueue.hpp"
#include "sim/machine.hpp"

namespace devsim::bus {

namespace {
std::string strip_newline(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  return text;
}
// "/sys/devices/platform/gpio0" -> "/devices/platform/gpio0": uevents carry the path below /sys.
std::string uevent_path(const std::string& devpath) {
  return devpath.substr(4);
}
}  // namespace

// The friend through which the free functions reach the private state of devices, drivers and buses.
class DriverCore {
 public:
  static int add(Device* dev, const Site& site);
  static void del(Device* dev, const Site& site);
  static int attach(Device* dev, const Site& site);
  static int driver_attach(Driver* drv, Device* dev, const Site& site);
  static void release_driver(Device* dev, const Site& site);
  static Driver* register_driver(DriverOps ops, const Site& site);
  static void unregister_driver(Driver* drv, const Site& site);
  // Deferred probe (bus/driver.hpp).
  static void deferred_probe_del(Device* dev, const Site& site);
  static void deferred_probe_trigger(const Site& site);
  static void deferred_probe_work(WorkStruct& work);
  static std::optional<UnboundReason> unbound_reason(const std::string& bus_name, const std::string& id) {
    BusType* bus = kernel().find_bus(bus_name);
    if (bus == nullptr) return std::nullopt;
    HostGuard guard;
    // LIFETIME: a device the bus lists is registered, so not released: its fields are read without a check.
    Device* dev = bus->lookup(id);
    if (dev == nullptr || dev->bound_) return std::nullopt;
    return UnboundReason{dev->failed_probe_driver_ != nullptr ? dev->failed_probe_driver_->name() : std::string(),
                         dev->failed_probe_error_};
  }

 private:
  // The Rust driver core's order: the owned driver data goes right after remove(), before devres.
  static void drop_owned_drvdata(Device* dev) {
    if (auto drop = std::exchange(dev->drop_drvdata_, nullptr)) {
      void* data = std::exchange(dev->drvdata_, nullptr);
      drop(data);
    }
  }
  // Both run with the device lock held.
  static int really_probe(Driver* drv, Device* dev, const Site& site);
  static void release_locked(Device* dev, const Site& site);
};

namespace {

// The driver core's lists are klists, changed and walked under their spinlocks (lib/klist.c): a bus's drivers and
// devices (drivers/base/bus.c klist_drivers, klist_devices) and a driver's bound devices (klist_devices of
// struct driver_private; drivers/base/dd.c adds in driver_bound and removes in __device_release_driver, after
// remove(), and driver_detach walks it). A change happens before every walk that finds it: what a module's init
// wrote before registering its driver is ordered before the probe another task's device_add runs, and a remove()
// before the driver_detach of the unload that follows. The race detector gets those edges here; the lists
// themselves are host state, whose steps the scheduler orders (natively: changed and walked under the HostGuard,
// whose mutex gives the same edges).
void klist_sync(const void* list) {
  if (sim::World* w = sim::World::current()) w->races().sync(w->current_task(), list);
}

}  // namespace

int DriverCore::add(Device* dev, const Site& site) {
  dev->touch(true, site);
  BusType* bus = dev->bus_;
  if (bus == nullptr) throw std::logic_error("devsim: device_add() of a device without a bus");
  Kernel& k = kernel();
  {
    HostGuard guard;
    if (bus->by_name_.count(dev->name_) != 0) return -kEEXIST;
    dev->state_ = DeviceState::Registered;
    bus->devices_.push_back(dev);
    bus->by_name_.emplace(dev->name_, std::prev(bus->devices_.end()));
    klist_sync(&bus->devices_);
    if (dev->parent_ != nullptr) dev->sibling_ = dev->parent_->children_.insert(dev->parent_->children_.end(), dev);
  }
  k.sysfs().create_dir(dev->devpath_);
  k.sysfs().create_link("/sys/bus/" + bus->name() + "/devices/" + dev->name_, dev->devpath_);
  k.uevents().emit(Uevent{0, "add", uevent_path(dev->devpath_), bus->name(), {}}, site);
  int r = attach(dev, site);
  return r < 0 ? 0 : 0;  // a failed probe leaves the device registered and unbound, as in Linux
}

void DriverCore::del(Device* dev, const Site& site) {
  const sim::World::RemovalScope removing(sim::World::current());
  dev->touch(true, site);
  // Dead from here on: a concurrent device_del returns at once and a bind is refused while it unwinds (the kernel's
  // kill_device under the device lock; an exchange here, so of two racing deletes exactly one goes on).
  DeviceState expected = DeviceState::Registered;
  if (!dev->state_.compare_exchange_strong(expected, DeviceState::Dead)) return;
  deferred_probe_del(dev, site);
  release_driver(dev, site);
  Kernel& k = kernel();
  BusType* bus = dev->bus_;
  k.uevents().emit(Uevent{0, "remove", uevent_path(dev->devpath_), bus->name(), {}}, site);
  k.sysfs().remove_tree("/sys/bus/" + bus->name() + "/devices/" + dev->name_, site);
  k.sysfs().remove_tree(dev->devpath_, site);
  HostGuard guard;
  if (auto it = bus->by_name_.find(dev->name_); it != bus->by_name_.end()) {
    bus->devices_.erase(it->second);
    bus->by_name_.erase(it);
  }
  klist_sync(&bus->devices_);
  if (dev->parent_ != nullptr) dev->parent_->children_.erase(dev->sibling_);
}

int DriverCore::attach(Device* dev, const Site& site) {
  core::MutexGuard guard = dev->lock_.guard(site);
  if (dev->state_ != DeviceState::Registered) return 0;
  if (dev->driver_ != nullptr) return 1;
  std::vector<Driver*> drivers;
  {
    HostGuard host;
    klist_sync(&dev->bus_->drivers_);
    drivers = dev->bus_->drivers_;
  }
  for (Driver* drv : drivers) {
    if (!drv->registered_ || !dev->bus_->match(*dev, *drv)) continue;
    int r = really_probe(drv, dev, site);
    return r == 0 ? 1 : r;
  }
  return 0;
}

int DriverCore::driver_attach(Driver* drv, Device* dev, const Site& site) {
  core::MutexGuard guard = dev->lock_.guard(site);
  if (dev->state_ != DeviceState::Registered) return -kENODEV;
  if (dev->driver_ != nullptr) return -kEBUSY;
  if (!dev->bus_->match(*dev, *drv)) return -kENODEV;
  return really_probe(drv, dev, site);
}

int DriverCore::really_probe(Driver* drv, Device* dev, const Site& site) {
  Kernel& k = kernel();
  Kernel::DeferredProbe& dp = k.deferred_probe();
  std::uint64_t triggers_before = 0;
  {
    HostGuard guard;
    triggers_before = dp.triggers;  // driver_probe_device's local_trigger_count
  }
  dev->driver_ = drv;
  int r = 0;
  if (drv->ops_.probe) {
    CoreContext ctx(*dev);
    r = drv->ops_.probe(ctx);
  }
  if (r != 0) {
    dev->failed_probe_driver_ = drv;
    dev->failed_probe_error_ = r;
    drop_owned_drvdata(dev);
    // A failed probe leaves nothing behind: every devm_* resource it took is released, newest first.
    devres_release_all(dev->devres_);
    dev->drvdata_ = nullptr;
    dev->driver_ = nullptr;
    if (r == -kEPROBE_DEFER) {
      // driver_deferred_probe_add_trigger(): on the pending list; a bind that triggered while this probe ran
      // (which it may have been waiting for) must not be missed, so it triggers again.
      bool again = false;
      {
        HostGuard guard;
        if (!dev->deferred_probe_) {
          dev->deferred_probe_ = true;
          dp.pending.push_back(dev);
        }
        again = dp.triggers != triggers_before;
      }
      if (again) deferred_probe_trigger(site);
    }
    return r;
  }
  dev->bound_ = true;
  {
    HostGuard guard;
    dev->bound_link_ = drv->bound_.insert(drv->bound_.end(), dev);
    klist_sync(&drv->bound_);
  }
  // driver_bound(): a device bound some other way leaves the lists; the bind may be what deferred probes waited for.
  deferred_probe_del(dev, site);
  deferred_probe_trigger(site);
  const std::string drv_dir = "/sys/bus/" + dev->bus_->name() + "/drivers/" + drv->name();
  k.sysfs().create_link(dev->devpath_ + "/driver", drv_dir);
  k.sysfs().create_link(drv_dir + "/" + dev->name_, dev->devpath_);
  k.uevents().emit(Uevent{0, "bind", uevent_path(dev->devpath_), dev->bus_->name(), drv->name()}, site);
  return 0;
}

// driver_deferred_probe_del(). Only a device whose flag is set takes the mutex: devices that never deferred (all but a
// few) pay one look under the HostGuard, and no scheduling point.
void DriverCore::deferred_probe_del(Device* dev, const Site& site) {
  Kernel::DeferredProbe& dp = kernel().deferred_probe();
  {
    HostGuard guard;
    if (!dev->deferred_probe_) return;
  }
  // The mutex: if the work took the device off a list, it holds it until it has its reference.
  core::MutexGuard lock = dp.mutex.guard(site);
  HostGuard guard;
  std::erase(dp.pending, dev);
  std::erase(dp.active, dev);
  dev->deferred_probe_ = false;
}

// driver_deferred_probe_trigger(): the pending devices become active and the work is queued. The kernel queues it on
// every trigger; here only when there is something to try (an empty run changes nothing but the schedule).
void DriverCore::deferred_probe_trigger(const Site& site) {
  Kernel::DeferredProbe& dp = kernel().deferred_probe();
  {
    HostGuard guard;
    ++dp.triggers;
    dp.active.insert(dp.active.end(), dp.pending.begin(), dp.pending.end());
    dp.pending.clear();
    if (dp.active.empty()) return;
  }
  {
    core::MutexGuard lock = dp.mutex.guard(site);
    if (!dp.work_ready) {
      init_work(dp.work, &DriverCore::deferred_probe_work, site);
      dp.work_ready = true;
    }
  }
  queue_work(dp.work, site);
}

// deferred_probe_work_func(): each active device, in order, is probed again (bus_probe_device). A probe that defers
// again puts it back on the pending list.
void DriverCore::deferred_probe_work(WorkStruct&) {
  const Site site = Site::current();
  Kernel::DeferredProbe& dp = kernel().deferred_probe();
  for (;;) {
    Device* dev = nullptr;
    {
      core::MutexGuard lock = dp.mutex.guard(site);
      {
        HostGuard guard;
        if (dp.active.empty()) return;
        dev = dp.active.front();
        dp.active.erase(dp.active.begin());
      }
      // LIFETIME: device_del takes the device off the lists under the mutex held here, and its memory lasts until
      // the last put after that: the device is live until this reference.
      get_device(dev, site);
      HostGuard guard;
      dev->deferred_probe_ = false;
    }
    attach(dev, site);
    put_device(dev, site);
  }
}

void DriverCore::release_driver(Device* dev, const Site& site) {
  const sim::World::RemovalScope removing(sim::World::current());
  core::MutexGuard guard = dev->lock_.guard(site);
  release_locked(dev, site);
}

void DriverCore::release_locked(Device* dev, const Site& site) {
  Driver* drv = dev->driver_;
  if (drv == nullptr) return;
  Kernel& k = kernel();
  const std::string drv_dir = "/sys/bus/" + dev->bus_->name() + "/drivers/" + drv->name();
  k.sysfs().remove_tree(drv_dir + "/" + dev->name_, site);
  k.sysfs().remove_tree(dev->devpath_ + "/driver", site);
  dev->bound_ = false;
  if (drv->ops_.remove) {
    CoreContext ctx(*dev);
    drv->ops_.remove(ctx);
  }
  drop_owned_drvdata(dev);
  // After remove(): managed resources go, newest first (BRIEF §2.5), then the binding itself.
  devres_release_all(dev->devres_);
  dev->drvdata_ = nullptr;
  dev->driver_ = nullptr;
  {
    HostGuard guard;
    drv->bound_.erase(dev->bound_link_);
    klist_sync(&drv->bound_);
  }
  k.uevents().emit(Uevent{0, "unbind", uevent_path(dev->devpath_), dev->bus_->name(), drv->name()}, site);
}

Driver* DriverCore::register_driver(DriverOps ops, const Site& site) {
  Kernel& k = kernel();
  BusType* bus = k.find_bus(ops.bus);
  if (bus == nullptr)
    throw std::invalid_argument("devsim: driver " + ops.name + " registers on unknown bus " + ops.bus);
  if (Driver* old = bus->find_driver(ops.name); old != nullptr) {
    if (old->registered_) return nullptr;  // already loaded
  }
  // A previous registration of this name still being torn down (its sysfs directory draining): the name is busy,
  // as kernfs refuses to add a node whose predecessor is still being removed.
  if (k.sysfs().removing("/sys/bus/" + bus->name() + "/drivers/" + ops.name)) return nullptr;
  Driver* drv = nullptr;
  {
    // Loading and unloading one module are serialised (the module mutex): only the list needs the guard.
    HostGuard guard;
    k.drivers_.push_back(std::unique_ptr<Driver>(new Driver(std::move(ops), bus)));
    drv = k.drivers_.back().get();
    drv->registered_ = true;
    std::erase_if(bus->drivers_, [&](Driver* d) { return d->name() == drv->name(); });
    bus->drivers_.push_back(drv);
    klist_sync(&bus->drivers_);
  }
  const std::string dir = "/sys/bus/" + bus->name() + "/drivers/" + drv->name();
  k.sysfs().create_dir(dir);
  // LIFETIME: the Driver record lives as long as the world (Kernel::drivers_), so the callbacks may keep it.
  k.sysfs().create_attr(dir + "/bind", {}, [drv, bus](const std::string& text) -> int {
    // bind_store: bus_find_device_by_name returns the device with a reference, held across the attach (which
    // sleeps on the device lock while an unplug may drop the bus's reference).
    Device* dev = bus->find_device_get(strip_newline(text), Site::current());
    if (dev == nullptr) return -kENODEV;
    int r = driver_attach(drv, dev, Site::current());
    put_device(dev, Site::current());
    return r < 0 ? r : static_cast<int>(text.size());
  });
  k.sysfs().create_attr(dir + "/unbind", {}, [drv, bus](const std::string& text) -> int {
    // unbind_store: likewise, a reference across device_release_driver.
    Device* dev = bus->find_device_get(strip_newline(text), Site::current());
    if (dev == nullptr) return -kENODEV;
    if (dev->driver_ != drv) {
      put_device(dev, Site::current());
      return -kENODEV;
    }
    release_driver(dev, Site::current());
    put_device(dev, Site::current());
    return static_cast<int>(text.size());
  });
  // bus_for_each_dev (drivers/base/bus.c) walks the bus's klist, whose iterator holds a reference on the device
  // it stands on (lib/klist.c klist_next), and skips devices deleted meanwhile: an attach sleeps on the device
  // lock, and an unplug may delete and free the next candidate then.
  // The walk: the next device still on the list, pinned in the same step (no scheduling point in between).
  std::set<Device*> visited;
  for (;;) {
    Device* dev = nullptr;
    {
      HostGuard guard;
      klist_sync(&bus->devices_);
      for (Device* d : bus->devices_) {
        if (visited.count(d) == 0) {
          dev = d;
          break;
        }
      }
      if (dev == nullptr) break;
      visited.insert(dev);
      // INVARIANT: a device on the bus's list is registered and holds its registration reference, so the count
      // is not zero here.
      if (!dev->kref_.get_unless_zero_in_lookup(site)) continue;
    }
    if (dev->state_ == DeviceState::Registered && dev->driver_ == nullptr && bus->match(*dev, *drv))
      driver_attach(drv, dev, site);
    put_device(dev, site);
  }
  return drv;
}

void DriverCore::unregister_driver(Driver* drv, const Site& site) {
  if (drv == nullptr || !drv->registered_) return;
  const sim::World::RemovalScope removing(sim::World::current());
  Kernel& k = kernel();
  drv->registered_ = false;
  k.sysfs().remove_tree("/sys/bus/" + drv->bus().name() + "/drivers/" + drv->name(), site);
  // driver_detach (drivers/base/dd.c): each device is held by a reference while its driver is released, and is
  // released only if it is still bound to this driver (an unplug may have unbound and freed it meanwhile).
  // The first device still bound, pinned in the same step as it is found (driver_detach takes it under the
  // driver's klist lock).
  // A device whose probe by this driver is in progress (driver_ set, not yet bound) is waited for too: the kernel's
  // bus_remove_driver first takes the driver off the bus with klist_remove, which waits until no bus iteration
  // (__device_attach's bus_for_each_drv, running the probe) holds it, and only then detaches (lib/klist.c
  // klist_remove; drivers/base/bus.c bus_remove_driver). Taking such a device's lock below waits for its probe.
  std::set<Device*> visited;
  for (;;) {
    Device* dev = nullptr;
    {
      HostGuard guard;
      klist_sync(&drv->bound_);
      klist_sync(&drv->bus_->devices_);
      for (Device* d : drv->bound_) {
        if (visited.count(d) == 0) {
          dev = d;
          break;
        }
      }
      if (dev == nullptr) {
        for (Device* d : drv->bus_->devices_) {
          if (d->driver_ == drv && visited.count(d) == 0) {
            dev = d;
            break;
          }
        }
      }
      if (dev == nullptr) break;
      visited.insert(dev);
      if (!dev->kref_.get_unless_zero_in_lookup(site)) continue;
    }
    {
      core::MutexGuard guard = dev->lock_.guard(site);
      if (dev->driver_ == drv) release_locked(dev, site);
    }
    put_device(dev, site);
  }
  HostGuard guard;
  std::erase(drv->bus_->drivers_, drv);
  klist_sync(&drv->bus_->drivers_);
}

// ---- the public functions -------------------------------------------------------------------------------------

int device_add(Device* dev, const Site& site) {
  return DriverCore::add(dev, site);
}
void device_del(Device* dev, const Site& site) {
  DriverCore::del(dev, site);
}
void device_unregister(Device* dev, const Site& site) {
  DriverCore::del(dev, site);
  put_device(dev, site);
}
Driver* driver_register(DriverOps ops, const Site& site) {
  return DriverCore::register_driver(std::move(ops), site);
}
void driver_unregister(Driver* drv, const Site& site) {
  DriverCore::unregister_driver(drv, site);
}
int device_attach(Device* dev, const Site& site) {
  return DriverCore::attach(dev, site);
}
std::optional<UnboundReason> unbound_reason(const std::string& bus_name, const std::string& id) {
  return DriverCore::unbound_reason(bus_name, id);
}
int device_driver_attach(Driver* drv, Device* dev, const Site& site) {
  return DriverCore::driver_attach(drv, dev, site);
}
void device_release_driver(Device* dev, const Site& site) {
  DriverCore::release_driver(dev, site);
}

void wait_for_device_probe(const Site& site) {
  Kernel::DeferredProbe& dp = kernel().deferred_probe();
  bool ready = false;
  {
    core::MutexGuard lock = dp.mutex.guard(site);
    ready = dp.work_ready;
  }
  if (ready) flush_work(dp.work, site);
}

std::size_t deferred_probe_count() {
  Kernel::DeferredProbe& dp = kernel().deferred_probe();
  HostGuard guard;
  return dp.pending.size() + dp.active.size();
}

// ---- BusType, Driver, Kernel -------------------------------------------------------------------------------

bool Driver::matches(const std::string& modalias) const {
  if (ops_.id_table.empty()) return modalias == ops_.name;
  // An entry ending in '*' matches every modalias it begins, as the kernel's aliases are globs (scripts/mod/
  // file2alias.c writes "usb:v10D2p*" for an id that matches the vendor only).
  return std::any_of(ops_.id_table.begin(), ops_.id_table.end(), [&](const std::string& id) {
    if (!id.empty() && id.back() == '*') return modalias.compare(0, id.size() - 1, id, 0, id.size() - 1) == 0;
    return id == modalias;
  });
}

Device* BusType::lookup(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : *it->second;
}

Device* BusType::find_device(const std::string& name) const {
  HostGuard guard;
  return lookup(name);
}

Device* BusType::find_device_get(const std::string& name, const Site& site) const {
  HostGuard guard;
  Device* dev = lookup(name);
  // bus_find_device: the reference is taken under the klist lock, so the device cannot be released in between.
  return dev != nullptr && dev->kref_.get_unless_zero_in_lookup(site) ? dev : nullptr;
}

Driver* BusType::lookup_driver(const std::string& name) const {
  for (Driver* d : drivers_)
    if (d->name() == name) return d;
  return nullptr;
}

Driver* BusType::find_driver(const std::string& name) const {
  HostGuard guard;
  return lookup_driver(name);
}

Kernel& Kernel::get() {
  return sim::machine_state<Kernel>();
}

BusType& Kernel::register_bus(const std::string& name) {
  BusType* bus = nullptr;
  {
    HostGuard guard;
    for (const auto& b : buses_)
      if (b->name() == name) return *b;
    buses_.push_back(std::unique_ptr<BusType>(new BusType(name)));
    bus = buses_.back().get();
    bus->match = [](const Device& dev, const Driver& drv) { return drv.matches(dev.modalias()); };
  }
  sysfs_.create_dir("/sys/bus/" + name + "/devices");
  sysfs_.create_dir("/sys/bus/" + name + "/drivers");
  return *bus;
}

BusType* Kernel::find_bus(const std::string& name) const {
  HostGuard guard;
  for (const auto& b : buses_)
    if (b->name() == name) return b.get();
  return nullptr;
}

Cdev* Kernel::find_devnode(const std::string& name) const {
  HostGuard guard;
  auto it = devnodes_.find(name);
  return it == devnodes_.end() ? nullptr : it->second;
}

}  // namespace devsim::bus
