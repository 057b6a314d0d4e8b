// A USB-like bus: a root hub whose ports plug and unplug devices while drivers stay loaded.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

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
// The mock USB device every port holds (what the host controller model in cabi/usb.cpp answers URBs with): the
// control endpoint 0, interrupt-in 0x81, bulk-in 0x82, bulk-out 0x02 and interrupt-out 0x01. The scenario language
// checks endpoint numbers against this list.
inline constexpr unsigned kUsbEndpointControl = 0x00;
inline constexpr unsigned kUsbEndpointIntIn = 0x81;
inline constexpr unsigned kUsbEndpointBulkIn = 0x82;
inline constexpr unsigned kUsbEndpointBulkOut = 0x02;
inline constexpr unsigned kUsbEndpointIntOut = 0x01;
inline constexpr bool usb_mock_endpoint(unsigned address) {
  return address == kUsbEndpointControl || address == kUsbEndpointIntIn || address == kUsbEndpointBulkIn ||
         address == kUsbEndpointBulkOut || address == kUsbEndpointIntOut;
}
// How many transfers the mock device holds per endpoint for the host's next URBs (the scenario language refuses a
// device script with more; at run time a send to a full endpoint is -EAGAIN).
inline constexpr std::size_t kUsbDeviceQueueDepth = 16;
// What the device does with the next transfer on one of its endpoints: send `bytes` (an IN endpoint, or the data
// stage of the next control transfer), or end it with `status` (a negative errno: -EPROTO, -EPIPE for a stall...).
struct UsbDeviceEvent {
  unsigned endpoint = kUsbEndpointIntIn;
  std::string bytes;
  int status = 0;
};
// The device side: the device plugged at `port` does `event` (the scenario's `usb-data PORT [EP] "BYTES"` and
// `usb-error PORT EP -ERRNO`). What the host does with it is the host controller model's (cabi/usb.cpp for C
// drivers' URBs), installed with usb_set_device_send_hook; without one the event is dropped.
// 0, -ENODEV when nothing is plugged there, or the hook's error.
int usb_device_send(const std::string& port, UsbDeviceEvent event, const Site& site = Site::current());
// usb_plug, with `script` done by the device before anything else (the scenario's usb-data/usb-error lines after
// its `device` line): handed to the host controller model after the device is created and before it is added, so
// the transfers of its probe find them.
Device* usb_plug(const std::string& port, const std::string& modalias, const std::vector<UsbDeviceEvent>& script,
                 const Site& site = Site::current());
using UsbDeviceSendHook = int (*)(Device& dev, UsbDeviceEvent event, const Site& site);
// Process-wide; set once, at static initialisation.
void usb_set_device_send_hook(UsbDeviceSendHook hook);
// What the host controller does when a device is unplugged, after its driver (if any) was unbound and before the
// hub's reference goes: drivers/usb/core/hub.c usb_disconnect -> usb_disable_device disables every endpoint of the
// device, bound or not, and gives back the URBs still queued there. Installed like the send hook.
using UsbDeviceGoneHook = void (*)(Device& dev, const Site& site);
void usb_set_device_gone_hook(UsbDeviceGoneHook hook);
// usb_register_driver() (module load).
Driver* usb_register_driver(DriverOps ops, const Site& site = Site::current());

}  // namespace devsim::bus
