// Timers as kernel/time/timer.c defines them (issue 11, item 2): __timer_delete_sync() (del_timer_sync,
// timer_delete_sync, timer_shutdown_sync) calls __try_to_del_timer_sync() in a loop; an attempt fails (-1)
// while the callback runs (base->running_timer == timer) and detaches a pending timer otherwise. So a callback
// that re-arms its own timer is disarmed by the retry after it returned, and on return the timer is neither
// running nor pending. del_timer()/timer_delete() (no _sync) only detaches: a running callback goes on and its
// re-arm survives. timer_shutdown_sync() also clears the function at the first attempt: mod_timer() does
// nothing afterwards.
// Every test explores every schedule within 2 preemptions (sim::explore, StrategyKind::Exhaustive).
#define BOOST_TEST_MODULE semantics_timer
#include <boost/test/unit_test.hpp>

#include "bus/timer.hpp"
#include "sim/kmalloc.hpp"
#include "tests/bus/bus_test_support.hpp"

using namespace devsim;
using namespace devsim::bus;
using bus::test::expect;

namespace {

std::string first_failure(const sim::ExploreResult& r) {
  return r.failures.empty() ? std::string() : sim::render_text(r.failures.front().report);
}

constexpr std::uint64_t kPeriod = 1'000'000;  // 1 ms of virtual time

// A watchdog heartbeat: the timer comes first, so the callback finds its structure as container_of does.
struct Wdt {
  TimerList heartbeat;
  int beats = 0;
};

void heartbeat_fn(TimerList& timer) {
  auto* raw = reinterpret_cast<Wdt*>(&timer);
  sim::KPtr<Wdt> wdt(raw, sim::world().memory().find(raw));
  wdt.store(&Wdt::beats, wdt.load(&Wdt::beats) + 1);
  mod_timer(timer, kPeriod);  // periodic: the callback re-arms itself
}

enum class Stop { DelTimerSync, ShutdownSync, DelTimer };
Stop g_stop = Stop::DelTimerSync;

void heartbeat_model(sim::World& w) {
  w.spawn("probe", [](sim::World& w) {
    sim::KPtr<Wdt> wdt = sim::kzalloc<Wdt>();
    Wdt* p = wdt.unchecked();  // LIFETIME: freed by remove below, once the timer is stopped (or not: the bug)
    timer_setup(p->heartbeat, heartbeat_fn);
    mod_timer(p->heartbeat, kPeriod);
    w.spawn("remove", [wdt, p] {
      // Wakes at the first expiry, together with the timer: the exploration interleaves remove() with the
      // callback, before it, inside it (at its mod_timer) and after it.
      sim::world().sleep_for(kPeriod);
      switch (g_stop) {
        case Stop::DelTimerSync:
          del_timer_sync(p->heartbeat);
          break;
        case Stop::ShutdownSync:
          timer_shutdown_sync(p->heartbeat);
          expect(!mod_timer(p->heartbeat, kPeriod), "mod_timer after timer_shutdown_sync is ignored");
          break;
        case Stop::DelTimer:
          del_timer(p->heartbeat);
          break;
      }
      if (g_stop != Stop::DelTimer)
        expect(!timer_pending(p->heartbeat), "the timer is still armed after the synchronous delete");
      sim::kfree(wdt);
    });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(del_timer_sync_stops_a_self_rearming_timer) {
  g_stop = Stop::DelTimerSync;
  sim::ExploreResult r = sim::explore(heartbeat_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 2u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
}

BOOST_AUTO_TEST_CASE(timer_shutdown_sync_stops_a_self_rearming_timer_for_good) {
  g_stop = Stop::ShutdownSync;
  sim::ExploreResult r = sim::explore(heartbeat_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 2u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
}

BOOST_AUTO_TEST_CASE(del_timer_lets_a_running_callback_rearm_and_fire_after_the_free) {
  g_stop = Stop::DelTimer;
  sim::ExploreResult r = sim::explore(heartbeat_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(bus::test::found_kind(r, "use-after-free"), first_failure(r));
}

BOOST_AUTO_TEST_CASE(del_timer_sync_waits_for_the_running_callback) {
  // The same race, observed from remove(): after del_timer_sync() the callback is not running, so the beat
  // count no longer changes.
  static bool changed_after_delete;
  changed_after_delete = false;
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        w.spawn("t", [](sim::World& w) {
          sim::KPtr<Wdt> wdt = sim::kzalloc<Wdt>();
          Wdt* p = wdt.unchecked();  // LIFETIME: freed by the second task after the synchronous delete
          timer_setup(p->heartbeat, heartbeat_fn);
          mod_timer(p->heartbeat, kPeriod);
          w.spawn("remove", [wdt, p] {
            sim::world().sleep_for(kPeriod);
            del_timer_sync(p->heartbeat);
            int beats = wdt.load(&Wdt::beats);
            sim::world().sleep_for(3 * kPeriod);  // any expiry left would fire now
            changed_after_delete |= wdt.load(&Wdt::beats) != beats;
            sim::kfree(wdt);
          });
        });
      },
      bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
  BOOST_TEST(!changed_after_delete);
}
