// Timers: callbacks at a virtual time, in softirq context, that may fire after remove() unless deleted.
#pragma once

#include <cstdint>

#include "bus/embedded.hpp"

namespace devsim::bus {

// struct timer_list: usually embedded in driver data. Each arming runs in its own simulated task that sleeps
// until the expiry (virtual time jumps there once nothing else can run) and then calls the function in atomic
// (softirq) context: sleeping in it is reported.
//
// INVARIANT: as for work items, the armed state lives in the world, keyed by address: a deleted timer is never
// touched again; one that fires after its memory was freed is reported (race R14, cpu5wdt).
// A callback may re-arm its own timer: del_timer() does not stop that (the callback running now re-arms it),
// del_timer_sync() and timer_shutdown_sync() do (kernel/time/timer.c __timer_delete_sync retries until the
// timer is neither running nor pending).
// Does not handle: timer slack, deferrable timers, jiffies (time is virtual nanoseconds), add_timer_on/CPUs.
class TimerList {
 public:
  using Func = void (*)(TimerList& timer);
  TimerList() = default;
  TimerList(const TimerList&) = delete;
  TimerList& operator=(const TimerList&) = delete;

 private:
  friend class Timers;
  Embedded embedded_;
  Func func_ = nullptr;
};

// timer_setup().
void timer_setup(TimerList& timer, TimerList::Func func, const Site& site = Site::current());
// mod_timer(): (re)arms it to fire `delay_ns` of virtual time from now. True if it was pending. Ignored (false)
// after timer_shutdown_sync().
bool mod_timer(TimerList& timer, std::uint64_t delay_ns, const Site& site = Site::current());
// del_timer()/timer_delete(): disarms; true if it was pending. A callback already running goes on.
bool del_timer(TimerList& timer, const Site& site = Site::current());
// del_timer_sync()/timer_delete_sync(): waits for a running callback and disarms the timer after it, so a
// callback that re-arms itself is stopped too: on return it is neither running nor pending. True if the last
// attempt found it pending.
bool del_timer_sync(TimerList& timer, const Site& site = Site::current());
// timer_shutdown_sync(): as del_timer_sync, and no re-arming ever after (for remove()).
bool timer_shutdown_sync(TimerList& timer, const Site& site = Site::current());
// timer_pending(): armed and not yet fired.
bool timer_pending(const TimerList& timer);
// Callbacks that have run (tests and reports).
std::uint64_t timer_fires();

}  // namespace devsim::bus
