// Deferred probe on real OS threads (bus/driver.hpp; drivers/base/dd.c driver_deferred_probe_add_trigger,
// driver_deferred_probe_trigger, deferred_probe_work_func, driver_deferred_probe_del): the retry is a work item on
// the system workqueue's pool. The same consumer and supplier as tests/bus/test_deferred_probe.cpp, which explores
// them in the simulator: plugged at once on two threads, the consumer ends bound once both plugs returned and the
// work was flushed (wait_for_device_probe); unplugged while its retry is queued or running, it is no use-after-free
// (ASan's report in the ASan build; TSan's job runs this suite too).
#define BOOST_TEST_MODULE bus_stress_deferred_probe
#include <boost/test/unit_test.hpp>

#include <thread>

#include "bus/errno.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "sim/kmalloc.hpp"
#include "sim/machine.hpp"
#include "sim/native_report.hpp"
#include "tests/bus/deferred_probe_drivers.hpp"

using namespace devsim;
using namespace devsim::bus;

namespace {

constexpr int kRounds = 300;

// A fresh machine with both drivers loaded.
void fresh_machine() {
  sim::NativeMachine::begin_fresh();
  test::make_supplier();
  platform_driver_register(test::supplier_driver());
  platform_driver_register(test::consumer_driver());
}

// Unloads the drivers and lets the work finish, so the next begin_fresh finds nothing of this machine running.
void end_machine() {
  for (const auto& b : kernel().buses())
    for (Driver* d : std::vector<Driver*>(b->drivers()))
      driver_unregister(d);
  wait_for_device_probe();
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_consumer_plugged_beside_its_supplier_ends_bound) {
  const std::uint64_t reports = sim::native::reports();
  int deferred_first = 0;
  for (int round = 0; round < kRounds; ++round) {
    fresh_machine();
    Device* consumer = nullptr;
    Device* supplier = nullptr;
    std::thread a([&] { consumer = platform_device_register("consumer"); });
    std::thread b([&] { supplier = platform_device_register("supplier"); });
    a.join();
    b.join();
    if (deferred_probe_count() != 0 || !consumer->bound()) ++deferred_first;
    wait_for_device_probe();
    BOOST_TEST_REQUIRE(consumer->bound(), "round " << round << ": the consumer was left unbound");
    BOOST_TEST_REQUIRE(deferred_probe_count() == 0u);
    platform_device_unregister(consumer);
    platform_device_unregister(supplier);
    end_machine();
  }
  BOOST_TEST(sim::native::reports() == reports);
  BOOST_TEST_MESSAGE(deferred_first << " of " << kRounds << " rounds deferred the consumer first");
}

BOOST_AUTO_TEST_CASE(unplugging_a_consumer_whose_retry_is_queued_is_no_use_after_free) {
  const std::uint64_t reports = sim::native::reports();
  for (int round = 0; round < kRounds; ++round) {
    fresh_machine();
    Device* consumer = platform_device_register("consumer");
    BOOST_TEST_REQUIRE(deferred_probe_count() == 1u);  // no supplier yet: deferred
    Device* supplier = nullptr;
    std::thread plug([&] { supplier = platform_device_register("supplier"); });  // queues the retry
    std::thread unplug([&] { platform_device_unregister(consumer); });           // takes it off, last put frees it
    plug.join();
    unplug.join();
    wait_for_device_probe();
    BOOST_TEST_REQUIRE(deferred_probe_count() == 0u);
    platform_device_unregister(supplier);
    end_machine();
  }
  BOOST_TEST(sim::native::reports() == reports);
}
