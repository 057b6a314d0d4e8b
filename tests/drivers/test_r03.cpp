// R3: memory owned by the device, referenced from the cdev (Greg KH's two lifecycles, 002). The cdev embedded in
// devm'd data is used after free, by container_of() in the driver and by the kernel's own fput(); with the cdev's
// release callback dropping a reference on counted data, every schedule is clean.
#define BOOST_TEST_MODULE drivers_r03
#include <boost/test/unit_test.hpp>

#include "bus/cdev.hpp"
#include "bus/usb.hpp"
#include "tests/drivers/race_support_a.hpp"

using namespace devsim;
using namespace devsim::drivers::test;

namespace {

constexpr unsigned kGetValue = 1;
constexpr long kValue = 7;

bool g_unplugged = false;

sim::Model two_lifecycles(const char* driver) {
  return [driver](sim::World& w) {
    g_unplugged = false;
    w.spawn("setup", [driver](sim::World& w) {
      load(driver);
      bus::usb_plug("1-1", driver);
      w.spawn("app", [] {
        bus::OpenResult o = bus::vfs_open("chardev0");
        if (o.file == nullptr) return;
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

// The access hit the struct cdev embedded at the start of the freed driver data.
bool in_the_cdev(const sim::Report& r) {
  return r.access && r.access->offset < sizeof(bus::Cdev);
}

}  // namespace

BOOST_AUTO_TEST_CASE(buggy_the_cdev_in_devm_memory_is_used_after_free) {
  sim::ExploreResult r = sim::explore(two_lifecycles("r03_two_lifecycles_buggy"), exhaustive());
  BOOST_TEST_MESSAGE("r03 buggy: " << r.executions << " executions, " << r.failing_executions << " failing\n"
                                   << headlines(r));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_REQUIRE(found_kind(r, "use-after-free"));
  bool driver_side = false, kernel_side = false;
  for (const sim::Failure& f : r.failures) {
    const sim::Report& rep = f.report;
    BOOST_TEST(rep.kind == "use-after-free", describe({rep}));
    BOOST_TEST(function_of(rep.allocated_by) == "r03_buggy_probe");  // the devm_kzalloc'd data
    BOOST_TEST(rep.freed_by->task.starts_with("hub/"));
    if (rep.headline == "use-after-free in r03_buggy_ioctl" && in_the_cdev(rep)) driver_side = true;
    if (!function_of(rep.accessed_by).starts_with("r03_") && in_the_cdev(rep)) kernel_side = true;
  }
  BOOST_TEST(driver_side, "container_of() in the ioctl reads the freed cdev:\n" << headlines(r));
  BOOST_TEST(kernel_side, "the kernel's fput() at close puts the freed cdev:\n" << headlines(r));
}

BOOST_AUTO_TEST_CASE(fixed_the_cdev_release_callback_keeps_the_memory_in_every_schedule) {
  require_clean(sim::explore(two_lifecycles("r03_two_lifecycles_fixed"), exhaustive()), 10);
}

BOOST_AUTO_TEST_CASE(fixed_memory_lives_until_the_last_close_then_goes) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      load("r03_two_lifecycles_fixed");
      bus::usb_plug("1-1", "r03_two_lifecycles_fixed");
      bus::OpenResult a = bus::vfs_open("chardev0");
      bus::OpenResult b = bus::vfs_open("chardev0");
      expect(a.file != nullptr && b.file != nullptr, "two files");
      expect(bus::vfs_ioctl(a.file, kGetValue, 0) == kValue, "bound");
      bus::usb_unplug("1-1");
      expect(bus::vfs_ioctl(a.file, kGetValue, 0) == -bus::kENODEV, "after unplug: -ENODEV");
      bus::vfs_close(a.file);
      expect(bus::vfs_ioctl(b.file, kGetValue, 0) == -bus::kENODEV, "the other file still works");
      bus::vfs_close(b.file);  // the cdev's last put: its release callback frees the data
    });
  });
  BOOST_TEST(e.reports.empty(), describe(e.reports));  // no UAF, no leak
}
