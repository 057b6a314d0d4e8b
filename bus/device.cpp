#include "bus/device.hpp"

#include <stdexcept>

#include "bus/driver.hpp"
#include "bus/kernel.hpp"
#include "sim/native_report.hpp"

namespace devsim::bus {

std::string_view to_string(DeviceState state) {
  switch (state) {
    case DeviceState::Initialized:
      return "initialized";
    case DeviceState::Registered:
      return "registered";
    case DeviceState::Dead:
      return "dead";
  }
  return "?";
}

Device* Device::create(std::string name, BusType* bus, Device* parent, Release release, const Site& site) {
  Device* dev = nullptr;
  if (sim::World* w = sim::World::current()) {
    sim::KernelMemory& mem = w->memory();
    // The C++ destructor runs when the world ends, like every simulated object: the last put only marks the
    // memory freed, so a stale pointer reads quarantined bytes and is reported.
    sim::AllocId id = mem.allocate(
        sizeof(Device), alignof(Device), true, &typeid(Device), [](void* p) { static_cast<Device*>(p)->~Device(); },
        site);
    dev = new (mem.record(id).base) Device();
    dev->alloc_ = id;
  } else {
    // Natively from the quarantining heap: the last put poisons the block (ASan reports a later use) and its
    // destructor never runs, as the simulator's runs only when the world ends.
    dev = new (sim::native::kmalloc(sizeof(Device), alignof(Device), true, site)) Device();
  }
  dev->devpath_ =
      (parent != nullptr ? parent->devpath(site) : "/sys/devices/" + (bus != nullptr ? bus->name() : "virtual")) + "/" +
      name;
  dev->modalias_ = name;
  dev->name_ = std::move(name);
  dev->bus_ = bus;
  dev->release_ = std::move(release);
  // LIFETIME: the child holds its parent until its own release, so a parent always outlives its children.
  if (parent != nullptr) dev->parent_ = get_device(parent, site);
  return dev;
}

bool Device::touch(bool write, const Site& site) const {
  sim::World* w = sim::World::current();
  return w == nullptr || w->memory().check(alloc_, this, sizeof(Device), write, site);
}

// Each accessor is a checked read of the field it returns, as KASAN instruments a load.
#define DEVSIM_CHECKED_READ(field) \
  if (sim::World* w = sim::World::current()) w->memory().check(alloc_, &field, sizeof(field), false, site)

const std::string& Device::name(const Site& site) const {
  DEVSIM_CHECKED_READ(name_);
  return name_;
}
BusType* Device::bus(const Site& site) const {
  DEVSIM_CHECKED_READ(bus_);
  return bus_;
}
Device* Device::parent(const Site& site) const {
  DEVSIM_CHECKED_READ(parent_);
  return parent_;
}
Driver* Device::driver(const Site& site) const {
  DEVSIM_CHECKED_READ(driver_);
  return driver_;
}
DeviceState Device::state(const Site& site) const {
  DEVSIM_CHECKED_READ(state_);
  return state_;
}
bool Device::bound(const Site& site) const {
  DEVSIM_CHECKED_READ(bound_);
  return bound_;
}
const std::string& Device::devpath(const Site& site) const {
  DEVSIM_CHECKED_READ(devpath_);
  return devpath_;
}
const std::string& Device::modalias(const Site& site) const {
  DEVSIM_CHECKED_READ(modalias_);
  return modalias_;
}
void* Device::drvdata(const Site& site) const {
  DEVSIM_CHECKED_READ(drvdata_);
  return drvdata_;
}
#undef DEVSIM_CHECKED_READ

void Device::set_modalias(std::string alias, const Site& site) {
  touch(true, site);
  modalias_ = std::move(alias);
}

void Device::set_drvdata(void* data, const Site& site) {
  if (sim::World* w = sim::World::current()) w->memory().check(alloc_, &drvdata_, sizeof drvdata_, true, site);
  drvdata_ = data;
}

void Device::add_release_hook(Release hook) {
  release_ = [first = std::move(release_), hook = std::move(hook)](Device& d) {
    if (first) first(d);
    hook(d);
  };
}

void Device::release(const Site& site) {
  sim::World* w = sim::World::current();
  // LIFETIME: a release runs in whatever task dropped the last reference, possibly inside a destructor
  // (an ARef going out of scope): it must not be unwound halfway.
  std::optional<sim::World::NoCancelScope> scope;
  if (w != nullptr) scope.emplace(*w);
  if (release_) release_(*this);
  Device* parent = parent_;
  if (w != nullptr) {
    w->memory().free(alloc_, this, site);
  } else {
    // Natively the host members (names, the release hook) go now, as the block will never be reused or destroyed;
    // the block itself is poisoned, so a stale access is still ASan's report. Nothing below reads `this`.
    this->~Device();
    sim::native::kfree(this, site);
  }
  if (parent != nullptr) put_device(parent, site);
}

Device* get_device(Device* dev, const Site& site) {
  if (dev == nullptr) return nullptr;
  dev->touch(true, site);
  dev->kref_.get(site);
  return dev;
}

void put_device(Device* dev, const Site& site) {
  if (dev == nullptr) return;
  if (!dev->touch(true, site)) return;  // reported: a put on freed memory must not run a second release
  dev->kref_.put([dev, &site] { dev->release(site); }, site);
}

bool device_create_file(Device& dev, const std::string& name, std::function<std::string(Device&)> show,
                        std::function<int(Device&, const std::string&)> store, const Site& site) {
  if (dev.state(site) != DeviceState::Registered) return false;
  Device* d = &dev;
  // LIFETIME: kernfs drains show/store before device_del() returns, and the memory lives until the last put
  // after that: the callbacks may keep the raw pointer.
  Sysfs::Show s;
  if (show) s = [d, show = std::move(show)] { return SysfsRead{0, show(*d)}; };
  Sysfs::Store w;
  if (store) w = [d, store = std::move(store)](const std::string& text) { return store(*d, text); };
  kernel().sysfs().create_attr(dev.devpath(site) + "/" + name, std::move(s), std::move(w));
  return true;
}

void report_context_misuse(std::string headline, const Site& site) {
  sim::World* w = sim::World::current();
  if (w == nullptr) return sim::native::report(bug::kContextMisuse, headline);
  sim::Report r;
  r.kind = std::string(bug::kContextMisuse);
  r.headline = std::move(headline);
  r.accessed_by = w->task_site(w->current_task(), site);
  w->report(std::move(r));
}

std::optional<BoundContext> bound_context(Device& dev, const Site& site) {
  if (dev.driver(site) != nullptr) return BoundContext(dev);
  report_context_misuse("context-misuse: " + dev.name(site) + " is not bound to a driver", site);
  return std::nullopt;
}

}  // namespace devsim::bus
