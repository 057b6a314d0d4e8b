// virtio_blk: a virtio-like block device on the platform bus (virtio-mmio), with a request queue, completions
// delivered from the IRQ handler, and Laurent Pinchart's removal protocol (Kernel Summit 2021, seed 002).
//
// A request is submitted by write()/read() or by the SUBMIT/READ_SECTOR ioctls: the caller queues it on the
// "available ring", rings the doorbell and sleeps on the request's Completion. The device takes requests off
// the ring, performs them on its media, puts them on the "used ring" and raises its interrupt; the IRQ handler
// completes them. remove() follows Pinchart's steps:
//   1. cdev_disconnect(): no new calls from userspace (they get -ENODEV without entering the driver);
//   2. cancel the pending I/O: reset the device, take every request off the rings and complete it (-EIO if the
//      device never did it), which wakes the callers sleeping on them;
//   3. cdev_drain(): wait until every call in flight has returned (none can be blocked any more);
//   4. cdev_del(): unregister. The data goes when its last reference does (a file may stay open for long).
//
// What userspace sees (/dev/vda):
//   write(fd, n)            -> n: a WRITE request of n bytes (the device counts them in BYTES_WRITTEN)
//   read(fd, n)             -> n: a READ request of n bytes (BYTES_READ)
//   SUBMIT sector|value<<3  -> 0: writes `value` (0..7) to `sector` (0..7) and waits for the device
//   READ_SECTOR sector      -> the sector's value, after the device read it
//   GET_INFLIGHT            -> requests queued and not completed yet (does not block)
// A request cancelled by removal returns -EIO; calls after removal return -ENODEV; release() always runs.
//
// Lifetimes, from the longest:
//   VirtioBlk (Arc)   probe() ... last of {drvdata, cdev, open files, IRQ cookie} dropped
//   Request (Arc)     submit ... last of {the caller, the ring} dropped: whoever completes it drops the ring's
//   device engine     a work item inside VirtioBlk: queued only under the queue lock while not `dead`, and
//                     cancel_work_sync() in remove() after `dead` was set, so it never runs after remove()
//   IRQ handler       devm_request_irq() ... free_irq() at unbind; register mapping: Devres, revoked at unbind
#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>

#include "bus/cdev.hpp"
#include "bus/devm.hpp"
#include "bus/devres_resource.hpp"
#include "bus/errno.hpp"
#include "bus/irq.hpp"
#include "bus/mmio.hpp"
#include "bus/workqueue.hpp"
#include "core/arc.hpp"
#include "core/completion.hpp"
#include "core/foreign.hpp"
#include "core/irqflags.hpp"
#include "core/spinlock.hpp"
#include "drivers/registry.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::File;
using bus::IoMem;
using bus::Site;

// ---- the register map (virtio-mmio, reduced to the 16-register window of a platform device) ----------------------
constexpr std::size_t kStatus = 0x00;        // device status: kDriverOk once the driver is ready, 0 = reset
constexpr std::size_t kQueueNotify = 0x04;   // the doorbell: "there are new requests on the available ring"
constexpr std::size_t kIntStatus = 0x08;     // bit 0: the used ring was updated
constexpr std::size_t kIntAck = 0x0c;        // the driver acknowledges the bits it handled
constexpr std::size_t kBytesRead = 0x10;     // device statistics
constexpr std::size_t kBytesWritten = 0x14;  //
constexpr std::size_t kMedia = 0x20;         // the media: 8 sectors of one register each (0x20-0x3c)
constexpr std::uint32_t kDriverOk = 4;
constexpr std::uint32_t kUsedRing = 1;
constexpr std::uint32_t kGone = 0xffffffffu;  // what a surprise-removed device reads as
constexpr unsigned kSectors = 8;
constexpr unsigned kIrqLine = 33;

// ---- the userspace ABI ---------------------------------------------------------------------------------------
constexpr unsigned kSubmit = 1;
constexpr unsigned kReadSector = 2;
constexpr unsigned kGetInflight = 3;

// ---- requests ----------------------------------------------------------------------------------------------------
enum class Op : std::uint8_t { Read, Write, ReadSector, WriteSector };

// One request. Shared (Arc) by the caller that waits for it and the ring that holds it until completion.
// INVARIANT: completed exactly once, by whoever takes it off the rings under the queue lock (the IRQ handler, or
// remove() cancelling); `result` is written before `done` is completed and read by the caller only after.
struct Request {
  Request(Op o, unsigned s, std::uint32_t v, std::size_t n) : op(o), sector(s), value(v), bytes(n) {}
  const Op op;
  const unsigned sector;
  const std::uint32_t value;
  const std::size_t bytes;
  mutable std::uint32_t data = 0;  // written by the device: a READ_SECTOR's value
  mutable bool performed = false;  // written by the device (under the queue lock)
  mutable long result = 0;         // written by the completer, before `done`
  mutable core::Completion done;   // the caller sleeps on it
};
using RequestRef = core::Arc<Request>;

struct VirtioBlk;

// ---- the device (hardware model) ---------------------------------------------------------------------------------
// The simulator's registers are plain storage, so the device's behaviour is modelled here: a work item plays
// the device's processing engine. It runs when the doorbell rang, performs the requests on the media registers
// and raises the interrupt. It reads the rings (DMA) under the queue lock, which stands for the ring's memory
// barriers. A device that was unplugged or reset does nothing.
struct DeviceEngine {
  bus::WorkStruct work;  // first member: the work function finds the engine from it (container_of)
  // LIFETIME: the engine is embedded in the VirtioBlk it points to.
  const VirtioBlk* blk = nullptr;
  // LIFETIME: register windows belong to the machine (the world), not to the driver.
  bus::MmioRegion* hw = nullptr;
};

// ---- the driver's state --------------------------------------------------------------------------------------------
// Shared through core::Arc; what changes after probe is `mutable` (C++'s interior mutability) and guarded by
// `lock`, or belongs to the device model.
struct VirtioBlk {
  explicit VirtioBlk(bus::Devres<IoMem*> mapping) : regs(std::move(mapping)) {}

  // INVARIANT: the registers are reached only through a guard of regs, empty once the driver unbound.
  bus::Devres<IoMem*> regs;
  mutable core::SpinLock lock{"virtio_blk.queue"};
  // Under lock: the two rings, and `dead` (set once by remove(): nothing is queued after it).
  mutable std::deque<RequestRef> avail;  // submitted, not yet taken by the device
  mutable std::deque<RequestRef> used;   // performed by the device, not yet completed
  mutable bool dead = false;
  mutable DeviceEngine engine;
  // LIFETIME: set in probe() before sharing; used only by remove(), before its cdev_del().
  Cdev* cdev = nullptr;
};
using VirtioBlkRef = core::Arc<VirtioBlk>;

// A checked borrow of the state behind a foreign pointer (a file's, the cdev's, the IRQ cookie).
const VirtioBlk& borrow(void* foreign, const Site& site = Site::current()) {
  return core::borrow_foreign<VirtioBlkRef>(foreign, site).read(site);
}

void perform(bus::MmioRegion& hw, const Request& req) {
  switch (req.op) {
    case Op::Read:
      hw.reg(kBytesRead / 4) += static_cast<std::uint32_t>(req.bytes);
      break;
    case Op::Write:
      hw.reg(kBytesWritten / 4) += static_cast<std::uint32_t>(req.bytes);
      break;
    case Op::ReadSector:
      req.data = hw.reg(kMedia / 4 + req.sector);
      break;
    case Op::WriteSector:
      hw.reg(kMedia / 4 + req.sector) = req.value;
      break;
  }
  req.performed = true;
}

void device_engine(bus::WorkStruct& work) {
  // LIFETIME: the work item is inside the state; remove() cancels it (synchronously) while the driver still holds
  // the state, and nothing queues it after that.
  auto* engine = reinterpret_cast<DeviceEngine*>(&work);
  const VirtioBlk& blk = *engine->blk;
  bus::MmioRegion& hw = *engine->hw;
  bool completed = false;
  {
    core::SpinLockIrqSaveGuard guard(blk.lock);                     // the IRQ handler takes it too
    if (!hw.present() || hw.reg(kStatus / 4) != kDriverOk) return;  // unplugged or reset: silent
    while (!blk.avail.empty()) {
      perform(hw, *blk.avail.front());
      blk.used.push_back(std::move(blk.avail.front()));
      blk.avail.pop_front();
      completed = true;
    }
  }
  if (!completed) return;
  hw.reg(kIntStatus / 4) |= kUsedRing;
  bus::raise_irq(kIrqLine);
}

// The driver wrote the doorbell; the device notices. Called with the queue lock held and the state not dead.
void device_doorbell(const VirtioBlk& blk) {
  bus::queue_work(blk.engine.work);
}

// ---- the request path ----------------------------------------------------------------------------------------------
long submit(const VirtioBlk& blk, Op op, unsigned sector, std::uint32_t value, std::size_t bytes) {
  RequestRef req = RequestRef::emplace(Site::current(), op, sector, value, bytes);
  {
    auto regs = blk.regs.try_access();  // RCU read section: no sleeping until it ends
    if (!regs) return -bus::kENODEV;
    core::SpinLockIrqSaveGuard guard(blk.lock);  // the IRQ handler takes it too
    // INVARIANT: queued only while not dead, under the lock remove() sets it with: a request on the rings is
    // always seen (and completed) by remove()'s cancellation, and the engine is never queued after its cancel.
    if (blk.dead) return -bus::kENODEV;
    blk.avail.push_back(req.clone());
    (*regs)->writel(0, kQueueNotify);
    device_doorbell(blk);
  }
  // Sleeps until the IRQ handler completes it, or remove() cancels it. LIFETIME: our reference keeps the request
  // (and its Completion) alive whoever completes it and drops the ring's.
  req->done.wait_for_completion();
  return req->result;
}

// ---- file operations ---------------------------------------------------------------------------------------------
int vblk_open(Cdev& cdev, File& file) {
  // No `dead` check needed: once remove() disconnected the node, the VFS refuses opens with -ENODEV.
  // LIFETIME: the cdev owns a reference until its release and this open holds the cdev: the borrow is valid.
  auto blk = core::borrow_foreign<VirtioBlkRef>(cdev.owner_data());
  file.set_private_raw(core::into_foreign(blk.to_arc()));
  return 0;
}

int vblk_release(Cdev&, File& file) {
  // Always runs (not gated by the disconnect), possibly long after remove(): the file's reference goes.
  VirtioBlkRef mine = core::from_foreign<VirtioBlkRef>(file.private_raw());
  mine.drop();
  return 0;
}

// LIFETIME (every fop below): the file's reference keeps the state alive for the call; the cdev's drain keeps
// remove() from finishing while the call is in flight, and refuses calls once remove() disconnected.
long vblk_read(File& file, std::size_t count) {
  long r = submit(borrow(file.private_raw()), Op::Read, 0, 0, count);
  return r == 0 ? static_cast<long>(count) : r;
}

long vblk_write(File& file, std::size_t count) {
  long r = submit(borrow(file.private_raw()), Op::Write, 0, 0, count);
  return r == 0 ? static_cast<long>(count) : r;
}

long vblk_ioctl(File& file, unsigned cmd, unsigned long arg) {
  const VirtioBlk& blk = borrow(file.private_raw());
  switch (cmd) {
    case kSubmit:
      if (arg >= kSectors * 8) return -bus::kEINVAL;
      return submit(blk, Op::WriteSector, arg % kSectors, static_cast<std::uint32_t>(arg / kSectors), 0);
    case kReadSector:
      if (arg >= kSectors) return -bus::kEINVAL;
      return submit(blk, Op::ReadSector, static_cast<unsigned>(arg), 0, 0);
    case kGetInflight: {
      core::SpinLockIrqSaveGuard guard(blk.lock);  // the IRQ handler takes it too
      return static_cast<long>(blk.avail.size() + blk.used.size());
    }
    default:
      return -bus::kENOTTY;
  }
}

const bus::FileOperations kVblkFops{vblk_open, vblk_read, vblk_write, vblk_ioctl, nullptr, nullptr, vblk_release};

// Completes a request taken off the rings: its result, then the wake-up.
void complete(const RequestRef& req, long cancelled_result) {
  if (req->performed)
    req->result = req->op == Op::ReadSector ? static_cast<long>(req->data) : 0;
  else
    req->result = cancelled_result;
  req->done.complete();
}

// ---- the interrupt handler -----------------------------------------------------------------------------------------
bus::IrqReturn vblk_irq(unsigned, void* cookie) {
  // Hardirq context. LIFETIME: the cookie owns a reference, dropped by a devres action after free_irq().
  const VirtioBlk& blk = borrow(cookie);
  auto regs = blk.regs.try_access();
  if (!regs) return bus::IrqReturn::None;
  std::uint32_t isr = (*regs)->readl(kIntStatus);
  if (isr == kGone || (isr & kUsedRing) == 0) return bus::IrqReturn::None;
  (*regs)->writel(isr, kIntAck);
  std::deque<RequestRef> done;
  {
    core::SpinLockGuard guard = blk.lock.guard();
    done.swap(blk.used);
  }
  for (const RequestRef& req : done)
    complete(req, -bus::kEIO);
  return bus::IrqReturn::Handled;  // `done` drops the rings' references
}

// ---- probe and remove ----------------------------------------------------------------------------------------------
int vblk_probe(bus::CoreContext& ctx) {
  // The mapping (unmapped at unbind) behind a Devres (revoked at unbind, before the unmap: devres is LIFO).
  IoMem* io = bus::devm_ioremap(ctx);
  if (io == nullptr) return -bus::kENODEV;
  std::optional<bus::Devres<IoMem*>> regs = bus::Devres<IoMem*>::create(ctx, io);
  if (!regs) return -bus::kENOMEM;

  core::UniqueArc<VirtioBlk> unique = core::UniqueArc<VirtioBlk>::emplace(Site::current(), std::move(*regs));
  unique->engine.blk = unique.operator->();
  unique->engine.hw = ctx->mmio();
  bus::init_work(unique->engine.work, device_engine);
  Cdev* cdev = bus::cdev_alloc(&kVblkFops);
  unique->cdev = cdev;
  VirtioBlkRef blk = std::move(unique).into_arc();

  // Pinchart's protocol needs the cdev's call count: after disconnect, calls get -ENODEV.
  bus::cdev_enable_drain(*cdev, -bus::kENODEV);
  // The cdev's reference, dropped at its release; cdev_del() undoes everything above on an error path.
  void* for_cdev = core::into_foreign(blk.clone());
  cdev->owner = for_cdev;
  cdev->on_release = [for_cdev] {
    VirtioBlkRef ref = core::from_foreign<VirtioBlkRef>(for_cdev);
    ref.drop();
  };

  // The IRQ's cookie: a reference dropped only after free_irq() (registered first, released last).
  void* cookie = core::into_foreign(blk.clone());
  int r = bus::devm_add_action_or_reset(ctx, "virtio_blk irq cookie", [cookie] {
    VirtioBlkRef ref = core::from_foreign<VirtioBlkRef>(cookie);
    ref.drop();
  });
  if (r == 0) r = bus::devm_request_irq(ctx, kIrqLine, vblk_irq, "virtio_blk", cookie);
  if (r == 0) {
    // DRIVER_OK: the device may process requests from now on.
    auto hw = blk->regs.access(ctx);
    (*hw)->writel(kDriverOk, kStatus);
  }
  if (r == 0) r = bus::cdev_add(*cdev, "vda", &ctx.device());
  if (r != 0) {
    bus::cdev_del(*cdev);
    return r;
  }
  ctx->set_drvdata_owned(std::move(blk));
  return 0;
}

void vblk_remove(bus::CoreContext& ctx) {
  // LIFETIME: the drvdata reference is dropped by the driver core after remove() returns.
  auto blk_ref = ctx->drvdata_borrow<VirtioBlkRef>();
  const VirtioBlk& blk = *blk_ref;

  // 1. No new calls from userspace.
  bus::cdev_disconnect(*blk.cdev);

  // 2. Cancel the pending I/O. Reset the device (on a surprise removal the write goes nowhere), then take every
  //    request off the rings under the lock that submit() queues under, so none can be added behind our back.
  if (auto hw = blk.regs.access(ctx)) (*hw)->writel(0, kStatus);
  std::deque<RequestRef> cancelled;
  {
    core::SpinLockIrqSaveGuard guard(blk.lock);  // the IRQ handler takes it too
    blk.dead = true;
    cancelled.swap(blk.used);  // performed: they complete with their real result
    for (RequestRef& req : blk.avail)
      cancelled.push_back(std::move(req));
    blk.avail.clear();
  }
  // The device engine never runs again: a queued execution is dropped, a running one waited for.
  bus::cancel_work_sync(blk.engine.work);
  for (const RequestRef& req : cancelled)
    complete(req, -bus::kEIO);  // wakes the callers sleeping on them
  cancelled.clear();

  // 3. Wait for the calls in flight: the woken callers return, none can block any more.
  bus::cdev_drain(*blk.cdev);

  // 4. Unregister. Open files keep the state until they are closed; the driver core then drops the drvdata
  //    reference and devres frees the IRQ, drops its cookie, revokes and unmaps the registers.
  bus::cdev_del(*blk.cdev);
}

DriverInfo virtio_blk_info() {
  DriverInfo info;
  info.name = "virtio_blk";
  info.bus = "platform";
  info.summary = "virtio-like block device: request queue, IRQ completions, Pinchart's removal protocol, /dev/vda";
  info.race = "";
  info.buggy = false;
  info.node = "vda";
  info.ioctls = {
      {"SUBMIT", kSubmit, kSectors * 8 - 1},
      {"READ_SECTOR", kReadSector, kSectors - 1},
      {"GET_INFLIGHT", kGetInflight, 0},
  };
  info.ops = [] {
    return bus::DriverOps{"virtio_blk", "platform", {"virtio_blk", "virtio,mmio"}, vblk_probe, vblk_remove};
  };
  return info;
}

}  // namespace

DEVSIM_REGISTER_DRIVER(virtio_blk_info)

}  // namespace devsim::drivers
