// linux/srcu.h (cabi/srcu.cpp on core/srcu.hpp) through the test module tests/c/rcutest.c: an SRCU-protected item
// whose reader sleeps inside its read section while an updater replaces it and frees the old one.
#define BOOST_TEST_MODULE c_srcu
#include <boost/test/unit_test.hpp>

#include <string>

#include "sim/report.hpp"
#include "tests/c/scenario_run.hpp"

using namespace devsim;

namespace {

using test::failures_text;
using test::run;

scenarios::Verdict reader_and_updater(int how) {
  const std::string text = R"(driver ctest_rcu
task reader {
  fd = open /dev/rcutest
  ioctl fd 5 => 3
  close fd
}
task updater {
  fd = open /dev/rcutest
  ioctl fd 6 )" + std::to_string(how) +
                           R"( => 0
  close fd
}
explore exhaustive preemptions=2
)";
  return run(text, "srcu-" + std::to_string(how) + ".scn");
}

}  // namespace

// kernel/rcu/srcutree.c synchronize_srcu: waits for the readers of the domain that were inside srcu_read_lock when
// it started, even sleeping ones (Documentation/RCU/whatisRCU.rst, SRCU). Without it the sleeping reader wakes up
// to read the freed item; with it, never. Sleeping inside the section is allowed (no sleep-in-atomic report).
BOOST_AUTO_TEST_CASE(synchronize_srcu_waits_for_a_sleeping_reader) {
  scenarios::Verdict buggy = reader_and_updater(0);
  BOOST_TEST_REQUIRE(!buggy.result.failures.empty());
  const sim::Report &r = buggy.result.failures.front().report;
  BOOST_TEST(r.kind == "use-after-free");
  const std::string text = sim::render_text(r);
  BOOST_TEST(text.find("rt_srcu_read") != std::string::npos, text);
  BOOST_TEST(text.find("rt_srcu_replace") != std::string::npos, text);

  scenarios::Verdict fixed = reader_and_updater(1);
  BOOST_TEST(fixed.result.executions > 10u);
  BOOST_TEST(fixed.result.failures.empty(), failures_text(fixed));
}

// include/linux/srcu.h srcu_dereference_check (CONFIG_PROVE_RCU): outside a section of its domain it is suspicious.
BOOST_AUTO_TEST_CASE(srcu_dereference_outside_a_section_is_suspicious) {
  scenarios::Verdict v =
      run("driver ctest_rcu\ntask app {\n  fd = open /dev/rcutest\n  ioctl fd 7\n  close fd\n}\n", "srcu-prove.scn");
  BOOST_TEST_REQUIRE(!v.result.failures.empty());
  BOOST_TEST(v.result.failures.front().report.kind == "suspicious-rcu-usage");
}
