// device_lock (linux/device.h): a device's mutex (drivers/base/core.c device_initialize: mutex_init(&dev->mutex))
// serialises what runs under it. tests/c/device_lock_cases.c is kernel C on a class device.
#define BOOST_TEST_MODULE c_device_lock
#include <boost/test/unit_test.hpp>

#include <string_view>

#include "sim/explorer.hpp"
#include "sim/report.hpp"
#include "sim/world.hpp"
#include "tests/c/case_run.hpp"
#include "tests/sim/test_models.hpp"

extern "C" {
struct counted;
struct counted *device_lock_case_new(void);
void device_lock_case_bump(struct counted *c, int locked);
int device_lock_case_count(struct counted *c);
void device_case_print_through_null(void);
}

namespace sim = devsim::sim;
namespace test = devsim::test;
using test::any_report;
using test::run_in_task;

namespace {

// Two tasks bump the count, with or without the device's lock.
sim::ExploreResult two_bumps(bool locked) {
  const sim::Model model = [locked](sim::World &w) {
    w.spawn("setup", [&w, locked] {
      // LIFETIME: simulated memory the tasks share; the world outlives them.
      struct counted *c = device_lock_case_new();
      w.spawn("a", [c, locked] { device_lock_case_bump(c, locked ? 1 : 0); });
      w.spawn("b", [c, locked] { device_lock_case_bump(c, locked ? 1 : 0); });
    });
  };
  return test::explore_every_schedule(model);
}

}  // namespace

BOOST_AUTO_TEST_CASE(device_lock_serialises_and_its_absence_is_a_data_race) {
  const sim::ExploreResult locked = two_bumps(true);
  BOOST_TEST(locked.exhausted);
  BOOST_TEST(locked.executions > 1u);
  BOOST_TEST(locked.failing_executions == 0u);

  const sim::ExploreResult unlocked = two_bumps(false);
  BOOST_TEST(any_report(unlocked, sim::bug::kDataRace));
}

BOOST_AUTO_TEST_CASE(device_trylock_takes_a_free_lock) {
  int count = -2;
  sim::WorldOptions options;
  options.detect_leaks = false;  // the class device is the test's
  sim::Execution e = sim::run_once(
      [&](sim::World &w) {
        w.spawn("driver", [&] {
          struct counted *c = device_lock_case_new();
          device_lock_case_bump(c, 1);
          count = device_lock_case_count(c);
        });
      },
      options);
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(count == 1);
}

// A driver's dev_err on a member of a NULL pointer faults in dev_printk (drivers/base/core.c reads the device's
// name): the report names the kernel's function, not the C ABI's entry point that stands for it.
BOOST_AUTO_TEST_CASE(a_fault_in_dev_printk_is_named_for_the_kernel_function) {
  sim::Execution e = sim::run_once([](sim::World &w) { w.spawn("driver", [] { device_case_print_through_null(); }); });
  BOOST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "null-ptr-deref");
  BOOST_TEST(e.reports[0].headline == "null-ptr-deref in dev_printk");
}
