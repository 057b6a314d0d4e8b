// R3: memory owned by the device, referenced from the cdev: two lifecycles (Greg KH, Kernel Summit 2021, seed 002:
// "the memory was assigned to one specific object (the struct device) but yet referenced from another object
// (the cdev). devm_* users like this do not seem to realize there are two separate object lifecycles").
//
// A USB device whose struct cdev is embedded in its driver data (/dev/chardevN), as most drivers do it.
//
//   r03_two_lifecycles_buggy  the data (and the cdev inside it) comes from devm_kzalloc(): devres frees it when
//                             the device is unplugged, while open files still hold the cdev. The driver even has a
//                             "disconnected" flag, but the flag is in the freed memory: container_of() in the ioctl
//                             reads the freed cdev, and the kernel's own fput() at close puts a reference on it.
//   r03_two_lifecycles_fixed  the data is kzalloc()'d and counted; the cdev holds a reference on it, dropped by the
//                             cdev's release callback (Cdev::on_release, the kobject release), so the memory lives
//                             until the last file of the cdev is closed. ioctl after unplug: -ENODEV.
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

constexpr unsigned kChardevGetValue = 1;
constexpr int kChardevValue = 7;

// The minor: the lowest free chardevN, as an ida would hand out (dev_t numbers are not modelled).
std::string chardev_node_name() {
  for (int n = 0;; ++n) {
    std::string name = "chardev" + std::to_string(n);
    if (bus::kernel().find_devnode(name) == nullptr) return name;
  }
}

template <class T>
sim::KPtr<T> chardev_get_drvdata(bus::Device& dev) {
  auto* p = static_cast<T*>(dev.drvdata());
  return sim::KPtr<T>(p);
}

// Both variants: the cdev embedded first, then the driver's state.
struct ChardevPriv {
  Cdev cdev;
  core::Kref kref;  // fixed only: the driver's reference and the cdev's
  core::Mutex lock{"chardev_lock"};
  bool disconnected = false;
  int value = 0;
};

// The ioctl both variants share, written as the C drivers write it: container_of(file->f_inode->i_cdev).
long chardev_get_value(sim::KPtr<ChardevPriv> priv) {
  core::MutexGuard guard = priv.write().lock.guard();
  if (priv.load(&ChardevPriv::disconnected)) return -bus::kENODEV;
  return priv.load(&ChardevPriv::value);
}

void chardev_disconnect(sim::KPtr<ChardevPriv> priv) {
  {
    core::MutexGuard guard = priv.write().lock.guard();
    priv.store(&ChardevPriv::disconnected, true);
  }
  bus::cdev_del(priv.write().cdev);  // no new opens; open files keep the cdev
}

// ==== the buggy driver: the cdev lives in devm memory =============================================================

long r03_buggy_ioctl(File& file, unsigned cmd, unsigned long) {
  if (cmd != kChardevGetValue) return -bus::kENOTTY;
  // BUG: container_of() on a cdev whose memory devres freed at unplug: the read of the cdev is the use-after-free.
  sim::KPtr<ChardevPriv> priv = file.cdev()->owner_ptr<ChardevPriv>();
  return chardev_get_value(priv);
}

const FileOperations kBuggyChardevFops{nullptr, nullptr, nullptr, r03_buggy_ioctl, nullptr, nullptr, nullptr};

int r03_buggy_probe(CoreContext& ctx) {
  // BUG: device-lifetime memory for an object (the cdev) that open files hold: two lifecycles, one allocation.
  sim::KPtr<ChardevPriv> priv = bus::devm_kzalloc<ChardevPriv>(ctx);
  if (!priv) return -bus::kENOMEM;
  priv.store(&ChardevPriv::value, kChardevValue);
  Cdev& cdev = priv.write().cdev;
  bus::cdev_init(cdev, &kBuggyChardevFops);
  cdev.set_owner(priv);
  ctx->set_drvdata(priv.unchecked());
  int ret = bus::cdev_add(cdev, chardev_node_name(), &ctx.device());
  if (ret != 0) bus::cdev_del(cdev);
  return ret;
}

void r03_buggy_remove(CoreContext& ctx) {
  chardev_disconnect(chardev_get_drvdata<ChardevPriv>(ctx.device()));
  // BUG: after this returns devres frees the data, the cdev with it, whatever files still hold the cdev; their
  // close (fput -> cdev_put) then writes the freed cdev's count.
}

// ==== the fixed driver: the cdev's release callback drops its reference ==========================================

void chardev_put(sim::KPtr<ChardevPriv> priv) {
  priv.write().kref.put([priv] { sim::kfree(priv); });
}

long r03_fixed_ioctl(File& file, unsigned cmd, unsigned long) {
  if (cmd != kChardevGetValue) return -bus::kENOTTY;
  // LIFETIME: the file holds the cdev, the cdev holds a reference on the memory it is embedded in.
  sim::KPtr<ChardevPriv> priv = file.cdev()->owner_ptr<ChardevPriv>();
  return chardev_get_value(priv);
}

const FileOperations kFixedChardevFops{nullptr, nullptr, nullptr, r03_fixed_ioctl, nullptr, nullptr, nullptr};

int r03_fixed_probe(CoreContext& ctx) {
  // LIFETIME: kzalloc'd, freed by the last of the driver's and the cdev's references.
  sim::KPtr<ChardevPriv> priv = sim::kzalloc<ChardevPriv>();
  if (!priv) return -bus::kENOMEM;
  priv.store(&ChardevPriv::value, kChardevValue);
  Cdev& cdev = priv.write().cdev;
  bus::cdev_init(cdev, &kFixedChardevFops);
  cdev.set_owner(priv);
  priv.write().kref.get();                          // the cdev's reference...
  cdev.on_release = [priv] { chardev_put(priv); };  // ...dropped when the last file of the cdev is gone
  ctx->set_drvdata(priv.unchecked());
  int ret = bus::cdev_add(cdev, chardev_node_name(), &ctx.device());
  if (ret != 0) {
    bus::cdev_del(cdev);  // the cdev's release: its reference
    chardev_put(priv);    // the driver's: frees it
  }
  return ret;
}

void r03_fixed_remove(CoreContext& ctx) {
  sim::KPtr<ChardevPriv> priv = chardev_get_drvdata<ChardevPriv>(ctx.device());
  chardev_disconnect(priv);
  chardev_put(priv);  // the driver's reference; the cdev keeps the memory while files hold it
}

DriverInfo r03_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r03_two_lifecycles_buggy" : "r03_two_lifecycles_fixed";
  info.bus = "usb";
  info.summary = buggy ? "R3 buggy: cdev embedded in devm data: open files use the freed cdev (ioctl, fput)"
                       : "R3 fixed: kref'd data; the cdev release callback drops the cdev's reference";
  info.race = "R3";
  info.buggy = buggy;
  if (buggy) info.bug_kind = "use-after-free";
  info.node = "chardev0";
  info.ioctls = {{"GET_VALUE", kChardevGetValue, 0}};
  info.ops = [buggy] {
    bus::DriverOps ops;
    ops.bus = "usb";
    ops.probe = buggy ? r03_buggy_probe : r03_fixed_probe;
    ops.remove = buggy ? r03_buggy_remove : r03_fixed_remove;
    return ops;
  };
  return info;
}

DriverInfo r03_two_lifecycles_buggy_info() {
  return r03_info(true);
}
DriverInfo r03_two_lifecycles_fixed_info() {
  return r03_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r03_two_lifecycles_buggy_info);
DEVSIM_REGISTER_DRIVER(r03_two_lifecycles_fixed_info);

}  // namespace devsim::drivers
