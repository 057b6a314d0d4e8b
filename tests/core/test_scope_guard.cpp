// ScopeGuard: cleanup on every way out of a scope, dismiss, the data-less form, and cleanup while the simulator
// unwinds a task.
#define BOOST_TEST_MODULE core_scope_guard
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "core/scope_guard.hpp"
#include "lifetime_support.hpp"
#include "sim/kmalloc.hpp"

using namespace devsim;
using core::ScopeGuard;

BOOST_AUTO_TEST_CASE(cleanup_runs_with_the_data_at_scope_exit) {
  std::vector<int> cleaned;
  {
    ScopeGuard guard(7, [&](int& v) { cleaned.push_back(v); });
    *guard += 1;
    BOOST_TEST(guard.armed());
    BOOST_TEST(cleaned.empty());
  }
  BOOST_TEST(cleaned == std::vector<int>{8});
}

BOOST_AUTO_TEST_CASE(dismiss_cancels_and_returns_the_data) {
  int runs = 0;
  std::string kept;
  {
    ScopeGuard guard(std::string("buffer"), [&](std::string&) { ++runs; });
    kept = guard.dismiss();
    BOOST_TEST(!guard.armed());
  }
  BOOST_TEST(runs == 0);
  BOOST_TEST(kept == "buffer");
}

BOOST_AUTO_TEST_CASE(dataless_form_and_reverse_order) {
  std::vector<int> order;
  {
    ScopeGuard first([&] { order.push_back(1); });
    ScopeGuard second([&] { order.push_back(2); });
    ScopeGuard third([&] { order.push_back(3); });
    third.dismiss();
  }
  BOOST_TEST(order == (std::vector<int>{2, 1}));  // the goto-unwind ladder: last acquired, first undone
}

BOOST_AUTO_TEST_CASE(cleanup_runs_on_exception) {
  int runs = 0;
  try {
    ScopeGuard guard([&] { ++runs; });
    throw std::runtime_error("probe failed");
  } catch (const std::runtime_error&) {
  }
  BOOST_TEST(runs == 1);
}

BOOST_AUTO_TEST_CASE(probe_error_path_frees_exactly_what_was_allocated) {
  auto e = core::test::run_task([] {
    auto a = sim::kmalloc<int>(1);
    ScopeGuard free_a(a, [](sim::KPtr<int>& p) { sim::kfree(p); });
    auto b = sim::kmalloc<int>(2);
    ScopeGuard free_b(b, [](sim::KPtr<int>& p) { sim::kfree(p); });
    // success for b: ownership moves on; a is undone when the scope ends (the failing step came after it)
    sim::KPtr<int> kept = free_b.dismiss();
    sim::kfree(kept);
  });
  BOOST_TEST(e.reports.empty());  // no leak, no double free
}

BOOST_AUTO_TEST_CASE(cleanup_with_scheduling_points_completes_while_the_world_unwinds_the_task) {
  int cleaned = 0;
  auto e = sim::run_once([&](sim::World& w) {
    w.spawn("stuck", [&cleaned] {
      auto buf = sim::kmalloc<int>(0);
      ScopeGuard guard(buf, [&cleaned](sim::KPtr<int>& p) {
        sim::kfree(p);  // a scheduling point, reached during teardown
        ++cleaned;
      });
      static const int channel = 0;
      sim::world().block(&channel, "never woken");  // deadlock: the world ends and unwinds this task
    });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Deadlock);
  BOOST_TEST(cleaned == 1);  // ran to the end instead of unwinding (cancel_current) out of a destructor
}
