// For every buggy driver of the race table: a fixed-seed campaign with an execution budget finds its bug (the
// kind the driver declares), writes a reproducer of at most 12 operations, and the reproducer replays to the
// same signature. For the fixed drivers: the same budget finds nothing.
#define BOOST_TEST_MODULE fuzz_finds_every_bug
#include <boost/test/unit_test.hpp>

#include "fuzz/fuzzer.hpp"
#include "scenarios/parser.hpp"
#include "scenarios/runner.hpp"

using namespace devsim;

namespace {
constexpr std::uint64_t kBudget = 40'000;  // executions per driver
}

BOOST_AUTO_TEST_CASE(every_buggy_driver_is_found_and_shrunk) {
  int drivers_checked = 0;
  for (const drivers::DriverInfo& d : drivers::all_drivers()) {
    if (!d.buggy) continue;
    ++drivers_checked;
    BOOST_TEST_CONTEXT("driver " << d.name << " (" << d.race << ", " << d.bug_kind << ")") {
      fuzz::CampaignOptions o;
      o.driver = d.name;
      o.seed = 1;
      o.executions = kBudget;
      o.stop_at_first = false;
      fuzz::CampaignResult r = fuzz::run_campaign(o);
      const fuzz::Finding* hit = nullptr;
      for (const fuzz::Finding& f : r.findings)
        if (f.report.kind == d.bug_kind && hit == nullptr) hit = &f;
      BOOST_TEST_REQUIRE(hit != nullptr, "no " << d.bug_kind << " in " << r.executions << " executions");
      BOOST_TEST(!hit->reproducer.empty());
      BOOST_TEST(hit->ops_after <= 12u);
      scenarios::Scenario repro = scenarios::parse_scenario(hit->reproducer, d.name + "-repro.scn");
      scenarios::Verdict v = scenarios::run_scenario(repro);
      BOOST_TEST(!v.passed);
      bool same = false;
      for (const sim::Failure& f : v.result.failures)
        same = same || f.signature == hit->signature;
      BOOST_TEST(same, "the reproducer replays to "
                           << (v.result.failures.empty() ? "nothing" : v.result.failures[0].signature));
      BOOST_TEST_MESSAGE(d.name << ": found after " << hit->first_execution << " executions, " << hit->ops_before
                                << " -> " << hit->ops_after << " operations");
    }
  }
  BOOST_TEST(drivers_checked > 0);
}
