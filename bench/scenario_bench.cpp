// End-to-end executions per second of the R1 scenarios (bus + cdev + devres + driver): parse once, explore
// many executions with the random strategy on one core. Target: at least 50,000/s. See docs/performance.md.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "scenarios/parser.hpp"
#include "scenarios/runner.hpp"
#include "sim/demo_models.hpp"
#include "sim/explorer.hpp"

namespace {

using namespace devsim;

constexpr std::uint64_t kBatch = 5'000;

void BM_Scenario(benchmark::State& state, const char* file) {
  const scenarios::Scenario s = scenarios::load_scenario(std::string(DEVSIM_SOURCE_ROOT) + "scenarios/" + file);
  scenarios::Overrides o;
  o.strategy = sim::StrategyKind::Random;
  o.executions = kBatch;
  std::uint64_t executions = 0, failing = 0;
  for (auto _ : state) {
    scenarios::Verdict v = scenarios::run_scenario(s, o);
    executions += v.result.executions;
    failing += v.result.failing_executions;
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(executions));
  state.counters["failing"] = executions == 0 ? 0.0 : static_cast<double>(failing) / static_cast<double>(executions);
}

// The reference, in the same run: the engine alone on the two-task model of the same race (no bus, no cdev, no
// devres, no driver) — what the full stack costs on top of the machine.
void BM_EngineOnly(benchmark::State& state, bool fixed) {
  const sim::Model model = [fixed](sim::World& w) { sim::demo::unplug_while_open(w, fixed); };
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Random;
  o.max_executions = kBatch;
  std::uint64_t executions = 0;
  for (auto _ : state) {
    sim::ExploreResult r = sim::explore(model, o);
    executions += r.executions;
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(executions));
}

BENCHMARK_CAPTURE(BM_EngineOnly, R1_Buggy, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EngineOnly, R1_Fixed, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Scenario, R1_Buggy, "r01-unplug-while-open-buggy.scn")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Scenario, R1_Fixed, "r01-unplug-while-open-fixed.scn")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
