#include "sim/kmemleak.hpp"

#include <algorithm>
#include <cstdint>

#include "sim/memory.hpp"
#include "sim/world.hpp"

namespace devsim::sim {

namespace {

// The roots of one world (a world extension: created on first registration, gone with the world).
struct KmemleakRoots {
  // Read only by the scan at the end of an execution, when every task has finished (World::extension).
  static constexpr bool kFootprintExempt = true;
  struct Range {
    const void* start;
    std::size_t size;
  };
  std::vector<Range> ranges;
};

// A word of scanned memory, read whatever type was stored there.
using Word = std::uintptr_t __attribute__((may_alias));

struct Scan {
  const KernelMemory& memory;
  std::vector<std::uint8_t> grey;  // by id: reached (and queued for its own scan)
  std::vector<AllocId> queue;
  std::uintptr_t min = UINTPTR_MAX;  // the span of live objects: most words fall outside it, cheaply
  std::uintptr_t max = 0;

  void mark(AllocId id) {
    if (grey[id] != 0) return;
    grey[id] = 1;
    queue.push_back(id);
  }

  // Not instrumented: roots and objects are read whole, padding and all, as kmemleak reads them.
  __attribute__((no_sanitize("address", "thread", "undefined"))) void scan_block(const void* start, std::size_t size) {
    auto p = reinterpret_cast<std::uintptr_t>(start);
    const std::uintptr_t end = p + size;
    p = (p + sizeof(Word) - 1) & ~(std::uintptr_t{sizeof(Word)} - 1);
    for (; p + sizeof(Word) <= end; p += sizeof(Word)) {
      const std::uintptr_t value = *reinterpret_cast<const Word*>(p);
      if (value < min || value >= max) continue;
      // LIFETIME: no storage is reused within an execution, so the allocation holding an address is unique.
      const AllocId id = memory.find(reinterpret_cast<const void*>(value));
      if (id != 0 && !memory.record(id).freed) mark(id);
    }
  }
};

}  // namespace

void kmemleak_add_root(const void* start, std::size_t size) {
  World* w = World::current();
  if (w == nullptr) return;
  w->extension<KmemleakRoots>().ranges.push_back({start, size});
}

void kmemleak_remove_root(const void* start) {
  World* w = World::current();
  if (w == nullptr) return;
  std::erase_if(w->extension<KmemleakRoots>().ranges,
                [start](const KmemleakRoots::Range& r) { return r.start == start; });
}

std::vector<bool> kmemleak_unreferenced(const KernelMemory& memory, World& world) {
  const std::size_t n = memory.allocations();
  Scan scan{memory, std::vector<std::uint8_t>(n + 1, 0), {}};
  bool any_live = false;
  for (AllocId id = 1; id <= n; ++id) {
    const Allocation& a = memory.record(id);
    if (a.freed) continue;
    any_live = true;
    const auto base = reinterpret_cast<std::uintptr_t>(a.base);
    scan.min = std::min(scan.min, base);
    scan.max = std::max<std::uintptr_t>(scan.max, base + std::max<std::uint32_t>(a.size, 1));
    if (a.not_leak) scan.mark(id);  // kmemleak_not_leak(): never reported, and scanned like a root
  }
  std::vector<bool> leaks(n + 1, false);
  if (!any_live) return leaks;
  for (const KmemleakRoots::Range& r : world.extension<KmemleakRoots>().ranges)
    scan.scan_block(r.start, r.size);
  while (!scan.queue.empty()) {
    const AllocId id = scan.queue.back();
    scan.queue.pop_back();
    const Allocation& a = memory.record(id);
    scan.scan_block(a.base, a.size);
  }
  for (AllocId id = 1; id <= n; ++id)
    leaks[id] = !memory.record(id).freed && scan.grey[id] == 0;
  return leaks;
}

}  // namespace devsim::sim
