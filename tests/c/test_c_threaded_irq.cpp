// Threaded interrupts from kernel C (linux/interrupt.h request_threaded_irq, IRQF_ONESHOT) through
// tests/c/threadirq.c, whose hard handler wakes a thread function that sleeps and then uses the driver's state.
// Kernel: kernel/irq/manage.c request_threaded_irq, irq_thread, irq_finalize_oneshot, __free_irq (synchronize_irq
// waits for threads_active); include/linux/interrupt.h (IRQF_ONESHOT: "Interrupt is not reenabled after the hardirq
// handler finished").
#define BOOST_TEST_MODULE c_threaded_irq
#include <boost/test/unit_test.hpp>

#include <string>

#include "tests/c/scenario_run.hpp"

using namespace devsim;

namespace {

using test::failures_text;
using test::run;

bool found(const scenarios::Verdict &v, const std::string &kind, const std::string &headline) {
  for (const sim::Failure &f : v.result.failures)
    if (f.report.kind == kind && f.report.headline == headline) return true;
  return false;
}

// One interrupt while the device is unplugged.
scenarios::Verdict unplug_during_interrupt(const std::string &driver) {
  return run("driver " + driver + "\ndevice platform threadirq0 " + driver +
                 "\ntask hardware {\n  irq 41\n}\ntask hub {\n  unplug platform threadirq0 => 0\n}\n"
                 "explore exhaustive preemptions=2\n",
             "threadirq-unplug.scn");
}

// Two interrupts, then the unplug long after both were handled.
scenarios::Verdict two_interrupts(const std::string &driver) {
  return run("driver " + driver + "\ndevice platform threadirq0 " + driver +
                 "\ntask hardware {\n  irq 41\n  irq 41\n}\ntask hub {\n  sleep 100ms\n"
                 "  unplug platform threadirq0 => 0\n}\nexplore exhaustive preemptions=2\n",
             "threadirq-two.scn");
}

}  // namespace

// remove() that frees the state before free_irq(): the woken thread function sleeps, then counts into freed memory.
BOOST_AUTO_TEST_CASE(a_thread_function_outlives_state_freed_before_free_irq) {
  scenarios::Verdict v = unplug_during_interrupt("ctest_tirq_buggy");
  BOOST_TEST(v.result.exhausted);
  BOOST_TEST(found(v, "use-after-free", "use-after-free in tirq_thread"), failures_text(v));
}

// free_irq() first: it waits for a woken thread function to return, so kfree() never precedes its use.
BOOST_AUTO_TEST_CASE(free_irq_waits_for_the_thread_function) {
  scenarios::Verdict v = unplug_during_interrupt("ctest_tirq_fixed");
  BOOST_TEST(v.result.exhausted);
  BOOST_TEST(v.result.executions > 1u);
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// IRQF_ONESHOT: the second interrupt waits for the thread function, so the hard handler never finds it running.
// Without the flag it does in some schedule, and the handler's WARN_ON says so.
BOOST_AUTO_TEST_CASE(oneshot_keeps_the_hard_handler_away_from_a_running_thread_function) {
  scenarios::Verdict oneshot = two_interrupts("ctest_tirq_fixed");
  BOOST_TEST(oneshot.result.exhausted);
  BOOST_TEST(oneshot.result.failures.empty(), failures_text(oneshot));
  scenarios::Verdict plain = two_interrupts("ctest_tirq_fixed_noshot");
  BOOST_TEST(plain.result.exhausted);
  BOOST_TEST_REQUIRE(!plain.result.failures.empty());
  BOOST_TEST(plain.result.failures[0].report.kind == "warning", failures_text(plain));
  BOOST_TEST(plain.result.failures[0].report.headline.find("tirq_hard") != std::string::npos, failures_text(plain));
}
