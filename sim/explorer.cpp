#include "sim/explorer.hpp"

#include <chrono>

namespace devsim::sim {

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
  StackPool pool(options.world.stack_size);
  // The host may have replaced the overflow handler or the alternate stack since the last explore() (a
  // test framework does between test cases); the worlds below only check cheaply.
  overflow::prepare_thread(/*recheck=*/true);
  auto strategy = make_strategy(options.strategy);

  while (options.max_executions == 0 || result.executions < options.max_executions) {
    if (options.max_seconds > 0 && (result.executions & 63) == 0 &&
        std::chrono::duration<double>(Clock::now() - start).count() >= options.max_seconds) {
      break;
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
      std::string sig = r.signature();
      Failure* f = nullptr;
      for (Failure& existing : result.failures)
        if (existing.signature == sig) f = &existing;
      if (f == nullptr) {
        result.failures.push_back(Failure{std::move(sig), 0, index, r});
        f = &result.failures.back();
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
