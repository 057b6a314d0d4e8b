// R11: a device pointer stored without a reference. The buggy driver's open file logs through a bare Device*
// after unplug freed the device (use-after-free of the device); the fixed driver's ARef<Device> keeps it alive
// until the driver state goes, clean in every schedule, with -ENODEV after unplug.
#define BOOST_TEST_MODULE drivers_r11
#include <boost/test/unit_test.hpp>

#include "bus/errno.hpp"
#include "tests/drivers/race_support_b.hpp"

using namespace devsim;
using namespace devsim::drivers::test;
using bus::test::expect;

namespace {

constexpr unsigned kGetName = 0x5401;

struct Outcomes {
  int named = 0;
  int gone = 0;
};
Outcomes g_outcomes;

sim::Model open_ioctl_vs_unplug(const std::string& driver) {
  return scenario(driver, {
                              {"app",
                               [] {
                                 with_open("devptr0", [](bus::File* f) {
                                   long r = bus::vfs_ioctl(f, kGetName, 0);
                                   expect(r == 3 || r == -bus::kENODEV, "GET_NAME: strlen(\"1-1\") or -ENODEV");
                                   (r == 3 ? g_outcomes.named : g_outcomes.gone) += 1;
                                 });
                               }},
                              {"hub", unplug_task},
                          });
}

}  // namespace

BOOST_AUTO_TEST_CASE(both_variants_are_registered) {
  const drivers::DriverInfo* buggy = drivers::find_driver("r11_device_pointer_buggy");
  const drivers::DriverInfo* fixed = drivers::find_driver("r11_device_pointer_fixed");
  BOOST_TEST_REQUIRE(buggy != nullptr);
  BOOST_TEST_REQUIRE(fixed != nullptr);
  BOOST_TEST(buggy->race == "R11");
  BOOST_TEST(buggy->buggy);
  BOOST_TEST(buggy->bug_kind == "use-after-free");
  BOOST_TEST(!fixed->buggy);
  BOOST_TEST(fixed->node == "devptr0");
}

BOOST_AUTO_TEST_CASE(buggy_bare_device_pointer_is_used_after_the_device_is_freed) {
  sim::ExploreResult r = sim::explore(open_ioctl_vs_unplug("r11_device_pointer_buggy"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  const sim::Report* in_ioctl = find_failure(r, "use-after-free", "use-after-free in r11_ioctl");
  BOOST_TEST_REQUIRE(in_ioctl != nullptr, all_headlines(r));
  BOOST_TEST(in_ioctl->access->type.find("Device") != std::string::npos, in_ioctl->access->type);
  BOOST_TEST(in_ioctl->freed_by->task.starts_with("hub/"));  // the hub's put was the device's last
  BOOST_TEST(find_failure(r, "use-after-free", "use-after-free in r11_release") != nullptr, all_headlines(r));
  for (const sim::Failure& f : r.failures)
    BOOST_TEST(f.report.kind == "use-after-free", sim::render_text(f.report));
  BOOST_TEST(r.failing_executions < r.executions);  // closed before the unplug: fine
}

BOOST_AUTO_TEST_CASE(fixed_aref_keeps_the_device_alive_in_every_schedule) {
  g_outcomes = Outcomes{};
  sim::ExploreResult r = sim::explore(open_ioctl_vs_unplug("r11_device_pointer_fixed"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  BOOST_TEST(r.executions > 10u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));  // no use-after-free, and no leak of the device
  BOOST_TEST(g_outcomes.named > 0);
  BOOST_TEST(g_outcomes.gone > 0);
}
