// The platform bus: devices described by the machine (device tree, ACPI), present from boot, matched by name.
#pragma once

#include <string>

#include "bus/driver.hpp"

namespace devsim::bus {

// The "platform" bus type of the current world (registered on first use).
BusType& platform_bus();
// platform_device_register(): creates and adds /sys/devices/platform/<name>; binds it if a driver matches.
// The caller owns the returned reference (drop it with platform_device_unregister).
Device* platform_device_register(const std::string& name, const Site& site = Site::current());
// platform_device_unregister(): device_del + the creator's put. Memory goes at the last put.
void platform_device_unregister(Device* dev, const Site& site = Site::current());
// platform_driver_register(): a driver on the platform bus (module load).
Driver* platform_driver_register(DriverOps ops, const Site& site = Site::current());

}  // namespace devsim::bus
