// The driver model's cost per plug/probe/unplug cycle as the number of devices already present grows from 10
// to 100,000, and the memory each present device costs. See docs/performance.md.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "bus/devm.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "sim/explorer.hpp"

namespace {

using namespace devsim;
using namespace devsim::bus;

constexpr int kCycles = 2'000;

struct Priv {
  int value = 0;
};
int probe(CoreContext& ctx) {
  sim::KPtr<Priv> p = devm_kzalloc<Priv>(ctx);
  if (!p) return -kENOMEM;
  return devm_add_action(ctx, "noop", [] {});
}

std::size_t heap_in_use() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// One world: `present` devices registered and bound, then kCycles plug/probe/unplug cycles of one more device.
// Only the cycles are timed (manual time); the set-up is what the figure must not depend on.
void BM_PlugProbeUnplug(benchmark::State& state) {
  const auto present = static_cast<int>(state.range(0));
  double bytes_per_device = 0;
  double total_seconds = 0;
  for (auto _ : state) {
    double seconds = 0;
    sim::WorldOptions o;
    o.step_budget = ~std::uint64_t{0};
    sim::run_once(
        [&](sim::World& w) {
          w.spawn("bench", [&] {
            platform_driver_register(DriverOps{"bench", "platform", {"bench"}, probe, {}});
            const std::size_t before = heap_in_use();
            for (int i = 0; i < present; ++i) {
              Device* d = platform_device_register("dev" + std::to_string(i));
              d->set_modalias("bench");
              device_attach(d);
            }
            bytes_per_device = static_cast<double>(heap_in_use() - before) / present;
            const auto t0 = std::chrono::steady_clock::now();
            for (int c = 0; c < kCycles; ++c) {
              Device* d = platform_device_register("hot");
              d->set_modalias("bench");
              device_attach(d);
              platform_device_unregister(d);
            }
            seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          });
        },
        o);
    state.SetIterationTime(seconds);
    total_seconds += seconds;
  }
  state.SetItemsProcessed(state.iterations() * kCycles);
  state.counters["ns_per_cycle"] = total_seconds * 1e9 / (static_cast<double>(state.iterations()) * kCycles);
  state.counters["bytes_per_device"] = bytes_per_device;
}

BENCHMARK(BM_PlugProbeUnplug)
    ->Arg(10)
    ->Arg(100)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
