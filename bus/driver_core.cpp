// The driver core: registration, matching, binding and unbinding (drivers/base/core.c, bus.c, dd.c).
#include <algorithm>
#include <stdexcept>

#include "bus/driver.hpp"
#include "bus/errno.hpp"
#include "bus/kernel.hpp"

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
  // bus_find_device_by_name(): the registered device of that name with a reference the caller drops, or null.
  static Device* find_device_get(BusType* bus, const std::string& name, const Site& site);
  // A reference taken without a scheduling point, on a device found on a list just now (a klist walk's).
  static void pin(Device* dev, const Site& site);

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

int DriverCore::add(Device* dev, const Site& site) {
  dev->touch(true, site);
  BusType* bus = dev->bus_;
  if (bus == nullptr) throw std::logic_error("devsim: device_add() of a device without a bus");
  if (bus->by_name_.count(dev->name_) != 0) return -kEEXIST;
  Kernel& k = kernel();
  dev->state_ = DeviceState::Registered;
  bus->devices_.push_back(dev);
  bus->by_name_.emplace(dev->name_, std::prev(bus->devices_.end()));
  if (dev->parent_ != nullptr) dev->sibling_ = dev->parent_->children_.insert(dev->parent_->children_.end(), dev);
  k.sysfs().create_dir(dev->devpath_);
  k.sysfs().create_link("/sys/bus/" + bus->name() + "/devices/" + dev->name_, dev->devpath_);
  k.uevents().emit(Uevent{0, "add", uevent_path(dev->devpath_), bus->name(), {}}, site);
  int r = attach(dev, site);
  return r < 0 ? 0 : 0;  // a failed probe leaves the device registered and unbound, as in Linux
}

void DriverCore::del(Device* dev, const Site& site) {
  dev->touch(true, site);
  if (dev->state_ != DeviceState::Registered) return;
  // Dead from here on: a concurrent device_del returns at once and a bind is refused while it unwinds.
  dev->state_ = DeviceState::Dead;
  release_driver(dev, site);
  Kernel& k = kernel();
  BusType* bus = dev->bus_;
  k.uevents().emit(Uevent{0, "remove", uevent_path(dev->devpath_), bus->name(), {}}, site);
  k.sysfs().remove_tree("/sys/bus/" + bus->name() + "/devices/" + dev->name_, site);
  k.sysfs().remove_tree(dev->devpath_, site);
  if (auto it = bus->by_name_.find(dev->name_); it != bus->by_name_.end()) {
    bus->devices_.erase(it->second);
    bus->by_name_.erase(it);
  }
  if (dev->parent_ != nullptr) dev->parent_->children_.erase(dev->sibling_);
}

int DriverCore::attach(Device* dev, const Site& site) {
  core::MutexGuard guard = dev->lock_.guard(site);
  if (dev->state_ != DeviceState::Registered) return 0;
  if (dev->driver_ != nullptr) return 1;
  for (Driver* drv : std::vector<Driver*>(dev->bus_->drivers_)) {
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
  dev->driver_ = drv;
  int r = 0;
  if (drv->ops_.probe) {
    CoreContext ctx(*dev);
    r = drv->ops_.probe(ctx);
  }
  if (r != 0) {
    drop_owned_drvdata(dev);
    // A failed probe leaves nothing behind: every devm_* resource it took is released, newest first.
    devres_release_all(dev->devres_);
    dev->drvdata_ = nullptr;
    dev->driver_ = nullptr;
    return r;
  }
  dev->bound_ = true;
  dev->bound_link_ = drv->bound_.insert(drv->bound_.end(), dev);
  const std::string drv_dir = "/sys/bus/" + dev->bus_->name() + "/drivers/" + drv->name();
  k.sysfs().create_link(dev->devpath_ + "/driver", drv_dir);
  k.sysfs().create_link(drv_dir + "/" + dev->name_, dev->devpath_);
  k.uevents().emit(Uevent{0, "bind", uevent_path(dev->devpath_), dev->bus_->name(), drv->name()}, site);
  return 0;
}

void DriverCore::release_driver(Device* dev, const Site& site) {
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
  drv->bound_.erase(dev->bound_link_);
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
  k.drivers_.push_back(std::unique_ptr<Driver>(new Driver(std::move(ops), bus)));
  Driver* drv = k.drivers_.back().get();
  drv->registered_ = true;
  std::erase_if(bus->drivers_, [&](Driver* d) { return d->name() == drv->name(); });
  bus->drivers_.push_back(drv);
  const std::string dir = "/sys/bus/" + bus->name() + "/drivers/" + drv->name();
  k.sysfs().create_dir(dir);
  // LIFETIME: the Driver record lives as long as the world (Kernel::drivers_), so the callbacks may keep it.
  // drivers/base/bus.c bind_store/unbind_store: the device is found with a reference (bus_find_device_by_name)
  // and put after the (un)bind, so a concurrent unregister cannot free it under the device lock.
  k.sysfs().create_attr(dir + "/bind", {}, [drv, bus](const std::string& text) -> int {
    const Site site = Site::current();
    Device* dev = find_device_get(bus, strip_newline(text), site);
    if (dev == nullptr) return -kENODEV;
    int r = driver_attach(drv, dev, site);
    put_device(dev, site);
    return r < 0 ? r : static_cast<int>(text.size());
  });
  k.sysfs().create_attr(dir + "/unbind", {}, [drv, bus](const std::string& text) -> int {
    const Site site = Site::current();
    Device* dev = find_device_get(bus, strip_newline(text), site);
    if (dev == nullptr) return -kENODEV;
    int r = -kENODEV;
    if (dev->driver_ == drv) {
      release_driver(dev, site);
      r = static_cast<int>(text.size());
    }
    put_device(dev, site);
    return r;
  });
  // bus_for_each_dev(): the klist iterator holds a reference on each device while __driver_attach runs on it.
  std::vector<Device*> candidates(bus->devices_.begin(), bus->devices_.end());
  for (Device* dev : candidates)
    pin(dev, site);
  for (Device* dev : candidates) {
    if (dev->driver_ == nullptr && bus->match(*dev, *drv)) driver_attach(drv, dev, site);
    put_device(dev, site);
  }
  return drv;
}

void DriverCore::unregister_driver(Driver* drv, const Site& site) {
  if (drv == nullptr || !drv->registered_) return;
  Kernel& k = kernel();
  drv->registered_ = false;
  k.sysfs().remove_tree("/sys/bus/" + drv->bus().name() + "/drivers/" + drv->name(), site);
  // driver_detach(): get_device() on each bound device before releasing it, put_device() after, so a concurrent
  // unplug cannot free it while its device lock is still being released.
  std::vector<Device*> bound(drv->bound_.begin(), drv->bound_.end());
  for (Device* dev : bound)
    pin(dev, site);
  for (Device* dev : bound) {
    release_driver(dev, site);
    put_device(dev, site);
  }
  std::erase(drv->bus_->drivers_, drv);
}

Device* DriverCore::find_device_get(BusType* bus, const std::string& name, const Site& site) {
  sim::world().yield(sim::EventKind::Sync, bus, site);
  Device* dev = bus->find_device(name);
  if (dev != nullptr) pin(dev, site);
  return dev;
}

void DriverCore::pin(Device* dev, const Site& site) {
  // LIFETIME: `dev` was just found on a bus or driver list with no scheduling point since: a listed device holds
  // its creator's reference until device_del() took it off the lists, so the count is not 0 here.
  dev->touch(true, site);
  sim::world().touch(&dev->kref_, true);
  dev->kref_.get_no_yield(site);
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
int device_driver_attach(Driver* drv, Device* dev, const Site& site) {
  return DriverCore::driver_attach(drv, dev, site);
}
void device_release_driver(Device* dev, const Site& site) {
  DriverCore::release_driver(dev, site);
}

// ---- BusType, Driver, Kernel -------------------------------------------------------------------------------

bool Driver::matches(const std::string& modalias) const {
  if (ops_.id_table.empty()) return modalias == ops_.name;
  return std::find(ops_.id_table.begin(), ops_.id_table.end(), modalias) != ops_.id_table.end();
}

Device* BusType::find_device(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : *it->second;
}

Driver* BusType::find_driver(const std::string& name) const {
  for (Driver* d : drivers_)
    if (d->name() == name) return d;
  return nullptr;
}

Kernel& Kernel::get() {
  sim::World* w = sim::World::current();
  if (w == nullptr) throw std::logic_error("devsim: the driver model runs in a simulated world");
  return w->extension<Kernel>();
}

BusType& Kernel::register_bus(const std::string& name) {
  if (BusType* b = find_bus(name)) return *b;
  buses_.push_back(std::unique_ptr<BusType>(new BusType(name)));
  BusType& bus = *buses_.back();
  bus.match = [](const Device& dev, const Driver& drv) { return drv.matches(dev.modalias()); };
  sysfs_.create_dir("/sys/bus/" + name + "/devices");
  sysfs_.create_dir("/sys/bus/" + name + "/drivers");
  return bus;
}

BusType* Kernel::find_bus(const std::string& name) const {
  for (const auto& b : buses_)
    if (b->name() == name) return b.get();
  return nullptr;
}

Cdev* Kernel::find_devnode(const std::string& name) const {
  auto it = devnodes_.find(name);
  return it == devnodes_.end() ? nullptr : it->second;
}

}  // namespace devsim::bus
