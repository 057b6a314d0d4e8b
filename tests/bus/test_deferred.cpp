// Work items and timers are their own tasks: they outlive remove() unless cancelled (BRIEF §2 item 9, R14).
#define BOOST_TEST_MODULE bus_deferred
#include <boost/test/unit_test.hpp>

#include "bus/devm.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "bus/timer.hpp"
#include "bus/workqueue.hpp"
#include "tests/bus/bus_test_support.hpp"

using namespace devsim;
using namespace devsim::bus;

namespace {

// Driver data with a work item and a timer embedded first, so the callbacks find it the way container_of does.
struct Priv {
  WorkStruct work;
  TimerList timer;
  int value = 0;
};
bool g_cancel = false;  // the fixed remove() cancels, the buggy one forgets

template <class Member>
sim::KPtr<Priv> container_of(Member& member) {
  // The first member's address is the structure's; the handle is the allocation it lives in.
  auto* p = reinterpret_cast<Priv*>(&member);
  return sim::KPtr<Priv>(p, sim::world().memory().find(p));
}
void work_fn(WorkStruct& work) {
  static_cast<void>(container_of(work).load(&Priv::value));
}
void timer_fn(TimerList& timer) {
  auto* p = reinterpret_cast<Priv*>(reinterpret_cast<char*>(&timer) - offsetof(Priv, timer));
  static_cast<void>(sim::KPtr<Priv>(p, sim::world().memory().find(p)).load(&Priv::value));
}

int probe(CoreContext& ctx) {
  sim::KPtr<Priv> priv = devm_kzalloc<Priv>(ctx);
  Priv* p = priv.unchecked();  // LIFETIME: just allocated, freed only at unbind
  init_work(p->work, work_fn);
  timer_setup(p->timer, timer_fn);
  ctx->set_drvdata(p);
  queue_work(p->work);
  mod_timer(p->timer, 1'000'000);  // 1 ms of virtual time
  return 0;
}
void deferred_remove(CoreContext& ctx) {
  auto* p = static_cast<Priv*>(ctx->drvdata());
  if (!g_cancel) return;
  cancel_work_sync(p->work);
  timer_shutdown_sync(p->timer);
}

void model(sim::World& w) {
  w.spawn("setup", [](sim::World& w) {
    platform_driver_register(DriverOps{"deferred", "platform", {}, probe, deferred_remove});
    Device* dev = platform_device_register("deferred");
    w.spawn("hub", [dev] { platform_device_unregister(dev); });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(uncancelled_work_and_timers_outlive_remove) {
  g_cancel = false;
  sim::ExploreResult r = sim::explore(model, bus::test::exhaustive());
  BOOST_TEST(r.exhausted);
  bool in_work = false, in_timer = false;
  for (const sim::Failure& f : r.failures) {
    BOOST_TEST(f.report.kind == "use-after-free", bus::test::describe({f.report}));
    // The kernel reads the callback pointer from the freed item before calling it: that read is the report.
    in_work |= f.report.headline == "use-after-free in process_one_work";
    in_timer |= f.report.headline == "use-after-free in call_timer_fn";
  }
  BOOST_TEST(in_work);
  BOOST_TEST(in_timer);  // the timer always fires after the unplug: virtual time waits for everyone else
}

BOOST_AUTO_TEST_CASE(cancelled_work_and_timers_never_run_after_remove) {
  g_cancel = true;
  sim::ExploreResult r = sim::explore(model, bus::test::exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u, (r.failures.empty() ? std::string() : sim::render_text(r.failures[0].report)));
}

BOOST_AUTO_TEST_CASE(a_timer_fires_at_its_virtual_time_in_atomic_context) {
  static std::uint64_t fired_at;
  fired_at = 0;
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      static TimerList t;  // a host object: not checked, fine for this test
      timer_setup(t, [](TimerList&) {
        fired_at = sim::world().now();
        sim::world().sleep_for(10);  // sleeping in a timer callback
      });
      mod_timer(t, 5000);
    });
  });
  BOOST_TEST(fired_at == 5000u);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "sleep-in-atomic");
}

// kernel/workqueue.c destroy_workqueue: drains the workqueue, work its items queue meanwhile (chained) included,
// in every schedule; afterwards __queue_work refuses with a WARN: queue_work returns false, the item never runs,
// and a non-fatal report says so. A delayed item armed before the destroy is dropped at its expiry the same way.
namespace {
struct Chained {
  WorkStruct work;
  Workqueue* wq = nullptr;
  int left = 0;  // further instances the function queues on wq
  int runs = 0;
};
void chained_fn(WorkStruct& w) {
  auto& c = reinterpret_cast<Chained&>(w);
  ++c.runs;
  if (c.left > 0) {
    --c.left;
    queue_work(c.wq, c.work);
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(destroy_workqueue_drains_then_refuses_with_a_warning) {
  static_assert(offsetof(Chained, work) == 0);
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        w.spawn("driver", [] {
          static Workqueue wq;  // host objects, one per execution (re-initialised below): not checked, fine here
          static Chained c;
          static Chained late;
          alloc_workqueue(wq, /*ordered=*/false);
          c.runs = 0;
          late.runs = 0;
          late.left = 0;
          init_work(c.work, chained_fn);
          init_work(late.work, chained_fn);
          c.wq = &wq;
          c.left = 2;
          queue_work(&wq, c.work);
          queue_delayed_work(&wq, late.work, 1'000'000);
          destroy_workqueue(&wq);
          bus::test::expect(c.runs == 3, "destroy_workqueue returned before the chained work ran");
          bus::test::expect(!queue_work(&wq, c.work), "queue_work on a destroyed workqueue succeeded");
          sim::world().sleep_for(2'000'000);  // past the delayed item's expiry
          bus::test::expect(late.runs == 0 && !work_pending(late.work), "delayed item ran on a destroyed workqueue");
          bus::test::expect(c.runs == 3, "an item ran after destroy_workqueue");
        });
      },
      bus::test::exhaustive(1));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  for (const sim::Failure& f : r.failures)
    BOOST_TEST(f.report.kind == std::string(bug::kQueueOnDestroyedWorkqueue), sim::render_text(f.report));
  BOOST_TEST(bus::test::found_kind(r, std::string(bug::kQueueOnDestroyedWorkqueue)));
}
