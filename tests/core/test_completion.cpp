// Completion (core/completion.hpp): complete() releases exactly one waiter, now or later; complete_all()
// releases everyone until reinit(); try_wait(); a wait nobody completes is a deadlock; the native path.
#define BOOST_TEST_MODULE core_completion
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <thread>

#include "core/completion.hpp"
#include "tests/core/locks_helpers.hpp"

using namespace devsim;
using core::test::exhaustive;

namespace {

struct Shared {
  core::Completion done;
  int released = 0;
};

// Two waiters and a completer that calls complete() `completes` times (or complete_all() once). The
// completer's calls may come before, between or after the waits, in every order the search tries.
sim::Model waiters(int completes, bool all, int* max_released) {
  return [=](sim::World& w) {
    auto s = std::make_shared<Shared>();
    for (int i = 0; i < 2; ++i) {
      w.spawn("waiter" + std::to_string(i), [s, max_released] {
        s->done.wait_for_completion();
        ++s->released;
        if (s->released > *max_released) *max_released = s->released;
      });
    }
    w.spawn("completer", [s, completes, all] {
      if (all) return s->done.complete_all();
      for (int i = 0; i < completes; ++i)
        s->done.complete();
    });
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_complete_releases_exactly_one_waiter_in_every_schedule) {
  int max_released = 0;
  sim::ExploreResult r = sim::explore(waiters(1, false, &max_released), exhaustive(2));
  BOOST_TEST(r.exhausted);
  // The other waiter never gets through: every schedule ends in the engine's deadlock report.
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST(core::test::every_failure_is(r, sim::bug::kDeadlock));
  BOOST_TEST(max_released == 1);
  BOOST_TEST_REQUIRE(r.first_failure.has_value());
  BOOST_TEST(core::test::any_detail_contains(r.first_failure->reports[0], "waits for completion at"));
}

BOOST_AUTO_TEST_CASE(two_completes_release_both_waiters_in_every_schedule) {
  int max_released = 0;
  sim::ExploreResult r = sim::explore(waiters(2, false, &max_released), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);
  BOOST_TEST(max_released == 2);
}

BOOST_AUTO_TEST_CASE(complete_all_releases_every_waiter_in_every_schedule) {
  int max_released = 0;
  sim::ExploreResult r = sim::explore(waiters(0, true, &max_released), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u);
  BOOST_TEST(max_released == 2);
}

BOOST_AUTO_TEST_CASE(counting_try_wait_and_reinit) {
  sim::Execution e = core::test::run_task([] {
    core::Completion c;
    BOOST_TEST(!c.done());
    BOOST_TEST(!c.try_wait());
    c.complete();
    c.complete();
    BOOST_TEST(c.done());
    BOOST_TEST(c.try_wait());
    c.wait_for_completion();  // the second done: does not block
    BOOST_TEST(!c.done());
    BOOST_TEST(!c.try_wait());
    c.complete_all();
    for (int i = 0; i < 3; ++i)
      BOOST_TEST(c.try_wait());
    c.wait_for_completion();
    c.complete();  // no effect on a completed-for-all completion
    BOOST_TEST(c.done());
    c.reinit();
    BOOST_TEST(!c.done());
    BOOST_TEST(!c.try_wait());
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(a_wait_blocks_until_the_complete) {
  std::string log;
  sim::Execution e = sim::run_once([&log](sim::World& w) {
    auto c = std::make_shared<core::Completion>();
    w.spawn("waiter", [c, &log] {
      log += "wait,";
      c->wait_for_completion();
      log += "woken,";
    });
    w.spawn("completer", [c, &log] {
      log += "complete,";
      c->complete();
    });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(log == "wait,complete,woken,");
}

BOOST_AUTO_TEST_CASE(native_complete_releases_a_thread) {
  core::Completion c;
  int value = 0;
  int seen = 0;
  std::thread t([&] {
    c.wait_for_completion();
    seen = value;  // written before complete(): visible after the wait
  });
  value = 42;
  c.complete();
  t.join();
  BOOST_TEST(seen == 42);
  BOOST_TEST(!c.done());  // the waiter consumed it
  c.complete_all();
  std::thread([&] { c.wait_for_completion(); }).join();
  BOOST_TEST(c.try_wait());
  c.reinit();
  BOOST_TEST(!c.try_wait());
}
