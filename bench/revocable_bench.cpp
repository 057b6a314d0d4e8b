// Native fast paths of revocable.hpp against their references, measured in the same run:
// - the read side, Revocable::try_access + guard release, against std::shared_mutex lock_shared/unlock_shared
//   on 1 and 2 threads (brief §6: at least 4x cheaper, i.e. a ratio <= 0.25);
// - revoke() latency against a bare liburcu urcu_memb_synchronize_rcu() (target: within 2x).
// After the table the program prints the ratios. See docs/performance.md for how to read the figures.
#include <benchmark/benchmark.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>

#include <cstdio>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/revocable.hpp"

namespace {

using devsim::core::Revocable;

struct Regs {
  int base = 42;
  int irq = 7;
};

void BM_SharedMutex_ReadLockUnlock(benchmark::State& state) {
  static std::shared_mutex m;
  static Regs regs;
  for (auto _ : state) {
    m.lock_shared();
    benchmark::DoNotOptimize(regs.base);
    m.unlock_shared();
  }
}

void BM_Revocable_TryAccess(benchmark::State& state) {
  static Revocable<Regs> regs{Regs{}};
  for (auto _ : state) {
    auto g = regs.try_access();
    benchmark::DoNotOptimize(g->base);
  }
}

// One revoke of a fresh (inline, unallocated) revocable: the exchange, a grace period, the destructor.
void BM_Revocable_Revoke(benchmark::State& state) {
  for (auto _ : state) {
    Revocable<Regs> regs{Regs{}};
    benchmark::DoNotOptimize(regs.revoke());
  }
}

void BM_Urcu_SynchronizeRcu(benchmark::State& state) {
  for (auto _ : state)
    urcu_memb_synchronize_rcu();
}

// The console table, then each figure as a ratio to its reference from the same run.
class RatioReporter final : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      std::string name = r.run_name.function_name;
      if (!r.run_name.threads.empty()) name += "/" + r.run_name.threads;
      ns_[name] = r.GetAdjustedRealTime();  // per iteration, in the run's time unit (ns here)
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::ostream& out = GetOutputStream();
    out << "\nRatios (time per operation, this run):\n";
    for (const char* threads : {"threads:1", "threads:2"}) {
      ratio(out, std::string("BM_Revocable_TryAccess/") + threads,
            std::string("BM_SharedMutex_ReadLockUnlock/") + threads, 0.25,
            std::string("try_access+release vs shared_mutex read lock, ") + threads);
    }
    ratio(out, "BM_Revocable_Revoke", "BM_Urcu_SynchronizeRcu", 2.0, "revoke() vs urcu_memb_synchronize_rcu()");
  }

 private:
  void ratio(std::ostream& out, const std::string& name, const std::string& reference, double target,
             const std::string& what) const {
    auto a = ns_.find(name), b = ns_.find(reference);
    if (a == ns_.end() || b == ns_.end() || b->second <= 0) return;
    const double r = a->second / b->second;
    char line[256];
    std::snprintf(line, sizeof line, "  %-58s %9.2f ns / %9.2f ns = %.3fx (target <= %.2fx: %s)\n", what.c_str(),
                  a->second, b->second, r, target, r <= target ? "met" : "MISSED");
    out << line;
  }

  std::map<std::string, double> ns_;
};

}  // namespace

int main(int argc, char** argv) {
  // Each figure runs right after its reference.
  for (int threads : {1, 2}) {
    benchmark::RegisterBenchmark("BM_SharedMutex_ReadLockUnlock", BM_SharedMutex_ReadLockUnlock)
        ->Threads(threads)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_Revocable_TryAccess", BM_Revocable_TryAccess)->Threads(threads)->UseRealTime();
  }
  benchmark::RegisterBenchmark("BM_Urcu_SynchronizeRcu", BM_Urcu_SynchronizeRcu)->UseRealTime();
  benchmark::RegisterBenchmark("BM_Revocable_Revoke", BM_Revocable_Revoke)->UseRealTime();

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter(isatty(STDOUT_FILENO) != 0 ? benchmark::ConsoleReporter::OO_Color
                                                    : benchmark::ConsoleReporter::OO_None);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
