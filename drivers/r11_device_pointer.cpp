// R11: a stored device pointer without a reference (Danilo Krummrich, seeds/004: "a pointer to a valid device"
// means a non-zero refcount; whoever stores one must hold a reference: get_device/put_device, ARef<Device>).
//
// A USB device exposes a node, /dev/devptrN, registered the way a misc device is: without a parent device, so
// nothing on the file path pins the USB device (open files hold the cdev and the driver state, not the device). The
// driver state is refcounted correctly (the cdev and every open file hold a reference, freed at the last release), and
// it remembers the device for its messages (dev_dbg) and for GET_NAME.
//
//   r11_device_pointer_buggy  stores a plain `Device*`: after unplug the hub drops its reference, the device is
//                             released and freed, and the next ioctl or release of a file still open logs
//                             through the stale pointer: use-after-free of the device in r11_ioctl/r11_release.
//   r11_device_pointer_fixed  stores an ARef<Device> taken in probe and dropped when the state is freed: the
//                             device memory outlives every user of the pointer (unbound and dead, but valid),
//                             and calls after unplug get -ENODEV.
#include <string>
#include <vector>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "core/aref.hpp"
#include "core/kref.hpp"
#include "drivers/minor_ida.hpp"
#include "drivers/registry.hpp"
#include "sim/kmalloc.hpp"
#include "sim/machine.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::CoreContext;
using bus::Device;
using bus::File;
using sim::Site;

constexpr unsigned kR11GetName = 0x5401;

struct R11Dev {
  core::Kref kref;  // the driver's reference, the cdev's, and one per open file
  bool buggy = false;
  // BUG (buggy variant): a bare pointer, no reference of its own. Valid only while the hub's reference lasts,
  // i.e. until unplug; the state (and this pointer) lives on as long as an open file.
  Device* dev_raw = nullptr;
  // The fix: a counted reference, dropped in r11_free() (the state's release).
  core::ARef<Device> dev_ref;
  Cdev* cdev = nullptr;
  int minor = 0;
  bool gone = false;  // set by remove(): calls after unplug get -ENODEV

  // The device to log through: whichever pointer this variant keeps.
  // LIFETIME: fixed: dev_ref holds a reference until r11_free(); buggy: nothing does (the bug).
  Device& device() const { return buggy ? *dev_raw : *dev_ref; }
};

// dev_dbg(): prints "<device name>: <what>", so it reads the device (a checked access at the caller's site).
void dev_dbg(const Device& dev, const char* what, const Site& site = Site::current()) {
  static_cast<void>(dev.name(site));
  static_cast<void>(what);  // the simulator prints nothing
}

// /dev/devptrN numbers, per machine (drivers/minor_ida.hpp).
using R11Minors = MinorIda<struct R11MinorsTag>;

// kref release: the state goes, and with it the device reference the fixed variant holds.
void r11_free(sim::KPtr<R11Dev> priv) {
  // LIFETIME: put_device() here may be the device's last put: the device is released after its last user.
  priv.write().dev_ref.drop();
  sim::kfree(priv);
}
void r11_put(sim::KPtr<R11Dev> priv) {
  priv.write().kref.put([priv] { r11_free(priv); });
}

// ---- file operations (shared) --------------------------------------------------------------------------------

int r11_open(Cdev& cdev, File& file) {
  // LIFETIME: the open holds the cdev, which holds a reference on the state until its release (on_release).
  sim::KPtr<R11Dev> priv = cdev.owner_ptr<R11Dev>();
  priv.write().kref.get();
  file.set_private(priv);
  return 0;
}

long r11_ioctl(File& file, unsigned cmd, unsigned long) {
  // LIFETIME: the file's reference keeps the state alive; the device is alive only if the state holds a
  // reference to it (the fixed variant).
  sim::KPtr<R11Dev> priv = file.private_data<R11Dev>();
  dev_dbg(priv.read().device(), "ioctl");
  if (priv.load_once(&R11Dev::gone)) return -bus::kENODEV;  // READ_ONCE: remove() sets it locklessly
  if (cmd != kR11GetName) return -bus::kENOTTY;
  return static_cast<long>(priv.read().device().name().size());
}

int r11_release(Cdev&, File& file) {
  sim::KPtr<R11Dev> priv = file.private_data<R11Dev>();
  dev_dbg(priv.read().device(), "release");
  r11_put(priv);
  return 0;
}

const bus::FileOperations kR11Fops{r11_open, nullptr, nullptr, r11_ioctl, nullptr, nullptr, r11_release};

// ---- probe / remove ---------------------------------------------------------------------------------------

int r11_probe(CoreContext& ctx, bool buggy) {
  sim::KPtr<R11Dev> priv = sim::kzalloc<R11Dev>();
  if (!priv) return -bus::kENOMEM;
  R11Dev& p = priv.write();  // LIFETIME: just allocated, ours alone until published below
  p.buggy = buggy;
  if (buggy)
    p.dev_raw = &ctx.device();  // BUG: no get_device(): the pointer does not keep the device
  else
    p.dev_ref = core::ARef<Device>(ctx.device());  // get_device(): the state holds the device until r11_free
  p.minor = R11Minors::alloc();
  p.cdev = bus::cdev_alloc(&kR11Fops);
  // LIFETIME: the cdev holds a reference on the state until its last put, so an open that found the node
  // finds the state alive. Set up before the node is published.
  p.cdev->set_owner(priv);
  p.kref.get();
  p.cdev->on_release = [priv] { r11_put(priv); };
  // No parent (misc style): the cdev does not hold the USB device.
  if (int r = bus::cdev_add(*p.cdev, "devptr" + std::to_string(p.minor), nullptr); r != 0) {
    bus::cdev_del(*p.cdev);  // the cdev's reference on the state goes with it
    R11Minors::release(p.minor);
    r11_put(priv);
    return r;
  }
  dev_dbg(p.device(), "probed");
  ctx->set_drvdata(priv.unchecked());
  return 0;
}
int r11_probe_buggy(CoreContext& ctx) {
  return r11_probe(ctx, true);
}
int r11_probe_fixed(CoreContext& ctx) {
  return r11_probe(ctx, false);
}

void r11_remove(CoreContext& ctx) {
  auto* raw = static_cast<R11Dev*>(ctx->drvdata());
  // LIFETIME: the driver's reference (from probe) is held until the put below.
  sim::KPtr<R11Dev> priv(raw);
  priv.store_once(&R11Dev::gone, true);      // WRITE_ONCE: ioctls read it without a lock
  bus::cdev_del(*priv.load(&R11Dev::cdev));  // no new opens; open files keep the cdev and the state
  R11Minors::release(priv.load(&R11Dev::minor));
  r11_put(priv);
}

DriverInfo r11_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r11_device_pointer_buggy" : "r11_device_pointer_fixed";
  info.bus = "usb";
  info.summary = buggy ? "R11: driver state keeps a bare Device* that outlives the device (UAF after unplug)"
                       : "R11: driver state keeps an ARef<Device>: the device outlives every user";
  info.race = "R11";
  info.buggy = buggy;
  info.bug_kind = buggy ? "use-after-free" : "";
  info.node = "devptr0";
  info.ioctls = {{"GET_NAME", kR11GetName, 0}};
  info.ops = [buggy] { return bus::DriverOps{"", "usb", {}, buggy ? r11_probe_buggy : r11_probe_fixed, r11_remove}; };
  return info;
}

DriverInfo r11_device_pointer_buggy_info() {
  return r11_info(true);
}
DriverInfo r11_device_pointer_fixed_info() {
  return r11_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r11_device_pointer_buggy_info)
DEVSIM_REGISTER_DRIVER(r11_device_pointer_fixed_info)

}  // namespace devsim::drivers
