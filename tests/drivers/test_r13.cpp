// R13: two cdevs share driver data. The buggy driver frees it when the card node's cdev is released, while the
// render node still has an open file (use-after-free in its ioctl); the fixed driver's ures group frees it at
// the last release of either node, clean in every schedule, with -ENODEV after unplug.
#define BOOST_TEST_MODULE drivers_r13
#include <boost/test/unit_test.hpp>

#include "bus/errno.hpp"
#include "tests/drivers/race_support_b.hpp"

using namespace devsim;
using namespace devsim::drivers::test;
using bus::test::expect;

namespace {

constexpr unsigned kGetInfo = 0x5601;

struct Outcomes {
  int info = 0;
  int gone = 0;
};
Outcomes g_outcomes;

void use_node(const char* node) {
  with_open(node, [](bus::File* f) {
    long r = bus::vfs_ioctl(f, kGetInfo, 0);
    expect(r == 128 || r == -bus::kENODEV, "GET_INFO: 128 or -ENODEV");
    (r == 128 ? g_outcomes.info : g_outcomes.gone) += 1;
  });
}

sim::Model render_and_card_vs_unplug(const std::string& driver) {
  return scenario(driver, {
                              {"render", [] { use_node("gfxrender0"); }},
                              {"card", [] { use_node("gfxcard0"); }},
                              {"hub", unplug_task},
                          });
}

sim::Model render_vs_unplug(const std::string& driver) {
  return scenario(driver, {
                              {"render", [] { use_node("gfxrender0"); }},
                              {"hub", unplug_task},
                          });
}

}  // namespace

BOOST_AUTO_TEST_CASE(both_variants_are_registered) {
  const drivers::DriverInfo* buggy = drivers::find_driver("r13_multi_cdev_buggy");
  const drivers::DriverInfo* fixed = drivers::find_driver("r13_multi_cdev_fixed");
  BOOST_TEST_REQUIRE(buggy != nullptr);
  BOOST_TEST_REQUIRE(fixed != nullptr);
  BOOST_TEST(buggy->race == "R13");
  BOOST_TEST(buggy->buggy);
  BOOST_TEST(buggy->bug_kind == "use-after-free");
  BOOST_TEST(!fixed->buggy);
  BOOST_TEST(fixed->node == "gfxcard0");
}

BOOST_AUTO_TEST_CASE(buggy_card_release_frees_what_the_render_node_uses) {
  sim::ExploreResult r = sim::explore(render_vs_unplug("r13_multi_cdev_buggy"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  const sim::Report* uaf = find_failure(r, "use-after-free", "use-after-free in r13_ioctl");
  BOOST_TEST_REQUIRE(uaf != nullptr, all_headlines(r));
  BOOST_TEST(uaf->accessed_by->task.starts_with("render/"));
  BOOST_TEST(uaf->freed_by->task.starts_with("hub/"));  // the card cdev's release, at cdev_del in remove()
  for (const sim::Failure& f : r.failures)
    BOOST_TEST(f.report.kind == "use-after-free", sim::render_text(f.report));
  BOOST_TEST(r.failing_executions < r.executions);
}

BOOST_AUTO_TEST_CASE(fixed_ures_group_is_clean_in_every_schedule) {
  g_outcomes = Outcomes{};
  sim::ExploreResult r = sim::explore(render_and_card_vs_unplug("r13_multi_cdev_fixed"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  BOOST_TEST(r.executions > 10u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));  // no use-after-free, and the state is not leaked
  BOOST_TEST(g_outcomes.info > 0);
  BOOST_TEST(g_outcomes.gone > 0);
}
