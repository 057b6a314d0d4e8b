// mfd_multi: three cdevs over shared data in a ures group. The functions work (mode, FIFO, events); after unplug
// every call returns -ENODEV and a sleeper is woken with -ENODEV; the shared data is freed exactly once, when the
// driver has unbound and the last file of any of the three nodes is closed — in every schedule.
#define BOOST_TEST_MODULE drivers_mfd_multi
#include <boost/test/unit_test.hpp>

#include <set>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "bus/usb.hpp"
#include "tests/drivers/realistic_support.hpp"

using namespace devsim;
using namespace devsim::bus;
using drivers::test::expect;
using drivers::test::Finish;

namespace {

unsigned cmd(const char* name) {
  return drivers::test::ioctl_cmd("mfd_multi", name);
}

Device* plug() {
  drivers::load_driver(drivers::test::driver("mfd_multi"));
  return usb_plug("1-1", "mfd_multi");
}

// The shared data, found by type: exactly one allocation per probe. Freed twice would be a double-free report.
const sim::Allocation& shared() {
  auto all = drivers::test::allocations_of("::MfdShared");
  expect(all.size() == 1, "one MfdShared per probe");
  return *all.at(0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(registry_entry_describes_the_driver) {
  const drivers::DriverInfo& info = drivers::test::driver("mfd_multi");
  BOOST_TEST(info.bus == "usb");
  BOOST_TEST(info.race == "");
  BOOST_TEST(!info.buggy);
  BOOST_TEST(info.node == "mfd0-ctl");
  BOOST_TEST(info.ioctls.size() == 4u);
}

BOOST_AUTO_TEST_CASE(happy_path_three_functions_over_shared_data) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("app", [] {
      Device* dev = plug();
      expect(dev != nullptr && dev->bound(), "probed");
      File* ctl = vfs_open("mfd0-ctl").file;
      File* data = vfs_open("mfd0-data").file;
      File* events = vfs_open("mfd0-events").file;
      expect(ctl != nullptr && data != nullptr && events != nullptr, "three nodes");

      expect(vfs_ioctl(ctl, cmd("GET_MODE"), 0) == 0, "mode 0 after probe");
      expect(vfs_ioctl(ctl, cmd("SET_MODE"), 2) == 0, "SET_MODE 2");
      expect(vfs_ioctl(ctl, cmd("GET_MODE"), 0) == 2, "reads back");
      expect(vfs_ioctl(ctl, cmd("SET_MODE"), 4) == -kEINVAL, "four modes");
      expect(vfs_write(data, 5) == 5, "5 bytes into the FIFO");
      expect(vfs_ioctl(data, cmd("GET_COUNT"), 0) == 5, "buffered");
      expect(vfs_read(data, 3) == 3, "3 out");
      expect(vfs_write(data, 100) == 14, "the FIFO holds 16");
      expect(vfs_write(data, 1) == -kEAGAIN, "full");
      expect(vfs_read(data, 100) == 16 && vfs_read(data, 1) == 0, "drained, then empty");
      // Each node has its own ioctls.
      expect(vfs_ioctl(data, cmd("GET_MODE"), 0) == -kENOTTY, "no GET_MODE on data");
      expect(vfs_ioctl(events, cmd("GET_COUNT"), 0) == -kENOTTY, "no GET_COUNT on events");

      // SET_MODE and the two accepted writes raised three events.
      expect(vfs_poll(events) == kPollIn, "events pending");
      for (int i = 0; i < 3; ++i)
        expect(vfs_ioctl(events, cmd("WAIT_EVENT"), 0) == 0, "an event consumed");
      expect(vfs_poll(events) == 0u, "none left");
      expect(vfs_ioctl(events, cmd("WAIT_EVENT"), 0) == -kEAGAIN, "timeout with nothing to wait for");

      vfs_close(ctl);
      vfs_close(data);
      vfs_close(events);
      expect(!shared().freed, "the driver still holds the group");
      usb_unplug("1-1");
      expect(shared().freed, "unbound and closed: freed");
    });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
}

BOOST_AUTO_TEST_CASE(shared_data_goes_with_the_last_file_of_any_node) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("app", [] {
      plug();
      File* ctl = vfs_open("mfd0-ctl").file;
      File* data = vfs_open("mfd0-data").file;
      File* events = vfs_open("mfd0-events").file;
      expect(vfs_write(data, 4) == 4, "works while bound");
      usb_unplug("1-1");
      for (const char* node : {"mfd0-ctl", "mfd0-data", "mfd0-events"})
        expect(vfs_open(node).error == -kENOENT, std::string(node) + " is gone");
      expect(vfs_ioctl(ctl, cmd("SET_MODE"), 1) == -kENODEV, "ctl: -ENODEV");
      expect(vfs_read(data, 1) == -kENODEV && vfs_write(data, 1) == -kENODEV, "data: -ENODEV");
      expect(vfs_ioctl(events, cmd("WAIT_EVENT"), 0) == -kENODEV, "events: -ENODEV");
      expect(vfs_poll(events) == (kPollHup | kPollErr), "poll: HUP|ERR");

      vfs_close(events);
      expect(!shared().freed, "ctl and data still open");
      vfs_close(ctl);
      expect(!shared().freed, "data still open");
      vfs_close(data);  // release() ran for each; the last one's group reference was the last
      const sim::Allocation& a = shared();
      expect(a.freed, "the last close of any node freed it");
      expect(a.free_task == sim::world().current_task(), "freed by the closing task");
    });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));  // no double free, no leak
}

namespace {

// The three functions used concurrently while the hub unplugs the device.
Finish g_finish;
std::set<long> g_mode_results, g_wait_results;

void hotplug_model(sim::World& w) {
  g_finish.start(4);
  w.spawn("setup", [](sim::World& w) {
    plug();
    auto finish = [] {
      g_finish.done([] { expect(shared().freed, "unbound and closed: the shared data was freed"); });
    };
    w.spawn("ctl", [finish] {
      OpenResult o = vfs_open("mfd0-ctl");
      if (o.file != nullptr) {
        long set = vfs_ioctl(o.file, cmd("SET_MODE"), 3);
        long get = vfs_ioctl(o.file, cmd("GET_MODE"), 0);
        expect(set == 0 || set == -kENODEV, "SET_MODE: 0 or -ENODEV");
        expect(get == -kENODEV || (set == 0 && get == 3), "GET_MODE: the mode set, or -ENODEV");
        g_mode_results.insert(get);
        vfs_close(o.file);
      }
      finish();
    });
    w.spawn("data", [finish] {
      OpenResult o = vfs_open("mfd0-data");
      if (o.file != nullptr) {
        long n = vfs_write(o.file, 2);
        expect(n == 2 || n == -kENODEV, "write: 2 or -ENODEV");
        vfs_close(o.file);
      }
      finish();
    });
    w.spawn("events", [finish] {
      OpenResult o = vfs_open("mfd0-events");
      if (o.file != nullptr) {
        long r = vfs_ioctl(o.file, cmd("WAIT_EVENT"), 0);
        expect(r == 0 || r == -kENODEV, "WAIT_EVENT: an event or -ENODEV");
        g_wait_results.insert(r);
        vfs_close(o.file);
      }
      finish();
    });
    w.spawn("hub", [finish] {
      usb_unplug("1-1");
      finish();
    });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(hotplug_with_three_nodes_in_use_is_clean_in_every_schedule) {
  g_mode_results.clear();
  g_wait_results.clear();
  sim::ExploreResult r = sim::explore(hotplug_model, drivers::test::exhaustive(1));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 100u);
  BOOST_TEST(r.failing_executions == 0u, drivers::test::first_failure(r));
  BOOST_TEST(g_mode_results.count(3) == 1u);
  BOOST_TEST(g_mode_results.count(-kENODEV) == 1u);
  BOOST_TEST(g_wait_results.count(0) == 1u);
  BOOST_TEST(g_wait_results.count(-kENODEV) == 1u);
  BOOST_TEST_MESSAGE("mfd_multi hotplug: " << r.executions << " executions in " << r.seconds << " s");
}
