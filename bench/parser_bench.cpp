// The scenario parser on inputs up to the size limit (limits::kMaxFileBytes, 1 MiB): parsing must be linear in
// the input, so the bytes per second at 1 MiB must match those at 64 KiB. Shapes: the worst cases the parser
// has had (a nearest-name suggestion for an unknown variable among tens of thousands; many tasks) and a
// typical file. See docs/performance.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>

#include "scenarios/limits.hpp"
#include "scenarios/parser.hpp"

namespace {

using namespace devsim;

// One task binding a fresh variable per line, then a use of a variable that does not exist: the parser suggests
// the nearest of all the bound names.
std::string unknown_variable(std::size_t bytes) {
  std::string s = "driver r01_unplug_open_fixed\ntask a {\n";
  for (std::size_t i = 0; s.size() + 40 < bytes; ++i)
    s += "  v" + std::to_string(i) + " = yield\n";
  s += "  close vx_missing\n}\n";
  return s;
}

// As many tasks as allowed, each with operations on the device, up to the size.
std::string many_tasks(std::size_t bytes) {
  std::string s = "driver r01_unplug_open_fixed\ndevice usb 1-1 r01_unplug_open_fixed\n";
  // At least 1 KiB per task, so both sizes have the same shape (the smaller file has fewer tasks).
  const std::size_t per_task = std::max<std::size_t>(1024, bytes / scenarios::limits::kMaxTasks);
  for (std::size_t t = 0; t < scenarios::limits::kMaxTasks && s.size() + per_task <= bytes; ++t) {
    std::string body = "task t" + std::to_string(t) + " {\n";
    while (body.size() + 80 < per_task)
      body += "  fd = open /dev/skel0\n  ioctl fd GET_VALUE => 42 | -ENODEV\n  close fd => 0\n";
    s += body + "}\n";
  }
  return s + "explore random seed=7 executions=10\n";
}

void BM_Parse(benchmark::State& state, std::string (*make)(std::size_t)) {
  const std::string text = make(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    try {
      scenarios::Scenario s = scenarios::parse_scenario(text, "bench.scn");
      benchmark::DoNotOptimize(s);
    } catch (const scenarios::ParseError& e) {
      benchmark::DoNotOptimize(e);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.counters["bytes"] = static_cast<double>(text.size());
}

BENCHMARK_CAPTURE(BM_Parse, UnknownVariable, unknown_variable)
    ->Arg(64 << 10)
    ->Arg(scenarios::limits::kMaxFileBytes)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Parse, ManyTasks, many_tasks)
    ->Arg(64 << 10)
    ->Arg(scenarios::limits::kMaxFileBytes)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
