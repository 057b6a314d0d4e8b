// Host memory that exploration footprints must see although it is not simulated memory: the writable segments
// (.data and .bss) of the C modules loaded on this thread, where the modules' globals live. Two tasks that share
// state only through a global are ordered by nothing else the engine records (no lock, no simulated object, no
// wake-up); without this, dynamic partial-order reduction takes them to be independent and runs one order only.
//
// Accesses to watched memory are footprinted, and a marked access's release or acquire order (smp_store_release,
// smp_load_acquire, a value-returning atomic_t operation on a global) is a happens-before edge for the race
// detector, as on simulated memory: without it, plain accesses to simulated objects that a global flag orders
// would be reported as data races. They are not scheduling points, and the globals' own plain accesses are not
// race-checked (docs/architecture.md). Only C modules are watched: their translation units hold the driver's code
// alone. A C++ driver's translation units also instantiate the engine's inline code, whose accesses to its own
// containers must not reach the footprint it is in the middle of changing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace devsim::sim::host_watch {

// [t_base, t_base + t_span) covers every range this thread watches: the prefilter every instrumented access to
// host memory pays (one subtraction, one comparison). A span of 0 watches nothing.
inline constinit thread_local std::uintptr_t t_base = 0;
inline constinit thread_local std::uintptr_t t_span = 0;

inline bool may_watch(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) - t_base < t_span;
}

// Watches [at, at + size) on this thread from now on.
// LIFETIME: for the thread's life; the memory must stay mapped that long (module copies are never unloaded).
void watch(const void* at, std::size_t size);

// An instrumented access that passed the prefilter, with its kAccess* flags (sim/memory.hpp). When it falls in
// a watched range and a task made it: each 8-byte word it covers joins the task's current footprint (when the
// world records footprints), and its release and acquire order reach the race detector.
void on_access(const void* p, std::size_t size, unsigned flags) noexcept;

}  // namespace devsim::sim::host_watch
