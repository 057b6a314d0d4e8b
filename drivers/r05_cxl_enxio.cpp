// R5: CXL's answer to unplug-while-open (Dan Williams, Kernel Summit 2021, seed 002): "The driver data is allocated
// with devm. When ->remove() is triggered the driver data is disconnected from the cdev (because it's about to be
// freed by devres) and all future ioctls attempts fail until userspace finally gives up and closes the device-file
// to release the cdev."
//
// Only a fixed variant (the race table's buggy column is "—"): r05_cxl_fixed, /dev/cxlmemN, after
// drivers/cxl/core/memdev.c. The memdev (with the cdev) is reference-counted and outlives the binding; the driver
// state (cxl_dev_state) is devm'd. A devm action registered after it (so released before it) clears
// cxlmd->cxlds under the memdev's lock; an ioctl takes the lock, finds NULL and returns -ENXIO. release() still
// runs at close and drops the file's reference: nothing leaks.
#include <string>

#include "bus/cdev.hpp"
#include "bus/devm.hpp"
#include "bus/errno.hpp"
#include "bus/kernel.hpp"
#include "core/kref.hpp"
#include "core/mutex.hpp"
#include "drivers/registry.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::CoreContext;
using bus::File;
using bus::FileOperations;

constexpr unsigned kCxlQueryCommands = 1;  // CXL_MEM_QUERY_COMMANDS: how many commands the device supports
constexpr int kCxlCommands = 12;

std::string cxl_node_name() {
  for (int n = 0;; ++n) {
    std::string name = "cxlmem" + std::to_string(n);
    if (bus::kernel().find_devnode(name) == nullptr) return name;
  }
}

// struct cxl_dev_state: the driver's, devm_kzalloc'd.
struct CxlDevState {
  int n_commands = 0;
};

// struct cxl_memdev: counted, holds the cdev; lives until the last file is closed.
struct CxlMemdev {
  Cdev cdev;  // first: container_of(inode->i_cdev)
  core::Kref kref;
  // Stands for cxl_memdev_rwsem (down_read in the ioctl, down_write at shutdown): core/ has no rwsem, and one
  // reader at a time changes nothing here.
  core::Mutex lock{"cxl_memdev_rwsem"};
  sim::KPtr<CxlDevState> cxlds;  // NULL once the driver unbound
};

void cxl_memdev_put(sim::KPtr<CxlMemdev> cxlmd) {
  cxlmd.write().kref.put([cxlmd] { sim::kfree(cxlmd); });
}

int r05_cxl_memdev_open(Cdev& cdev, File& file) {
  // LIFETIME: the file holds the cdev, the cdev holds the memdev; the file takes its own reference
  // (get_device(&cxlmd->dev)), dropped in release.
  sim::KPtr<CxlMemdev> cxlmd = cdev.owner_ptr<CxlMemdev>();
  cxlmd.write().kref.get();
  file.set_private(cxlmd);
  return 0;
}

long r05_cxl_memdev_ioctl(File& file, unsigned cmd, unsigned long) {
  if (cmd != kCxlQueryCommands) return -bus::kENOTTY;
  sim::KPtr<CxlMemdev> cxlmd = file.private_data<CxlMemdev>();
  // LIFETIME: cxlds is alive while it is non-NULL under the lock: the shutdown action clears it under the same
  // lock before devres frees it.
  core::MutexGuard guard = cxlmd.write().lock.guard();
  sim::KPtr<CxlDevState> cxlds = cxlmd.load(&CxlMemdev::cxlds);
  if (!cxlds) return -bus::kENXIO;  // the driver is gone: fail until userspace closes
  return cxlds.load(&CxlDevState::n_commands);
}

int r05_cxl_memdev_release(Cdev&, File& file) {
  cxl_memdev_put(file.private_data<CxlMemdev>());  // put_device(&cxlmd->dev)
  return 0;
}

const FileOperations kCxlMemdevFops{r05_cxl_memdev_open,   nullptr, nullptr, r05_cxl_memdev_ioctl, nullptr, nullptr,
                                    r05_cxl_memdev_release};

// cxl_memdev_shutdown() + cdev_device_del() + put_device(): the devm action of devm_cxl_add_memdev().
void cxl_memdev_unregister(sim::KPtr<CxlMemdev> cxlmd) {
  {
    core::MutexGuard guard = cxlmd.write().lock.guard();
    cxlmd.store(&CxlMemdev::cxlds, nullptr);  // disconnected from the cdev: cxlds is about to be freed
  }
  bus::cdev_del(cxlmd.write().cdev);
  cxl_memdev_put(cxlmd);
}

int r05_cxl_probe(CoreContext& ctx) {
  // LIFETIME: the driver state belongs to the binding; the memdev must not reach it after unbind.
  sim::KPtr<CxlDevState> cxlds = bus::devm_kzalloc<CxlDevState>(ctx);
  if (!cxlds) return -bus::kENOMEM;
  cxlds.store(&CxlDevState::n_commands, kCxlCommands);

  // devm_cxl_add_memdev():
  sim::KPtr<CxlMemdev> cxlmd = sim::kzalloc<CxlMemdev>();
  if (!cxlmd) return -bus::kENOMEM;
  cxlmd.store(&CxlMemdev::cxlds, cxlds);
  Cdev& cdev = cxlmd.write().cdev;
  bus::cdev_init(cdev, &kCxlMemdevFops);
  cdev.set_owner(cxlmd);
  cxlmd.write().kref.get();  // the cdev's reference, dropped by its release
  cdev.on_release = [cxlmd] { cxl_memdev_put(cxlmd); };
  int ret = bus::cdev_add(cdev, cxl_node_name(), &ctx.device());
  if (ret != 0) {
    bus::cdev_del(cdev);
    cxl_memdev_put(cxlmd);
    return ret;
  }
  // Registered after cxlds, so released before it (LIFO); on failure it runs at once.
  return bus::devm_add_action_or_reset(ctx, "cxl_memdev_unregister", [cxlmd] { cxl_memdev_unregister(cxlmd); });
}

DriverInfo r05_cxl_fixed_info() {
  DriverInfo info;
  info.name = "r05_cxl_fixed";
  info.bus = "usb";
  info.summary =
      "R5 fixed (CXL): devm driver state disconnected from the memdev cdev at unbind; ioctls -ENXIO "
      "until close, release still runs, nothing leaks";
  info.race = "R5";
  info.buggy = false;
  info.node = "cxlmem0";
  info.ioctls = {{"QUERY_COMMANDS", kCxlQueryCommands, 0}};
  info.ops = [] {
    bus::DriverOps ops;
    ops.bus = "usb";
    ops.probe = r05_cxl_probe;
    return ops;  // no remove(): everything is undone by devres, as in drivers/cxl/pci.c
  };
  return info;
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r05_cxl_fixed_info);

}  // namespace devsim::drivers
