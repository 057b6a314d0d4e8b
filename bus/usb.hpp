// A USB-like bus: a root hub whose ports plug and unplug devices while drivers stay loaded.
#pragma once

#include <string>

#include "bus/driver.hpp"

namespace devsim::bus {

// The "usb" bus type of the current world, with its root hub device "usb1" (registered on first use).
BusType& usb_bus();
Device* usb_root_hub();

// What the hub does when something is plugged into `port` ("1-1", or "1-1.2" behind a hub at 1-1): creates
// the device under its parent port (the root hub for "1-N"), adds it, and binds it if a driver matches
// `modalias` (usually the driver's name or an id like "usb:0bda:8153"). Returns the device (the hub owns the
// creation reference) or null if the port is taken or its parent is missing.
Device* usb_plug(const std::string& port, const std::string& modalias, const Site& site = Site::current());
// The hub sees the device go: everything plugged behind it goes first (deepest first), then it is deleted and
// the hub's reference dropped. Open files, work items and other references may keep the memory alive.
// Returns false if nothing is plugged there.
bool usb_unplug(const std::string& port, const Site& site = Site::current());
// The device side of an IN endpoint: the device plugged at `port` sends `bytes` as one transfer on its interrupt-in
// endpoint (the scenario's `usb-data PORT "BYTES"`). What the host does with it is the host controller model's
// (cabi/usb.cpp for C drivers' URBs), installed with usb_set_device_send_hook; without one the bytes are dropped.
// 0, -ENODEV when nothing is plugged there, or the hook's error.
int usb_device_send(const std::string& port, std::string bytes, const Site& site = Site::current());
using UsbDeviceSendHook = int (*)(Device& dev, std::string bytes, const Site& site);
// Process-wide; set once, at static initialisation.
void usb_set_device_send_hook(UsbDeviceSendHook hook);
// usb_register_driver() (module load).
Driver* usb_register_driver(DriverOps ops, const Site& site = Site::current());

}  // namespace devsim::bus
