// The parts of the C ABI's implementation that its files share (kernel_api.cpp: memory, locks and files;
// driver_model.cpp: devices, the platform bus, interrupts, timers, character devices). Include c_headers.hpp after it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "bus/cdev.hpp"
#include "core/mutex.hpp"
#include "core/refcount.hpp"
#include "core/spinlock.hpp"
#include "sim/site.hpp"
#include "sim/world.hpp"

struct attribute_group;
struct cdev;
struct device;
struct file_operations;
struct mutex;
struct spinlock;
struct usb_driver;

namespace devsim::cabi {

// The C ABI runs in both runtimes. What a call needs from the simulator has a native form: nothing for the checks
// ASan and TSan make natively (use-after-free of a lock, races), the driver model's HostGuard for the bookkeeping
// (CApiState and the other per-machine tables: held only for a lookup or an update, never across a call into the
// driver, bus/ or a sleep), the steady clock for time, native reports for warnings.
// The simulated world of this thread, or null natively.
inline sim::World* sim_world() {
  return sim::World::current();
}
// Requires the simulator.
sim::World& world();
// Whether `p` lies on the running task's stack (the kernel's object_is_on_stack). Natively always false: a thread's
// stack is not tracked there.
inline bool on_current_stack(const void* p) {
  const sim::World* w = sim_world();
  const sim::Stack* stack = w != nullptr ? w->current_stack() : nullptr;
  const auto* c = static_cast<const char*>(p);
  return stack != nullptr && c >= stack->bottom() && c < stack->top();
}
// The simulator's check that a lock's storage is live memory (a freed lock is a use-after-free); natively nothing
// (ASan checks the lock's own accesses).
void check_primitive(const void* p, const sim::Site& site, std::uintptr_t pc);
// might_sleep() (sleep-in-atomic in the simulator; natively nothing is checked).
void might_sleep(const char* what, const sim::Site& site);
// Fault injection: whether this allocation fails (never natively).
bool should_fail_alloc(const sim::Site& site);
// Nanoseconds: virtual time in the simulator, the steady clock natively (the clock bus/ timers use).
std::uint64_t now_ns();
// A report by the kernel model at the driver's `site` (a WARNING, a list corruption): the simulator's report, or a
// native one on stderr. Not fatal: the kernel prints and goes on.
void report_at(const char* kind, const std::string& headline, const std::string& detail, const sim::Site& site);
// A kernel-internal zeroed allocation (the C structs standing for a device the machine describes): made before any
// driver runs in the kernel, so fault injection does not fail it.
void* kernel_zalloc(std::size_t size, const sim::Site& site);
// kmalloc/kfree on the driver's behalf: fault injection, might_alloc, ZERO_SIZE_PTR.
void* c_kmalloc(std::size_t size, unsigned flags, const sim::Site& site);
void c_kfree(const void* p, const sim::Site& site);
// The devsim lock behind a C lock (made at first use).
core::Mutex& mutex_of(struct mutex* m, const sim::Site& site);
core::SpinLock& spinlock_of(struct spinlock* l, const sim::Site& site);
// The count of a refcount_t or kref: the C int is a core::Refcount.
core::Refcount* refcount_of(int* counter);
// An access of n bytes by the C driver at `pc` (a user copy done on its behalf).
void driver_access(const void* p, unsigned long n, bool write, std::uintptr_t pc);
// An access by kernel code (the model itself) at `site` to n bytes at p: false when it was reported (a
// use-after-free); host memory is not checked.
bool kernel_touch(const void* p, std::size_t n, bool write, const sim::Site& site);

// The VFS side of C files. kCFops: a C misc device's file operations (misc_open, then read, write, ioctl and
// release reach the C driver's through struct file).
extern const bus::FileOperations kCFops;
// Opens a C file on `f`: allocates its struct inode and struct file in simulated memory, calls fops->open. On
// failure both are freed (references the caller took are the caller's to drop); 0 or the open's error.
int open_c_file(bus::File& f, const struct file_operations* fops, unsigned rdev, struct cdev* cdev, void* private_data,
                const sim::Site& site);
// cdev_put() (fs/char_dev.c): drops an open file's references on a character device (driver_model.cpp).
void cdev_put(struct cdev* p, const sim::Site& site);
// The bus device behind a C struct device, read at `site` (freed: a use-after-free report); null for a class device
// and for null.
bus::Device* bus_device_of(const struct device* dev, const sim::Site& site);

// A class device's sysfs directory (drivers/base/core.c device_add): the directory where get_device_parent places
// it, the link /sys/class/CLASS/NAME, its "dev" attribute, its class's dev_groups and `groups`. Removing it drains
// the attributes' callers (device_del). Either may be called for a device without a directory: nothing happens.
void add_class_dir(struct device* dev, const char* class_name, const struct attribute_group* const* class_groups,
                   const struct attribute_group* const* groups, const sim::Site& site);
void remove_class_dir(struct device* dev, const sim::Site& site);
// The sysfs directory of a USB interface's struct device (DEVPATH/1-1:1.0, made with its /sys/bus/usb/devices link
// at the first call), "" for any other device.
std::string usb_interface_dir(const struct device* dev, const sim::Site& site);
// A USB driver's attribute groups for its interfaces: dev_groups, or its device_driver's (usb_register_driver copies
// the first into the second; a driver may set either).
const struct attribute_group** usb_dev_groups(const struct usb_driver* drv);

}  // namespace devsim::cabi
