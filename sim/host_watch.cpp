#include "sim/host_watch.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "sim/memory.hpp"
#include "sim/race.hpp"
#include "sim/world.hpp"

namespace devsim::sim::host_watch {

namespace {

// This thread's watched ranges, [first, second). Few (one or two per module), so a scan is enough.
thread_local std::vector<std::pair<std::uintptr_t, std::uintptr_t>> t_ranges;

// Footprints name host objects by address (World::footprint_name); a watched range is named word by word, so an
// access of any size names the same words as any other access that overlaps it.
constexpr std::uintptr_t kWord = 8;

}  // namespace

void watch(const void* at, std::size_t size) {
  if (size == 0) return;
  const auto begin = reinterpret_cast<std::uintptr_t>(at);
  t_ranges.emplace_back(begin, begin + size);
  std::uintptr_t lo = t_ranges.front().first, hi = t_ranges.front().second;
  for (const auto& [b, e] : t_ranges) {
    lo = std::min(lo, b);
    hi = std::max(hi, e);
  }
  t_base = lo;
  t_span = hi - lo;
}

void on_access(const void* p, std::size_t size, unsigned flags) noexcept {
  World* w = World::current();
  // Outside a task (a world's set-up and tear-down, module copies being restored) nothing is being explored.
  if (w == nullptr || !w->in_task() || w->stopping() || size == 0) return;
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  for (const auto& [b, e] : t_ranges) {
    if (at < b || at >= e) continue;
    const bool ordering = (flags & (kAccessRelease | kAccessAcquire)) != 0;
    // Happens-before changes with the order of releases and acquires: a write for partial-order reduction.
    const bool write = (flags & kAccessWrite) != 0 || ordering;
    const std::uintptr_t end = std::min(at + size, e);
    for (std::uintptr_t word = at & ~(kWord - 1); word < end; word += kWord)
      w->touch(reinterpret_cast<const void*>(word), write);
    if (ordering) {
      RaceDetector& races = w->races();
      if ((flags & kAccessRelease) != 0) races.release(w->current_task(), p);
      if ((flags & kAccessAcquire) != 0) races.acquire(w->current_task(), p);
    }
    return;
  }
}

}  // namespace devsim::sim::host_watch
