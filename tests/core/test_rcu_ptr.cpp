// Rcu<P>: dereference under a read guard, copy_update/replace returning RcuOld whose drop waits for a grace
// period, and the unsynchronised free caught as a use-after-free.
#define BOOST_TEST_MODULE core_rcu_ptr
#include <boost/test/unit_test.hpp>

#include <memory>
#include <optional>
#include <string>

#include "core/rcu_ptr.hpp"
#include "sim/explorer.hpp"
#include "tests/sim/test_models.hpp"

using namespace devsim;

namespace {

// A value that says when it is destroyed (moved-from shells do not count).
struct Config {
  Config(int v, bool* destroyed) : value(v), destroyed(destroyed) {}
  Config(Config&& o) noexcept : value(o.value), destroyed(std::exchange(o.destroyed, nullptr)) {}
  ~Config() {
    if (destroyed != nullptr) *destroyed = true;
  }
  int value;
  bool* destroyed;
};

using Box = core::KBox<Config>;

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

std::string all_headlines(const sim::ExploreResult& r) {
  std::string out;
  for (const sim::Failure& f : r.failures)
    out += f.report.headline + "\n";
  return out;
}

}  // namespace

// ---- native ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(native_dereference_replace_and_grace_period_drop) {
  bool first_gone = false, second_gone = false;
  {
    core::Rcu<Box> rcu(Box::make(Config(1, &first_gone)));
    {
      core::RcuReadGuard g;
      auto v = rcu.dereference(g);
      BOOST_TEST_REQUIRE(static_cast<bool>(v));
      BOOST_TEST(v->value == 1);
    }
    std::optional<core::RcuOld<Box>> old = rcu.replace(Box::make(Config(2, &second_gone)));
    BOOST_TEST_REQUIRE(old.has_value());
    BOOST_TEST(!first_gone);  // unpublished, not freed
    {
      core::RcuReadGuard g;
      BOOST_TEST(rcu.dereference(g)->value == 2);
    }
    old.reset();  // grace period, then free
    BOOST_TEST(first_gone);
    BOOST_TEST(!second_gone);
  }
  BOOST_TEST(second_gone);  // Rcu's destructor frees the current value
}

BOOST_AUTO_TEST_CASE(native_copy_update_reads_the_old_value_and_may_publish_null) {
  core::Rcu<core::KBox<int>> rcu;
  BOOST_TEST(rcu.is_null());
  auto none = rcu.copy_update([](core::Borrowed<int> old) {
    BOOST_TEST(!old);
    return core::KBox<int>::make(10);
  });
  BOOST_TEST(!none.has_value());
  auto old = rcu.copy_update([](core::Borrowed<int> o) { return core::KBox<int>::make(*o + 1); });
  BOOST_TEST(old.has_value());
  {
    core::RcuReadGuard g;
    BOOST_TEST(*rcu.dereference(g) == 11);
  }
  auto last = rcu.copy_update([](core::Borrowed<int>) { return std::optional<core::KBox<int>>(); });
  BOOST_TEST(last.has_value());
  BOOST_TEST(rcu.is_null());
  core::RcuReadGuard g;
  BOOST_TEST(!rcu.dereference(g));
}

BOOST_AUTO_TEST_CASE(native_arc_borrow_can_outlive_the_replace_through_a_real_count) {
  core::Rcu<core::Arc<std::string>> rcu(core::Arc<std::string>::make("v1"));
  core::Arc<std::string> kept = [&] {
    core::RcuReadGuard g;
    return rcu.dereference(g).to_arc();
  }();
  rcu.replace(core::Arc<std::string>::make("v2"));  // the RcuOld temporary waits and drops its count
  BOOST_TEST(*kept == "v1");
  BOOST_TEST(kept.refcount() == 1);
}

BOOST_AUTO_TEST_CASE(native_free_after_grace_period_defers_through_call_rcu) {
  bool gone = false;
  core::Rcu<Box> rcu(Box::make(Config(1, &gone)));
  rcu.replace(Box::make(Config(2, nullptr)))->free_after_grace_period();
  core::rcu_barrier();
  BOOST_TEST(gone);
}

// ---- the race models, explored exhaustively ----------------------------------------------------------------

// replace() while a reader holds a borrow of the old value: the old value stays alive until the reader leaves,
// in every schedule, and nothing is reported.
BOOST_AUTO_TEST_CASE(replace_keeps_the_old_value_alive_until_the_reader_leaves) {
  int saw_old = 0, saw_new = 0;
  sim::Model model = [&](sim::World& w) {
    struct State {
      bool old_gone = false;
      bool reading_old = false;
      core::Rcu<Box> rcu;
    };
    auto s = std::make_shared<State>();
    s->rcu.replace(Box::make(Config(1, &s->old_gone)));
    w.spawn("reader", [s, &saw_old, &saw_new] {
      core::RcuReadGuard g;
      auto v = s->rcu.dereference(g);
      const int first = v.load(&Config::value);
      s->reading_old = first == 1;
      sim::yield();
      BOOST_TEST(!(first == 1 && s->old_gone));  // the value this borrow sees is alive
      BOOST_TEST(v.read().value == first);
      (first == 1 ? saw_old : saw_new) += 1;
      s->reading_old = false;
    });
    w.spawn("updater", [s] {
      std::optional<core::RcuOld<Box>> old = s->rcu.replace(Box::make(Config(2, nullptr)));
      old.reset();
      BOOST_TEST(s->old_gone);
      // A reader of the old value has left; one that came after the replace may still be inside (it sees the
      // new value and the grace period need not wait for it).
      BOOST_TEST(!s->reading_old);
    });
  };
  sim::ExploreResult r = exhaustive(model);
  BOOST_TEST_MESSAGE("executions: " << r.executions);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, all_headlines(r));
  BOOST_TEST(saw_old > 0);
  BOOST_TEST(saw_new > 0);
}

// The buggy updater: frees the old value without a grace period. Some schedule makes the reader use it.
BOOST_AUTO_TEST_CASE(replace_and_free_unsynchronized_is_a_use_after_free_naming_both_sites) {
  static unsigned read_line, free_line;
  sim::Model model = [&](sim::World& w) {
    auto rcu = std::make_shared<core::Rcu<core::KBox<int>>>(core::KBox<int>::make(1));
    w.spawn("reader", [rcu] {
      core::RcuReadGuard g;
      auto v = rcu->dereference(g);
      read_line = core::Site::current().line() + 1;
      (void)v.read();
    });
    w.spawn("updater", [rcu] {
      free_line = core::Site::current().line() + 1;
      rcu->replace_and_free_unsynchronized(core::KBox<int>::make(2));
    });
  };
  sim::ExploreResult r = exhaustive(model);
  BOOST_TEST_MESSAGE("executions: " << r.executions << ", failing: " << r.failing_executions);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions > 0u);
  BOOST_TEST(r.failing_executions < r.executions);
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  const sim::Report& rep = r.failures[0].report;
  BOOST_TEST(rep.kind == "use-after-free");
  BOOST_TEST(rep.accessed_by->task.find("reader") == 0u);
  BOOST_TEST(rep.accessed_by->site->line() == read_line);
  BOOST_TEST(rep.freed_by->task.find("updater") == 0u);
  BOOST_TEST(rep.freed_by->site->line() == free_line);
}

// The same race with an Arc-managed value.
BOOST_AUTO_TEST_CASE(arc_values_get_the_same_guarantee_and_the_same_detection) {
  sim::Model fixed = [](sim::World& w) {
    auto rcu = std::make_shared<core::Rcu<core::Arc<int>>>(core::Arc<int>::make(1));
    w.spawn("reader", [rcu] {
      core::RcuReadGuard g;
      auto v = rcu->dereference(g);
      sim::yield();
      BOOST_TEST(v.read() >= 1);
    });
    w.spawn("updater", [rcu] { rcu->replace(core::Arc<int>::make(2)); });
  };
  sim::ExploreResult ok = exhaustive(fixed);
  BOOST_TEST(ok.exhausted);
  BOOST_TEST(ok.failing_executions == 0u, all_headlines(ok));

  sim::Model buggy = [](sim::World& w) {
    auto rcu = std::make_shared<core::Rcu<core::Arc<int>>>(core::Arc<int>::make(1));
    w.spawn("reader", [rcu] {
      core::RcuReadGuard g;
      auto v = rcu->dereference(g);
      (void)v.read();
    });
    w.spawn("updater", [rcu] { rcu->replace_and_free_unsynchronized(core::Arc<int>::make(2)); });
  };
  sim::ExploreResult bad = exhaustive(buggy);
  BOOST_TEST(bad.exhausted);
  BOOST_TEST_REQUIRE(bad.failures.size() == 1u);
  BOOST_TEST(bad.failures[0].report.kind == "use-after-free");
}

// Updaters are exclusive: two read-copy-updates that allocate (a scheduling point) inside the update never lose
// an increment, in any schedule.
BOOST_AUTO_TEST_CASE(concurrent_copy_updates_are_serialised) {
  int checked = 0;
  sim::Model model = [&](sim::World& w) {
    struct State {
      core::Rcu<core::KBox<int>> rcu{core::KBox<int>::make(0)};
      int done = 0;
    };
    auto s = std::make_shared<State>();
    for (int i = 0; i < 2; ++i) {
      w.spawn("updater" + std::to_string(i), [s, &checked] {
        s->rcu.copy_update([](core::Borrowed<int> old) { return core::KBox<int>::make(old.read() + 1); });
        if (++s->done == 2) {
          core::RcuReadGuard g;
          BOOST_TEST(s->rcu.dereference(g).read() == 2);
          ++checked;
        }
      });
    }
  };
  sim::ExploreResult r = exhaustive(model);
  BOOST_TEST_MESSAGE("executions: " << r.executions);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, all_headlines(r));
  BOOST_TEST(checked == static_cast<int>(r.executions));
}

// free_after_grace_period: the updater does not wait, the old value is still freed only after the reader left,
// and before the execution completes (no leak).
BOOST_AUTO_TEST_CASE(deferred_free_waits_for_the_reader_without_blocking_the_updater) {
  // LIFETIME: the flag lives in the test, not in the model's state: the callback task frees the old value after
  // the model's tasks (and their state) are gone.
  bool old_gone = false;
  sim::Model model = [&](sim::World& w) {
    old_gone = false;
    auto rcu = std::make_shared<core::Rcu<Box>>(Box::make(Config(1, &old_gone)));
    w.spawn("reader", [rcu, &old_gone] {
      core::RcuReadGuard g;
      auto v = rcu->dereference(g);
      const int first = v.load(&Config::value);
      sim::yield();
      BOOST_TEST(!(first == 1 && old_gone));
      (void)v.read();
    });
    w.spawn("updater", [rcu] { rcu->replace(Box::make(Config(2, nullptr)))->free_after_grace_period(); });
  };
  sim::ExploreResult r = exhaustive(model);
  BOOST_TEST_MESSAGE("executions: " << r.executions);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, all_headlines(r));  // a callback that never ran would be a leak report
}

BOOST_AUTO_TEST_CASE(dropping_an_rcu_old_inside_a_read_section_is_a_reported_deadlock) {
  sim::Execution e = run_task([] {
    core::Rcu<core::KBox<int>> rcu(core::KBox<int>::make(1));
    core::RcuReadGuard g;
    rcu.replace(core::KBox<int>::make(2));  // the RcuOld temporary synchronizes inside the section
  });
  BOOST_TEST_REQUIRE(e.reports.size() >= 1u);
  BOOST_TEST(e.reports[0].kind == "deadlock");
  BOOST_TEST(e.reports[0].headline.find("synchronize_rcu()") != std::string::npos);
}
