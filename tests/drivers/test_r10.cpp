// R10: the last reference dropped while open() takes one through the driver's lookup table. The buggy driver's
// kref_get() is reported as "refcount_t: addition on 0; use-after-free."; the fixed one's
// kref_get_unless_zero() under the table lock is clean in every schedule, and open() then fails with -ENODEV.
#define BOOST_TEST_MODULE drivers_r10
#include <boost/test/unit_test.hpp>

#include "bus/errno.hpp"
#include "tests/drivers/race_support_b.hpp"

using namespace devsim;
using namespace devsim::drivers::test;
using bus::test::expect;

namespace {

constexpr unsigned kGetStatus = 0x5301;

struct Outcomes {
  int opened = 0;
  int refused = 0;  // -ENODEV from the lookup, or -ENOENT once the node is gone
};
Outcomes g_outcomes;

sim::Model open_vs_unplug(const std::string& driver) {
  return scenario(driver,
                  {
                      {"app",
                       [] {
                         int error = with_open("tbldev0", [](bus::File* f) {
                           long r = bus::vfs_ioctl(f, kGetStatus, 0);
                           expect(r == 1 || r == -bus::kENODEV, "GET_STATUS: 1 or -ENODEV");
                         });
                         expect(error == 0 || error == -bus::kENODEV || error == -bus::kENOENT || error == -bus::kENXIO,
                                "open: a file, or the device is gone");
                         (error == 0 ? g_outcomes.opened : g_outcomes.refused) += 1;
                       }},
                      {"hub", unplug_task},
                  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(both_variants_are_registered) {
  const drivers::DriverInfo* buggy = drivers::find_driver("r10_lookup_table_buggy");
  const drivers::DriverInfo* fixed = drivers::find_driver("r10_lookup_table_fixed");
  BOOST_TEST_REQUIRE(buggy != nullptr);
  BOOST_TEST_REQUIRE(fixed != nullptr);
  BOOST_TEST(buggy->race == "R10");
  BOOST_TEST(buggy->buggy);
  BOOST_TEST(buggy->bug_kind == "refcount-warning");
  BOOST_TEST(!fixed->buggy);
  BOOST_TEST(fixed->node == "tbldev0");
}

BOOST_AUTO_TEST_CASE(buggy_kref_get_through_the_table_is_an_addition_on_zero) {
  sim::ExploreResult r = sim::explore(open_vs_unplug("r10_lookup_table_buggy"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  const sim::Report* warning = find_failure(r, "refcount-warning", "refcount_t: addition on 0; use-after-free.");
  BOOST_TEST_REQUIRE(warning != nullptr, all_headlines(r));
  BOOST_TEST(warning->fatal);
  BOOST_TEST(warning->accessed_by->task.starts_with("app/"));
  BOOST_TEST(r.failing_executions < r.executions);  // a race: most schedules are fine
}

BOOST_AUTO_TEST_CASE(fixed_get_unless_zero_is_clean_in_every_schedule) {
  g_outcomes = Outcomes{};
  sim::ExploreResult r = sim::explore(open_vs_unplug("r10_lookup_table_fixed"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  BOOST_TEST(r.executions > 10u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
  // Both sides of the race were explored: the open won in some schedules and found the device gone in others.
  BOOST_TEST(g_outcomes.opened > 0);
  BOOST_TEST(g_outcomes.refused > 0);
}
