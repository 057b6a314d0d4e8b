// R7: insert/remove a USB device "a few zillion times" (Greg KH, 002). Module-lifetime allocations leak one object
// per plug/unplug cycle (the kmemleak report grows with the cycles); devm allocations leak nothing.
#define BOOST_TEST_MODULE drivers_r07
#include <boost/test/unit_test.hpp>

#include <string>

#include "bus/usb.hpp"
#include "tests/drivers/race_support_a.hpp"

using namespace devsim;
using namespace devsim::drivers::test;

namespace {

int g_cycles = 0;
const char* g_driver = nullptr;

std::size_t leaks(const std::vector<sim::Report>& reports) {
  std::size_t n = 0;
  for (const sim::Report& r : reports)
    if (r.kind == "memory-leak") ++n;
  return n;
}

sim::Execution replug(const char* driver, int cycles) {
  g_driver = driver;
  g_cycles = cycles;
  return sim::run_once([](sim::World& w) {
    w.spawn("hub", [] {
      load(g_driver);
      for (int i = 0; i < g_cycles; ++i) {
        bus::Device* dev = bus::usb_plug("1-1", g_driver);
        expect(dev != nullptr && dev->bound(), "plugged and probed");
        bus::usb_unplug("1-1");
      }
    });
  });
}

// Two ports plugged and unplugged twice each, concurrently.
void two_hubs(sim::World& w) {
  w.spawn("setup", [](sim::World& w) {
    load(g_driver);
    for (const char* port : {"1-1", "1-2"}) {
      w.spawn(std::string("hub ") + port, [port] {
        for (int i = 0; i < 2; ++i) {
          bus::usb_plug(port, g_driver);
          bus::usb_unplug(port);
        }
      });
    }
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(buggy_the_leak_report_grows_with_each_cycle) {
  for (int cycles = 1; cycles <= 4; ++cycles) {
    BOOST_TEST_CONTEXT(cycles << " cycles") {
      sim::Execution e = replug("r07_replug_leak_buggy", cycles);
      BOOST_TEST(leaks(e.reports) == static_cast<std::size_t>(cycles), describe(e.reports));
      for (const sim::Report& r : e.reports) {
        BOOST_TEST(r.kind == "memory-leak");
        BOOST_TEST(function_of(r.allocated_by) == "r07_probe");  // the ring, one per probe
        BOOST_TEST(r.access->type.find("RxRing") != std::string::npos, r.access->type);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(fixed_no_leak_however_many_cycles) {
  sim::Execution e = replug("r07_replug_leak_fixed", 8);
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty(), describe(e.reports));
}

BOOST_AUTO_TEST_CASE(buggy_concurrent_replugs_leak_in_every_schedule) {
  g_driver = "r07_replug_leak_buggy";
  sim::ExploreResult r = sim::explore(two_hubs, exhaustive(1));
  BOOST_TEST_MESSAGE("r07 buggy: " << r.executions << " executions, " << r.failing_executions << " failing");
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST(found_kind(r, "memory-leak"));
}

BOOST_AUTO_TEST_CASE(fixed_concurrent_replugs_are_clean_in_every_schedule) {
  g_driver = "r07_replug_leak_fixed";
  require_clean(sim::explore(two_hubs, exhaustive(1)), 2);
}
