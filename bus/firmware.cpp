#include "bus/firmware.hpp"

#include <cstdint>

#include "bus/errno.hpp"
#include "bus/host_lock.hpp"
#include "bus/kernel.hpp"
#include "bus/native_runtime.hpp"
#include "sim/machine.hpp"

namespace devsim::bus {

namespace {
constexpr sim::Nanos kLoadTime = 1'000'000;  // 1 ms per load: virtual time in the simulator, real time natively

// Natively, the request_firmware_nowait() calls of this machine whose continuation has not returned yet.
// INVARIANT: changed and read under a HostGuard; notify_all() after each decrement.
struct NativeFirmwareRequests {
  std::uint64_t in_flight = 0;
};

sim::KPtr<Firmware> load(const std::string& name, const Site& site) {
  sim::sleep_for(kLoadTime, site);
  std::string contents;
  {
    HostGuard guard;  // natively the file table is the machine's, read by every pool thread
    auto& files = kernel().firmware_files();
    auto it = files.find(name);
    if (it == files.end()) return nullptr;
    contents = it->second;
  }
  return sim::kmalloc(Firmware{std::move(contents)}, site);
}
}  // namespace

int request_firmware(sim::KPtr<Firmware>* fw, const std::string& name, Device* dev, const Site& site) {
  get_device(dev, site);
  *fw = load(name, site);
  put_device(dev, site);
  return *fw ? 0 : -kENOENT;
}

void release_firmware(sim::KPtr<Firmware> fw, const Site& site) {
  if (fw) sim::kfree(fw, site);
}

int request_firmware_nowait(const std::string& name, Device* dev, void* context, FirmwareCont cont, const Site& site) {
  // LIFETIME: the reference taken here is the request's; it is dropped after the callback returns.
  get_device(dev, site);
  auto request = [name, dev, context, cont, site] {
    sim::KPtr<Firmware> fw = load(name, site);
    cont(fw, context);
    put_device(dev, site);
  };
  if (sim::World* w = sim::World::current()) {
    w->spawn("firmware", std::move(request), site);
    return 0;
  }
  // Natively the load runs on the system workqueue's pool (drivers/base/firmware_loader/main.c queues
  // request_firmware_work_func with schedule_work). LIFETIME: the machine's request count is not zero until the
  // continuation returned, and the machine is not torn down before wait_for_firmware_requests() saw it at zero.
  auto& requests = sim::machine_state<NativeFirmwareRequests>();
  {
    HostGuard guard;
    ++requests.in_flight;
  }
  NativeDeferred::post([request = std::move(request), &requests] {
    request();
    HostGuard guard;
    --requests.in_flight;
    HostGuard::notify_all();
  });
  return 0;
}

void wait_for_firmware_requests() {
  if (sim::World::current() != nullptr) return;
  auto& requests = sim::machine_state<NativeFirmwareRequests>();
  HostGuard guard;
  guard.wait([&requests] { return requests.in_flight == 0; });
}

}  // namespace devsim::bus
