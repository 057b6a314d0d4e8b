#include "drivers/registry.hpp"

#include <algorithm>
#include <stdexcept>

#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "bus/usb.hpp"

namespace devsim::drivers {

namespace {
// Function-local so registration works whatever the order of static initialisation.
std::vector<DriverInfo>& registry() {
  static std::vector<DriverInfo> drivers;
  return drivers;
}
}  // namespace

void register_driver(DriverInfo info) {
  auto& r = registry();
  if (find_driver(info.name) != nullptr) throw std::logic_error("devsim: driver registered twice: " + info.name);
  auto at = std::lower_bound(r.begin(), r.end(), info.name,
                             [](const DriverInfo& d, const std::string& name) { return d.name < name; });
  r.insert(at, std::move(info));
}

const std::vector<DriverInfo>& all_drivers() {
  return registry();
}

const DriverInfo* find_driver(std::string_view name) {
  for (const DriverInfo& d : registry())
    if (d.name == name) return &d;
  return nullptr;
}

bus::Driver* load_driver(const DriverInfo& info, const sim::Site& site) {
  if (info.is_module()) {
    info.module_load();
    return nullptr;
  }
  bus::DriverOps ops = info.ops();
  if (ops.name.empty()) ops.name = info.name;
  if (info.bus == "usb") return bus::usb_register_driver(std::move(ops), site);
  return bus::platform_driver_register(std::move(ops), site);
}

int load_module(const DriverInfo& info) {
  if (info.is_module()) return info.module_load();
  load_driver(info);
  return 0;
}

int unload_module(const DriverInfo& info) {
  if (info.is_module()) return info.module_unload();
  bus::BusType* b = bus::kernel().find_bus(info.bus);
  if (bus::Driver* d = b != nullptr ? b->find_driver(info.name) : nullptr) bus::driver_unregister(d);
  return 0;
}

}  // namespace devsim::drivers
