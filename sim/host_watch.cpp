#include "sim/host_watch.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "sim/memory.hpp"
#include "sim/race.hpp"
#include "sim/report.hpp"
#include "sim/shadow.hpp"
#include "sim/stacktrace.hpp"
#include "sim/world.hpp"

namespace devsim::sim::host_watch {

namespace {

// Footprints name host objects by address (World::footprint_name); a watched range is named word by word, so an
// access of any size names the same words as any other access that overlaps it. The race detector's cells are
// words too.
constexpr std::uintptr_t kWord = 8;
static_assert(kWord == shadow::kCellBytes);

// One watched range and its data-race cells, one per word from `base` (cells stamped with another world's
// generation read as empty, as the region's do).
struct Range {
  std::uintptr_t begin, end, base;
  std::string owner;
  std::vector<RaceDetector::Cell> cells;
};

// This thread's watched ranges: few (one or two per module), so a scan is enough.
// LIFETIME: for the thread's life, like the module copies they describe.
thread_local std::vector<Range> t_ranges;

// The races on watched memory reported in the current execution, by pair of access sites: a racing loop reports
// once, as KernelMemory does for simulated memory.
struct ReportedRaces {
  // What was reported is an outcome, not state that steps share: the order of its uses is no conflict.
  static constexpr bool kFootprintExempt = true;
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> pairs;
};

void report_race(World& w, const Range& range, std::uintptr_t at, std::size_t size, bool write, std::uintptr_t pc,
                 const RaceDetector::Conflict& conflict) {
  auto& reported = w.extension<ReportedRaces>().pairs;
  for (const auto& [a, b] : reported)
    if (a == pc && b == conflict.other.pc) return;
  reported.emplace_back(pc, conflict.other.pc);
  const std::string mine = innermost_frame(pc).function, theirs = innermost_frame(conflict.other.pc).function;
  Report r;
  r.kind = std::string(bug::kDataRace);
  // KCSAN's title names both functions in a fixed order, so the two orders of one race read the same.
  r.headline = "data-race in " + std::min(mine, theirs) + " / " + std::max(mine, theirs);
  r.accessed_by = w.task_site(w.current_task(), std::nullopt);
  if (r.accessed_by->stack.empty()) r.accessed_by->stack = stack_of_return_address(pc);
  // Only the earlier access's own return address was kept (its stack is gone): one frame.
  r.racing_by =
      TaskSite{w.task_label(conflict.other.task), std::nullopt, 0, stack_of_return_address(conflict.other.pc)};
  // A global has no simulated address: it is named by its symbol (host addresses differ from run to run).
  r.details.push_back(std::string(write ? "write" : "read") + " of " + std::to_string(size) + " bytes to " +
                      data_symbol(at) + " of " + range.owner + " by task " + r.accessed_by->task + "; racing " +
                      (conflict.other.write ? "write" : "read") + " of " +
                      std::to_string(__builtin_popcount(conflict.other.mask)) + " bytes to " +
                      data_symbol(conflict.address) + " by task " + r.racing_by->task);
  r.details.push_back(
      "no happens-before between the two accesses (no common lock, no release/acquire, no "
      "completion, wake-up, spawn or grace period ordering them)");
  // KCSAN prints and goes on: the execution continues, so the bug it leads to (if any) is found too.
  r.fatal = false;
  w.report(std::move(r));
}

}  // namespace

void watch(const void* at, std::size_t size, std::string owner) {
  if (size == 0) return;
  const auto begin = reinterpret_cast<std::uintptr_t>(at);
  const std::uintptr_t base = begin & ~(kWord - 1), end = begin + size;
  t_ranges.push_back(
      {begin, end, base, std::move(owner), std::vector<RaceDetector::Cell>((end - base + kWord - 1) / kWord)});
  std::uintptr_t lo = t_ranges.front().begin, hi = t_ranges.front().end;
  for (const Range& r : t_ranges) {
    lo = std::min(lo, r.begin);
    hi = std::max(hi, r.end);
  }
  t_base = lo;
  t_span = hi - lo;
}

void on_access(const void* p, std::size_t size, unsigned flags, std::uintptr_t pc) noexcept {
  World* w = World::current();
  // Outside a task (a world's set-up and tear-down, module copies being restored) nothing is being explored.
  if (w == nullptr || !w->in_task() || w->stopping() || size == 0) return;
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  for (Range& range : t_ranges) {
    if (at < range.begin || at >= range.end) continue;
    const bool ordering = (flags & (kAccessRelease | kAccessAcquire)) != 0;
    const bool write = (flags & kAccessWrite) != 0;
    const std::uintptr_t end = std::min(at + size, range.end);
    // Happens-before changes with the order of releases and acquires: a write for partial-order reduction.
    for (std::uintptr_t word = at & ~(kWord - 1); word < end; word += kWord)
      w->touch(reinterpret_cast<const void*>(word), write || ordering);
    // Alone (World::alone), touch() only named the words: every other task is created after what it does.
    if (w->alone()) return;
    try {
      RaceDetector& races = w->races();
      const TaskId me = w->current_task();
      if ((flags & kAccessMarked) != 0) {
        if ((flags & kAccessRelease) != 0) races.release(me, p);
        if ((flags & kAccessAcquire) != 0) races.acquire(me, p);
        return;
      }
      if (shadow::t_view.no_race_depth != 0) return;
      auto conflict =
          races.access(me, at, end - at, write, pc, range.cells.data(), range.base, shadow::t_view.generation);
      if (conflict) report_race(*w, range, at, end - at, write, pc, *conflict);
    } catch (...) {
      // Building a report can only fail for want of memory; the access itself is valid to perform either way.
    }
    return;
  }
}

}  // namespace devsim::sim::host_watch
