#include "bus/platform.hpp"

#include "bus/kernel.hpp"

namespace devsim::bus {

BusType& platform_bus() {
  return kernel().register_bus("platform");
}

Device* platform_device_register(const std::string& name, const Site& site) {
  Device* dev = Device::create(name, &platform_bus(), nullptr, {}, site);
  if (device_add(dev, site) != 0) {
    put_device(dev, site);
    return nullptr;
  }
  return dev;
}

void platform_device_unregister(Device* dev, const Site& site) {
  device_unregister(dev, site);
}

Driver* platform_driver_register(DriverOps ops, const Site& site) {
  platform_bus();
  ops.bus = "platform";
  return driver_register(std::move(ops), site);
}

}  // namespace devsim::bus
