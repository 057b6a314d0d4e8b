// R5: CXL (Williams, 002): the devm'd driver state is disconnected from the memdev's cdev at unbind; ioctls fail
// with -ENXIO until userspace closes, release still runs, nothing leaks. Only a fixed variant exists.
#define BOOST_TEST_MODULE drivers_r05
#include <boost/test/unit_test.hpp>

#include "bus/cdev.hpp"
#include "bus/usb.hpp"
#include "tests/drivers/race_support_a.hpp"

using namespace devsim;
using namespace devsim::drivers::test;

namespace {

constexpr unsigned kQueryCommands = 1;
constexpr long kCommands = 12;

bool g_unplugged = false;

void cxl_unplug(sim::World& w) {
  g_unplugged = false;
  w.spawn("setup", [](sim::World& w) {
    load("r05_cxl_fixed");
    bus::usb_plug("1-1", "r05_cxl_fixed");
    w.spawn("app", [] {
      bus::OpenResult o = bus::vfs_open("cxlmem0");
      if (o.file == nullptr) return;
      bool after_unplug = g_unplugged;
      long r = bus::vfs_ioctl(o.file, kQueryCommands, 0);
      expect(r == kCommands || r == -bus::kENXIO, "ioctl: the answer, or -ENXIO once the driver is gone");
      if (after_unplug) expect(r == -bus::kENXIO, "after unplug: -ENXIO");
      bus::vfs_close(o.file);
    });
    w.spawn("hub", [] {
      bus::usb_unplug("1-1");
      g_unplugged = true;
    });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(registered_as_the_fixed_variant_only) {
  const drivers::DriverInfo* info = drivers::find_driver("r05_cxl_fixed");
  BOOST_TEST_REQUIRE(info != nullptr);
  BOOST_TEST(info->race == "R5");
  BOOST_TEST(!info->buggy);
  BOOST_TEST(info->node == "cxlmem0");
}

BOOST_AUTO_TEST_CASE(enxio_after_remove_in_every_schedule) {
  require_clean(sim::explore(cxl_unplug, exhaustive()), 10);
}

BOOST_AUTO_TEST_CASE(enxio_until_close_then_release_and_nothing_leaked) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      load("r05_cxl_fixed");
      bus::Device* dev = bus::usb_plug("1-1", "r05_cxl_fixed");
      sim::AllocId device_memory = dev->allocation();
      bus::OpenResult o = bus::vfs_open("cxlmem0");
      expect(o.file != nullptr, "opened");
      expect(bus::vfs_ioctl(o.file, kQueryCommands, 0) == kCommands, "bound: the device answers");
      bus::usb_unplug("1-1");
      expect(bus::vfs_open("cxlmem0").error == -bus::kENOENT, "no new opens");
      for (int i = 0; i < 3; ++i)
        expect(bus::vfs_ioctl(o.file, kQueryCommands, 0) == -bus::kENXIO, "-ENXIO until userspace closes");
      expect(!sim::world().memory().record(device_memory).freed, "the open cdev still holds the device");
      bus::vfs_close(o.file);
      // release() ran and dropped the file's memdev reference; the cdev's last put dropped the device.
      expect(sim::world().memory().record(device_memory).freed, "closing let everything go");
    });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty(), describe(e.reports));  // kmemleak included: the memdev was freed by the last put
}
