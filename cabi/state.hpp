// What the C ABI keeps per machine (per execution in the simulator, sim::machine_state): the devsim objects behind C
// locks, the loaded modules and their reference counts, the registered misc devices, the user buffers of the system
// calls in progress. Natively the machine's threads share it: every read and change is under bus::HostGuard
// (cabi/kernel_api.hpp says how the C ABI runs in both runtimes).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bus/cdev.hpp"
#include "bus/driver.hpp"
#include "core/mutex.hpp"
#include "core/spinlock.hpp"
#include "sim/world.hpp"

struct miscdevice;
struct module;
struct cdev;
struct device;
struct platform_driver;
struct platform_device;

namespace devsim::cabi {

struct CModuleSpec;

// A C misc device as the bus misc core sees it: the bus object, with the C struct it stands for.
struct CMisc : bus::MiscDevice {
  struct miscdevice* c = nullptr;
};

// A loaded module's state (kernel/module/main.c: MODULE_STATE_COMING while init runs, LIVE, GOING in exit).
struct LoadedModule {
  enum class State { Coming, Live, Going };
  const CModuleSpec* spec = nullptr;
  State state = State::Coming;
  int refs = 0;  // try_module_get references (files whose fops->owner is the module)
};

// A /dev node made by device_create: opening it looks up the character device registered for its number.
struct CNode : bus::Cdev {
  unsigned devt = 0;
};

// A class device (device_create) and its node.
struct CClassDevice {
  const void* cls = nullptr;  // the struct class
  unsigned devt = 0;
  struct device* dev = nullptr;
  CNode* node = nullptr;
};

// A class device's sysfs directory (drivers/base/core.c get_device_parent): its parent's directory and a directory
// named after the class, /sys/devices/virtual/CLASS without a parent, its parent's own directory when the parent is
// a class device; /sys/class/CLASS/NAME links to it.
struct CClassDir {
  std::string dir;
  std::string link;  // "/sys/class/CLASS/NAME"
};

// A registered C platform driver: the bus driver standing for it.
struct CPlatformDriver {
  struct platform_driver* c = nullptr;
  const CModuleSpec* spec = nullptr;
  bus::Driver* bus = nullptr;
};

// A handler installed by request_irq: bus/irq.hpp calls a trampoline with this record as its cookie.
struct CIrqAction {
  unsigned irq = 0;
  int (*handler)(int, void*) = nullptr;    // null: the kernel's default primary handler (wakes the thread)
  int (*thread_fn)(int, void*) = nullptr;  // request_threaded_irq's, or null
  void* dev_id = nullptr;
  const char* name = nullptr;
  bool installed = false;
};

// A character device number range (fs/char_dev.c struct char_device_struct) or a cdev mapped on one (kobj_map).
struct CChrdevRegion {
  unsigned major = 0, baseminor = 0, count = 0;
  std::string name;
};
struct CCdevMapping {
  unsigned dev = 0, count = 0;
  struct cdev* cdev = nullptr;
};

struct CApiState {
  // C locks are keyed by their address; the devsim lock is made at first use (or at mutex_init/spin_lock_init).
  // INVARIANT: simulated addresses are never reused within an execution, and module globals are reset before each
  // load, so an address names one lock for the execution.
  std::unordered_map<const void*, std::unique_ptr<core::Mutex>> mutexes;
  std::unordered_map<const void*, std::unique_ptr<core::SpinLock>> spinlocks;
  std::map<const struct module*, LoadedModule> modules;
  std::map<const struct miscdevice*, std::unique_ptr<CMisc>> miscs;
  // LIFETIME: a deregistered CMisc is kept until the execution ends: the bus misc core may still name it in a
  // deadlock or trace record, and a C struct may be registered again at the same address.
  std::vector<std::unique_ptr<CMisc>> retired_miscs;
  // The user buffers of each task's system call in progress (one per read/write); in the simulator only (natively
  // a task's are its thread's).
  std::map<sim::TaskId, std::vector<std::pair<char*, std::size_t>>> user_buffers;
  int next_minor = 1;

  // Character devices. chrdevs_lock guards the cdev map as fs/char_dev.c's does: a lookup and the reference it
  // takes are atomic with respect to cdev_del's unmapping.
  std::vector<CChrdevRegion> chrdev_regions;
  std::vector<CCdevMapping> cdev_map;  // newest first
  std::unique_ptr<core::Mutex> chrdevs_lock;
  // LIFETIME: nodes are kept until the execution ends: open files hold the bus cdev after device_destroy.
  std::vector<std::unique_ptr<CNode>> nodes;
  std::vector<CClassDevice> class_devices;
  // The sysfs directories of class devices (device_create, usb_register_dev), by their struct device.
  std::map<const struct device*, CClassDir> class_dirs;
  // Platform drivers and the C struct platform_device standing for each bus device a C driver probed.
  std::map<const struct platform_driver*, CPlatformDriver> platform_drivers;
  std::map<const bus::Device*, struct platform_device*> platform_devices;
  std::map<const struct platform_device*, const CModuleSpec*> platform_device_spec;
  // LIFETIME: records live until the execution ends (a list: stable addresses, the bus line keeps the cookie).
  std::list<CIrqAction> irq_actions;
};

CApiState& state();

}  // namespace devsim::cabi
