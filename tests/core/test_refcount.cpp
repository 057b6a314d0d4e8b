// refcount_t semantics: saturation, the use-after-free warnings, inc_not_zero.
#define BOOST_TEST_MODULE core_refcount
#include <boost/test/unit_test.hpp>

#include "core/refcount.hpp"
#include "sim/explorer.hpp"

using namespace devsim;

namespace {
// Runs `body` as the only task of a world and returns the world's reports.
template <class F>
std::vector<sim::Report> run_task(F body) {
  sim::Execution e = sim::run_once([&](sim::World& w) { w.spawn("t", body); });
  return e.reports;
}
}  // namespace

BOOST_AUTO_TEST_CASE(increment_from_zero_saturates_and_reports_use_after_free) {
  auto reports = run_task([] {
    core::Refcount r(0);
    r.inc();
    BOOST_TEST(r.saturated());
    BOOST_TEST(!r.dec_and_test());  // a saturated count never frees
  });
  BOOST_TEST_REQUIRE(reports.size() == 1u);
  BOOST_TEST(reports[0].kind == "refcount-warning");
  BOOST_TEST(reports[0].headline == "refcount_t: addition on 0; use-after-free.");
  BOOST_TEST(reports[0].fatal);
}

BOOST_AUTO_TEST_CASE(overflow_saturates_with_a_warning_and_never_frees) {
  auto reports = run_task([] {
    core::Refcount r(INT_MAX);
    r.inc();
    BOOST_TEST(r.saturated());
    for (int i = 0; i < 10; ++i)
      BOOST_TEST(!r.dec_and_test());
    BOOST_TEST(r.saturated());
  });
  // Then each decrement of the saturated count warns, not fatally, and leaves it saturated (lib/refcount.c
  // refcount_warn_saturate with REFCOUNT_SUB_UAF, from include/linux/refcount.h __refcount_sub_and_test).
  BOOST_TEST_REQUIRE(reports.size() == 11u);
  BOOST_TEST(reports[0].headline == "refcount_t: saturated; leaking memory.");
  for (const sim::Report& r : reports) {
    BOOST_TEST(!r.fatal);
    if (&r != &reports[0]) BOOST_TEST(r.headline == "refcount_t: underflow; use-after-free.");
  }
}

BOOST_AUTO_TEST_CASE(underflow_is_reported) {
  auto reports = run_task([] {
    core::Refcount r(1);
    BOOST_TEST(r.dec_and_test());
    BOOST_TEST(!r.dec_and_test());
  });
  BOOST_TEST_REQUIRE(reports.size() == 1u);
  BOOST_TEST(reports[0].headline == "refcount_t: underflow; use-after-free.");
}

BOOST_AUTO_TEST_CASE(inc_not_zero_refuses_a_dying_object) {
  auto reports = run_task([] {
    core::Refcount r(1);
    BOOST_TEST(r.inc_not_zero());
    BOOST_TEST(r.read() == 2);
    BOOST_TEST(!r.dec_and_test());
    BOOST_TEST(r.dec_and_test());
    BOOST_TEST(!r.inc_not_zero());
    BOOST_TEST(r.read() == 0);
  });
  BOOST_TEST(reports.empty());
}

BOOST_AUTO_TEST_CASE(native_semantics_match_without_a_world) {
  core::Refcount r(0);
  r.inc();
  BOOST_TEST(r.saturated());
  core::Refcount s(1);
  BOOST_TEST(s.inc_not_zero());
  BOOST_TEST(!s.dec_and_test());
  BOOST_TEST(s.dec_and_test());
}
