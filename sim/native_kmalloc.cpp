#include "sim/native_kmalloc.hpp"
#include "sim/native_report.hpp"

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "sim/sanitizers.hpp"

#if defined(DEVSIM_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#endif

namespace devsim::sim::native {

namespace {

// Keys are disguised so that the table does not hold a pointer to a live block: LeakSanitizer then sees a
// block the driver lost as unreachable, and reports it.
constexpr std::uintptr_t kDisguise = 0xa5a5'a5a5'a5a5'a5a5u;
std::uintptr_t key(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) ^ kDisguise;
}

struct Block {
  std::size_t size = 0;       // as allocated (rounded up to the alignment)
  std::size_t requested = 0;  // as asked for
  bool freed = false;
};

struct Heap {
  std::mutex mu;
  std::unordered_map<std::uintptr_t, Block> blocks;  // every block ever returned, by disguised address
  std::vector<void*> quarantine;                     // freed blocks: reachable, never returned to the C heap
  HeapStats stats;
};

// LIFETIME: never destroyed, so a kfree from a thread still running at exit finds it.
Heap& heap() {
  static Heap* h = new Heap;
  return *h;
}

void report_free(const char* kind, const void* p, const Site& site) {
  char address[32];
  std::snprintf(address, sizeof address, "%p", p);
  native::report(kind, std::string("KASAN: ") + kind + " in " + site_function(site) + "\nFree of addr " + address +
                           " at " + site_location(site) + " (native runtime)");
}

}  // namespace

void* kmalloc(std::size_t size, std::size_t align, bool zero, const Site&) {
  const std::size_t requested = size;
  if (size == 0) size = 1;  // a distinct address per allocation (the kernel's ZERO_SIZE_PTR is not modelled)
  align = align < alignof(std::max_align_t) ? alignof(std::max_align_t) : align;
  const std::size_t rounded = (size + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  if (p == nullptr) throw std::bad_alloc();
  if (zero) std::memset(p, 0, rounded);
  Heap& h = heap();
  std::lock_guard lock(h.mu);
  h.blocks[key(p)] = Block{rounded, requested, false};
  ++h.stats.allocations;
  return p;
}

bool kfree(const void* p, const Site& site) {
  if (p == nullptr) return true;
  Heap& h = heap();
  std::lock_guard lock(h.mu);
  auto it = h.blocks.find(key(p));
  if (it == h.blocks.end()) {
    ++h.stats.bad_frees;
    report_free("invalid-free", p, site);
    return false;
  }
  if (it->second.freed) {
    ++h.stats.bad_frees;
    report_free("double-free", p, site);
    return false;
  }
  it->second.freed = true;
  ++h.stats.frees;
  h.stats.quarantined_bytes += it->second.size;
  h.quarantine.push_back(const_cast<void*>(p));
#if defined(DEVSIM_ASAN)
  // Every later access is ASan's report. The block is ours to poison: ASan still counts it as allocated.
  ASAN_POISON_MEMORY_REGION(p, it->second.size);
#endif
  return true;
}

#if defined(DEVSIM_ASAN)
// LeakSanitizer follows the pointers inside poisoned (kfree'd) blocks too. A freed object's C++ members (a lock's
// name, a std::function) live on the C++ heap and are never destroyed natively, as the kernel runs no destructors:
// without this they would be reported as leaks of a correct driver. The cost: a block whose only pointer sits in a
// freed object is not reported (the kernel's kmemleak would report it).
extern "C" const char* __lsan_default_options() {
  return "use_poisoned=1";
}
#endif

void not_leak(const void* p) {
#if defined(DEVSIM_ASAN)
  __lsan_ignore_object(p);
#else
  static_cast<void>(p);
#endif
}

std::size_t live_size(const void* p) {
  Heap& h = heap();
  std::lock_guard lock(h.mu);
  const auto it = h.blocks.find(key(p));
  return it == h.blocks.end() || it->second.freed ? 0 : it->second.requested;
}

HeapStats heap_stats() {
  Heap& h = heap();
  std::lock_guard lock(h.mu);
  return h.stats;
}

}  // namespace devsim::sim::native
