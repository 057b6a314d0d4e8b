// R13: a driver with several cdevs sharing one piece of driver data (Daniel Vetter's ures groups, seeds/002:
// "drmm" — memory released when the last user of any of the device's nodes is gone).
//
// A graphics-like USB device exposes two nodes, /dev/gfxcardN (control) and /dev/gfxrenderN (rendering), and
// both reach the same shared state (the device's "GPU" description). Open files keep calling after unplug, and
// each node's cdev is released on its own schedule: when its owner let go and its own last file closed.
//
//   r13_multi_cdev_buggy  ties the shared state to the card node: the card cdev's release frees it ("the card is
//                         the device's main node"). With a render file still open the render node outlives it:
//                         the next GET_INFO on it reads freed memory -> use-after-free in r13_ioctl.
//   r13_multi_cdev_fixed  puts both cdevs in a bus::UresGroup whose release frees the shared state: it goes
//                         only when the driver has let go (remove) and the last file of either node is closed.
//                         Calls after unplug get -ENODEV.
#include <string>
#include <vector>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "drivers/minor_ida.hpp"
#include "drivers/registry.hpp"
#include "sim/kmalloc.hpp"
#include "sim/machine.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::CoreContext;
using bus::File;

constexpr unsigned kR13GetInfo = 0x5601;
constexpr int kR13Info = 128;  // "compute units"

// The state both nodes share.
struct R13Shared {
  Cdev* card = nullptr;
  Cdev* render = nullptr;
  bus::UresGroup* group = nullptr;  // fixed variant only
  int minor = 0;
  int info = kR13Info;
  bool gone = false;  // set by remove(): calls after unplug get -ENODEV
};
using R13Ptr = sim::KPtr<R13Shared>;

// Node numbers, per machine (drivers/minor_ida.hpp).
using R13Minors = MinorIda<struct R13MinorsTag>;

// ---- file operations (shared by both nodes and both variants) ------------------------------------------

int r13_open(Cdev& cdev, File& file) {
  // LIFETIME: the open holds the cdev. Fixed: the cdev holds the group, the group the shared state, and this
  // file now holds the group too. Buggy: only the card cdev's existence keeps it (the bug).
  file.set_private(cdev.owner_ptr<R13Shared>());
  return 0;
}

long r13_ioctl(File& file, unsigned cmd, unsigned long) {
  R13Ptr shared = file.private_data<R13Shared>();
  if (shared.load_once(&R13Shared::gone)) return -bus::kENODEV;  // READ_ONCE: remove() sets it locklessly
  if (cmd != kR13GetInfo) return -bus::kENOTTY;
  return shared.load(&R13Shared::info);
}

int r13_release(Cdev&, File&) {
  return 0;  // nothing per file: the file's reference on the group (fixed) is the VFS's to drop
}

const bus::FileOperations kR13Fops{r13_open, nullptr, nullptr, r13_ioctl, nullptr, nullptr, r13_release};

void r13_free_shared(R13Ptr shared) {
  R13Minors::release(shared.load(&R13Shared::minor));
  sim::kfree(shared);
}

// ---- how the shared state's lifetime is tied to the nodes: where the variants differ -------------------

// Buggy: the card cdev's release frees the shared state; the render cdev may still have open files.
void r13_tie_buggy(R13Ptr shared) {
  R13Shared& s = shared.write();  // LIFETIME: probe: ours alone until the nodes are added
  // BUG: one cdev of two decides for both: the render node's files outlive the state they point at.
  s.card->on_release = [shared] { r13_free_shared(shared); };
}

// Fixed: both cdevs in one ures group; the group's release frees the state.
void r13_tie(R13Ptr shared) {
  R13Shared& s = shared.write();  // LIFETIME: probe: ours alone until the nodes are added
  // The group starts with the driver's reference (dropped in remove); each cdev and each open file of either
  // node holds one more, so the state outlives every file of the group.
  s.group = bus::UresGroup::create([shared] { r13_free_shared(shared); });
  bus::cdev_set_group(*s.card, s.group);
  bus::cdev_set_group(*s.render, s.group);
}

// The driver's own reference, dropped at the end of remove().
void r13_let_go_buggy(R13Ptr) {
  // Nothing: the card cdev's release (after cdev_del, or its last close) frees the state.
}
void r13_let_go(R13Ptr shared) {
  shared.load(&R13Shared::group)->put();
}

struct R13Variant {
  void (*tie)(R13Ptr shared);
  void (*let_go)(R13Ptr shared);
};
const R13Variant kR13Buggy{r13_tie_buggy, r13_let_go_buggy};
const R13Variant kR13Fixed{r13_tie, r13_let_go};

// ---- probe / remove ---------------------------------------------------------------------------------------

struct R13Drvdata {
  R13Ptr shared;
  const R13Variant* variant = nullptr;
};

int r13_probe(CoreContext& ctx, const R13Variant& variant) {
  R13Ptr shared = sim::kzalloc<R13Shared>();
  if (!shared) return -bus::kENOMEM;
  sim::KPtr<R13Drvdata> drvdata = sim::kzalloc<R13Drvdata>();
  if (!drvdata) {
    sim::kfree(shared);
    return -bus::kENOMEM;
  }
  drvdata.store(&R13Drvdata::shared, shared);
  drvdata.store(&R13Drvdata::variant, &variant);
  R13Shared& s = shared.write();  // LIFETIME: ours alone until the nodes are added
  s.minor = R13Minors::alloc();
  s.card = bus::cdev_alloc(&kR13Fops);
  s.render = bus::cdev_alloc(&kR13Fops);
  s.card->set_owner(shared);
  s.render->set_owner(shared);
  variant.tie(shared);
  const std::string n = std::to_string(s.minor);
  int r = bus::cdev_add(*s.card, "gfxcard" + n, &ctx.device());
  if (r == 0) r = bus::cdev_add(*s.render, "gfxrender" + n, &ctx.device());
  if (r != 0) {
    bus::cdev_del(*s.render);
    bus::cdev_del(*s.card);
    variant.let_go(shared);
    sim::kfree(drvdata);
    return r;
  }
  ctx->set_drvdata(drvdata.unchecked());
  return 0;
}
int r13_probe_buggy(CoreContext& ctx) {
  return r13_probe(ctx, kR13Buggy);
}
int r13_probe_fixed(CoreContext& ctx) {
  return r13_probe(ctx, kR13Fixed);
}

void r13_remove(CoreContext& ctx) {
  auto* raw = static_cast<R13Drvdata*>(ctx->drvdata());
  // LIFETIME: the drvdata is the driver's, freed at the end of remove().
  sim::KPtr<R13Drvdata> drvdata(raw);
  R13Ptr shared = drvdata.load(&R13Drvdata::shared);
  const R13Variant* variant = drvdata.load(&R13Drvdata::variant);
  // LIFETIME: both cdevs are still registered: the state is alive until the first cdev_del below (buggy) or
  // the group put at the end (fixed).
  shared.store_once(&R13Shared::gone, true);  // WRITE_ONCE: ioctls read it without a lock
  Cdev* card = shared.load(&R13Shared::card);
  Cdev* render = shared.load(&R13Shared::render);
  bus::cdev_del(*render);
  bus::cdev_del(*card);  // buggy: with no card file open, this frees the state
  variant->let_go(shared);
  sim::kfree(drvdata);
}

DriverInfo r13_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r13_multi_cdev_buggy" : "r13_multi_cdev_fixed";
  info.bus = "usb";
  info.summary = buggy ? "R13: the card cdev's release frees state the render node still uses (UAF)"
                       : "R13: both cdevs in a ures group: shared state freed at the group's last release";
  info.race = "R13";
  info.buggy = buggy;
  info.bug_kind = buggy ? "use-after-free" : "";
  info.node = "gfxcard0";
  info.more_nodes = {"gfxrender0"};
  info.ioctls = {{"GET_INFO", kR13GetInfo, 0}};
  info.ops = [buggy] { return bus::DriverOps{"", "usb", {}, buggy ? r13_probe_buggy : r13_probe_fixed, r13_remove}; };
  return info;
}

DriverInfo r13_multi_cdev_buggy_info() {
  return r13_info(true);
}
DriverInfo r13_multi_cdev_fixed_info() {
  return r13_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r13_multi_cdev_buggy_info)
DEVSIM_REGISTER_DRIVER(r13_multi_cdev_fixed_info)

}  // namespace devsim::drivers
