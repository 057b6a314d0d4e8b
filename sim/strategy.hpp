// Strategies: who decides each choice of an execution, and how successive executions differ.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "sim/choice.hpp"
#include "sim/footprint.hpp"

namespace devsim::sim {

// Returned by pick_task to say "this execution is redundant, stop it" (sleep-set blocked).
inline constexpr TaskId kPruneExecution = kNoTask - 1;

// A scheduling point with more than one runnable task, or (for a strategy that wants footprints) a switch to
// the only runnable task after the current one blocked or ended: then pick_task must return that task or
// kPruneExecution, and the choice is not recorded.
struct SchedulingPoint {
  std::span<const TaskId> runnable;  // sorted ascending, at least two (one: see above)
  TaskId current = kNoTask;          // the task that reached the point, if it is still runnable
  // What ran since the previous scheduling point; filled only when wants_footprints().
  const Footprint* segment = nullptr;
};

// A source of decisions for a sequence of executions. One instance drives one explorer, on one thread.
// The world calls pick_task/pick_value only for real decisions (more than one option).
class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string_view name() const = 0;
  // Starts the next execution; false when the strategy has nothing more to run (exhaustive search done).
  virtual bool begin_execution() { return true; }
  virtual TaskId pick_task(const SchedulingPoint& point) = 0;
  virtual std::uint64_t pick_value(std::uint64_t bound) = 0;
  // The execution ended; `segment` is what ran after the last scheduling point (if footprints are on).
  virtual void end_execution(const Footprint* /*segment*/) {}
  // Called (before end_execution) when a fatal report or the step budget stopped an execution while tasks could
  // still run, if wants_footprints(): those tasks' next steps never happened.
  virtual void cut_short(std::span<const TaskId> /*runnable*/) {}
  virtual bool wants_footprints() const { return false; }
  // Alternatives skipped because they were known to be equivalent to explored ones (sleep sets).
  virtual std::uint64_t pruned() const { return 0; }
  // True once an exhaustive strategy has covered its whole (bounded) space.
  virtual bool exhausted() const { return false; }
  // True if a replayed schedule did not fit the execution (a recorded task could not run).
  virtual bool diverged() const { return false; }
};

enum class StrategyKind { Random, Pct, Exhaustive, Replay };

struct StrategyOptions {
  StrategyKind kind = StrategyKind::Random;
  std::uint64_t seed = 1;
  int pct_depth = 3;          // PCT: d, the number of ordering constraints a bug needs (d-1 change points)
  int preemption_bound = -1;  // exhaustive: -1 = unbounded
  bool sleep_sets = false;    // exhaustive: partial-order reduction
  // exhaustive: dynamic partial-order reduction (source sets and sleep sets; docs/architecture.md). Implies
  // sleep sets.
  bool dpor = false;
  Schedule replay;  // replay: the recorded choices; when they run out, default choices follow
};

std::unique_ptr<Strategy> make_strategy(const StrategyOptions& options);
std::string_view to_string(StrategyKind kind);
// "random", "pct", "exhaustive" (or "dfs"), "replay".
bool parse_strategy_kind(std::string_view text, StrategyKind* out);
// Exhaustive search's reduction: "dpor", "sleep-sets" or "none"; sets sleep_sets and dpor.
bool parse_reduction(std::string_view text, StrategyOptions* out);
std::string_view reduction_name(const StrategyOptions& options);

}  // namespace devsim::sim
