// Weak<T>: upgrade while alive, failure once gone or revoked, and the upgrade-vs-last-drop race explored
// exhaustively (R10's fixed variant with a weak reference, seed 002).
#define BOOST_TEST_MODULE core_weak
#include <boost/test/unit_test.hpp>

#include <memory>
#include <optional>

#include "core/weak.hpp"
#include "lifetime_support.hpp"
#include "sim/kmalloc.hpp"

using namespace devsim;
using core::Arc;
using core::Weak;
using core::test::run_task;

namespace {
// A device whose destructor frees a buffer it owns: a use after destruction touches freed simulated memory,
// which the memory detector reports.
struct Device : core::EnableWeak<Device> {
  sim::KPtr<int> regs;
  int* destroyed = nullptr;
  explicit Device(int* d = nullptr) : destroyed(d) {
    if (sim::World::current() != nullptr) regs = sim::kmalloc<int>(42);
  }
  ~Device() {
    if (regs) sim::kfree(regs);
    if (destroyed != nullptr) ++*destroyed;
  }
  int read_regs() const { return regs ? regs.read() : 42; }
};
}  // namespace

BOOST_AUTO_TEST_CASE(upgrade_succeeds_while_the_object_lives) {
  auto e = run_task([] {
    Arc<Device> dev = Arc<Device>::emplace(sim::Site::current());
    Weak<Device> weak = core::downgrade(dev);
    BOOST_TEST(dev.refcount() == 1);  // a Weak holds no count of the object
    std::optional<Arc<Device>> strong = weak.upgrade();
    BOOST_TEST_REQUIRE(strong.has_value());
    BOOST_TEST(ptr_eq(*strong, dev));
    BOOST_TEST(dev.refcount() == 2);
    BOOST_TEST((*strong)->read_regs() == 42);
    Weak<Device> copy = weak;  // NOLINT: copies share the anchor
    BOOST_TEST(copy.upgrade().has_value());
  });
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(upgrade_fails_after_the_last_drop_and_nothing_leaks) {
  int destroyed = 0;
  auto e = run_task([&] {
    Arc<Device> dev = Arc<Device>::emplace(sim::Site::current(), &destroyed);
    Weak<Device> weak = core::downgrade(dev);
    dev.drop();
    BOOST_TEST(destroyed == 1);
    BOOST_TEST(!weak.upgrade().has_value());
    BOOST_TEST(sim::world().memory().live_objects() == 1u);  // the anchor, held by the Weak
    weak = Weak<Device>();
    BOOST_TEST(sim::world().memory().live_objects() == 0u);
  });
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(revoke_makes_upgrades_fail_while_arcs_remain) {
  auto e = run_task([] {
    Arc<Device> dev = Arc<Device>::emplace(sim::Site::current());
    Weak<Device> weak = core::downgrade(dev);
    BOOST_TEST(dev->revoke());   // unplug
    BOOST_TEST(!dev->revoke());  // idempotent: true only for the call that revoked
    BOOST_TEST(!weak.upgrade().has_value());
    BOOST_TEST(!core::downgrade(dev).upgrade().has_value());  // a Weak made after revoke is dead too
    BOOST_TEST(dev.refcount() == 1);
  });
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(empty_weak_never_upgrades) {
  Weak<Device> weak;
  BOOST_TEST(!weak);
  BOOST_TEST(!weak.upgrade().has_value());
}

BOOST_AUTO_TEST_CASE(native_upgrade_and_expiry) {
  int destroyed = 0;
  Arc<Device> dev = Arc<Device>::emplace(sim::Site::current(), &destroyed);
  Weak<Device> weak = core::downgrade(dev);
  {
    auto strong = weak.upgrade();
    BOOST_TEST_REQUIRE(strong.has_value());
    BOOST_TEST((*strong)->read_regs() == 42);
  }
  dev.drop();
  BOOST_TEST(destroyed == 1);
  BOOST_TEST(!weak.upgrade().has_value());
}

// ---- the race: a lookup through a weak reference while the owner drops the last Arc ---------------------

namespace {
struct RaceStats {
  int upgraded = 0;
  int failed = 0;
};

sim::Model upgrade_vs_last_drop(RaceStats* stats) {
  return [=](sim::World& w) {
    Arc<Device> dev = Arc<Device>::emplace(sim::Site::current());
    auto weak = std::make_shared<Weak<Device>>(core::downgrade(dev));
    w.spawn("owner", [dev = std::move(dev)]() mutable { dev.drop(); });  // unplug: the last Arc goes
    w.spawn("lookup", [weak, stats] {
      std::optional<Arc<Device>> strong = weak->upgrade();
      if (!strong) {
        ++stats->failed;
        return;
      }
      ++stats->upgraded;
      sim::yield();                              // the owner may drop its Arc here: ours keeps the device alive
      BOOST_TEST((*strong)->read_regs() == 42);  // checked access to memory the destructor frees
    });
  };
}
}  // namespace

BOOST_AUTO_TEST_CASE(upgrade_racing_the_last_drop_is_clean_in_every_schedule) {
  RaceStats stats;
  auto result = core::test::explore_exhaustively(upgrade_vs_last_drop(&stats), 3);
  BOOST_TEST(result.exhausted);
  for (const auto& f : result.failures)
    BOOST_TEST_MESSAGE(sim::render_text(f.report));
  BOOST_TEST(result.failing_executions == 0u);  // no use-after-free, no refcount warning, no leak
  BOOST_TEST(stats.upgraded > 0);               // both outcomes happen
  BOOST_TEST(stats.failed > 0);
  BOOST_TEST(stats.upgraded + stats.failed == static_cast<int>(result.executions));
}
