// R6: PL061 the Rust way (Wedson, 002): Arc state, revocable MMIO reached by the ioctl and the IRQ handler.
// revoke_nosync() frees the registers under a reader in flight (use-after-free); revoke() waits for the readers,
// after which try_access() is empty: -ENODEV from the ioctl, IRQ_NONE from the handler.
#define BOOST_TEST_MODULE drivers_r06
#include <boost/test/unit_test.hpp>

#include "bus/cdev.hpp"
#include "bus/irq.hpp"
#include "bus/platform.hpp"
#include "tests/drivers/race_support_a.hpp"

using namespace devsim;
using namespace devsim::drivers::test;

namespace {

constexpr unsigned kIrq = 7;
constexpr unsigned kGetLineValue = 1;

bool g_unplugged = false;

// The app reads a line through /dev/gpiochip0, the hardware raises the interrupt, and the device is unregistered.
sim::Model pl061(const char* driver, bool with_irq) {
  return [driver, with_irq](sim::World& w) {
    g_unplugged = false;
    w.spawn("setup", [driver, with_irq](sim::World& w) {
      load(driver);
      bus::Device* dev = bus::platform_device_register(driver);
      w.spawn("app", [] {
        bus::OpenResult o = bus::vfs_open("gpiochip0");
        if (o.file == nullptr) return;
        bool after_unplug = g_unplugged;
        long r = bus::vfs_ioctl(o.file, kGetLineValue, 0);
        // 0 from the registers, 1 from a surprise-removed device (reads all ones), -ENODEV once revoked.
        expect(r == 0 || r == 1 || r == -bus::kENODEV, "line value or -ENODEV");
        if (after_unplug) expect(r == -bus::kENODEV, "revoked: try_access() is empty");
        bus::vfs_close(o.file);
      });
      if (with_irq) w.spawn("hardware", [] { bus::raise_irq(kIrq); });
      w.spawn("hub", [dev] {
        bus::platform_device_unregister(dev);
        g_unplugged = true;
      });
    });
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(buggy_revoke_nosync_is_a_use_after_free_in_the_readers) {
  sim::ExploreResult r = sim::explore(pl061("r06_pl061_buggy", true), exhaustive());
  BOOST_TEST_MESSAGE("r06 buggy: " << r.executions << " executions, " << r.failing_executions << " failing\n"
                                   << headlines(r));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_REQUIRE(found_kind(r, "use-after-free"));
  const sim::Report* in_ioctl = find_headline(r, "use-after-free in r06_pl061_ioctl");
  const sim::Report* in_irq = find_headline(r, "use-after-free in r06_pl061_irq_handler");
  BOOST_TEST_REQUIRE(in_ioctl != nullptr, headlines(r));
  BOOST_TEST_REQUIRE(in_irq != nullptr, headlines(r));
  // Freed by the revoke in remove(), which the hub's unregister ran.
  BOOST_TEST(function_of(in_ioctl->freed_by) == "r06_buggy_remove");
  BOOST_TEST(in_ioctl->freed_by->task.starts_with("hub/"));
  BOOST_TEST(in_irq->accessed_by->task.starts_with("irq/"));
}

BOOST_AUTO_TEST_CASE(fixed_revoke_waits_for_readers_in_every_schedule) {
  require_clean(sim::explore(pl061("r06_pl061_fixed", true), exhaustive()), 10);
}

BOOST_AUTO_TEST_CASE(fixed_after_revoke_ioctl_is_enodev_and_the_irq_is_not_handled) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [](sim::World& w) {
      load("r06_pl061_fixed");
      bus::Device* dev = bus::platform_device_register("r06_pl061_fixed");
      bus::OpenResult o = bus::vfs_open("gpiochip0");
      expect(o.file != nullptr, "opened");
      expect(bus::vfs_ioctl(o.file, kGetLineValue, 0) == 0, "reads the line while bound");
      bus::raise_irq(kIrq);
      w.sleep_for(1000);  // let the handler run
      expect(bus::irq_handled(kIrq) == 1u, "the handler ran while bound");
      bus::platform_device_unregister(dev);
      expect(bus::vfs_ioctl(o.file, kGetLineValue, 0) == -bus::kENODEV, "revoked: -ENODEV");
      bus::raise_irq(kIrq);
      w.sleep_for(1000);
      expect(bus::irq_handled(kIrq) == 1u && bus::irq_spurious(kIrq) == 1u, "freed: a later interrupt is spurious");
      bus::vfs_close(o.file);  // the last Arc: the state goes
    });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty(), describe(e.reports));
}
