// Revocable<T> and SrcuRevocable<T>: access while available, revoke waits for readers in flight, and
// revoke_nosync's missing grace period caught as a use-after-free naming both sites.
#define BOOST_TEST_MODULE core_revocable
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "core/revocable.hpp"
#include "sim/explorer.hpp"
#include "tests/sim/test_models.hpp"

using namespace devsim;

namespace {

constexpr std::uint64_t kCanary = 0xC0FFEE0DDF00DULL;

struct Regs {
  std::uint64_t canary = kCanary;
  int value = 0;
};

// Counts destructions of values really constructed.
struct Tracked {
  explicit Tracked(int* destroyed) : destroyed(destroyed) {}
  Tracked(Tracked&& o) noexcept : destroyed(std::exchange(o.destroyed, nullptr)) {}
  ~Tracked() {
    if (destroyed != nullptr) ++*destroyed;
  }
  int* destroyed;
};

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

// ---- both runtimes: the contract ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(native_access_revoke_is_idempotent_and_destroys_once) {
  int destroyed = 0;
  core::Revocable<Tracked> r{Tracked(&destroyed)};
  BOOST_TEST(r.is_available());
  {
    auto g = r.try_access();
    BOOST_TEST_REQUIRE(static_cast<bool>(g));
    BOOST_TEST(g->destroyed == &destroyed);
  }
  BOOST_TEST(r.revoke());
  BOOST_TEST(destroyed == 1);
  BOOST_TEST(!r.revoke());
  BOOST_TEST(!r.revoke_nosync());
  BOOST_TEST(!r.try_access());
  BOOST_TEST(!r.is_available());
  BOOST_TEST(destroyed == 1);
}

BOOST_AUTO_TEST_CASE(native_try_access_with_returns_the_result_or_nothing) {
  core::Revocable<Regs> r(Regs{kCanary, 5});
  std::optional<int> v = r.try_access_with([](const Regs& regs) { return regs.value * 2; });
  BOOST_TEST(v.value() == 10);
  bool ran = r.try_access_with([](const Regs&) {});
  BOOST_TEST(ran);
  r.revoke();
  BOOST_TEST(!r.try_access_with([](const Regs& regs) { return regs.value; }).has_value());
  BOOST_TEST(!r.try_access_with([](const Regs&) {}));
}

BOOST_AUTO_TEST_CASE(an_unrevoked_value_is_destroyed_with_its_owner_in_both_runtimes) {
  int destroyed = 0;
  { core::SrcuRevocable<Tracked> r{Tracked(&destroyed)}; }
  BOOST_TEST(destroyed == 1);
  sim::Execution e = run_task([&] { core::Revocable<Tracked> r{Tracked(&destroyed)}; });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(destroyed == 2);
}

BOOST_AUTO_TEST_CASE(simulated_guards_write_through_checked_accesses) {
  sim::Execution e = run_task([] {
    core::SrcuRevocable<Regs> r(Regs{});
    if (auto g = r.try_access()) {
      g.store(&Regs::value, 7);
      g.write().value += 1;
      BOOST_TEST(g.load(&Regs::value) == 8);
      g.release();
      BOOST_TEST(!g);
    }
    BOOST_TEST(r.try_access_with([](const Regs& regs) { return regs.value; }).value() == 8);
    BOOST_TEST(r.revoke());
    BOOST_TEST(sim::world().memory().live_objects() == 0u);
  });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
}

// ---- the race models, explored exhaustively ----------------------------------------------------------------

// revoke() while a reader holds a guard: revoke waits for it; afterwards try_access is empty; no report in any
// schedule. Both outcomes for the reader (got in before the revoke, or came too late) are explored.
BOOST_AUTO_TEST_CASE(revoke_waits_for_a_reader_holding_a_guard_in_every_schedule) {
  int reader_got_in = 0, reader_too_late = 0;
  sim::Model model = [&](sim::World& w) {
    struct State {
      core::Revocable<Regs> regs{Regs{kCanary, 1}};
      bool inside = false;
    };
    auto s = std::make_shared<State>();
    w.spawn("reader", [s, &reader_got_in, &reader_too_late] {
      if (auto g = s->regs.try_access()) {
        s->inside = true;
        BOOST_TEST(g->canary == kCanary);
        BOOST_TEST(g.load(&Regs::value) == 1);
        s->inside = false;
        ++reader_got_in;
      } else {
        ++reader_too_late;
      }
    });
    w.spawn("remove", [s] {
      BOOST_TEST(s->regs.revoke());
      BOOST_TEST(!s->inside);  // no reader is left inside once revoke returned
      BOOST_TEST(!s->regs.try_access());
      BOOST_TEST(!s->regs.revoke());
    });
  };
  sim::ExploreResult r = exhaustive(model);
  BOOST_TEST_MESSAGE("executions: " << r.executions);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, all_headlines(r));
  BOOST_TEST(reader_got_in > 0);
  BOOST_TEST(reader_too_late > 0);
  BOOST_TEST(reader_got_in + reader_too_late == static_cast<int>(r.executions));
}

// revoke_nosync() with a reader in flight: the missing grace period is a use-after-free in some schedule, and
// the report names the reader's access, the revoke's free and the allocation.
BOOST_AUTO_TEST_CASE(revoke_nosync_with_a_reader_is_a_use_after_free_naming_both_sites) {
  static unsigned alloc_line, read_line, free_line;
  sim::Model model = [&](sim::World& w) {
    struct State {
      explicit State(const core::Site& site) : regs(Regs{kCanary, 1}, site) {}
      core::Revocable<Regs> regs;
    };
    alloc_line = core::Site::current().line() + 1;
    auto s = std::make_shared<State>(core::Site::current());
    w.spawn("reader", [s] {
      if (auto g = s->regs.try_access()) {
        read_line = core::Site::current().line() + 1;
        (void)g.load(&Regs::value);
      }
    });
    w.spawn("remove", [s] {
      free_line = core::Site::current().line() + 1;
      s->regs.revoke_nosync();
    });
  };
  sim::ExploreResult r = exhaustive(model);
  BOOST_TEST_MESSAGE("executions: " << r.executions << ", failing: " << r.failing_executions);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions > 0u);
  BOOST_TEST(r.failing_executions < r.executions);  // the reader sometimes finishes first
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  const sim::Report& rep = r.failures[0].report;
  BOOST_TEST(rep.kind == "use-after-free");
  BOOST_TEST(rep.headline.find("use-after-free in") == 0u);
  BOOST_TEST_REQUIRE(rep.accessed_by.has_value());
  BOOST_TEST(rep.accessed_by->task.find("reader") == 0u);
  BOOST_TEST(rep.accessed_by->site->line() == read_line);
  BOOST_TEST_REQUIRE(rep.freed_by.has_value());
  BOOST_TEST(rep.freed_by->task.find("remove") == 0u);
  BOOST_TEST(rep.freed_by->site->line() == free_line);
  BOOST_TEST_REQUIRE(rep.allocated_by.has_value());
  BOOST_TEST(rep.allocated_by->site->line() == alloc_line);
  BOOST_TEST(rep.access->offset == offsetof(Regs, value));
  const std::string text = sim::render_text(rep);
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST(text.find("test_revocable.cpp:" + std::to_string(read_line)) != std::string::npos);
  BOOST_TEST(text.find("test_revocable.cpp:" + std::to_string(free_line)) != std::string::npos);
}

// A value with a destructor: the reader that touches it after revoke_nosync is killed after the report instead
// of reading a destroyed object.
BOOST_AUTO_TEST_CASE(a_reader_of_a_destroyed_value_is_stopped_at_the_report) {
  sim::ExploreResult r = exhaustive([](sim::World& w) {
    auto s = std::make_shared<core::Revocable<std::string>>(std::string(64, 'x'));
    w.spawn("reader", [s] {
      if (auto g = s->try_access()) BOOST_TEST(g.read().size() == 64u);
    });
    w.spawn("remove", [s] { s->revoke_nosync(); });
  });
  BOOST_TEST(r.exhausted);
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  BOOST_TEST(r.failures[0].report.kind == "use-after-free");
}

BOOST_AUTO_TEST_CASE(sleeping_while_holding_an_rcu_revocable_guard_is_sleep_in_atomic) {
  sim::Execution e = run_task([] {
    core::Revocable<Regs> r(Regs{});
    auto g = r.try_access();
    sim::world().sleep_for(10);
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "sleep-in-atomic");
}

BOOST_AUTO_TEST_CASE(revoking_from_inside_ones_own_guard_is_a_reported_deadlock) {
  sim::Execution e = run_task([] {
    core::Revocable<Regs> r(Regs{});
    auto g = r.try_access();
    r.revoke();
  });
  BOOST_TEST_REQUIRE(e.reports.size() >= 1u);
  BOOST_TEST(e.reports[0].kind == "deadlock");
}

// SrcuRevocable: a reader may sleep while it holds the guard; revoke waits for it across the sleep.
BOOST_AUTO_TEST_CASE(srcu_revocable_readers_sleep_while_revoke_waits_in_every_schedule) {
  int reader_got_in = 0;
  sim::Model model = [&](sim::World& w) {
    struct State {
      core::SrcuRevocable<Regs> regs{Regs{kCanary, 1}};
      bool inside = false;
    };
    auto s = std::make_shared<State>();
    w.spawn("reader", [s, &reader_got_in](sim::World& world) {
      if (auto g = s->regs.try_access()) {
        s->inside = true;
        world.sleep_for(500);  // e.g. waiting for the hardware: legal under SRCU
        BOOST_TEST(g->canary == kCanary);
        s->inside = false;
        ++reader_got_in;
      }
    });
    w.spawn("remove", [s] {
      BOOST_TEST(s->regs.revoke());
      BOOST_TEST(!s->inside);
      BOOST_TEST(!s->regs.try_access());
    });
  };
  sim::ExploreResult r = exhaustive(model);
  BOOST_TEST_MESSAGE("executions: " << r.executions);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, all_headlines(r));
  BOOST_TEST(reader_got_in > 0);
}

BOOST_AUTO_TEST_CASE(srcu_revoke_nosync_with_a_sleeping_reader_is_a_use_after_free) {
  sim::ExploreResult r = exhaustive([](sim::World& w) {
    auto s = std::make_shared<core::SrcuRevocable<Regs>>(Regs{});
    w.spawn("reader", [s](sim::World& world) {
      if (auto g = s->try_access()) {
        world.sleep_for(500);
        (void)g->value;
      }
    });
    w.spawn("remove", [s] { s->revoke_nosync(); });
  });
  BOOST_TEST(r.exhausted);
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  BOOST_TEST(r.failures[0].report.kind == "use-after-free");
}
