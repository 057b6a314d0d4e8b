// R4: GPIO "numbing" (Walleij, 002). gpiolib clears gdev->chip at removal and calls check it: without
// synchronisation a call that passed the check sleeps in the chip's get() while the chip is freed; with SRCU
// (clear, synchronize, free) the removal waits for it and later calls get -ENODEV.
#define BOOST_TEST_MODULE drivers_r04
#include <boost/test/unit_test.hpp>

#include "bus/cdev.hpp"
#include "bus/usb.hpp"
#include "tests/drivers/race_support_a.hpp"

using namespace devsim;
using namespace devsim::drivers::test;

namespace {

constexpr unsigned kGetLineValue = 1;
constexpr sim::Nanos kControlMsg = 200'000;  // the expander's get() takes this long

bool g_unplugged = false;

sim::Model numbing(const char* driver) {
  return [driver](sim::World& w) {
    g_unplugged = false;
    w.spawn("setup", [driver](sim::World& w) {
      load(driver);
      bus::usb_plug("1-1", driver);
      w.spawn("app", [] {
        bus::OpenResult o = bus::vfs_open("gpiochip0");
        if (o.file == nullptr) return;
        bool after_unplug = g_unplugged;
        long r = bus::vfs_ioctl(o.file, kGetLineValue, 0);  // line 0 of 0xa5: 1
        expect(r == 1 || r == -bus::kENODEV, "line value, or -ENODEV once numbed");
        if (after_unplug) expect(r == -bus::kENODEV, "numbed after unplug: -ENODEV");
        bus::vfs_close(o.file);
      });
      w.spawn("hub", [] {
        bus::usb_unplug("1-1");
        g_unplugged = true;
      });
    });
  };
}

// The scenario's timing: a get() starts at 0 and sleeps 200 us in its control transfer; the hub unplugs at 100 us.
// The hub checks (fixed variant) that the removal waited for the call in flight.
sim::Model unplug_during_get(const char* driver, bool check_wait) {
  return [driver, check_wait](sim::World& w) {
    w.spawn("setup", [driver, check_wait](sim::World& w) {
      load(driver);
      bus::usb_plug("1-1", driver);
      w.spawn("app", [] {
        bus::OpenResult o = bus::vfs_open("gpiochip0");
        expect(bus::vfs_ioctl(o.file, kGetLineValue, 0) == 1, "the call in flight completes");
        expect(bus::vfs_ioctl(o.file, kGetLineValue, 0) == -bus::kENODEV, "then the chip is numbed");
        bus::vfs_close(o.file);
      });
      w.spawn("hub", [check_wait] {
        sim::world().sleep_for(kControlMsg / 2);
        bus::usb_unplug("1-1");
        if (check_wait) expect(sim::world().now() >= kControlMsg, "synchronize_srcu() waited for the reader in flight");
      });
    });
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(buggy_check_then_use_is_a_use_after_free_window) {
  sim::ExploreResult r = sim::explore(numbing("r04_gpio_numbing_buggy"), exhaustive());
  BOOST_TEST_MESSAGE("r04 buggy: " << r.executions << " executions, " << r.failing_executions << " failing");
  BOOST_TEST(r.exhausted);
  const sim::Report* uaf = find_headline(r, "use-after-free in r04_expander_get");
  BOOST_TEST_REQUIRE(uaf != nullptr, headlines(r));
  BOOST_TEST(function_of(uaf->allocated_by) == "expander_probe");  // the driver's devm'd gpio_chip
  BOOST_TEST(uaf->freed_by->task.starts_with("hub/"));
  for (const sim::Failure& f : r.failures)
    BOOST_TEST(f.report.kind == "use-after-free", describe({f.report}));
}

BOOST_AUTO_TEST_CASE(buggy_unplug_during_get_fails_in_every_schedule) {
  sim::ExploreResult r = sim::explore(unplug_during_get("r04_gpio_numbing_buggy", false), exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST(find_headline(r, "use-after-free in r04_expander_get") != nullptr, headlines(r));
}

BOOST_AUTO_TEST_CASE(fixed_srcu_numbing_is_clean_in_every_schedule) {
  require_clean(sim::explore(numbing("r04_gpio_numbing_fixed"), exhaustive()), 10);
}

BOOST_AUTO_TEST_CASE(fixed_removal_waits_for_the_get_in_flight) {
  require_clean(sim::explore(unplug_during_get("r04_gpio_numbing_fixed", true), exhaustive()), 1);
}
