// Executions per second of the engine on the two-task demo model, against a bare-fiber ceiling and the core's
// clock, both measured in the same run, plus the execution counts of exhaustive search with and without sleep
// sets. Absolute rates on a shared virtual machine move by 2-3x between runs; the ratios are what a run reports.
// docs/performance.md explains the figures and gives the instruction counts (callgrind) that do not move.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <boost/context/detail/fcontext.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/demo_models.hpp"
#include "sim/explorer.hpp"

namespace {

namespace ctx = boost::context::detail;
using devsim::sim::ExploreOptions;
using devsim::sim::ExploreResult;
using devsim::sim::Model;
using devsim::sim::StrategyKind;
using devsim::sim::World;

// Executions per explore() call: large enough that building the strategy and the stack pool is noise.
constexpr std::uint64_t kBatch = 10'000;
constexpr std::uint64_t kSeed = 1;

constexpr double kTarget = 1'000'000;

// ---- the engine --------------------------------------------------------------------------------------------

void BM_Explore(benchmark::State& state, bool fixed, StrategyKind kind) {
  const Model model = [fixed](World& w) { devsim::sim::demo::unplug_while_open(w, fixed); };
  ExploreOptions o;  // default WorldOptions: every detector on, no trace
  o.strategy.kind = kind;
  o.strategy.seed = kSeed;
  o.strategy.pct_depth = 2;  // `devsim demo`'s default: the race needs one ordering constraint
  o.max_executions = kBatch;
  std::uint64_t executions = 0;
  std::uint64_t failing = 0;
  for (auto _ : state) {
    ExploreResult r = devsim::sim::explore(model, o);
    executions += r.executions;
    failing += r.failing_executions;
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(executions));
  // Evidence that the detectors ran: about half of the buggy model's random schedules hit the use-after-free.
  state.counters["failing"] = executions == 0 ? 0.0 : static_cast<double>(failing) / static_cast<double>(executions);
}

// Two tasks of six plain yields each: every step commutes with every other, the best case for sleep sets.
void BM_Exhaustive(benchmark::State& state, bool sleep_sets) {
  const Model model = [](World& w) {
    for (const char* name : {"a", "b"}) {
      w.spawn(name, [] {
        for (int i = 0; i < 6; ++i)
          devsim::sim::yield();
      });
    }
  };
  ExploreOptions o;
  o.strategy.kind = StrategyKind::Exhaustive;
  o.strategy.sleep_sets = sleep_sets;
  o.max_executions = 0;
  ExploreResult last;
  std::uint64_t executions = 0;
  for (auto _ : state) {
    last = devsim::sim::explore(model, o);
    executions += last.executions;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(executions));
  state.counters["executions"] = static_cast<double>(last.executions);
  state.counters["pruned_exec"] = static_cast<double>(last.pruned_executions);
  state.counters["pruned_alt"] = static_cast<double>(last.pruned_alternatives);
  state.counters["complete"] = last.exhausted ? 1 : 0;
}

// ---- the bare-fiber ceiling --------------------------------------------------------------------------------

// The engine's generator (strategy.cpp), so both sides pay the same for a random pick.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t bound) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * bound;
    auto low = static_cast<std::uint64_t>(m);
    if (low < bound) {
      std::uint64_t threshold = -bound % bound;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * bound;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

 private:
  std::uint64_t state_;
};

// The demo model with the engine's control structure and nothing else: a scheduler loop resumes a fiber, a
// fiber returns to the loop to switch, a random pick happens exactly where the engine's strategy is asked
// (a scheduling point with both tasks runnable). No shadow memory, no schedule, no reports, no footprints:
// the cost that is left is the fibers, the picks and the loop, a ceiling no checking engine can pass.
class BareModel {
 public:
  static constexpr std::size_t kStackSize = 64 * 1024;

  explicit BareModel(bool fixed) : fixed_(fixed), rng_(kSeed) {
    for (auto& s : stacks_) {
      // Allocated once and reused by every execution, as the engine's StackPool does.
      s.reset(static_cast<char*>(std::aligned_alloc(64, kStackSize)));
      if (!s) throw std::bad_alloc();
      std::memset(s.get(), 0, kStackSize);
    }
  }

  void execute() {
    finished_[0] = finished_[1] = false;
    pending_ = -1;
    value_ = 42;
    refs_ = fixed_ ? 2 : 1;
    freed_ = false;
    for (int i = 0; i < 2; ++i)
      fibers_[i] = ctx::make_fcontext(stacks_[i].get() + kStackSize, kStackSize, &BareModel::entry);
    for (;;) {
      int next = std::exchange(pending_, -1);
      if (next < 0) {
        if (finished_[0] && finished_[1]) break;
        next = !finished_[0] && !finished_[1] ? static_cast<int>(rng_.below(2)) : finished_[0] ? 1 : 0;
      }
      running_ = next;
      ++switches_;
      ctx::transfer_t back = ctx::jump_fcontext(fibers_[next], this);
      fibers_[next] = finished_[next] ? nullptr : back.fctx;
    }
  }
  std::uint64_t switches() const { return switches_; }

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };

  static void entry(ctx::transfer_t from) {
    auto* m = static_cast<BareModel*>(from.data);
    m->scheduler_ = from.fctx;
    const int me = m->running_;
    if (me == 0)
      m->app();
    else
      m->hub();
    m->finished_[me] = true;
    ++m->switches_;
    ctx::jump_fcontext(m->scheduler_, nullptr);
    std::abort();  // a finished fiber is never resumed
  }

  // A scheduling point.
  void point() {
    const int me = running_;
    if (finished_[1 - me]) return;  // one runnable task: no decision, as in World::pick_next
    const int pick = static_cast<int>(rng_.below(2));
    if (pick == me) return;
    pending_ = pick;
    ++switches_;
    ctx::transfer_t back = ctx::jump_fcontext(scheduler_, nullptr);
    scheduler_ = back.fctx;
  }
  void kfree() {
    point();  // kfree is a scheduling point before it frees
    freed_ = true;
  }
  void put() {
    if (--refs_ == 0) kfree();
  }
  void app() {
    point();
    int v = value_;
    benchmark::DoNotOptimize(v);
    if (fixed_) put();
  }
  void hub() {
    if (fixed_)
      put();
    else
      kfree();
  }

  bool fixed_;
  Rng rng_;
  std::unique_ptr<char, Free> stacks_[2];
  ctx::fcontext_t fibers_[2] = {};
  ctx::fcontext_t scheduler_ = nullptr;
  bool finished_[2] = {};
  int running_ = -1;
  int pending_ = -1;
  std::uint64_t switches_ = 0;
  int value_ = 0;
  int refs_ = 0;
  bool freed_ = false;
};

void BM_Reference_BareFibers(benchmark::State& state, bool fixed) {
  BareModel model(fixed);
  std::uint64_t executions = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < kBatch; ++i)
      model.execute();
    executions += kBatch;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(executions));
  // Each fiber switch, in either direction, is one jump_fcontext.
  state.counters["switches/exec"] =
      executions == 0 ? 0.0 : static_cast<double>(model.switches()) / static_cast<double>(executions);
}

// ---- the clock reference ----------------------------------------------------------------------------------

// A chain of dependent register additions: each waits for the previous one, and an addition takes one cycle on
// every x86-64 and AArch64 core, so additions per CPU second estimate the clock the core ran at during this run
// (boost and power states included). With it a run shows its own cycles per execution, and an instruction count
// per execution (callgrind) turns into instructions per cycle, which tells a plausible rate from a wrong one.
constexpr std::uint64_t kChainLoops = 1'000'000;
constexpr std::uint64_t kAddsPerLoop = 16;

#if defined(__x86_64__) || defined(__aarch64__)
#define DEVSIM_BENCH_CLOCK_CHAIN 1
#if defined(__x86_64__)
#define DEVSIM_ADD "add %0, %0\n\t"
#else
#define DEVSIM_ADD "add %0, %0, %0\n\t"
#endif

void BM_Reference_ClockChain(benchmark::State& state) {
  std::uint64_t x = 1;
  std::uint64_t adds = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < kChainLoops; ++i) {
      // Sixteen additions, each reading the result of the one before: the loop's own increment and branch run
      // beside the chain, not in it.
      asm volatile(DEVSIM_ADD DEVSIM_ADD DEVSIM_ADD DEVSIM_ADD DEVSIM_ADD DEVSIM_ADD DEVSIM_ADD DEVSIM_ADD DEVSIM_ADD
                       DEVSIM_ADD DEVSIM_ADD DEVSIM_ADD DEVSIM_ADD DEVSIM_ADD DEVSIM_ADD DEVSIM_ADD
                   : "+r"(x));
    }
    adds += kChainLoops * kAddsPerLoop;
  }
  benchmark::DoNotOptimize(x);
  // items/s is additions per CPU second: the clock in Hz.
  state.SetItemsProcessed(static_cast<std::int64_t>(adds));
}
#undef DEVSIM_ADD
#endif

// ---- the ratio summary ---------------------------------------------------------------------------------------

// The console table, then the engine's rates as ratios to the reference measured in the same run.
class RatioReporter final : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      // With --benchmark_repetitions the median arrives after the repetitions and replaces them: on a shared
      // virtual machine it is steadier than the mean.
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      counters_[r.run_name.function_name] = r.counters;
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::ostream& out = GetOutputStream();
    bool header = false;
    auto line = [&](const std::string& text) {
      if (!header) out << "\nRatios (items/s of this run):\n";
      header = true;
      out << "  " << text << "\n";
    };
    const auto clock = rate("BM_Reference_ClockChain");
    if (clock) line("clock:  " + fixed(*clock / 1e9, 2) + " GHz (dependent additions per CPU second)");
    for (const char* variant : {"Buggy", "Fixed"}) {
      auto engine = rate(std::string("BM_Explore_UnplugWhileOpen_") + variant);
      auto bare = rate(std::string("BM_Reference_BareFibers_") + variant);
      if (!engine) continue;
      std::string v = std::string(variant) + ":";
      v.resize(7, ' ');
      std::string text = v + " engine " + human(*engine) + "/s";
      if (clock) text += " (" + fixed(*clock / *engine, 0) + " cycles/execution)";
      if (bare) {
        text += " = " + fixed(*engine / *bare, *engine < 0.1 * *bare ? 3 : 2) + "x of the bare-fiber ceiling (" +
                human(*bare) + "/s";
        if (clock) text += ", " + fixed(*clock / *bare, 0) + " cycles";
        text += ")";
      }
      text += ", " + fixed(*engine / kTarget, 2) + "x the 1M/s target";
      line(text);
    }
    auto without = value("BM_Exhaustive_TwoTasksSixYields", "executions");
    auto with = value("BM_Exhaustive_TwoTasksSixYields_SleepSets", "executions");
    if (without && with && *with > 0) {
      line("exhaustive 2x6 yields: " + fixed(*without, 0) + " executions without sleep sets, " + fixed(*with, 0) +
           " with (" + fixed(*without / *with, 1) + "x fewer)");
    }
  }

 private:
  std::optional<double> value(const std::string& name, const std::string& counter) const {
    auto it = counters_.find(name);
    if (it == counters_.end()) return std::nullopt;
    auto c = it->second.find(counter);
    if (c == it->second.end()) return std::nullopt;
    return c->second.value;
  }
  std::optional<double> rate(const std::string& name) const {
    auto r = value(name, "items_per_second");
    return r && *r > 0 ? r : std::nullopt;
  }
  static std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
  }
  static std::string human(double v) {
    if (v >= 1e6) return fixed(v / 1e6, 2) + "M";
    if (v >= 1e3) return fixed(v / 1e3, 1) + "k";
    return fixed(v, 0);
  }

  std::map<std::string, benchmark::UserCounters> counters_;
};

std::optional<std::string_view> flag(int argc, char** argv, std::string_view name) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.size() > name.size() + 1 && a.substr(0, name.size()) == name && a[name.size()] == '=')
      return a.substr(name.size() + 1);
  }
  return std::nullopt;
}

bool truthy(std::string_view v) {
  return v == "true" || v == "yes" || v == "1" || v == "on";
}

}  // namespace

int main(int argc, char** argv) {
  // Registration order is run order: each reference runs just before the engine figure it is compared with.
#ifdef DEVSIM_BENCH_CLOCK_CHAIN
  benchmark::RegisterBenchmark("BM_Reference_ClockChain", BM_Reference_ClockChain);
#endif
  benchmark::RegisterBenchmark("BM_Reference_BareFibers_Buggy", BM_Reference_BareFibers, false);
  benchmark::RegisterBenchmark("BM_Explore_UnplugWhileOpen_Buggy", BM_Explore, false, StrategyKind::Random);
  benchmark::RegisterBenchmark("BM_Reference_BareFibers_Fixed", BM_Reference_BareFibers, true);
  benchmark::RegisterBenchmark("BM_Explore_UnplugWhileOpen_Fixed", BM_Explore, true, StrategyKind::Random);
  benchmark::RegisterBenchmark("BM_Explore_UnplugWhileOpen_Pct_Buggy", BM_Explore, false, StrategyKind::Pct);
  benchmark::RegisterBenchmark("BM_Explore_UnplugWhileOpen_Pct_Fixed", BM_Explore, true, StrategyKind::Pct);
  benchmark::RegisterBenchmark("BM_Exhaustive_TwoTasksSixYields", BM_Exhaustive, false);
  benchmark::RegisterBenchmark("BM_Exhaustive_TwoTasksSixYields_SleepSets", BM_Exhaustive, true);

  // Read before Initialize, which consumes the flags it knows.
  const auto format = flag(argc, argv, "--benchmark_format");
  const auto color = flag(argc, argv, "--benchmark_color");
  const auto tabular = flag(argc, argv, "--benchmark_counters_tabular");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  if (format && *format != "console") {
    benchmark::RunSpecifiedBenchmarks();  // machine-readable output: no summary mixed into it
  } else {
    const bool use_color =
        color ? truthy(*color) || (*color == "auto" && isatty(STDOUT_FILENO) != 0) : isatty(STDOUT_FILENO) != 0;
    int opts = benchmark::ConsoleReporter::OO_None;
    if (use_color) opts |= benchmark::ConsoleReporter::OO_Color;
    if (tabular && truthy(*tabular)) opts |= benchmark::ConsoleReporter::OO_Tabular;
    RatioReporter reporter(static_cast<benchmark::ConsoleReporter::OutputOptions>(opts));
    benchmark::RunSpecifiedBenchmarks(&reporter);
  }
  benchmark::Shutdown();
  return 0;
}
