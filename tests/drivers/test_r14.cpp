// R14: a timer and a work item not cancelled in remove(). The buggy watchdog's heartbeat timer fires, and its
// reset work may run, after devm freed the data: the kernel's call_timer_fn / process_one_work access is
// reported. The fixed one shuts the timer down and cancels the work in remove(): clean in every schedule.
#define BOOST_TEST_MODULE drivers_r14
#include <boost/test/unit_test.hpp>

#include "bus/timer.hpp"
#include "bus/workqueue.hpp"
#include "tests/drivers/race_support_b.hpp"

using namespace devsim;
using namespace devsim::drivers::test;

namespace {

sim::Model unplug_with_deferred_work(const std::string& driver) {
  return scenario(driver, {{"hub", unplug_task}});
}

}  // namespace

BOOST_AUTO_TEST_CASE(both_variants_are_registered) {
  const drivers::DriverInfo* buggy = drivers::find_driver("r14_watchdog_timer_buggy");
  const drivers::DriverInfo* fixed = drivers::find_driver("r14_watchdog_timer_fixed");
  BOOST_TEST_REQUIRE(buggy != nullptr);
  BOOST_TEST_REQUIRE(fixed != nullptr);
  BOOST_TEST(buggy->race == "R14");
  BOOST_TEST(buggy->buggy);
  BOOST_TEST(buggy->bug_kind == "use-after-free");
  BOOST_TEST(!fixed->buggy);
}

BOOST_AUTO_TEST_CASE(buggy_uncancelled_timer_and_work_run_on_freed_data) {
  sim::ExploreResult r = sim::explore(unplug_with_deferred_work("r14_watchdog_timer_buggy"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  const sim::Report* in_timer = find_failure(r, "use-after-free", "use-after-free in call_timer_fn");
  const sim::Report* in_work = find_failure(r, "use-after-free", "use-after-free in process_one_work");
  BOOST_TEST_REQUIRE(in_timer != nullptr, all_headlines(r));
  BOOST_TEST_REQUIRE(in_work != nullptr, all_headlines(r));
  BOOST_TEST(in_timer->freed_by->task.starts_with("hub/"));  // devres, at the unbind the unplug ran
  for (const sim::Failure& f : r.failures)
    BOOST_TEST(f.report.kind == "use-after-free", sim::render_text(f.report));
  // The timer always fires after the unplug (virtual time waits for everyone else): every schedule fails.
  BOOST_TEST(r.failing_executions == r.executions);
}

BOOST_AUTO_TEST_CASE(fixed_cancel_sync_in_remove_is_clean_in_every_schedule) {
  sim::ExploreResult r = sim::explore(unplug_with_deferred_work("r14_watchdog_timer_fixed"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
}

BOOST_AUTO_TEST_CASE(fixed_watchdog_runs_its_timer_and_work_while_bound) {
  // Left plugged for a while: the heartbeat fires and queues the reset; then the unplug cancels cleanly.
  static std::uint64_t fires, works;
  sim::Execution e = sim::run_once(scenario("r14_watchdog_timer_fixed", {{"hub", [] {
                                                                            sim::world().sleep_for(2'000'000);
                                                                            fires = bus::timer_fires();
                                                                            works = bus::work_executions();
                                                                            unplug_task();
                                                                          }}}));
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
  BOOST_TEST(fires == 1u);
  BOOST_TEST(works == 2u);  // probe's reset and the heartbeat's
}
