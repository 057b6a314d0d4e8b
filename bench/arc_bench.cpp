// Native Arc clone+drop against std::shared_ptr copy+destroy, on one thread and on two threads sharing one count.
// The brief's target: Arc no slower than shared_ptr (ratio <= 1.0). main() prints the ratios measured in this run.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/arc.hpp"

namespace {

using devsim::core::Arc;

// One shared object per kind, created before any benchmark thread starts (function-local statics are
// initialised once, thread-safely), so two threads hammer one count: the contended case a driver's shared
// state sees.
const Arc<long>& shared_arc() {
  static const Arc<long> arc = Arc<long>::make(42);
  return arc;
}
const std::shared_ptr<long>& shared_sp() {
  static const std::shared_ptr<long> sp = std::make_shared<long>(42);
  return sp;
}

void BM_Arc_CloneDrop(benchmark::State& state) {
  const Arc<long>& arc = shared_arc();
  for (auto _ : state) {
    Arc<long> copy = arc.clone();
    benchmark::DoNotOptimize(copy);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_SharedPtr_CopyDestroy(benchmark::State& state) {
  const std::shared_ptr<long>& sp = shared_sp();
  for (auto _ : state) {
    std::shared_ptr<long> copy = sp;
    benchmark::DoNotOptimize(copy);
  }
  state.SetItemsProcessed(state.iterations());
}

// The console table, then Arc's time per operation as a ratio to shared_ptr's at the same thread count.
class RatioReporter final : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      // items/s summed over threads; the inverse is the time per operation seen by the whole process.
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end() && it->second.value > 0) rates_[r.run_name.function_name][r.threads] = it->second;
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::ostream& out = GetOutputStream();
    out << "\nRatios (Arc time per clone+drop / shared_ptr time per copy+destroy, this run; target <= 1.00):\n";
    for (const char* suffix : {"", "_MultiThreadedProcess"}) {
      const auto& arc = rates_[std::string("BM_Arc_CloneDrop") + suffix];
      const auto& sp = rates_[std::string("BM_SharedPtr_CopyDestroy") + suffix];
      for (const auto& [threads, arc_rate] : arc) {
        auto s = sp.find(threads);
        if (s == sp.end()) continue;
        const char* what = *suffix != 0   ? "1 thread, multi-threaded process"
                           : threads == 1 ? "1 thread, single-threaded process"
                                          : "2 threads, one shared count";
        char buf[200];
        std::snprintf(buf, sizeof buf, "  %-34s Arc %6.2f ns/op, shared_ptr %6.2f ns/op: %.2fx\n", what, 1e9 / arc_rate,
                      1e9 / s->second, s->second / arc_rate);
        out << buf;
      }
    }
  }

 private:
  std::map<std::string, std::map<int, double>> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  (void)shared_arc();
  (void)shared_sp();
  // Each pair runs back to back under the same machine conditions. The first pair runs while the process has
  // never had a second thread: both counts then skip the locked instruction (shared_ptr and Refcount both test
  // glibc's __libc_single_threaded). The threads:2 pair makes the process multi-threaded for good, so the last
  // pair measures one thread paying for atomics: the cost in any real driver process.
  benchmark::RegisterBenchmark("BM_SharedPtr_CopyDestroy", BM_SharedPtr_CopyDestroy)->Threads(1);
  benchmark::RegisterBenchmark("BM_Arc_CloneDrop", BM_Arc_CloneDrop)->Threads(1);
  benchmark::RegisterBenchmark("BM_SharedPtr_CopyDestroy", BM_SharedPtr_CopyDestroy)->Threads(2);
  benchmark::RegisterBenchmark("BM_Arc_CloneDrop", BM_Arc_CloneDrop)->Threads(2);
  benchmark::RegisterBenchmark("BM_SharedPtr_CopyDestroy_MultiThreadedProcess", BM_SharedPtr_CopyDestroy)->Threads(1);
  benchmark::RegisterBenchmark("BM_Arc_CloneDrop_MultiThreadedProcess", BM_Arc_CloneDrop)->Threads(1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
