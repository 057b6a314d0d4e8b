#include "sim/explorer.hpp"

#include "sim/boot.hpp"

#include <chrono>
#include <memory>
#include <vector>

namespace devsim::sim {

namespace {
// The sites of Report::signature(), compared without building the string: a failing execution's reports are
// matched against the failures seen so far on every failing execution of a run. The kind is compared with the
// failure's own report (keys hold no string: the failures vector moves its reports when it grows).
struct SiteKey {
  const char* access_file = nullptr;
  std::uint_least32_t access_line = 0;
  const char* free_file = nullptr;
  std::uint_least32_t free_line = 0;
  // False for a report whose sites are program counters (instrumented accesses, data races): those are
  // matched by their signature string.
  bool usable = true;

  explicit SiteKey(const Report& r) {
    usable = !(r.accessed_by && !r.accessed_by->site) && !r.racing_by;
    if (r.accessed_by && r.accessed_by->site) {
      access_file = r.accessed_by->site->file_name();
      access_line = r.accessed_by->site->line();
    }
    if (r.freed_by && r.freed_by->site) {
      free_file = r.freed_by->site->file_name();
      free_line = r.freed_by->site->line();
    }
  }
  // Equal pointers give equal signatures. Unequal ones may still (one file name string in two translation
  // units) give equal signatures: the string comparison decides then.
  friend bool operator==(const SiteKey&, const SiteKey&) = default;
};
}  // namespace

Execution run_once(const Model& model, const WorldOptions& options, Strategy* strategy, StackPool* pool) {
  Execution e;
  if (strategy != nullptr && !strategy->begin_execution()) return e;
  World w(options, strategy, pool);
  model(w);
  e.outcome = w.run();
  if (strategy != nullptr) {
    strategy->end_execution(&w.final_segment());
    e.diverged = strategy->diverged();
  }
  e.schedule = w.schedule();
  e.reports = w.reports();
  if (w.trace() != nullptr) e.trace_json = w.trace()->to_json();
  return e;
}

Execution replay(const Model& model, const Schedule& schedule, const WorldOptions& options) {
  StrategyOptions so;
  so.kind = StrategyKind::Replay;
  so.replay = schedule;
  auto strategy = make_strategy(so);
  return run_once(model, options, strategy.get());
}

ExploreResult explore(const Model& model, const ExploreOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  ExploreResult result;
  // Every execution of one exploration runs in the same boot (lockdep's graph persists across them).
  Boot boot;
  // One pool per thread and stack size, kept across explore() calls: mapping and unmapping stacks for every
  // call costs TLB shootdowns across the process's threads, which is what kept a fuzzing campaign (an explore()
  // per generated case) from scaling with --jobs.
  thread_local std::vector<std::unique_ptr<StackPool>> pools;
  StackPool* pool_ptr = nullptr;
  for (auto& p : pools)
    if (p->requested_size() == options.world.stack_size) pool_ptr = p.get();
  if (pool_ptr == nullptr) pool_ptr = pools.emplace_back(std::make_unique<StackPool>(options.world.stack_size)).get();
  StackPool& pool = *pool_ptr;
  // The host may have replaced the overflow handler or the alternate stack since the last explore() (a
  // test framework does between test cases); the worlds below only check cheaply.
  overflow::prepare_thread(/*recheck=*/true);
  auto strategy = make_strategy(options.strategy);
  // keys[i] holds the sites of result.failures[i]'s signature.
  std::vector<SiteKey> keys;

  double last_progress = 0;
  while (options.max_executions == 0 || result.executions < options.max_executions) {
    if (options.stop != nullptr && options.stop->load(std::memory_order_relaxed)) {
      result.interrupted = true;
      break;
    }
    if (options.max_seconds > 0 || options.progress) {  // a clock read: ~1% of the cheapest execution
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      if (options.max_seconds > 0 && elapsed >= options.max_seconds) {
        result.out_of_time = true;
        break;
      }
      if (options.progress && elapsed - last_progress >= 1.0) {
        last_progress = elapsed;
        result.seconds = elapsed;
        options.progress(result);
      }
    }
    if (!strategy->begin_execution()) break;
    const std::uint64_t index = result.executions++;
    World w(options.world, strategy.get(), &pool);
    model(w);
    const Outcome outcome = w.run();
    strategy->end_execution(&w.final_segment());
    if (outcome == Outcome::Pruned) {
      ++result.pruned_executions;
      continue;
    }
    if (w.reports().empty()) continue;

    ++result.failing_executions;
    for (const Report& r : w.reports()) {
      const SiteKey key(r);
      Failure* f = nullptr;
      for (std::size_t i = 0; i < result.failures.size() && f == nullptr; ++i)
        if (key.usable && keys[i] == key && result.failures[i].report.kind == r.kind) f = &result.failures[i];
      if (f == nullptr) {
        std::string sig = r.signature();
        for (Failure& existing : result.failures)
          if (existing.signature == sig) f = &existing;
        if (f == nullptr) {
          result.failures.push_back(Failure{std::move(sig), 0, index, r});
          keys.push_back(key);
          f = &result.failures.back();
        }
      }
      ++f->count;
    }
    if (!result.first_failure) {
      Execution e;
      e.index = index;
      e.outcome = outcome;
      e.schedule = w.schedule();
      e.reports = w.reports();
      result.first_failure = std::move(e);
    }
    if (options.stop_at_first_failure) break;
  }
  result.exhausted = strategy->exhausted();
  result.pruned_alternatives = strategy->pruned();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();

  if (result.first_failure && options.trace_first_failure) {
    WorldOptions traced = options.world;
    traced.trace = true;
    result.first_failure->trace_json = replay(model, result.first_failure->schedule, traced).trace_json;
  }
  return result;
}

}  // namespace devsim::sim
