// R1: open the node, keep it open, unplug, close (Pinchart, 002). The devm'd driver data is a use-after-free in
// the driver's fops; the kref'd data is clean in every schedule and an ioctl after unplug returns -ENODEV.
#define BOOST_TEST_MODULE drivers_r01
#include <boost/test/unit_test.hpp>

#include "bus/cdev.hpp"
#include "bus/usb.hpp"
#include "tests/drivers/race_support_a.hpp"

using namespace devsim;
using namespace devsim::drivers::test;

namespace {

constexpr unsigned kGetValue = 1;
constexpr long kValue = 42;

bool g_unplugged = false;  // the hub's unplug returned (per execution)

// The race: the app opens /dev/skel0, calls an ioctl and closes; the hub unplugs the device meanwhile.
sim::Model unplug_while_open(const char* driver) {
  return [driver](sim::World& w) {
    g_unplugged = false;
    w.spawn("setup", [driver](sim::World& w) {
      load(driver);
      bus::usb_plug("1-1", driver);
      w.spawn("app", [] {
        bus::OpenResult o = bus::vfs_open("skel0");
        if (o.file == nullptr) {
          expect(o.error == -bus::kENOENT, "open fails only because the node is gone");
          return;
        }
        bool after_unplug = g_unplugged;
        long r = bus::vfs_ioctl(o.file, kGetValue, 0);
        expect(r == kValue || r == -bus::kENODEV, "ioctl: the value, or -ENODEV once unplugged");
        if (after_unplug) expect(r == -bus::kENODEV, "an ioctl after unplug returns -ENODEV");
        bus::vfs_close(o.file);
      });
      w.spawn("hub", [] {
        bus::usb_unplug("1-1");
        g_unplugged = true;
      });
    });
  };
}

// The scenario's timing (scenarios/r01-unplug-while-open-*.scn): open and ioctl at 0, the hub unplugs at 1 ms,
// the app's second ioctl at 2 ms, then close; a racer opens at 1 ms, racing the unplug.
sim::Model keep_it_open(const char* driver, bool fixed) {
  return [driver, fixed](sim::World& w) {
    w.spawn("setup", [driver, fixed](sim::World& w) {
      load(driver);
      bus::usb_plug("1-1", driver);
      w.spawn("app", [fixed] {
        bus::OpenResult o = bus::vfs_open("skel0");
        expect(bus::vfs_ioctl(o.file, kGetValue, 0) == kValue, "plugged: the value");
        sim::world().sleep_for(2'000'000);
        long r = bus::vfs_ioctl(o.file, kGetValue, 0);
        if (fixed) expect(r == -bus::kENODEV, "unplugged: -ENODEV");
        bus::vfs_close(o.file);
      });
      if (fixed) {
        w.spawn("racer", [] {
          sim::world().sleep_for(1'000'000);
          bus::OpenResult o = bus::vfs_open("skel0");
          if (o.file == nullptr) return;
          long r = bus::vfs_ioctl(o.file, kGetValue, 0);
          expect(r == kValue || r == -bus::kENODEV, "racer: the value or -ENODEV");
          bus::vfs_close(o.file);
        });
      }
      w.spawn("hub", [] {
        sim::world().sleep_for(1'000'000);
        bus::usb_unplug("1-1");
      });
    });
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(buggy_scenario_timing_fails_in_ioctl_in_every_schedule) {
  sim::ExploreResult r = sim::explore(keep_it_open("r01_unplug_open_buggy", false), exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST(find_headline(r, "use-after-free in r01_buggy_ioctl") != nullptr, headlines(r));
}

BOOST_AUTO_TEST_CASE(fixed_scenario_timing_is_clean_with_exact_results) {
  require_clean(sim::explore(keep_it_open("r01_unplug_open_fixed", true), exhaustive()), 2);
}

BOOST_AUTO_TEST_CASE(buggy_devm_data_is_used_after_free_in_ioctl_and_release) {
  sim::ExploreResult r = sim::explore(unplug_while_open("r01_unplug_open_buggy"), exhaustive());
  BOOST_TEST_MESSAGE("r01 buggy: " << r.executions << " executions, " << r.failing_executions << " failing");
  BOOST_TEST(r.exhausted);
  BOOST_TEST_REQUIRE(found_kind(r, "use-after-free"));
  for (const sim::Failure& f : r.failures)
    BOOST_TEST(f.report.kind == "use-after-free", describe({f.report}));
  // Both fops that run after unplug read the freed data: the ioctl, and release (which always runs).
  for (const char* fn : {"r01_buggy_ioctl", "r01_buggy_release"}) {
    const sim::Report* uaf = find_headline(r, std::string("use-after-free in ") + fn);
    BOOST_TEST_REQUIRE(uaf != nullptr, fn << " not found among:\n" << headlines(r));
    // Allocated by probe's devm_kzalloc, freed by the devres release that unplug ran.
    BOOST_TEST(function_of(uaf->allocated_by) == "r01_buggy_probe");
    BOOST_TEST_REQUIRE(uaf->freed_by.has_value());
    BOOST_TEST(uaf->freed_by->task.starts_with("hub/"), uaf->freed_by->task);
    BOOST_TEST(uaf->accessed_by->task.starts_with("app/"), uaf->accessed_by->task);
  }
}

BOOST_AUTO_TEST_CASE(buggy_bug_is_found_in_the_first_few_executions) {
  sim::ExploreOptions o = exhaustive();
  o.stop_at_first_failure = true;
  sim::ExploreResult r = sim::explore(unplug_while_open("r01_unplug_open_buggy"), o);
  BOOST_TEST_REQUIRE(r.failing_executions == 1u);
  BOOST_TEST_MESSAGE("r01 buggy: first failure at execution " << r.executions);
  BOOST_TEST(r.executions <= 50u);
}

BOOST_AUTO_TEST_CASE(fixed_kref_data_is_clean_in_every_schedule) {
  sim::ExploreResult r = sim::explore(unplug_while_open("r01_unplug_open_fixed"), exhaustive());
  require_clean(r, 10);
}

BOOST_AUTO_TEST_CASE(fixed_ioctl_after_unplug_is_enodev_and_release_frees_the_data) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      load("r01_unplug_open_fixed");
      bus::Device* dev = bus::usb_plug("1-1", "r01_unplug_open_fixed");
      expect(dev != nullptr && dev->bound(), "probed");
      bus::OpenResult o = bus::vfs_open("skel0");
      expect(o.file != nullptr, "opened");
      expect(bus::vfs_ioctl(o.file, kGetValue, 0) == kValue, "works while plugged");
      bus::usb_unplug("1-1");
      expect(bus::vfs_open("skel0").error == -bus::kENOENT, "no new opens after unplug");
      expect(bus::vfs_ioctl(o.file, kGetValue, 0) == -bus::kENODEV, "ioctl after unplug: -ENODEV");
      expect(bus::vfs_ioctl(o.file, kGetValue, 0) == -bus::kENODEV, "and again");
      bus::vfs_close(o.file);
      // Plug it again: a new binding, a new skel0.
      bus::usb_plug("1-1", "r01_unplug_open_fixed");
      bus::OpenResult again = bus::vfs_open("skel0");
      expect(again.file != nullptr && bus::vfs_ioctl(again.file, kGetValue, 0) == kValue, "replugged");
      bus::vfs_close(again.file);
      bus::usb_unplug("1-1");
    });
  });
  // No report at all, kmemleak included: the last release freed the data.
  BOOST_TEST(e.reports.empty(), describe(e.reports));
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
}
