// linux/semaphore.h (tests/c/semaphore_cases.c): counting as kernel/locking/semaphore.c counts (down_trylock
// returns 0 when it took one), a down() woken by an up() in every schedule, a down() nobody ups a deadlock.
#define BOOST_TEST_MODULE c_semaphore
#include <boost/test/unit_test.hpp>

#include "sim/explorer.hpp"
#include "sim/report.hpp"
#include "sim/world.hpp"
#include "tests/c/case_run.hpp"
#include "tests/sim/test_models.hpp"

extern "C" {
struct semaphore;
long semaphore_case_counting(void);
struct semaphore *semaphore_case_new(int count);
void semaphore_case_down(struct semaphore *sem);
void semaphore_case_up(struct semaphore *sem);
}

namespace sim = devsim::sim;
namespace test = devsim::test;
using test::any_report;
using test::run_in_task;

namespace {

sim::ExploreResult down_beside(bool someone_ups) {
  const sim::Model model = [someone_ups](sim::World &w) {
    w.spawn("setup", [&w, someone_ups] {
      // LIFETIME: simulated memory the tasks share; the world outlives them.
      struct semaphore *sem = semaphore_case_new(0);
      w.spawn("waiter", [sem] { semaphore_case_down(sem); });
      if (someone_ups) w.spawn("poster", [sem] { semaphore_case_up(sem); });
    });
  };
  return test::explore_every_schedule(model);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_semaphore_counts_and_trylock_answers_zero_when_it_took_one) {
  long digits = 0;
  sim::Execution e = sim::run_once(
      [&](sim::World &w) { w.spawn("driver", [&] { digits = semaphore_case_counting(); }); }, sim::WorldOptions{});
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(digits == 10100);  // 0 0 1 0 0 behind a leading 1
}

BOOST_AUTO_TEST_CASE(a_down_is_woken_by_an_up_in_every_schedule_and_waits_forever_without_one) {
  const sim::ExploreResult posted = down_beside(true);
  BOOST_TEST(posted.exhausted);
  BOOST_TEST(posted.executions > 1u);
  BOOST_TEST(posted.failing_executions == 0u);

  const sim::ExploreResult alone = down_beside(false);
  BOOST_TEST_REQUIRE(alone.failures.size() == 1u);
  BOOST_TEST(alone.failures[0].report.kind == sim::bug::kDeadlock);
}
