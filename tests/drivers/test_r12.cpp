// R12: refcount overflow. A reference leak in GET_STATS's error path drives the count to its limit (probe
// starts it there). The buggy driver's plain counter wraps and frees the state early (use-after-free); the fixed
// driver's refcount_t saturates with a warning that is not fatal: the state leaks, is never freed early, and
// the execution runs to its end.
#define BOOST_TEST_MODULE drivers_r12
#include <boost/test/unit_test.hpp>

#include "bus/errno.hpp"
#include "tests/drivers/race_support_b.hpp"

using namespace devsim;
using namespace devsim::drivers::test;
using bus::test::expect;

namespace {

constexpr unsigned kGetStats = 0x5501;

struct Outcomes {
  int stats = 0;
  int gone = 0;
};
Outcomes g_outcomes;
bool g_unplugged = false;

// The user loops on the bad call (one iteration is enough past the limit), then makes a good one.
void app() {
  with_open("stats0", [](bus::File* f) {
    long bad = bus::vfs_ioctl(f, kGetStats, 4);
    expect(bad == -bus::kEINVAL || bad == -bus::kENODEV, "GET_STATS 4: -EINVAL (leaks a reference) or -ENODEV");
    long good = bus::vfs_ioctl(f, kGetStats, 1);
    expect(good == 41 || good == -bus::kENODEV, "GET_STATS 1: 41 or -ENODEV");
    (good == 41 ? g_outcomes.stats : g_outcomes.gone) += 1;
  });
}

sim::Model leak_vs_unplug(const std::string& driver) {
  return scenario(driver, {{"app", app}, {"hub", unplug_task}});
}

// The scenario's order: the hub unplugs once the user is done (it sleeps; virtual time waits for the others).
sim::Model leak_then_unplug(const std::string& driver) {
  return scenario(driver, {{"app", app}, {"hub", [] {
                                            sim::world().sleep_for(1'000'000);
                                            unplug_task();
                                            g_unplugged = true;
                                          }}});
}

}  // namespace

BOOST_AUTO_TEST_CASE(both_variants_are_registered) {
  const drivers::DriverInfo* buggy = drivers::find_driver("r12_refcount_overflow_buggy");
  const drivers::DriverInfo* fixed = drivers::find_driver("r12_refcount_overflow_fixed");
  BOOST_TEST_REQUIRE(buggy != nullptr);
  BOOST_TEST_REQUIRE(fixed != nullptr);
  BOOST_TEST(buggy->race == "R12");
  BOOST_TEST(buggy->buggy);
  BOOST_TEST(buggy->bug_kind == "use-after-free");
  BOOST_TEST(!fixed->buggy);
  BOOST_TEST(fixed->node == "stats0");
}

BOOST_AUTO_TEST_CASE(buggy_wrapping_counter_frees_early) {
  sim::ExploreResult r = sim::explore(leak_vs_unplug("r12_refcount_overflow_buggy"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  const sim::Report* uaf = find_failure(r, "use-after-free", "use-after-free in r12_release");
  BOOST_TEST_REQUIRE(uaf != nullptr, all_headlines(r));
  BOOST_TEST(uaf->freed_by->task.starts_with("app/"));         // freed by the app's own "last" put in GET_STATS
  BOOST_TEST(find_failure(r, "refcount-warning") == nullptr);  // a plain counter never warns
}

BOOST_AUTO_TEST_CASE(fixed_refcount_saturates_warns_and_never_frees_early) {
  g_outcomes = Outcomes{};
  sim::ExploreResult r = sim::explore(leak_vs_unplug("r12_refcount_overflow_fixed"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  BOOST_TEST(r.executions > 10u);
  // What it reports is the designed outcome: the saturation warning (not fatal) or, when the unplug came
  // before the user's calls, the leak of the state the earlier leaked references pin. Never a use-after-free.
  BOOST_TEST_REQUIRE(find_failure(r, "refcount-warning", "refcount_t: saturated; leaking memory.") != nullptr,
                     all_headlines(r));
  // The puts on the saturated count warn too (lib/refcount.c refcount_warn_saturate, REFCOUNT_SUB_UAF), and
  // the leak the saturation announced is reported once every task has finished.
  for (const sim::Failure& f : r.failures) {
    BOOST_TEST(!f.report.fatal, sim::render_text(f.report));
    const bool saturated = f.report.headline == "refcount_t: saturated; leaking memory." ||
                           f.report.headline == "refcount_t: underflow; use-after-free.";
    BOOST_TEST((saturated || f.report.kind == "memory-leak"), sim::render_text(f.report));
  }
  BOOST_TEST(g_outcomes.stats > 0);  // the good call still works after saturation
  BOOST_TEST(g_outcomes.gone > 0);
}

BOOST_AUTO_TEST_CASE(fixed_saturation_warns_leaks_and_the_run_completes) {
  sim::ExploreResult r = sim::explore(leak_then_unplug("r12_refcount_overflow_fixed"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == r.executions);  // every schedule saturates: the designed outcome
  // Distinct findings: the saturation, the puts on the saturated count (lib/refcount.c refcount_warn_saturate
  // warns on every decrement of a saturated count; the count stays saturated), and the leak of the pinned state
  // (the leak check runs after warnings). None fatal.
  BOOST_TEST_REQUIRE(!r.failures.empty(), all_headlines(r));
  BOOST_TEST(r.failures[0].report.kind == "refcount-warning");
  BOOST_TEST(r.failures[0].report.headline == "refcount_t: saturated; leaking memory.");
  bool leak = false;
  for (const sim::Failure& f : r.failures) {
    BOOST_TEST(!f.report.fatal, sim::render_text(f.report));
    leak = leak || f.report.kind == "memory-leak";
    if (f.report.kind != "memory-leak") {
      BOOST_TEST(f.report.kind == "refcount-warning");
      BOOST_TEST((f.report.headline == "refcount_t: saturated; leaking memory." ||
                  f.report.headline == "refcount_t: underflow; use-after-free."));
    }
  }
  BOOST_TEST(leak, all_headlines(r));

  g_outcomes = Outcomes{};
  g_unplugged = false;
  sim::Execution e = sim::run_once(leak_then_unplug("r12_refcount_overflow_fixed"));
  // Never aborts: every task ran to its end after the warning (the outcome says "stopped" only because a
  // report exists).
  BOOST_TEST(g_outcomes.stats == 1);
  BOOST_TEST(g_unplugged);
  BOOST_TEST_REQUIRE(!e.reports.empty(), bus::test::describe(e.reports));
  BOOST_TEST(e.reports[0].kind == "refcount-warning");
  BOOST_TEST(e.reports[0].headline == "refcount_t: saturated; leaking memory.");
  BOOST_TEST(e.reports.back().kind == "memory-leak", bus::test::describe(e.reports));
  for (const sim::Report& rep : e.reports)
    BOOST_TEST(!rep.fatal, sim::render_text(rep));
}
