#include "bus/platform.hpp"

#include "bus/kernel.hpp"
#include "bus/mmio.hpp"

namespace devsim::bus {

namespace {
constexpr std::size_t kPlatformRegisters = 16;
}  // namespace

BusType& platform_bus() {
  return kernel().register_bus("platform");
}

Device* platform_device_register(const std::string& name, const Site& site) {
  Device* dev = Device::create(name, &platform_bus(), nullptr, {}, site);
  attach_mmio(*dev, kPlatformRegisters);
  if (device_add(dev, site) != 0) {
    put_device(dev, site);
    return nullptr;
  }
  return dev;
}

void platform_device_unregister(Device* dev, const Site& site) {
  // Unregistering a platform device is the simulator's hot-unplug: the registers go with it.
  if (dev->mmio() != nullptr) dev->mmio()->unplug();
  device_unregister(dev, site);
}

Driver* platform_driver_register(DriverOps ops, const Site& site) {
  platform_bus();
  ops.bus = "platform";
  return driver_register(std::move(ops), site);
}

}  // namespace devsim::bus
