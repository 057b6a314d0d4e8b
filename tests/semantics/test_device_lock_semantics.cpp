// The device lock is not validated by lockdep (issue 11, item 5): drivers/base/core.c device_initialize() does
// mutex_init(&dev->mutex) and then lockdep_set_novalidate_class(&dev->mutex); kernel/locking/lockdep.c acquires a
// lock of the __lockdep_no_validate__ class with check = 0, so it is held but never validated, and no dependency
// starts or ends at it. An MFD/auxiliary-style parent that adds or removes child devices in probe()/remove()
// takes a child's device lock under its own: not a lockdep report. A real self-deadlock on the device lock is
// still a hang, which the simulator's deadlock detector reports.
// Every test explores every schedule within 2 preemptions (sim::explore, StrategyKind::Exhaustive), except the
// single-task lockdep check, which has one schedule.
#define BOOST_TEST_MODULE semantics_device_lock
#include <boost/test/unit_test.hpp>

#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "core/lockdep.hpp"
#include "tests/bus/bus_test_support.hpp"

using namespace devsim;
using namespace devsim::bus;
using bus::test::expect;

namespace {

std::string first_failure(const sim::ExploreResult& r) {
  return r.failures.empty() ? std::string() : sim::render_text(r.failures.front().report);
}

bool g_child_locks_parent = false;  // the broken child: its probe takes the parent's device lock

int mfd_probe(CoreContext& ctx) {
  // The parent's device lock is held here (the driver core's really_probe); adding a cell binds it, which takes
  // the cell's device lock: device_lock nests inside device_lock.
  Device* cell = Device::create("mfd-cell", &platform_bus(), &ctx.device());
  device_add(cell);
  ctx->set_drvdata(cell);
  return 0;
}

void mfd_remove(CoreContext& ctx) {
  // The parent's device lock is held; unregistering the cell unbinds it under its own device lock.
  device_unregister(static_cast<Device*>(ctx->drvdata()));
}

int cell_probe(CoreContext& ctx) {
  expect(ctx->lock().held_by_current(), "probe runs under the device lock");
  if (g_child_locks_parent) {
    // A real self-deadlock: this task already holds the parent's lock (it is probing the parent).
    core::MutexGuard guard = ctx->parent()->lock().guard();
  }
  return 0;
}

void mfd_model(sim::World& w) {
  w.spawn("setup", [](sim::World& w) {
    platform_driver_register(DriverOps{"mfd-cell", "platform", {}, cell_probe, {}});
    platform_driver_register(DriverOps{"mfd", "platform", {}, mfd_probe, mfd_remove});
    Device* dev = platform_device_register("mfd");
    w.spawn("hub", [dev] { platform_device_unregister(dev); });
    w.spawn("sysfs", [] {
      // Rebinding through sysfs takes the device lock from another task, concurrently.
      kernel().sysfs().write("/sys/bus/platform/drivers/mfd/unbind", "mfd");
      kernel().sysfs().write("/sys/bus/platform/drivers/mfd/bind", "mfd");
    });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_parent_adding_and_removing_children_under_its_device_lock_is_clean) {
  g_child_locks_parent = false;
  sim::ExploreResult r = sim::explore(mfd_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 10u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
}

BOOST_AUTO_TEST_CASE(a_real_device_lock_self_deadlock_is_still_found) {
  g_child_locks_parent = true;
  sim::ExploreResult r = sim::explore(mfd_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(bus::test::found_kind(r, "deadlock"), first_failure(r));
  BOOST_TEST(!bus::test::found_kind(r, "recursive-locking"));
}

BOOST_AUTO_TEST_CASE(lockdep_records_no_order_through_a_novalidate_lock_and_still_sees_it_held) {
  // One task, so one schedule: run_once is the whole exploration.
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [](sim::World& w) {
      static core::Mutex outer("semantics_outer");
      core::Mutex dev_lock("semantics_device_lock");
      dev_lock.set_novalidate_class();
      core::Mutex inner("semantics_inner");
      {
        core::MutexGuard a = outer.guard();
        core::MutexGuard b = dev_lock.guard();
        expect(dev_lock.held_by_current(), "held");
        core::MutexGuard c = inner.guard();
      }
      // outer -> inner is recorded (the novalidate lock in between is transparent), nothing through dev_lock.
      expect(core::lockdep::depends(w, outer.lock_class(), inner.lock_class()), "outer -> inner recorded");
      expect(!core::lockdep::depends(w, outer.lock_class(), dev_lock.lock_class()), "no order into dev_lock");
      expect(!core::lockdep::depends(w, dev_lock.lock_class(), inner.lock_class()), "no order out of dev_lock");
      // The reverse order through it is no inversion either.
      core::MutexGuard b = dev_lock.guard();
      core::MutexGuard a = outer.guard();
    });
  });
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
}
