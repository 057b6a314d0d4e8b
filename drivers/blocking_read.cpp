// blocking_read: a USB device whose read() sleeps until data arrives, in the style of usb-skeleton.c's
// skel_read (drivers/usb/usb-skeleton.c): a process blocked in read() on a device with no data is a normal state
// of a system, not a bug. Data arrives through write() (a loopback: what one process writes, another reads).
//
//   blocking_read        the correct driver. read() sleeps in wait_event_interruptible() until there is data or
//                        the device is gone; a signal ends the sleep with -ERESTARTSYS (the process sees EINTR,
//                        or is killed); an O_NONBLOCK file gets -EAGAIN instead of sleeping; disconnect() marks
//                        the device gone and wakes every reader, who then returns -ENODEV. The data is kzalloc'd
//                        and kref'd (driver, cdev and every open file), so a reader woken after unplug still
//                        finds it.
//   blocking_read_buggy  the same with an uninterruptible wait_event(): a reader with no data to come sleeps in D
//                        state, and not even SIGKILL ends it. The kernel's hung-task detector reports such a
//                        task (kernel/hung_task.c); devsim reports it as a deadlock at the end of the execution.
#include <algorithm>
#include <string>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "bus/kernel.hpp"
#include "core/kref.hpp"
#include "core/mutex.hpp"
#include "core/waitqueue.hpp"
#include "drivers/registry.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::CoreContext;
using bus::File;
using bus::FileOperations;

struct BlkRead {
  core::Kref kref;                           // the driver, the cdev and every open file hold one
  core::Mutex io_mutex{"blkread_io_mutex"};  // the buffer and `disconnected`
  core::WaitQueue readq;                     // readers sleep here until avail > 0 or disconnected
  bool disconnected = false;
  std::size_t avail = 0;  // bytes written and not read yet
  Cdev* cdev = nullptr;
};

void blkread_put(sim::KPtr<BlkRead> d) {
  d.write().kref.put([d] { sim::kfree(d); });
}

// The minor: the lowest free blkreadN.
std::string blkread_node_name() {
  for (int n = 0;; ++n) {
    std::string name = "blkread" + std::to_string(n);
    if (bus::kernel().find_devnode(name) == nullptr) return name;
  }
}

int blkread_open(Cdev& cdev, File& file) {
  // LIFETIME: the cdev holds a reference on the data until its own release, and the file holds the cdev.
  sim::KPtr<BlkRead> d = cdev.owner_ptr<BlkRead>();
  d.write().kref.get();
  file.set_private(d);
  return 0;
}

// skel_read's shape: take what is there under the mutex; else sleep outside it until there is something.
template <bool kInterruptible>
long blkread_read(File& file, std::size_t count) {
  // LIFETIME: the file's reference keeps `d` alive until release.
  sim::KPtr<BlkRead> d = file.private_data<BlkRead>();
  for (;;) {
    {
      core::MutexGuard guard = d.write().io_mutex.guard();
      if (d.load(&BlkRead::disconnected)) return -bus::kENODEV;
      if (const std::size_t avail = d.load(&BlkRead::avail); avail > 0) {
        const std::size_t n = std::min(avail, count);
        d.store_once(&BlkRead::avail, avail - n);  // WRITE_ONCE: read by sleepers without the mutex
        return static_cast<long>(n);
      }
    }
    if ((file.f_flags() & bus::kO_NONBLOCK) != 0) return -bus::kEAGAIN;
    // READ_ONCE: the condition is checked without io_mutex, against writers that update under it.
    auto ready = [&] { return d.load_once(&BlkRead::avail) > 0 || d.load_once(&BlkRead::disconnected); };
    if constexpr (kInterruptible) {
      if (long r = d.write().readq.wait_event_interruptible(ready); r != 0) return r;  // -ERESTARTSYS
    } else {
      // BUG: uninterruptible: with no writer and no unplug, nothing ends this sleep, not even SIGKILL.
      d.write().readq.wait_event(ready);
    }
  }
}

long blkread_write(File& file, std::size_t count) {
  sim::KPtr<BlkRead> d = file.private_data<BlkRead>();
  {
    core::MutexGuard guard = d.write().io_mutex.guard();
    if (d.load(&BlkRead::disconnected)) return -bus::kENODEV;
    d.store_once(&BlkRead::avail, d.load(&BlkRead::avail) + count);  // WRITE_ONCE: see read
  }
  d.write().readq.wake_up_all();  // the condition first, then the wake-up
  return static_cast<long>(count);
}

unsigned blkread_poll(File& file) {
  sim::KPtr<BlkRead> d = file.private_data<BlkRead>();
  core::MutexGuard guard = d.write().io_mutex.guard();
  if (d.load(&BlkRead::disconnected)) return bus::kPollHup | bus::kPollErr;
  return bus::kPollOut | (d.load(&BlkRead::avail) > 0 ? bus::kPollIn : 0u);
}

int blkread_release(Cdev&, File& file) {
  blkread_put(file.private_data<BlkRead>());
  return 0;
}

const FileOperations kFixedFops{blkread_open, blkread_read<true>, blkread_write, nullptr, blkread_poll,
                                nullptr,      blkread_release};
const FileOperations kBuggyFops{blkread_open, blkread_read<false>, blkread_write, nullptr, blkread_poll,
                                nullptr,      blkread_release};

template <bool kBuggy>
int blkread_probe(CoreContext& ctx) {
  sim::KPtr<BlkRead> d = sim::kzalloc<BlkRead>();
  if (!d) return -bus::kENOMEM;
  Cdev* cdev = bus::cdev_alloc(kBuggy ? &kBuggyFops : &kFixedFops);
  cdev->set_owner(d);
  d.write().kref.get();  // the cdev's reference, dropped at its release
  cdev->on_release = [d] { blkread_put(d); };
  d.store(&BlkRead::cdev, cdev);
  ctx->set_drvdata(d.unchecked());
  int ret = bus::cdev_add(*cdev, blkread_node_name(), &ctx.device());
  if (ret != 0) {
    bus::cdev_del(*cdev);
    blkread_put(d);
  }
  return ret;
}

void blkread_disconnect(CoreContext& ctx) {
  auto* raw = static_cast<BlkRead*>(ctx.device().drvdata());
  sim::KPtr<BlkRead> d(raw);
  {
    core::MutexGuard guard = d.write().io_mutex.guard();
    d.store_once(&BlkRead::disconnected, true);  // WRITE_ONCE: see read
  }
  // Readers asleep in read() wake, see the device gone and return -ENODEV.
  d.write().readq.wake_up_all();
  bus::cdev_del(*d.load(&BlkRead::cdev));
  blkread_put(d);
}

DriverInfo blkread_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "blocking_read_buggy" : "blocking_read";
  info.bus = "usb";
  info.summary = buggy ? "blocking read in an uninterruptible wait_event: an unkillable reader (deadlock)"
                       : "read() sleeps interruptibly until data or unplug; O_NONBLOCK: -EAGAIN; unplug: -ENODEV";
  info.buggy = buggy;
  if (buggy) info.bug_kind = "deadlock";
  info.node = "blkread0";
  info.ops = [buggy] {
    bus::DriverOps ops;
    ops.bus = "usb";
    ops.probe = buggy ? blkread_probe<true> : blkread_probe<false>;
    ops.remove = blkread_disconnect;
    return ops;
  };
  return info;
}

DriverInfo blocking_read_info() {
  return blkread_info(false);
}
DriverInfo blocking_read_buggy_info() {
  return blkread_info(true);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(blocking_read_info);
DEVSIM_REGISTER_DRIVER(blocking_read_buggy_info);

}  // namespace devsim::drivers
