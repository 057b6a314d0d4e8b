// RCU: read sections, grace periods that wait exactly for pre-existing readers, call_rcu, rcu_barrier, and
// the misuse the simulator reports (sleeping in a read section, synchronize_rcu inside one).
#define BOOST_TEST_MODULE core_rcu
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/rcu.hpp"
#include "sim/explorer.hpp"
#include "tests/sim/test_models.hpp"

using namespace devsim;

namespace {

template <class F>
sim::Execution run_task(F body) {
  return sim::run_once([&](sim::World& w) { w.spawn("t", body); });
}

sim::ExploreResult exhaustive(const sim::Model& model, int preemption_bound = 2) {
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Exhaustive;
  o.strategy.preemption_bound = preemption_bound;
  o.max_executions = 0;
  return sim::explore(model, o);
}

// Blocks the current task until `flag` is set by a task that then calls wake_all(&flag). `sleeps` false inside
// a read section: there it models a busy-wait, which is legal in atomic context.
void wait_for(const bool& flag, bool sleeps = true) {
  while (!flag)
    sim::world().block(&flag, "test flag", core::Site::current(), sleeps);
}
void set(bool& flag) {
  flag = true;
  sim::world().wake_all(&flag);
}

std::string all_headlines(const sim::ExploreResult& r) {
  std::string out;
  for (const sim::Failure& f : r.failures)
    out += f.report.headline + "\n";
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(sleeping_inside_a_read_section_is_sleep_in_atomic) {
  sim::Execution e = run_task([] {
    core::RcuReadGuard g;
    sim::world().sleep_for(1000);
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "sleep-in-atomic");
  BOOST_TEST(e.reports[0].headline.find("rcu_read_lock") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(synchronize_rcu_inside_a_read_section_is_a_reported_deadlock_not_a_hang) {
  unsigned lock_line = 0;
  sim::Execution e = run_task([&] {
    lock_line = core::Site::current().line() + 1;
    core::RcuReadGuard g;
    core::synchronize_rcu();
  });
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  const sim::Report& r = e.reports[0];
  BOOST_TEST(r.kind == "deadlock");
  BOOST_TEST(r.headline.find("synchronize_rcu() inside an RCU read-side critical section") != std::string::npos);
  BOOST_TEST_REQUIRE(r.details.size() == 1u);
  BOOST_TEST(r.details[0].find("test_rcu.cpp:" + std::to_string(lock_line)) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(synchronize_rcu_under_another_atomic_hold_is_sleep_in_atomic) {
  static const char spinlock = 0;
  sim::Execution e = run_task([] {
    sim::world().note_acquired(&spinlock, "spinlock", core::Site::current(), sim::HoldKind::Atomic);
    core::synchronize_rcu();
    sim::world().note_released(&spinlock);
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "sleep-in-atomic");
  BOOST_TEST(e.reports[0].headline.find("synchronize_rcu") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(read_sections_nest_and_are_visible_to_the_test_hook) {
  sim::Execution e = run_task([] {
    BOOST_TEST(!core::rcu_read_lock_held());
    {
      core::RcuReadGuard outer;
      {
        core::RcuReadGuard inner = core::rcu_read_lock();
        BOOST_TEST(core::rcu_read_lock_held());
      }
      BOOST_TEST(core::rcu_read_lock_held());
    }
    BOOST_TEST(!core::rcu_read_lock_held());
    core::synchronize_rcu();  // no reader: returns without blocking
  });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
}

// A reader inside its section when synchronize_rcu() starts holds it up: the synchronizer returns only after the
// reader left, in every schedule. Nested sections count as one.
BOOST_AUTO_TEST_CASE(grace_period_waits_for_a_pre_existing_reader_in_every_schedule) {
  int synchronized = 0;
  sim::Model model = [&](sim::World& w) {
    struct State {
      bool a_in = false, a_out = false;
      bool b_returned = false;
    };
    auto s = std::make_shared<State>();
    w.spawn("reader", [s] {
      core::RcuReadGuard outer;
      {
        core::RcuReadGuard inner;
        set(s->a_in);
      }
      sim::yield();
      sim::yield();
      BOOST_TEST(!s->b_returned);
      outer.unlock();
      s->a_out = true;
    });
    w.spawn("updater", [s, &synchronized] {
      wait_for(s->a_in);
      core::synchronize_rcu();
      BOOST_TEST(s->a_out);
      s->b_returned = true;
      ++synchronized;
    });
  };
  sim::ExploreResult r = exhaustive(model);
  BOOST_TEST_MESSAGE("executions: " << r.executions);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u, all_headlines(r));
  BOOST_TEST(synchronized == static_cast<int>(r.executions));
}

// The exactness property: a reader that enters after synchronize_rcu() started does not delay it. The late
// reader holds its section until the synchronizer has returned, so a grace period that waited for it would
// deadlock (and be reported).
BOOST_AUTO_TEST_CASE(grace_period_does_not_wait_for_readers_that_started_after_it) {
  int returned_while_late_reader_inside = 0;
  sim::Model model = [&](sim::World& w) {
    struct State {
      bool a_in = false, c_in = false, b_syncing = false, b_done = false;
      bool c_holding = false;
      sim::TaskId updater = sim::kNoTask;
    };
    auto s = std::make_shared<State>();
    w.spawn("early", [s] {
      core::RcuReadGuard g;
      set(s->a_in);
      wait_for(s->c_in, /*sleeps=*/false);  // leave only once the late reader is inside
    });
    s->updater = w.spawn("updater", [s, &returned_while_late_reader_inside] {
      wait_for(s->a_in);
      s->b_syncing = true;
      core::synchronize_rcu();
      BOOST_TEST(s->c_holding);
      if (s->c_holding) ++returned_while_late_reader_inside;
      set(s->b_done);
    });
    w.spawn("late", [s](sim::World& world) {
      // The updater blocks only inside synchronize_rcu() once b_syncing is set: then its grace period has begun.
      // Virtual time passes only when nobody can run, so this loop is not a spin.
      while (!(s->b_syncing && world.task_state(s->updater) == sim::TaskState::Blocked))
        world.sleep_for(1);
      core::RcuReadGuard g;
      s->c_holding = true;
      set(s->c_in);
      wait_for(s->b_done, /*sleeps=*/false);
      s->c_holding = false;
    });
  };
  sim::ExploreResult r = exhaustive(model);
  BOOST_TEST_MESSAGE("executions: " << r.executions);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u, all_headlines(r));
  BOOST_TEST(returned_while_late_reader_inside == static_cast<int>(r.executions));
}

BOOST_AUTO_TEST_CASE(call_rcu_runs_after_the_readers_and_before_the_execution_completes) {
  int callbacks = 0;
  sim::Model model = [&](sim::World& w) {
    struct State {
      bool a_in = false, a_out = false, cb_ran = false;
    };
    auto s = std::make_shared<State>();
    w.spawn("reader", [s] {
      core::RcuReadGuard g;
      set(s->a_in);
      sim::yield();
      sim::yield();
      BOOST_TEST(!s->cb_ran);
      g.unlock();
      s->a_out = true;
    });
    w.spawn("updater", [s, &callbacks] {
      wait_for(s->a_in);
      core::call_rcu([s, &callbacks] {
        BOOST_TEST(s->a_out);
        BOOST_TEST(core::rcu_read_lock_held() == false);
        s->cb_ran = true;
        ++callbacks;
      });
    });
  };
  sim::ExploreResult r = exhaustive(model);
  BOOST_TEST_MESSAGE("executions: " << r.executions);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u, all_headlines(r));
  BOOST_TEST(callbacks == static_cast<int>(r.executions));
}

BOOST_AUTO_TEST_CASE(rcu_barrier_waits_for_every_queued_callback_in_order) {
  std::vector<int> order;
  sim::Execution e = run_task([&] {
    core::call_rcu([&] { order.push_back(1); });
    core::call_rcu([&] { order.push_back(2); });
    BOOST_TEST(order.empty());
    core::rcu_barrier();
    BOOST_TEST(order.size() == 2u);
    core::call_rcu([&] { order.push_back(3); });  // a second worker, after the first one exited
    core::rcu_barrier();
  });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(order == (std::vector<int>{1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(a_callback_runs_in_atomic_context) {
  sim::Execution e = run_task([] { core::call_rcu([] { sim::world().sleep_for(10); }); });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "sleep-in-atomic");
  BOOST_TEST(e.reports[0].headline.find("RCU callback") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_reader_that_never_leaves_blocks_the_grace_period_as_a_deadlock) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    auto forever = std::make_shared<bool>(false);
    w.spawn("reader", [forever] {
      core::RcuReadGuard g;
      wait_for(*forever, /*sleeps=*/false);
    });
    w.spawn("updater", [] { core::synchronize_rcu(); });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Deadlock);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "deadlock");
  bool names_grace_period = false;
  for (const std::string& d : e.reports[0].details)
    names_grace_period |= d.find("synchronize_rcu grace period") != std::string::npos;
  BOOST_TEST(names_grace_period);
}

// ---- native -------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(native_read_sections_synchronize_and_callbacks) {
  BOOST_TEST(!core::rcu_read_lock_held());
  {
    core::RcuReadGuard g;
    BOOST_TEST(core::rcu_read_lock_held());
    BOOST_CHECK_THROW(core::synchronize_rcu(), std::logic_error);
  }
  BOOST_TEST(!core::rcu_read_lock_held());
  core::synchronize_rcu();
  std::atomic<int> ran{0};
  core::call_rcu([&ran] { ran.fetch_add(1); });
  core::call_rcu([&ran] { ran.fetch_add(1); });
  core::rcu_barrier();
  BOOST_TEST(ran.load() == 2);
}
