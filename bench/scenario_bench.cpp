// End-to-end executions per second of the R1 scenarios (bus + cdev + devres + driver): parse once, explore
// many executions with the random strategy on one core, against the engine alone on the two-task model of the
// same race in the same run. Absolute rates on a shared virtual machine move by 2-3x between runs, so after the
// table the program prints each scenario's rate as a ratio to its reference. See docs/performance.md.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "scenarios/parser.hpp"
#include "scenarios/runner.hpp"
#include "sim/demo_models.hpp"
#include "sim/explorer.hpp"

namespace {

using namespace devsim;

constexpr std::uint64_t kBatch = 5'000;
constexpr double kTarget = 50'000;  // executions/s of an R1 scenario, end to end

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

// The console table, then each scenario's items/s as a ratio to the engine-only figure of the same run (the
// median when --benchmark_repetitions is given).
class RatioReporter final : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      auto c = r.counters.find("items_per_second");
      if (c == r.counters.end() || c->second.value <= 0) continue;
      // BENCHMARK_CAPTURE registers "function/case" as the function name; repetitions and aggregates keep it.
      std::string name = r.run_name.function_name;
      if (!r.run_name.args.empty()) name += "/" + r.run_name.args;
      rates_[name] = c->second.value;
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::ostream& out = GetOutputStream();
    bool header = false;
    for (const char* variant : {"R1_Buggy", "R1_Fixed"}) {
      auto scenario = rate(std::string("BM_Scenario/") + variant);
      auto engine = rate(std::string("BM_EngineOnly/") + variant);
      if (!scenario || !engine) continue;
      if (!header) out << "\nRatios (items/s of this run):\n";
      header = true;
      char buf[200];
      std::snprintf(buf, sizeof buf,
                    "  %s: scenario %.1fk/s = %.4fx of the engine alone (%.2fM/s), %.2fx the 50k/s target\n", variant,
                    *scenario / 1e3, *scenario / *engine, *engine / 1e6, *scenario / kTarget);
      out << buf;
    }
  }

 private:
  std::optional<double> rate(const std::string& name) const {
    auto it = rates_.find(name);
    if (it == rates_.end()) return std::nullopt;
    return it->second;
  }

  std::map<std::string, double> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  // Read before Initialize, which consumes the flags it knows.
  std::string format = "console";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--benchmark_format=", 0) == 0) format = a.substr(a.find('=') + 1);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (format != "console") {
    benchmark::RunSpecifiedBenchmarks();  // machine-readable output: no summary mixed into it
  } else {
    RatioReporter reporter(isatty(STDOUT_FILENO) != 0 ? benchmark::ConsoleReporter::OO_Color
                                                      : benchmark::ConsoleReporter::OO_None);
    benchmark::RunSpecifiedBenchmarks(&reporter);
  }
  benchmark::Shutdown();
  return 0;
}
