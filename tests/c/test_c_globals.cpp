// Module globals seen by exploration and by the race detector (sim/host_watch.hpp, through tests/c/globaltest.c).
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

// KCSAN's data race (Documentation/dev-tools/kcsan.rst): two tasks access `owner` with plain accesses, one of
// them a write, and nothing orders them. The global has no simulated address, so the report names its symbol.
BOOST_AUTO_TEST_CASE(plain_accesses_to_a_global_from_two_tasks_are_a_data_race) {
  for (const char *reduction : {"none", "dpor"}) {
    scenarios::Verdict v = explore(claimers("0 | -EBUSY"), std::string("preemptions=2 reduction=") + reduction);
    BOOST_TEST(kinds(v) == std::set<std::string>{"data-race"}, reduction << ": " << failures_text(v));
    const std::string text = failures_text(v);
    BOOST_TEST(text.find("data-race in globaltest_ioctl / globaltest_ioctl") != std::string::npos, text);
    BOOST_TEST(text.find("owner+0x0/0x4 of module ctest_globals") != std::string::npos, text);
  }
}

// The same claim under a static mutex (kernel/locking/mutex.c: an unlock happens before the next lock): both
// results happen in some schedule, which the scenario allows, and no schedule reports a race.
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

// kernel/module/main.c: delete_module looks the module up and free_module unlinks it under module_mutex, and
// load_module's add_unformed_module adds the next copy under it: one task's unload (module_exit reads the global
// pulse_class) happens before another task's load (module_init writes it). Without that edge every schedule in
// which the unload ran first reported a data race on pulse_class (found by `devsim fuzz --driver
// cplat_pulse_fixed`, shrunk to these two tasks).
BOOST_AUTO_TEST_CASE(an_unload_and_the_next_load_are_ordered_by_the_module_mutex) {
  scenarios::Verdict v = run(R"(driver cplat_pulse_fixed
device platform pulse0 cplat_pulse_fixed
task t0 {
  unload cplat_pulse_fixed
}
task t1 {
  load cplat_pulse_fixed => 0 | -EEXIST
}
explore exhaustive preemptions=2
)",
                             "module-mutex.scn");
  BOOST_TEST(v.result.executions > 1u);
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// include/linux/idr.h: "the caller must serialise" changes to an IDR. A global one (DEFINE_IDR) changed by two tasks
// without a lock is a data race at the callers (the IDR's bytes are the driver's, as for an IDR in kmalloc'd
// memory, tests/c/test_c_idr.cpp); under a static mutex it is none.
BOOST_AUTO_TEST_CASE(a_global_idr_changed_without_a_lock_is_a_data_race) {
  auto two_allocators = [](const char *cmd) {
    std::string text = "driver ctest_globals\n";
    for (const char *name : {"first", "second"})
      text += std::string("task ") + name + " {\n  fd = open /dev/globaltest\n  ioctl fd " + cmd +
              " => 0 | 1\n  close fd\n}\n";
    return explore(text, "preemptions=2");
  };
  scenarios::Verdict unlocked = two_allocators("9");
  BOOST_TEST(kinds(unlocked) == std::set<std::string>{"data-race"}, failures_text(unlocked));
  BOOST_TEST(failures_text(unlocked).find("ids+0x") != std::string::npos, failures_text(unlocked));
  scenarios::Verdict locked = two_allocators("10");
  BOOST_TEST(locked.result.executions > 1u);
  BOOST_TEST(locked.result.failures.empty(), failures_text(locked));
}
