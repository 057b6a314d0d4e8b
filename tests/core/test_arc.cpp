// Arc, ArcBorrow, UniqueArc: counts, one allocation, destruction exactly once, foreign round trips, leaks and
// saturation, in the simulator and natively.
#define BOOST_TEST_MODULE core_arc
#include <boost/test/unit_test.hpp>

#include <climits>
#include <utility>

#include "core/arc.hpp"
#include "lifetime_support.hpp"

using namespace devsim;
using core::Arc;
using core::ArcBorrow;
using core::UniqueArc;
using core::test::run_task;

namespace {
// Counts its destructions; a moved-from Probe does not count.
struct Probe {
  int* destroyed;
  int value;
  Probe(int* d, int v) : destroyed(d), value(v) {}
  Probe(Probe&& o) noexcept : destroyed(std::exchange(o.destroyed, nullptr)), value(o.value) {}
  ~Probe() {
    if (destroyed != nullptr) ++*destroyed;
  }
};

// Test hook: the block behind an Arc, through the foreign-pointer round trip.
template <class T>
core::detail::ArcInner<T>* inner_of(Arc<T>& arc) {
  void* p = std::move(arc).into_foreign();
  arc = Arc<T>::from_foreign(p);
  return static_cast<core::detail::ArcInner<T>*>(p);
}
}  // namespace

BOOST_AUTO_TEST_CASE(clone_and_drop_adjust_the_count) {
  auto e = run_task([] {
    Arc<int> a = Arc<int>::make(7);
    BOOST_TEST(a.refcount() == 1);
    Arc<int> b = a.clone();
    BOOST_TEST(a.refcount() == 2);
    BOOST_TEST(ptr_eq(a, b));
    {
      Arc<int> c = b;  // NOLINT: the copy is the point
      BOOST_TEST(a.refcount() == 3);
    }
    BOOST_TEST(a.refcount() == 2);
    b.drop();
    BOOST_TEST(!b);
    BOOST_TEST(a.refcount() == 1);
    BOOST_TEST(*a == 7);
  });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
}

BOOST_AUTO_TEST_CASE(one_allocation_in_simulated_memory_freed_at_the_last_drop) {
  auto e = run_task([] {
    sim::KernelMemory& mem = sim::world().memory();
    BOOST_TEST(mem.allocations() == 0u);
    Arc<long> a = Arc<long>::make(1);
    Arc<long> b = a.clone();
    Arc<long> c = b.clone();
    BOOST_TEST(mem.allocations() == 1u);  // count and value in one block
    BOOST_TEST(mem.live_objects() == 1u);
    BOOST_TEST(mem.record(1).size == sizeof(core::detail::ArcInner<long>));
    a.drop();
    b.drop();
    BOOST_TEST(mem.live_objects() == 1u);
    c.drop();
    BOOST_TEST(mem.live_objects() == 0u);
    BOOST_TEST(mem.record(1).freed);
  });
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(value_destroyed_exactly_once_at_the_last_drop) {
  int destroyed = 0;
  auto e = run_task([&] {
    Arc<Probe> a = Arc<Probe>::emplace(sim::Site::current(), &destroyed, 3);
    Arc<Probe> b = a.clone();
    a.drop();
    BOOST_TEST(destroyed == 0);
    BOOST_TEST(b->value == 3);
    b.drop();
    BOOST_TEST(destroyed == 1);
  });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(destroyed == 1);  // not again when the world ends and quarantine is emptied
}

BOOST_AUTO_TEST_CASE(unique_arc_is_mutable_then_shares) {
  auto e = run_task([] {
    UniqueArc<int> u = UniqueArc<int>::make(1);
    *u = 5;
    Arc<int> a = std::move(u).into_arc();
    BOOST_TEST(*a == 5);
    BOOST_TEST(a.refcount() == 1);
    Arc<int> b = UniqueArc<int>::make(2);  // the implicit conversion
    BOOST_TEST(*b == 2);
    BOOST_TEST(b.refcount() == 1);
  });
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(borrow_to_arc_takes_a_count) {
  auto e = run_task([] {
    Arc<int> a = Arc<int>::make(9);
    ArcBorrow<int> borrow = a.borrow();
    BOOST_TEST(*borrow == 9);
    BOOST_TEST(a.refcount() == 1);  // a borrow has no count of its own
    Arc<int> b = borrow.to_arc();
    BOOST_TEST(a.refcount() == 2);
    BOOST_TEST(ptr_eq(a, b));
  });
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(foreign_round_trip_keeps_the_count) {
  int destroyed = 0;
  auto e = run_task([&] {
    Arc<Probe> a = Arc<Probe>::emplace(sim::Site::current(), &destroyed, 4);
    void* p = std::move(a).into_foreign();  // file->private_data = ...
    BOOST_TEST(!a);
    BOOST_TEST(Arc<Probe>::borrow_foreign(p)->value == 4);
    Arc<Probe> back = Arc<Probe>::from_foreign(p);  // release(): take it back, once
    BOOST_TEST(back.refcount() == 1);
    BOOST_TEST(destroyed == 0);
    back.drop();
    BOOST_TEST(destroyed == 1);
  });
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(a_leaked_arc_is_reported_as_a_leak) {
  int destroyed = 0;
  auto e = run_task([&] {
    Arc<Probe> a = Arc<Probe>::emplace(sim::Site::current(), &destroyed, 5);
    (void)std::move(a).into_foreign();  // never taken back
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "memory-leak");
  BOOST_TEST(destroyed == 1);  // the world destroyed the leaked value as it ended
}

BOOST_AUTO_TEST_CASE(saturated_count_warns_and_never_frees) {
  int destroyed = 0;
  auto e = run_task([&] {
    Arc<Probe> a = Arc<Probe>::emplace(sim::Site::current(), &destroyed, 6);
    inner_of(a)->refcount.set(INT_MAX - 1);  // as if INT_MAX - 2 other Arcs existed
    Arc<Probe> b = a.clone();                // INT_MAX
    BOOST_TEST(a.refcount() == INT_MAX);
    Arc<Probe> c = a.clone();  // overflows: saturates with a warning
    BOOST_TEST(a.refcount() == core::Refcount::kSaturated);
    c.drop();
    b.drop();
    a.drop();
    BOOST_TEST(destroyed == 0);  // never freed early: pinned forever
    BOOST_TEST(sim::world().memory().live_objects() == 1u);
  });
  // The saturation warning, one warning per drop of the saturated count (lib/refcount.c
  // refcount_warn_saturate, REFCOUNT_SUB_UAF: the count stays saturated), then kmemleak's report of the pinned
  // object: the leak check runs after warnings. None fatal.
  BOOST_TEST_REQUIRE(e.reports.size() == 5u);
  BOOST_TEST(e.reports[0].kind == "refcount-warning");
  BOOST_TEST(e.reports[0].headline == "refcount_t: saturated; leaking memory.");
  for (int i = 1; i <= 3; ++i)
    BOOST_TEST(e.reports[i].headline == "refcount_t: underflow; use-after-free.");
  BOOST_TEST(e.reports[4].kind == "memory-leak");
  for (const sim::Report& r : e.reports)
    BOOST_TEST(!r.fatal);
  BOOST_TEST(destroyed == 1);  // only by the world ending, after the task saw it alive
}

BOOST_AUTO_TEST_CASE(two_tasks_dropping_clones_destroy_the_value_once_in_every_schedule) {
  int executions = 0;
  int destroyed_once = 0;
  auto model = [&](sim::World& w) {
    ++executions;
    auto destroyed = std::make_shared<int>(0);
    Arc<Probe> a = Arc<Probe>::emplace(sim::Site::current(), destroyed.get(), 1);
    Arc<Probe> b = a.clone();
    // Both tasks share the counter: the Probe's destructor writes it in whichever task drops last.
    w.spawn("t0", [a = std::move(a), destroyed]() mutable {
      Arc<Probe> mine = a.clone();
      a.drop();
      mine.drop();
    });
    w.spawn("t1", [b = std::move(b), destroyed, &destroyed_once]() mutable {
      b.drop();
      sim::yield();
      sim::yield();
      sim::yield();
      if (*destroyed == 1) ++destroyed_once;  // t0's drops may still be ahead (bounded preemption)
    });
  };
  auto result = core::test::explore_exhaustively(model, 2);
  BOOST_TEST(result.exhausted);
  BOOST_TEST(result.failing_executions == 0u);
  BOOST_TEST(executions > 10);
  BOOST_TEST(destroyed_once > 0);
}

BOOST_AUTO_TEST_CASE(native_counts_and_single_destruction) {
  int destroyed = 0;
  {
    Arc<Probe> a = Arc<Probe>::emplace(sim::Site::current(), &destroyed, 1);
    Arc<Probe> b = a;  // NOLINT
    BOOST_TEST(a.refcount() == 2);
    Arc<Probe> c = UniqueArc<Probe>::emplace(sim::Site::current(), &destroyed, 2);
    void* p = std::move(c).into_foreign();
    BOOST_TEST(Arc<Probe>::borrow_foreign(p)->value == 2);
    Arc<Probe>::from_foreign(p).drop();
    BOOST_TEST(destroyed == 1);
    a.drop();
    BOOST_TEST(destroyed == 1);
  }
  BOOST_TEST(destroyed == 2);
}

BOOST_AUTO_TEST_CASE(native_saturation_never_frees) {
  int destroyed = 0;
  Arc<Probe> a = Arc<Probe>::emplace(sim::Site::current(), &destroyed, 1);
  core::detail::ArcInner<Probe>* inner = inner_of(a);
  inner->refcount.set(INT_MAX);
  Arc<Probe> b = a.clone();  // saturates (no report sink natively)
  BOOST_TEST(a.refcount() == core::Refcount::kSaturated);
  b.drop();
  a.drop();
  BOOST_TEST(destroyed == 0);
  // Clean up for the leak checker: back to one count, owned by a fresh Arc.
  inner->refcount.set(1);
  Arc<Probe>::from_foreign(inner).drop();
  BOOST_TEST(destroyed == 1);
}
