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

// One bit per option of a search node. A node has a few options (the runnable tasks, or a value's range): one
// inline word holds up to 64 without allocating, which std::vector<bool> did for every node of every execution.
class OptionBits {
 public:
  void reset(std::size_t n) {
    size_ = n;
    first_ = 0;
    rest_.assign(n > 64 ? (n - 1) / 64 : 0, 0);
  }
  std::size_t size() const { return size_; }
  bool operator[](std::size_t i) const { return ((word(i) >> (i % 64)) & 1) != 0; }
  void set(std::size_t i) { word(i) |= std::uint64_t{1} << (i % 64); }
  void set_all() {
    first_ = ~std::uint64_t{0};
    std::fill(rest_.begin(), rest_.end(), ~std::uint64_t{0});
  }

 private:
  std::uint64_t word(std::size_t i) const { return i < 64 ? first_ : rest_[i / 64 - 1]; }
  std::uint64_t& word(std::size_t i) { return i < 64 ? first_ : rest_[i / 64 - 1]; }
  std::uint64_t first_ = 0;          // options 0..63
  std::vector<std::uint64_t> rest_;  // options 64.. (a node rarely has them; moving a node stays cheap)
  std::size_t size_ = 0;
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
// the decided prefix), bounded by the number of preemptions, optionally reduced with sleep sets or with
// dynamic partial-order reduction (DPOR).
//
// A preemption is choosing another task at a point where the current task could continue. Sleep sets
// (Godefroid 1996): after the subtree of option t at a node is explored, t is put to sleep in the subtrees of
// its later siblings, and stays asleep down a path as long as the segments run are independent of t's
// segment (Footprint::independent_of); a sleeping task is not chosen, since every execution starting with it
// is equivalent to one already explored.
//
// DPOR (source sets, Abdulla et al., POPL 2014, with sleep sets): an event is the segment one decision
// starts (what its task runs until the next decision, Node::segment). A node explores first one option; after
// each execution, every race of the execution (two dependent events of different tasks, not ordered by
// happens-before through other events) adds to the node before the first event a task that can start the
// reversed order (an "initial" of the events after it that do not depend on it, then the second event): only
// those options are explored at that node. Happens-before is computed with one vector clock per event.
// With a preemption bound, the option DPOR adds may cost a preemption the bound forbids while the same
// reversal was reachable without it; as in bounded POR (Coons, Musuvathi, McKinley, OOPSLA 2013) the task is
// also added where the first event's task began its run of consecutive events, where choosing another task
// costs no more preemptions (docs/architecture.md discusses what this does and does not guarantee).
class Exhaustive final : public Strategy {
 public:
  Exhaustive(int preemption_bound, bool sleep_sets, bool dpor)
      : bound_(preemption_bound), footprints_(sleep_sets || dpor), sleep_sets_(footprints_), dpor_(dpor) {}
  std::string_view name() const override { return "exhaustive"; }
  bool wants_footprints() const override { return footprints_; }
  std::uint64_t pruned() const override { return pruned_; }
  bool exhausted() const override { return done_; }
  void cut_short(std::span<const TaskId> runnable) override { pending_.assign(runnable.begin(), runnable.end()); }

  bool begin_execution() override {
    if (done_) return false;
    depth_ = 0;
    preemptions_ = 0;
    last_task_node_ = kNone;
    return true;
  }

  TaskId pick_task(const SchedulingPoint& p) override {
    // The segment that ends here began at node last_task_node_ and took the choices of the nodes up to depth_ (the
    // values drawn on the way). While all of them lie below analysed_, they replay the last execution's choices and
    // the node already holds this segment: the same prefix runs the same steps and names the same objects.
    if (footprints_ && last_task_node_ != kNone && depth_ > analysed_ && p.segment != nullptr)
      stack_[last_task_node_].segment = *p.segment;
    if (sleep_sets_ && last_task_node_ != kNone) {
      Node& previous = stack_[last_task_node_];
      previous.chosen_stays_runnable = p.current == task_of(previous);
    }
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
    Node n = fresh_node();
    n.task = true;
    n.options.assign(p.runnable.begin(), p.runnable.end());
    n.current = p.current;
    n.preemptions_before = preemptions_;
    if (sleep_sets_ && last_task_node_ != kNone) {
      const Node& parent = stack_[last_task_node_];
      TaskId ran = parent.options[parent.chosen];
      auto inherit = [&](const std::vector<Sleeper>& from, bool siblings) {
        for (const Sleeper& s : from) {
          if (s.task == ran || !s.footprint.still_independent_of(parent.segment)) continue;
          if (!siblings) {
            n.sleep.push_back(s);
            continue;
          }
          const int slack = bound_slack(parent, s, ran);
          if (slack >= -1) n.sleep.push_back({s.task, s.footprint, s.stays_runnable, slack});
        }
      };
      inherit(parent.sleep, false);
      inherit(parent.done, true);
    }
    n.tried.reset(n.options.size());
    n.backtrack.reset(n.options.size());
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
    n.tried.set(pick);
    n.backtrack.set(pick);
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
    Node n = fresh_node();
    n.task = false;
    n.bound = bound;
    n.tried.reset(bound);
    n.tried.set(0);
    stack_.push_back(std::move(n));
    ++depth_;
    return 0;
  }

  void end_execution(const Footprint* segment) override {
    if (footprints_ && last_task_node_ != kNone && segment != nullptr) {
      stack_[last_task_node_].segment = *segment;
      // A report stopped the execution with tasks still able to run: what they would have done after this
      // segment was never explored, so as a sleeper it must wake at anything (DPOR covers the same ground with
      // analyse_pending). Without this a task asleep with the stopping segment keeps every later sibling's
      // execution from reaching reports past that point.
      if (!pending_.empty()) stack_[last_task_node_].segment.touch_everything();
    }
    if (dpor_) {
      analyse_races();
      analyse_pending();
    }
    pending_.clear();
    // Backtrack to the deepest node with an option left to try.
    while (!stack_.empty()) {
      Node& n = stack_.back();
      if (n.task && sleep_sets_) n.done.push_back({n.options[n.chosen], n.segment, n.chosen_stays_runnable, 0});
      std::size_t next = n.tried.size();
      for (std::size_t i = 0; i < n.tried.size(); ++i) {
        if (n.tried[i]) continue;
        if (!n.task || (allowed(n, i) && (!dpor_ || n.backtrack[i]))) {
          next = i;
          break;
        }
      }
      if (next != n.tried.size()) {
        n.chosen = next;
        n.chosen_stays_runnable = true;  // not yet seen for the new choice: the cautious value
        n.tried.set(next);
        if (n.task) n.backtrack.set(next);
        analysed_ = stack_.size() - 1;  // this node's event changes: its clock and everything after it
        return;
      }
      if (n.task) {
        for (std::size_t i = 0; i < n.tried.size(); ++i)
          if (!n.tried[i] && (asleep(n, n.options[i]) || (dpor_ && !bound_forbids(n, i)))) ++pruned_;
      }
      spare_.push_back(std::move(stack_.back()));
      stack_.pop_back();
    }
    done_ = true;
  }

 private:
  static constexpr std::size_t kNone = ~std::size_t{0};
  struct Sleeper {
    TaskId task;
    Footprint footprint;
    bool stays_runnable;  // whether the task could still run after this step (where it was explored)
    int slack;            // under a preemption bound, see bound_slack
  };
  struct Node {
    bool task = true;
    std::vector<TaskId> options;  // task nodes: the runnable tasks
    std::uint64_t bound = 0;      // value nodes: the number of values
    TaskId current = kNoTask;
    int preemptions_before = 0;
    std::size_t chosen = 0;
    OptionBits tried;
    OptionBits backtrack;        // DPOR: the options this node must explore (tried ones included)
    std::vector<Sleeper> sleep;  // asleep on arrival
    std::vector<Sleeper> done;   // options whose subtrees are fully explored, with their segments
    Footprint segment;           // what the chosen option's segment touched
    // Whether the chosen task could still run at the next scheduling point (unknown: true, the cautious value).
    bool chosen_stays_runnable = true;
    // DPOR: the vector clock of this node's event: clock[t] - 1 is the stack position of the last event of
    // task t that happens before it (0: none). Valid for positions below analysed_.
    std::vector<std::uint32_t> clock;
    std::vector<std::uint32_t> barrier_clock;  // DPOR, a barrier event's: every event at or below it
  };

  // A node as a default-constructed one, with the storage of a spare one if there is.
  // INVARIANT: resets every member of Node (a member added there must be reset here).
  Node fresh_node() {
    if (spare_.empty()) return Node{};
    Node n = std::move(spare_.back());
    spare_.pop_back();
    n.task = true;
    n.options.clear();
    n.bound = 0;
    n.current = kNoTask;
    n.preemptions_before = 0;
    n.chosen = 0;
    n.tried.reset(0);
    n.backtrack.reset(0);
    n.sleep.clear();
    n.done.clear();
    n.segment.clear(0);  // as a default Footprint, keeping the storage
    n.chosen_stays_runnable = true;
    n.clock.clear();
    n.barrier_clock.clear();
    return n;
  }

  static int cost(const Node& n, TaskId t) { return n.current != kNoTask && t != n.current ? 1 : 0; }
  // Under a preemption bound a sleeper sleeps only where its slack allows (bound_slack).
  bool asleep(const Node& n, TaskId t) const {
    return std::any_of(n.sleep.begin(), n.sleep.end(),
                       [&](const Sleeper& s) { return s.task == t && (bound_ < 0 || s.slack + cost(n, t) >= 0); });
  }
  // `done` is an option of node `n` whose subtree is explored; in the subtree of `ran`, a later option of `n`, it
  // sleeps where its steps commute with what ran since (the classic sleep set) and, under a preemption bound, where
  // the explored order had the budget for everything the sleeping order could still run: the two orders reach the
  // same state with different budgets left. Take the sleeper run at a later node m: the path n·ran·…·done used
  // P(n) + cost_n(ran) + U + cost_m(done) preemptions, U those of the steps in between; the explored path
  // n·done·ran·… used P(n) + cost_n(done) + [done could still run after its step] + U (the same U: the steps in
  // between cost what they cost after `ran` either way). The two end with different tasks last, and a
  // continuation's cost depends on the last task only through its first step, by one at most. So the explored
  // order covers the sleeping one when it used at least one preemption fewer, that is when the slack returned
  // here, plus cost_m(done), is at least 0 (asleep() adds that term). Sleeping without this rule lost schedules
  // within the bound (tests/core/test_dpor_soundness.cpp).
  int bound_slack(const Node& n, const Sleeper& done, TaskId ran) const {
    if (bound_ < 0) return 0;
    return cost(n, ran) - cost(n, done.task) - (done.stays_runnable ? 1 : 0) - 1;
  }
  bool bound_forbids(const Node& n, std::size_t i) const {
    return bound_ >= 0 && n.preemptions_before + cost(n, n.options[i]) > bound_;
  }
  bool allowed(const Node& n, std::size_t i) const {
    if (bound_forbids(n, i)) return false;
    return !(sleep_sets_ && asleep(n, n.options[i]));
  }
  static std::size_t index_of(const Node& n, TaskId t) {
    auto it = std::lower_bound(n.options.begin(), n.options.end(), t);
    return it != n.options.end() && *it == t ? static_cast<std::size_t>(it - n.options.begin()) : n.options.size();
  }
  static TaskId task_of(const Node& n) { return n.options[n.chosen]; }

  // Computes the clocks of the events from analysed_ on and adds, for every race whose second event is among
  // them, the reversal to the backtrack set of the node before the first event. Events before analysed_ were
  // analysed in an earlier execution with the same prefix: their races are already handled.
  void analyse_races() {
    std::size_t tasks = 0;
    for (const Node& n : stack_)
      if (n.task && !n.options.empty()) tasks = std::max<std::size_t>(tasks, n.options.back() + 1);
    // Each task's causal predecessors (join_causal), kept up to date going up the stack instead of searched for
    // each event (that search made the analysis quadratic in the length of an execution).
    causal_.last_event.clear();
    causal_.last_enabler.clear();
    causal_.last_barrier = kNone;
    // Per task: the stack positions of its events so far, ascending, and how many of them are left to scan.
    std::vector<std::vector<std::uint32_t>>& events_of = events_of_;
    std::vector<std::size_t>& unseen = unseen_;
    if (events_of.size() < tasks) events_of.resize(tasks);
    for (std::vector<std::uint32_t>& events : events_of)
      events.clear();
    unseen.assign(tasks, 0);
    for (std::size_t j = 0; j < stack_.size(); ++j) {
      Node& e = stack_[j];
      if (!e.task) continue;
      const TaskId p = task_of(e);
      if (j >= analysed_) {
        // Computed in place: the joins below read only earlier events' clocks.
        std::vector<std::uint32_t>& clock = e.clock;
        clock.assign(tasks, 0);
        join_causal(p, clock);
        // Going down the stack, `clock` holds every event found so far to happen before j: an earlier dependent
        // event i not in it is ordered before j only by the direct conflict, a race.
        // An event already known to happen before j is skipped unlooked-at: no race, and its clock is in `clock`
        // already. INVARIANT: a clock whose entry for task q names q's event k holds k's whole clock, and so that
        // of every earlier event of q (clocks only grow by joining whole clocks; a barrier's clock holds each
        // task's last event at or below it). So once a task's latest unscanned event is ordered, all its earlier
        // ones are: the scan visits, in descending order, only the events not yet ordered, merging the tasks'
        // lists, and most earlier events never come up.
        races_.clear();
        for (std::size_t q = 0; q < tasks; ++q)
          unseen[q] = q == p ? 0 : events_of[q].size();
        for (;;) {
          std::size_t i = kNone;
          TaskId q_of_i = kNoTask;
          for (std::size_t q = 0; q < tasks; ++q) {
            if (unseen[q] == 0) continue;
            const std::uint32_t latest = events_of[q][unseen[q] - 1];
            if (clock[q] > latest) {
              unseen[q] = 0;  // ordered before j, with everything earlier of q
              continue;
            }
            if (i == kNone || latest > i) {
              i = latest;
              q_of_i = static_cast<TaskId>(q);
            }
          }
          if (i == kNone) break;
          --unseen[q_of_i];
          const Node& f = stack_[i];
          if (f.segment.independent_of(e.segment)) continue;
          races_.push_back(i);
          join(clock, f.clock);
        }
        clock[p] = static_cast<std::uint32_t>(j + 1);
      }
      note_event(j, p);
      events_of[p].push_back(static_cast<std::uint32_t>(j));
      if (j >= analysed_ && e.segment.barrier()) {
        // Everything up to here happens before everything after (time advanced with every task blocked): the
        // last event of each task at or below j.
        e.barrier_clock.assign(tasks, 0);
        for (std::size_t q = 0; q < tasks; ++q)
          if (q < causal_.last_event.size() && causal_.last_event[q] != kNone)
            e.barrier_clock[q] = static_cast<std::uint32_t>(causal_.last_event[q] + 1);
      }
      if (j < analysed_) continue;
      for (std::size_t i : races_)
        on_race(i, j, p, e.clock);
    }
    analysed_ = stack_.size();
  }

  // The stack position of each task's last event, of the last event that enabled each task (woke or spawned it:
  // Footprint::enable) and of the last time barrier, as of the events noted so far.
  struct Causal {
    std::vector<std::size_t> last_event, last_enabler;
    std::size_t last_barrier = kNone;
  };
  void note_event(std::size_t j, TaskId p) {
    auto set = [j](std::vector<std::size_t>& v, std::size_t t) {
      if (v.size() <= t) v.resize(t + 1, kNone);
      v[t] = j;
    };
    set(causal_.last_event, p);
    for (std::uint32_t t : stack_[j].segment.enabled_tasks())
      set(causal_.last_enabler, t);
    if (stack_[j].segment.barrier()) causal_.last_barrier = j;
  }

  // Joins into `clock` what happens before task p's next event after those noted (note_event) through something
  // other than a conflict: p's previous event (program order), the event that made p runnable since and the last
  // time barrier.
  void join_causal(TaskId p, std::vector<std::uint32_t>& clock) const {
    auto at = [](const std::vector<std::size_t>& v, std::size_t t) { return t < v.size() ? v[t] : kNone; };
    const std::size_t previous = at(causal_.last_event, p), enabler = at(causal_.last_enabler, p);
    if (previous != kNone) join(clock, stack_[previous].clock);
    if (enabler != kNone && (previous == kNone || enabler > previous)) join(clock, stack_[enabler].clock);
    if (causal_.last_barrier != kNone) join(clock, stack_[causal_.last_barrier].barrier_clock);
  }

  static void join(std::vector<std::uint32_t>& into, const std::vector<std::uint32_t>& from) {
    if (into.size() < from.size()) into.resize(from.size(), 0);
    for (std::size_t t = 0; t < from.size(); ++t)
      into[t] = std::max(into[t], from[t]);
  }
  static bool happens_before(std::size_t i, TaskId ti, const Node& k) { return ti < k.clock.size() && k.clock[ti] > i; }

  // Events i < j race (j: a stack position, or a step that never ran, see cut_short: task `tj` with
  // `tj_clock`). Finds the initials of v.j, where v is the events between them that do not happen after i: the
  // tasks whose first event there has no happens-before predecessor there. One of them run at node i reverses
  // the race; if none is scheduled there yet (or asleep), one is added.
  void on_race(std::size_t i, std::size_t j, TaskId tj, const std::vector<std::uint32_t>& tj_clock) {
    const TaskId ti = task_of(stack_[i]);
    std::vector<std::size_t> first;  // per task: the position of its first event in v, or kNone
    std::vector<TaskId> initials;
    auto consider = [&](std::size_t k, TaskId t, const std::vector<std::uint32_t>& clock) {
      if (t >= first.size()) first.resize(t + 1, kNone);
      if (first[t] != kNone) return;
      bool initial = true;
      for (std::size_t u = 0; u < first.size() && initial; ++u)
        if (first[u] != kNone && u < clock.size() && clock[u] > first[u]) initial = false;
      first[t] = k;
      if (initial) initials.push_back(t);
    };
    for (std::size_t k = i + 1; k < j; ++k)
      if (stack_[k].task && !happens_before(i, ti, stack_[k])) consider(k, task_of(stack_[k]), stack_[k].clock);
    consider(j, tj, tj_clock);
    add_backtrack(i, initials);
    if (bound_ >= 0) {
      // Bounded: also where ti's run of consecutive events began, where another task costs no more preemptions.
      std::size_t start = i;
      for (std::size_t k = i; k-- > 0;) {
        if (!stack_[k].task) continue;
        if (task_of(stack_[k]) != ti) break;
        start = k;
      }
      if (start != i) add_backtrack(start, initials);
    }
  }

  // The tasks cut_short() named never ran their next steps: each is taken as a step that conflicts with
  // everything, so the tasks that ran last are also tried the other way round (without this, a report that
  // stops an execution would hide every report another task could have reached from the same state).
  void analyse_pending() {
    for (TaskId q : pending_) {
      std::vector<std::uint32_t> clock;
      join_causal(q, clock);  // analyse_races() has noted every event of the stack
      if (clock.size() <= q) clock.resize(q + 1, 0);
      races_.clear();
      for (std::size_t i = stack_.size(); i-- > 0;) {
        const Node& f = stack_[i];
        if (!f.task || task_of(f) == q) continue;
        // A task that appears only after q's last event is missing from q's clock: nothing of it happened before.
        if (clock.size() <= task_of(f)) clock.resize(task_of(f) + 1, 0);
        if (clock[task_of(f)] <= i) races_.push_back(i);
        join(clock, f.clock);
      }
      for (std::size_t i : races_)
        on_race(i, stack_.size(), q, clock);
    }
    pending_.clear();
  }

  void add_backtrack(std::size_t at, const std::vector<TaskId>& initials) {
    Node& n = stack_[at];
    bool any = false;
    for (TaskId t : initials) {
      std::size_t x = index_of(n, t);
      if (x == n.options.size()) continue;
      any = true;
      if (n.backtrack[x] || asleep(n, t)) return;  // the reversal is (or was) explored from here
    }
    if (!any) {
      // No initial can run here (it was enabled by the first event itself, or by something the footprints do
      // not describe): explore every option, as the original DPOR does.
      n.backtrack.set_all();
      return;
    }
    for (TaskId t : initials) {
      std::size_t x = index_of(n, t);
      if (x != n.options.size()) {
        n.backtrack.set(x);
        return;
      }
    }
  }

  int bound_;
  bool footprints_;  // segments are recorded (sleep sets or DPOR asked for)
  // Under a preemption bound, a sleeper sleeps only where bound_slack() allows.
  bool sleep_sets_;
  bool dpor_;
  std::vector<Node> stack_;
  // Nodes popped off the stack, kept for their vectors' storage: the next executions push as many again, and
  // allocating them afresh was a tenth of a DPOR execution's cost.
  std::vector<Node> spare_;
  // analyse_races()'s scratch, kept for the same reason.
  std::vector<std::vector<std::uint32_t>> events_of_;
  std::vector<std::size_t> unseen_;
  Causal causal_;  // as of the events analyse_races() went through
  std::size_t depth_ = 0;
  std::size_t last_task_node_ = kNone;
  std::size_t analysed_ = 0;        // DPOR: stack positions below it have their clocks and races done
  std::vector<TaskId> pending_;     // cut_short(): the tasks that could still run when the execution stopped
  std::vector<std::size_t> races_;  // scratch: the first events of the races of one event
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
      return std::make_unique<Exhaustive>(o.preemption_bound, o.sleep_sets, o.dpor);
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

bool parse_reduction(std::string_view text, StrategyOptions* out) {
  if (text == "dpor") {
    out->dpor = out->sleep_sets = true;
  } else if (text == "sleep-sets") {
    out->dpor = false;
    out->sleep_sets = true;
  } else if (text == "none") {
    out->dpor = out->sleep_sets = false;
  } else {
    return false;
  }
  return true;
}

std::string_view reduction_name(const StrategyOptions& o) {
  return o.dpor ? "dpor" : o.sleep_sets ? "sleep-sets" : "none";
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
