// kmalloc's native heap: what kmalloc/kzalloc/kfree (sim/kmalloc.hpp) use when there is no simulated world.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sim/site.hpp"

namespace devsim::sim::native {

// A quarantining allocator on real threads. Blocks come from the C heap (so ASan's redzones catch an
// out-of-bounds access and LeakSanitizer reports a block nobody freed, with its allocation stack), and a kfree'd
// block is never handed back to the heap: it stays in the quarantine until the process ends, so no later kmalloc
// reuses its address. Under ASan (__SANITIZE_ADDRESS__) a freed block is poisoned with ASan's manual poisoning
// interface, so a use-after-free is ASan's report ("use-after-poison", with the access and allocation stacks;
// ASan does not know the kfree, so the free's stack is not in it). Without ASan a use-after-free reads the
// intact block and is not detected.
//
// kfree of a block already freed (double-free) or of a pointer kmalloc did not return (invalid-free) is reported
// on stderr in KASAN's words and counted (bad_frees); the block is left alone.
//
// INVARIANT: every block kmalloc returned is in exactly one of: live (owned by the caller, tracked under a
// disguised key so the tracking does not keep it reachable for LeakSanitizer), quarantined (kfree'd; kept
// reachable, never reused).
// Thread-safe. Does not handle: fault injection (a native kmalloc never fails), GFP semantics (no sleeping
// check), running C++ destructors of freed objects (the kernel runs none; quarantined objects are never
// destroyed). Memory grows with every allocation: meant for stress runs, not for long-lived processes.
void* kmalloc(std::size_t size, std::size_t align, bool zero, const Site& site);
// False when it reported a double or invalid free. kfree(nullptr) is a no-op, as in the kernel.
bool kfree(const void* p, const Site& site);

// The size kmalloc was asked for, of a block that is live (0 for a freed block or a pointer kmalloc did not return).
std::size_t live_size(const void* p);

// kmemleak_not_leak(): LeakSanitizer does not report the block (under ASan; nothing otherwise).
void not_leak(const void* p);

struct HeapStats {
  std::uint64_t allocations = 0;
  std::uint64_t frees = 0;
  std::uint64_t bad_frees = 0;  // double-free and invalid-free reports
  std::uint64_t quarantined_bytes = 0;
};
HeapStats heap_stats();

}  // namespace devsim::sim::native
