// R9: Rcu<P>::replace while a reader holds a borrow (Boqun Feng's `Rcu<P>` review, seeds/003).
//
// A sensor-like USB device keeps its configuration behind an RCU-protected pointer: ioctl(GET_CONFIG) reads it
// under rcu_read_lock() without taking any lock, ioctl(SET_CONFIG) publishes a new one. Readers never block
// updaters, so when SET_CONFIG replaces the pointer a reader may still be in the middle of the old value.
//
//   r09_rcu_config_buggy  frees the old value right after publishing the new one
//                         (Rcu::replace_and_free_unsynchronized): a reader inside its read section reads freed
//                         memory -> use-after-free in r09_get_config.
//   r09_rcu_config_fixed  keeps the RcuOld that replace() hands back and drops it outside any read section:
//                         the drop waits for a grace period (synchronize_rcu), so the old value is freed only
//                         once every reader that could have seen it has left.
//
// Everything else is shared and correct in both variants: the driver state is an Arc shared by the driver
// (drvdata), the cdev and every open file, so an open file keeps it alive after unplug, and calls after unplug
// get -ENODEV.
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "core/arc.hpp"
#include "core/kbox.hpp"
#include "core/rcu.hpp"
#include "core/rcu_ptr.hpp"
#include "drivers/minor_ida.hpp"
#include "drivers/registry.hpp"
#include "sim/machine.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::CoreContext;
using bus::File;
using sim::Site;

constexpr unsigned kR09GetConfig = 0x5201;
constexpr unsigned kR09SetConfig = 0x5202;
constexpr int kR09DefaultThreshold = 10;

// The configuration readers see. `check` is ~threshold: a reader checks it saw one consistent value.
struct R09Config {
  int threshold = 0;
  int check = 0;
};
using R09ConfigBox = core::KBox<R09Config>;

struct R09Dev;
// What differs between the variants: how SET_CONFIG publishes the new value (the id table's driver_info).
struct R09Variant {
  void (*set_config)(const R09Dev& dev, int threshold);
};

// The device state, shared through an Arc (the Rust driver's `Arc<SensorData>`).
// INVARIANT: `config` is never null between probe and the state's destruction.
// Fields are `mutable` where Rust would have interior mutability: the Rcu serialises its updaters itself,
// `gone` is an atomic flag.
struct R09Dev {
  R09Dev(const R09Variant* v, Cdev* c, int m) : variant(v), cdev(c), minor(m) {}
  const R09Variant* variant;
  Cdev* cdev;  // LIFETIME: cdev_alloc'd; alive while the cdev's owner or an open file holds it
  int minor;
  mutable core::Rcu<R09ConfigBox> config;
  mutable std::atomic<bool> gone{false};  // set by remove(): calls after unplug get -ENODEV
};
using R09Arc = core::Arc<R09Dev>;

// /dev/rcucfgN numbers, per machine (drivers/minor_ida.hpp).
using R09Minors = MinorIda<struct R09MinorsTag>;

// ---- the read side: shared ------------------------------------------------------------------------------

long r09_get_config(const R09Dev& dev) {
  core::RcuReadGuard guard;
  core::Borrowed<R09Config> cfg = dev.config.dereference(guard);
  // LIFETIME: the borrow is valid until `guard` ends: an updater must not free the value before a grace
  // period has passed (the buggy variant does, and the loads below are where it shows).
  const int threshold = cfg.load(&R09Config::threshold);
  const int check = cfg.load(&R09Config::check);
  if (check != ~threshold) return -bus::kEIO;  // torn read: cannot happen with RCU
  return threshold;
}

// ---- the update side: where the variants differ ---------------------------------------------------------

void r09_set_config_buggy(const R09Dev& dev, int threshold) {
  // BUG: the old configuration is freed at once, without waiting for a grace period. A reader that
  // dereferenced it before the publish is still reading it (r09_get_config): use-after-free.
  dev.config.replace_and_free_unsynchronized(R09ConfigBox::make(R09Config{threshold, ~threshold}));
}

void r09_set_config(const R09Dev& dev, int threshold) {
  std::optional<core::RcuOld<R09ConfigBox>> old =
      dev.config.replace(R09ConfigBox::make(R09Config{threshold, ~threshold}));
  // LIFETIME: the old value is unpublished but readers may still hold borrows of it. Dropping the RcuOld waits
  // for a grace period (we are not in a read section: ioctl context may sleep), then frees it.
  if (old) old->drop();
}

const R09Variant kR09Buggy{r09_set_config_buggy};
const R09Variant kR09Fixed{r09_set_config};

// ---- file operations --------------------------------------------------------------------------------------

int r09_open(Cdev& cdev, File& file) {
  // LIFETIME: the open holds a reference on the cdev, and the cdev holds one on the state until its release
  // (r09_probe's on_release hook), so the state is alive here; the file takes its own reference.
  core::ArcBorrow<R09Dev> dev = R09Arc::borrow_foreign(cdev.owner_data());
  file.set_private_raw(core::into_foreign(dev.to_arc()));
  return 0;
}

long r09_ioctl(File& file, unsigned cmd, unsigned long arg) {
  // LIFETIME: the file's reference (taken in r09_open, dropped in r09_release) keeps the state alive.
  core::ArcBorrow<R09Dev> dev = R09Arc::borrow_foreign(file.private_raw());
  if (dev->gone.load()) return -bus::kENODEV;
  switch (cmd) {
    case kR09GetConfig:
      return r09_get_config(*dev);
    case kR09SetConfig:
      dev->variant->set_config(*dev, static_cast<int>(arg));
      return 0;
    default:
      return -bus::kENOTTY;
  }
}

int r09_release(Cdev&, File& file) {
  R09Arc::from_foreign(file.private_raw()).drop();  // the file's reference; maybe the last
  return 0;
}

const bus::FileOperations kR09Fops{r09_open, nullptr, nullptr, r09_ioctl, nullptr, nullptr, r09_release};

// ---- probe / remove ---------------------------------------------------------------------------------------

int r09_probe(CoreContext& ctx, const R09Variant& variant) {
  const int minor = R09Minors::alloc();
  Cdev* cdev = bus::cdev_alloc(&kR09Fops);
  R09Arc dev = R09Arc::emplace(Site::current(), &variant, cdev, minor);
  // Nothing to free: the pointer was null.
  dev->config.replace(R09ConfigBox::make(R09Config{kR09DefaultThreshold, ~kR09DefaultThreshold}));
  // LIFETIME: the cdev holds a reference on the state from here until its last put (its owner's at
  // cdev_del, or the last open file's), so an open that found the cdev always finds the state alive.
  void* owner = core::into_foreign(dev.clone());
  cdev->owner = owner;
  cdev->on_release = [owner] { R09Arc::from_foreign(owner).drop(); };
  if (int r = bus::cdev_add(*cdev, "rcucfg" + std::to_string(minor), &ctx.device()); r != 0) {
    bus::cdev_del(*cdev);  // drops the owner's reference: the hook drops the state's
    R09Minors::release(minor);
    return r;
  }
  ctx->set_drvdata_owned(std::move(dev));  // the driver's reference, dropped by the driver core after remove()
  return 0;
}

int r09_probe_buggy(CoreContext& ctx) {
  return r09_probe(ctx, kR09Buggy);
}
int r09_probe_fixed(CoreContext& ctx) {
  return r09_probe(ctx, kR09Fixed);
}

void r09_remove(CoreContext& ctx) {
  core::ArcForeignBorrow<R09Dev> dev = ctx->drvdata_borrow<R09Arc>();
  dev->gone.store(true);  // calls that start from now on get -ENODEV
  bus::cdev_del(*dev->cdev);
  R09Minors::release(dev->minor);
  // The driver core drops the driver's reference right after this returns; open files keep theirs.
}

DriverInfo r09_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r09_rcu_config_buggy" : "r09_rcu_config_fixed";
  info.bus = "usb";
  info.summary = buggy ? "R9: SET_CONFIG frees the old RCU config without a grace period (UAF in a reader)"
                       : "R9: SET_CONFIG frees the old RCU config after a grace period (RcuOld drop)";
  info.race = "R9";
  info.buggy = buggy;
  info.bug_kind = buggy ? "use-after-free" : "";
  info.node = "rcucfg0";
  info.ioctls = {{"GET_CONFIG", kR09GetConfig, 0}, {"SET_CONFIG", kR09SetConfig, 100}};
  info.ops = [buggy] { return bus::DriverOps{"", "usb", {}, buggy ? r09_probe_buggy : r09_probe_fixed, r09_remove}; };
  return info;
}

DriverInfo r09_rcu_config_buggy_info() {
  return r09_info(true);
}
DriverInfo r09_rcu_config_fixed_info() {
  return r09_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r09_rcu_config_buggy_info)
DEVSIM_REGISTER_DRIVER(r09_rcu_config_fixed_info)

}  // namespace devsim::drivers
