// R12: refcount overflow (Alice Ryhl, "Arc in the Linux Kernel", seeds/001: the kernel's Arc does not abort on
// overflow; refcount_t saturates with a warning and leaks, it never frees early).
//
// The driver has a reference leak, in both variants, as real drivers had: ioctl(GET_STATS) pins the device
// state for the request and its error path (an out-of-range page) returns without dropping the pin. Every bad
// call leaks one reference; a user that loops on it drives the count to its limit. The simulator cannot afford
// two billion ioctls, so probe() starts the count where they would have left it: one short of the counter's
// limit (the model's abbreviation, the same in both variants).
//
//   r12_refcount_overflow_buggy  counts with a plain unsigned counter (atomic_t style): the leak wraps it to 0,
//                                the next get/put pair "drops the last reference" and frees the state while the
//                                file and the driver still hold theirs -> use-after-free (r12_release).
//   r12_refcount_overflow_fixed  counts with refcount_t: the overflowing increment saturates the count with
//                                "refcount_t: saturated; leaking memory." (a warning, not fatal); from then on
//                                no put can free the state: it leaks, it is never freed early, nothing aborts.
#include <atomic>
#include <climits>
#include <string>
#include <vector>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "core/refcount.hpp"
#include "drivers/minor_ida.hpp"
#include "drivers/registry.hpp"
#include "sim/kmalloc.hpp"
#include "sim/machine.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::CoreContext;
using bus::File;

constexpr unsigned kR12GetStats = 0x5501;
constexpr unsigned long kR12MaxPage = 3;
constexpr int kR12Stats = 40;

struct R12Dev;
using R12Ptr = sim::KPtr<R12Dev>;

// How the variant counts references: the only difference between them.
struct R12Variant {
  void (*get)(R12Ptr priv);
  void (*put)(R12Ptr priv);
};

struct R12Dev {
  const R12Variant* variant = nullptr;
  core::Refcount refs{1};     // fixed: refcount_t
  unsigned int raw_refs = 1;  // buggy: a plain counter that wraps (BUG: no overflow check)
  Cdev* cdev = nullptr;
  int minor = 0;
  std::atomic<int> users{0};  // open files (atomic_t: opens and releases run concurrently)
  int stats = kR12Stats;
  bool gone = false;  // set by remove(): calls after unplug get -ENODEV
};

// /dev/statsN numbers, per machine (drivers/minor_ida.hpp).
using R12Minors = MinorIda<struct R12MinorsTag>;

void r12_free(R12Ptr priv) {
  sim::kfree(priv);
}

// ---- the counting: where the variants differ ------------------------------------------------------------

void r12_get_buggy(R12Ptr priv) {
  ++priv.write().raw_refs;  // BUG: UINT_MAX + 1 wraps to 0: the count no longer says who holds the state
}
void r12_put_buggy(R12Ptr priv) {
  if (--priv.write().raw_refs == 0) r12_free(priv);  // after a wrap: "the last reference", while others remain
}

void r12_get(R12Ptr priv) {
  priv.write().refs.inc();  // refcount_inc(): at the limit it saturates and warns instead of wrapping
}
void r12_put(R12Ptr priv) {
  // refcount_dec_and_test(): never true for a saturated count, so a saturated state is never freed.
  if (priv.write().refs.dec_and_test()) r12_free(priv);
}

const R12Variant kR12Buggy{r12_get_buggy, r12_put_buggy};
const R12Variant kR12Fixed{r12_get, r12_put};

void r12_get_ref(R12Ptr priv) {
  priv.load(&R12Dev::variant)->get(priv);
}
void r12_put_ref(R12Ptr priv) {
  priv.load(&R12Dev::variant)->put(priv);
}

// ---- file operations (shared) --------------------------------------------------------------------------------

int r12_open(Cdev& cdev, File& file) {
  // LIFETIME: the open holds the cdev, which holds a reference on the state until its release (on_release).
  R12Ptr priv = cdev.owner_ptr<R12Dev>();
  r12_get_ref(priv);
  ++priv.write().users;
  file.set_private(priv);
  return 0;
}

long r12_ioctl(File& file, unsigned cmd, unsigned long page) {
  // LIFETIME: the file's reference keeps the state alive (as long as the count is honest).
  R12Ptr priv = file.private_data<R12Dev>();
  if (priv.load_once(&R12Dev::gone)) return -bus::kENODEV;  // READ_ONCE: remove() sets it without a lock
  if (cmd != kR12GetStats) return -bus::kENOTTY;
  r12_get_ref(priv);                             // the request pins the state
  if (page > kR12MaxPage) return -bus::kEINVAL;  // BUG (both variants): leaks the request's reference
  const long value = priv.load(&R12Dev::stats) + static_cast<long>(page);
  r12_put_ref(priv);
  return value;
}

int r12_release(Cdev&, File& file) {
  R12Ptr priv = file.private_data<R12Dev>();
  --priv.write().users;
  r12_put_ref(priv);
  return 0;
}

const bus::FileOperations kR12Fops{r12_open, nullptr, nullptr, r12_ioctl, nullptr, nullptr, r12_release};

// ---- probe / remove ---------------------------------------------------------------------------------------

int r12_probe(CoreContext& ctx, const R12Variant& variant) {
  R12Ptr priv = sim::kzalloc<R12Dev>();
  if (!priv) return -bus::kENOMEM;
  R12Dev& p = priv.write();  // LIFETIME: just allocated, ours alone until the node is published
  p.variant = &variant;
  // The driver's reference and the cdev's (below): 2 honest references. The rest of the count stands for the
  // references leaked by two billion bad GET_STATS calls before this model starts (see the file comment):
  // one more increment than the driver and one file take reaches the limit.
  p.refs.set(INT_MAX - 1);
  p.raw_refs = UINT_MAX - 1;
  p.minor = R12Minors::alloc();
  p.cdev = bus::cdev_alloc(&kR12Fops);
  // LIFETIME: the cdev holds a reference on the state until its last put: an open that found the node finds
  // the state alive. (Already counted in the starting value above.)
  p.cdev->set_owner(priv);
  p.cdev->on_release = [priv] { r12_put_ref(priv); };
  if (int r = bus::cdev_add(*p.cdev, "stats" + std::to_string(p.minor), &ctx.device()); r != 0) {
    bus::cdev_del(*p.cdev);
    R12Minors::release(p.minor);
    r12_put_ref(priv);
    return r;
  }
  ctx->set_drvdata(priv.unchecked());
  return 0;
}
int r12_probe_buggy(CoreContext& ctx) {
  return r12_probe(ctx, kR12Buggy);
}
int r12_probe_fixed(CoreContext& ctx) {
  return r12_probe(ctx, kR12Fixed);
}

void r12_remove(CoreContext& ctx) {
  auto* raw = static_cast<R12Dev*>(ctx->drvdata());
  // LIFETIME: the driver's reference (from probe) is held until the put below, if the count is honest.
  R12Ptr priv(raw);
  priv.store_once(&R12Dev::gone, true);  // WRITE_ONCE: ioctls read it without a lock
  bus::cdev_del(*priv.load(&R12Dev::cdev));
  R12Minors::release(priv.load(&R12Dev::minor));
  r12_put_ref(priv);
}

DriverInfo r12_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r12_refcount_overflow_buggy" : "r12_refcount_overflow_fixed";
  info.bus = "usb";
  info.summary = buggy ? "R12: a leaked reference wraps a plain counter to 0: freed early (UAF)"
                       : "R12: a leaked reference saturates refcount_t: warning, leak, never freed early";
  info.race = "R12";
  info.buggy = buggy;
  info.bug_kind = buggy ? "use-after-free" : "";
  // Saturation is the designed outcome: the warning, and the object leaked (never freed early).
  if (!buggy) info.expected_warnings = {"refcount-warning", "memory-leak"};
  info.node = "stats0";
  info.ioctls = {{"GET_STATS", kR12GetStats, kR12MaxPage + 1}};
  info.ops = [buggy] { return bus::DriverOps{"", "usb", {}, buggy ? r12_probe_buggy : r12_probe_fixed, r12_remove}; };
  return info;
}

DriverInfo r12_refcount_overflow_buggy_info() {
  return r12_info(true);
}
DriverInfo r12_refcount_overflow_fixed_info() {
  return r12_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r12_refcount_overflow_buggy_info)
DEVSIM_REGISTER_DRIVER(r12_refcount_overflow_fixed_info)

}  // namespace devsim::drivers
