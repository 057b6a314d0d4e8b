// R16: a firmware request completing after remove() (the firmware abstraction thread, seeds/004).
//
// probe() asks for the device's firmware with request_firmware_nowait() and returns at once; the firmware task
// loads the blob (virtual time) and calls r16_fw_done() with the context pointer the driver passed. The request
// holds a reference on the device until the callback returned (the firmware loader does that), but the context
// pointer is the driver's business: nothing in the loader keeps it alive.
//
//   r16_firmware_async_buggy  passes its devm-allocated data as the context. An unplug while the load is in flight
//                             unbinds the driver and devres frees the data; the completion then writes the
//                             firmware state into freed memory -> use-after-free in r16_fw_done.
//   r16_firmware_async_fixed  makes the data refcounted and gives the request a reference of its own (kref_get
//                             before the request, kref_put at the end of the completion). remove() marks the data
//                             gone and drops the driver's reference; a late completion sees `gone`, does not
//                             program the device, and drops the last reference.
#include <string>

#include "bus/devm.hpp"
#include "bus/errno.hpp"
#include "bus/firmware.hpp"
#include "core/kref.hpp"
#include "drivers/registry.hpp"
#include "sim/kmalloc.hpp"

namespace devsim::drivers {
namespace {

using bus::CoreContext;
using bus::Firmware;

constexpr const char* kR16FirmwareName = "r16-fw.bin";

struct R16Priv;
using R16Ptr = sim::KPtr<R16Priv>;

// What differs between the variants: how the data is allocated, and who drops what when.
struct R16Variant {
  R16Ptr (*alloc)(CoreContext& ctx);
  void (*request_done)(R16Ptr priv);  // end of the completion: the request lets go of the data
  void (*remove)(R16Ptr priv);
};

struct R16Priv {
  core::Kref kref;  // fixed variant: the driver's reference, and the firmware request's while in flight
  const R16Variant* variant = nullptr;
  long fw_size = 0;  // what the completion found: the blob's size, or -ENOENT
  bool fw_ready = false;
  bool gone = false;  // set by remove(): a late completion must not program the device
};

// The completion: runs in the firmware task, possibly long after remove() returned.
void r16_fw_done(sim::KPtr<Firmware> fw, void* context) {
  auto* raw = static_cast<R16Priv*>(context);
  R16Ptr priv(raw);
  // LIFETIME: fixed: the request's reference (taken in r16_probe) keeps the data alive until request_done below.
  // Buggy: nothing does; devres may have freed it at unbind (the bug shows here).
  if (!priv.load_once(&R16Priv::gone)) {  // READ_ONCE: remove() sets it locklessly
    priv.store(&R16Priv::fw_size, fw ? static_cast<long>(fw.read().data.size()) : -bus::kENOENT);
    priv.store(&R16Priv::fw_ready, static_cast<bool>(fw));  // "upload the blob to the device"
  }
  bus::release_firmware(fw);
  priv.load(&R16Priv::variant)->request_done(priv);
}

// ---- buggy: devm-allocated data, passed to the request as a bare pointer --------------------------------

R16Ptr r16_alloc_buggy(CoreContext& ctx) {
  // BUG: the data lives as long as the binding, and the request it is handed to may outlive the binding.
  return bus::devm_kzalloc<R16Priv>(ctx);
}
void r16_request_done_buggy(R16Ptr) {}
void r16_remove_buggy(R16Ptr priv) {
  priv.store_once(&R16Priv::gone, true);  // WRITE_ONCE: the firmware callback reads it without a lock  // too little:
                                          // devres frees the data right after remove() returns
}

// ---- fixed: refcounted data; the request holds a reference -----------------------------------------------

R16Ptr r16_alloc(CoreContext&) {
  return sim::kzalloc<R16Priv>();  // count 1: the driver's reference, dropped in remove()
}
void r16_put(R16Ptr priv) {
  priv.write().kref.put([priv] { sim::kfree(priv); });
}
void r16_request_done(R16Ptr priv) {
  r16_put(priv);  // the request's reference; the last one if remove() already ran
}
void r16_remove_fixed(R16Ptr priv) {
  priv.store_once(&R16Priv::gone, true);  // WRITE_ONCE: the firmware callback reads it without a lock
  r16_put(priv);                          // the driver's reference; a request in flight keeps its own
}

const R16Variant kR16Buggy{r16_alloc_buggy, r16_request_done_buggy, r16_remove_buggy};
const R16Variant kR16Fixed{r16_alloc, r16_request_done, r16_remove_fixed};

// ---- probe / remove (shared) ------------------------------------------------------------------------------

int r16_probe(CoreContext& ctx, const R16Variant& variant) {
  R16Ptr priv = variant.alloc(ctx);
  if (!priv) return -bus::kENOMEM;
  priv.store(&R16Priv::variant, &variant);
  // LIFETIME (fixed): the request's reference, dropped by r16_fw_done when it is done with the data. The buggy
  // variant takes one too, but nothing honours it: devres frees the data whatever the count says.
  priv.write().kref.get();
  ctx->set_drvdata(priv.unchecked());
  if (int r = bus::request_firmware_nowait(kR16FirmwareName, &ctx.device(), priv.unchecked(), r16_fw_done); r != 0) {
    variant.request_done(priv);
    variant.remove(priv);
    return r;
  }
  return 0;
}
int r16_probe_buggy(CoreContext& ctx) {
  return r16_probe(ctx, kR16Buggy);
}
int r16_probe_fixed(CoreContext& ctx) {
  return r16_probe(ctx, kR16Fixed);
}

void r16_remove(CoreContext& ctx) {
  auto* raw = static_cast<R16Priv*>(ctx->drvdata());
  // LIFETIME: the driver's reference (fixed) or the binding (buggy: devres frees after remove) keeps it alive.
  R16Ptr priv(raw);
  priv.load(&R16Priv::variant)->remove(priv);
}

DriverInfo r16_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r16_firmware_async_buggy" : "r16_firmware_async_fixed";
  info.bus = "usb";
  info.summary = buggy ? "R16: the async firmware completion writes devm data freed at remove (UAF)"
                       : "R16: the firmware request holds a reference on refcounted driver data";
  info.race = "R16";
  info.buggy = buggy;
  info.bug_kind = buggy ? "use-after-free" : "";
  info.node = "";
  info.firmware = {kR16FirmwareName};
  info.ops = [buggy] { return bus::DriverOps{"", "usb", {}, buggy ? r16_probe_buggy : r16_probe_fixed, r16_remove}; };
  return info;
}

DriverInfo r16_firmware_async_buggy_info() {
  return r16_info(true);
}
DriverInfo r16_firmware_async_fixed_info() {
  return r16_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r16_firmware_async_buggy_info)
DEVSIM_REGISTER_DRIVER(r16_firmware_async_fixed_info)

}  // namespace devsim::drivers
