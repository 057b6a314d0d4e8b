// R15: the same Arc inserted twice in a list (Alice Ryhl, "Arc in the Linux Kernel", seeds/001: ListArc, an
// Arc that may sit in a list at most once; the Binder pattern).
//
// A USB device with an event queue, read through /dev/evqN. The device has one preallocated "status changed"
// event (an Arc shared by the device state, allocated at probe so that posting never allocates). ioctl
// (POST_STATUS) posts it to the queue; read() takes the first queued event and returns its code (-EAGAIN when
// the queue is empty). Two users posting before a reader took the event try to queue the same object twice.
//
//   r15_event_queue_buggy  links the event with the raw list API (list_add_tail on its list_head) without
//                          asking whether it is already queued: the second post adds the same node twice. The
//                          list debugging checks catch it: list-corruption "list_add double add".
//   r15_event_queue_fixed  queues through core::List, which only takes a ListArc: ListArc::try_from_arc fails
//                          while the event is on the list, so a second insertion cannot even be written. The
//                          driver handles the failure the way queue_work() handles a pending item: the event
//                          is already pending, POST_STATUS returns 0 (1 when it queued it).
//
// The device state is an Arc shared by the driver, the cdev and every open file; calls after unplug get
// -ENODEV.
#include <atomic>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "core/arc.hpp"
#include "core/list_arc.hpp"
#include "core/list_head.hpp"
#include "core/spinlock.hpp"
#include "drivers/minor_ida.hpp"
#include "drivers/registry.hpp"
#include "sim/machine.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::CoreContext;
using bus::File;
using sim::Site;

constexpr unsigned kR15PostStatus = 0x5801;
constexpr int kR15StatusChanged = 7;  // the event's code, what read() returns

struct R15Event;
// The raw linkage (buggy variant): a list_head and the event it belongs to. The list_head is the first member,
// so container_of(list_head) is a cast.
struct R15RawNode {
  core::ListHead link;
  const R15Event* event = nullptr;
  void* queue_ref = nullptr;  // the queue's count of the event while linked (Arc::into_foreign)
};
R15RawNode* r15_node_of(core::ListHead* link) {
  return reinterpret_cast<R15RawNode*>(link);
}

// An event. It can sit on the device's queue: through its ListLinks (the fixed variant's core::List) or
// through its raw list_head (the buggy variant).
// INVARIANT (buggy variant): while `raw.link` is on the raw queue, `raw.queue_ref` is the queue's count of the
// event; the raw API cannot stop a second insertion from breaking this.
struct R15Event : core::ListLinks<0> {
  explicit R15Event(int c) : code(c) { raw.event = this; }
  R15Event(const R15Event&) = delete;
  int code;
  mutable R15RawNode raw;
};
using R15EventArc = core::Arc<R15Event>;
using R15EventListArc = core::ListArc<R15Event, 0>;

struct R15Dev;
// How the variant queues and dequeues: the only difference between them. Called under the queue lock.
struct R15Variant {
  bool (*post)(const R15Dev& dev);  // true if it queued the event, false if already queued
  std::optional<R15EventArc> (*pop)(const R15Dev& dev);
};

// The device state (Rust: `Arc<EventQueueDevice>` with a `SpinLock<List<..>>` inside).
// Fields are `mutable` where Rust has interior mutability: both queues are guarded by `lock`, `gone` is atomic.
struct R15Dev {
  R15Dev(const R15Variant* v, Cdev* c, int m, R15EventArc ev) : variant(v), cdev(c), minor(m), status(std::move(ev)) {
    core::init_list_head(raw_queue);
  }
  // Drops what is still queued: the queues' counts of the event.
  ~R15Dev() {
    while (!core::list_empty(raw_queue)) {
      R15RawNode& node = *r15_node_of(raw_queue.next);
      core::list_del_init(node.link);
      R15EventArc::from_foreign(std::exchange(node.queue_ref, nullptr)).drop();
    }
    // `queue` (core::List) drops its counts in its own destructor.
  }

  const R15Variant* variant;
  Cdev* cdev;  // LIFETIME: cdev_alloc'd; alive while its owner (us, until remove) or an open file holds it
  int minor;
  R15EventArc status;  // the preallocated "status changed" event
  mutable core::SpinLock lock{"r15_queue_lock"};
  mutable core::ListHead raw_queue;       // buggy variant; guarded by lock
  mutable core::List<R15Event, 0> queue;  // fixed variant; guarded by lock
  mutable std::atomic<bool> gone{false};  // set by remove(): calls after unplug get -ENODEV
};
using R15Arc = core::Arc<R15Dev>;

// /dev/evqN numbers, per machine (drivers/minor_ida.hpp).
using R15Minors = MinorIda<struct R15MinorsTag>;

// ---- queueing: where the variants differ --------------------------------------------------------------------

bool r15_post_buggy(const R15Dev& dev) {
  R15RawNode& node = dev.status->raw;
  // The queue's count of the event, handed back when it is dequeued.
  node.queue_ref = core::into_foreign(dev.status.clone());
  // BUG: nothing asks whether the event is already queued. If it is, this adds the same node twice (and the
  // count above overwrites the one the queue already holds). CONFIG_DEBUG_LIST reports "list_add double add".
  core::list_add_tail(node.link, dev.raw_queue);
  return true;
}

std::optional<R15EventArc> r15_pop_buggy(const R15Dev& dev) {
  if (core::list_empty(dev.raw_queue)) return std::nullopt;
  R15RawNode& node = *r15_node_of(dev.raw_queue.next);  // container_of
  core::list_del_init(node.link);
  // LIFETIME: the queue's count comes back to the caller: the event stays alive while it is used.
  return R15EventArc::from_foreign(std::exchange(node.queue_ref, nullptr));
}

bool r15_post(const R15Dev& dev) {
  // The right to insert: only one ListArc of the event exists at a time, and the queue keeps it while the
  // event is queued. No right, no insertion: the second post cannot corrupt the list.
  std::optional<R15EventListArc> right = R15EventListArc::try_from_arc(dev.status);
  if (!right) return false;  // already queued (or being dequeued): the reader will see it, as queue_work does
  dev.queue.push_back(std::move(*right));
  return true;
}

std::optional<R15EventArc> r15_pop(const R15Dev& dev) {
  std::optional<R15EventListArc> ev = dev.queue.pop_front();
  if (!ev) return std::nullopt;
  return std::move(*ev).into_arc();  // gives the right back: the event may be queued again
}

const R15Variant kR15Buggy{r15_post_buggy, r15_pop_buggy};
const R15Variant kR15Fixed{r15_post, r15_pop};

// ---- file operations (shared) --------------------------------------------------------------------------------

int r15_open(Cdev& cdev, File& file) {
  // LIFETIME: the open holds the cdev, which holds a reference on the state until its release (on_release).
  core::ArcBorrow<R15Dev> dev = R15Arc::borrow_foreign(cdev.owner_data());
  file.set_private_raw(core::into_foreign(dev.to_arc()));
  return 0;
}

// read(): the first queued event's code, or -EAGAIN if none (O_NONBLOCK semantics).
long r15_read(File& file, std::size_t) {
  // LIFETIME: the file's reference keeps the state alive until r15_release.
  core::ArcBorrow<R15Dev> dev = R15Arc::borrow_foreign(file.private_raw());
  if (dev->gone.load()) return -bus::kENODEV;
  std::optional<R15EventArc> ev;
  {
    core::SpinLockGuard guard = dev->lock.guard();
    ev = dev->variant->pop(*dev);
  }
  if (!ev) return -bus::kEAGAIN;
  return (*ev)->code;
}

long r15_ioctl(File& file, unsigned cmd, unsigned long) {
  // LIFETIME: the file's reference keeps the state alive until r15_release.
  core::ArcBorrow<R15Dev> dev = R15Arc::borrow_foreign(file.private_raw());
  if (dev->gone.load()) return -bus::kENODEV;
  if (cmd != kR15PostStatus) return -bus::kENOTTY;
  core::SpinLockGuard guard = dev->lock.guard();
  return dev->variant->post(*dev) ? 1 : 0;
}

int r15_release(Cdev&, File& file) {
  R15Arc::from_foreign(file.private_raw()).drop();  // the file's reference; maybe the last
  return 0;
}

const bus::FileOperations kR15Fops{r15_open, r15_read, nullptr, r15_ioctl, nullptr, nullptr, r15_release};

// ---- probe / remove ---------------------------------------------------------------------------------------

int r15_probe(CoreContext& ctx, const R15Variant& variant) {
  const int minor = R15Minors::alloc();
  Cdev* cdev = bus::cdev_alloc(&kR15Fops);
  // Preallocated: posting happens in contexts that must not allocate.
  R15EventArc status = R15EventArc::emplace(Site::current(), kR15StatusChanged);
  R15Arc dev = R15Arc::emplace(Site::current(), &variant, cdev, minor, std::move(status));
  // LIFETIME: the cdev holds a reference on the state until its last put, so an open that found the node
  // finds the state alive.
  void* owner = core::into_foreign(dev.clone());
  cdev->owner = owner;
  cdev->on_release = [owner] { R15Arc::from_foreign(owner).drop(); };
  if (int r = bus::cdev_add(*cdev, "evq" + std::to_string(minor), &ctx.device()); r != 0) {
    bus::cdev_del(*cdev);  // drops the owner's reference: the hook drops the state's
    R15Minors::release(minor);
    return r;
  }
  ctx->set_drvdata_owned(std::move(dev));  // the driver's reference, dropped by the driver core after remove()
  return 0;
}
int r15_probe_buggy(CoreContext& ctx) {
  return r15_probe(ctx, kR15Buggy);
}
int r15_probe_fixed(CoreContext& ctx) {
  return r15_probe(ctx, kR15Fixed);
}

void r15_remove(CoreContext& ctx) {
  core::ArcForeignBorrow<R15Dev> dev = ctx->drvdata_borrow<R15Arc>();
  dev->gone.store(true);
  bus::cdev_del(*dev->cdev);
  R15Minors::release(dev->minor);
}

DriverInfo r15_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r15_event_queue_buggy" : "r15_event_queue_fixed";
  info.bus = "usb";
  info.summary = buggy ? "R15: POST_STATUS list_add()s the same preallocated event twice (list corruption)"
                       : "R15: POST_STATUS queues a ListArc: a second insertion is impossible, it coalesces";
  info.race = "R15";
  info.buggy = buggy;
  info.bug_kind = buggy ? "list-corruption" : "";
  info.node = "evq0";
  info.ioctls = {{"POST_STATUS", kR15PostStatus, 0}};
  info.ops = [buggy] { return bus::DriverOps{"", "usb", {}, buggy ? r15_probe_buggy : r15_probe_fixed, r15_remove}; };
  return info;
}

DriverInfo r15_event_queue_buggy_info() {
  return r15_info(true);
}
DriverInfo r15_event_queue_fixed_info() {
  return r15_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r15_event_queue_buggy_info)
DEVSIM_REGISTER_DRIVER(r15_event_queue_fixed_info)

}  // namespace devsim::drivers
