// linux/workqueue.h (cabi/workqueue.cpp on bus/workqueue.hpp) through a test module in kernel C, tests/c/wqtest.c:
// each ioctl of /dev/wqtest exercises one guarantee and returns 0 when it held, a negative step number when not.
#define BOOST_TEST_MODULE c_workqueue
#include <boost/test/unit_test.hpp>

#include <string>

#include "sim/report.hpp"
#include "tests/c/scenario_run.hpp"

using namespace devsim;

namespace {

using test::failures_text;
using test::run;

}  // namespace

// kernel/workqueue.c queue_work_on: the PENDING bit is taken with test_and_set_bit, so queueing an item that is
// still pending returns false and adds no execution; alloc_ordered_workqueue (__WQ_ORDERED, max_active 1) runs its
// items one at a time in queueing order, so the counted item stays pending behind the blocker in every schedule;
// __flush_workqueue waits for both.
BOOST_AUTO_TEST_CASE(a_pending_item_queued_again_runs_once) {
  scenarios::Verdict v = run(R"(driver ctest_wq_fixed
task app {
  fd = open /dev/wqtest => 3
  ioctl fd 1 => 0
  close fd
}
explore exhaustive preemptions=2
)",
                             "wq-pending.scn");
  BOOST_TEST(v.result.executions > 10u);
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// kernel/workqueue.c __cancel_work_sync: the running instance is waited for (__flush_work), so on return the
// function is not running in any schedule. cancel_work (kernel/workqueue.c cancel_work -> __cancel_work) only takes
// a pending instance back: in some schedule the function is still running when it returns.
BOOST_AUTO_TEST_CASE(cancel_work_sync_waits_for_the_running_instance) {
  const char *text = R"(driver ctest_wq_fixed
task starter {
  fd = open /dev/wqtest
  ioctl fd 2 => 0
  close fd
}
task canceller {
  fd = open /dev/wqtest
  ioctl fd 3 SYNC => 0
  close fd
}
explore exhaustive preemptions=2
)";
  std::string sync = text;
  sync.replace(sync.find("SYNC"), 4, "1");
  scenarios::Verdict waits = run(sync, "wq-cancel-sync.scn");
  BOOST_TEST(waits.result.executions > 10u);
  BOOST_TEST(waits.result.failures.empty(), failures_text(waits));

  std::string nosync = text;
  nosync.replace(nosync.find("SYNC"), 4, "0");
  scenarios::Verdict races = run(nosync, "wq-cancel.scn");
  BOOST_TEST(!races.result.failures.empty());
}

// flush_workqueue waits for every item queued on the workqueue before it (kernel/workqueue.c __flush_workqueue),
// here three items that each sleep.
BOOST_AUTO_TEST_CASE(flush_workqueue_waits_for_items_queued_before) {
  scenarios::Verdict v = run(R"(driver ctest_wq_fixed
task app {
  fd = open /dev/wqtest
  ioctl fd 5 => 0
  close fd
}
explore exhaustive preemptions=2
)",
                             "wq-flush.scn");
  BOOST_TEST(v.result.executions > 1u);
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// Delayed work (kernel/workqueue.c queue_delayed_work_on: PENDING is taken before the timer is armed, so the item is
// pending through its delay; mod_delayed_work_on: try_to_grab_pending then re-queue; flush_delayed_work: the timer
// is deleted and the item queued at once; cancel_delayed_work_sync: a cancelled timer never fires), in virtual time.
BOOST_AUTO_TEST_CASE(delayed_work_is_pending_through_its_delay) {
  scenarios::Verdict v = run(R"(driver ctest_wq_fixed
task app {
  fd = open /dev/wqtest
  ioctl fd 6 => 0
  close fd
}
explore random executions=50 seed=3
)",
                             "wq-delayed.scn");
  BOOST_TEST(v.result.executions == 50u);
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// A `static DECLARE_WORK` global starts pristine in every execution: the module's globals are restored at each
// load, and devsim sets the item up at its first use in each world; it runs once per queueing.
BOOST_AUTO_TEST_CASE(declare_work_global_is_fresh_in_every_execution) {
  scenarios::Verdict v = run(R"(driver ctest_wq_fixed
task app {
  fd = open /dev/wqtest
  ioctl fd 7 => 1
  ioctl fd 7 => 2
  close fd
}
explore random executions=50 seed=1
)",
                             "wq-global.scn");
  BOOST_TEST(v.result.executions == 50u);
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// The classic remove() bug (kernel/workqueue.c process_one_work reads the item, then calls its function): module_exit
// frees the object with its work item still queued. Some schedule runs the work after the kfree: KASAN's
// use-after-free, allocated in wqtest_init, freed in wqtest_exit. With cancel_work_sync before the kfree, never.
BOOST_AUTO_TEST_CASE(freeing_a_queued_work_without_cancel_is_a_use_after_free) {
  const char *text = R"(driver MOD
task app {
  fd = open /dev/wqtest
  ioctl fd 4 => 0
  close fd
  unload MOD => 0
}
explore exhaustive preemptions=2
)";
  auto with = [&](const std::string &mod) {
    std::string s = text;
    for (std::size_t at = s.find("MOD"); at != std::string::npos; at = s.find("MOD"))
      s.replace(at, 3, mod);
    return run(s, mod + ".scn");
  };
  scenarios::Verdict buggy = with("ctest_wq_buggy");
  BOOST_TEST_REQUIRE(!buggy.result.failures.empty());
  const sim::Report &r = buggy.result.failures.front().report;
  BOOST_TEST(r.kind == "use-after-free");
  const std::string report = sim::render_text(r);
  BOOST_TEST(report.find("wqtest_exit") != std::string::npos, report);  // the free site
  BOOST_TEST(report.find("wqtest_init") != std::string::npos, report);  // the allocation site

  scenarios::Verdict fixed = with("ctest_wq_fixed");
  BOOST_TEST(fixed.result.executions > 10u);
  BOOST_TEST(fixed.result.failures.empty(), failures_text(fixed));
}
