// R14: a timer or work item not cancelled in remove() (Laurent Pinchart, seeds/002; cpu5wdt's timer after
// remove in the bug record).
//
// A USB watchdog: probe() starts a hardware reset in the background (a work item: it sleeps) and arms a
// heartbeat timer; when the timer fires it queues the reset work again. Both live in the driver's devm-allocated
// data, as they do in real drivers, and both run in their own kernel threads (kworker, the timer softirq) that
// do not care that the device went away.
//
//   r14_watchdog_timer_buggy  remove() relies on devm to free everything and cancels nothing: the timer fires (or
//                             the queued work runs) after the data was freed. The kernel itself reads the freed
//                             item first: use-after-free in call_timer_fn / process_one_work.
//   r14_watchdog_timer_fixed  remove() shuts the timer down (timer_shutdown_sync: waits for a running callback,
//                             refuses re-arming), then cancels the work (cancel_work_sync: waits for a running
//                             one) — in that order, because the timer queues the work. Only then does devm free
//                             the data.
#include <cstddef>

#include "bus/devm.hpp"
#include "bus/errno.hpp"
#include "bus/timer.hpp"
#include "bus/workqueue.hpp"
#include "drivers/registry.hpp"
#include "sim/kmalloc.hpp"

namespace devsim::drivers {
namespace {

using bus::CoreContext;
using bus::TimerList;
using bus::WorkStruct;

constexpr std::uint64_t kR14HeartbeatNs = 1'000'000;  // 1 ms of virtual time

struct R14Wdt {
  WorkStruct reset_work;  // first member: container_of(work) is the structure's address
  TimerList heartbeat;
  int resets = 0;
  int timeouts = 0;
};
using R14Ptr = sim::KPtr<R14Wdt>;

// container_of(): the structure an embedded item lives in, as a checked handle on its allocation.
// LIFETIME: says nothing about whether the allocation is still live; the first checked access does.
R14Ptr r14_from_work(WorkStruct& work) {
  auto* wdt = reinterpret_cast<R14Wdt*>(reinterpret_cast<char*>(&work) - offsetof(R14Wdt, reset_work));
  return R14Ptr(wdt);
}
R14Ptr r14_from_timer(TimerList& timer) {
  auto* wdt = reinterpret_cast<R14Wdt*>(reinterpret_cast<char*>(&timer) - offsetof(R14Wdt, heartbeat));
  return R14Ptr(wdt);
}

// The reset work: process context, may sleep (a control transfer to the device).
void r14_reset_work(WorkStruct& work) {
  // LIFETIME: the item is embedded in the driver data; only remove()'s cancel_work_sync keeps this from
  // running after the data is freed.
  R14Ptr wdt = r14_from_work(work);
  ++wdt.write().resets;
}

// The heartbeat timer: softirq context, must not sleep, so it hands the reset to the work item.
void r14_heartbeat(TimerList& timer) {
  // LIFETIME: as for the work: only remove()'s timer_shutdown_sync keeps this from running after the free.
  R14Ptr wdt = r14_from_timer(timer);
  ++wdt.write().timeouts;
  bus::queue_work(wdt.unchecked()->reset_work);  // LIFETIME: checked just above; the timer runs atomically
}

// Shared by both variants.
int r14_probe(CoreContext& ctx) {
  R14Ptr wdt = bus::devm_kzalloc<R14Wdt>(ctx);  // freed by devres after remove()
  if (!wdt) return -bus::kENOMEM;
  R14Wdt* w = wdt.unchecked();  // LIFETIME: just allocated, freed only at unbind (after remove)
  bus::init_work(w->reset_work, r14_reset_work);
  bus::timer_setup(w->heartbeat, r14_heartbeat);
  ctx->set_drvdata(w);
  bus::queue_work(w->reset_work);                 // bring the hardware to a known state, in the background
  bus::mod_timer(w->heartbeat, kR14HeartbeatNs);  // and watch it
  return 0;
}

void r14_remove_buggy(CoreContext& ctx) {
  static_cast<void>(ctx);
  // BUG: nothing cancelled. devres frees the data right after this returns, while the heartbeat is still armed
  // and the reset work may still be queued: they run later on freed memory.
}

void r14_remove(CoreContext& ctx) {
  auto* raw = static_cast<R14Wdt*>(ctx->drvdata());
  // LIFETIME: devres frees the data only after remove() returns: alive for all of this function.
  R14Wdt* w = raw;
  // The timer first: it queues the work, so cancelling the work before it could be undone by a last firing.
  bus::timer_shutdown_sync(w->heartbeat);  // disarmed, a running callback finished, no re-arming ever after
  bus::cancel_work_sync(w->reset_work);    // never runs again; a running one finished
}

DriverInfo r14_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r14_watchdog_timer_buggy" : "r14_watchdog_timer_fixed";
  info.bus = "usb";
  info.summary = buggy ? "R14: remove() leaves the heartbeat timer and reset work armed: UAF from the callback"
                       : "R14: remove() runs timer_shutdown_sync then cancel_work_sync before devm frees";
  info.race = "R14";
  info.buggy = buggy;
  info.bug_kind = buggy ? "use-after-free" : "";
  info.node = "";
  info.ops = [buggy] { return bus::DriverOps{"", "usb", {}, r14_probe, buggy ? r14_remove_buggy : r14_remove}; };
  return info;
}

DriverInfo r14_watchdog_timer_buggy_info() {
  return r14_info(true);
}
DriverInfo r14_watchdog_timer_fixed_info() {
  return r14_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r14_watchdog_timer_buggy_info)
DEVSIM_REGISTER_DRIVER(r14_watchdog_timer_fixed_info)

}  // namespace devsim::drivers
