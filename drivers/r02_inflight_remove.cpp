// R2: an ioctl in flight while remove() runs (Laurent Pinchart's remove/use race, Kernel Summit 2021, seed 002).
//
// A USB device whose ioctl starts a transfer and sleeps until it completes (/dev/xferN). The driver data is
// already reference-counted (R1's fix), but the transfer buffer is a device resource (devm_kzalloc: it goes with
// the binding, like the URBs and DMA buffers of a real driver).
//
//   r02_inflight_buggy  remove() sets a "disconnected" flag and returns; the ioctl checked that flag once, at
//                       entry, and is still sleeping in its transfer. devres frees the buffer after remove(), and
//                       the transfer's completion writes into it: use-after-free in the call that was in flight.
//   r02_inflight_fixed  Pinchart's protocol: the cdev is drain-enabled at probe; remove() disconnects it (new calls
//                       fail with -ENODEV without entering the driver), cancels pending I/O, waits for the calls in
//                       flight (cdev_drain), and only then unregisters the cdev and lets devres free the buffer.
#include <string>

#include "bus/cdev.hpp"
#include "bus/devm.hpp"
#include "bus/errno.hpp"
#include "bus/kernel.hpp"
#include "core/kref.hpp"
#include "drivers/registry.hpp"
#include "sim/machine.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::CoreContext;
using bus::File;
using bus::FileOperations;

constexpr unsigned kXferTransfer = 1;            // XFER_IOC_TRANSFER: one bulk transfer, returns its length
constexpr int kXferLength = 64;                  // what the (mock) device transfers
constexpr sim::Nanos kXferDuration = 1'000'000;  // 1 ms on the wire

// The minor: the lowest free xferN, as an ida would hand out (dev_t numbers are not modelled).
std::string xfer_node_name() {
  for (int n = 0;; ++n) {
    std::string name = "xfer" + std::to_string(n);
    if (bus::kernel().find_devnode(name) == nullptr) return name;
  }
}

// dev_get_drvdata() as the checked handle it was stored from.
template <class T>
sim::KPtr<T> xfer_get_drvdata(bus::Device& dev) {
  auto* p = static_cast<T*>(dev.drvdata());
  return sim::KPtr<T>(p);
}

// The transfer buffer: a device resource.
struct XferBuf {
  unsigned request = 0;
  int actual_length = 0;
};

struct XferDev {
  core::Kref kref;            // the driver, the cdev and every open file hold one
  bool disconnected = false;  // the buggy variant's flag (the fixed one lets the cdev gate calls)
  Cdev* cdev = nullptr;
  sim::KPtr<XferBuf> buf;  // devm_kzalloc'd: freed when the driver unbinds
};

void xfer_put(sim::KPtr<XferDev> dev) {
  dev.write().kref.put([dev] { sim::kfree(dev); });
}

// usb_bulk_msg(): submits the request and sleeps until the device completed it; returns the length
// transferred. Shared by both variants: the difference is whether remove() waits for a call sleeping here.
int xfer_usb_bulk_msg(sim::KPtr<XferBuf> buf, unsigned request) {
  // Marked: the mock's device register. Two transfers on one open device both write it (two plain word writes
  // are no race for KCSAN, which the simulator follows; TSan, natively, would call them one).
  buf.store_once(&XferBuf::request, request);
  sim::sleep_for(kXferDuration);  // the URB is on the wire: the hub can unplug the device meanwhile
  return kXferLength;
}

int xfer_open(Cdev& cdev, File& file) {
  // LIFETIME: the cdev holds a reference on the data until its release, and the file holds the cdev.
  sim::KPtr<XferDev> dev = cdev.owner_ptr<XferDev>();
  dev.write().kref.get();
  file.set_private(dev);
  return 0;
}

int xfer_release(Cdev&, File& file) {
  // Touches nothing of the device: the buffer may be gone, the data is alive until this put.
  xfer_put(file.private_data<XferDev>());
  return 0;
}

// ==== the buggy driver: a flag, but remove() does not wait for the calls that passed it ==========================

long r02_buggy_ioctl(File& file, unsigned cmd, unsigned long arg) {
  if (cmd != kXferTransfer) return -bus::kENOTTY;
  sim::KPtr<XferDev> dev = file.private_data<XferDev>();
  if (dev.load(&XferDev::disconnected)) return -bus::kENODEV;
  // BUG: the check above is all there is. remove() can run from here on, return, and devres frees the buffer
  // while this call sleeps in the transfer.
  sim::KPtr<XferBuf> buf = dev.load(&XferDev::buf);
  int len = xfer_usb_bulk_msg(buf, static_cast<unsigned>(arg));
  // BUG: use-after-free when the device was unplugged during the transfer.
  // Marked: two transfers on one open device both report their length in the shared buffer.
  buf.store_once(&XferBuf::actual_length, len);
  return buf.load_once(&XferBuf::actual_length);
}

void r02_buggy_remove(CoreContext& ctx) {
  sim::KPtr<XferDev> dev = xfer_get_drvdata<XferDev>(ctx.device());
  dev.store(&XferDev::disconnected, true);  // new calls see it...
  bus::cdev_del(*dev.load(&XferDev::cdev));
  xfer_put(dev);
  // BUG: ...but calls already past the check are not waited for: after this returns, devres frees the buffer.
}

// ==== the fixed driver: disconnect, cancel, drain, unregister ===================================================

long r02_fixed_ioctl(File& file, unsigned cmd, unsigned long arg) {
  if (cmd != kXferTransfer) return -bus::kENOTTY;
  // LIFETIME: the cdev counted this call in flight, and remove() drains before devres frees the buffer, so
  // `buf` is alive until this returns even if the device is unplugged during the transfer.
  sim::KPtr<XferDev> dev = file.private_data<XferDev>();
  sim::KPtr<XferBuf> buf = dev.load(&XferDev::buf);
  int len = xfer_usb_bulk_msg(buf, static_cast<unsigned>(arg));
  // Marked: two transfers on one open device both report their length in the shared buffer.
  buf.store_once(&XferBuf::actual_length, len);
  return buf.load_once(&XferBuf::actual_length);
}

void r02_fixed_remove(CoreContext& ctx) {
  sim::KPtr<XferDev> dev = xfer_get_drvdata<XferDev>(ctx.device());
  Cdev& cdev = *dev.load(&XferDev::cdev);
  bus::cdev_disconnect(cdev);  // 1. no new calls: they get -ENODEV (poll: HUP|ERR) without entering the driver
  // 2. cancel pending I/O (usb_kill_anchored_urbs): the mock's transfers complete on their own within 1 ms, so
  //    there is nothing to kill and no waiter to wake.
  bus::cdev_drain(cdev);  // 3. wait until every call in flight has returned
  bus::cdev_del(cdev);    // 4. unregister: no new opens
  xfer_put(dev);          // the driver's reference; open files keep theirs, release() drops them
  // 5./6. devres frees the buffer after this returns: no call can be using it any more.
}

// ==== shared probe =============================================================================================

int xfer_probe(CoreContext& ctx, const FileOperations* fops, bool drain) {
  sim::KPtr<XferBuf> buf = bus::devm_kzalloc<XferBuf>(ctx);
  if (!buf) return -bus::kENOMEM;
  sim::KPtr<XferDev> dev = sim::kzalloc<XferDev>();
  if (!dev) return -bus::kENOMEM;
  dev.store(&XferDev::buf, buf);
  Cdev* cdev = bus::cdev_alloc(fops);
  cdev->set_owner(dev);
  // LIFETIME: the cdev's reference, dropped by its release, so an open racing remove() finds the data alive.
  dev.write().kref.get();
  cdev->on_release = [dev] { xfer_put(dev); };
  if (drain) bus::cdev_enable_drain(*cdev, -bus::kENODEV);
  dev.store(&XferDev::cdev, cdev);
  ctx->set_drvdata(dev.unchecked());
  int ret = bus::cdev_add(*cdev, xfer_node_name(), &ctx.device());
  if (ret != 0) {
    bus::cdev_del(*cdev);
    xfer_put(dev);
  }
  return ret;
}

const FileOperations kBuggyXferFops{xfer_open, nullptr, nullptr, r02_buggy_ioctl, nullptr, nullptr, xfer_release};
const FileOperations kFixedXferFops{xfer_open, nullptr, nullptr, r02_fixed_ioctl, nullptr, nullptr, xfer_release};

int r02_buggy_probe(CoreContext& ctx) {
  return xfer_probe(ctx, &kBuggyXferFops, false);
}
int r02_fixed_probe(CoreContext& ctx) {
  return xfer_probe(ctx, &kFixedXferFops, true);
}

DriverInfo r02_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r02_inflight_buggy" : "r02_inflight_fixed";
  info.bus = "usb";
  info.summary = buggy ? "R2 buggy: remove() does not wait for an ioctl in flight: UAF of the transfer buffer"
                       : "R2 fixed: cdev disconnect + in-flight count + drain: remove waits, new calls -ENODEV";
  info.race = "R2";
  info.buggy = buggy;
  if (buggy) info.bug_kind = "use-after-free";
  info.node = "xfer0";
  info.ioctls = {{"TRANSFER", kXferTransfer, 3}};
  info.ops = [buggy] {
    bus::DriverOps ops;
    ops.bus = "usb";
    ops.probe = buggy ? r02_buggy_probe : r02_fixed_probe;
    ops.remove = buggy ? r02_buggy_remove : r02_fixed_remove;
    return ops;
  };
  return info;
}

DriverInfo r02_inflight_buggy_info() {
  return r02_info(true);
}
DriverInfo r02_inflight_fixed_info() {
  return r02_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r02_inflight_buggy_info);
DEVSIM_REGISTER_DRIVER(r02_inflight_fixed_info);

}  // namespace devsim::drivers
