// Helpers shared by the race suites R1-R8 (tests/drivers/test_r01..test_r08): loading a registered mock driver
// into the world, exploring a model exhaustively, reading the failures.
#pragma once

#include <boost/test/unit_test.hpp>
#include <string>
#include <string_view>

#include "bus/errno.hpp"
#include "drivers/registry.hpp"
#include "sim/explorer.hpp"
#include "tests/bus/bus_test_support.hpp"

namespace devsim::drivers::test {

using bus::test::describe;
using bus::test::expect;
using bus::test::found_kind;

// Module load of a registered driver (from inside a task). Fails the execution loudly if it is not registered.
inline bus::Driver* load(std::string_view name) {
  const DriverInfo* info = find_driver(name);
  if (info == nullptr) {
    expect(false, "driver not registered: " + std::string(name));
    return nullptr;
  }
  return load_driver(*info);
}

// Exhaustive search with a small preemption bound (every schedule that matters for these models).
inline sim::ExploreOptions exhaustive(int preemptions = 2) {
  return bus::test::exhaustive(preemptions);
}

// The first failure, rendered, for a BOOST_TEST message ("" when there is none).
inline std::string first_failure(const sim::ExploreResult& r) {
  return r.failures.empty() ? std::string() : sim::render_text(r.failures.front().report);
}

// The first failure of kind `kind` whose headline is exactly `headline`, or null.
inline const sim::Report* find_headline(const sim::ExploreResult& r, std::string_view headline) {
  for (const sim::Failure& f : r.failures)
    if (f.report.headline == headline) return &f.report;
  return nullptr;
}

// Every distinct failure's headline, one per line (for messages).
inline std::string headlines(const sim::ExploreResult& r) {
  std::string out;
  for (const sim::Failure& f : r.failures)
    out += f.report.headline + "\n";
  return out;
}

// The function a report site names ("" when the site is unknown).
inline std::string function_of(const std::optional<sim::TaskSite>& at) {
  return at && at->site ? sim::site_function(*at->site) : std::string();
}

// The model ran to the end of its whole space and nothing was reported in any execution.
inline void require_clean(const sim::ExploreResult& r, std::uint64_t min_executions = 2) {
  BOOST_TEST_MESSAGE(r.executions << " executions, exhausted: " << r.exhausted);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions >= min_executions);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
}

}  // namespace devsim::drivers::test
