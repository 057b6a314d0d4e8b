// The reserved region simulated kernel objects live in, and its shadow: what the instrumentation callbacks
// (sim/instrument.cpp) consult on every load and store of simulated-kernel code.
#pragma once

#include <cstddef>
#include <cstdint>

namespace devsim::sim {

class KernelMemory;
using AllocId = std::uint32_t;

namespace shadow {

// Simulated objects are carved out of one reserved virtual region per OS thread, in 16-byte granules; the
// granule map beside it names the allocation that holds each granule (0: none), so finding the object an
// address belongs to is an index, not a search.
inline constexpr std::size_t kGranule = 16;
// Per thread: reserved with MAP_NORESERVE, touched only as far as executions use it. An execution that needs
// more is stopped with a "devsim limit" error.
inline constexpr std::size_t kRegionBytes = std::size_t{256} << 20;

// One data-race cell per 8 bytes of the region (the race detector's memory, see sim/race.hpp).
inline constexpr std::size_t kCellBytes = 8;

// The current world's view of the region. INVARIANT: [base, base + used) is exactly the storage the current
// world's KernelMemory handed out; every granule of it has its granule-map entry written (alignment padding
// included, as 0). Outside a world `used` is 0, so every address tests as host memory.
struct View {
  std::uintptr_t base = 0;
  std::uintptr_t used = 0;
  AllocId* granules = nullptr;  // granules[(addr - base) / kGranule]
  KernelMemory* memory = nullptr;
  void* cells = nullptr;            // race cells for [base, ...), one per kCellBytes
  std::uint32_t generation = 0;     // cells stamped with another generation are empty
  std::uint32_t no_race_depth = 0;  // inside data_race(): accesses are not race-checked
};

// LIFETIME: set by a KernelMemory's constructor, restored by its destructor (worlds nest like scopes).
inline constinit thread_local View t_view{};

// The one test every instrumented access pays: is `p` simulated kernel memory of the current world?
inline bool in_region(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) - t_view.base < t_view.used;
}

}  // namespace shadow
}  // namespace devsim::sim
