// The devsim command line with two more drivers. `fuzz_test_crash`'s ioctl faults (a wild write through a pointer
// just above null, as `p->field` through a null `p` does): tests/fuzz checks that `devsim fuzz` reports it as a
// finding (an oops of the faulting task, null-ptr-deref) with a reproducer. `fuzz_test_abort`'s ioctl aborts the
// process, which no simulated task survives: tests/fuzz checks that `devsim fuzz` reports that as an error naming
// the driver (exit 2), never as a silent death.
#include <cstdint>
#include <cstdlib>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "drivers/registry.hpp"
#include "tools/cli.hpp"

namespace {

using namespace devsim;

// Not a constant the compiler can see through: the write below is a real store to the zero page. Not address 0
// itself, which UBSan's null check would stop first (exit 1) in the sanitizer builds: the test is that devsim's
// own fault handling reports it.
volatile std::uintptr_t g_wild_address = 16;

long crash_ioctl(bus::File&, unsigned, unsigned long) {
  *reinterpret_cast<volatile int*>(g_wild_address) = 1;
  return 0;
}

long abort_ioctl(bus::File&, unsigned, unsigned long) {
  std::abort();
}

const bus::FileOperations kFops{nullptr, nullptr, nullptr, crash_ioctl, nullptr, nullptr, nullptr};
const bus::FileOperations kAbortFops{nullptr, nullptr, nullptr, abort_ioctl, nullptr, nullptr, nullptr};

int crash_probe(bus::CoreContext& ctx) {
  bus::Cdev* cdev = bus::cdev_alloc(&kFops);
  ctx->set_drvdata(cdev);
  return bus::cdev_add(*cdev, "crash0", &ctx.device());
}

void crash_remove(bus::CoreContext& ctx) {
  bus::cdev_del(*static_cast<bus::Cdev*>(ctx->drvdata()));
}

drivers::DriverInfo crash_info() {
  drivers::DriverInfo info;
  info.name = "fuzz_test_crash";
  info.bus = "platform";
  info.summary = "a test driver whose ioctl faults";
  info.node = "crash0";
  info.ioctls = {{"BOOM", 1, 0}};
  info.ops = [] { return bus::DriverOps{"fuzz_test_crash", "platform", {}, crash_probe, crash_remove}; };
  return info;
}

}  // namespace

int abort_probe(bus::CoreContext& ctx) {
  bus::Cdev* cdev = bus::cdev_alloc(&kAbortFops);
  ctx->set_drvdata(cdev);
  return bus::cdev_add(*cdev, "abort0", &ctx.device());
}

drivers::DriverInfo abort_info() {
  drivers::DriverInfo info;
  info.name = "fuzz_test_abort";
  info.bus = "platform";
  info.summary = "a test driver whose ioctl aborts the process";
  info.node = "abort0";
  info.ioctls = {{"BOOM", 1, 0}};
  info.ops = [] { return bus::DriverOps{"fuzz_test_abort", "platform", {}, abort_probe, crash_remove}; };
  return info;
}

DEVSIM_REGISTER_DRIVER(crash_info)
DEVSIM_REGISTER_DRIVER(abort_info)

int main(int argc, char** argv) {
  return devsim::tool::run_cli(argc, argv);
}
