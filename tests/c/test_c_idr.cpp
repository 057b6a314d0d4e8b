// linux/idr.h on cabi/idr.cpp: lib/idr.c's allocation order and errors (idr_alloc, idr_alloc_cyclic, idr_replace,
// ida_alloc_range, ida_free's warning), and the locking rules of Documentation/core-api/idr.rst as reports: an IDR's
// unserialised changes are a data race, a lookup alongside a locked change is not (RCU readers are allowed), an IDR in
// freed memory is a use-after-free. The C side is tests/c/idr_cases.c.
#define BOOST_TEST_MODULE c_idr
#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/explorer.hpp"
#include "sim/report.hpp"
#include "sim/world.hpp"
#include "tests/c/case_run.hpp"
#include "tests/sim/test_models.hpp"

extern "C" {
struct idr_users;
int idr_case_semantics(long *out);
int ida_case_semantics(long *out);
void ida_case_free_unallocated(void);
void idr_case_find_in_freed(void);
struct idr_users *idr_case_shared(void);
int idr_case_alloc(struct idr_users *u, int locked);
int idr_case_lookup(struct idr_users *u);
}

namespace sim = devsim::sim;
namespace test = devsim::test;
using test::any_report;
using test::run_in_task;

namespace {

std::vector<long> answers(int (*fn)(long *), std::vector<sim::Report> *reports) {
  long out[64] = {};
  int n = 0;
  sim::Execution e = run_in_task([&] { n = fn(out); });
  if (reports != nullptr) *reports = e.reports;
  return std::vector<long>(out, out + n);
}

// Two tasks on one IDR, every schedule: the first changes it, the second changes it too or only looks.
sim::ExploreResult two_users(bool second_changes, bool locked) {
  const sim::Model model = [=](sim::World &w) {
    // LIFETIME: the world outlives its tasks; the struct is simulated memory the tasks share until the end.
    w.spawn("setup", [&w, second_changes, locked] {
      struct idr_users *u = idr_case_shared();
      w.spawn("first", [u, locked] { (void)idr_case_alloc(u, locked); });
      w.spawn("second", [u, second_changes, locked] {
        if (second_changes)
          (void)idr_case_alloc(u, locked);
        else
          (void)idr_case_lookup(u);
      });
    });
  };
  return test::explore_every_schedule(model);
}

}  // namespace

BOOST_AUTO_TEST_CASE(idr_allocates_the_lowest_free_id_and_cycles_on_request) {
  std::vector<sim::Report> reports;
  const std::vector<long> got = answers(idr_case_semantics, &reports);
  const std::vector<long> want = {1, 0, 1, 5, 6, -28, 1, 1, 1, 0, 1, -2, -22, 156, 2, 3, 4, 7, 2, 1};
  BOOST_TEST(got == want, boost::test_tools::per_element());
  // lib/idr.c idr_alloc: WARN_ON_ONCE(start < 0).
  BOOST_TEST_REQUIRE(reports.size() == 1u);
  BOOST_TEST(reports[0].kind == "warning");
  BOOST_TEST(reports[0].headline == "WARNING in idr_case_semantics: idr_alloc with a negative start");
}

BOOST_AUTO_TEST_CASE(ida_allocates_in_an_inclusive_range) {
  std::vector<sim::Report> reports;
  const std::vector<long> got = answers(ida_case_semantics, &reports);
  const std::vector<long> want = {1, 0, 1, 10, 11, -28, -28, 0, 1};
  BOOST_TEST(got == want, boost::test_tools::per_element());
  BOOST_TEST(reports.empty());
}

BOOST_AUTO_TEST_CASE(ida_free_of_an_id_not_allocated_warns) {
  sim::Execution e = run_in_task([] { ida_case_free_unallocated(); });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].headline ==
             "WARNING in ida_case_free_unallocated: ida_free called for id=3 which is not allocated");
}

BOOST_AUTO_TEST_CASE(an_idr_in_freed_memory_is_a_use_after_free_at_the_caller) {
  sim::Execution e = run_in_task([] { idr_case_find_in_freed(); });
  BOOST_TEST_REQUIRE(!e.reports.empty());
  BOOST_TEST(e.reports[0].kind == sim::bug::kUseAfterFree);
  BOOST_TEST(e.reports[0].headline.find("idr_case_find_in_freed") != std::string::npos, e.reports[0].headline);
}

// Documentation/core-api/idr.rst: the IDR's changes need the caller's lock; lookups may run under RCU alone.
BOOST_AUTO_TEST_CASE(unserialised_changes_race_and_a_lookup_beside_a_locked_change_does_not) {
  const sim::ExploreResult unlocked = two_users(/*second_changes=*/true, /*locked=*/false);
  BOOST_TEST(any_report(unlocked, sim::bug::kDataRace));

  const sim::ExploreResult locked = two_users(true, true);
  BOOST_TEST(locked.exhausted);
  BOOST_TEST(locked.failing_executions == 0u);

  const sim::ExploreResult lookup = two_users(/*second_changes=*/false, /*locked=*/true);
  BOOST_TEST(lookup.exhausted);
  BOOST_TEST(lookup.executions > 1u);
  BOOST_TEST(lookup.failing_executions == 0u);
}
