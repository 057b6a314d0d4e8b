// pl061_gpio: the Rust-way GPIO controller works (registers written and read back, edges delivered from the IRQ
// handler to WAIT_EVENT, timeouts) and survives hot-unplug in every schedule: calls after removal return -ENODEV,
// a sleeping waiter is woken with -ENODEV, release always runs and the state is freed once, by the last holder.
#define BOOST_TEST_MODULE drivers_pl061_gpio
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

// The register map as the hardware sees it (pl061_gpio.cpp packs the PL061 into 16 registers).
constexpr std::size_t kData = 0x00 / 4, kDir = 0x04 / 4, kIe = 0x14 / 4, kRis = 0x18 / 4, kMis = 0x1c / 4;
constexpr unsigned kIrq = 32;

unsigned cmd(const char* name) {
  return drivers::test::ioctl_cmd("pl061_gpio", name);
}

// The hardware: an edge on `line` latches its raw status, masked by the enable register, and raises the line.
void edge(MmioRegion& hw, unsigned line) {
  hw.reg(kRis) |= 1u << line;
  hw.reg(kMis) = hw.reg(kRis) & hw.reg(kIe);
  raise_irq(kIrq);
}

Device* plug() {
  drivers::load_driver(drivers::test::driver("pl061_gpio"));
  return platform_device_register("pl061_gpio");
}

// The driver's state, found by type in simulated memory.
const sim::Allocation& state() {
  auto all = drivers::test::allocations_of("::Pl061");
  expect(all.size() == 1, "one Pl061 state per probe");
  return *all.at(0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(registry_entry_describes_the_driver) {
  const drivers::DriverInfo& info = drivers::test::driver("pl061_gpio");
  BOOST_TEST(info.bus == "platform");
  BOOST_TEST(info.race == "");
  BOOST_TEST(!info.buggy);
  BOOST_TEST(info.node == "gpiochip0");
  BOOST_TEST(info.ioctls.size() == 5u);
  BOOST_TEST(cmd("WAIT_EVENT") != cmd("GET_VALUE"));
}

BOOST_AUTO_TEST_CASE(happy_path_registers_values_and_edges) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("app", [] {
      Device* dev = plug();
      expect(dev != nullptr && dev->bound(), "probed");
      MmioRegion& hw = *dev->mmio();
      expect(hw.reg(kIe) == 0xffu, "probe enabled edge interrupts on every line");
      OpenResult o = vfs_open("gpiochip0");
      expect(o.file != nullptr, "opened");

      // Outputs: direction and level land in the registers and read back.
      expect(vfs_ioctl(o.file, cmd("SET_DIRECTION"), 3 | 8) == 0, "line 3 output");
      expect(vfs_ioctl(o.file, cmd("SET_VALUE"), 3 | 8) == 0, "line 3 high");
      expect(hw.reg(kDir) == 0x08u && hw.reg(kData) == 0x08u, "GPIODIR and GPIODATA hold bit 3");
      expect(vfs_ioctl(o.file, cmd("GET_VALUE"), 3) == 1, "line 3 reads back high");
      expect(vfs_ioctl(o.file, cmd("GET_LINEINFO"), 3) == (1 | 2), "line 3: output, irq enabled");
      expect(vfs_ioctl(o.file, cmd("SET_VALUE"), 3) == 0 && hw.reg(kData) == 0u, "line 3 low");
      // Inputs: the pad's level is read; driving one is refused.
      hw.reg(kData) |= 1u << 5;
      expect(vfs_ioctl(o.file, cmd("GET_VALUE"), 5) == 1, "line 5 (input) reads the pad");
      expect(vfs_ioctl(o.file, cmd("SET_VALUE"), 5 | 8) == -kEPERM, "an input cannot be driven");
      expect(vfs_ioctl(o.file, cmd("GET_VALUE"), 8) == -kEINVAL, "8 lines");
      expect(vfs_ioctl(o.file, 99, 0) == -kENOTTY, "unknown ioctl");

      // An edge on line 1: the IRQ handler reads the status through the revocable mapping, acknowledges it and
      // wakes the waiter (or latches it for a waiter still to come).
      edge(hw, 1);
      expect(vfs_ioctl(o.file, cmd("WAIT_EVENT"), 1) == 0, "the edge is delivered");
      expect(hw.reg(0x20 / 4) == 0x02u, "acknowledged in GPIOIC");
      expect(irq_handled(kIrq) == 1u, "one interrupt handled");
      // No edge on line 2: WAIT_EVENT gives up after its timeout (virtual time, nothing else to run).
      expect(vfs_ioctl(o.file, cmd("WAIT_EVENT"), 2) == -kEAGAIN, "timeout");

      vfs_close(o.file);
      expect(!state().freed, "the driver still holds the state while bound");
      platform_device_unregister(dev);
      expect(state().freed, "unbound and closed: the state is gone");
    });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));  // no leak either
}

BOOST_AUTO_TEST_CASE(after_unplug_calls_fail_with_enodev_and_release_frees_the_state) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("app", [] {
      Device* dev = plug();
      OpenResult o = vfs_open("gpiochip0");
      expect(vfs_ioctl(o.file, cmd("SET_DIRECTION"), 0 | 8) == 0, "works while bound");
      MmioRegion& hw = *dev->mmio();
      platform_device_unregister(dev);
      expect(vfs_open("gpiochip0").error == -kENOENT, "the node is gone");
      for (const char* name : {"GET_LINEINFO", "SET_DIRECTION", "GET_VALUE", "SET_VALUE", "WAIT_EVENT"})
        expect(vfs_ioctl(o.file, cmd(name), 0) == -kENODEV, std::string(name) + " after unplug: -ENODEV");
      std::uint64_t touched = hw.accesses_after_removal();
      edge(hw, 0);  // a stray interrupt after removal finds no handler
      expect(!state().freed, "the open file keeps the state");
      vfs_close(o.file);  // release() runs, long after remove()
      expect(state().freed, "the last close freed it");
      expect(hw.accesses_after_removal() == touched, "no register access after the mapping was revoked");
    });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
}

namespace {

// One schedule of the hotplug model: a user drives line 3, a second one waits for an edge on line 0 while the
// hardware produces one, and the hub unplugs the controller. Results are recorded across schedules.
Finish g_finish;
std::set<long> g_app_results, g_waiter_results;

void hotplug_model(sim::World& w) {
  g_finish.start(4);
  w.spawn("setup", [](sim::World& w) {
    Device* dev = plug();
    MmioRegion* hw = dev->mmio();  // LIFETIME: register windows belong to the machine (the world)
    auto finish = [] {
      g_finish.done([] { expect(state().freed, "unplugged and every file closed: the state was freed"); });
    };
    w.spawn("app", [finish] {
      OpenResult o = vfs_open("gpiochip0");
      if (o.file != nullptr) {
        long dir = vfs_ioctl(o.file, cmd("SET_DIRECTION"), 3 | 8);
        long set = vfs_ioctl(o.file, cmd("SET_VALUE"), 3 | 8);
        long get = vfs_ioctl(o.file, cmd("GET_VALUE"), 3);
        expect(dir == 0 || dir == -kENODEV, "SET_DIRECTION: 0 or -ENODEV");
        expect(set == 0 || set == -kENODEV, "SET_VALUE: 0 or -ENODEV");
        // Read back what was written, unless the device went away in between.
        expect(get == -kENODEV || (set == 0 && get == 1), "GET_VALUE: the written level or -ENODEV");
        g_app_results.insert(get);
        vfs_close(o.file);
      } else {
        expect(o.error == -kENOENT || o.error == -kENODEV, "open after unplug: -ENOENT or -ENODEV");
      }
      finish();
    });
    w.spawn("waiter", [finish] {
      OpenResult o = vfs_open("gpiochip0");
      if (o.file != nullptr) {
        long r = vfs_ioctl(o.file, cmd("WAIT_EVENT"), 0);
        expect(r == 0 || r == -kENODEV, "WAIT_EVENT: the edge or -ENODEV, never a timeout while the hub runs");
        g_waiter_results.insert(r);
        vfs_close(o.file);
      }
      finish();
    });
    w.spawn("hardware", [hw, finish] {
      edge(*hw, 0);
      finish();
    });
    w.spawn("hub", [dev, finish] {
      platform_device_unregister(dev);
      finish();
    });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(hotplug_is_clean_in_every_schedule) {
  g_app_results.clear();
  g_waiter_results.clear();
  sim::ExploreResult r = sim::explore(hotplug_model, drivers::test::exhaustive(1));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 100u);
  BOOST_TEST(r.failing_executions == 0u, drivers::test::first_failure(r));
  // Both outcomes of each race were reached.
  BOOST_TEST(g_app_results.count(1) == 1u);
  BOOST_TEST(g_app_results.count(-kENODEV) == 1u);
  BOOST_TEST(g_waiter_results.count(0) == 1u);
  BOOST_TEST(g_waiter_results.count(-kENODEV) == 1u);
  BOOST_TEST_MESSAGE("pl061 hotplug: " << r.executions << " executions in " << r.seconds << " s");
}

namespace {
bool g_hub_started = false;
int g_woken = 0;

// No edge ever comes: a WAIT_EVENT that started before the unplug can only end by removal.
void waiter_model(sim::World& w) {
  g_hub_started = false;
  w.spawn("setup", [](sim::World& w) {
    Device* dev = plug();
    w.spawn("waiter", [] {
      OpenResult o = vfs_open("gpiochip0");
      if (o.file == nullptr) return;
      bool before_unplug = !g_hub_started;
      long r = vfs_ioctl(o.file, cmd("WAIT_EVENT"), 4);
      expect(r == -kENODEV, "WAIT_EVENT ends with -ENODEV");
      if (before_unplug) ++g_woken;
      vfs_close(o.file);
    });
    w.spawn("hub", [dev] {
      g_hub_started = true;
      platform_device_unregister(dev);
    });
  });
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_sleeping_waiter_is_woken_with_enodev_in_every_schedule) {
  g_woken = 0;
  sim::ExploreResult r = sim::explore(waiter_model, drivers::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, drivers::test::first_failure(r));
  BOOST_TEST(g_woken > 0);  // some schedules put the waiter to sleep before the unplug, and removal woke it
}
