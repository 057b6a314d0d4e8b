// KBox<T>: ownership, freeing at drop, simulated kernel memory in a world, plain new natively.
#define BOOST_TEST_MODULE core_kbox
#include <boost/test/unit_test.hpp>

#include <string>

#include "core/kbox.hpp"
#include "sim/explorer.hpp"
#include "tests/sim/test_models.hpp"

using namespace devsim;

namespace {

// Counts destructions of values that were really constructed (moved-from shells do not count).
struct Tracked {
  explicit Tracked(int v, int* destroyed) : value(v), destroyed(destroyed) {}
  Tracked(Tracked&& o) noexcept : value(o.value), destroyed(std::exchange(o.destroyed, nullptr)) {}
  ~Tracked() {
    if (destroyed != nullptr) ++*destroyed;
  }
  int value;
  int* destroyed;
};

template <class F>
sim::Execution run_task(F body) {
  return sim::run_once([&](sim::World& w) { w.spawn("t", body); });
}

}  // namespace

BOOST_AUTO_TEST_CASE(native_box_owns_and_frees_once) {
  int destroyed = 0;
  {
    auto b = core::KBox<Tracked>::emplace(core::Site::current(), 7, &destroyed);
    BOOST_TEST(b->value == 7);
    BOOST_TEST(b.alloc_id() == 0u);
    core::KBox<Tracked> moved = std::move(b);
    BOOST_TEST(!b);
    BOOST_TEST(moved->value == 7);
    BOOST_TEST(destroyed == 0);
  }
  BOOST_TEST(destroyed == 1);
}

BOOST_AUTO_TEST_CASE(move_assignment_frees_the_previous_value) {
  int destroyed = 0;
  auto a = core::KBox<Tracked>::emplace(core::Site::current(), 1, &destroyed);
  auto b = core::KBox<Tracked>::emplace(core::Site::current(), 2, &destroyed);
  a = std::move(b);
  BOOST_TEST(destroyed == 1);
  BOOST_TEST(a->value == 2);
  a.drop();
  BOOST_TEST(destroyed == 2);
  BOOST_TEST(!a);
}

BOOST_AUTO_TEST_CASE(simulated_box_is_kmalloced_and_freed_at_drop) {
  int destroyed = 0;
  std::size_t live_while_held = 0, live_after = 0;
  sim::Execution e = run_task([&] {
    auto b = core::KBox<Tracked>::emplace(core::Site::current(), 3, &destroyed);
    BOOST_TEST(b.alloc_id() != 0u);
    live_while_held = sim::world().memory().live_objects();
    b.drop();
    live_after = sim::world().memory().live_objects();
  });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(live_while_held == 1u);
  BOOST_TEST(live_after == 0u);
  BOOST_TEST(destroyed == 1);
}

BOOST_AUTO_TEST_CASE(leaked_box_is_reported_and_its_value_destroyed_once_at_world_end) {
  int destroyed = 0;
  sim::Execution e = run_task([&] {
    auto b = core::KBox<Tracked>::emplace(core::Site::current(), 3, &destroyed);
    void* p = std::move(b).into_foreign();  // and never taken back
    (void)p;
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "memory-leak");
  BOOST_TEST(destroyed == 1);
}

BOOST_AUTO_TEST_CASE(into_and_from_foreign_round_trip_in_both_runtimes) {
  auto native = core::KBox<int>::make(41);
  void* p = std::move(native).into_foreign();
  BOOST_TEST(!native);
  auto back = core::KBox<int>::from_foreign(p);
  BOOST_TEST(*back == 41);

  sim::Execution e = run_task([] {
    auto b = core::KBox<std::string>::make("drvdata");
    void* q = std::move(b).into_foreign();
    auto again = core::KBox<std::string>::from_foreign(q);
    BOOST_TEST(*again == "drvdata");
    BOOST_TEST(again.alloc_id() != 0u);
  });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
}
