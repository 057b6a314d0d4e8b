// SRCU: sleepable readers, per-domain grace periods that wait exactly for pre-existing readers, and the
// deadlock of synchronizing inside one's own section.
#define BOOST_TEST_MODULE core_srcu
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

#include "core/rcu.hpp"
#include "core/srcu.hpp"
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

void wait_for(const bool& flag) {
  while (!flag)
    sim::world().block(&flag, "test flag");
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

// SRCU readers may sleep, and synchronize waits for them across the sleep, in every schedule.
BOOST_AUTO_TEST_CASE(readers_may_sleep_and_synchronize_waits_for_them) {
  int synchronized = 0;
  sim::Model model = [&](sim::World& w) {
    struct State {
      core::Srcu srcu{"test"};
      bool a_in = false, a_out = false, b_returned = false;
    };
    auto s = std::make_shared<State>();
    w.spawn("reader", [s](sim::World& world) {
      core::SrcuReadGuard g = s->srcu.read_lock();
      set(s->a_in);
      world.sleep_for(1000);  // legal: SRCU readers sleep
      BOOST_TEST(!s->b_returned);
      g.unlock();
      s->a_out = true;
    });
    w.spawn("updater", [s, &synchronized] {
      wait_for(s->a_in);
      s->srcu.synchronize();
      BOOST_TEST(s->a_out);
      BOOST_TEST(s->srcu.readers() == 0u);
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

// A reader entering after synchronize() started does not delay it; a reader of another domain never does.
BOOST_AUTO_TEST_CASE(grace_period_waits_exactly_for_pre_existing_readers_of_its_own_domain) {
  int returned_while_others_inside = 0;
  sim::Model model = [&](sim::World& w) {
    struct State {
      core::Srcu srcu{"dev"};
      core::Srcu other{"other"};
      bool a_in = false, c_in = false, b_syncing = false, b_done = false;
      bool c_holding = false, d_holding = false;
      sim::TaskId updater = sim::kNoTask;
    };
    auto s = std::make_shared<State>();
    w.spawn("other-domain", [s] {
      core::SrcuReadGuard g = s->other.read_lock();
      s->d_holding = true;
      wait_for(s->b_done);
      s->d_holding = false;
    });
    w.spawn("early", [s] {
      core::SrcuReadGuard g = s->srcu.read_lock();
      set(s->a_in);
      wait_for(s->c_in);
    });
    s->updater = w.spawn("updater", [s, &returned_while_others_inside] {
      wait_for(s->a_in);
      s->b_syncing = true;
      s->srcu.synchronize();
      BOOST_TEST(s->c_holding);
      if (s->c_holding) ++returned_while_others_inside;
      set(s->b_done);
    });
    w.spawn("late", [s](sim::World& world) {
      while (!(s->b_syncing && world.task_state(s->updater) == sim::TaskState::Blocked))
        world.sleep_for(1);
      core::SrcuReadGuard g = s->srcu.read_lock();
      s->c_holding = true;
      set(s->c_in);
      wait_for(s->b_done);
      s->c_holding = false;
    });
  };
  sim::ExploreResult r = exhaustive(model, 1);
  BOOST_TEST_MESSAGE("executions: " << r.executions);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u, all_headlines(r));
  BOOST_TEST(returned_while_others_inside == static_cast<int>(r.executions));
}

BOOST_AUTO_TEST_CASE(synchronize_inside_its_own_section_is_a_reported_deadlock) {
  sim::Execution e = run_task([] {
    core::Srcu srcu("gpio");
    core::SrcuReadGuard g = srcu.read_lock();
    srcu.synchronize();
  });
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "deadlock");
  BOOST_TEST(e.reports[0].headline.find("synchronize_srcu(gpio) inside its own SRCU read-side critical section") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(synchronize_of_another_domain_inside_a_section_is_fine) {
  sim::Execution e = run_task([] {
    core::Srcu a("a"), b("b");
    core::SrcuReadGuard g = a.read_lock();
    b.synchronize();
  });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
}

BOOST_AUTO_TEST_CASE(synchronize_srcu_inside_an_rcu_read_section_is_sleep_in_atomic) {
  sim::Execution e = run_task([] {
    core::Srcu srcu("s");
    core::RcuReadGuard rcu;
    srcu.synchronize();
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "sleep-in-atomic");
}

BOOST_AUTO_TEST_CASE(native_sections_count_and_synchronize_returns_without_readers) {
  core::Srcu srcu("native");
  {
    core::SrcuReadGuard a = srcu.read_lock();
    core::SrcuReadGuard b = srcu.read_lock();
    BOOST_TEST(srcu.readers() == 2u);
    core::SrcuReadGuard moved = std::move(b);
    BOOST_TEST(!b.active());
    BOOST_TEST(srcu.readers() == 2u);
  }
  BOOST_TEST(srcu.readers() == 0u);
  srcu.synchronize();
  srcu.synchronize();
  core::SrcuReadGuard after = srcu.read_lock();
  BOOST_TEST(after.index() == 0u);  // two flips: back to the first index
}
