// i2c-dev's open-vs-detach window (drivers/i2c/i2c-dev.c before commit "i2c: dev: use kref"): written in the
// plain-pointer style, with no yield anywhere. The compiler instrumentation makes the plain read of
// `entry->adap_nr` after the unlock a scheduling point (the entry is shared memory), so the remover's kfree can
// run in between.
//
// A module-wide list maps minors to i2c_dev entries (kzalloc'd). i2cdev_open() finds its entry under
// i2c_dev_list_lock (i2c_dev_get_by_minor), unlocks, then reads entry->adap_nr. The adapter's removal
// (i2cdev_detach_adapter -> put_i2c_dev) unlinks the entry under the same spinlock and frees it.
//
//   i2c_dev_lookup_buggy  open() keeps the bare pointer past the unlock: use-after-free when the detach frees the
//                         entry in the window.
//   i2c_dev_lookup_fixed  the entry is reference-counted: the list holds one reference, open() takes its own
//                         with kref_get() while still under the lock, and release() puts it; the detach drops
//                         the list's reference after unlinking. The last put frees.
#include <map>
#include <string>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "core/kref.hpp"
#include "core/spinlock.hpp"
#include "drivers/registry.hpp"
#include "sim/kmalloc.hpp"
#include "sim/machine.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::CoreContext;
using bus::File;

constexpr unsigned kI2cGetAdapter = 0x0707;  // returns the adapter number the file was opened on

struct I2cDevEntry {
  core::Kref kref;  // fixed variant: the list's reference and one per open file
  int minor = 0;
  int adap_nr = 0;
  Cdev* cdev = nullptr;
};

// The module's list (a static in the C driver; per world here). INVARIANT: an entry is unlinked under `lock`
// before it is freed, so under `lock` every entry is allocated memory.
struct I2cDevList {
  core::SpinLock lock{"i2c_dev_list_lock"};
  std::map<int, I2cDevEntry*> by_minor;  // guarded by lock
  int next_minor = 0;                    // guarded by lock
};
I2cDevList& i2c_dev_list() {
  return sim::machine_state<I2cDevList>();
}

void i2c_dev_free(I2cDevEntry* entry) {
  sim::kfree_raw(entry);
}

// i2c_dev_get_by_minor(): the lookup under the list lock. The fixed variant takes the caller's reference before
// the lock is dropped.
I2cDevEntry* i2c_dev_get_by_minor(int minor, bool take_ref) {
  I2cDevList& list = i2c_dev_list();
  list.lock.lock();
  auto it = list.by_minor.find(minor);
  I2cDevEntry* entry = it == list.by_minor.end() ? nullptr : it->second;
  if (entry != nullptr && take_ref) entry->kref.get();
  list.lock.unlock();
  return entry;
}

int minor_of(Cdev& cdev) {
  return std::stoi(cdev.name().substr(4));  // "i2c-N"
}

int i2cdev_open_with(Cdev& cdev, File& file, bool fixed) {
  I2cDevEntry* entry = i2c_dev_get_by_minor(minor_of(cdev), fixed);
  if (entry == nullptr) return -bus::kENODEV;
  // BUG (buggy variant): nothing keeps `entry` alive once the list lock is dropped; the detach may have
  // unlinked and freed it by now. This plain read is the use-after-free.
  int adap_nr = entry->adap_nr;
  if (adap_nr < 0) return -bus::kENODEV;
  file.set_private_raw(entry);  // fixed: the reference taken under the lock is the file's
  return 0;
}
int i2cdev_open_buggy(Cdev& cdev, File& file) {
  return i2cdev_open_with(cdev, file, false);
}
int i2cdev_open_fixed(Cdev& cdev, File& file) {
  return i2cdev_open_with(cdev, file, true);
}

long i2cdev_ioctl(File& file, unsigned cmd, unsigned long) {
  if (cmd != kI2cGetAdapter) return -bus::kENOTTY;
  auto* entry = static_cast<I2cDevEntry*>(file.private_raw());
  // LIFETIME (fixed): the file's reference keeps the entry alive until release. (Buggy: the file only has the
  // pointer, which is the bug again; the open already reported it.)
  return entry->adap_nr;
}

int i2cdev_release_buggy(Cdev&, File&) {
  return 0;
}
int i2cdev_release_fixed(Cdev&, File& file) {
  auto* entry = static_cast<I2cDevEntry*>(file.private_raw());
  (void)entry->kref.put([entry] { i2c_dev_free(entry); });
  return 0;
}

const bus::FileOperations kI2cFopsBuggy{i2cdev_open_buggy,   nullptr, nullptr, i2cdev_ioctl, nullptr, nullptr,
                                        i2cdev_release_buggy};
const bus::FileOperations kI2cFopsFixed{i2cdev_open_fixed,   nullptr, nullptr, i2cdev_ioctl, nullptr, nullptr,
                                        i2cdev_release_fixed};

// ---- attach / detach (the adapter's probe and remove) ----------------------------------------------------

int i2cdev_attach(CoreContext& ctx, const bus::FileOperations* fops) {
  I2cDevEntry* entry = sim::kzalloc<I2cDevEntry>().unchecked();
  if (entry == nullptr) return -bus::kENOMEM;
  I2cDevList& list = i2c_dev_list();
  list.lock.lock();
  entry->minor = list.next_minor++;
  entry->adap_nr = entry->minor;
  list.by_minor[entry->minor] = entry;
  list.lock.unlock();
  entry->cdev = bus::cdev_alloc(fops);
  if (int r = bus::cdev_add(*entry->cdev, "i2c-" + std::to_string(entry->minor), &ctx.device()); r != 0) {
    bus::cdev_del(*entry->cdev);
    list.lock.lock();
    list.by_minor.erase(entry->minor);
    list.lock.unlock();
    i2c_dev_free(entry);
    return r;
  }
  ctx->set_drvdata(entry);
  return 0;
}
int i2cdev_attach_buggy(CoreContext& ctx) {
  return i2cdev_attach(ctx, &kI2cFopsBuggy);
}
int i2cdev_attach_fixed(CoreContext& ctx) {
  return i2cdev_attach(ctx, &kI2cFopsFixed);
}

// put_i2c_dev(): unlink under the list lock, then free (buggy) or drop the list's reference (fixed).
void i2cdev_detach(CoreContext& ctx, bool fixed) {
  auto* entry = static_cast<I2cDevEntry*>(ctx->drvdata());
  bus::cdev_del(*entry->cdev);  // no new opens; opens in flight still run
  I2cDevList& list = i2c_dev_list();
  list.lock.lock();
  list.by_minor.erase(entry->minor);
  list.lock.unlock();
  if (fixed)
    (void)entry->kref.put([entry] { i2c_dev_free(entry); });
  else
    i2c_dev_free(entry);
}
void i2cdev_detach_buggy(CoreContext& ctx) {
  i2cdev_detach(ctx, false);
}
void i2cdev_detach_fixed(CoreContext& ctx) {
  i2cdev_detach(ctx, true);
}

DriverInfo i2c_dev_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "i2c_dev_lookup_buggy" : "i2c_dev_lookup_fixed";
  info.bus = "platform";
  info.summary = buggy ? "i2c-dev: open() dereferences the entry it found after dropping the list lock"
                       : "i2c-dev: open() takes a kref on the entry under the list lock, release() puts it";
  info.buggy = buggy;
  info.bug_kind = buggy ? "use-after-free" : "";
  info.node = "i2c-0";
  info.ioctls = {{"I2C_GET_ADAPTER", kI2cGetAdapter, 0}};
  info.ops = [buggy] {
    return bus::DriverOps{"",
                          "platform",
                          {},
                          buggy ? i2cdev_attach_buggy : i2cdev_attach_fixed,
                          buggy ? i2cdev_detach_buggy : i2cdev_detach_fixed};
  };
  return info;
}

DriverInfo i2c_dev_lookup_buggy_info() {
  return i2c_dev_info(true);
}
DriverInfo i2c_dev_lookup_fixed_info() {
  return i2c_dev_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(i2c_dev_lookup_buggy_info)
DEVSIM_REGISTER_DRIVER(i2c_dev_lookup_fixed_info)

}  // namespace devsim::drivers
