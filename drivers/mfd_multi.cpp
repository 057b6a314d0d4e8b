// mfd_multi: a multi-function USB device exposing three character devices over one piece of shared driver data,
// released through a ures group (Daniel Vetter, Kernel Summit 2021, seed 002: "only release ures for _any_ of
// these cdev if _all_ of them are released").
//
// The trap it avoids (race R13): with several cdevs, no single cdev's release may free the shared data, and
// neither may remove(): a file of another cdev can still be open. The data belongs to a bus::UresGroup instead.
// The driver holds one group reference from probe() to remove(), every cdev of the group holds one until its
// own release, and every open file one until its release: the group's release (kfree of the data) runs exactly
// once, after the driver unbound and the last file of any of the three cdevs was closed.
//
// Removal follows Pinchart's protocol for all three cdevs at once: disconnect them (calls get -ENODEV), wake the
// sleepers (WAIT_EVENT returns -ENODEV), drain the calls in flight, delete the nodes, drop the driver's group
// reference.
//
// What userspace sees:
//   /dev/mfd0-ctl     GET_MODE -> the mode; SET_MODE m (0..3) -> 0, and an event
//   /dev/mfd0-data    write(fd, n) -> bytes buffered (the FIFO holds kFifoSize), and an event;
//                     read(fd, n) -> bytes taken from the FIFO (0 when empty); GET_COUNT -> bytes buffered
//   /dev/mfd0-events  WAIT_EVENT -> 0 when an event is consumed, -EAGAIN after kEventTimeoutNs of virtual time
//                     without one, -ENODEV on removal; poll -> IN while events are pending
//   after unplug: every call -ENODEV, poll HUP|ERR; release() always runs.
//
// Lifetimes, from the longest:
//   MfdShared (kzalloc)  probe() ... the ures group's release (last of: driver, 3 cdevs, open files)
//   UresGroup            the same: it frees the data and then itself
//   Cdev x3 (cdev_alloc) probe() ... cdev_del() in remove() or the last close of that node
#include <algorithm>
#include <atomic>
#include <cstdint>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "bus/timer.hpp"
#include "core/spinlock.hpp"
#include "core/waitqueue.hpp"
#include "drivers/registry.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::File;
using bus::Site;

// ---- the userspace ABI ---------------------------------------------------------------------------------------
constexpr unsigned kGetMode = 1;
constexpr unsigned kSetMode = 2;
constexpr unsigned kGetCount = 3;
constexpr unsigned kWaitEvent = 4;
constexpr std::uint32_t kModes = 4;
constexpr std::uint32_t kFifoSize = 16;
constexpr std::uint64_t kEventTimeoutNs = 10'000'000;  // 10 ms of virtual time

enum Function : unsigned { kCtl, kData, kEvents, kFunctions };
constexpr const char* kNodeNames[kFunctions] = {"mfd0-ctl", "mfd0-data", "mfd0-events"};

// ---- the shared driver data ------------------------------------------------------------------------------------
// Plain kzalloc'd memory, reached through checked handles (sim::KPtr): every access is checked, so a use after the
// group's release would be reported as the use-after-free it is.
// INVARIANT: freed only by the ures group's release, which runs once, after the last reference.
struct MfdShared {
  core::SpinLock lock{"mfd_multi.lock"};
  core::WaitQueue events;  // WAIT_EVENT sleeps here
  // Under lock:
  std::uint32_t mode = 0;            // the ctl function's state
  std::uint32_t fifo = 0;            // bytes buffered by the data function
  std::uint32_t events_pending = 0;  // events not yet consumed by WAIT_EVENT
  std::uint32_t open_files = 0;      // files open on any of the three nodes: what open/release account for
  bool gone = false;                 // set once by remove(): sleepers return -ENODEV
  // Set in probe(), used by remove(). LIFETIME: each cdev lives until cdev_del() in remove() (its owner reference)
  // or, past that, until its last file is closed; the group until its own last put.
  Cdev* cdevs[kFunctions] = {};
  bus::UresGroup* group = nullptr;
};
using Shared = sim::KPtr<MfdShared>;

// Raises an event (SET_MODE, data written): counted under the lock, then the sleepers are woken.
void raise_event(Shared shared) {
  {
    core::SpinLockGuard guard = shared.write().lock.guard();
    shared.store_once(&MfdShared::events_pending, shared.load(&MfdShared::events_pending) + 1);
  }
  shared.write().events.wake_up_all();
}

// ---- file operations, shared by the three nodes -------------------------------------------------------------------
int mfd_open(Cdev& cdev, File& file) {
  // LIFETIME: the cdev holds a group reference until its release, and this open holds the cdev; the file takes a
  // group reference of its own (the cdev core does, for a grouped cdev) until after its release.
  Shared shared = cdev.owner_ptr<MfdShared>();
  core::SpinLockGuard guard = shared.write().lock.guard();
  shared.store(&MfdShared::open_files, shared.load(&MfdShared::open_files) + 1);
  file.set_private(shared);
  return 0;
}

int mfd_release(Cdev&, File& file) {
  // Always runs, also long after remove(). LIFETIME: the file's group reference is dropped after we return, so
  // the shared data is alive here even if this is the last file of the last node.
  Shared shared = file.private_data<MfdShared>();
  core::SpinLockGuard guard = shared.write().lock.guard();
  shared.store(&MfdShared::open_files, shared.load(&MfdShared::open_files) - 1);
  return 0;
}

// ---- ctl ---------------------------------------------------------------------------------------------------------
long ctl_ioctl(File& file, unsigned cmd, unsigned long arg) {
  // LIFETIME (every fop): the file's group reference keeps the shared data alive for the call.
  Shared shared = file.private_data<MfdShared>();
  switch (cmd) {
    case kGetMode: {
      core::SpinLockGuard guard = shared.write().lock.guard();
      return shared.load(&MfdShared::mode);
    }
    case kSetMode:
      if (arg >= kModes) return -bus::kEINVAL;
      {
        core::SpinLockGuard guard = shared.write().lock.guard();
        shared.store(&MfdShared::mode, static_cast<std::uint32_t>(arg));
      }
      raise_event(shared);
      return 0;
    default:
      return -bus::kENOTTY;
  }
}

// ---- data --------------------------------------------------------------------------------------------------------
long data_write(File& file, std::size_t count) {
  Shared shared = file.private_data<MfdShared>();
  std::uint32_t accepted = 0;
  {
    core::SpinLockGuard guard = shared.write().lock.guard();
    std::uint32_t fifo = shared.load(&MfdShared::fifo);
    accepted = static_cast<std::uint32_t>(std::min<std::size_t>(count, kFifoSize - fifo));
    shared.store(&MfdShared::fifo, fifo + accepted);
  }
  if (accepted == 0) return count == 0 ? 0 : -bus::kEAGAIN;  // full
  raise_event(shared);
  return accepted;
}

long data_read(File& file, std::size_t count) {
  Shared shared = file.private_data<MfdShared>();
  core::SpinLockGuard guard = shared.write().lock.guard();
  std::uint32_t fifo = shared.load(&MfdShared::fifo);
  auto taken = static_cast<std::uint32_t>(std::min<std::size_t>(count, fifo));
  shared.store(&MfdShared::fifo, fifo - taken);
  return taken;
}

long data_ioctl(File& file, unsigned cmd, unsigned long) {
  if (cmd != kGetCount) return -bus::kENOTTY;
  Shared shared = file.private_data<MfdShared>();
  core::SpinLockGuard guard = shared.write().lock.guard();
  return shared.load(&MfdShared::fifo);
}

// ---- events ------------------------------------------------------------------------------------------------------
// One WAIT_EVENT's timeout: a timer in its own allocation, shut down (synchronously) before the call returns.
struct EventWait {
  bus::TimerList timer;  // first member: the callback finds the EventWait from it (container_of)
  // LIFETIME: the waiting call's file holds a group reference for as long as this timer can fire.
  MfdShared* shared = nullptr;
  std::atomic<bool> expired{false};
};

void event_wait_timeout(bus::TimerList& timer) {
  // Softirq context. LIFETIME: the EventWait is freed only after timer_shutdown_sync(), which waits for us.
  auto* raw = reinterpret_cast<EventWait*>(&timer);
  sim::KPtr<EventWait> wait(raw);
  wait.write().expired.store(true);
  wait.load(&EventWait::shared)->events.wake_up_all();
}

long events_wait(Shared shared) {
  sim::KPtr<EventWait> wait = sim::kzalloc<EventWait>();
  if (!wait) return -bus::kENOMEM;
  wait.store(&EventWait::shared, shared.unchecked());
  bus::timer_setup(wait.write().timer, event_wait_timeout);
  bus::mod_timer(wait.write().timer, kEventTimeoutNs);
  long result = 0;
  for (;;) {
    // Checked and put to sleep in one step: no wake-up is lost. The loads are checked accesses (no scheduling
    // point), so a sleeper on freed data would be reported.
    shared.write().events.wait_event([&] {
      // The condition is read without the lock, as wait_event() conditions are: marked loads.
      return shared.load_once(&MfdShared::events_pending) != 0 || shared.load_once(&MfdShared::gone) ||
             wait.read().expired.load();
    });
    core::SpinLockGuard guard = shared.write().lock.guard();
    if (shared.load(&MfdShared::gone)) {
      result = -bus::kENODEV;
      break;
    }
    if (std::uint32_t pending = shared.load(&MfdShared::events_pending); pending != 0) {
      shared.store(&MfdShared::events_pending, pending - 1);  // another sleeper may have taken it first
      result = 0;
      break;
    }
    if (wait.read().expired.load()) {
      result = -bus::kEAGAIN;
      break;
    }
  }
  bus::timer_shutdown_sync(wait.write().timer);
  sim::kfree(wait);
  return result;
}

long events_ioctl(File& file, unsigned cmd, unsigned long) {
  if (cmd != kWaitEvent) return -bus::kENOTTY;
  return events_wait(file.private_data<MfdShared>());
}

unsigned events_poll(File& file) {
  Shared shared = file.private_data<MfdShared>();
  core::SpinLockGuard guard = shared.write().lock.guard();
  return shared.load(&MfdShared::events_pending) != 0 ? bus::kPollIn : 0u;
}

const bus::FileOperations kFops[kFunctions] = {
    {mfd_open, nullptr, nullptr, ctl_ioctl, nullptr, nullptr, mfd_release},
    {mfd_open, data_read, data_write, data_ioctl, nullptr, nullptr, mfd_release},
    {mfd_open, nullptr, nullptr, events_ioctl, events_poll, nullptr, mfd_release},
};

// ---- probe and remove ----------------------------------------------------------------------------------------------
int mfd_probe(bus::CoreContext& ctx) {
  Shared shared = sim::kzalloc<MfdShared>();
  if (!shared) return -bus::kENOMEM;
  // The group owns the data: its release frees it, once. The creator's reference is the driver's.
  bus::UresGroup* group = bus::UresGroup::create([shared] { sim::kfree(shared); });
  shared.store(&MfdShared::group, group);

  Cdev* cdevs[kFunctions] = {};
  for (unsigned f = 0; f < kFunctions; ++f) {
    cdevs[f] = bus::cdev_alloc(&kFops[f]);
    cdevs[f]->set_owner(shared);
    bus::cdev_set_group(*cdevs[f], group);  // the cdev holds the group until its own release
    bus::cdev_enable_drain(*cdevs[f], -bus::kENODEV);
    shared.write().cdevs[f] = cdevs[f];
  }
  int r = 0;
  for (unsigned f = 0; f < kFunctions && r == 0; ++f)
    r = bus::cdev_add(*cdevs[f], kNodeNames[f], &ctx.device());
  if (r != 0) {
    for (Cdev* cdev : cdevs)
      bus::cdev_del(*cdev);  // a node already added goes; each cdev drops its group reference
    group->put();            // the driver's: the last one, the data goes
    return r;
  }
  ctx->set_drvdata(shared.unchecked());
  return 0;
}

void mfd_remove(bus::CoreContext& ctx) {
  // LIFETIME: the driver's group reference, dropped at the end of this function, keeps the data alive until then.
  auto* raw = static_cast<MfdShared*>(ctx->drvdata());
  Shared shared(raw);
  Cdev* cdevs[kFunctions];
  for (unsigned f = 0; f < kFunctions; ++f)
    cdevs[f] = shared.read().cdevs[f];
  bus::UresGroup* group = shared.load(&MfdShared::group);

  // 1. No new calls on any of the nodes.
  for (Cdev* cdev : cdevs)
    bus::cdev_disconnect(*cdev);
  // 2. Cancel what sleeps: WAIT_EVENT returns -ENODEV.
  {
    core::SpinLockGuard guard = shared.write().lock.guard();
    shared.store_once(&MfdShared::gone, true);
  }
  shared.write().events.wake_up_all();
  // 3. Wait for the calls in flight on every node.
  for (Cdev* cdev : cdevs)
    bus::cdev_drain(*cdev);
  // 4. Unregister the nodes, then let go of the data: freed now if no file is open, else at the last close of
  //    any of the three nodes. Nothing of it may be touched after the put.
  for (Cdev* cdev : cdevs)
    bus::cdev_del(*cdev);
  group->put();
}

DriverInfo mfd_multi_info() {
  DriverInfo info;
  info.name = "mfd_multi";
  info.bus = "usb";
  info.summary = "multi-function device: three cdevs (ctl, data, events) over shared data in a ures group";
  info.race = "";
  info.buggy = false;
  info.node = kNodeNames[kCtl];
  info.more_nodes = {kNodeNames[kData], kNodeNames[kEvents]};
  info.ioctls = {
      {"GET_MODE", kGetMode, 0},
      {"SET_MODE", kSetMode, kModes - 1},
      {"GET_COUNT", kGetCount, 0},
      {"WAIT_EVENT", kWaitEvent, 0},
  };
  info.ops = [] { return bus::DriverOps{"mfd_multi", "usb", {"mfd_multi"}, mfd_probe, mfd_remove}; };
  return info;
}

}  // namespace

DEVSIM_REGISTER_DRIVER(mfd_multi_info)

}  // namespace devsim::drivers
