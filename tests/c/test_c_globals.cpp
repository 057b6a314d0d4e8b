// Module globals seen by exploration (sim/host_watch.hpp, through tests/c/globaltest.c).
// Dynamic partial-order reduction runs one order of two stretches of execution that touch nothing in common. A C
// module's globals are host memory: unless the footprints see them, two tasks that share state only there look
// independent, and the order that matters is never run. Plain exhaustive search runs every order within the bound; the
// reduction must report what it reports.
#define BOOST_TEST_MODULE c_globals
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>

#include "tests/c/scenario_run.hpp"

using namespace devsim;

namespace {

using test::failures_text;
using test::run;

// Two tasks claim the module's `owner` global without a lock (globaltest.c ioctl 3, check then set) and give it
// back (ioctl 4). A claim between the other task's claim and release sees it taken: -EBUSY, outside the results
// the scenario allows. Each ioctl is a system call of its own, so the claim and the release are separate
// stretches of execution, and only the global `owner` connects one task's stretches with the other's.
// `locked`: the same through ioctl 7 and 8, under the mutex owner_lock.
std::string claimers(const std::string &allowed, bool locked = false) {
  std::string text = "driver ctest_globals\n";
  for (const char *name : {"first", "second"})
    text += std::string("task ") + name + " {\n  fd = open /dev/globaltest\n  ioctl fd " + (locked ? "7" : "3") +
            " => " + allowed + "\n  ioctl fd " + (locked ? "8" : "4") + " => 0\n  close fd\n}\n";
  return text;
}

scenarios::Verdict explore(const std::string &tasks, const std::string &settings) {
  return run(tasks + "explore exhaustive " + settings + "\n", "globals.scn");
}

std::set<std::string> kinds(const scenarios::Verdict &v) {
  std::set<std::string> out;
  for (const sim::Failure &f : v.result.failures)
    out.insert(f.report.kind);
  return out;
}

}  // namespace

// Without the globals in the footprints, DPOR ran 196 executions here and missed the -EBUSY that plain search
// finds in 574.
BOOST_AUTO_TEST_CASE(a_race_through_a_module_global_is_found_with_the_reduction) {
  const std::string tasks = claimers("0");
  for (const char *bound : {"preemptions=1", "preemptions=2"}) {
    scenarios::Verdict plain = explore(tasks, std::string(bound) + " reduction=none");
    BOOST_TEST_REQUIRE(!plain.result.failures.empty(), bound);
    BOOST_TEST(kinds(plain).count("unexpected-result") == 1u, bound);
    scenarios::Verdict reduced = explore(tasks, std::string(bound) + " reduction=dpor");
    BOOST_TEST((kinds(reduced) == kinds(plain)), bound << ": " << failures_text(reduced));
    BOOST_TEST(reduced.result.executions < plain.result.executions, bound);
  }
}

// The same claim under a static mutex (kernel/locking/mutex.c): both results happen in some schedule, which the
// scenario allows, and no schedule reports. Watching the globals adds conflicts to footprints, never reports.
BOOST_AUTO_TEST_CASE(the_same_claim_under_a_static_mutex_is_never_reported) {
  for (const char *reduction : {"none", "dpor"}) {
    scenarios::Verdict v = explore(claimers("0 | -EBUSY", true), std::string("preemptions=2 reduction=") + reduction);
    BOOST_TEST(v.result.executions > 1u, reduction);
    BOOST_TEST(v.result.failures.empty(), reduction << ": " << failures_text(v));
  }
}

// A reader that expects the flag another task publishes (ioctl 1 sets the global, ioctl 2 returns it, both marked:
// no race) sees it unset in the schedules where it runs first: the reduction finds that too.
BOOST_AUTO_TEST_CASE(a_flag_published_through_a_global_is_ordered) {
  const std::string tasks = R"(driver ctest_globals
task publisher {
  fd = open /dev/globaltest
  ioctl fd 1 => 0
  close fd
}
task reader {
  fd = open /dev/globaltest
  ioctl fd 2 => 1
  close fd
}
)";
  for (const char *reduction : {"none", "dpor"}) {
    scenarios::Verdict v = explore(tasks, std::string("preemptions=2 reduction=") + reduction);
    BOOST_TEST(kinds(v) == std::set<std::string>{"unexpected-result"}, reduction << ": " << failures_text(v));
  }
}

// A release store to a global and an acquire load that sees it order what comes before and after them
// (include/linux/compiler.h smp_store_release/smp_load_acquire; tools/memory-model/Documentation/explanation.txt):
// the item the publisher filled is read by the reader without a data race.
BOOST_AUTO_TEST_CASE(release_and_acquire_on_a_global_order_plain_accesses) {
  const std::string tasks = R"(driver ctest_globals
task publisher {
  fd = open /dev/globaltest
  ioctl fd 5 => 0
  close fd
}
task reader {
  fd = open /dev/globaltest
  ioctl fd 6 => 42 | -EAGAIN
  close fd
}
)";
  for (const char *reduction : {"none", "dpor"}) {
    scenarios::Verdict v = explore(tasks, std::string("preemptions=2 reduction=") + reduction);
    BOOST_TEST(v.result.executions > 1u, reduction);
    BOOST_TEST(v.result.failures.empty(), reduction << ": " << failures_text(v));
  }
}
