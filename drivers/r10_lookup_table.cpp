// R10: the last reference dropped while another task takes one through a lookup table (Greg KH / Wedson,
// seeds/002; the usb-skeleton pattern).
//
// The driver keeps a module-wide table from /dev node to device state, as usb-skeleton's skel_open() finds its
// device with usb_find_interface(iminor(inode)). The table holds no reference: the state's release function
// unpublishes it (takes the table lock, erases the entry) and frees it. open() looks the node up under the
// table lock and takes a reference for the file.
//
//   r10_lookup_table_buggy  open() takes its reference with kref_get(): between the last kref_put() (count 0)
//                           and the release function taking the table lock, the entry is still in the table,
//                           so open() increments a count of 0: "refcount_t: addition on 0; use-after-free."
//   r10_lookup_table_fixed  open() uses kref_get_unless_zero() under the table lock: a state whose count already
//                           reached 0 is treated as not found (-ENODEV). The lock keeps the memory valid while
//                           the count is looked at (release must take it before freeing).
//
// ioctl(GET_STATUS) returns the device's status while bound, -ENODEV after unplug; the file's reference keeps
// the state alive until release().
#include <map>
#include <string>
#include <vector>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "core/kref.hpp"
#include "core/mutex.hpp"
#include "drivers/registry.hpp"
#include "sim/kmalloc.hpp"
#include "sim/machine.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::CoreContext;
using bus::File;

constexpr unsigned kR10GetStatus = 0x5301;
constexpr int kR10Status = 1;  // "ready"

struct R10Dev {
  core::Kref kref;  // the driver's reference (probe to remove) and one per open file
  Cdev* cdev = nullptr;
  std::string node;  // "tbldev0": its key in the table
  int minor = 0;
  int status = kR10Status;
  bool gone = false;  // set by remove(): calls after unplug get -ENODEV
};

// The module's table (a static in a C driver; per world here). The table holds no reference of its own.
// INVARIANT: an entry is erased, under `lock`, by r10_delete() before the state is freed; so under `lock` an
// entry points at allocated memory, though its count may already be 0 (the state is being released).
struct R10Table {
  core::Mutex lock{"r10_table_lock"};
  std::map<std::string, sim::KPtr<R10Dev>> by_node;  // guarded by lock
  std::vector<bool> minors;                          // guarded by lock
};
R10Table& r10_table() {
  return sim::machine_state<R10Table>();
}

// kref release (skel_delete): unpublish, then free.
void r10_delete(sim::KPtr<R10Dev> dev) {
  R10Table& table = r10_table();
  {
    core::MutexGuard guard = table.lock.guard();
    table.by_node.erase(dev.read().node);
    table.minors[static_cast<std::size_t>(dev.load(&R10Dev::minor))] = false;
  }
  sim::kfree(dev);
}

void r10_put(sim::KPtr<R10Dev> dev) {
  dev.write().kref.put([dev] { r10_delete(dev); });
}

// ---- the lookup: where the variants differ ---------------------------------------------------------------

sim::KPtr<R10Dev> r10_lookup_buggy(const std::string& node) {
  R10Table& table = r10_table();
  core::MutexGuard guard = table.lock.guard();
  auto it = table.by_node.find(node);
  if (it == table.by_node.end()) return nullptr;
  sim::KPtr<R10Dev> dev = it->second;
  // BUG: the table holds no reference, so the entry may belong to a state whose last reference is already gone
  // (r10_delete is waiting for the table lock we hold). kref_get() on it is an addition on 0.
  dev.write().kref.get();
  return dev;
}

sim::KPtr<R10Dev> r10_lookup(const std::string& node) {
  R10Table& table = r10_table();
  core::MutexGuard guard = table.lock.guard();
  auto it = table.by_node.find(node);
  if (it == table.by_node.end()) return nullptr;
  sim::KPtr<R10Dev> dev = it->second;
  // LIFETIME: the table lock keeps r10_delete() from freeing the state while we look at its count (see the
  // table's INVARIANT); a count of 0 means it is on its way out: as good as not there.
  if (!dev.write().kref.get_unless_zero()) return nullptr;
  return dev;
}

// ---- file operations --------------------------------------------------------------------------------------

int r10_open_with(Cdev& cdev, File& file, sim::KPtr<R10Dev> (*lookup)(const std::string&)) {
  // LIFETIME: the open holds the cdev (its name is readable); the state is reached through the table only.
  sim::KPtr<R10Dev> dev = lookup(cdev.name());
  if (!dev) return -bus::kENODEV;
  file.set_private(dev);  // the file's reference, taken by the lookup
  return 0;
}
int r10_open_buggy(Cdev& cdev, File& file) {
  return r10_open_with(cdev, file, r10_lookup_buggy);
}
int r10_open(Cdev& cdev, File& file) {
  return r10_open_with(cdev, file, r10_lookup);
}

long r10_ioctl(File& file, unsigned cmd, unsigned long) {
  // LIFETIME: the file's reference keeps the state alive until r10_release.
  sim::KPtr<R10Dev> dev = file.private_data<R10Dev>();
  if (dev.load_once(&R10Dev::gone)) return -bus::kENODEV;  // READ_ONCE: remove() sets it locklessly
  if (cmd != kR10GetStatus) return -bus::kENOTTY;
  return dev.load(&R10Dev::status);
}

int r10_release(Cdev&, File& file) {
  r10_put(file.private_data<R10Dev>());
  return 0;
}

const bus::FileOperations kR10FopsBuggy{r10_open_buggy, nullptr, nullptr, r10_ioctl, nullptr, nullptr, r10_release};
const bus::FileOperations kR10Fops{r10_open, nullptr, nullptr, r10_ioctl, nullptr, nullptr, r10_release};

// ---- probe / remove ---------------------------------------------------------------------------------------

int r10_probe(CoreContext& ctx, const bus::FileOperations* fops) {
  sim::KPtr<R10Dev> dev = sim::kzalloc<R10Dev>();
  if (!dev) return -bus::kENOMEM;
  Cdev* cdev = bus::cdev_alloc(fops);
  dev.store(&R10Dev::cdev, cdev);
  R10Table& table = r10_table();
  std::string node;
  {
    core::MutexGuard guard = table.lock.guard();
    std::size_t minor = 0;
    while (minor < table.minors.size() && table.minors[minor])
      ++minor;
    if (minor == table.minors.size()) table.minors.push_back(false);
    table.minors[minor] = true;
    dev.store(&R10Dev::minor, static_cast<int>(minor));
    node = "tbldev" + std::to_string(minor);
    dev.store(&R10Dev::node, node);
    // Published before cdev_add: an open can only find the node once it is fully set up.
    table.by_node[node] = dev;
  }
  if (int r = bus::cdev_add(*cdev, node, &ctx.device()); r != 0) {
    bus::cdev_del(*cdev);
    r10_put(dev);  // nobody else can have found it: no node
    return r;
  }
  ctx->set_drvdata(dev.unchecked());
  return 0;
}
int r10_probe_buggy(CoreContext& ctx) {
  return r10_probe(ctx, &kR10FopsBuggy);
}
int r10_probe_fixed(CoreContext& ctx) {
  return r10_probe(ctx, &kR10Fops);
}

void r10_remove(CoreContext& ctx) {
  auto* raw = static_cast<R10Dev*>(ctx->drvdata());
  // LIFETIME: the driver's reference (from probe) is still held: the state is alive until the put below.
  sim::KPtr<R10Dev> dev(raw);
  dev.store_once(&R10Dev::gone, true);      // WRITE_ONCE: ioctls read it without a lock
  bus::cdev_del(*dev.load(&R10Dev::cdev));  // no new opens; opens in flight still run r10_open
  r10_put(dev);  // the driver's reference; maybe the last (then r10_delete unpublishes and frees)
}

DriverInfo r10_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r10_lookup_table_buggy" : "r10_lookup_table_fixed";
  info.bus = "usb";
  info.summary = buggy ? "R10: open() kref_get()s a device found in a lookup table racing its last put"
                       : "R10: open() takes kref_get_unless_zero() under the table lock: -ENODEV when dying";
  info.race = "R10";
  info.buggy = buggy;
  info.bug_kind = buggy ? "refcount-warning" : "";
  info.node = "tbldev0";
  info.ioctls = {{"GET_STATUS", kR10GetStatus, 0}};
  info.ops = [buggy] { return bus::DriverOps{"", "usb", {}, buggy ? r10_probe_buggy : r10_probe_fixed, r10_remove}; };
  return info;
}

DriverInfo r10_lookup_table_buggy_info() {
  return r10_info(true);
}
DriverInfo r10_lookup_table_fixed_info() {
  return r10_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r10_lookup_table_buggy_info)
DEVSIM_REGISTER_DRIVER(r10_lookup_table_fixed_info)

}  // namespace devsim::drivers
