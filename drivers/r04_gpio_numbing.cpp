// R4: GPIO "numbing" (Linus Walleij, Kernel Summit 2021, seed 002): when a device with GPIOs goes away, gpiolib
// keeps its struct gpio_device (and the cdev userspace holds) until the last reference, but clears the pointer to
// the driver's struct gpio_chip, and every call checks it: "the device is numbed".
//
// A USB GPIO expander (its get() is a USB control transfer: it sleeps) under a small copy of gpiolib, with the
// chardev /dev/gpiochipN and one ioctl, GET_LINE_VALUE <offset>.
//
//   r04_gpio_numbing_buggy  gpiolib as it was: `if (!gdev->chip) return -ENODEV;` then chip->get(). Nothing keeps
//                           the chip alive between the check and the use: gpiochip_remove() clears the pointer and
//                           the driver's devm'd chip is freed while a call sleeps in get(): use-after-free.
//   r04_gpio_numbing_fixed  gpiolib as it is now: gdev->chip is SRCU-protected. Callers hold an SRCU read section
//                           (sleepable: get() sleeps) around dereference and use; gpiochip_remove() clears the
//                           pointer, then synchronize_srcu() waits for the callers in flight, and only then may the
//                           chip be freed. A call after removal finds NULL: -ENODEV.
#include <cstdint>
#include <string>

#include "bus/cdev.hpp"
#include "bus/devm.hpp"
#include "bus/errno.hpp"
#include "bus/kernel.hpp"
#include "core/kref.hpp"
#include "core/srcu.hpp"
#include "drivers/registry.hpp"
#include "sim/machine.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::CoreContext;
using bus::File;
using bus::FileOperations;

constexpr unsigned kGpioGetLineValue = 1;            // GPIO_GET_LINE_VALUE <offset>: 0 or 1
constexpr int kExpanderLines = 8;                    // ngpio
constexpr std::uint32_t kExpanderPort = 0xa5;        // what the (mock) expander's pins read
constexpr sim::Nanos kControlMsgDuration = 200'000;  // a USB control transfer: 200 us

std::string gpiochip_node_name() {
  for (int n = 0;; ++n) {
    std::string name = "gpiochip" + std::to_string(n);
    if (bus::kernel().find_devnode(name) == nullptr) return name;
  }
}

template <class T>
sim::KPtr<T> expander_get_drvdata(bus::Device& dev) {
  auto* p = static_cast<T*>(dev.drvdata());
  return sim::KPtr<T>(p);
}

struct GpioDevice;

// struct gpio_chip: the driver's, devm_kzalloc'd (it lives as long as the binding).
struct GpioChip {
  int ngpio = 0;
  std::uint32_t port = 0;  // the last state read from the expander
  sim::KPtr<GpioDevice> gdev;
};

// struct gpio_device: gpiolib's, reference-counted; holds the cdev userspace opens.
struct GpioDevice {
  Cdev cdev;  // first: container_of(inode->i_cdev)
  core::Kref kref;
  core::Srcu srcu{"gpio_device_srcu"};  // protects `chip` (fixed variant)
  sim::KPtr<GpioChip> chip;             // NULL once the chip was removed: "numbed"
};

void gpio_device_put(sim::KPtr<GpioDevice> gdev) {
  gdev.write().kref.put([gdev] { sim::kfree(gdev); });
}

// ---- the expander driver's gpio_chip callbacks (shared) -------------------------------------------------------

// chip->get(): a USB control transfer reads the port, then the line's bit. Sleeps.
int r04_expander_get(sim::KPtr<GpioChip> chip, unsigned offset) {
  sim::sleep_for(kControlMsgDuration);  // usb_control_msg(): the expander may be unplugged meanwhile
  // Marked: concurrent gets on one chip each latch the port into the same field (a register-style cache).
  chip.store_once(&GpioChip::port, kExpanderPort);
  return static_cast<int>((chip.load_once(&GpioChip::port) >> offset) & 1u);
}

// ---- gpiolib's chardev ---------------------------------------------------------------------------------------

long r04_buggy_ioctl(File& file, unsigned cmd, unsigned long arg) {
  if (cmd != kGpioGetLineValue) return -bus::kENOTTY;
  // LIFETIME: the file holds the cdev, the cdev holds the gpio_device.
  sim::KPtr<GpioDevice> gdev = file.cdev()->owner_ptr<GpioDevice>();
  sim::KPtr<GpioChip> chip = gdev.load(&GpioDevice::chip);
  if (!chip) return -bus::kENODEV;  // numbed: the chip is gone
  if (arg >= static_cast<unsigned long>(chip.load(&GpioChip::ngpio))) return -bus::kEINVAL;
  // BUG: check-then-use without synchronisation. gpiochip_remove() can clear gdev->chip and the driver's devres
  // free the chip from here on; get() below sleeps, then reads the freed chip.
  return r04_expander_get(chip, static_cast<unsigned>(arg));
}

long r04_fixed_ioctl(File& file, unsigned cmd, unsigned long arg) {
  if (cmd != kGpioGetLineValue) return -bus::kENOTTY;
  // LIFETIME: the file holds the cdev, the cdev holds the gpio_device (and its srcu_struct).
  sim::KPtr<GpioDevice> gdev = file.cdev()->owner_ptr<GpioDevice>();
  // LIFETIME: the chip stays alive while this SRCU read section is held: gpiochip_remove() waits for it in
  // synchronize_srcu() before the chip can be freed. SRCU, not RCU, because get() sleeps.
  core::SrcuReadGuard guard = gdev.write().srcu.read_lock();
  // srcu_dereference(): a marked load (include/linux/srcu.h: READ_ONCE underneath).
  sim::KPtr<GpioChip> chip = gdev.load_once(&GpioDevice::chip);
  if (!chip) return -bus::kENODEV;  // numbed: the chip is gone
  if (arg >= static_cast<unsigned long>(chip.load(&GpioChip::ngpio))) return -bus::kEINVAL;
  return r04_expander_get(chip, static_cast<unsigned>(arg));
}

const FileOperations kBuggyGpioFops{nullptr, nullptr, nullptr, r04_buggy_ioctl, nullptr, nullptr, nullptr};
const FileOperations kFixedGpioFops{nullptr, nullptr, nullptr, r04_fixed_ioctl, nullptr, nullptr, nullptr};

// gpiochip_add_data(): the gpio_device and its chardev.
int gpiochip_add(sim::KPtr<GpioChip> chip, bus::Device& parent, const FileOperations* fops) {
  // LIFETIME: kzalloc'd and counted: gpiolib's reference, then the cdev's (dropped by the cdev's release).
  sim::KPtr<GpioDevice> gdev = sim::kzalloc<GpioDevice>();
  if (!gdev) return -bus::kENOMEM;
  gdev.store(&GpioDevice::chip, chip);
  Cdev& cdev = gdev.write().cdev;
  bus::cdev_init(cdev, fops);
  cdev.set_owner(gdev);
  gdev.write().kref.get();
  cdev.on_release = [gdev] { gpio_device_put(gdev); };
  chip.store(&GpioChip::gdev, gdev);
  int ret = bus::cdev_add(cdev, gpiochip_node_name(), &parent);
  if (ret != 0) {
    bus::cdev_del(cdev);
    gpio_device_put(gdev);
  }
  return ret;
}

// gpiochip_remove(): numbs the gpio_device; the chip's memory may be freed when this returns.
void gpiochip_remove(sim::KPtr<GpioChip> chip, bool synchronize) {
  sim::KPtr<GpioDevice> gdev = chip.load(&GpioChip::gdev);
  gdev.store_once(&GpioDevice::chip, nullptr);  // rcu_assign_pointer(gdev->chip, NULL): marked
  if (synchronize) {
    // Every caller that could still see the old pointer is inside an SRCU section that began before this.
    gdev.write().srcu.synchronize();
  }
  // (buggy) BUG: no grace period: a caller that read the pointer just before it was cleared is still using it.
  bus::cdev_del(gdev.write().cdev);  // no new opens; open files keep the gpio_device
  gpio_device_put(gdev);             // gpiolib's reference
}

// ---- the expander driver's probe/remove (shared) ---------------------------------------------------------------

int expander_probe(CoreContext& ctx, const FileOperations* fops) {
  // LIFETIME: the chip belongs to the binding (devm); gpiolib must not let anyone use it after remove().
  sim::KPtr<GpioChip> chip = bus::devm_kzalloc<GpioChip>(ctx);
  if (!chip) return -bus::kENOMEM;
  chip.store(&GpioChip::ngpio, kExpanderLines);
  ctx->set_drvdata(chip.unchecked());
  return gpiochip_add(chip, ctx.device(), fops);
}

int r04_buggy_probe(CoreContext& ctx) {
  return expander_probe(ctx, &kBuggyGpioFops);
}
int r04_fixed_probe(CoreContext& ctx) {
  return expander_probe(ctx, &kFixedGpioFops);
}
void r04_buggy_remove(CoreContext& ctx) {
  gpiochip_remove(expander_get_drvdata<GpioChip>(ctx.device()), false);
}
void r04_fixed_remove(CoreContext& ctx) {
  gpiochip_remove(expander_get_drvdata<GpioChip>(ctx.device()), true);
}

DriverInfo r04_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r04_gpio_numbing_buggy" : "r04_gpio_numbing_fixed";
  info.bus = "usb";
  info.summary = buggy ? "R4 buggy: gpiolib checks gdev->chip then uses it unsynchronised: UAF window in get()"
                       : "R4 fixed: SRCU-protected chip pointer (clear, synchronize_srcu, free): -ENODEV, no UAF";
  info.race = "R4";
  info.buggy = buggy;
  if (buggy) info.bug_kind = "use-after-free";
  info.node = "gpiochip0";
  info.ioctls = {{"GET_LINE_VALUE", kGpioGetLineValue, kExpanderLines - 1}};
  info.ops = [buggy] {
    bus::DriverOps ops;
    ops.bus = "usb";
    ops.probe = buggy ? r04_buggy_probe : r04_fixed_probe;
    ops.remove = buggy ? r04_buggy_remove : r04_fixed_remove;
    return ops;
  };
  return info;
}

DriverInfo r04_gpio_numbing_buggy_info() {
  return r04_info(true);
}
DriverInfo r04_gpio_numbing_fixed_info() {
  return r04_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r04_gpio_numbing_buggy_info);
DEVSIM_REGISTER_DRIVER(r04_gpio_numbing_fixed_info);

}  // namespace devsim::drivers
