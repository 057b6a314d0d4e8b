// kmalloc/kzalloc/kfree without a simulated world: the quarantining native heap (sim/native_kmalloc.hpp). Freed
// blocks are never reused within a run, and under ASan they are poisoned, so a use-after-free is ASan's report;
// double and invalid frees are reported (mm/kasan/report.c kasan_report_invalid_free names both).
// Runs on real threads (ctest label "native"): under TSan and ASan in .ci/run.
#define BOOST_TEST_MODULE sim_native_kmalloc
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <latch>
#include <set>
#include <thread>
#include <vector>

#include "sim/kmalloc.hpp"
#include "sim/native_kmalloc.hpp"
#include "sim/sanitizers.hpp"

#if defined(DEVSIM_ASAN)
#include <sanitizer/asan_interface.h>
#endif

using namespace devsim;

namespace {

struct Obj {
  std::uint64_t a = 7;
  std::uint32_t b = 9;
  char pad[20] = {};
};

// Whether any byte of [p, p + size) is poisoned; null when ASan is not in the build.
bool any_poisoned(const void* p, std::size_t size) {
#if defined(DEVSIM_ASAN)
  return __asan_region_is_poisoned(const_cast<void*>(p), size) != nullptr;
#else
  static_cast<void>(p);
  static_cast<void>(size);
  return false;
#endif
}

}  // namespace

BOOST_AUTO_TEST_CASE(allocates_constructs_and_zeroes_natively) {
  BOOST_TEST_REQUIRE(sim::World::current() == nullptr);
  sim::KPtr<Obj> p = sim::kmalloc<Obj>(Obj{});
  BOOST_TEST_REQUIRE(static_cast<bool>(p));
  BOOST_TEST(p.load(&Obj::a) == 7u);  // checked accessors are plain accesses natively
  p.store(&Obj::b, 11u);
  BOOST_TEST(p.read().b == 11u);
  BOOST_TEST(p.id() == 0u);  // not simulated memory
  sim::KPtr<Obj> z = sim::kzalloc<Obj>();
  BOOST_TEST(z.read().a == 7u);  // value-initialised after the zero fill
  BOOST_TEST(std::all_of(z.read().pad, z.read().pad + sizeof z.read().pad, [](char c) { return c == 0; }));
  sim::kfree(p);
  sim::kfree(z);
}

// A kfree'd block is poisoned under ASan: every later access through it is ASan's report. (A death test is not
// practical in Boost.Test; the poisoning is what makes ASan report, so it is what is checked.)
BOOST_AUTO_TEST_CASE(freed_block_is_poisoned_under_asan) {
  sim::KPtr<Obj> p = sim::kzalloc<Obj>();
  Obj* raw = p.unchecked();
  BOOST_TEST(!any_poisoned(raw, sizeof(Obj)));
  sim::kfree(p);
#if defined(DEVSIM_ASAN)
  for (std::size_t i = 0; i < sizeof(Obj); ++i)
    BOOST_TEST_REQUIRE(__asan_address_is_poisoned(reinterpret_cast<const char*>(raw) + i) == 1);
  BOOST_TEST(__asan_region_is_poisoned(raw, sizeof(Obj)) == static_cast<void*>(raw));
#else
  BOOST_TEST_MESSAGE("not an ASan build: poisoning is not checked");
#endif
  // kfree_raw of another block: the same.
  sim::KPtr<Obj> q = sim::kmalloc<Obj>(Obj{});
  sim::kfree_raw(q.unchecked());
#if defined(DEVSIM_ASAN)
  BOOST_TEST(__asan_address_is_poisoned(q.unchecked()) == 1);
#endif
}

// Never reused within a run: blocks allocated from many threads after others were freed never get a freed
// block's address.
BOOST_AUTO_TEST_CASE(freed_addresses_are_never_reused_across_threads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2'000;
  std::vector<std::vector<std::uintptr_t>> freed(kThreads), later(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        sim::KPtr<Obj> p = sim::kzalloc<Obj>();
        freed[t].push_back(reinterpret_cast<std::uintptr_t>(p.unchecked()));
        sim::kfree(p);
      }
      for (int i = 0; i < kPerThread; ++i) {
        sim::KPtr<Obj> p = sim::kzalloc<Obj>();
        later[t].push_back(reinterpret_cast<std::uintptr_t>(p.unchecked()));
        sim::kfree(p);
      }
    });
  for (std::thread& t : threads)
    t.join();
  std::set<std::uintptr_t> all;
  std::size_t n = 0;
  for (int t = 0; t < kThreads; ++t) {
    all.insert(freed[t].begin(), freed[t].end());
    all.insert(later[t].begin(), later[t].end());
    n += freed[t].size() + later[t].size();
  }
  BOOST_TEST(all.size() == n);  // every allocation had its own address
}

// Double free and invalid free are reported and leave the heap alone (mm/kasan/report.c: "double-free",
// "invalid-free").
BOOST_AUTO_TEST_CASE(double_and_invalid_free_are_reported) {
  const sim::native::HeapStats before = sim::native::heap_stats();
  sim::KPtr<Obj> p = sim::kzalloc<Obj>();
  BOOST_TEST(sim::native::kfree(p.unchecked(), sim::Site::current()));
  BOOST_TEST(!sim::native::kfree(p.unchecked(), sim::Site::current()));  // double-free
  Obj on_stack;
  BOOST_TEST(!sim::native::kfree(&on_stack, sim::Site::current()));  // invalid-free: not from kmalloc
  BOOST_TEST(sim::native::kfree(nullptr, sim::Site::current()));     // kfree(NULL) is fine
  const sim::native::HeapStats after = sim::native::heap_stats();
  BOOST_TEST(after.bad_frees == before.bad_frees + 2);
  BOOST_TEST(after.frees == before.frees + 1);
  BOOST_TEST(after.allocations == before.allocations + 1);
  BOOST_TEST(after.quarantined_bytes >= before.quarantined_bytes + sizeof(Obj));
}

// Alignment beyond max_align_t is honoured.
BOOST_AUTO_TEST_CASE(over_aligned_objects) {
  struct alignas(64) Wide {
    int v = 3;
  };
  for (int i = 0; i < 100; ++i) {
    sim::KPtr<Wide> p = sim::kzalloc<Wide>();
    BOOST_TEST_REQUIRE(reinterpret_cast<std::uintptr_t>(p.unchecked()) % 64 == 0u);
    BOOST_TEST_REQUIRE(p.read().v == 3);
    sim::kfree(p);
  }
}
