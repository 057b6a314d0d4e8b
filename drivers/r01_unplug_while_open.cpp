// R1: open the node, keep it open, unplug, close (Laurent Pinchart, Kernel Summit 2021, seed 002).
//
// A USB device with one character device, /dev/skelN, in the style of drivers/usb/usb-skeleton.c.
//
//   r01_unplug_open_buggy  the driver data comes from devm_kzalloc(): it lives as long as the *binding*. The
//                          open file keeps a pointer to it in file->private_data; unplug unbinds the driver,
//                          devres frees the data, and the next ioctl (or the close) reads freed memory.
//   r01_unplug_open_fixed  Pinchart's first step, which is what usb-skeleton does: the data is kzalloc()'d and
//                          reference-counted (kref). The driver holds one reference, every open file one, and
//                          the cdev one (dropped by its release callback); the last put frees it. disconnect()
//                          marks it disconnected under its mutex, so an ioctl after unplug returns -ENODEV.
#include <string>

#include "bus/cdev.hpp"
#include "bus/devm.hpp"
#include "bus/errno.hpp"
#include "bus/kernel.hpp"
#include "core/kref.hpp"
#include "core/mutex.hpp"
#include "drivers/registry.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::CoreContext;
using bus::File;
using bus::FileOperations;

constexpr unsigned kSkelGetValue = 1;  // SKEL_IOC_GET_VALUE: what the device last reported
constexpr int kSkelValue = 42;         // what the (mock) device reports

// The minor: the lowest free skelN, as an ida would hand out (dev_t numbers are not modelled).
std::string skel_node_name() {
  for (int n = 0;; ++n) {
    std::string name = "skel" + std::to_string(n);
    if (bus::kernel().find_devnode(name) == nullptr) return name;
  }
}

// dev_get_drvdata() as the checked handle it was stored from.
template <class T>
sim::KPtr<T> skel_get_drvdata(bus::Device& dev) {
  auto* p = static_cast<T*>(dev.drvdata());
  return sim::KPtr<T>(p);
}

// ==== the buggy driver: devm_kzalloc'd data behind an open file ================================================

struct LegacySkel {
  Cdev* cdev = nullptr;  // cdev_alloc'd: the cdev itself outlives the data (only the data is the problem here)
  int open_count = 0;
  int value = 0;
};

int r01_buggy_open(Cdev& cdev, File& file) {
  // container_of(inode->i_cdev, ...): the cdev's owner is the driver data.
  sim::KPtr<LegacySkel> skel = cdev.owner_ptr<LegacySkel>();
  // BUG: nothing here keeps `skel` alive: it belongs to the binding, and the device may be unplugged now.
  skel.store(&LegacySkel::open_count, skel.load(&LegacySkel::open_count) + 1);
  file.set_private(skel);
  return 0;
}

long r01_buggy_ioctl(File& file, unsigned cmd, unsigned long) {
  if (cmd != kSkelGetValue) return -bus::kENOTTY;
  sim::KPtr<LegacySkel> skel = file.private_data<LegacySkel>();
  // BUG: use-after-free once the device was unplugged: devres freed `skel` right after remove(), but this file
  // is still open and its private_data still points there.
  return skel.load(&LegacySkel::value);
}

int r01_buggy_release(Cdev&, File& file) {
  sim::KPtr<LegacySkel> skel = file.private_data<LegacySkel>();
  // BUG: release() always runs, however long after unplug: the same freed memory again.
  skel.store(&LegacySkel::open_count, skel.load(&LegacySkel::open_count) - 1);
  return 0;
}

const FileOperations kLegacySkelFops{r01_buggy_open, nullptr, nullptr,          r01_buggy_ioctl,
                                     nullptr,        nullptr, r01_buggy_release};

int r01_buggy_probe(CoreContext& ctx) {
  // BUG: devm memory for data that open files point at. LIFETIME: it lives until the driver unbinds (unplug),
  // not until the last file is closed.
  sim::KPtr<LegacySkel> skel = bus::devm_kzalloc<LegacySkel>(ctx);
  if (!skel) return -bus::kENOMEM;
  skel.store(&LegacySkel::value, kSkelValue);
  Cdev* cdev = bus::cdev_alloc(&kLegacySkelFops);
  cdev->set_owner(skel);
  skel.store(&LegacySkel::cdev, cdev);
  ctx->set_drvdata(skel.unchecked());
  int ret = bus::cdev_add(*cdev, skel_node_name(), &ctx.device());
  if (ret != 0) bus::cdev_del(*cdev);
  return ret;
}

void r01_buggy_disconnect(CoreContext& ctx) {
  sim::KPtr<LegacySkel> skel = skel_get_drvdata<LegacySkel>(ctx.device());
  // No new opens; files already open keep calling the fops above. Then devres frees `skel`.
  bus::cdev_del(*skel.load(&LegacySkel::cdev));
}

// ==== the fixed driver: kzalloc + kref, freed at the last release (usb-skeleton's skel_delete) ==================

struct UsbSkel {
  core::Kref kref;                        // the driver, the cdev and every open file hold one
  core::Mutex io_mutex{"skel_io_mutex"};  // serialises I/O with disconnect()
  bool disconnected = false;              // set by disconnect(): the device is gone
  Cdev* cdev = nullptr;
  int value = 0;
};

// skel_delete(): runs at the last kref_put.
void skel_put(sim::KPtr<UsbSkel> skel) {
  skel.write().kref.put([skel] { sim::kfree(skel); });
}

int r01_fixed_open(Cdev& cdev, File& file) {
  // LIFETIME: the file holds a reference on the cdev, and the cdev holds one on `skel` until its own release,
  // so `skel` is alive here even if disconnect() already ran; the file takes its own reference for later.
  sim::KPtr<UsbSkel> skel = cdev.owner_ptr<UsbSkel>();
  skel.write().kref.get();
  file.set_private(skel);
  return 0;
}

long r01_fixed_ioctl(File& file, unsigned cmd, unsigned long) {
  if (cmd != kSkelGetValue) return -bus::kENOTTY;
  // LIFETIME: the file's reference keeps `skel` alive until r01_fixed_release.
  sim::KPtr<UsbSkel> skel = file.private_data<UsbSkel>();
  core::MutexGuard guard = skel.write().io_mutex.guard();
  if (skel.load(&UsbSkel::disconnected)) return -bus::kENODEV;  // unplugged: the device is gone
  return skel.load(&UsbSkel::value);
}

int r01_fixed_release(Cdev&, File& file) {
  skel_put(file.private_data<UsbSkel>());  // the file's reference: maybe the last
  return 0;
}

const FileOperations kUsbSkelFops{r01_fixed_open, nullptr, nullptr,          r01_fixed_ioctl,
                                  nullptr,        nullptr, r01_fixed_release};

int r01_fixed_probe(CoreContext& ctx) {
  // LIFETIME: plain kzalloc: the data lives until the last reference is put, not until unbind.
  sim::KPtr<UsbSkel> skel = sim::kzalloc<UsbSkel>();
  if (!skel) return -bus::kENOMEM;
  skel.store(&UsbSkel::value, kSkelValue);
  Cdev* cdev = bus::cdev_alloc(&kUsbSkelFops);
  cdev->set_owner(skel);
  // LIFETIME: the cdev holds a reference until its release, so an open that found the cdev while disconnect()
  // runs still finds `skel` alive (its kref_get cannot race the last put).
  skel.write().kref.get();
  cdev->on_release = [skel] { skel_put(skel); };
  skel.store(&UsbSkel::cdev, cdev);
  ctx->set_drvdata(skel.unchecked());
  int ret = bus::cdev_add(*cdev, skel_node_name(), &ctx.device());
  if (ret != 0) {
    bus::cdev_del(*cdev);  // drops the cdev's reference through on_release
    skel_put(skel);        // and the driver's: frees it
  }
  return ret;
}

void r01_fixed_disconnect(CoreContext& ctx) {
  sim::KPtr<UsbSkel> skel = skel_get_drvdata<UsbSkel>(ctx.device());
  {
    // From now on every call sees the device gone; a call already inside the lock finishes first.
    core::MutexGuard guard = skel.write().io_mutex.guard();
    skel.store(&UsbSkel::disconnected, true);
  }
  bus::cdev_del(*skel.load(&UsbSkel::cdev));  // no new opens; open files keep the cdev and their reference
  skel_put(skel);                             // the driver's reference
}

// ==== registration ============================================================================================

DriverInfo r01_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r01_unplug_open_buggy" : "r01_unplug_open_fixed";
  info.bus = "usb";
  info.summary = buggy ? "R1 buggy: devm_kzalloc'd driver data behind an open file: UAF in ioctl/release after unplug"
                       : "R1 fixed: kref'd driver data freed at the last release; ioctl after unplug: -ENODEV";
  info.race = "R1";
  info.buggy = buggy;
  if (buggy) info.bug_kind = "use-after-free";
  info.node = "skel0";
  info.ioctls = {{"GET_VALUE", kSkelGetValue, 0}};
  info.ops = [buggy] {
    bus::DriverOps ops;
    ops.bus = "usb";
    ops.probe = buggy ? r01_buggy_probe : r01_fixed_probe;
    ops.remove = buggy ? r01_buggy_disconnect : r01_fixed_disconnect;
    return ops;
  };
  return info;
}

DriverInfo r01_unplug_open_buggy_info() {
  return r01_info(true);
}
DriverInfo r01_unplug_open_fixed_info() {
  return r01_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r01_unplug_open_buggy_info);
DEVSIM_REGISTER_DRIVER(r01_unplug_open_fixed_info);

}  // namespace devsim::drivers
