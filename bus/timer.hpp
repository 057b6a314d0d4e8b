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
// Does not handle: periodic re-arming races with del_timer (a callback that re-arms is fine), timer slack,
// deferrable timers, jiffies (time is virtual nanoseconds).
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
// del_timer_sync()/timer_delete_sync(): disarms and waits for a running callback.
bool del_timer_sync(TimerList& timer, const Site& site = Site::current());
// timer_shutdown_sync(): as del_timer_sync, and no re-arming ever after (for remove()).
bool timer_shutdown_sync(TimerList& timer, const Site& site = Site::current());
// Callbacks that have run (tests and reports).
std::uint64_t timer_fires();

}  // namespace devsim::bus
