// R8: error paths in probe (Dreier, 002). Fail each allocation of the probe in turn (fail-nth): the hand-written
// goto unwinding leaks at one failure point and frees twice at another; the devres-managed probe unwinds cleanly,
// last in first out, at every one.
#define BOOST_TEST_MODULE drivers_r08
#include <boost/test/unit_test.hpp>

#include <map>
#include <string>

#include "bus/usb.hpp"
#include "tests/drivers/race_support_a.hpp"

using namespace devsim;
using namespace devsim::drivers::test;

namespace {

const char* g_driver = nullptr;
std::uint64_t g_before_plug = 0;  // failable allocations done before the probe's first
std::uint64_t g_after_plug = 0;
bool g_bound = false;

// Load, plug (probe), unplug (remove): one task, so one execution per failure point.
void plug_unplug(sim::World& w) {
  w.spawn("hub", [] {
    load(g_driver);
    g_before_plug = sim::world().failable_allocations();
    bus::Device* dev = bus::usb_plug("1-1", g_driver);
    g_after_plug = sim::world().failable_allocations();
    g_bound = dev != nullptr && dev->bound();
    bus::usb_unplug("1-1");
  });
}

sim::ExploreResult run_failing(const char* driver, std::uint64_t nth) {
  g_driver = driver;
  sim::ExploreOptions o = exhaustive();
  o.world.fail_nth = nth;
  return sim::explore(plug_unplug, o);
}

// The probe's failable allocations (kzalloc, devres entries), counted on a run where none fails.
std::uint64_t probe_allocations(const char* driver, std::uint64_t* first) {
  sim::ExploreResult r = run_failing(driver, 0);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
  BOOST_TEST(g_bound);
  *first = g_before_plug + 1;
  return g_after_plug - g_before_plug;
}

}  // namespace

BOOST_AUTO_TEST_CASE(buggy_goto_unwind_leaks_or_frees_twice) {
  std::uint64_t first = 0;
  std::uint64_t count = probe_allocations("r08_probe_errors_buggy", &first);
  BOOST_TEST(count == 6u);  // dev, rx, tx, ctrl, ring header, ring slots
  BOOST_TEST_MESSAGE("r08 buggy: the probe's allocations are fail-nth " << first << ".." << first + count - 1);
  std::map<std::uint64_t, std::string> found;  // probe allocation (1-based) -> what went wrong
  for (std::uint64_t k = 1; k <= count; ++k) {
    sim::ExploreResult r = run_failing("r08_probe_errors_buggy", first + k - 1);
    BOOST_TEST(!g_bound);
    for (const sim::Failure& f : r.failures)
      found[k] += f.report.headline + "\n";
    if (k == 4) {  // ctrl fails: the TX buffer (allocation 3) is never freed
      BOOST_TEST_REQUIRE(r.failures.size() == 1u, headlines(r));
      BOOST_TEST(r.failures[0].report.kind == "memory-leak");
      BOOST_TEST(function_of(r.failures[0].report.allocated_by) == "r08_buggy_probe");
    } else if (k == 6) {  // the ring's slots fail: the helper frees the header, the caller frees it again
      BOOST_TEST_REQUIRE(found_kind(r, "double-free"), headlines(r));
      BOOST_TEST(find_headline(r, "double-free in r08_buggy_probe") != nullptr, headlines(r));
    } else {
      BOOST_TEST(r.failing_executions == 0u, "probe allocation " << k << ": " << first_failure(r));
    }
  }
  for (const auto& [k, what] : found)
    BOOST_TEST_MESSAGE("probe allocation " << k << " fails: " << what);
}

BOOST_AUTO_TEST_CASE(fixed_devres_unwinds_every_failure_point) {
  std::uint64_t first = 0;
  std::uint64_t count = probe_allocations("r08_probe_errors_fixed", &first);
  BOOST_TEST(count == 12u);  // six devm_kzalloc: each a kzalloc and a devres entry
  BOOST_TEST_MESSAGE("r08 fixed: the probe's allocations are fail-nth " << first << ".." << first + count - 1);
  for (std::uint64_t n = first; n < first + count; ++n) {
    sim::ExploreResult r = run_failing("r08_probe_errors_fixed", n);
    BOOST_TEST(!g_bound, "fail-nth " << n);
    BOOST_TEST(r.failing_executions == 0u, "fail-nth " << n << ": " << first_failure(r));
  }
}
