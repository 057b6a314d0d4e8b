// Kref: kref_get/put/get_unless_zero, and R10 (lookup table vs last put) explored exhaustively.
#define BOOST_TEST_MODULE core_kref
#include <boost/test/unit_test.hpp>

#include <memory>

#include "core/kref.hpp"
#include "lifetime_support.hpp"
#include "sim/kmalloc.hpp"

using namespace devsim;
using core::Kref;
using core::test::run_task;

BOOST_AUTO_TEST_CASE(put_releases_exactly_once_at_the_last_reference) {
  auto e = run_task([] {
    Kref k;
    BOOST_TEST(k.read() == 1);
    k.get();
    BOOST_TEST(k.read() == 2);
    int released = 0;
    Kref* seen = nullptr;
    BOOST_TEST(!k.put([&](Kref* r) {
      ++released;
      seen = r;
    }));
    BOOST_TEST(released == 0);
    BOOST_TEST(k.put([&](Kref* r) {
      ++released;
      seen = r;
    }));
    BOOST_TEST(released == 1);
    BOOST_TEST(seen == &k);                  // the kernel's release(struct kref*), for container_of
    k.init();                                // reused: the count is 1 again
    BOOST_TEST(k.put([&] { ++released; }));  // a release without arguments is fine too
    BOOST_TEST(released == 2);
  });
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(get_on_a_released_object_is_reported) {
  auto e = run_task([] {
    Kref k;
    BOOST_TEST(k.put([] {}));
    k.get();  // addition on 0
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "refcount-warning");
  BOOST_TEST(e.reports[0].headline == "refcount_t: addition on 0; use-after-free.");
  BOOST_TEST(e.reports[0].fatal);
}

BOOST_AUTO_TEST_CASE(get_unless_zero_refuses_a_released_object_quietly) {
  auto e = run_task([] {
    Kref k;
    BOOST_TEST(k.get_unless_zero());
    BOOST_TEST(k.read() == 2);
    BOOST_TEST(!k.put([] {}));
    BOOST_TEST(k.put([] {}));
    BOOST_TEST(!k.get_unless_zero());
    BOOST_TEST(k.read() == 0);
  });
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(native_semantics_match) {
  Kref k;
  k.get();
  int released = 0;
  BOOST_TEST(!k.put([&] { ++released; }));
  BOOST_TEST(k.put([&] { ++released; }));
  BOOST_TEST(released == 1);
  BOOST_TEST(!k.get_unless_zero());
  k.get();  // addition on 0: saturates (no report sink natively), never released again
  BOOST_TEST(k.read() == core::Refcount::kSaturated);
  BOOST_TEST(!k.put([&] { ++released; }));
  BOOST_TEST(released == 1);
}

// ---- R10: the last reference dropped while another task looks the object up in a table -------------------

namespace {
struct Obj {
  Kref kref;
  int id = 1;
};

// A lookup table that holds no reference of its own: the object's release unpublishes it under the table's
// lock, then frees it (the classic idiom of seed 002).
struct Table {
  core::test::ModelLock lock;
  sim::KPtr<Obj> slot;

  void release(sim::KPtr<Obj> obj) {
    lock.lock();
    slot = nullptr;
    lock.unlock();
    sim::kfree(obj);
  }
};

struct LookupStats {
  int found = 0;
  int not_found = 0;
};

sim::Model lookup_vs_last_put(bool get_unless_zero, LookupStats* stats) {
  return [=](sim::World& w) {
    auto table = std::make_shared<Table>();
    sim::KPtr<Obj> obj = sim::kzalloc<Obj>();  // count 1: the owner's reference
    table->slot = obj;
    w.spawn("owner", [table, obj] { obj.write().kref.put([&] { table->release(obj); }); });
    w.spawn("lookup", [table, get_unless_zero, stats] {
      table->lock.lock();
      sim::KPtr<Obj> found = table->slot;
      if (found) {
        if (get_unless_zero) {
          // LIFETIME: the table lock keeps release() from freeing the object while we look at its count.
          if (!found.write().kref.get_unless_zero()) found = nullptr;  // dying: as good as not there
        } else {
          found.write().kref.get();  // the bug: the count may already be 0
        }
      }
      table->lock.unlock();
      if (!found) {
        ++stats->not_found;
        return;
      }
      ++stats->found;
      BOOST_TEST(found.read().id == 1);
      found.write().kref.put([&] { table->release(found); });
    });
  };
}
}  // namespace

BOOST_AUTO_TEST_CASE(r10_kref_get_through_a_lookup_table_is_reported_in_some_schedule) {
  LookupStats stats;
  auto result = core::test::explore_exhaustively(lookup_vs_last_put(false, &stats));
  BOOST_TEST(result.exhausted);
  BOOST_TEST(result.failing_executions > 0u);
  BOOST_TEST(result.failing_executions < result.executions);  // a race: most schedules are fine
  BOOST_TEST(core::test::found(result, "refcount_t: addition on 0; use-after-free."));
}

BOOST_AUTO_TEST_CASE(r10_get_unless_zero_under_the_table_lock_is_clean_in_every_schedule) {
  LookupStats stats;
  auto result = core::test::explore_exhaustively(lookup_vs_last_put(true, &stats));
  BOOST_TEST(result.exhausted);
  BOOST_TEST(result.failing_executions == 0u);
  for (const auto& f : result.failures)
    BOOST_TEST_MESSAGE(sim::render_text(f.report));
  // Both sides of the race were explored: the lookup won in some schedules and lost in others.
  BOOST_TEST(stats.found > 0);
  BOOST_TEST(stats.not_found > 0);
}
