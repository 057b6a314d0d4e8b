// R9: Rcu<P>::replace while a reader (an ioctl) holds a borrow. The buggy driver frees the old configuration
// without a grace period (use-after-free in the reader); the fixed one frees it through RcuOld after the grace
// period, clean in every schedule.
#define BOOST_TEST_MODULE drivers_r09
#include <boost/test/unit_test.hpp>

#include "bus/errno.hpp"
#include "tests/drivers/race_support_b.hpp"

using namespace devsim;
using namespace devsim::drivers::test;
using bus::test::expect;

namespace {

constexpr unsigned kGetConfig = 0x5201;
constexpr unsigned kSetConfig = 0x5202;

struct Seen {
  int old_value = 0;
  int new_value = 0;
};
Seen g_seen;

// A reader and a writer on the same node while the hub unplugs the device.
sim::Model reader_vs_writer(const std::string& driver) {
  return scenario(driver, {
                              {"reader",
                               [] {
                                 with_open("rcucfg0", [](bus::File* f) {
                                   long r = bus::vfs_ioctl(f, kGetConfig, 0);
                                   expect(r == 10 || r == 20 || r == -bus::kENODEV, "GET_CONFIG: a config or -ENODEV");
                                   (r == 10 ? g_seen.old_value : g_seen.new_value) += r == 10 || r == 20;
                                 });
                               }},
                              {"writer",
                               [] {
                                 with_open("rcucfg0", [](bus::File* f) {
                                   long r = bus::vfs_ioctl(f, kSetConfig, 20);
                                   expect(r == 0 || r == -bus::kENODEV, "SET_CONFIG: 0 or -ENODEV");
                                 });
                               }},
                              {"hub", unplug_task},
                          });
}

}  // namespace

BOOST_AUTO_TEST_CASE(both_variants_are_registered) {
  for (const char* name : {"r09_rcu_config_buggy", "r09_rcu_config_fixed"}) {
    const drivers::DriverInfo* info = drivers::find_driver(name);
    BOOST_TEST_REQUIRE(info != nullptr);
    BOOST_TEST(info->race == "R9");
    BOOST_TEST(info->node == "rcucfg0");
  }
  BOOST_TEST(drivers::find_driver("r09_rcu_config_buggy")->buggy);
  BOOST_TEST(drivers::find_driver("r09_rcu_config_buggy")->bug_kind == "use-after-free");
  BOOST_TEST(!drivers::find_driver("r09_rcu_config_fixed")->buggy);
}

BOOST_AUTO_TEST_CASE(buggy_replace_frees_under_a_reader) {
  sim::ExploreResult r = sim::explore(reader_vs_writer("r09_rcu_config_buggy"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  const sim::Report* uaf = find_failure(r, "use-after-free", "use-after-free in r09_get_config");
  BOOST_TEST_REQUIRE(uaf != nullptr, all_headlines(r));
  BOOST_TEST(uaf->accessed_by->task.starts_with("reader/"));
  BOOST_TEST(uaf->freed_by->task.starts_with("writer/"));
  BOOST_TEST(r.failing_executions < r.executions);  // a race: most schedules are fine
  for (const sim::Failure& f : r.failures)
    BOOST_TEST(f.report.kind == "use-after-free", sim::render_text(f.report));
}

BOOST_AUTO_TEST_CASE(fixed_replace_waits_for_the_grace_period_in_every_schedule) {
  g_seen = Seen{};
  sim::ExploreResult r = sim::explore(reader_vs_writer("r09_rcu_config_fixed"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  BOOST_TEST(r.executions > 10u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
  // Both sides of the race were explored: readers saw the old and the new configuration.
  BOOST_TEST(g_seen.old_value > 0);
  BOOST_TEST(g_seen.new_value > 0);
}
