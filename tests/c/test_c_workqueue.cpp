// linux/workqueue.h (cabi/workqueue.cpp on bus/workqueue.hpp) through a test module in kernel C, tests/c/wqtest.c:
// each ioctl of /dev/wqtest exercises one guarantee and returns 0 when it held, a negative step number when not.
#define BOOST_TEST_MODULE c_workqueue
#include <boost/test/unit_test.hpp>

#include <string>

#include "core/lockdep.hpp"
#include "sim/report.hpp"
#include "tests/c/scenario_run.hpp"

using namespace devsim;

namespace {

using test::failures_text;
using test::run;

// One task: open /dev/wqtest, `ioctl fd CMD ARG`, close.
scenarios::Verdict one_ioctl(int cmd, int arg, const std::string &expect = "") {
  return run("driver ctest_wq_fixed\ntask app {\n  fd = open /dev/wqtest\n  ioctl fd " + std::to_string(cmd) + " " +
                 std::to_string(arg) + expect + "\n  close fd\n}\n",
             "wq-" + std::to_string(cmd) + "-" + std::to_string(arg) + ".scn");
}

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

// kernel/workqueue.c delayed_work_timer_fn: the timer of a delayed work reads the item when it fires
// (container_of(t, struct delayed_work, timer)->wq), so a delayed work freed with its timer armed is a use-after-free
// there; cancel_delayed_work_sync (__cancel_work_sync -> try_to_grab_pending deletes the timer) before the kfree is
// clean.
BOOST_AUTO_TEST_CASE(a_delayed_work_freed_with_its_timer_armed_is_a_use_after_free) {
  scenarios::Verdict buggy = one_ioctl(8, 0);
  BOOST_TEST_REQUIRE(!buggy.result.failures.empty());
  const sim::Report &r = buggy.result.failures.front().report;
  BOOST_TEST(r.kind == "use-after-free");
  BOOST_TEST(r.headline.find("delayed_work_timer_fn") != std::string::npos, r.headline);
  const std::string text = sim::render_text(r);
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST(text.find("delayed_free") != std::string::npos, text);  // allocated and freed there

  scenarios::Verdict fixed = one_ioctl(8, 1, " => 0");
  BOOST_TEST(fixed.result.failures.empty(), failures_text(fixed));
}

// kernel/workqueue.c destroy_workqueue drains the workqueue (drain_workqueue) but a delayed item whose timer has not
// fired is on no worklist: the timer then queues it on the freed workqueue (__queue_work reads it). Cancelling the
// delayed work first is clean, and the work never ran.
BOOST_AUTO_TEST_CASE(destroying_a_workqueue_with_a_delayed_item_armed_is_a_use_after_free) {
  scenarios::Verdict buggy = one_ioctl(9, 0);
  BOOST_TEST_REQUIRE(!buggy.result.failures.empty());
  const sim::Report &r = buggy.result.failures.front().report;
  BOOST_TEST(r.kind == "use-after-free");
  const std::string text = sim::render_text(r);
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST(text.find("destroy_armed") != std::string::npos, text);  // the workqueue's allocation and free

  scenarios::Verdict fixed = one_ioctl(9, 1, " => 0");
  BOOST_TEST(fixed.result.failures.empty(), failures_text(fixed));
}

// kernel/workqueue.c __flush_work: lock_map_acquire(&work->lockdep_map) even when the work already finished, and
// process_one_work holds that map around the function: flushing a work under a mutex the work takes is an inversion
// in every execution, though this one cannot deadlock (the work ran before the flush).
BOOST_AUTO_TEST_CASE(flush_work_under_a_lock_the_work_takes_is_a_lock_order_inversion) {
  scenarios::Verdict bad = one_ioctl(10, 1);
  BOOST_TEST_REQUIRE(!bad.result.failures.empty());
  BOOST_TEST(bad.result.failures.front().report.kind == core::bug::kLockOrderInversion);

  scenarios::Verdict good = one_ioctl(10, 0, " => 1");
  BOOST_TEST(good.result.failures.empty(), failures_text(good));
}
