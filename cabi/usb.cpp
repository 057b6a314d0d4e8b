// The C ABI of linux/usb.h: USB interface drivers on devsim's USB bus (bus/usb.hpp), the USB core's character-device
// minors (drivers/usb/core/file.c), URBs and a host controller that gives them back in hard-IRQ context
// (drivers/usb/core/hcd.c), and the mock device's side of its endpoints. Functions named after the kernel's
// (usb_open, usb_hcd_giveback_urb) are the kernel's own code in the model: a report in them names the kernel
// function, as KASAN would.
#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bus/cdev.hpp"
#include "bus/driver.hpp"
#include "bus/errno.hpp"
#include "bus/host_lock.hpp"
#include "bus/irq.hpp"
#include "bus/kernel.hpp"
#include "bus/mmio.hpp"
#include "bus/sysfs.hpp"
#include "bus/usb.hpp"
#include "cabi/kernel_api.hpp"
#include "cabi/module.hpp"
#include "cabi/site.hpp"
#include "cabi/state.hpp"
#include "core/irqflags.hpp"
#include "core/rwsem.hpp"
#include "sim/kmalloc.hpp"
#include "sim/machine.hpp"
#include "sim/memory.hpp"

extern "C" {
#include "include/linux/usb.h"
}
#include "cabi/c_headers.hpp"
#undef usb_register
#undef usb_deregister
#undef usb_register_dev
#undef usb_deregister_dev
#undef usb_find_interface
#undef usb_alloc_urb
#undef usb_free_urb
#undef usb_get_urb
#undef usb_submit_urb
#undef usb_kill_urb
#undef usb_unlink_urb
#undef usb_get_dev
#undef usb_put_dev
#undef interface_to_usbdev
#undef usb_poison_urb
#undef usb_unpoison_urb
#undef usb_block_urb
#undef usb_alloc_coherent
#undef usb_free_coherent
#undef init_usb_anchor
#undef usb_anchor_urb
#undef usb_unanchor_urb
#undef usb_kill_anchored_urbs
#undef usb_poison_anchored_urbs
#undef usb_unpoison_anchored_urbs
#undef usb_unlink_anchored_urbs
#undef usb_scuttle_anchored_urbs
#undef usb_get_from_anchor
#undef usb_wait_anchor_empty_timeout
#undef usb_anchor_empty
#undef usb_control_msg
#undef usb_bulk_msg
#undef usb_interrupt_msg
#undef usb_clear_halt

namespace devsim::cabi {

namespace {

constexpr unsigned kUsbMajor = 180;  // USB_MAJOR
constexpr int kMaxUsbMinors = 256;   // MAX_USB_MINORS
constexpr int kEINPROGRESS = 115;
constexpr int kECONNRESET = 104;
constexpr int kEOVERFLOW = 75;
constexpr int kEXFULL = 54;
constexpr int kEADDRINUSE = 98;
constexpr int kENOEXEC = 8;
constexpr int kETIMEDOUT = 110;
constexpr unsigned kNumEndpoints = 4;
// The report of a driver's I/O after its disconnect() returned (submit_locked).
constexpr const char* kIoAfterDisconnect = "io-after-disconnect";

// The endpoints every mock device has (documented in linux/usb.h). Interrupt-out is last: drivers written when the
// mock had three endpoints find the first three where they were.
constexpr struct {
  std::uint8_t address, attributes;
  std::uint16_t maxp;
  std::uint8_t interval;
} kEndpoints[kNumEndpoints] = {
    {0x81, USB_ENDPOINT_XFER_INT, 8, 10},
    {0x82, USB_ENDPOINT_XFER_BULK, 64, 0},
    {0x02, USB_ENDPOINT_XFER_BULK, 64, 0},
    {0x01, USB_ENDPOINT_XFER_INT, 8, 10},
};

// The C structures standing for one plugged device: one allocation in simulated memory, freed with the device.
struct CUsbLayout {
  struct usb_device udev;
  struct usb_host_config config;
  struct usb_interface intf;
  struct usb_host_interface alt;
  struct usb_host_endpoint eps[kNumEndpoints];
  char name[32];
  char intf_name[40];  // the interface's: "1-1:1.0" (configuration 1, interface 0), as usb_set_configuration names it
  // The strings the USB core reads at enumeration (usb_device's product, manufacturer, serial).
  char manufacturer[8];
  char product[24];
  char serial[48];
};

// The mock device's string descriptors (language 0x0409): index 1, 2, 3 of its device descriptor.
constexpr std::uint8_t kStringManufacturer = 1, kStringProduct = 2, kStringSerial = 3;
constexpr const char* kManufacturer = "devsim";
constexpr const char* kProduct = "devsim mock USB device";
constexpr int kEPIPE = 32;
constexpr std::uint8_t kConfigAttributes = 0x80;  // bus-powered, no remote wake-up
constexpr std::uint8_t kConfigMaxPower = 50;      // 100 mA, in units of 2 mA

// An URB as the host controller sees it.
// LIFETIME: records are kept until the execution ends (keyed by the URB's address, never reused in an execution),
// so a task waiting in usb_kill_urb never outlives its record.
// The kernel's two notions: `linked` (urb->hcpriv: the host controller owns it; a submission now is "submitted while
// active") ends just before the completion handler is called, so the handler may resubmit it; `use_count` (from
// submission until the completion handler returned) is what usb_kill_urb and usb_disable_interface wait for.
struct CUrb {
  bool linked = false;
  int use_count = 0;
  bool queued = false;  // waiting on an IN endpoint for the device
  int reject = 0;       // usb_kill_urb in progress, usb_poison_urb/usb_block_urb: submissions fail with -EPERM
  bus::Device* dev = nullptr;
};

// An anchor (struct usb_anchor): its URBs oldest first, and the completions of its URBs still running (the kernel's
// suspend_wakeups: the anchor is not empty for waiters until they returned).
struct CAnchor {
  std::deque<struct urb*> urbs;
  int suspend_wakeups = 0;
  bool poisoned = false;
  bool empty() const { return urbs.empty() && suspend_wakeups == 0; }
};

// One devsim device a C USB driver probed.
struct CUsbDev {
  CUsbLayout* c = nullptr;
  const struct usb_driver* bound = nullptr;  // between probe and the end of disconnect
  // The driver whose disconnect() returned last, while no driver is bound since: it may do no I/O to the device.
  const struct usb_driver* disconnected = nullptr;
  bool enabled = false;   // endpoints enabled: from probe to usb_disable_interface, and again after an unbind
  bool gone = false;      // unplugged: USB_STATE_NOTATTACHED
  bool intf_dir = false;  // the interface's sysfs directory and its /sys/bus/usb/devices link are made
  std::deque<struct urb*> int_in_queue;  // IN URBs waiting for the device, in submission order
  std::deque<struct urb*> bulk_in_queue;
};

struct CUsbDriver {
  struct usb_driver* c = nullptr;
  const CModuleSpec* spec = nullptr;
  bus::Driver* bus = nullptr;
};

// A /dev node of a USB minor: opening it runs usb_open.
struct CUsbNode : bus::Cdev {
  int minor = -1;
  char name[64] = {};            // the class device's name ("adutux0")
  struct device class_dev = {};  // what a class driver's devnode callback is given (host memory)
};

struct CUsbState {
  std::map<const bus::Device*, CUsbDev> devices;
  std::map<const struct usb_device*, bus::Device*> by_udev;
  std::map<const struct usb_interface*, bus::Device*> by_intf;
  std::map<const struct usb_driver*, CUsbDriver> drivers;
  std::map<const struct urb*, CUrb> urbs;
  // What the device does with the next transfers on each endpoint (bytes it sends, or a status it ends them with),
  // per device (bus device: it may come before any probe) and endpoint address: `usb-data` and `usb-error` that no
  // URB took yet.
  std::map<const bus::Device*, std::map<unsigned, std::deque<bus::UsbDeviceEvent>>> fifo;
  // LIFETIME: anchors are kept until the execution ends (keyed by address; simulated memory is not reused within an
  // execution), so a task waiting on one never outlives its record.
  std::map<const struct usb_anchor*, CAnchor> anchors;
  // drivers/usb/core/file.c: usb_minors[] under minor_rwsem.
  std::array<const struct file_operations*, kMaxUsbMinors> minors{};
  core::RwSemaphore minor_rwsem{"minor_rwsem"};
  // LIFETIME: nodes are kept until the execution ends: open files hold the bus cdev after deregistration.
  std::vector<std::unique_ptr<CUsbNode>> nodes;
  std::map<int, CUsbNode*> node_of_minor;
  int next_devnum = 2;  // the root hub is 1
};

// The machine's USB core. Natively it is shared by the machine's threads and read and changed only under the
// HostGuard (the kernel's hcd_urb_list_lock, anchor->lock and usb_kill_urb_queue's lock in one); in the simulator a
// task switches only at scheduling points, none inside a step, and the guard holds nothing. Functions that say
// "under the guard" require it held natively.
CUsbState& ustate() {
  return sim::machine_state<CUsbState>();
}

// The simulator's C USB device records alive on this thread, in all its worlds (a world runs on one thread): at 0
// device_gone has none to find and need not make the state to look (every unplug of a C++ driver's device would).
// INVARIANT: counted up when usb_dev_of makes a record and down only at that record's release, so it is never 0
// while a record of this thread's worlds exists (a world torn down without releasing its records only leaves it
// higher: the slower path, never a skipped flush).
thread_local std::size_t t_sim_records = 0;

// A scheduling point on `object` (the simulator's; nothing natively, where the guard orders the steps).
void point(const void* object, const sim::Site& site) {
  if (sim::World* w = sim_world()) w->yield(sim::EventKind::Sync, object, site);
}
// Wakes whoever waits on `channel`: the simulator's tasks blocked on it; natively every HostGuard wait rechecks.
void wake(const void* channel, const sim::Site& site) {
  if (sim::World* w = sim_world()) {
    w->wake_all(channel, site);
    return;
  }
  bus::HostGuard::notify_all();
}
// What happened before the last wake of `channel` happens before the caller's next step (the race detector's edge
// for a wait that found its condition without sleeping; natively the guard gives it).
void happens_after(const void* channel) {
  if (sim::World* w = sim_world()) w->races().acquire(w->current_task(), channel);
}
// Waits, under the guard, until done() holds: the simulator blocks the task on `channel` (woken by wake(channel));
// natively the guard's wait.
template <class Done>
void wait_until(bus::HostGuard& guard, const void* channel, const char* what, const sim::Site& site, Done done) {
  if (sim::World* w = sim_world()) {
    while (!done())
      w->block(channel, what, site);
    return;
  }
  guard.wait(done);
}

// What a USB modalias says of the device: "usb:vVVVVpPPPP", optionally followed by the interface's class, subclass
// and protocol in the kernel's notation (drivers/usb/core/message.c usb_if_uevent: "icXXiscXXipXX"), each optional
// from the right. An interface without them is vendor-specific (class 0xff, subclass and protocol 0).
struct UsbIds {
  unsigned vendor = 0, product = 0;
  unsigned intf_class = 0xff, intf_subclass = 0, intf_protocol = 0;
};
std::optional<UsbIds> parse_usb_modalias(const std::string& alias) {
  UsbIds ids;
  int used = 0;
  if (std::sscanf(alias.c_str(), "usb:v%4xp%4x%n", &ids.vendor, &ids.product, &used) != 2 || used != 14)
    return std::nullopt;
  const char* rest = alias.c_str() + used;
  // Each field: its tag, then two hex digits.
  for (auto [tag, field] :
       {std::pair{"ic", &ids.intf_class}, std::pair{"isc", &ids.intf_subclass}, std::pair{"ip", &ids.intf_protocol}}) {
    const std::size_t n = std::strlen(tag);
    if (std::strncmp(rest, tag, n) != 0) break;
    if (!std::isxdigit(static_cast<unsigned char>(rest[n])) || !std::isxdigit(static_cast<unsigned char>(rest[n + 1])))
      return std::nullopt;
    *field = static_cast<unsigned>(std::stoul(std::string(rest + n, 2), nullptr, 16));
    rest += n + 2;
  }
  if (*rest != '\0') return std::nullopt;
  return ids;
}

std::string usb_modalias(unsigned vendor, unsigned product) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "usb:v%04Xp%04X", vendor & 0xffff, product & 0xffff);
  return buf;
}

// drivers/usb/core/driver.c usb_match_device and usb_match_one_id_intf: the fields match_flags names must be equal.
// devsim's devices have a vendor and product and their interface a class, subclass and protocol; the device's own
// class is 0 (defined per interface), so the kernel's exception for a vendor-specific device class never applies.
// The flags of fields devsim's devices do not have (bcdDevice, the device class) match anything; the one interface is
// number 0.
bool usb_id_matches(const struct usb_device_id& id, const struct usb_device& udev,
                    const struct usb_interface_descriptor& intf) {
  if ((id.match_flags & USB_DEVICE_ID_MATCH_VENDOR) && id.idVendor != udev.descriptor.idVendor) return false;
  if ((id.match_flags & USB_DEVICE_ID_MATCH_PRODUCT) && id.idProduct != udev.descriptor.idProduct) return false;
  if ((id.match_flags & USB_DEVICE_ID_MATCH_INT_CLASS) && id.bInterfaceClass != intf.bInterfaceClass) return false;
  if ((id.match_flags & USB_DEVICE_ID_MATCH_INT_SUBCLASS) && id.bInterfaceSubClass != intf.bInterfaceSubClass)
    return false;
  if ((id.match_flags & USB_DEVICE_ID_MATCH_INT_PROTOCOL) && id.bInterfaceProtocol != intf.bInterfaceProtocol)
    return false;
  if ((id.match_flags & USB_DEVICE_ID_MATCH_INT_NUMBER) && id.bInterfaceNumber != intf.bInterfaceNumber) return false;
  return true;
}

// The alias an id matches (the bus's id_table entry), a glob as scripts/mod/file2alias.c writes it: "usb:vVVVVpPPPP*"
// (any interface), "usb:v10D2p*" for a vendor-only match, "usb:v*" without a vendor. The interface fields an entry
// names are checked when the driver probes (usb_id_matches): a device they do not match is not the driver's.
std::string usb_id_alias(const struct usb_device_id& id) {
  char buf[32];
  if (!(id.match_flags & USB_DEVICE_ID_MATCH_VENDOR)) return "usb:v*";
  if (!(id.match_flags & USB_DEVICE_ID_MATCH_PRODUCT)) {
    std::snprintf(buf, sizeof buf, "usb:v%04Xp*", id.idVendor & 0xffffu);
    return buf;
  }
  return usb_modalias(id.idVendor, id.idProduct) + "*";
}

// The C structures of `bd`, made at the first probe of a C driver on it: the device descriptor says the ids of the
// modalias it was plugged with (or, for the module's name, of the driver's first id_table entry).
// INVARIANT: called by the device's probe, under its device lock: no other thread makes the structures of `bd`.
CUsbDev& usb_dev_of(bus::Device& bd, const struct usb_driver* drv, const sim::Site& site) {
  CUsbState& st = ustate();
  {
    bus::HostGuard guard;
    // LIFETIME: a std::map node: the reference stays valid until the device's release erases it.
    CUsbDev& d = st.devices[&bd];
    if (d.c != nullptr) return d;
  }
  auto* c = static_cast<CUsbLayout*>(kernel_zalloc(sizeof(CUsbLayout), site));
  std::optional<UsbIds> parsed = parse_usb_modalias(bd.modalias(site));
  UsbIds ids = parsed.value_or(UsbIds{});
  if (!parsed && drv->id_table != nullptr) {  // bound by the module's name: a device its first entry matches
    const struct usb_device_id& first = drv->id_table[0];
    ids.vendor = first.idVendor;
    ids.product = first.idProduct;
    if (first.match_flags & USB_DEVICE_ID_MATCH_INT_CLASS) ids.intf_class = first.bInterfaceClass;
    if (first.match_flags & USB_DEVICE_ID_MATCH_INT_SUBCLASS) ids.intf_subclass = first.bInterfaceSubClass;
    if (first.match_flags & USB_DEVICE_ID_MATCH_INT_PROTOCOL) ids.intf_protocol = first.bInterfaceProtocol;
  }
  const unsigned vendor = ids.vendor, product = ids.product;
  std::snprintf(c->name, sizeof c->name, "%s", bd.name(site).c_str());
  std::snprintf(c->intf_name, sizeof c->intf_name, "%s:1.0", c->name);
  std::snprintf(c->udev.devpath, sizeof c->udev.devpath, "%.15s", c->name);
  c->udev.state = USB_STATE_CONFIGURED;
  c->udev.descriptor.bLength = 18;
  c->udev.descriptor.bDescriptorType = 1;
  c->udev.descriptor.idVendor = static_cast<std::uint16_t>(vendor);
  c->udev.descriptor.idProduct = static_cast<std::uint16_t>(product);
  // A high-speed USB 2.0 device, release 1.00: drivers size buffers from bMaxPacketSize0 (ldusb.c's control-endpoint
  // writes), and a 0 there, which no device reports (USB 2.0 section 9.6.1: 8, 16, 32 or 64), made them 0 bytes.
  c->udev.descriptor.bcdUSB = 0x0200;
  c->udev.descriptor.bMaxPacketSize0 = 64;
  c->udev.descriptor.bcdDevice = 0x0100;
  c->udev.descriptor.bNumConfigurations = 1;
  c->udev.descriptor.iManufacturer = kStringManufacturer;
  c->udev.descriptor.iProduct = kStringProduct;
  c->udev.descriptor.iSerialNumber = kStringSerial;
  std::snprintf(c->manufacturer, sizeof c->manufacturer, "%s", kManufacturer);
  std::snprintf(c->product, sizeof c->product, "%s", kProduct);
  std::snprintf(c->serial, sizeof c->serial, "devsim-%.31s", c->name);
  // The one configuration (1, bus-powered, 100 mA), active, with the one interface. The standard GET_DESCRIPTOR
  // answer (standard_answer) is the device's copy of the same descriptor.
  c->udev.speed = USB_SPEED_HIGH;
  c->config.desc.bLength = 9;
  c->config.desc.bDescriptorType = USB_DT_CONFIG;
  c->config.desc.wTotalLength = 9 + 9 + 7 * kNumEndpoints;
  c->config.desc.bNumInterfaces = 1;
  c->config.desc.bConfigurationValue = 1;
  c->config.desc.bmAttributes = kConfigAttributes;
  c->config.desc.bMaxPower = kConfigMaxPower;
  c->config.interface[0] = &c->intf;
  c->udev.config = &c->config;
  c->udev.actconfig = &c->config;
  c->udev.manufacturer = c->manufacturer;
  c->udev.product = c->product;
  c->udev.serial = c->serial;
  c->udev.dev.__devsim_name = c->name;
  c->udev.dev.__devsim_dev = &bd;
  c->alt.desc.bLength = 9;
  c->alt.desc.bDescriptorType = 4;
  c->alt.desc.bNumEndpoints = kNumEndpoints;
  c->alt.desc.bInterfaceClass = static_cast<std::uint8_t>(ids.intf_class);
  c->alt.desc.bInterfaceSubClass = static_cast<std::uint8_t>(ids.intf_subclass);
  c->alt.desc.bInterfaceProtocol = static_cast<std::uint8_t>(ids.intf_protocol);
  c->alt.endpoint = c->eps;
  for (unsigned i = 0; i < kNumEndpoints; ++i) {
    c->eps[i].desc.bLength = 7;
    c->eps[i].desc.bDescriptorType = 5;
    c->eps[i].desc.bEndpointAddress = kEndpoints[i].address;
    c->eps[i].desc.bmAttributes = kEndpoints[i].attributes;
    c->eps[i].desc.wMaxPacketSize = kEndpoints[i].maxp;
    c->eps[i].desc.bInterval = kEndpoints[i].interval;
  }
  c->intf.altsetting = &c->alt;
  c->intf.cur_altsetting = &c->alt;
  c->intf.num_altsetting = 1;
  c->intf.minor = -1;
  c->intf.dev.parent = &c->udev.dev;
  c->intf.dev.__devsim_name = c->intf_name;
  c->intf.dev.__devsim_dev = &bd;
  CUsbDev* d = nullptr;
  {
    bus::HostGuard guard;
    c->udev.devnum = st.next_devnum++;
    d = &st.devices[&bd];
    d->c = c;
    if (sim_world() != nullptr) ++t_sim_records;
    st.by_udev[&c->udev] = &bd;
    st.by_intf[&c->intf] = &bd;
  }
  // LIFETIME: freed when the bus device is released (its last put_device), in the task that dropped it.
  bd.add_release_hook([c](bus::Device& dev) {
    {
      bus::HostGuard guard;
      CUsbState& s = ustate();
      s.by_udev.erase(&c->udev);
      s.by_intf.erase(&c->intf);
      s.devices.erase(&dev);
      s.fifo.erase(&dev);
      if (sim_world() != nullptr && t_sim_records > 0) --t_sim_records;
    }
    c_kfree(c, sim::Site::current());
  });
  return *d;
}

// Under the guard.
CUsbDev* dev_record(bus::Device* bd) {
  if (bd == nullptr) return nullptr;
  auto it = ustate().devices.find(bd);
  return it == ustate().devices.end() ? nullptr : &it->second;
}

// The transfer type of the mock device's endpoint `address` (0: the control endpoint), or -1 when it has none.
int endpoint_type(unsigned address) {
  if (address == 0) return USB_ENDPOINT_XFER_CONTROL;
  for (const auto& ep : kEndpoints)
    if (ep.address == address) return ep.attributes;
  return -1;
}

// ---- the host controller ------------------------------------------------------------------------------------

// usb_free_urb's count: the last reference frees the URB (urb_destroy).
void urb_put(struct urb* urb, const sim::Site& site) {
  check_primitive(&urb->__devsim_refs, site, 0);
  if (refcount_of(&urb->__devsim_refs)->dec_and_test(site)) c_kfree(urb, site);
}

// Takes `urb` off `anchor` (urb->anchor is `anchor`; both checked by the caller). The anchor's reference on the URB
// is the caller's to drop. Wakes the anchor's waiters when it is empty now. Under the guard.
void unanchor_locked(struct urb* urb, struct usb_anchor* anchor, const sim::Site& site) {
  CAnchor& a = ustate().anchors[anchor];
  if (auto it = std::find(a.urbs.begin(), a.urbs.end(), urb); it != a.urbs.end()) a.urbs.erase(it);
  urb->anchor = nullptr;
  anchor->__devsim_urbs = static_cast<unsigned>(a.urbs.size());
  if (a.empty()) wake(&a, site);
}

// __usb_hcd_giveback_urb(): the completion handler, in hard-IRQ context on the host controller's interrupt.
void usb_hcd_giveback_urb_irq(struct urb* urb, int status, const sim::Site& raised_at) {
  // A point on the URB: what the submitter wrote before usb_submit_urb (its point on the URB) happens before the
  // completion, as the host controller's hcd_urb_list_lock orders them in the kernel.
  point(urb, raised_at);
  // The URB leaves its anchor before the handler runs (so the handler may anchor it again), but the anchor's
  // waiters see it empty only once the handler returned (usb_anchor_suspend_wakeups/usb_anchor_resume_wakeups).
  struct usb_anchor* anchor = nullptr;
  CAnchor* a = nullptr;
  {
    bus::HostGuard guard;  // natively: urb->anchor is read and changed under the anchor's lock
    if (kernel_touch(&urb->anchor, sizeof urb->anchor, false, sim::Site::current()) && urb->anchor != nullptr) {
      point(urb->anchor, raised_at);  // the anchor's lock
      anchor = urb->anchor;
    }
    if (anchor != nullptr && kernel_touch(anchor, sizeof *anchor, true, sim::Site::current())) {
      a = &ustate().anchors[anchor];
      ++a->suspend_wakeups;
      unanchor_locked(urb, anchor, raised_at);
      urb_put(urb, raised_at);  // the anchor's reference (usb_submit_urb's keeps the URB alive)
    }
  }
  {
    // Natively the interrupt CPU's thread is in hard-IRQ context already (bus::run_in_native_hardirq).
    std::optional<core::HardIrqScope> hardirq;
    if (sim_world() != nullptr) hardirq.emplace(raised_at);
    const sim::Site site = sim::Site::current();
    kernel_touch(urb, sizeof *urb, true, site);
    usb_complete_t fn = nullptr;
    {
      bus::HostGuard guard;
      urb->status = status;
      ustate().urbs[urb].linked = false;  // usb_hcd_unlink_urb_from_ep, just before the giveback
      fn = urb->complete;
    }
    sim::World* w = sim_world();
    if (w != nullptr) w->note_acquired(urb, "hardirq context (usb_hcd_giveback_urb)", raised_at, sim::HoldKind::Atomic);
    if (fn != nullptr) fn(urb);
    if (w != nullptr) w->note_released(urb);
  }
  {
    bus::HostGuard guard;
    if (a != nullptr) {
      // The handler may have freed the anchor's memory: the kernel's usb_anchor_resume_wakeups reads it here.
      kernel_touch(anchor, sizeof *anchor, false, sim::Site::current());
      --a->suspend_wakeups;
      if (a->empty()) wake(a, raised_at);
    }
    CUrb& u = ustate().urbs[urb];
    --u.use_count;
    wake(&u, raised_at);
  }
  // LIFETIME: natively a waiter may end the machine after the wake above; what is left touches only the URB, which
  // this reference keeps (the quarantining heap never reuses it).
  urb_put(urb, raised_at);  // the reference usb_submit_urb took (usb_hcd_giveback_urb's usb_put_urb)
}

// usb_hcd_giveback_urb(): the URB's transfer is over with `status`; its completion runs on the controller's
// interrupt, in a task of its own (natively on an interrupt CPU). Under the guard.
// LIFETIME (native): the completion holds the URB's use count until its last step on the machine, so whoever ends
// the machine (natively usb_disable_interface waits for every completion of the device) waits for it.
void giveback(struct urb* urb, int status, const sim::Site& site) {
  ustate().urbs[urb].queued = false;
  sim::World* w = sim_world();
  if (w == nullptr) {
    bus::run_in_native_hardirq([urb, status, site] { usb_hcd_giveback_urb_irq(urb, status, site); });
    return;
  }
  const sim::TaskId task = w->spawn(
      "usb-hcd-irq", [urb, status, site] { usb_hcd_giveback_urb_irq(urb, status, site); }, site);
  core::note_irq_task(task);
}

// What the mock device answers a standard control IN request (USB 2.0 chapter 9: GET_DESCRIPTOR of its device,
// configuration and string descriptors, GET_STATUS, GET_CONFIGURATION, GET_INTERFACE) when nothing is scripted on its
// endpoint 0; a standard request it does not know, or a descriptor it does not have, stalls (-EPIPE). At most wLength
// bytes, as a device never sends more than the setup packet asks. Nothing for a class or vendor request (the caller
// answers those with no data). `c` is read as the device's own memory, not as the kernel's copy: no access checks.
std::optional<bus::UsbDeviceEvent> standard_answer(const CUsbLayout& c, const struct usb_ctrlrequest& r) {
  if ((r.bRequestType & USB_TYPE_MASK) != USB_TYPE_STANDARD) return std::nullopt;
  auto le16 = [](std::string& out, unsigned v) {
    out += static_cast<char>(v & 0xff);
    out += static_cast<char>(v >> 8);
  };
  bus::UsbDeviceEvent e;
  e.endpoint = 0;
  std::string& b = e.bytes;
  const unsigned type = r.wValue >> 8, index = r.wValue & 0xff;
  if (r.bRequest == USB_REQ_GET_DESCRIPTOR && type == USB_DT_DEVICE && index == 0) {
    const struct usb_device_descriptor& d = c.udev.descriptor;
    b = {static_cast<char>(18), static_cast<char>(USB_DT_DEVICE)};
    le16(b, d.bcdUSB);
    b += {static_cast<char>(d.bDeviceClass), static_cast<char>(d.bDeviceSubClass), static_cast<char>(d.bDeviceProtocol),
          static_cast<char>(d.bMaxPacketSize0)};
    le16(b, d.idVendor);
    le16(b, d.idProduct);
    le16(b, d.bcdDevice);
    b += {static_cast<char>(d.iManufacturer), static_cast<char>(d.iProduct), static_cast<char>(d.iSerialNumber),
          static_cast<char>(d.bNumConfigurations)};
  } else if (r.bRequest == USB_REQ_GET_DESCRIPTOR && type == USB_DT_CONFIG && index == 0) {
    // Configuration 1 (bus-powered, 100 mA) with its one interface and the interface's endpoints.
    b = {9, static_cast<char>(USB_DT_CONFIG)};
    le16(b, 9 + 9 + 7 * kNumEndpoints);
    b += {1, 1, 0, static_cast<char>(kConfigAttributes), static_cast<char>(kConfigMaxPower)};
    const struct usb_interface_descriptor& i = c.alt.desc;
    b += {9,
          static_cast<char>(USB_DT_INTERFACE),
          0,
          0,
          static_cast<char>(kNumEndpoints),
          static_cast<char>(i.bInterfaceClass),
          static_cast<char>(i.bInterfaceSubClass),
          static_cast<char>(i.bInterfaceProtocol),
          0};
    for (const auto& ep : kEndpoints) {
      b += {7, static_cast<char>(USB_DT_ENDPOINT), static_cast<char>(ep.address), static_cast<char>(ep.attributes)};
      le16(b, ep.maxp);
      b += static_cast<char>(ep.interval);
    }
  } else if (r.bRequest == USB_REQ_GET_DESCRIPTOR && type == USB_DT_STRING && index == 0) {
    b = {4, static_cast<char>(USB_DT_STRING), 0x09, 0x04};  // one language: English (United States)
  } else if (r.bRequest == USB_REQ_GET_DESCRIPTOR && type == USB_DT_STRING && index >= kStringManufacturer &&
             index <= kStringSerial && r.wIndex == 0x0409) {
    const char* text = index == kStringManufacturer ? c.manufacturer : index == kStringProduct ? c.product : c.serial;
    b = {static_cast<char>(2 + 2 * std::strlen(text)), static_cast<char>(USB_DT_STRING)};
    for (const char* p = text; *p != 0; ++p)
      le16(b, static_cast<unsigned char>(*p));
  } else if (r.bRequest == USB_REQ_GET_STATUS) {
    b = std::string(2, '\0');  // not self-powered, no remote wake-up, no halt
  } else if (r.bRequest == USB_REQ_GET_CONFIGURATION) {
    b = std::string(1, '\1');
  } else if (r.bRequest == USB_REQ_GET_INTERFACE) {
    b = std::string(1, '\0');
  } else {
    e.status = -kEPIPE;
  }
  if (b.size() > r.wLength) b.resize(r.wLength);
  return e;
}

// The device answers an URB with one transfer (the host controller's DMA writes the buffer of an IN URB).
void deliver(struct urb* urb, const std::string& bytes, const sim::Site& site) {
  kernel_touch(urb, sizeof *urb, false, site);
  const std::size_t room = urb->transfer_buffer_length;
  const std::size_t n = bytes.size() < room ? bytes.size() : room;
  int status = 0;
  if (n > 0 && kernel_touch(urb->transfer_buffer, n, true, site)) std::memcpy(urb->transfer_buffer, bytes.data(), n);
  if (bytes.size() > room) status = -kEOVERFLOW;  // babble: the device sent more than the buffer holds
  urb->actual_length = static_cast<u32>(n);
  giveback(urb, status, site);
}

// The device ends `urb` as `event` says: with its status (nothing transferred), or with its bytes.
void answer(struct urb* urb, const bus::UsbDeviceEvent& event, const sim::Site& site) {
  if (event.status != 0) {
    kernel_touch(urb, sizeof *urb, true, site);
    urb->actual_length = 0;
    giveback(urb, event.status, site);
    return;
  }
  deliver(urb, event.bytes, site);
}

// The device side (`usb-data`, `usb-error`): an IN endpoint's event goes to the first URB queued there, else it
// waits in the device (at most bus::kUsbDeviceQueueDepth per endpoint) for the next URB on the endpoint, as does every
// event for the control and bulk-out endpoints (their transfers complete at submission). Called by bus::usb_device_send
// after its scheduling point, with no point in between: `bd` is live.
int device_send(bus::Device& bd, bus::UsbDeviceEvent event, const sim::Site& site) {
  bus::HostGuard guard;
  CUsbState& st = ustate();
  CUsbDev* d = dev_record(&bd);
  std::deque<struct urb*>* queue = nullptr;
  if (d != nullptr && event.endpoint == bus::kUsbEndpointIntIn) queue = &d->int_in_queue;
  if (d != nullptr && event.endpoint == bus::kUsbEndpointBulkIn) queue = &d->bulk_in_queue;
  if (queue != nullptr && !queue->empty()) {
    struct urb* urb = queue->front();
    queue->pop_front();
    answer(urb, event, site);
    return 0;
  }
  std::deque<bus::UsbDeviceEvent>& q = st.fifo[&bd][event.endpoint];
  if (q.size() >= bus::kUsbDeviceQueueDepth) return -bus::kEAGAIN;
  q.push_back(std::move(event));
  return 0;
}

const bool kSendHookInstalled = [] {
  bus::usb_set_device_send_hook(&device_send);
  return true;
}();

// usb_disable_interface() (drivers/usb/core/message.c) on every endpoint: queued URBs are given back with
// -ESHUTDOWN, then the caller waits for the URBs still on an endpoint's queue (drivers/usb/core/hcd.c
// usb_hcd_flush_endpoint: while ep->urb_list is not empty, usb_kill_urb on its last URB). An URB whose giveback
// began is off the queue already (the host controller driver calls usb_hcd_unlink_urb_from_ep before
// usb_hcd_giveback_urb, which with HCD_BH only queues the completion for a tasklet): the flush does not wait for
// that completion, which may run during and after the driver's disconnect(). A driver that must know its
// completions are over kills or poisons its URBs in disconnect (usb_kill_urb waits for use_count, not the queue).
// Natively the caller waits for every completion of the device (the machine must outlive them).
void disable_interface(bus::Device& bd, CUsbDev& d, const sim::Site& site) {
  bus::HostGuard guard;
  d.enabled = false;
  for (std::deque<struct urb*>* q : {&d.int_in_queue, &d.bulk_in_queue}) {
    while (!q->empty()) {
      struct urb* urb = q->front();
      q->pop_front();
      giveback(urb, -bus::kESHUTDOWN, site);
    }
  }
  sim::World* w = sim_world();
  if (w == nullptr) {
    guard.wait([&bd] {
      for (auto& [urb, u] : ustate().urbs)
        if (u.use_count > 0 && u.dev == &bd) return false;
      return true;
    });
    return;
  }
  // The host controller's completions run meanwhile: a giveback may start (and leave the queue) before the flush
  // looks at the queue, as on another CPU.
  point(&d, site);
  const auto find_linked = [&bd]() -> CUrb* {
    for (auto& [urb, u] : ustate().urbs)
      if (u.linked && u.use_count > 0 && u.dev == &bd) return &u;
    return nullptr;
  };
  while (CUrb* u = find_linked()) {
    while (u->use_count > 0)
      w->block(u, "usb_hcd_flush_endpoint", site);  // usb_kill_urb: until it returned
  }
  // Every completion of the device that returned (its wake after use_count's decrement) happens before what the
  // caller does next, whether the flush waited for it or it was over before; one still running does not (the
  // acquire takes only what its URB released). The kernel's wait_event re-reads use_count after the handler's
  // atomic_dec and wake_up; block() orders only a wait that slept.
  for (auto& [urb, u] : ustate().urbs)
    if (u.dev == &bd) happens_after(&u);
}

// drivers/usb/core/hub.c usb_disconnect -> usb_disable_device: once the device's driver (if any) was unbound, every
// endpoint is disabled and what is still queued given back. With a driver bound its disconnect saw all this already;
// without one, URBs submitted after an unbind (io-after-disconnect) are still there, and the hub's put must not
// free the device under them.
void device_gone(bus::Device& bd, const sim::Site& site) {
  if (sim_world() != nullptr && t_sim_records == 0) return;
  CUsbDev* d = nullptr;
  bool intf_dir = false;
  {
    bus::HostGuard guard;
    d = dev_record(&bd);
    if (d == nullptr || d->c == nullptr) return;
    d->gone = true;
    d->c->udev.state = USB_STATE_NOTATTACHED;
    intf_dir = std::exchange(d->intf_dir, false);
  }
  // usb_disable_device: the interface's device_del, its bus link with it (its directory goes with the device's).
  if (intf_dir) bus::kernel().sysfs().remove_tree(std::string("/sys/bus/usb/devices/") + d->c->intf_name, site);
  // LIFETIME: usb_unplug holds the hub's reference across this hook, so the record is not released under it.
  disable_interface(bd, *d, site);
}

const bool kGoneHookInstalled = [] {
  bus::usb_set_device_gone_hook(&device_gone);
  return true;
}();

// ---- character devices: drivers/usb/core/file.c ------------------------------------------------------------

// usb_open(): under minor_rwsem (read), the minor's file operations replace the node's and their open runs.
int usb_open(bus::Cdev& node, bus::File& f) {
  const sim::Site site = sim::Site::current();
  const int minor = static_cast<CUsbNode&>(node).minor;
  CUsbState& st = ustate();
  st.minor_rwsem.down_read(site);
  int r = -bus::kENODEV;
  const struct file_operations* fops = minor >= 0 && minor < kMaxUsbMinors ? st.minors[minor] : nullptr;
  struct module* owner = fops != nullptr ? fops->owner : nullptr;
  if (fops != nullptr && (owner == nullptr || __devsim_try_module_get(owner))) {
    r = open_c_file(f, fops, MKDEV(kUsbMajor, static_cast<unsigned>(minor)), nullptr, nullptr, site);
    if (r != 0 && owner != nullptr) __devsim_module_put(owner);
  }
  st.minor_rwsem.up_read(site);
  return r;
}

const bus::FileOperations kUsbFops = [] {
  bus::FileOperations ops = kCFops;
  ops.open = &usb_open;
  return ops;
}();

}  // namespace

const struct attribute_group** usb_dev_groups(const struct usb_driver* drv) {
  return drv->dev_groups != nullptr ? drv->dev_groups : drv->driver.dev_groups;
}

std::string usb_interface_dir(const struct device* dev, const sim::Site& site) {
  if (sim_world() != nullptr && t_sim_records == 0) return {};
  const auto* intf = reinterpret_cast<const struct usb_interface*>(reinterpret_cast<const char*>(dev) -
                                                                   offsetof(struct usb_interface, dev));
  bus::Device* bd = nullptr;
  CUsbDev* d = nullptr;
  bool make = false;
  {
    bus::HostGuard guard;
    auto it = ustate().by_intf.find(intf);
    if (it == ustate().by_intf.end()) return {};
    bd = it->second;
    d = dev_record(bd);
    if (d == nullptr || d->c == nullptr) return {};
    make = !std::exchange(d->intf_dir, true);
  }
  // LIFETIME: the caller's device is alive (it is creating or removing its attributes), and so its record.
  std::string dir = bd->devpath(site) + "/" + d->c->intf_name;
  if (make) {
    // The interface's directory inside its device's and /sys/bus/usb/devices/1-1:1.0 (usb_set_configuration's
    // device_add), made when something first looks for them.
    bus::kernel().sysfs().create_dir(dir);
    bus::kernel().sysfs().create_link(std::string("/sys/bus/usb/devices/") + d->c->intf_name, dir);
  }
  return dir;
}

}  // namespace devsim::cabi

using devsim::cabi::c_site;
namespace bus = devsim::bus;
namespace sim = devsim::sim;
namespace cabi = devsim::cabi;

extern "C" {

// ---- devices and drivers ------------------------------------------------------------------------------------

struct usb_device* __devsim_interface_to_usbdev(struct usb_interface* intf, const char* file, int line,
                                                const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::kernel_touch(&intf->dev.parent, sizeof intf->dev.parent, false, site);
  struct device* parent = intf->dev.parent;
  if (parent == nullptr) return nullptr;
  // container_of(parent, struct usb_device, dev)
  return reinterpret_cast<struct usb_device*>(reinterpret_cast<char*>(parent) - offsetof(struct usb_device, dev));
}

struct usb_device* __devsim_usb_get_dev(struct usb_device* dev, const char* file, int line, const char* func) {
  if (dev != nullptr) __devsim_get_device(&dev->dev, file, line, func);
  return dev;
}

void __devsim_usb_put_dev(struct usb_device* dev, const char* file, int line, const char* func) {
  if (dev != nullptr) __devsim_put_device(&dev->dev, file, line, func);
}

int __devsim_usb_register_driver(struct usb_driver* drv, struct module* owner, const char* file, int line,
                                 const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::CApiState& cst = cabi::state();
  cabi::CUsbState& st = cabi::ustate();
  const cabi::CModuleSpec* spec = nullptr;
  {
    bus::HostGuard guard;
    auto mod = cst.modules.find(owner);
    if (mod == cst.modules.end() || mod->second.spec == nullptr) return -bus::kEINVAL;
    if (st.drivers.count(drv) != 0) return -bus::kEBUSY;
    spec = mod->second.spec;
  }
  bus::DriverOps ops;
  // Named after the module (/sys/bus/usb/drivers/<module>, the scenario's bind/unbind); binds devices whose
  // modalias is the module's name or the usb:vVVVVpPPPP of an id_table entry.
  ops.name = spec->name;
  ops.id_table = {spec->name};
  if (drv->id_table != nullptr)
    for (const struct usb_device_id* id = drv->id_table; id->match_flags != 0; ++id)
      ops.id_table.push_back(cabi::usb_id_alias(*id));
  ops.probe = [drv](bus::CoreContext& ctx) -> int {
    const sim::Site at = sim::Site::current();
    cabi::CUsbDev& d = cabi::usb_dev_of(ctx.device(), drv, at);
    // usb_match_id(): the entry matching the device's descriptor.
    const struct usb_device_id* match = nullptr;
    if (drv->id_table != nullptr)
      for (const struct usb_device_id* id = drv->id_table; id->match_flags != 0 && match == nullptr; ++id)
        if (cabi::usb_id_matches(*id, d.c->udev, d.c->alt.desc)) match = id;
    // The alias matched only the ids (usb_id_alias): an interface no entry matches is not this driver's, and
    // usb_probe_interface is never called for it (usb_device_match).
    if (match == nullptr && drv->id_table != nullptr && drv->id_table[0].match_flags != 0) return -bus::kENODEV;
    {
      bus::HostGuard guard;
      d.bound = drv;
      d.disconnected = nullptr;
      d.enabled = true;
    }
    const int r = drv->probe != nullptr ? drv->probe(&d.c->intf, match) : 0;
    // really_probe (drivers/base/dd.c): the driver's dev_groups (usb_register_driver copies them to the
    // device_driver, where a driver may also have set them) on the interface once its probe succeeded.
    if (r == 0 && cabi::usb_dev_groups(drv) != nullptr)
      __devsim_device_add_groups(&d.c->intf.dev, cabi::usb_dev_groups(drv), at.file_name(), static_cast<int>(at.line()),
                                 at.function_name());
    if (r != 0) {
      // usb_probe_interface's error path: the endpoints are disabled again, URBs the probe submitted flushed.
      cabi::disable_interface(ctx.device(), d, at);
      bus::HostGuard guard;
      d.bound = nullptr;
    }
    return r;
  };
  ops.remove = [drv](bus::CoreContext& ctx) {
    const sim::Site at = sim::Site::current();
    // usb_unbind_interface(): unplugged (the hub marked it NOTATTACHED first) or not, the interface's URBs are
    // terminated before the driver's disconnect (the driver is not soft_unbind, or the device is gone).
    const bool unplugged = ctx.device().mmio() != nullptr && !ctx.device().mmio()->present();
    cabi::CUsbDev* d = nullptr;
    {
      bus::HostGuard guard;
      d = cabi::dev_record(&ctx.device());
      if (d == nullptr || d->c == nullptr) return;
      if (unplugged) {
        d->gone = true;
        d->c->udev.state = USB_STATE_NOTATTACHED;
      }
    }
    // __device_release_driver: the dev_groups go (their callers drained) before the bus's remove.
    // LIFETIME: the record is erased only by the device's release, which cannot come while it is being unbound.
    if (cabi::usb_dev_groups(drv) != nullptr)
      __devsim_device_remove_groups(&d->c->intf.dev, cabi::usb_dev_groups(drv), at.file_name(),
                                    static_cast<int>(at.line()), at.function_name());
    cabi::disable_interface(ctx.device(), *d, at);
    if (drv->disconnect != nullptr) drv->disconnect(&d->c->intf);
    bus::HostGuard guard;
    d = cabi::dev_record(&ctx.device());
    if (d == nullptr) return;
    d->bound = nullptr;
    d->disconnected = drv;
    // After disconnect() the core re-enables the interface's endpoints for whoever binds next (usb_unbind_interface:
    // usb_enable_interface, or usb_set_interface to setting 0): a driver's I/O after its disconnect is not refused
    // there, it reaches the device, and the check in submit_locked names it.
    d->enabled = !d->gone;
  };
  bus::Driver* b = bus::usb_register_driver(std::move(ops), site);
  if (b == nullptr) return -bus::kEBUSY;
  bus::HostGuard guard;
  st.drivers[drv] = {drv, spec, b};
  return 0;
}

void __devsim_usb_deregister(struct usb_driver* drv, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::CUsbState& st = cabi::ustate();
  bus::Driver* d = nullptr;
  {
    bus::HostGuard guard;
    auto it = st.drivers.find(drv);
    if (it == st.drivers.end()) return;
    d = it->second.bus;
    st.drivers.erase(it);
  }
  if (d->registered()) bus::driver_unregister(d, site);
}

int __devsim_usb_register_dev(struct usb_interface* intf, struct usb_class_driver* class_driver, const char* file,
                              int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (class_driver == nullptr || class_driver->fops == nullptr) return -bus::kEINVAL;
  cabi::kernel_touch(intf, sizeof *intf, true, site);
  if (intf->minor >= 0) return -cabi::kEADDRINUSE;
  cabi::CUsbState& st = cabi::ustate();
  const int base = class_driver->minor_base >= 0 ? class_driver->minor_base : 0;
  st.minor_rwsem.down_write(site);
  for (int minor = base; minor < cabi::kMaxUsbMinors; ++minor) {
    if (st.minors[minor] != nullptr) continue;
    st.minors[minor] = class_driver->fops;
    intf->minor = minor;
    break;
  }
  st.minor_rwsem.up_write(site);
  if (intf->minor < 0) return -cabi::kEXFULL;
  // The class device (drivers/usb/core/file.c usb_register_dev: device_create named kbasename of the class driver's
  // format, "usb/adutux%d" -> "adutux0") and its node: devtmpfs names it as the class's devnode callback says
  // (usb_devnode -> the class driver's devnode: legousbtower.c's "usb/%s"), else after the device.
  char formatted[64];
  std::snprintf(formatted, sizeof formatted, class_driver->name != nullptr ? class_driver->name : "usb%d",
                intf->minor - base);
  const char* slash = std::strrchr(formatted, '/');
  auto node = std::make_unique<cabi::CUsbNode>();
  node->minor = intf->minor;
  std::snprintf(node->name, sizeof node->name, "%s", slash != nullptr && slash[1] != '\0' ? slash + 1 : formatted);
  node->class_dev.__devsim_name = node->name;
  node->class_dev.parent = &intf->dev;
  std::string path = node->name;
  if (class_driver->devnode != nullptr) {
    umode_t mode = 0;
    // LIFETIME: the class device lives in the node, kept until the machine ends; the callback's string is a
    // kmalloc'd copy (kasprintf), freed here as device_get_devnode's caller frees it.
    if (char* devnode = class_driver->devnode(&node->class_dev, &mode); devnode != nullptr) {
      path = std::string(devnode, ::strnlen(devnode, 256));
      cabi::c_kfree(devnode, site);
    }
  }
  bus::cdev_init(*node, &cabi::kUsbFops, site);
  const int r = bus::cdev_add(*node, path, nullptr, site);
  if (r != 0) {
    st.minor_rwsem.down_write(site);
    st.minors[intf->minor] = nullptr;
    st.minor_rwsem.up_write(site);
    intf->minor = -1;
    return r;
  }
  // The class device's directory: the interface's, then "usbmisc" (drivers/usb/core/file.c: usb_class's name),
  // then its name, with its "dev" attribute (USB_MAJOR:minor).
  node->class_dev.devt = MKDEV(USB_MAJOR, static_cast<unsigned>(intf->minor));
  cabi::add_class_dir(&node->class_dev, "usbmisc", nullptr, nullptr, site);
  intf->usb_dev = &node->class_dev;
  bus::HostGuard guard;
  st.node_of_minor[intf->minor] = node.get();
  st.nodes.push_back(std::move(node));
  return 0;
}

void __devsim_usb_deregister_dev(struct usb_interface* intf, struct usb_class_driver* class_driver, const char* file,
                                 int line, const char* func) {
  (void)class_driver;
  const sim::Site site = c_site(file, line, func);
  cabi::kernel_touch(intf, sizeof *intf, true, site);
  const int minor = intf->minor;
  if (minor < 0 || minor >= cabi::kMaxUsbMinors) return;
  cabi::CUsbState& st = cabi::ustate();
  // The node goes first (device_destroy), then the minor, under minor_rwsem for writing: an open in progress
  // finishes first, and none reaches the driver afterwards.
  cabi::CUsbNode* node = nullptr;
  {
    bus::HostGuard guard;
    if (auto it = st.node_of_minor.find(minor); it != st.node_of_minor.end()) {
      node = it->second;
      st.node_of_minor.erase(it);
    }
  }
  // LIFETIME: nodes are kept in st.nodes until the machine ends.
  if (node != nullptr) {
    cabi::remove_class_dir(&node->class_dev, site);
    bus::cdev_del(*node, site);
  }
  st.minor_rwsem.down_write(site);
  st.minors[minor] = nullptr;
  st.minor_rwsem.up_write(site);
  intf->usb_dev = nullptr;
  intf->minor = -1;
}

struct usb_interface* __devsim_usb_find_interface(struct usb_driver* drv, int minor, const char* file, int line,
                                                  const char* func) {
  const sim::Site site = c_site(file, line, func);
  // bus_find_device() over the USB bus: an interface bound to `drv` whose minor is `minor`.
  bus::HostGuard guard;
  for (auto& [bd, d] : cabi::ustate().devices) {
    if (d.c == nullptr || d.bound != drv) continue;
    cabi::kernel_touch(&d.c->intf.minor, sizeof d.c->intf.minor, false, site);
    if (d.c->intf.minor == minor) return &d.c->intf;
  }
  return nullptr;
}

// ---- URBs ---------------------------------------------------------------------------------------------------

struct urb* __devsim_usb_alloc_urb(int iso_packets, gfp_t mem_flags, const char* file, int line, const char* func) {
  (void)iso_packets;
  const sim::Site site = c_site(file, line, func);
  auto* urb = static_cast<struct urb*>(
      cabi::c_kmalloc(sizeof(struct urb), mem_flags | static_cast<unsigned>(sim::__GFP_ZERO), site));
  if (urb == nullptr) return nullptr;
  cabi::refcount_of(&urb->__devsim_refs)->set(1);
  return urb;
}

void __devsim_usb_free_urb(struct urb* urb, const char* file, int line, const char* func) {
  if (urb == nullptr) return;
  cabi::urb_put(urb, c_site(file, line, func));
}

struct urb* __devsim_usb_get_urb(struct urb* urb, const char* file, int line, const char* func) {
  if (urb == nullptr) return nullptr;
  const sim::Site site = c_site(file, line, func);
  cabi::check_primitive(&urb->__devsim_refs, site, 0);
  cabi::refcount_of(&urb->__devsim_refs)->inc(site);
  return urb;
}

namespace {
int submit_locked(struct urb* urb, const char* file, int line, const char* func, const sim::Site& site);
}  // namespace

int __devsim_usb_submit_urb(struct urb* urb, gfp_t mem_flags, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (urb == nullptr) return -bus::kEINVAL;
  // The host controller driver allocates with the caller's flags (drivers/usb/host/xhci.c xhci_urb_enqueue,
  // ehci-q.c qh_urb_transaction), so mem_flags follows kmalloc's rule, as usb_submit_urb's kerneldoc says
  // (drivers/usb/core/urb.c: GFP_ATOMIC in a completion handler, under a spinlock, or when current->state is not
  // TASK_RUNNING).
  sim::might_alloc(static_cast<sim::gfp_t>(mem_flags), site, "usb_submit_urb");
  cabi::point(urb, site);
  if (!cabi::kernel_touch(urb, sizeof *urb, true, site)) return -bus::kEINVAL;
  if (urb->complete == nullptr) return -bus::kEINVAL;
  // usb_hcd_submit_urb's usb_get_urb, taken first: the count's operation is a scheduling point, and from here to
  // the URB's queueing there must be none (the device, its record and the URB's state are looked up after it).
  // A submission that fails drops it again (the last reference frees an URB the driver already freed).
  cabi::refcount_of(&urb->__devsim_refs)->inc(site);
  const int r = submit_locked(urb, file, line, func, site);
  if (r != 0) cabi::urb_put(urb, site);
  return r;
}

namespace {
// The rest of usb_submit_urb, with no scheduling point (natively under the guard): 0 once the URB is the host
// controller's.
int submit_locked(struct urb* urb, const char* file, int line, const char* func, const sim::Site& site) {
  bus::HostGuard guard;
  cabi::CUsbState& st = cabi::ustate();
  cabi::CUrb& u = st.urbs[urb];
  if (u.linked) {
    __devsim_warn("URB submitted while active", file, line, func);
    return -bus::kEBUSY;
  }
  if (u.reject > 0) return -bus::kEPERM;
  auto bdi = st.by_udev.find(urb->dev);
  cabi::CUsbDev* d = bdi != st.by_udev.end() ? cabi::dev_record(bdi->second) : nullptr;
  if (d != nullptr && d->bound == nullptr && d->disconnected != nullptr) {
    // Documentation/driver-api/usb/callbacks.rst, disconnect: "You are not allowed any IO to a device after
    // returning from this callback." Reported whether the device is unplugged (the submission fails with -ENODEV)
    // or only unbound (it goes through, to a device another driver may own next): the driver cannot tell the two.
    // LIFETIME: the usb_driver is in its module's data segment; a module copy is never unmapped (cabi/module.cpp).
    const std::string name = d->disconnected->name != nullptr ? d->disconnected->name : "?";
    cabi::report_at(cabi::kIoAfterDisconnect,
                    "USB I/O after disconnect in " + sim::site_function(site) + ": driver " + name +
                        " submitted an URB after its disconnect() returned",
                    d->gone ? "the device is unplugged: the submission fails with -ENODEV"
                            : "the device is still there (unbound, not unplugged): the URB is sent to it",
                    site);
  }
  if (d == nullptr || d->gone) return -bus::kENODEV;
  // usb_pipe_endpoint(): an endpoint of the current setting, enabled (the control endpoint 0 is the device's: it is
  // enabled for as long as the device is there, bound or not).
  const unsigned epnum = usb_pipeendpoint(urb->pipe);
  const bool in = usb_pipein(urb->pipe) != 0;
  const unsigned type = usb_pipetype(urb->pipe);
  const unsigned address = epnum == 0 ? 0 : epnum | (in ? USB_DIR_IN : 0);
  const int ep_type = cabi::endpoint_type(address);
  if (ep_type < 0 || (address != 0 && !d->enabled)) return -bus::kENOENT;
  // The pipe's type must be the endpoint's (usb_submit_urb: "BOGUS urb xfer"); PIPE_BULK is 3, XFER_BULK 2.
  const int pipe_as_xfer = type == PIPE_BULK        ? USB_ENDPOINT_XFER_BULK
                           : type == PIPE_INTERRUPT ? USB_ENDPOINT_XFER_INT
                           : type == PIPE_CONTROL   ? USB_ENDPOINT_XFER_CONTROL
                                                    : USB_ENDPOINT_XFER_ISOC;
  if (pipe_as_xfer != ep_type) {
    __devsim_warn("usb_submit_urb: BOGUS urb xfer, the pipe's type is not the endpoint's", file, line, func);
    return -bus::kEINVAL;
  }
  // A control URB carries its setup packet (usb_submit_urb: -ENOEXEC without one); the controller reads it.
  if (ep_type == USB_ENDPOINT_XFER_CONTROL) {
    if (urb->setup_packet == nullptr) return -cabi::kENOEXEC;
    if (!cabi::kernel_touch(urb->setup_packet, sizeof(struct usb_ctrlrequest), false, site)) return -bus::kEINVAL;
    // The pipe's direction must be the request's (a request with no data stage is OUT): drivers/usb/core/urb.c
    // usb_submit_urb, dev_WARN_ONCE "BOGUS control dir".
    const auto* setup = reinterpret_cast<const struct usb_ctrlrequest*>(urb->setup_packet);
    const bool is_out = (setup->bRequestType & USB_DIR_IN) == 0 || setup->wLength == 0;
    if (in == is_out)
      __devsim_warn("usb_submit_urb: BOGUS control dir, the pipe's direction does not match bRequestType", file, line,
                    func);
  }
  // usb_hcd_map_urb_for_dma (drivers/usb/core/hcd.c): the controller maps the setup packet and the transfer buffer
  // for DMA, and refuses, with a warning, one on the calling task's stack (object_is_on_stack: with
  // CONFIG_VMAP_STACK, the default since Linux 4.9, a stack is vmalloc'd and cannot be mapped): -EAGAIN.
  if (ep_type == USB_ENDPOINT_XFER_CONTROL && cabi::on_current_stack(urb->setup_packet)) {
    __devsim_warn("usb_hcd_map_urb_for_dma: setup packet is on stack", file, line, func);
    return -bus::kEAGAIN;
  }
  if (urb->transfer_buffer_length != 0 && (urb->transfer_flags & URB_NO_TRANSFER_DMA_MAP) == 0 &&
      cabi::on_current_stack(urb->transfer_buffer)) {
    __devsim_warn("usb_hcd_map_urb_for_dma: transfer buffer is on stack", file, line, func);
    return -bus::kEAGAIN;
  }
  u.linked = true;
  ++u.use_count;
  u.dev = bdi->second;
  urb->status = -cabi::kEINPROGRESS;
  urb->actual_length = 0;
  std::deque<bus::UsbDeviceEvent>& fifo = st.fifo[bdi->second][address];
  std::optional<bus::UsbDeviceEvent> scripted;
  if (!fifo.empty()) {
    scripted = std::move(fifo.front());
    fifo.pop_front();
  }
  if (ep_type == USB_ENDPOINT_XFER_CONTROL) {
    // The control endpoint answers at once: with what the scenario said for it, else a standard IN request from the
    // device's descriptors and any other with success, with no data for an IN request and the whole data stage for
    // an OUT one.
    if (!scripted && in)
      scripted = cabi::standard_answer(*d->c, *reinterpret_cast<struct usb_ctrlrequest*>(urb->setup_packet));
    if (scripted && scripted->status != 0) {
      cabi::answer(urb, *scripted, site);
    } else if (in) {
      cabi::deliver(urb, scripted ? scripted->bytes : std::string(), site);
    } else {
      cabi::kernel_touch(urb->transfer_buffer, urb->transfer_buffer_length, false, site);
      urb->actual_length = urb->transfer_buffer_length;
      cabi::giveback(urb, 0, site);
    }
    return 0;
  }
  if (!in) {
    // The device takes the whole OUT transfer at once (the controller's DMA reads the buffer), unless the scenario
    // made it fail this one (bytes scripted for an OUT endpoint are taken and ignored: the device sends nothing there).
    if (scripted && scripted->status != 0) {
      cabi::answer(urb, *scripted, site);
      return 0;
    }
    cabi::kernel_touch(urb->transfer_buffer, urb->transfer_buffer_length, false, site);
    urb->actual_length = urb->transfer_buffer_length;
    cabi::giveback(urb, 0, site);
    return 0;
  }
  if (scripted) {
    cabi::answer(urb, *scripted, site);
    return 0;
  }
  u.queued = true;
  (ep_type == USB_ENDPOINT_XFER_INT ? d->int_in_queue : d->bulk_in_queue).push_back(urb);
  return 0;
}
// Takes `urb` off the queue it waits on: true if it was queued (the caller gives it back). Under the guard.
bool dequeue(struct urb* urb) {
  cabi::CUsbState& st = cabi::ustate();
  cabi::CUrb& u = st.urbs[urb];
  if (!u.queued) return false;
  if (cabi::CUsbDev* d = cabi::dev_record(u.dev))
    for (std::deque<struct urb*>* q : {&d->int_in_queue, &d->bulk_in_queue})
      std::erase(*q, urb);
  u.queued = false;
  return true;
}
}  // namespace

namespace {
// usb_kill_urb's core, shared with usb_poison_urb: a queued URB is given back with -ENOENT, then the caller waits
// until its completion handler returned (usb_kill_urb_queue, woken as use_count drops). Under `guard`.
void kill_and_wait(struct urb* urb, cabi::CUrb& u, const char* what, const sim::Site& site, bus::HostGuard& guard) {
  if (dequeue(urb)) cabi::giveback(urb, -bus::kENOENT, site);
  cabi::wait_until(guard, &u, what, site, [&u] { return u.use_count == 0; });
  // The completion that returned happens before the caller returns, also when the wait did not sleep
  // (drivers/usb/core/urb.c usb_kill_urb: wait_event on use_count, which the giveback decrements then wakes).
  cabi::happens_after(&u);
}
}  // namespace

void __devsim_usb_kill_urb(struct urb* urb, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::might_sleep("usb_kill_urb", site);
  if (urb == nullptr) return;
  cabi::point(urb, site);
  if (!cabi::kernel_touch(urb, sizeof *urb, false, site)) return;
  bus::HostGuard guard;
  cabi::CUrb& u = cabi::ustate().urbs[urb];
  ++u.reject;
  kill_and_wait(urb, u, "usb_kill_urb", site, guard);
  --u.reject;
}

void __devsim_usb_poison_urb(struct urb* urb, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::might_sleep("usb_poison_urb", site);
  if (urb == nullptr) return;
  cabi::point(urb, site);
  if (!cabi::kernel_touch(urb, sizeof *urb, false, site)) return;
  bus::HostGuard guard;
  cabi::CUrb& u = cabi::ustate().urbs[urb];
  ++u.reject;  // kept until usb_unpoison_urb
  // Never submitted (no endpoint yet): nothing to kill (drivers/usb/core/urb.c usb_poison_urb).
  if (u.dev == nullptr) return;
  kill_and_wait(urb, u, "usb_poison_urb", site, guard);
}

void __devsim_usb_unpoison_urb(struct urb* urb, const char* file, int line, const char* func) {
  if (urb == nullptr) return;
  const sim::Site site = c_site(file, line, func);
  cabi::point(urb, site);
  if (!cabi::kernel_touch(urb, sizeof *urb, false, site)) return;
  bus::HostGuard guard;
  --cabi::ustate().urbs[urb].reject;
}

void __devsim_usb_block_urb(struct urb* urb, const char* file, int line, const char* func) {
  if (urb == nullptr) return;
  const sim::Site site = c_site(file, line, func);
  cabi::point(urb, site);
  if (!cabi::kernel_touch(urb, sizeof *urb, false, site)) return;
  bus::HostGuard guard;
  ++cabi::ustate().urbs[urb].reject;
}

int __devsim_usb_unlink_urb(struct urb* urb, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (urb == nullptr) return -bus::kEINVAL;
  cabi::point(urb, site);
  if (!cabi::kernel_touch(urb, sizeof *urb, false, site)) return -bus::kEINVAL;
  bus::HostGuard guard;
  cabi::CUrb& u = cabi::ustate().urbs[urb];
  if (!u.linked) return -bus::kEBUSY;
  if (!dequeue(urb)) return -bus::kEBUSY;  // already being given back
  cabi::giveback(urb, -cabi::kECONNRESET, site);
  return -cabi::kEINPROGRESS;
}

// ---- DMA-able buffers ---------------------------------------------------------------------------------------

void* __devsim_usb_alloc_coherent(struct usb_device* dev, size_t size, gfp_t mem_flags, dma_addr_t* dma,
                                  const char* file, int line, const char* func) {
  if (dev == nullptr || size == 0) return nullptr;
  const sim::Site site = c_site(file, line, func);
  // hcd_buffer_alloc() reads the device (its bus, the host controller's pools).
  if (!cabi::kernel_touch(&dev->devnum, sizeof dev->devnum, false, site)) return nullptr;
  void* p = cabi::c_kmalloc(size, mem_flags, site);
  if (p != nullptr && dma == nullptr) sim::null_dereference(site);  // the pool writes *dma
  if (p != nullptr && cabi::kernel_touch(dma, sizeof *dma, true, site))
    *dma = static_cast<dma_addr_t>(reinterpret_cast<std::uintptr_t>(p));  // no IOMMU: the bus address is the buffer's
  return p;
}

void __devsim_usb_free_coherent(struct usb_device* dev, size_t size, void* addr, dma_addr_t dma, const char* file,
                                int line, const char* func) {
  (void)size;
  (void)dma;
  if (dev == nullptr || addr == nullptr) return;
  const sim::Site site = c_site(file, line, func);
  cabi::kernel_touch(&dev->devnum, sizeof dev->devnum, false, site);  // hcd_buffer_free() reads the device too
  cabi::c_kfree(addr, site);
}

// ---- anchors: drivers/usb/core/urb.c ----------------------------------------------------------------------------

namespace {
// The anchor's lock (anchor->lock): a point on the anchor, then its memory is checked. Natively the lock is the
// HostGuard, which the caller takes after this.
bool lock_anchor(struct usb_anchor* anchor, bool write, const sim::Site& site) {
  if (anchor == nullptr) sim::null_dereference(site);  // the kernel takes anchor->lock: an oops
  cabi::point(anchor, site);
  return cabi::kernel_touch(anchor, sizeof *anchor, write, site);
}

// Kills (or poisons) the anchored URBs, newest first, until the anchor is empty and no completion of its URBs runs
// (usb_kill_anchored_urbs, usb_poison_anchored_urbs). An URB that stays anchored after its kill (it was never
// submitted) is never taken off: the loop spins on the anchor, as the kernel's does.
void kill_anchored(struct usb_anchor* anchor, bool poison, const char* what, const sim::Site& site) {
  cabi::might_sleep(what, site);
  if (!lock_anchor(anchor, true, site)) return;
  bus::HostGuard guard;
  cabi::CAnchor& a = cabi::ustate().anchors[anchor];
  if (poison) {
    a.poisoned = true;
    anchor->poisoned = 1;
  }
  for (;;) {
    while (!a.urbs.empty()) {
      struct urb* victim = a.urbs.back();
      // usb_get_urb() under the anchor's lock: no point between reading the victim and taking the reference (its
      // giveback could free it there), so the count's own point is skipped (null world).
      cabi::refcount_of(&victim->__devsim_refs)->inc(nullptr, site);
      cabi::CUrb& u = cabi::ustate().urbs[victim];
      ++u.reject;
      kill_and_wait(victim, u, what, site, guard);
      if (!poison) --u.reject;
      const bool stuck = victim->anchor == anchor && u.use_count == 0;
      cabi::urb_put(victim, site);
      lock_anchor(anchor, false, site);
      if (stuck) {
        // The kernel's loop spins here for as long as the URB stays anchored (natively: lets the lock go a moment).
        if (sim::World* w = cabi::sim_world())
          w->spin_relax(site);
        else
          guard.wait_for(std::chrono::milliseconds(1), [] { return false; });
      }
    }
    if (a.empty()) break;
    // A completion of one of its URBs is still running.
    if (sim::World* w = cabi::sim_world())
      w->block(&a, what, site);
    else
      guard.wait([&a] { return a.empty() || !a.urbs.empty(); });
  }
  cabi::happens_after(&a);
}
}  // namespace

void __devsim_init_usb_anchor(struct usb_anchor* anchor, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (anchor == nullptr) sim::null_dereference(site);
  if (!cabi::kernel_touch(anchor, sizeof *anchor, true, site)) return;
  std::memset(anchor, 0, sizeof *anchor);
  bus::HostGuard guard;
  cabi::ustate().anchors[anchor] = cabi::CAnchor{};
}

void __devsim_usb_anchor_urb(struct urb* urb, struct usb_anchor* anchor, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (urb == nullptr) sim::null_dereference(site);
  if (!lock_anchor(anchor, true, site)) return;
  // usb_get_urb() first: the count's operation is a point, and from here on there is none.
  cabi::check_primitive(&urb->__devsim_refs, site, 0);
  cabi::refcount_of(&urb->__devsim_refs)->inc(site);
  if (!cabi::kernel_touch(urb, sizeof *urb, true, site)) return;
  bus::HostGuard guard;
  if (urb->anchor != nullptr) {
    // The kernel's list_add_tail would corrupt the other anchor's list.
    __devsim_warn("usb_anchor_urb: the URB is already anchored", file, line, func);
    cabi::urb_put(urb, site);
    return;
  }
  cabi::CAnchor& a = cabi::ustate().anchors[anchor];
  a.urbs.push_back(urb);
  urb->anchor = anchor;
  anchor->__devsim_urbs = static_cast<unsigned>(a.urbs.size());
  if (a.poisoned) ++cabi::ustate().urbs[urb].reject;
}

void __devsim_usb_unanchor_urb(struct urb* urb, const char* file, int line, const char* func) {
  if (urb == nullptr) return;
  const sim::Site site = c_site(file, line, func);
  if (!cabi::kernel_touch(&urb->anchor, sizeof urb->anchor, false, site)) return;
  struct usb_anchor* anchor = __atomic_load_n(&urb->anchor, __ATOMIC_RELAXED);  // re-checked under the lock
  if (anchor == nullptr) return;
  if (!lock_anchor(anchor, true, site)) return;
  bus::HostGuard guard;
  // Given back meanwhile (the giveback took it off): nothing to do (the kernel re-checks urb->anchor under the lock).
  if (urb->anchor != anchor) return;
  cabi::unanchor_locked(urb, anchor, site);
  cabi::urb_put(urb, site);
}

void __devsim_usb_kill_anchored_urbs(struct usb_anchor* anchor, const char* file, int line, const char* func) {
  kill_anchored(anchor, false, "usb_kill_anchored_urbs", c_site(file, line, func));
}

void __devsim_usb_poison_anchored_urbs(struct usb_anchor* anchor, const char* file, int line, const char* func) {
  kill_anchored(anchor, true, "usb_poison_anchored_urbs", c_site(file, line, func));
}

void __devsim_usb_unpoison_anchored_urbs(struct usb_anchor* anchor, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (!lock_anchor(anchor, true, site)) return;
  bus::HostGuard guard;
  cabi::CAnchor& a = cabi::ustate().anchors[anchor];
  for (struct urb* urb : a.urbs)
    --cabi::ustate().urbs[urb].reject;
  a.poisoned = false;
  anchor->poisoned = 0;
}

struct urb* __devsim_usb_get_from_anchor(struct usb_anchor* anchor, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (!lock_anchor(anchor, true, site)) return nullptr;
  bus::HostGuard guard;
  cabi::CAnchor& a = cabi::ustate().anchors[anchor];
  if (a.urbs.empty()) return nullptr;
  struct urb* victim = a.urbs.front();
  // The anchor's reference becomes the caller's.
  cabi::kernel_touch(&victim->anchor, sizeof victim->anchor, true, site);
  cabi::unanchor_locked(victim, anchor, site);
  return victim;
}

void __devsim_usb_scuttle_anchored_urbs(struct usb_anchor* anchor, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (!lock_anchor(anchor, true, site)) return;
  std::vector<struct urb*> taken;
  bus::HostGuard guard;
  cabi::CAnchor& a = cabi::ustate().anchors[anchor];
  while (!a.urbs.empty()) {
    struct urb* victim = a.urbs.back();
    cabi::kernel_touch(&victim->anchor, sizeof victim->anchor, true, site);
    cabi::unanchor_locked(victim, anchor, site);
    taken.push_back(victim);
  }
  for (struct urb* victim : taken)
    cabi::urb_put(victim, site);
}

void __devsim_usb_unlink_anchored_urbs(struct usb_anchor* anchor, const char* file, int line, const char* func) {
  for (;;) {
    struct urb* victim = __devsim_usb_get_from_anchor(anchor, file, line, func);
    if (victim == nullptr) return;
    __devsim_usb_unlink_urb(victim, file, line, func);
    __devsim_usb_free_urb(victim, file, line, func);
  }
}

int __devsim_usb_wait_anchor_empty_timeout(struct usb_anchor* anchor, unsigned int timeout, const char* file, int line,
                                           const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::might_sleep("usb_wait_anchor_empty_timeout", site);
  if (!lock_anchor(anchor, false, site)) return 0;
  bus::HostGuard guard;
  cabi::CAnchor& a = cabi::ustate().anchors[anchor];
  constexpr sim::Nanos kJiffy = 1'000'000;  // HZ is 1000
  if (cabi::sim_world() == nullptr) {
    const auto start = std::chrono::steady_clock::now();
    if (!guard.wait_for(std::chrono::milliseconds(timeout), [&a] { return a.empty(); })) return 0;
    const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    const long left = static_cast<long>(timeout) - static_cast<long>(spent.count());
    return left > 0 ? static_cast<int>(left) : 1;
  }
  sim::World& w = cabi::world();
  const sim::Nanos deadline = w.now() + static_cast<sim::Nanos>(timeout) * kJiffy;
  // wait_event_timeout(): the remaining jiffies (at least 1) once the anchor is empty, 0 if the time ran out first.
  // The condition goes through ustate() on every check: that use of the USB core's state is what makes a check
  // after a timeout conflict with a completion emptying the anchor at the same instant (World::block_wait).
  const auto anchored = [anchor] { return !cabi::ustate().anchors[anchor].empty(); };
  while (anchored()) {
    if (w.now() >= deadline) return 0;
    w.block_wait(&a, "usb_wait_anchor_empty_timeout", sim::WaitMode::Uninterruptible, deadline - w.now(), site);
  }
  w.races().acquire(w.current_task(), &a);
  const sim::Nanos left = deadline > w.now() ? (deadline - w.now()) / kJiffy : 0;
  return left > 0 ? static_cast<int>(left) : 1;
}

int __devsim_usb_anchor_empty(struct usb_anchor* anchor, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (!lock_anchor(anchor, false, site)) return 1;
  bus::HostGuard guard;
  return cabi::ustate().anchors[anchor].urbs.empty() ? 1 : 0;
}

// ---- synchronous messages: drivers/usb/core/message.c ---------------------------------------------------------

namespace {
// The completion of a synchronous message's URB: the waiter waits for the URB's use count, which drops right after.
void usb_api_blocking_completion(struct urb* urb) {
  (void)urb;
}

// usb_start_wait_urb(): submits `urb`, waits up to `timeout_ms` (0: no limit) for it to be given back; on timeout
// kills it (-ETIMEDOUT). Frees the URB. The status, and the bytes transferred in *actual.
int start_wait_urb(struct urb* urb, int timeout_ms, int* actual, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  int status = __devsim_usb_submit_urb(urb, static_cast<unsigned>(sim::GFP_NOIO), file, line, func);
  if (status == 0 && cabi::sim_world() == nullptr) {
    bool timed_out = false;
    {
      bus::HostGuard guard;
      cabi::CUrb& u = cabi::ustate().urbs[urb];
      const auto done = [&u] { return u.use_count == 0; };
      if (timeout_ms > 0)
        timed_out = !guard.wait_for(std::chrono::milliseconds(timeout_ms), done);
      else
        guard.wait(done);
    }
    if (timed_out) __devsim_usb_kill_urb(urb, file, line, func);
    bus::HostGuard guard;  // urb->status is written under it by the giveback
    status = timed_out && urb->status == -bus::kENOENT ? -cabi::kETIMEDOUT : urb->status;
  } else if (status == 0) {
    sim::World& w = cabi::world();
    cabi::CUrb& u = cabi::ustate().urbs[urb];
    constexpr sim::Nanos kJiffy = 1'000'000;
    const std::optional<sim::Nanos> deadline =
        timeout_ms > 0 ? std::optional<sim::Nanos>(w.now() + static_cast<sim::Nanos>(timeout_ms) * kJiffy)
                       : std::nullopt;
    bool timed_out = false;
    // Through ustate() on every check, as in usb_wait_anchor_empty_timeout: the completion and a timeout at the
    // same instant are explored in both orders.
    const auto in_flight = [urb] { return cabi::ustate().urbs[urb].use_count > 0; };
    while (in_flight() && !timed_out) {
      if (deadline && w.now() >= *deadline) {
        timed_out = true;
        break;
      }
      w.block_wait(&u, "usb_start_wait_urb", sim::WaitMode::Uninterruptible,
                   deadline ? std::optional<sim::Nanos>(*deadline - w.now()) : std::nullopt, site);
    }
    if (timed_out) {
      __devsim_usb_kill_urb(urb, file, line, func);
      status = urb->status == -bus::kENOENT ? -cabi::kETIMEDOUT : urb->status;
    } else {
      w.races().acquire(w.current_task(), &u);
      status = urb->status;
    }
  }
  *actual = static_cast<int>(urb->actual_length);
  __devsim_usb_free_urb(urb, file, line, func);
  return status;
}
}  // namespace

int __devsim_usb_control_msg(struct usb_device* dev, unsigned int pipe, __u8 request, __u8 requesttype, __u16 value,
                             __u16 index, void* data, __u16 size, int timeout, const char* file, int line,
                             const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::might_sleep("usb_control_msg", site);
  if (dev == nullptr || !cabi::kernel_touch(&dev->devnum, sizeof dev->devnum, false, site)) return -bus::kENODEV;
  auto* dr = static_cast<struct usb_ctrlrequest*>(
      cabi::c_kmalloc(sizeof(struct usb_ctrlrequest), static_cast<unsigned>(sim::GFP_NOIO), site));
  if (dr == nullptr) return -bus::kENOMEM;
  dr->bRequestType = requesttype;
  dr->bRequest = request;
  dr->wValue = value;
  dr->wIndex = index;
  dr->wLength = size;
  struct urb* urb = __devsim_usb_alloc_urb(0, static_cast<unsigned>(sim::GFP_NOIO), file, line, func);
  if (urb == nullptr) {
    cabi::c_kfree(dr, site);
    return -bus::kENOMEM;
  }
  urb->dev = dev;
  urb->pipe = pipe;
  urb->setup_packet = reinterpret_cast<unsigned char*>(dr);
  urb->transfer_buffer = data;
  urb->transfer_buffer_length = size;
  urb->complete = &usb_api_blocking_completion;
  int actual = 0;
  const int r = start_wait_urb(urb, timeout, &actual, file, line, func);
  cabi::c_kfree(dr, site);
  return r < 0 ? r : actual;
}

int __devsim_usb_bulk_msg(struct usb_device* dev, unsigned int pipe, void* data, int len, int* actual_length,
                          int timeout, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::might_sleep("usb_bulk_msg", site);
  if (dev == nullptr || !cabi::kernel_touch(&dev->devnum, sizeof dev->devnum, false, site)) return -bus::kENODEV;
  // usb_pipe_endpoint(): an endpoint the device has; an interrupt one makes an interrupt transfer.
  const unsigned epnum = usb_pipeendpoint(pipe);
  const unsigned address = epnum == 0 ? 0 : epnum | (usb_pipein(pipe) ? USB_DIR_IN : 0);
  const int type = cabi::endpoint_type(address);
  if (type < 0 || len < 0) return -bus::kEINVAL;
  struct urb* urb = __devsim_usb_alloc_urb(0, static_cast<unsigned>(sim::GFP_KERNEL), file, line, func);
  if (urb == nullptr) return -bus::kENOMEM;
  if (type == USB_ENDPOINT_XFER_INT) {
    pipe = (pipe & ~(3u << 30)) | (static_cast<unsigned>(PIPE_INTERRUPT) << 30);
    for (const auto& ep : cabi::kEndpoints)
      if (ep.address == address) urb->interval = ep.interval;
  }
  urb->dev = dev;
  urb->pipe = pipe;
  urb->transfer_buffer = data;
  urb->transfer_buffer_length = static_cast<u32>(len);
  urb->complete = &usb_api_blocking_completion;
  int actual = 0;
  const int r = start_wait_urb(urb, timeout, &actual, file, line, func);
  if (actual_length != nullptr && cabi::kernel_touch(actual_length, sizeof *actual_length, true, site))
    *actual_length = actual;
  return r;
}

int __devsim_usb_clear_halt(struct usb_device* dev, int pipe, const char* file, int line, const char* func) {
  const unsigned epnum = usb_pipeendpoint(static_cast<unsigned>(pipe));
  const unsigned endp = epnum | (usb_pipein(static_cast<unsigned>(pipe)) ? USB_DIR_IN : 0);
  const int r = __devsim_usb_control_msg(dev, usb_sndctrlpipe(dev, 0), USB_REQ_CLEAR_FEATURE, USB_RECIP_ENDPOINT,
                                         USB_ENDPOINT_HALT, static_cast<__u16>(endp), nullptr, 0, USB_CTRL_SET_TIMEOUT,
                                         file, line, func);
  return r < 0 ? r : 0;
}

}  // extern "C"
