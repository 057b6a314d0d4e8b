// linux/rcupdate.h (cabi/rcu.cpp on core/rcu.hpp) through a test module in kernel C, tests/c/rcutest.c: one
// RCU-protected item that a reader reads under rcu_read_lock while an updater replaces it and frees the old one.
#define BOOST_TEST_MODULE c_rcu
#include <boost/test/unit_test.hpp>

#include <string>

#include "sim/report.hpp"
#include "tests/c/scenario_run.hpp"

using namespace devsim;

namespace {

using test::failures_text;
using test::run;

// A reader and an updater; the updater frees the old item in the way `how` selects (rcutest.c ioctl 2).
scenarios::Verdict reader_and_updater(int how) {
  const std::string text = R"(driver ctest_rcu
task reader {
  fd = open /dev/rcutest
  ioctl fd 1 => 3
  close fd
}
task updater {
  fd = open /dev/rcutest
  ioctl fd 2 )" + std::to_string(how) +
                           R"( => 0
  close fd
}
explore exhaustive preemptions=2
)";
  return run(text, "rcu-" + std::to_string(how) + ".scn");
}

}  // namespace

// Documentation/RCU/whatisRCU.rst and kernel/rcu/tree.c synchronize_rcu: an updater may free what it unpublished
// only after a grace period, because a reader that dereferenced the pointer before rcu_assign_pointer may still use
// it until its rcu_read_unlock. Freeing at once is a use-after-free in the reader in some schedule.
BOOST_AUTO_TEST_CASE(kfree_without_a_grace_period_is_a_use_after_free_in_the_reader) {
  scenarios::Verdict v = reader_and_updater(0);
  BOOST_TEST_REQUIRE(!v.result.failures.empty());
  const sim::Report &r = v.result.failures.front().report;
  BOOST_TEST(r.kind == "use-after-free");
  const std::string text = sim::render_text(r);
  BOOST_TEST(text.find("rt_read") != std::string::npos, text);     // the reader's access
  BOOST_TEST(text.find("rt_replace") != std::string::npos, text);  // the kfree
}

// synchronize_rcu (kernel/rcu/tree.c) waits for the readers open at its start; kfree_rcu (kvfree_call_rcu) and
// call_rcu (kernel/rcu/tree.c __call_rcu) free after a grace period that starts at the call: no schedule reports.
BOOST_AUTO_TEST_CASE(a_grace_period_before_the_free_is_never_reported) {
  for (int how : {1, 2, 3}) {
    scenarios::Verdict v = reader_and_updater(how);
    BOOST_TEST(v.result.executions > 10u, "how " << how);
    BOOST_TEST(v.result.failures.empty(), "how " << how << ": " << failures_text(v));
  }
}

// include/linux/rcupdate.h rcu_dereference_check / kernel/rcu/update.c lockdep_rcu_suspicious (CONFIG_PROVE_RCU):
// rcu_dereference outside rcu_read_lock, and rcu_dereference_protected whose condition is false, are reported;
// rcu_dereference_protected with the update lock held is not.
BOOST_AUTO_TEST_CASE(prove_rcu_checks_the_accessors_context) {
  auto one = [](const std::string &op) {
    return run("driver ctest_rcu\ntask app {\n  fd = open /dev/rcutest\n  " + op + "\n  close fd\n}\n", "prove.scn");
  };
  scenarios::Verdict unlocked = one("ioctl fd 3");
  BOOST_TEST_REQUIRE(!unlocked.result.failures.empty());
  BOOST_TEST(unlocked.result.failures.front().report.kind == "suspicious-rcu-usage");

  scenarios::Verdict unprotected = one("ioctl fd 4 0");
  BOOST_TEST_REQUIRE(!unprotected.result.failures.empty());
  BOOST_TEST(unprotected.result.failures.front().report.kind == "suspicious-rcu-usage");

  scenarios::Verdict protected_ = one("ioctl fd 4 1 => 1");
  BOOST_TEST(protected_.result.failures.empty(), failures_text(protected_));
}
