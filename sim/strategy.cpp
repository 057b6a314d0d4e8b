#include "sim/strategy.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

namespace devsim::sim {

namespace {

// splitmix64: small, fast, and the same stream on every platform (std distributions are not).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound), unbiased (Lemire's multiply-and-reject).
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

// Uniformly random among runnable tasks at every decision.
class RandomWalk final : public Strategy {
 public:
  explicit RandomWalk(std::uint64_t seed) : rng_(seed) {}
  std::string_view name() const override { return "random"; }
  TaskId pick_task(const SchedulingPoint& p) override { return p.runnable[rng_.below(p.runnable.size())]; }
  std::uint64_t pick_value(std::uint64_t bound) override { return rng_.below(bound); }

 private:
  Rng rng_;
};

// Probabilistic Concurrency Testing (Burckhardt et al., ASPLOS 2010): random distinct priorities, always run
// the highest-priority runnable task, and lower the running task's priority at d-1 random change points.
// A bug of depth d is found with probability at least 1/(n k^(d-1)) per execution. Steps are counted only
// at decisions (more than one runnable task); k is the largest such count seen so far.
class Pct final : public Strategy {
 public:
  Pct(std::uint64_t seed, int depth) : rng_(seed), depth_(std::max(depth, 1)) {}
  std::string_view name() const override { return "pct"; }

  bool begin_execution() override {
    priorities_.clear();
    steps_ = 0;
    change_points_.clear();
    for (int i = 1; i < depth_; ++i)
      change_points_.push_back(1 + rng_.below(k_));
    std::sort(change_points_.begin(), change_points_.end());
    next_change_ = 0;
    return true;
  }

  TaskId pick_task(const SchedulingPoint& p) override {
    ++steps_;
    TaskId best = highest(p.runnable);
    while (next_change_ < change_points_.size() && change_points_[next_change_] <= steps_) {
      // Change points get priorities d-1, d-2, …, 1: below every initial priority (>= d).
      priority(best) = static_cast<std::uint64_t>(depth_ - 1 - static_cast<int>(next_change_));
      ++next_change_;
      best = highest(p.runnable);
    }
    return best;
  }
  std::uint64_t pick_value(std::uint64_t bound) override { return rng_.below(bound); }
  void end_execution(const Footprint*) override { k_ = std::max(k_, steps_); }

 private:
  std::uint64_t& priority(TaskId t) {
    while (priorities_.size() <= t) {
      // Initial priorities: distinct with overwhelming probability, all >= d.
      priorities_.push_back(static_cast<std::uint64_t>(depth_) + (rng_.next() >> 2));
    }
    return priorities_[t];
  }
  TaskId highest(std::span<const TaskId> runnable) {
    TaskId best = runnable.front();
    for (TaskId t : runnable)
      if (priority(t) > priority(best)) best = t;
    return best;
  }

  Rng rng_;
  int depth_;
  std::uint64_t k_ = 16;
  std::uint64_t steps_ = 0;
  std::vector<std::uint64_t> priorities_;
  std::vector<std::uint64_t> change_points_;
  std::size_t next_change_ = 0;
};

// Depth-first enumeration of every execution (stateless: each execution re-runs from the start, replaying
// the decided prefix), bounded by the number of preemptions, optionally reduced with sleep sets.
//
// A preemption is choosing another task at a point where the current task could continue. Sleep sets
// (Godefroid 1996): after the subtree of option t at a node is explored, t is put to sleep in the subtrees of
// its later siblings, and stays asleep down a path as long as the segments run are independent of t's
// segment (Footprint::independent_of); a sleeping task is not chosen, since every execution starting with it
// is equivalent to one already explored. Combined with a preemption bound this stays sound but may skip
// executions the bound alone would have run.
class Exhaustive final : public Strategy {
 public:
  Exhaustive(int preemption_bound, bool sleep_sets) : bound_(preemption_bound), sleep_sets_(sleep_sets) {}
  std::string_view name() const override { return "exhaustive"; }
  bool wants_footprints() const override { return sleep_sets_; }
  std::uint64_t pruned() const override { return pruned_; }
  bool exhausted() const override { return done_; }

  bool begin_execution() override {
    if (done_) return false;
    depth_ = 0;
    preemptions_ = 0;
    last_task_node_ = kNone;
    return true;
  }

  TaskId pick_task(const SchedulingPoint& p) override {
    if (sleep_sets_ && last_task_node_ != kNone && p.segment != nullptr) stack_[last_task_node_].segment = *p.segment;
    if (depth_ < stack_.size()) {
      Node& n = stack_[depth_];
      if (!n.task || n.options.size() != p.runnable.size() ||
          !std::equal(n.options.begin(), n.options.end(), p.runnable.begin())) {
        throw std::logic_error(
            "devsim: exhaustive search replayed a prefix that behaved differently; the model is "
            "not deterministic (does it read the clock, or use real randomness?)");
      }
      TaskId chosen = n.options[n.chosen];
      preemptions_ += cost(n, chosen);
      last_task_node_ = depth_++;
      return chosen;
    }
    Node n;
    n.task = true;
    n.options.assign(p.runnable.begin(), p.runnable.end());
    n.current = p.current;
    n.preemptions_before = preemptions_;
    if (sleep_sets_ && last_task_node_ != kNone) {
      const Node& parent = stack_[last_task_node_];
      TaskId ran = parent.options[parent.chosen];
      auto inherit = [&](const std::vector<Sleeper>& from) {
        for (const Sleeper& s : from)
          if (s.task != ran && s.footprint.independent_of(parent.segment)) n.sleep.push_back(s);
      };
      inherit(parent.sleep);
      inherit(parent.done);
    }
    n.tried.assign(n.options.size(), false);
    std::size_t pick = n.options.size();
    for (std::size_t i = 0; i < n.options.size(); ++i) {
      if (!allowed(n, i)) continue;
      if (pick == n.options.size() || n.options[i] == n.current) pick = i;
    }
    if (pick == n.options.size()) {
      ++pruned_;  // every runnable task is asleep: this execution only repeats explored ones
      return kPruneExecution;
    }
    n.chosen = pick;
    n.tried[pick] = true;
    preemptions_ += cost(n, n.options[pick]);
    stack_.push_back(std::move(n));
    last_task_node_ = depth_++;
    return stack_.back().options[pick];
  }

  std::uint64_t pick_value(std::uint64_t bound) override {
    if (depth_ < stack_.size()) {
      Node& n = stack_[depth_++];
      if (n.task || n.bound != bound) {
        throw std::logic_error(
            "devsim: exhaustive search replayed a prefix that behaved differently; the model is "
            "not deterministic");
      }
      return n.chosen;
    }
    Node n;
    n.task = false;
    n.bound = bound;
    n.tried.assign(bound, false);
    n.tried[0] = true;
    stack_.push_back(std::move(n));
    ++depth_;
    return 0;
  }

  void end_execution(const Footprint* segment) override {
    if (sleep_sets_ && last_task_node_ != kNone && segment != nullptr) stack_[last_task_node_].segment = *segment;
    // Backtrack to the deepest node with an option left to try.
    while (!stack_.empty()) {
      Node& n = stack_.back();
      if (n.task && sleep_sets_) n.done.push_back({n.options[n.chosen], n.segment});
      std::size_t next = n.tried.size();
      for (std::size_t i = 0; i < n.tried.size(); ++i) {
        if (n.tried[i]) continue;
        if (!n.task || allowed(n, i)) {
          next = i;
          break;
        }
      }
      if (next != n.tried.size()) {
        n.chosen = next;
        n.tried[next] = true;
        return;
      }
      if (n.task) {
        for (std::size_t i = 0; i < n.tried.size(); ++i)
          if (!n.tried[i] && asleep(n, n.options[i])) ++pruned_;
      }
      stack_.pop_back();
    }
    done_ = true;
  }

 private:
  static constexpr std::size_t kNone = ~std::size_t{0};
  struct Sleeper {
    TaskId task;
    Footprint footprint;
  };
  struct Node {
    bool task = true;
    std::vector<TaskId> options;  // task nodes: the runnable tasks
    std::uint64_t bound = 0;      // value nodes: the number of values
    TaskId current = kNoTask;
    int preemptions_before = 0;
    std::size_t chosen = 0;
    std::vector<bool> tried;
    std::vector<Sleeper> sleep;  // asleep on arrival
    std::vector<Sleeper> done;   // options whose subtrees are fully explored, with their segments
    Footprint segment;           // what the chosen option's segment touched
  };

  static int cost(const Node& n, TaskId t) { return n.current != kNoTask && t != n.current ? 1 : 0; }
  static bool asleep(const Node& n, TaskId t) {
    return std::any_of(n.sleep.begin(), n.sleep.end(), [t](const Sleeper& s) { return s.task == t; });
  }
  bool allowed(const Node& n, std::size_t i) const {
    if (bound_ >= 0 && n.preemptions_before + cost(n, n.options[i]) > bound_) return false;
    return !(sleep_sets_ && asleep(n, n.options[i]));
  }

  int bound_;
  bool sleep_sets_;
  std::vector<Node> stack_;
  std::size_t depth_ = 0;
  std::size_t last_task_node_ = kNone;
  int preemptions_ = 0;
  std::uint64_t pruned_ = 0;
  bool done_ = false;
};

// Feeds back a recorded schedule; when it runs out (or stops fitting), continues with default choices:
// the current task if it can run, else the lowest id; value 0.
class Replay final : public Strategy {
 public:
  explicit Replay(Schedule schedule) : schedule_(std::move(schedule)) {}
  std::string_view name() const override { return "replay"; }
  bool begin_execution() override {
    pos_ = 0;
    diverged_ = false;
    return true;
  }
  TaskId pick_task(const SchedulingPoint& p) override {
    if (pos_ < schedule_.size()) {
      const Choice& c = schedule_[pos_++];
      if (c.kind == Choice::Kind::Task &&
          std::binary_search(p.runnable.begin(), p.runnable.end(), static_cast<TaskId>(c.value))) {
        return static_cast<TaskId>(c.value);
      }
      diverged_ = true;
    }
    return p.current != kNoTask ? p.current : p.runnable.front();
  }
  std::uint64_t pick_value(std::uint64_t bound) override {
    if (pos_ < schedule_.size()) {
      const Choice& c = schedule_[pos_++];
      if (c.kind == Choice::Kind::Value && c.value < bound) return c.value;
      diverged_ = true;
    }
    return 0;
  }
  bool diverged() const override { return diverged_; }

 private:
  Schedule schedule_;
  std::size_t pos_ = 0;
  bool diverged_ = false;
};

}  // namespace

std::unique_ptr<Strategy> make_strategy(const StrategyOptions& o) {
  switch (o.kind) {
    case StrategyKind::Random:
      return std::make_unique<RandomWalk>(o.seed);
    case StrategyKind::Pct:
      return std::make_unique<Pct>(o.seed, o.pct_depth);
    case StrategyKind::Exhaustive:
      return std::make_unique<Exhaustive>(o.preemption_bound, o.sleep_sets);
    case StrategyKind::Replay:
      return std::make_unique<Replay>(o.replay);
  }
  throw std::invalid_argument("devsim: unknown strategy");
}

std::string_view to_string(StrategyKind kind) {
  switch (kind) {
    case StrategyKind::Random:
      return "random";
    case StrategyKind::Pct:
      return "pct";
    case StrategyKind::Exhaustive:
      return "exhaustive";
    case StrategyKind::Replay:
      return "replay";
  }
  return "?";
}

bool parse_strategy_kind(std::string_view text, StrategyKind* out) {
  if (text == "random")
    *out = StrategyKind::Random;
  else if (text == "pct")
    *out = StrategyKind::Pct;
  else if (text == "exhaustive" || text == "dfs")
    *out = StrategyKind::Exhaustive;
  else if (text == "replay")
    *out = StrategyKind::Replay;
  else
    return false;
  return true;
}

}  // namespace devsim::sim
