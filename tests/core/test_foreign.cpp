// ForeignOwnable: KBox, Arc and Unit through a void* and back; checked borrows in the simulator.
#define BOOST_TEST_MODULE core_foreign
#include <boost/test/unit_test.hpp>

#include <string>

#include "core/foreign.hpp"
#include "sim/explorer.hpp"
#include "tests/sim/test_models.hpp"

using namespace devsim;

namespace {

struct Config {
  int a = 0;
  int b = 0;
};

static_assert(core::ForeignOwnable<core::KBox<int>>);
static_assert(core::ForeignOwnable<core::Arc<Config>>);
static_assert(core::ForeignOwnable<core::Unit>);
static_assert(!core::ForeignOwnable<int>);
static_assert(!core::ForeignOwnable<Config*>);
static_assert(std::is_same_v<core::ForeignBorrowed<core::KBox<Config>>, core::Borrowed<Config>>);

template <class F>
sim::Execution run_task(F body) {
  return sim::run_once([&](sim::World& w) { w.spawn("t", body); });
}

// A C-style structure with an opaque field, as drvdata / file->private_data.
struct CDevice {
  void* private_data = nullptr;
};

}  // namespace

BOOST_AUTO_TEST_CASE(kbox_travels_through_a_void_pointer_natively) {
  CDevice dev;
  dev.private_data = core::into_foreign(core::KBox<Config>::make(Config{1, 2}));
  core::Borrowed<Config> view = core::borrow_foreign<core::KBox<Config>>(dev.private_data);
  BOOST_TEST(view->a == 1);
  view.write().b = 5;
  BOOST_TEST(view.load(&Config::b) == 5);
  core::KBox<Config> back = core::from_foreign<core::KBox<Config>>(std::exchange(dev.private_data, nullptr));
  BOOST_TEST(back->b == 5);
}

BOOST_AUTO_TEST_CASE(arc_keeps_its_count_in_the_pointer_and_borrows_can_take_another) {
  auto arc = core::Arc<Config>::make(Config{3, 4});
  core::Arc<Config> keep = arc.clone();
  void* p = core::into_foreign(std::move(arc));
  BOOST_TEST(keep.refcount() == 2);
  auto view = core::borrow_foreign<core::Arc<Config>>(p);
  BOOST_TEST(view->a == 3);
  {
    core::Arc<Config> third = view.to_arc();
    BOOST_TEST(keep.refcount() == 3);
  }
  core::Arc<Config> back = core::from_foreign<core::Arc<Config>>(p);
  BOOST_TEST(ptr_eq(back, keep));
  BOOST_TEST(keep.refcount() == 2);
}

BOOST_AUTO_TEST_CASE(unit_is_a_null_pointer) {
  void* p = core::into_foreign(core::Unit{});
  BOOST_TEST(p == nullptr);
  core::Unit u = core::from_foreign<core::Unit>(p);
  (void)u;
  (void)core::borrow_foreign<core::Unit>(nullptr);
}

BOOST_AUTO_TEST_CASE(simulated_round_trips_leave_nothing_behind) {
  sim::Execution e = run_task([] {
    CDevice dev;
    dev.private_data = core::into_foreign(core::KBox<Config>::make(Config{1, 2}));
    BOOST_TEST(core::borrow_foreign<core::KBox<Config>>(dev.private_data).read().a == 1);
    core::from_foreign<core::KBox<Config>>(dev.private_data).drop();

    void* a = core::into_foreign(core::Arc<std::string>::make("shared"));
    BOOST_TEST(*core::borrow_foreign<core::Arc<std::string>>(a) == "shared");
    core::from_foreign<core::Arc<std::string>>(a).drop();
  });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
}

BOOST_AUTO_TEST_CASE(borrow_used_after_from_foreign_freed_it_is_a_use_after_free_naming_both_sites) {
  unsigned read_line = 0, free_line = 0;
  sim::Execution e = run_task([&] {
    void* p = core::into_foreign(core::KBox<Config>::make(Config{1, 2}));
    auto stale = core::borrow_foreign<core::KBox<Config>>(p);
    core::KBox<Config> owner = core::from_foreign<core::KBox<Config>>(p);
    free_line = core::Site::current().line() + 1;
    owner.drop();
    read_line = core::Site::current().line() + 1;
    (void)stale.load(&Config::b);
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  const sim::Report& r = e.reports[0];
  BOOST_TEST(r.kind == "use-after-free");
  BOOST_TEST_REQUIRE(r.accessed_by.has_value());
  BOOST_TEST_REQUIRE(r.accessed_by->site.has_value());
  BOOST_TEST(r.accessed_by->site->line() == read_line);
  BOOST_TEST_REQUIRE(r.freed_by.has_value());
  BOOST_TEST(r.freed_by->site->line() == free_line);
  BOOST_TEST(r.access->offset == offsetof(Config, b));
  BOOST_TEST(r.access->size == sizeof(int));
}

BOOST_AUTO_TEST_CASE(arc_borrow_after_the_last_put_is_a_use_after_free) {
  sim::Execution e = run_task([] {
    void* p = core::into_foreign(core::Arc<Config>::make(Config{1, 2}));
    auto stale = core::borrow_foreign<core::Arc<Config>>(p);
    core::from_foreign<core::Arc<Config>>(p).drop();
    (void)stale.read().a;
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "use-after-free");
}
