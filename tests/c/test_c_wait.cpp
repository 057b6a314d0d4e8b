// Wait queues of kernel C (include/linux/wait.h's wait_event: prepare_to_wait, the condition, the sleep): the
// waiter is queued and not running while it tests its condition (include/linux/wait.h ___wait_event,
// kernel/sched/wait.c prepare_to_wait_event). So a wake-up during the test is not lost, and a blocking operation in
// the condition is the kernel's warning "do not call blocking ops when !TASK_RUNNING" (kernel/sched/core.c
// __might_sleep), which ends with the wait (finish_wait).
#define BOOST_TEST_MODULE c_wait
#include <boost/test/unit_test.hpp>

#include "tests/c/case_run.hpp"

extern "C" {
struct waiting;
struct waiting *wait_case_new(void);
void wait_case_two_reads(struct waiting *w);
void wait_case_locked_condition(struct waiting *w);
void wait_case_lock_after(struct waiting *w);
void wait_case_complete(struct waiting *w);
}

namespace sim = devsim::sim;
namespace test = devsim::test;

namespace {

// A waiter running `wait` and a task that completes: every schedule.
sim::ExploreResult waiter_and_completer(void (*wait)(struct waiting *)) {
  const sim::Model model = [wait](sim::World &w) {
    w.spawn("setup", [&w, wait] {
      // LIFETIME: simulated memory the tasks share; the world outlives them.
      struct waiting *c = wait_case_new();
      w.spawn("waiter", [c, wait] { wait(c); });
      w.spawn("completer", [c] { wait_case_complete(c); });
    });
  };
  return test::explore_every_schedule(model);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_wake_up_while_the_condition_is_tested_is_not_lost) {
  const sim::ExploreResult r = waiter_and_completer(wait_case_two_reads);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);
}

BOOST_AUTO_TEST_CASE(a_mutex_in_the_condition_is_a_blocking_op_while_not_running) {
  const sim::ExploreResult r = waiter_and_completer(wait_case_locked_condition);
  BOOST_TEST(r.exhausted);
  // The condition is tested at least once in every schedule, with the task not running each time.
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST(test::any_report(r, sim::bug::kBlockingNotRunning));
  BOOST_REQUIRE(!r.failures.empty());
  BOOST_TEST(r.failures[0].report.headline.find("mutex_lock") != std::string::npos, r.failures[0].report.headline);
}

BOOST_AUTO_TEST_CASE(the_same_mutex_after_the_wait_is_fine) {
  const sim::ExploreResult r = waiter_and_completer(wait_case_lock_after);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);
}
