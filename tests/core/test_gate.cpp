// Gate (core/gate.hpp): close() waits for every holder in flight and refuses new entries, in every
// schedule; a close that waits for itself is a deadlock; holders move and leave early; the native path.
#define BOOST_TEST_MODULE core_gate
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <thread>

#include "core/gate.hpp"
#include "core/spinlock.hpp"
#include "tests/core/locks_helpers.hpp"

using namespace devsim;
using core::test::exhaustive;

namespace {

struct Shared {
  core::Gate gate;
  int inside = 0;       // users between a successful enter and their leave
  bool closed = false;  // close() has returned
};

struct Tally {
  int entered = 0;
  int refused = 0;
  int close_waited = 0;  // executions where close() found a holder inside
};

// Two users enter, work across a scheduling point and leave; a remover closes the gate and then checks
// that nobody is inside. A user that gets in after close() returned is a violation.
sim::Model drain_model(Tally* tally) {
  return [tally](sim::World& w) {
    auto s = std::make_shared<Shared>();
    for (int i = 0; i < 2; ++i) {
      w.spawn("user" + std::to_string(i), [s, tally] {
        auto in = s->gate.try_enter();
        if (!in) {
          ++tally->refused;
          return;
        }
        ++tally->entered;
        if (s->closed) core::test::violation("entered a closed gate");
        ++s->inside;
        sim::yield();  // the call in flight
        --s->inside;
      });
    }
    w.spawn("remover", [s, tally] {
      if (s->gate.count() > 0) ++tally->close_waited;
      s->gate.close();
      s->closed = true;
      if (s->inside != 0 || s->gate.count() != 0) core::test::violation("close() returned with a holder inside");
      if (s->gate.try_enter()) core::test::violation("a closed gate let a caller in");
    });
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(close_waits_for_holders_and_refuses_new_ones_in_every_schedule) {
  Tally tally;
  sim::ExploreResult r = sim::explore(drain_model(&tally), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);
  // The search covered both sides of the race: calls that got in, calls that were refused, and closes that
  // had to wait for a call in flight.
  BOOST_TEST(tally.entered > 0);
  BOOST_TEST(tally.refused > 0);
  BOOST_TEST(tally.close_waited > 0);
}

BOOST_AUTO_TEST_CASE(counting_moving_and_leaving_early) {
  sim::Execution e = core::test::run_task([] {
    core::Gate g;
    BOOST_TEST(g.count() == 0u);
    {
      auto a = g.try_enter();
      auto b = g.try_enter();
      BOOST_TEST_REQUIRE((a && b));
      BOOST_TEST(g.count() == 2u);
      core::Gate::Holder moved = std::move(*a);
      BOOST_TEST(g.count() == 2u);  // moving a holder is not leaving
      moved.leave();
      BOOST_TEST(g.count() == 1u);
      moved.leave();  // a second leave does nothing
      BOOST_TEST(g.count() == 1u);
    }
    BOOST_TEST(g.count() == 0u);
    BOOST_TEST(!g.is_closed());
    g.close();
    BOOST_TEST(g.is_closed());
    BOOST_TEST(!g.try_enter().has_value());
    g.close();  // idempotent
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(closing_while_holding_an_entry_is_a_deadlock) {
  sim::Execution e = core::test::run_task([] {
    core::Gate g;
    auto in = g.try_enter();
    g.close();  // waits for itself
  });
  BOOST_TEST(e.outcome == sim::Outcome::Deadlock);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(core::test::any_detail_contains(e.reports[0], "task t/0 waits for gate close at"));
}

BOOST_AUTO_TEST_CASE(closing_under_a_spinlock_is_sleep_in_atomic) {
  sim::Execution e = core::test::run_task([] {
    core::SpinLock s("S");
    auto held = s.guard();
    core::Gate g;
    g.close();
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kSleepInAtomic);
}

BOOST_AUTO_TEST_CASE(native_close_waits_for_a_holder_on_another_thread) {
  core::Gate g;
  std::optional<core::Gate::Holder> in = g.try_enter();
  BOOST_TEST_REQUIRE(in.has_value());
  int work = 0;
  std::thread closer([&] {
    g.close();
    work += 1;  // only after the holder left: ordered after the holder's write
  });
  work = 41;  // the holder's last access, before it leaves
  in.reset();
  closer.join();
  BOOST_TEST(work == 42);
  BOOST_TEST(g.is_closed());
  BOOST_TEST(g.count() == 0u);
  BOOST_TEST(!g.try_enter().has_value());
}
