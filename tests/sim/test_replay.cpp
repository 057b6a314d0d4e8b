// Reproducibility (explorer.hpp, choice.hpp, trace.hpp): a recorded schedule replays the execution exactly,
// byte for byte, and every strategy is a pure function of its seed.
#define BOOST_TEST_MODULE sim_replay
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "sim/demo_models.hpp"
#include "sim/explorer.hpp"
#include "sim/kmalloc.hpp"
#include "sim/trace.hpp"
#include "tests/sim/test_models.hpp"

namespace sim = devsim::sim;

namespace {

struct Shared {
  int value = 0;
};

// Exercises every kind of choice: task picks, values, blocking and wakes, virtual time. The consumer reads
// after a nap whose length is a value choice; the producer frees after a fixed nap, so the longer nap
// reads freed memory.
void pipeline_model(sim::World& w) {
  sim::KPtr<Shared> obj = sim::kmalloc(Shared{});
  struct Sync {
    bool ready = false;
    int channel = 0;
  };
  auto sync = std::make_shared<Sync>();
  w.spawn("producer", [obj, sync](sim::World& world) {
    const std::uint64_t writes = world.choose(3);
    for (std::uint64_t i = 0; i < writes; ++i) {
      obj.store(&Shared::value, static_cast<int>(i));
      sim::yield();
    }
    sync->ready = true;
    world.wake_all(&sync->channel);
    world.sleep_for(10);
    sim::kfree(obj);
  });
  w.spawn("consumer", [obj, sync](sim::World& world) {
    while (!sync->ready)
      world.block(&sync->channel, "data ready");
    world.sleep_for(world.choose(2) == 0 ? 5 : 20);
    static_cast<void>(obj.load(&Shared::value));
  });
  w.spawn("ticker", [](sim::World& world) {
    for (int i = 0; i < 3; ++i) {
      world.sleep_for(4);
      sim::yield();
    }
  });
}

sim::WorldOptions traced() {
  sim::WorldOptions o;
  o.trace = true;
  return o;
}

// Runs random executions of `model` with tracing on until one fails; that original execution (not a
// replay of it) is what the replay must match.
sim::Execution first_traced_failure(const sim::Model& model, std::uint64_t seed) {
  sim::StrategyOptions so;
  so.kind = sim::StrategyKind::Random;
  so.seed = seed;
  auto strategy = sim::make_strategy(so);
  for (int i = 0; i < 1000; ++i) {
    sim::Execution e = sim::run_once(model, traced(), strategy.get());
    if (!e.reports.empty()) return e;
  }
  BOOST_FAIL("no failing execution in 1000 random ones");
  return {};
}

std::string all_reports_text(const std::vector<sim::Report>& reports) {
  std::string out;
  for (const sim::Report& r : reports)
    out += sim::render_text(r);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(replay)

BOOST_AUTO_TEST_CASE(fnv1a_matches_the_reference_values) {
  BOOST_TEST(sim::fnv1a("") == 0xcbf29ce484222325ULL);
  BOOST_TEST(sim::fnv1a("a") == 0xaf63dc4c8601ec8cULL);
  BOOST_TEST(sim::fnv1a("foobar") == 0x85944171f73967e8ULL);
}

BOOST_AUTO_TEST_CASE(replaying_a_failure_reproduces_report_and_trace) {
  for (const auto& [name, model] : std::vector<std::pair<std::string, sim::Model>>{
           {"demo", [](sim::World& w) { sim::demo::unplug_while_open(w, false); }}, {"pipeline", pipeline_model}}) {
    BOOST_TEST_CONTEXT("model=" << name) {
      const sim::Execution original = first_traced_failure(model, 7);
      BOOST_TEST_REQUIRE(!original.reports.empty());
      BOOST_TEST(original.reports[0].kind == sim::bug::kUseAfterFree);
      BOOST_TEST(!original.trace_json.empty());

      const sim::Execution again = sim::replay(model, original.schedule, traced());
      BOOST_TEST(!again.diverged);
      BOOST_TEST(again.outcome == original.outcome);
      BOOST_TEST((again.schedule == original.schedule));
      BOOST_TEST(all_reports_text(again.reports) == all_reports_text(original.reports));
      BOOST_TEST(sim::fnv1a(again.trace_json) == sim::fnv1a(original.trace_json));
      BOOST_TEST(again.trace_json == original.trace_json);

      // The report carries its own schedule (the choices up to the fault); that suffices as well.
      const sim::Execution from_report = sim::replay(model, original.reports[0].schedule, traced());
      BOOST_TEST(sim::render_text(from_report.reports.at(0)) == sim::render_text(original.reports[0]));

      // And so does the text form a user would paste from the report.
      std::optional<sim::Schedule> parsed = sim::parse_schedule(sim::to_string(original.schedule));
      BOOST_TEST_REQUIRE(parsed.has_value());
      const sim::Execution pasted = sim::replay(model, *parsed, traced());
      BOOST_TEST(sim::fnv1a(pasted.trace_json) == sim::fnv1a(original.trace_json));
    }
  }
}

BOOST_AUTO_TEST_CASE(the_pipeline_uses_every_kind_of_choice) {
  // Guards the previous test's coverage: its model must really draw values and switch tasks.
  const sim::Execution e = first_traced_failure(pipeline_model, 7);
  bool task = false, value = false;
  for (const sim::Choice& c : e.schedule) {
    task |= c.kind == sim::Choice::Kind::Task;
    value |= c.kind == sim::Choice::Kind::Value;
  }
  BOOST_TEST(task);
  BOOST_TEST(value);
  const nlohmann::json trace = nlohmann::json::parse(e.trace_json);
  std::set<std::string> names;
  for (const auto& ev : trace.at("traceEvents"))
    names.insert(ev.at("name").get<std::string>());
  for (const char* kind : {"block", "wake", "sleep", "kmalloc", "kfree", "write", "sync", "run"})
    BOOST_TEST(names.count(kind) == 1u, "trace has a \"" << kind << "\" event");
}

BOOST_AUTO_TEST_CASE(a_truncated_schedule_still_runs_to_completion) {
  const sim::Model model = pipeline_model;
  const sim::Execution original = first_traced_failure(model, 7);
  BOOST_TEST_REQUIRE(original.schedule.size() >= 2u);
  for (std::size_t keep = 0; keep < original.schedule.size(); ++keep) {
    BOOST_TEST_CONTEXT("keep=" << keep) {
      const sim::Schedule prefix(original.schedule.begin(), original.schedule.begin() + static_cast<long>(keep));
      const sim::Execution e = sim::replay(model, prefix, {});
      BOOST_TEST(!e.diverged);
      // The run follows the prefix, then default choices to the end: no task is left behind.
      BOOST_TEST_REQUIRE(e.schedule.size() >= keep);
      BOOST_TEST((sim::Schedule(e.schedule.begin(), e.schedule.begin() + static_cast<long>(keep)) == prefix));
      BOOST_TEST((e.outcome == sim::Outcome::Completed || e.outcome == sim::Outcome::Stopped));
      // Deterministic too: the same prefix gives the same execution.
      BOOST_TEST((sim::replay(model, prefix, {}).schedule == e.schedule));
    }
  }
  // What the defaults are: keep the current task while it can run, else the lowest id.
  std::string log;
  const sim::Execution defaulted = sim::replay(sim::test::yielding_tasks({3, 3}, &log), *sim::parse_schedule("t1"), {});
  BOOST_TEST(log == "1.0,1.1,1.2,0.0,0.1,0.2,");
  BOOST_TEST(sim::to_string(defaulted.schedule) == "t1 t1 t1");
  log.clear();
  sim::replay(sim::test::yielding_tasks({2, 2, 2}, &log), *sim::parse_schedule("t2 t1"), {});
  BOOST_TEST(log == "2.0,1.0,1.1,0.0,0.1,2.1,");

  // The empty schedule is exactly the default choices.
  const sim::Execution defaults = sim::run_once(model, {});
  const sim::Execution empty = sim::replay(model, {}, {});
  BOOST_TEST((empty.schedule == defaults.schedule));
  BOOST_TEST(all_reports_text(empty.reports) == all_reports_text(defaults.reports));
}

BOOST_AUTO_TEST_CASE(a_schedule_that_does_not_fit_is_flagged_and_still_completes) {
  const sim::Model model = [](sim::World& w) { sim::demo::unplug_while_open(w, true); };
  // Task 5 does not exist; a value where a task is chosen does not fit either.
  for (const char* text : {"t5 t5 t5", "v1 v0", "t1 t0 t1 t0 t1 t0 t1 t0"}) {
    BOOST_TEST_CONTEXT("schedule=" << text) {
      const sim::Execution e = sim::replay(model, *sim::parse_schedule(text), {});
      BOOST_TEST(e.outcome == sim::Outcome::Completed);
      BOOST_TEST(e.reports.empty());
      // Too long is not a misfit: leftover choices are simply never asked for.
      BOOST_TEST(e.diverged == (std::string(text) != "t1 t0 t1 t0 t1 t0 t1 t0"));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(determinism)

sim::ExploreOptions options(sim::StrategyKind kind, std::uint64_t seed) {
  sim::ExploreOptions o;
  o.strategy.kind = kind;
  o.strategy.seed = seed;
  o.strategy.pct_depth = 3;
  o.max_executions = kind == sim::StrategyKind::Exhaustive ? 0 : 300;
  o.trace_first_failure = true;
  return o;
}

void check_same(const sim::ExploreResult& a, const sim::ExploreResult& b) {
  BOOST_TEST(a.executions == b.executions);
  BOOST_TEST(a.failing_executions == b.failing_executions);
  BOOST_TEST(a.pruned_executions == b.pruned_executions);
  BOOST_TEST(a.exhausted == b.exhausted);
  BOOST_TEST_REQUIRE(a.failures.size() == b.failures.size());
  for (std::size_t i = 0; i < a.failures.size(); ++i) {
    BOOST_TEST(a.failures[i].signature == b.failures[i].signature);
    BOOST_TEST(a.failures[i].count == b.failures[i].count);
    BOOST_TEST(a.failures[i].first_execution == b.failures[i].first_execution);
    BOOST_TEST(sim::render_text(a.failures[i].report) == sim::render_text(b.failures[i].report));
  }
  BOOST_TEST_REQUIRE(a.first_failure.has_value());
  BOOST_TEST_REQUIRE(b.first_failure.has_value());
  BOOST_TEST(a.first_failure->index == b.first_failure->index);
  BOOST_TEST(sim::to_string(a.first_failure->schedule) == sim::to_string(b.first_failure->schedule));
  BOOST_TEST(!a.first_failure->trace_json.empty());
  BOOST_TEST(a.first_failure->trace_json == b.first_failure->trace_json);
}

BOOST_AUTO_TEST_CASE(each_strategy_repeats_itself_under_one_seed) {
  for (sim::StrategyKind kind : {sim::StrategyKind::Random, sim::StrategyKind::Pct, sim::StrategyKind::Exhaustive}) {
    BOOST_TEST_CONTEXT("strategy=" << sim::to_string(kind)) {
      const sim::ExploreResult first = sim::explore(pipeline_model, options(kind, 42));
      const sim::ExploreResult second = sim::explore(pipeline_model, options(kind, 42));
      BOOST_TEST(first.failing_executions > 0u);
      check_same(first, second);
      // The traced replay of the first failure is the failure: its report comes out of the trace run too.
      const sim::Execution replayed = sim::replay(pipeline_model, first.first_failure->schedule, traced());
      BOOST_TEST(replayed.trace_json == first.first_failure->trace_json);
      BOOST_TEST(all_reports_text(replayed.reports) == all_reports_text(first.first_failure->reports));
    }
  }
}

BOOST_AUTO_TEST_CASE(the_seed_matters) {
  // Otherwise the previous test would pass for a strategy that ignored its seed.
  for (sim::StrategyKind kind : {sim::StrategyKind::Random, sim::StrategyKind::Pct}) {
    BOOST_TEST_CONTEXT("strategy=" << sim::to_string(kind)) {
      std::set<std::string> firsts;
      for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        const sim::ExploreResult r = sim::explore(pipeline_model, options(kind, seed));
        BOOST_TEST_REQUIRE(r.first_failure.has_value());
        firsts.insert(std::to_string(r.failing_executions) + "/" + sim::to_string(r.first_failure->schedule));
      }
      BOOST_TEST(firsts.size() > 1u);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
