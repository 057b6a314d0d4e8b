// Native stress on real threads (run under TSan and ASan; never the simulator): Arc clone/drop, Weak upgrade
// racing the last drop, and Kref get_unless_zero lookups racing the delete. Start lines are latches; every
// assertion is on the final state, after join.
#define BOOST_TEST_MODULE core_stress_arc
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <latch>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "core/arc.hpp"
#include "core/kref.hpp"
#include "core/weak.hpp"

using namespace devsim;
using core::Arc;

namespace {
constexpr int kMagic = 0x5a5a;

struct Probe {
  std::atomic<int>* destroyed;
  int magic = kMagic;
  explicit Probe(std::atomic<int>* d) : destroyed(d) {}
  ~Probe() {
    magic = 0;
    destroyed->fetch_add(1, std::memory_order_relaxed);
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(arc_clone_drop_from_four_threads_destroys_once) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 100;
  constexpr int kClones = 2000;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> destroyed{0};
    Arc<Probe> arc = Arc<Probe>::emplace(sim::Site::current(), &destroyed);
    std::latch start(kThreads + 1);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([mine = arc.clone(), &start]() mutable {
        start.arrive_and_wait();
        for (int i = 0; i < kClones; ++i) {
          Arc<Probe> a = mine.clone();
          Arc<Probe> b = a;  // NOLINT: the copy is the point
          if (b->magic != kMagic) std::abort();
        }
        mine.drop();  // one of these (or main's) is the last
      });
    }
    start.arrive_and_wait();
    arc.drop();
    for (auto& t : threads)
      t.join();
    BOOST_TEST_REQUIRE(destroyed.load() == 1);
  }
}

namespace {
struct Node : core::EnableWeak<Node> {
  std::atomic<int>* destroyed;
  int magic = kMagic;
  explicit Node(std::atomic<int>* d) : destroyed(d) {}
  ~Node() {
    magic = 0;
    destroyed->fetch_add(1, std::memory_order_relaxed);
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(weak_upgrade_racing_the_last_drop) {
  constexpr int kRounds = 300;
  int upgrades = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> destroyed{0};
    Arc<Node> node = Arc<Node>::emplace(sim::Site::current(), &destroyed);
    core::Weak<Node> weak = core::downgrade(node);
    std::latch start(2);
    std::thread owner([&] {
      start.arrive_and_wait();
      node.drop();
    });
    std::thread lookup([&] {
      start.arrive_and_wait();
      // Upgrades until the object is gone: each success holds a live object (ASan/TSan watch the read).
      while (auto strong = weak.upgrade()) {
        if ((*strong)->magic != kMagic) std::abort();
        ++upgrades;
      }
    });
    owner.join();
    lookup.join();
    BOOST_TEST_REQUIRE(destroyed.load() == 1);
    BOOST_TEST_REQUIRE(!weak.upgrade().has_value());
  }
  BOOST_TEST(upgrades > 0);
}

namespace {
struct Obj {
  core::Kref kref;
  int magic = kMagic;
};

// A lookup table without a reference of its own; release unpublishes under the lock, then frees.
struct Table {
  std::mutex lock;
  Obj* slot = nullptr;
  std::atomic<int> deleted{0};

  void release(Obj* obj) {
    {
      std::lock_guard g(lock);
      if (slot == obj) slot = nullptr;
    }
    delete obj;
    deleted.fetch_add(1, std::memory_order_relaxed);
  }
  Obj* lookup() {
    std::lock_guard g(lock);
    Obj* p = slot;
    // LIFETIME: release() needs this lock to unpublish, so p is allocated while we hold it.
    if (p != nullptr && !p->kref.get_unless_zero()) return nullptr;
    return p;
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(kref_get_unless_zero_lookup_vs_delete) {
  constexpr int kRounds = 300;
  constexpr int kLookups = 2;
  for (int round = 0; round < kRounds; ++round) {
    Table table;
    Obj* created = new Obj;  // count 1: the creator's, dropped by its own thread, never through the table
    table.slot = created;
    std::latch start(kLookups + 1);
    std::vector<std::thread> threads;
    threads.emplace_back([&] {
      start.arrive_and_wait();
      created->kref.put([&] { table.release(created); });
    });
    for (int t = 0; t < kLookups; ++t) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        // Looks up until the object is gone; bounded so a pathological scheduler cannot hang the suite.
        for (int i = 0; i < 1'000'000; ++i) {
          Obj* p = table.lookup();
          if (p == nullptr) break;
          if (p->magic != kMagic) std::abort();
          p->kref.put([&] { table.release(p); });
        }
      });
    }
    for (auto& t : threads)
      t.join();
    BOOST_TEST_REQUIRE(table.deleted.load() == 1);
    BOOST_TEST_REQUIRE(table.slot == nullptr);
  }
}
