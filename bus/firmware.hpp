// Firmware requests: loading a blob for a device, synchronously or with a completion callback.
#pragma once

#include <string>

#include "bus/device.hpp"
#include "sim/kmalloc.hpp"

namespace devsim::bus {

// struct firmware: the loaded blob, in simulated memory (release_firmware frees it).
struct Firmware {
  std::string data;
};

// request_firmware(): sleeps while the blob loads (virtual time), then hands it over. -ENOENT if no such file
// (Kernel::firmware_files()). `dev` is referenced while the request is in flight.
int request_firmware(sim::KPtr<Firmware>* fw, const std::string& name, Device* dev, const Site& site = Site::current());
void release_firmware(sim::KPtr<Firmware> fw, const Site& site = Site::current());

// request_firmware_nowait(): returns at once; a task "firmware" (natively, an item on the system workqueue's pool)
// loads the blob and calls `cont(fw, context)` (fw null if missing). INVARIANT: the request holds a reference to `dev`
// from the call until `cont` returned, so the device outlives its request; whatever `context` points at is the driver's
// business (R16: a driver that frees it in remove() while the request is in flight gets a use-after-free in `cont`).
using FirmwareCont = void (*)(sim::KPtr<Firmware> fw, void* context);
int request_firmware_nowait(const std::string& name, Device* dev, void* context, FirmwareCont cont,
                            const Site& site = Site::current());

// Natively: returns when every request_firmware_nowait() of this machine has returned from its continuation (a
// native machine must not be torn down under one). In the simulator it returns at once: the world ends only after
// its firmware tasks.
void wait_for_firmware_requests();

}  // namespace devsim::bus
