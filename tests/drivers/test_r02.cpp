// R2: an ioctl in flight while remove() runs (Pinchart, 002). Without waiting, the call in flight uses the
// transfer buffer devres freed after remove(); with disconnect + in-flight count + drain, remove() waits for it and
// new calls get -ENODEV.
#define BOOST_TEST_MODULE drivers_r02
#include <boost/test/unit_test.hpp>

#include "bus/cdev.hpp"
#include "bus/usb.hpp"
#include "tests/drivers/race_support_a.hpp"

using namespace devsim;
using namespace devsim::drivers::test;

namespace {

constexpr unsigned kTransfer = 1;
constexpr long kLength = 64;
constexpr sim::Nanos kTransferTime = 1'000'000;

bool g_unplugged = false;

// The app opens /dev/xfer0 and runs one transfer; the hub unplugs, at any point.
sim::Model inflight(const char* driver) {
  return [driver](sim::World& w) {
    g_unplugged = false;
    w.spawn("setup", [driver](sim::World& w) {
      load(driver);
      bus::usb_plug("1-1", driver);
      w.spawn("app", [] {
        bus::OpenResult o = bus::vfs_open("xfer0");
        if (o.file == nullptr) return;
        bool after_unplug = g_unplugged;
        long r = bus::vfs_ioctl(o.file, kTransfer, 0);
        expect(r == kLength || r == -bus::kENODEV, "transfer: its length, or -ENODEV once disconnected");
        if (after_unplug) expect(r == -bus::kENODEV, "a call after unplug gets -ENODEV");
        bus::vfs_close(o.file);
      });
      w.spawn("hub", [] {
        bus::usb_unplug("1-1");
        g_unplugged = true;
      });
    });
  };
}

// The scenario's timing: the transfer starts at 0 and lasts 1 ms; the hub unplugs at 0.5 ms, in the middle of it.
// The hub checks (fixed variant) that the removal waited for the call in flight.
sim::Model unplug_mid_transfer(const char* driver, bool check_wait) {
  return [driver, check_wait](sim::World& w) {
    w.spawn("setup", [driver, check_wait](sim::World& w) {
      load(driver);
      bus::usb_plug("1-1", driver);
      w.spawn("app", [] {
        bus::OpenResult o = bus::vfs_open("xfer0");
        expect(o.file != nullptr, "opened before the unplug");
        expect(bus::vfs_ioctl(o.file, kTransfer, 0) == kLength, "the call in flight completes normally");
        expect(bus::vfs_ioctl(o.file, kTransfer, 0) == -bus::kENODEV, "the next one is refused");
        bus::vfs_close(o.file);
      });
      w.spawn("hub", [check_wait] {
        sim::world().sleep_for(kTransferTime / 2);
        bus::usb_unplug("1-1");
        if (check_wait)
          expect(sim::world().now() >= kTransferTime, "remove() returned only after the transfer in flight");
      });
    });
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(buggy_the_call_in_flight_uses_the_freed_buffer) {
  sim::ExploreResult r = sim::explore(inflight("r02_inflight_buggy"), exhaustive());
  BOOST_TEST_MESSAGE("r02 buggy: " << r.executions << " executions, " << r.failing_executions << " failing");
  BOOST_TEST(r.exhausted);
  const sim::Report* uaf = find_headline(r, "use-after-free in r02_buggy_ioctl");
  BOOST_TEST_REQUIRE(uaf != nullptr, headlines(r));
  BOOST_TEST(function_of(uaf->allocated_by) == "xfer_probe");  // the devm_kzalloc'd transfer buffer
  BOOST_TEST(uaf->freed_by->task.starts_with("hub/"));
  BOOST_TEST(uaf->accessed_by->task.starts_with("app/"));
}

BOOST_AUTO_TEST_CASE(buggy_unplug_mid_transfer_fails_in_every_schedule) {
  sim::ExploreResult r = sim::explore(unplug_mid_transfer("r02_inflight_buggy", false), exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST(find_headline(r, "use-after-free in r02_buggy_ioctl") != nullptr, headlines(r));
}

BOOST_AUTO_TEST_CASE(fixed_remove_drains_and_new_calls_get_enodev_in_every_schedule) {
  require_clean(sim::explore(inflight("r02_inflight_fixed"), exhaustive()), 10);
}

BOOST_AUTO_TEST_CASE(fixed_remove_waits_for_the_transfer_in_flight) {
  require_clean(sim::explore(unplug_mid_transfer("r02_inflight_fixed", true), exhaustive()), 1);
}
