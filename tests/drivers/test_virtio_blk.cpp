// virtio_blk: requests go through the queue, the device (a work item) performs them and the IRQ handler completes
// them; on removal every pending request is cancelled with -EIO and the calls in flight are drained before the
// data can go (Pinchart's protocol), in every schedule; calls after removal return -ENODEV.
#define BOOST_TEST_MODULE drivers_virtio_blk
#include <boost/test/unit_test.hpp>

#include <set>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "bus/irq.hpp"
#include "bus/mmio.hpp"
#include "bus/platform.hpp"
#include "tests/drivers/realistic_support.hpp"

using namespace devsim;
using namespace devsim::bus;
using drivers::test::expect;
using drivers::test::Finish;

namespace {

// The register map as the hardware sees it (virtio_blk.cpp).
constexpr std::size_t kStatus = 0x00 / 4, kIntAck = 0x0c / 4, kBytesRead = 0x10 / 4, kBytesWritten = 0x14 / 4,
                      kMedia = 0x20 / 4;
constexpr std::uint32_t kDriverOk = 4;
constexpr unsigned kIrq = 33;

unsigned cmd(const char* name) {
  return drivers::test::ioctl_cmd("virtio_blk", name);
}

Device* plug() {
  drivers::load_driver(drivers::test::driver("virtio_blk"));
  return platform_device_register("virtio_blk");
}

const sim::Allocation& state() {
  auto all = drivers::test::allocations_of("::VirtioBlk");
  expect(all.size() == 1, "one VirtioBlk state per probe");
  return *all.at(0);
}

bool all_requests_freed() {
  for (const sim::Allocation* a : drivers::test::allocations_of("::Request"))
    if (!a->freed) return false;
  return true;
}

}  // namespace

BOOST_AUTO_TEST_CASE(registry_entry_describes_the_driver) {
  const drivers::DriverInfo& info = drivers::test::driver("virtio_blk");
  BOOST_TEST(info.bus == "platform");
  BOOST_TEST(info.race == "");
  BOOST_TEST(!info.buggy);
  BOOST_TEST(info.node == "vda");
  BOOST_TEST(info.ioctls.size() == 3u);
}

BOOST_AUTO_TEST_CASE(happy_path_requests_are_performed_and_completed) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("app", [] {
      Device* dev = plug();
      expect(dev != nullptr && dev->bound(), "probed");
      MmioRegion& hw = *dev->mmio();
      expect(hw.reg(kStatus) == kDriverOk, "DRIVER_OK");
      OpenResult o = vfs_open("vda");
      expect(o.file != nullptr, "opened");

      expect(vfs_ioctl(o.file, cmd("SUBMIT"), 2 | (5 << 3)) == 0, "write 5 to sector 2: completed");
      expect(hw.reg(kMedia + 2) == 5u, "the media holds it");
      expect(vfs_ioctl(o.file, cmd("READ_SECTOR"), 2) == 5, "and reads it back");
      hw.reg(kMedia + 7) = 6;
      expect(vfs_ioctl(o.file, cmd("READ_SECTOR"), 7) == 6, "reads what the media holds");
      expect(vfs_write(o.file, 512) == 512, "write(512)");
      expect(vfs_read(o.file, 100) == 100, "read(100)");
      expect(hw.reg(kBytesWritten) == 512u && hw.reg(kBytesRead) == 100u, "the device counted the bytes");
      expect(hw.reg(kIntAck) == 1u, "the handler acknowledged the used-ring interrupt");
      expect(vfs_ioctl(o.file, cmd("GET_INFLIGHT"), 0) == 0, "nothing left in flight");
      expect(vfs_ioctl(o.file, cmd("SUBMIT"), 64) == -kEINVAL, "8 sectors, values 0..7");
      expect(vfs_ioctl(o.file, 99, 0) == -kENOTTY, "unknown ioctl");
      expect(irq_handled(kIrq) >= 4u, "completions came from the IRQ handler");

      vfs_close(o.file);
      platform_device_unregister(dev);
      expect(state().freed, "unbound and closed: the state is gone");
      expect(all_requests_freed(), "every request freed");
    });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
}

BOOST_AUTO_TEST_CASE(after_unplug_calls_fail_with_enodev_and_release_still_runs) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("app", [] {
      Device* dev = plug();
      OpenResult o = vfs_open("vda");
      expect(vfs_ioctl(o.file, cmd("SUBMIT"), 1 | (1 << 3)) == 0, "works while bound");
      platform_device_unregister(dev);
      expect(vfs_open("vda").error == -kENOENT, "the node is gone");
      expect(vfs_ioctl(o.file, cmd("SUBMIT"), 1) == -kENODEV, "SUBMIT: -ENODEV");
      expect(vfs_ioctl(o.file, cmd("READ_SECTOR"), 1) == -kENODEV, "READ_SECTOR: -ENODEV");
      expect(vfs_ioctl(o.file, cmd("GET_INFLIGHT"), 0) == -kENODEV, "GET_INFLIGHT: -ENODEV");
      expect(vfs_read(o.file, 8) == -kENODEV && vfs_write(o.file, 8) == -kENODEV, "read/write: -ENODEV");
      expect(vfs_poll(o.file) == (kPollHup | kPollErr), "poll: HUP|ERR");
      expect(!state().freed, "the open file keeps the state");
      vfs_close(o.file);
      expect(state().freed, "release dropped the last reference");
    });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
}

namespace {

// A hung device: it stops processing after probe, so a request sleeps until remove() cancels it.
std::set<long> g_stalled_results;

void stalled_model(sim::World& w) {
  w.spawn("setup", [](sim::World& w) {
    Device* dev = plug();
    dev->mmio()->reg(kStatus) = 0;  // the device resets itself: it will never complete anything
    for (const char* name : {"app0", "app1"}) {
      w.spawn(name, [] {
        OpenResult o = vfs_open("vda");
        if (o.file == nullptr) return;
        long r = vfs_ioctl(o.file, cmd("SUBMIT"), 3 | (2 << 3));
        expect(r == -kEIO || r == -kENODEV, "a request the device never did: -EIO, or refused: -ENODEV");
        g_stalled_results.insert(r);
        vfs_close(o.file);
      });
    }
    w.spawn("hub", [dev] { platform_device_unregister(dev); });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(remove_cancels_pending_requests_with_eio_and_drains_in_every_schedule) {
  g_stalled_results.clear();
  sim::ExploreResult r = sim::explore(stalled_model, drivers::test::exhaustive(1));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, drivers::test::first_failure(r));  // no hang, no UAF, no leak
  BOOST_TEST(g_stalled_results.count(-kEIO) == 1u);                         // a sleeping request was cancelled
  BOOST_TEST(g_stalled_results.count(-kENODEV) == 1u);                      // a late one was refused
  BOOST_TEST_MESSAGE("virtio_blk stalled: " << r.executions << " executions in " << r.seconds << " s");
}

namespace {

// Requests race the unplug: a user writes a sector, reads it back and streams a write; the hub unplugs.
Finish g_finish;
std::set<long> g_submit_results, g_readback_results;

void hotplug_model(sim::World& w) {
  g_finish.start(2);
  w.spawn("setup", [](sim::World& w) {
    Device* dev = plug();
    auto finish = [] {
      g_finish.done([] {
        expect(state().freed, "unplugged and closed: the state was freed");
        expect(all_requests_freed(), "every request was completed and freed");
      });
    };
    w.spawn("app", [finish] {
      OpenResult o = vfs_open("vda");
      if (o.file != nullptr) {
        long s = vfs_ioctl(o.file, cmd("SUBMIT"), 1 | (3 << 3));
        long r = vfs_ioctl(o.file, cmd("READ_SECTOR"), 1);
        long n = vfs_write(o.file, 8);
        expect(s == 0 || s == -kEIO || s == -kENODEV, "SUBMIT: 0, -EIO or -ENODEV");
        expect(r == -kEIO || r == -kENODEV || (s == 0 && r == 3), "READ_SECTOR: what was written, -EIO or -ENODEV");
        expect(n == 8 || n == -kEIO || n == -kENODEV, "write: 8, -EIO or -ENODEV");
        g_submit_results.insert(s);
        g_readback_results.insert(r);
        vfs_close(o.file);
      }
      finish();
    });
    w.spawn("hub", [dev, finish] {
      platform_device_unregister(dev);
      finish();
    });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(hotplug_with_requests_in_flight_is_clean_in_every_schedule) {
  g_submit_results.clear();
  g_readback_results.clear();
  sim::ExploreResult r = sim::explore(hotplug_model, drivers::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 100u);
  BOOST_TEST(r.failing_executions == 0u, drivers::test::first_failure(r));
  BOOST_TEST(g_submit_results.count(0) == 1u);
  BOOST_TEST(g_submit_results.count(-kENODEV) == 1u);
  BOOST_TEST(g_readback_results.count(3) == 1u);
  BOOST_TEST(g_readback_results.count(-kENODEV) == 1u);
  BOOST_TEST_MESSAGE("virtio_blk hotplug: " << r.executions << " executions in " << r.seconds << " s");
}
