#include "bus/usb.hpp"

#include <mutex>

#include "bus/errno.hpp"
#include "bus/kernel.hpp"
#include "bus/mmio.hpp"
#include "sim/machine.hpp"

namespace devsim::bus {

namespace {
constexpr std::size_t kUsbRegisters = 16;

// The root hub, per machine. LIFETIME: registered once, never unplugged; the world's end reclaims it.
struct UsbState {
  std::once_flag once;  // natively, two first plugs may race to register it
  Device* root = nullptr;
};
// usb_disconnect(): whatever is plugged behind a device goes first, deepest first. Walks the device's own
// children, so the cost does not depend on how many other devices the bus has.
void disconnect_children(Device* dev, const Site& site) {
  while (!dev->children().empty()) {
    Device* child = dev->children().back();
    disconnect_children(child, site);
    if (child->mmio() != nullptr) child->mmio()->unplug();
    device_unregister(child, site);
  }
}
}  // namespace

BusType& usb_bus() {
  return kernel().register_bus("usb");
}

Device* usb_root_hub() {
  UsbState& s = sim::machine_state<UsbState>();
  const auto add_root = [&s] {
    s.root = Device::create("usb1", &usb_bus(), nullptr);
    s.root->set_modalias("usb:roothub");
    device_add(s.root);
    // Lives as long as the machine.
    if (sim::World* w = sim::World::current())
      w->memory().mark_not_leak(s.root->allocation());
    else
      sim::native::not_leak(s.root);
  };
  if (sim::World::current() != nullptr) {
    if (s.root == nullptr) add_root();
  } else {
    std::call_once(s.once, add_root);
  }
  return s.root;
}

namespace {
UsbDeviceSendHook g_send_hook = nullptr;
UsbDeviceGoneHook g_gone_hook = nullptr;
}  // namespace

Device* usb_plug(const std::string& port, const std::string& modalias, const Site& site) {
  return usb_plug(port, modalias, {}, site);
}

Device* usb_plug(const std::string& port, const std::string& modalias, const std::vector<UsbDeviceEvent>& script,
                 const Site& site) {
  BusType& bus = usb_bus();
  Device* root = usb_root_hub();
  core::MutexGuard hub = kernel().hotplug_lock().guard(site);
  if (bus.find_device(port) != nullptr) return nullptr;
  // "1-1.2" hangs off "1-1"; "1-1" off the root hub.
  Device* parent = root;
  if (std::size_t dot = port.rfind('.'); dot != std::string::npos) {
    parent = bus.find_device(port.substr(0, dot));
    if (parent == nullptr) return nullptr;
  }
  Device* dev = Device::create(port, &bus, parent, {}, site);
  dev->set_modalias(modalias, site);
  attach_mmio(*dev, kUsbRegisters);
  if (g_send_hook != nullptr)
    for (const UsbDeviceEvent& e : script)
      g_send_hook(*dev, e, site);
  if (device_add(dev, site) != 0) {
    put_device(dev, site);
    return nullptr;
  }
  return dev;
}

bool usb_unplug(const std::string& port, const Site& site) {
  BusType& bus = usb_bus();
  core::MutexGuard hub = kernel().hotplug_lock().guard(site);
  Device* dev = bus.find_device(port);
  if (dev == nullptr || dev == usb_root_hub()) return false;
  disconnect_children(dev, site);
  // The hardware is gone before the driver hears of it (surprise removal): remove() sees a dead device.
  if (dev->mmio() != nullptr) dev->mmio()->unplug();
  device_del(dev, site);
  if (g_gone_hook != nullptr) g_gone_hook(*dev, site);
  put_device(dev, site);
  return true;
}

void usb_set_device_gone_hook(UsbDeviceGoneHook hook) {
  g_gone_hook = hook;
}

void usb_set_device_send_hook(UsbDeviceSendHook hook) {
  g_send_hook = hook;
}

int usb_device_send(const std::string& port, UsbDeviceEvent event, const Site& site) {
  // The device acts at this point; the lookup and the hook run without another one, so the device found is live.
  if (sim::World* w = sim::World::current()) {
    w->yield(sim::EventKind::Sync, nullptr, site);
    Device* dev = usb_bus().find_device(port);
    if (dev == nullptr || dev == usb_root_hub()) return -kENODEV;
    return g_send_hook != nullptr ? g_send_hook(*dev, std::move(event), site) : 0;
  }
  // Natively an unplug may run meanwhile: the device is held across the hook, so it cannot be freed under it.
  Device* dev = usb_bus().find_device_get(port, site);
  if (dev == nullptr) return -kENODEV;
  const int r =
      dev != usb_root_hub() ? (g_send_hook != nullptr ? g_send_hook(*dev, std::move(event), site) : 0) : -kENODEV;
  put_device(dev, site);
  return r;
}

Driver* usb_register_driver(DriverOps ops, const Site& site) {
  usb_root_hub();
  ops.bus = "usb";
  return driver_register(std::move(ops), site);
}

}  // namespace devsim::bus
