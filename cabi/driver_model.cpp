// The C ABI of the driver model: struct device, classes and /dev nodes, the platform bus, interrupts, timers,
// jiffies and character devices, each on devsim's model (bus/device.hpp, bus/platform.hpp, bus/irq.hpp,
// bus/timer.hpp, bus/cdev.hpp). Functions named after the kernel's (chrdev_open, cdev_put) are the kernel's own code
// in the model: a report of a use-after-free in them names the kernel function, as KASAN would.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string>

#include "bus/cdev.hpp"
#include "bus/devm.hpp"
#include "bus/driver.hpp"
#include "bus/errno.hpp"
#include "bus/host_lock.hpp"
#include "bus/irq.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "bus/sysfs.hpp"
#include "bus/timer.hpp"
#include "cabi/kernel_api.hpp"
#include "cabi/module.hpp"
#include "cabi/site.hpp"
#include "cabi/state.hpp"
#include "core/irqflags.hpp"
#include "core/signal.hpp"
#include "sim/kmalloc.hpp"
#include "sim/machine.hpp"
#include "sim/memory.hpp"
#include "sim/native_kmalloc.hpp"

#include "cabi/c_headers.hpp"

namespace devsim::cabi {

namespace {

constexpr unsigned kGfpKernelZero = static_cast<unsigned>(sim::GFP_KERNEL | sim::__GFP_ZERO);
constexpr unsigned kDynamicMajorFirst = 254;  // fs/char_dev.c: dynamic majors are given from 254 down
constexpr unsigned kDynamicMajorLast = 234;

// ---- devices ------------------------------------------------------------------------------------------------

// The bus device behind a C struct device, read by the kernel at `site` (a device in freed memory is reported
// there); null for a class device.
bus::Device* bus_device(const struct device* dev, const sim::Site& site) {
  if (dev == nullptr) return nullptr;
  kernel_touch(&dev->__devsim_dev, sizeof dev->__devsim_dev, false, site);
  return static_cast<bus::Device*>(dev->__devsim_dev);
}

// The C struct platform_device standing for `bd`, made at the first probe of a C driver on it and freed with the
// device (its release): a driver that keeps a pointer to it past the last put_device uses freed memory.
struct platform_device* platform_device_of(bus::Device& bd, const sim::Site& site) {
  CApiState& st = state();
  {
    bus::HostGuard guard;
    if (auto it = st.platform_devices.find(&bd); it != st.platform_devices.end()) return it->second;
  }
  // INVARIANT: made by the device's probe, under its device lock: no other thread makes one for the same device.
  const std::string& name = bd.name(site);
  char* mem = static_cast<char*>(kernel_zalloc(sizeof(struct platform_device) + name.size() + 1, site));
  auto* pdev = reinterpret_cast<struct platform_device*>(mem);
  char* copy = mem + sizeof(struct platform_device);
  std::memcpy(copy, name.c_str(), name.size() + 1);
  pdev->name = copy;
  pdev->id = -1;  // PLATFORM_DEVID_NONE: the name is the device's
  pdev->dev.__devsim_name = copy;
  pdev->dev.__devsim_dev = &bd;
  {
    bus::HostGuard guard;
    st.platform_devices[&bd] = pdev;
  }
  // LIFETIME: freed when the bus device is released (its last put_device), in the task that dropped it.
  bd.add_release_hook([pdev](bus::Device& d) {
    {
      bus::HostGuard guard;
      CApiState& s = state();
      s.platform_devices.erase(&d);
      s.platform_device_spec.erase(pdev);
    }
    c_kfree(pdev, sim::Site::current());
  });
  return pdev;
}

// ---- character devices --------------------------------------------------------------------------------------

core::Mutex& chrdevs_lock() {
  bus::HostGuard guard;
  CApiState& st = state();
  if (!st.chrdevs_lock) st.chrdevs_lock = std::make_unique<core::Mutex>("chrdevs_lock");
  return *st.chrdevs_lock;
}

bool ranges_overlap(unsigned a, unsigned an, unsigned b, unsigned bn) {
  return a < b + bn && b < a + an;
}

// kobject_put() on a cdev: the last reference frees a cdev_alloc'd one (ktype_cdev_dynamic's release).
void cdev_kobject_put(struct cdev* p, const sim::Site& site) {
  check_primitive(&p->__devsim_refs, site, 0);
  if (!refcount_of(&p->__devsim_refs)->dec_and_test(site)) return;
  if (__atomic_load_n(&p->__devsim_dynamic, __ATOMIC_RELAXED) != 0) c_kfree(p, site);
}

// chrdev_open() (fs/char_dev.c): the file operations of a /dev node made by device_create.
int chrdev_open(bus::Cdev& node, bus::File& f) {
  const sim::Site site = sim::Site::current();
  const unsigned devt = static_cast<CNode&>(node).devt;
  struct cdev* p = nullptr;
  struct module* owner = nullptr;
  {
    // kobj_lookup() under chrdevs_lock, and cdev_get() (exact_lock) before the lock is dropped.
    core::MutexGuard guard = chrdevs_lock().guard(site);
    for (const CCdevMapping& m : state().cdev_map) {
      if (devt >= m.dev && devt - m.dev < m.count) {
        p = m.cdev;
        break;
      }
    }
    if (p == nullptr) return -bus::kENXIO;
    if (!kernel_touch(p, sizeof *p, false, site)) return -bus::kENXIO;
    owner = p->owner;
    if (owner != nullptr && !__devsim_try_module_get(owner)) return -bus::kENXIO;
    check_primitive(&p->__devsim_refs, site, 0);
    refcount_of(&p->__devsim_refs)->inc(site);
  }
  const struct file_operations* fops = p->ops;
  // fops_get(): the module of the file operations must be live.
  struct module* fops_owner = fops != nullptr ? fops->owner : nullptr;
  if (fops == nullptr || (fops_owner != nullptr && !__devsim_try_module_get(fops_owner))) {
    cdev_put(p, site);
    return -bus::kENXIO;
  }
  const int r = open_c_file(f, fops, devt, p, nullptr, site);
  if (r != 0) {
    cdev_put(p, site);
    if (fops_owner != nullptr) __devsim_module_put(fops_owner);
  }
  return r;
}

const bus::FileOperations kChrdevFops = [] {
  bus::FileOperations ops = kCFops;
  ops.open = &chrdev_open;
  return ops;
}();

// ---- interrupts ---------------------------------------------------------------------------------------------

bus::IrqReturn c_irq_return(int r) {
  if (r == IRQ_NONE) return bus::IrqReturn::None;
  return (r & IRQ_WAKE_THREAD) != 0 ? bus::IrqReturn::WakeThread : bus::IrqReturn::Handled;
}
bus::IrqReturn c_irq_trampoline(unsigned irq, void* cookie) {
  auto* a = static_cast<CIrqAction*>(cookie);
  return c_irq_return(a->handler(static_cast<int>(irq), a->dev_id));
}
bus::IrqReturn c_irq_thread_trampoline(unsigned irq, void* cookie) {
  auto* a = static_cast<CIrqAction*>(cookie);
  return c_irq_return(a->thread_fn(static_cast<int>(irq), a->dev_id));
}

CIrqAction* find_action(unsigned irq, void* dev_id) {
  bus::HostGuard guard;
  for (CIrqAction& a : state().irq_actions)
    if (a.installed && a.irq == irq && a.dev_id == dev_id) return &a;
  return nullptr;
}

// ---- timers -------------------------------------------------------------------------------------------------

static_assert(sizeof(bus::TimerList) <= sizeof(static_cast<struct timer_list*>(nullptr)->__devsim_timer) &&
                  alignof(bus::TimerList) <= alignof(unsigned long),
              "struct timer_list must hold devsim's timer object");

bus::TimerList& timer_of(struct timer_list* t) {
  // LIFETIME: constructed in place by timer_setup, in the C struct's storage; never destroyed (trivial state).
  return *std::launder(reinterpret_cast<bus::TimerList*>(t->__devsim_timer));
}

// call_timer_fn(): bus/timer.hpp read the timer (a freed one was reported there and this is not called); the C
// function is the struct timer_list's.
void c_timer_trampoline(bus::TimerList& tl) {
  auto* t =
      reinterpret_cast<struct timer_list*>(reinterpret_cast<char*>(&tl) - offsetof(struct timer_list, __devsim_timer));
  void (*fn)(struct timer_list*) = t->function;
  if (fn != nullptr) fn(t);
}

constexpr std::uint64_t kNanosPerJiffy = 1'000'000;  // HZ = 1000

}  // namespace

bus::Device* bus_device_of(const struct device* dev, const sim::Site& site) {
  return bus_device(dev, site);
}

void cdev_put(struct cdev* p, const sim::Site& site) {
  kernel_touch(&p->owner, sizeof p->owner, false, site);
  struct module* owner = p->owner;
  cdev_kobject_put(p, site);
  if (owner != nullptr) __devsim_module_put(owner);
}

}  // namespace devsim::cabi

using devsim::cabi::c_site;
using devsim::cabi::state;
namespace bus = devsim::bus;
namespace sim = devsim::sim;
namespace core = devsim::core;
namespace cabi = devsim::cabi;

extern "C" {

// ---- interrupts off -----------------------------------------------------------------------------------------

unsigned long __devsim_spin_lock_irqsave(struct spinlock* l, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::check_primitive(l, site, reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
  core::irqflags_t flags = 0;
  core::spin_lock_irqsave(cabi::spinlock_of(l, site), flags, site);
  return flags;
}

void __devsim_spin_unlock_irqrestore(struct spinlock* l, unsigned long flags, const char* file, int line,
                                     const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::check_primitive(l, site, reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
  core::spin_unlock_irqrestore(cabi::spinlock_of(l, site), flags, site);
}

void __devsim_spin_lock_irq(struct spinlock* l, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::check_primitive(l, site, reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
  core::spin_lock_irq(cabi::spinlock_of(l, site), site);
}

void __devsim_spin_unlock_irq(struct spinlock* l, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::check_primitive(l, site, reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
  core::spin_unlock_irq(cabi::spinlock_of(l, site), site);
}

unsigned long __devsim_local_irq_save(const char* file, int line, const char* func) {
  core::irqflags_t flags = 0;
  core::local_irq_save(flags, c_site(file, line, func));
  return flags;
}

void __devsim_local_irq_restore(unsigned long flags, const char* file, int line, const char* func) {
  core::local_irq_restore(flags, c_site(file, line, func));
}

int __devsim_fatal_signal_pending(void) {
  return core::fatal_signal_pending() ? 1 : 0;
}

// ---- time ---------------------------------------------------------------------------------------------------

void __devsim_msleep(unsigned int msecs, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::might_sleep("msleep", site);
  sim::sleep_for(static_cast<sim::Nanos>(msecs) * cabi::kNanosPerJiffy, site);
}

unsigned long __devsim_jiffies(void) {
  return static_cast<unsigned long>(cabi::now_ns() / cabi::kNanosPerJiffy);
}

// ---- devices ------------------------------------------------------------------------------------------------

struct device* __devsim_get_device(struct device* dev, const char* file, int line, const char* func) {
  if (dev == nullptr) return nullptr;
  const sim::Site site = c_site(file, line, func);
  if (bus::Device* bd = cabi::bus_device(dev, site)) {
    bus::get_device(bd, site);
  } else {
    cabi::check_primitive(&dev->__devsim_refs, site, 0);
    cabi::refcount_of(&dev->__devsim_refs)->inc(site);
  }
  return dev;
}

void __devsim_put_device(struct device* dev, const char* file, int line, const char* func) {
  if (dev == nullptr) return;
  const sim::Site site = c_site(file, line, func);
  if (bus::Device* bd = cabi::bus_device(dev, site)) {
    bus::put_device(bd, site);
    return;
  }
  // A class device: freed at its last reference (device_create_release).
  cabi::check_primitive(&dev->__devsim_refs, site, 0);
  if (cabi::refcount_of(&dev->__devsim_refs)->dec_and_test(site)) cabi::c_kfree(dev, site);
}

int __devsim_device_lock_op(struct device* dev, int op, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  // drivers/base/core.c device_initialize: mutex_init(&dev->mutex), then lockdep_set_novalidate_class(). A platform
  // device's is the device model's (held by the driver core around probe and remove); a class device's is made here.
  devsim::core::Mutex* m = nullptr;
  if (bus::Device* bd = cabi::bus_device(dev, site)) {
    m = &bd->lock();
  } else {
    cabi::kernel_touch(&dev->__devsim_refs, sizeof dev->__devsim_refs, false, site);
    // INVARIANT: keyed by the struct device's address, which no struct mutex shares (a struct device does not begin
    // with one), in this execution's table.
    bus::HostGuard guard;
    auto& slot = cabi::state().mutexes[dev];
    if (!slot) {
      slot = std::make_unique<devsim::core::Mutex>("&dev->mutex", site);
      slot->set_novalidate_class();
    }
    m = slot.get();
  }
  switch (op) {
    case 0:
    case 3:
      m->lock(site);
      return 0;
    case 1:
      m->unlock(site);
      return 0;
    default:
      return m->try_lock(site) ? 1 : 0;
  }
}

void* __devsim_dev_get_drvdata(const struct device* dev, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (bus::Device* bd = cabi::bus_device(dev, site)) return bd->drvdata(site);
  cabi::kernel_touch(&dev->driver_data, sizeof dev->driver_data, false, site);
  return dev->driver_data;
}

void __devsim_dev_set_drvdata(struct device* dev, void* data, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (bus::Device* bd = cabi::bus_device(dev, site)) {
    bd->set_drvdata(data, site);
    return;
  }
  cabi::kernel_touch(&dev->driver_data, sizeof dev->driver_data, true, site);
  dev->driver_data = data;
}

void* __devsim_devm_kmalloc(struct device* dev, size_t size, gfp_t flags, const char* file, int line,
                            const char* func) {
  const sim::Site site = c_site(file, line, func);
  bus::Device* bd = cabi::bus_device(dev, site);
  if (bd == nullptr) return nullptr;
  std::optional<bus::BoundContext> ctx = bus::bound_context(*bd, site);
  if (!ctx) return nullptr;
  void* p = cabi::c_kmalloc(size, flags, site);
  if (p == nullptr) return nullptr;
  if (!bd->devres().add_sited(
          "devm_kmalloc", [p](const sim::Site& at) { cabi::c_kfree(p, at); }, site)) {
    cabi::c_kfree(p, site);
    return nullptr;
  }
  return p;
}

int __devsim_devm_add_action(struct device* dev, void (*action)(void*), void* data, int reset, const char* file,
                             int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  bus::Device* bd = cabi::bus_device(dev, site);
  std::optional<bus::BoundContext> ctx = bd != nullptr ? bus::bound_context(*bd, site) : std::nullopt;
  if (!ctx) {
    if (reset) action(data);
    return -bus::kEINVAL;
  }
  auto run = [action, data] { action(data); };
  return reset ? bus::devm_add_action_or_reset(*ctx, "devm action", run, site)
               : bus::devm_add_action(*ctx, "devm action", run, site);
}

// ---- device attributes (drivers/base/core.c device_create_file, dev_attr_show/dev_attr_store; fs/sysfs/file.c)

extern "C++" {  // helpers with C++ types, inside the file's extern "C" part
namespace {
constexpr std::size_t kPageSize = 4096;  // PAGE_SIZE: a show's buffer

// The directory of `dev`'s attributes: a bus device's, or a class device's (cabi::add_class_dir); "" for a class
// device without one (destroyed, or not made by device_create or usb_register_dev).
std::string attr_dir(struct device* dev, const sim::Site& site) {
  if (bus::Device* bd = cabi::bus_device(dev, site)) {
    std::string intf = cabi::usb_interface_dir(dev, site);
    return intf.empty() ? bd->devpath(site) : intf;
  }
  bus::HostGuard guard;
  const cabi::CApiState& st = state();
  auto it = st.class_dirs.find(dev);
  return it != st.class_dirs.end() ? it->second.dir : std::string();
}

// Creates `attr` of `dev` at `path`. Its show and store run in the task reading or writing the file, under kernfs's
// active protection (bus/sysfs.hpp): the attribute's removal waits for them, so they may use `dev` and `attr`.
// LIFETIME: `attr` is the driver's, in its module's data (a module copy is never unmapped: cabi/module.cpp) or in
// memory the driver keeps until it removed the attribute; `dev` is alive until its release, which comes after
// device_del removed (and drained) every attribute of its directory.
void create_c_attr(const std::string& path, struct device* dev, const struct device_attribute* attr) {
  auto* a = const_cast<struct device_attribute*>(attr);
  bus::Sysfs::Show show;
  if (attr->show != nullptr)
    show = [dev, a]() -> bus::SysfsRead {
      const sim::Site site = sim::Site::current();
      // sysfs_kf_seq_show: a zeroed page for the show to fill; more than a page back is "bad count" (a warning, and
      // the text is cut to the page).
      auto* buf = static_cast<char*>(cabi::c_kmalloc(kPageSize, cabi::kGfpKernelZero, site));
      if (buf == nullptr) return {-bus::kENOMEM, {}};
      const ssize_t n = a->show(dev, a, buf);
      bus::SysfsRead r;
      if (n < 0) {
        r.error = static_cast<int>(n);
      } else {
        std::size_t len = static_cast<std::size_t>(n);
        if (len >= kPageSize) {
          __devsim_warn("dev_attr_show: show returned bad count", site.file_name(), static_cast<int>(site.line()),
                        site.function_name());
          len = kPageSize - 1;
        }
        if (cabi::kernel_touch(buf, len, false, site)) r.text.assign(buf, len);
      }
      cabi::c_kfree(buf, site);
      return r;
    };
  bus::Sysfs::Store store;
  if (attr->store != nullptr)
    store = [dev, a](const std::string& text) -> int {
      const sim::Site site = sim::Site::current();
      // kernfs_fop_write_iter: the value copied into a buffer with a NUL after it.
      auto* buf = static_cast<char*>(cabi::c_kmalloc(text.size() + 1, static_cast<unsigned>(sim::GFP_KERNEL), site));
      if (buf == nullptr) return -bus::kENOMEM;
      std::memcpy(buf, text.data(), text.size());
      buf[text.size()] = 0;
      const ssize_t n = a->store(dev, a, buf, text.size());
      cabi::c_kfree(buf, site);
      return static_cast<int>(n);
    };
  bus::kernel().sysfs().create_attr(path, std::move(show), std::move(store));
}

// The directory of `group` within `dir`: its name's subdirectory, or `dir` itself.
std::string group_dir(const std::string& dir, const struct attribute_group* group, const sim::Site& site) {
  if (group->name == nullptr) return dir;
  cabi::kernel_touch(group->name, 1, false, site);
  return dir + "/" + group->name;
}
}  // namespace
}  // extern "C++"

int __devsim_device_create_file(struct device* dev, const struct device_attribute* attr, const char* file, int line,
                                const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (attr == nullptr || attr->attr.name == nullptr) return -bus::kEINVAL;
  const std::string dir = attr_dir(dev, site);
  if (dir.empty()) return -bus::kEINVAL;
  create_c_attr(dir + "/" + attr->attr.name, dev, attr);
  return 0;
}

void __devsim_device_remove_file(struct device* dev, const struct device_attribute* attr, const char* file, int line,
                                 const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (attr == nullptr || attr->attr.name == nullptr) return;
  const std::string dir = attr_dir(dev, site);
  if (!dir.empty()) bus::kernel().sysfs().remove_tree(dir + "/" + attr->attr.name, site);
}

int __devsim_device_add_groups(struct device* dev, const struct attribute_group* const* groups, const char* file,
                               int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (groups == nullptr) return 0;
  const std::string dir = attr_dir(dev, site);
  if (dir.empty()) return -bus::kEINVAL;
  for (const struct attribute_group* const* g = groups; *g != nullptr; ++g) {
    const std::string gdir = group_dir(dir, *g, site);
    if (gdir != dir) bus::kernel().sysfs().create_dir(gdir);
    if ((*g)->attrs == nullptr) continue;
    // A group's attributes are device attributes (the kernel's dev_attr_show finds the device_attribute around
    // each struct attribute).
    int index = 0;
    for (struct attribute* const* at = (*g)->attrs; *at != nullptr; ++at, ++index) {
      // create_files (fs/sysfs/group.c): an attribute is_visible says 0 for is not created.
      if ((*g)->is_visible != nullptr && (*g)->is_visible(&dev->kobj, *at, index) == 0) continue;
      create_c_attr(gdir + "/" + (*at)->name, dev,
                    reinterpret_cast<const struct device_attribute*>(reinterpret_cast<const char*>(*at) -
                                                                     offsetof(struct device_attribute, attr)));
    }
  }
  return 0;
}

void __devsim_device_remove_groups(struct device* dev, const struct attribute_group* const* groups, const char* file,
                                   int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (groups == nullptr) return;
  const std::string dir = attr_dir(dev, site);
  if (dir.empty()) return;
  for (const struct attribute_group* const* g = groups; *g != nullptr; ++g) {
    const std::string gdir = group_dir(dir, *g, site);
    if (gdir != dir) {
      bus::kernel().sysfs().remove_tree(gdir, site);
      continue;
    }
    if ((*g)->attrs == nullptr) continue;
    for (struct attribute* const* at = (*g)->attrs; *at != nullptr; ++at)
      bus::kernel().sysfs().remove_tree(dir + "/" + (*at)->name, site);
  }
}

extern "C++" {
void devsim::cabi::add_class_dir(struct device* dev, const char* class_name,
                                 const struct attribute_group* const* class_groups,
                                 const struct attribute_group* const* groups, const sim::Site& site) {
  // get_device_parent (drivers/base/core.c): under a bus device a class device sits in a directory named after its
  // class ("glue"), under another class device in that device's own directory, without a parent under
  // /sys/devices/virtual/CLASS.
  std::string dir;
  if (dev->parent == nullptr) {
    dir = std::string("/sys/devices/virtual/") + class_name;
  } else if (bus_device(dev->parent, site) != nullptr) {
    dir = attr_dir(dev->parent, site) + "/" + class_name;
  } else {
    dir = attr_dir(dev->parent, site);
    if (dir.empty()) dir = std::string("/sys/devices/virtual/") + class_name;
  }
  const char* name = dev_name(dev);
  dir += std::string("/") + (name != nullptr ? name : "?");
  std::string link = std::string("/sys/class/") + class_name + "/" + (name != nullptr ? name : "?");
  bus::Sysfs& sysfs = bus::kernel().sysfs();
  sysfs.create_dir(dir);
  sysfs.create_link(link, dir);
  if (dev->devt != 0) {
    // device_add: the "dev" attribute of a device with a number (dev_show: format_dev_t, "MAJOR:MINOR\n").
    const std::string text = std::to_string(MAJOR(dev->devt)) + ":" + std::to_string(MINOR(dev->devt)) + "\n";
    sysfs.create_attr(dir + "/dev", [text] { return bus::SysfsRead{0, text}; });
  }
  {
    bus::HostGuard guard;
    state().class_dirs[dev] = CClassDir{dir, std::move(link)};
  }
  // device_add_attrs: the class's dev_groups, then the device's own groups.
  const auto line = static_cast<int>(site.line());
  if (class_groups != nullptr)
    __devsim_device_add_groups(dev, class_groups, site.file_name(), line, site.function_name());
  if (groups != nullptr) __devsim_device_add_groups(dev, groups, site.file_name(), line, site.function_name());
}

void devsim::cabi::remove_class_dir(struct device* dev, const sim::Site& site) {
  std::optional<CClassDir> found;
  {
    bus::HostGuard guard;
    CApiState& st = state();
    if (auto it = st.class_dirs.find(dev); it != st.class_dirs.end()) {
      found = std::move(it->second);
      st.class_dirs.erase(it);
    }
  }
  if (!found) return;
  // device_del: the link goes, then the directory with its attributes, each drained of its show/store callers
  // (kernfs_drain). An empty class directory under the parent stays (cleanup_glue_dir is not modelled).
  bus::Sysfs& sysfs = bus::kernel().sysfs();
  sysfs.remove_tree(found->link, site);
  sysfs.remove_tree(found->dir, site);
}
}  // extern "C++"

int __devsim_dev_printk(const char* level, const struct device* dev, const char* fmt, ...) {
  // Named as the kernel's function (drivers/base/core.c), which a report's headline names: a bad `dev` is a fault in
  // dev_printk, called by the driver's frame below it.
  const sim::Site site = cabi::c_site(__FILE__, __LINE__, "dev_printk");
  // LIFETIME: no heap object lives across the reads of `dev` below: a bad pointer there (a driver's dev_err on
  // &p->interface->dev with interface NULL) faults, and a faulting task's frames are abandoned, not unwound.
  char prefix[128] = "(NULL device *): ";
  if (dev != nullptr) {
    // dev_printk reads the device: its driver's and its own name (a freed device is a use-after-free).
    cabi::kernel_touch(dev, sizeof *dev, false, site);
    const char* name = dev->init_name != nullptr ? dev->init_name : dev->__devsim_name;
    std::snprintf(prefix, sizeof prefix, "%s: ", name != nullptr ? name : "?");
  }
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  return __devsim_printk("%s%s%s", level, prefix, text);
}

extern "C++" {
namespace {
// The class's name, read as the kernel reads it (a class in freed memory is a use-after-free); null for none.
const char* class_name(const void* cls, const sim::Site& site) {
  const auto* c = static_cast<const struct __devsim_class*>(cls);
  if (!cabi::kernel_touch(&c->name, sizeof c->name, false, site) || c->name == nullptr) return nullptr;
  cabi::kernel_touch(c->name, 1, false, site);
  return c->name;
}
}  // namespace
}  // extern "C++"

// drivers/base/class.c class_register: the class's directory, /sys/class/NAME (a subsystem's kset).
int __devsim_class_register(const void* cls, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (cls == nullptr) return -bus::kEINVAL;
  const char* name = class_name(cls, site);
  if (name == nullptr) return -bus::kEINVAL;
  bus::kernel().sysfs().create_dir(std::string("/sys/class/") + name);
  return 0;
}

void __devsim_class_unregister(const void* cls, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (cls == nullptr || IS_ERR(cls)) return;
  if (const char* name = class_name(cls, site))
    bus::kernel().sysfs().remove_tree(std::string("/sys/class/") + name, site);
}

void* __devsim_class_create(const char* name, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  auto* cls =
      static_cast<struct __devsim_class*>(cabi::c_kmalloc(sizeof(struct __devsim_class), cabi::kGfpKernelZero, site));
  if (cls == nullptr) return ERR_PTR(-bus::kENOMEM);
  cls->name = name;
  if (const int r = __devsim_class_register(cls, file, line, func); r != 0) {
    cabi::c_kfree(cls, site);
    return ERR_PTR(r);
  }
  return cls;
}

void __devsim_class_destroy(const void* cls, const char* file, int line, const char* func) {
  if (cls == nullptr || IS_ERR(cls)) return;
  __devsim_class_unregister(cls, file, line, func);
  cabi::c_kfree(cls, c_site(file, line, func));
}

extern "C++" {
namespace {
// drivers/base/core.c device_create_groups_vargs.
struct device* device_create_v(const void* cls, struct device* parent, __kernel_dev_t devt, void* drvdata,
                               const struct attribute_group* const* groups, const sim::Site& site, const char* fmt,
                               va_list ap) {
  char name[64];
  std::vsnprintf(name, sizeof name, fmt, ap);
  const std::size_t len = std::strlen(name);
  char* mem = static_cast<char*>(cabi::c_kmalloc(sizeof(struct device) + len + 1, cabi::kGfpKernelZero, site));
  if (mem == nullptr) return static_cast<struct device*>(ERR_PTR(-bus::kENOMEM));
  auto* dev = reinterpret_cast<struct device*>(mem);
  std::memcpy(mem + sizeof(struct device), name, len + 1);
  dev->__devsim_name = mem + sizeof(struct device);
  dev->parent = parent;
  dev->devt = devt;
  dev->driver_data = drvdata;
  cabi::refcount_of(&dev->__devsim_refs)->set(1);
  // The node udev makes for it: opening it looks the character device up by number (chrdev_open).
  auto node = std::make_unique<cabi::CNode>();
  node->devt = devt;
  bus::cdev_init(*node, &cabi::kChrdevFops, site);
  const int r = bus::cdev_add(*node, name, nullptr, site);
  if (r != 0) {
    cabi::c_kfree(dev, site);
    return static_cast<struct device*>(ERR_PTR(r));
  }
  {
    bus::HostGuard guard;
    cabi::CApiState& st = state();
    st.class_devices.push_back({cls, devt, dev, node.get()});
    st.nodes.push_back(std::move(node));
  }
  if (cls != nullptr) {
    const auto* c = static_cast<const struct __devsim_class*>(cls);
    const struct attribute_group* const* class_groups = nullptr;
    if (cabi::kernel_touch(&c->dev_groups, sizeof c->dev_groups, false, site)) class_groups = c->dev_groups;
    if (const char* cname = class_name(cls, site)) cabi::add_class_dir(dev, cname, class_groups, groups, site);
  }
  return dev;
}
}  // namespace
}  // extern "C++"

struct device* __devsim_device_create(const void* cls, struct device* parent, __kernel_dev_t devt, void* drvdata,
                                      const char* file, int line, const char* func, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  struct device* dev = device_create_v(cls, parent, devt, drvdata, nullptr, c_site(file, line, func), fmt, ap);
  va_end(ap);
  return dev;
}

struct device* __devsim_device_create_with_groups(const void* cls, struct device* parent, __kernel_dev_t devt,
                                                  void* drvdata, const struct attribute_group* const* groups,
                                                  const char* file, int line, const char* func, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  struct device* dev = device_create_v(cls, parent, devt, drvdata, groups, c_site(file, line, func), fmt, ap);
  va_end(ap);
  return dev;
}

void __devsim_device_destroy(const void* cls, __kernel_dev_t devt, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::CApiState& st = state();
  std::optional<cabi::CClassDevice> found;
  {
    bus::HostGuard guard;
    for (auto it = st.class_devices.begin(); it != st.class_devices.end(); ++it) {
      if (it->cls != cls || it->devt != devt) continue;
      found = *it;
      st.class_devices.erase(it);
      break;
    }
  }
  if (!found) return;
  // device_unregister -> device_del: the attributes go (their callers drained), then the node; open files keep
  // their cdev. LIFETIME: the node is kept in st.nodes until the machine ends.
  cabi::remove_class_dir(found->dev, site);
  bus::cdev_del(*found->node, site);
  __devsim_put_device(found->dev, file, line, func);
}

// ---- the platform bus ---------------------------------------------------------------------------------------

int __devsim_platform_driver_register(struct platform_driver* drv, struct module* owner, const char* file, int line,
                                      const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::CApiState& st = state();
  const cabi::CModuleSpec* spec = nullptr;
  {
    bus::HostGuard guard;
    auto mod = st.modules.find(owner);
    if (mod == st.modules.end() || mod->second.spec == nullptr) return -bus::kEINVAL;
    if (st.platform_drivers.count(drv) != 0) return -bus::kEBUSY;
    spec = mod->second.spec;
  }
  bus::DriverOps ops;
  // Named after the module: /sys/bus/platform/drivers/<module> and the scenario's bind/unbind find it; it binds
  // devices whose modalias is the module's name or the C driver's own.
  ops.name = spec->name;
  ops.id_table = {spec->name};
  if (drv->driver.name != nullptr) ops.id_table.emplace_back(drv->driver.name);
  ops.probe = [drv, spec](bus::CoreContext& ctx) -> int {
    const sim::Site at = sim::Site::current();
    struct platform_device* pdev = cabi::platform_device_of(ctx.device(), at);
    {
      bus::HostGuard guard;
      state().platform_device_spec[pdev] = spec;
    }
    const int r = drv->probe != nullptr ? drv->probe(pdev) : 0;
    // really_probe (drivers/base/dd.c): the driver's dev_groups once its probe succeeded.
    if (r == 0 && drv->driver.dev_groups != nullptr)
      __devsim_device_add_groups(&pdev->dev, drv->driver.dev_groups, at.file_name(), static_cast<int>(at.line()),
                                 at.function_name());
    return r;
  };
  ops.remove = [drv](bus::CoreContext& ctx) {
    const sim::Site at = sim::Site::current();
    struct platform_device* pdev = cabi::platform_device_of(ctx.device(), at);
    // __device_release_driver: the dev_groups go (their callers drained) before remove.
    if (drv->driver.dev_groups != nullptr)
      __devsim_device_remove_groups(&pdev->dev, drv->driver.dev_groups, at.file_name(), static_cast<int>(at.line()),
                                    at.function_name());
    if (drv->remove != nullptr) drv->remove(pdev);
  };
  bus::Driver* d = bus::platform_driver_register(std::move(ops), site);
  if (d == nullptr) return -bus::kEBUSY;
  bus::HostGuard guard;
  st.platform_drivers[drv] = {drv, spec, d};
  return 0;
}

void __devsim_platform_driver_unregister(struct platform_driver* drv, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  bus::Driver* d = nullptr;
  {
    bus::HostGuard guard;
    auto it = state().platform_drivers.find(drv);
    if (it == state().platform_drivers.end()) return;
    d = it->second.bus;
    state().platform_drivers.erase(it);
  }
  // The machine's shutdown may have unregistered it already (scenarios/runner.cpp): once is enough.
  if (d->registered()) bus::driver_unregister(d, site);
}

int __devsim_platform_get_irq(struct platform_device* pdev, unsigned int num, const char* file, int line,
                              const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::kernel_touch(pdev, sizeof *pdev, false, site);
  bus::HostGuard guard;
  auto it = state().platform_device_spec.find(pdev);
  if (it == state().platform_device_spec.end() || num >= it->second->irqs.size()) return -bus::kENXIO;
  return static_cast<int>(it->second->irqs[num]);
}

// ---- interrupts ---------------------------------------------------------------------------------------------

int __devsim_request_threaded_irq(unsigned int irq, __devsim_irq_handler_t handler, __devsim_irq_handler_t thread_fn,
                                  unsigned long flags, const char* name, void* dev_id, const char* file, int line,
                                  const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (handler == nullptr && thread_fn == nullptr) return -bus::kEINVAL;
  // LIFETIME: irq_actions is a std::list: the entry, the cookie the line hands back, never moves.
  cabi::CIrqAction* a = nullptr;
  {
    bus::HostGuard guard;
    a = &state().irq_actions.emplace_back();
    a->irq = irq;
    a->handler = handler;
    a->thread_fn = thread_fn;
    a->dev_id = dev_id;
    a->name = name;
  }
  const int r = bus::request_threaded_irq(irq, handler != nullptr ? &cabi::c_irq_trampoline : nullptr,
                                          thread_fn != nullptr ? &cabi::c_irq_thread_trampoline : nullptr, flags,
                                          name != nullptr ? name : "", a, site);
  bus::HostGuard guard;
  a->installed = r == 0;
  return r;
}

int __devsim_request_irq(unsigned int irq, __devsim_irq_handler_t handler, unsigned long flags, const char* name,
                         void* dev_id, const char* file, int line, const char* func) {
  if (handler == nullptr) return -bus::kEINVAL;
  return __devsim_request_threaded_irq(irq, handler, nullptr, flags, name, dev_id, file, line, func);
}

int __devsim_devm_request_threaded_irq(struct device* dev, unsigned int irq, __devsim_irq_handler_t handler,
                                       __devsim_irq_handler_t thread_fn, unsigned long flags, const char* name,
                                       void* dev_id, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  bus::Device* bd = cabi::bus_device(dev, site);
  std::optional<bus::BoundContext> ctx = bd != nullptr ? bus::bound_context(*bd, site) : std::nullopt;
  if (!ctx) return -bus::kEINVAL;
  const int r = __devsim_request_threaded_irq(irq, handler, thread_fn, flags, name, dev_id, file, line, func);
  if (r != 0) return r;
  cabi::CIrqAction* a = cabi::find_action(irq, dev_id);
  // devm_free_irq at unbind: free_irq, which waits for a running handler.
  return bus::devm_add_action_or_reset(
      *ctx, "devm_request_irq " + std::to_string(irq),
      [a] {
        {
          bus::HostGuard guard;
          a->installed = false;
        }
        bus::free_irq(a->irq, a);
      },
      site);
}

int __devsim_devm_request_irq(struct device* dev, unsigned int irq, __devsim_irq_handler_t handler, unsigned long flags,
                              const char* name, void* dev_id, const char* file, int line, const char* func) {
  if (handler == nullptr) return -bus::kEINVAL;
  return __devsim_devm_request_threaded_irq(dev, irq, handler, nullptr, flags, name, dev_id, file, line, func);
}

const void* __devsim_free_irq(unsigned int irq, void* dev_id, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::CIrqAction* a = cabi::find_action(irq, dev_id);
  if (a == nullptr) {
    __devsim_warn("free_irq: trying to free an IRQ that was never requested", file, line, func);
    return nullptr;
  }
  {
    bus::HostGuard guard;
    a->installed = false;
  }
  bus::free_irq(irq, a, site);
  return a->name;
}

void __devsim_disable_irq(unsigned int irq, int sync, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (sync)
    bus::disable_irq(irq, site);
  else
    bus::disable_irq_nosync(irq, site);
}

void __devsim_enable_irq(unsigned int irq, const char* file, int line, const char* func) {
  bus::enable_irq(irq, c_site(file, line, func));
}

void __devsim_synchronize_irq(unsigned int irq, const char* file, int line, const char* func) {
  bus::synchronize_irq(irq, c_site(file, line, func));
}

// ---- timers -------------------------------------------------------------------------------------------------

void __devsim_timer_setup(struct timer_list* timer, void (*fn)(struct timer_list*), unsigned int flags,
                          const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::kernel_touch(timer, sizeof *timer, true, site);
  timer->function = fn;
  timer->flags = flags;
  timer->expires = 0;
  bus::timer_setup(*new (timer->__devsim_timer) bus::TimerList(), &cabi::c_timer_trampoline, site);
}

int __devsim_mod_timer(struct timer_list* timer, unsigned long expires, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::kernel_touch(&timer->expires, sizeof timer->expires, true, site);
  timer->expires = expires;
  const long delta = static_cast<long>(expires - __devsim_jiffies());
  const std::uint64_t delay = delta > 0 ? static_cast<std::uint64_t>(delta) * cabi::kNanosPerJiffy : 0;
  return bus::mod_timer(cabi::timer_of(timer), delay, site) ? 1 : 0;
}

int __devsim_del_timer(struct timer_list* timer, int mode, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::kernel_touch(timer, sizeof *timer, false, site);
  bus::TimerList& t = cabi::timer_of(timer);
  switch (mode) {
    case 0:
      return bus::del_timer(t, site) ? 1 : 0;
    case 1:
      return bus::del_timer_sync(t, site) ? 1 : 0;
    default:
      // timer_shutdown() without _sync does not wait: devsim's shutdown always does (documented in timer.h).
      return bus::timer_shutdown_sync(t, site) ? 1 : 0;
  }
}

int __devsim_timer_pending(const struct timer_list* timer) {
  return bus::timer_pending(cabi::timer_of(const_cast<struct timer_list*>(timer))) ? 1 : 0;
}

// ---- character devices --------------------------------------------------------------------------------------

int __devsim_alloc_chrdev_region(__kernel_dev_t* dev, unsigned int baseminor, unsigned int count, const char* name,
                                 const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (count == 0 || baseminor + count > (1u << MINORBITS)) return -bus::kEINVAL;
  cabi::CApiState& st = state();
  bus::HostGuard guard;
  for (unsigned major = cabi::kDynamicMajorFirst; major >= cabi::kDynamicMajorLast; --major) {
    bool used = false;
    for (const cabi::CChrdevRegion& r : st.chrdev_regions)
      used = used || r.major == major;
    if (used) continue;
    st.chrdev_regions.push_back({major, baseminor, count, name != nullptr ? name : ""});
    cabi::kernel_touch(dev, sizeof *dev, true, site);
    *dev = MKDEV(major, baseminor);
    return 0;
  }
  return -bus::kEBUSY;
}

int __devsim_register_chrdev_region(__kernel_dev_t from, unsigned int count, const char* name, const char* file,
                                    int line, const char* func) {
  (void)file;
  (void)line;
  (void)func;
  if (count == 0 || MINOR(from) + count > (1u << MINORBITS)) return -bus::kEINVAL;
  cabi::CApiState& st = state();
  bus::HostGuard guard;
  for (const cabi::CChrdevRegion& r : st.chrdev_regions)
    if (r.major == MAJOR(from) && cabi::ranges_overlap(r.baseminor, r.count, MINOR(from), count)) return -bus::kEBUSY;
  st.chrdev_regions.push_back({MAJOR(from), MINOR(from), count, name != nullptr ? name : ""});
  return 0;
}

void __devsim_unregister_chrdev_region(__kernel_dev_t from, unsigned int count, const char* file, int line,
                                       const char* func) {
  (void)file;
  (void)line;
  (void)func;
  bus::HostGuard guard;
  auto& regions = state().chrdev_regions;
  for (auto it = regions.begin(); it != regions.end(); ++it) {
    if (it->major == MAJOR(from) && it->baseminor == MINOR(from) && it->count == count) {
      regions.erase(it);
      return;
    }
  }
}

void __devsim_cdev_init(struct cdev* cdev, const struct file_operations* fops, const char* file, int line,
                        const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::kernel_touch(cdev, sizeof *cdev, true, site);
  std::memset(static_cast<void*>(cdev), 0, sizeof *cdev);
  cabi::refcount_of(&cdev->__devsim_refs)->set(1);  // kobject_init
  cdev->ops = fops;
}

struct cdev* __devsim_cdev_alloc(const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  auto* p = static_cast<struct cdev*>(cabi::c_kmalloc(sizeof(struct cdev), cabi::kGfpKernelZero, site));
  if (p == nullptr) return nullptr;
  cabi::refcount_of(&p->__devsim_refs)->set(1);
  p->__devsim_dynamic = 1;
  return p;
}

int __devsim_cdev_add(struct cdev* p, __kernel_dev_t dev, unsigned int count, const char* file, int line,
                      const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::kernel_touch(p, sizeof *p, true, site);
  p->dev = dev;
  p->count = count;
  core::MutexGuard guard = cabi::chrdevs_lock().guard(site);
  auto& map = state().cdev_map;
  map.insert(map.begin(), {dev, count, p});
  return 0;
}

void __devsim_cdev_del(struct cdev* p, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  {
    // cdev_unmap(): no new open finds it.
    core::MutexGuard guard = cabi::chrdevs_lock().guard(site);
    std::erase_if(state().cdev_map, [p](const cabi::CCdevMapping& m) { return m.cdev == p; });
  }
  cabi::cdev_kobject_put(p, site);
}

}  // extern "C"
