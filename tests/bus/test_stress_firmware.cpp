// Firmware requests on real OS threads (bus/firmware.hpp), with no simulated world. The kernel's loader
// (drivers/base/firmware_loader/main.c, request_firmware_nowait) takes a reference on the device, queues the load
// with schedule_work (request_firmware_work_func) and drops the reference after the driver's continuation returned;
// natively the load runs on the system workqueue's pool, and wait_for_firmware_requests() is what lets a native
// machine be torn down only after every continuation returned (devsim stress calls it after each iteration).
// Runs under ASan and TSan in .ci/run (ctest label "native").
#define BOOST_TEST_MODULE bus_stress_firmware
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <string>
#include <thread>

#include "bus/errno.hpp"
#include "bus/firmware.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "sim/machine.hpp"

using namespace devsim;
using namespace devsim::bus;

namespace {

// What the continuations saw, across the pool's threads.
struct Seen {
  std::atomic<int> calls{0};
  std::atomic<int> missing{0};           // continuations that got no blob
  std::atomic<long> bytes{0};            // the sizes of the blobs they got
  std::atomic<int> on_caller_thread{0};  // continuations run on the thread that asked (must stay 0)
  std::thread::id caller;
};

void note(sim::KPtr<Firmware> fw, void* context) {
  auto* seen = static_cast<Seen*>(context);
  if (std::this_thread::get_id() == seen->caller) ++seen->on_caller_thread;
  if (fw) {
    seen->bytes += static_cast<long>(fw.read().data.size());
  } else {
    ++seen->missing;
  }
  release_firmware(fw);
  ++seen->calls;
}

// The device as the continuation sees it: the request's reference must keep it alive after its unregistration.
struct DeviceSeen {
  Device* dev = nullptr;
  std::atomic<int> refcount{-1};
  std::atomic<bool> named{false};
};

void look_at_device(sim::KPtr<Firmware> fw, void* context) {
  auto* seen = static_cast<DeviceSeen*>(context);
  // LIFETIME: the request holds a reference on the device until this returns (the property under test; ASan
  // reports the read if it does not).
  seen->refcount = seen->dev->refcount();
  seen->named = seen->dev->name() == "fwdev";
  release_firmware(fw);
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_load_runs_on_the_pool_and_every_continuation_returns_before_the_wait_does) {
  sim::NativeMachine::begin_fresh();
  kernel().firmware_files()["fw.bin"] = "0123456789";
  Device* dev = platform_device_register("fwdev");
  BOOST_REQUIRE(dev != nullptr);
  Seen seen;
  seen.caller = std::this_thread::get_id();
  constexpr int kRequests = 64;
  for (int i = 0; i < kRequests; ++i)
    BOOST_TEST(request_firmware_nowait(i % 4 == 3 ? "absent.bin" : "fw.bin", dev, &seen, note) == 0);
  // Each load takes 1 ms: without the wait most continuations would still be queued or running here.
  wait_for_firmware_requests();
  BOOST_TEST(seen.calls.load() == kRequests);
  BOOST_TEST(seen.missing.load() == kRequests / 4);
  BOOST_TEST(seen.bytes.load() == 10L * (kRequests - kRequests / 4));
  BOOST_TEST(seen.on_caller_thread.load() == 0);
  platform_device_unregister(dev);
}

BOOST_AUTO_TEST_CASE(the_request_keeps_the_device_alive_past_its_unregistration) {
  sim::NativeMachine::begin_fresh();
  kernel().firmware_files()["fw.bin"] = "blob";
  Device* dev = platform_device_register("fwdev");
  BOOST_REQUIRE(dev != nullptr);
  DeviceSeen seen;
  seen.dev = dev;
  BOOST_TEST(request_firmware_nowait("fw.bin", dev, &seen, look_at_device) == 0);
  // The hub's reference goes now, while the load sleeps: only the request's is left.
  platform_device_unregister(dev);
  wait_for_firmware_requests();
  BOOST_TEST(seen.named.load());
  BOOST_TEST(seen.refcount.load() >= 1);
}

BOOST_AUTO_TEST_CASE(a_synchronous_request_for_a_missing_file_is_enoent) {
  sim::NativeMachine::begin_fresh();
  kernel().firmware_files()["fw.bin"] = "abc";
  Device* dev = platform_device_register("fwdev");
  BOOST_REQUIRE(dev != nullptr);
  sim::KPtr<Firmware> fw;
  BOOST_TEST(request_firmware(&fw, "fw.bin", dev) == 0);
  BOOST_REQUIRE(static_cast<bool>(fw));
  BOOST_TEST(fw.read().data == "abc");
  release_firmware(fw);
  BOOST_TEST(request_firmware(&fw, "absent.bin", dev) == -kENOENT);
  BOOST_TEST(!fw);
  platform_device_unregister(dev);
}
