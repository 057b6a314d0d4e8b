// Timers: callbacks at a virtual time, in softirq context, that may fire after remove() unless deleted.
#pragma once

#include <cstdint>

#include "bus/embedded.hpp"

namespace devsim::bus {

// struct timer_list: usually embedded in driver data. In the simulator each arming runs in its own simulated task that
// sleeps until the expiry (virtual time jumps there once nothing else can run) and then calls the function in atomic
// (softirq) context: sleeping in it is reported.
//
// INVARIANT: as for work items, the armed state lives in the world, keyed by address: a deleted timer is never
// touched again; one that fires after its memory was freed is reported (race R14, cpu5wdt).
// A callback may re-arm its own timer: del_timer() does not stop that (the callback running now re-arms it),
// del_timer_sync() and timer_shutdown_sync() do (kernel/time/timer.c __timer_delete_sync retries until the
// timer is neither running nor pending).
// Natively (no simulated world; bus/native_runtime.hpp) each arming is an asio::steady_timer wait on the steady
// clock, and callbacks run on one "timer softirq" thread, one at a time (as on one CPU's timer base), so a
// callback never overlaps itself; the same generation check makes a deleted or re-armed expiry a no-op.
// Does not handle: timer slack, deferrable timers, expiry given in jiffies (mod_timer takes a delay in
// nanoseconds), add_timer_on/CPUs; natively, sleeping in a callback is not reported (it delays other timers).
class TimerList {
 public:
  using Func = void (*)(TimerList& timer);
  TimerList() = default;
  TimerList(const TimerList&) = delete;
  TimerList& operator=(const TimerList&) = delete;

 private:
  friend class Timers;
  friend class NativeDeferred;
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

// The tick rate of jiffies (CONFIG_HZ; 250 is the x86 distributions' usual choice).
inline constexpr std::uint64_t kHz = 250;
inline constexpr std::uint64_t kNsecPerJiffy = 1'000'000'000 / kHz;
// jiffies: ticks of the virtual clock in the simulator, of std::chrono::steady_clock natively.
std::uint64_t jiffies();
// msecs_to_jiffies(): rounded up, as include/linux/jiffies.h does, so a timeout never becomes shorter.
constexpr std::uint64_t msecs_to_jiffies(std::uint64_t ms) {
  return (ms * 1'000'000 + kNsecPerJiffy - 1) / kNsecPerJiffy;
}
// A delay in jiffies as mod_timer() takes it.
constexpr std::uint64_t jiffies_to_nsecs(std::uint64_t j) {
  return j * kNsecPerJiffy;
}

}  // namespace devsim::bus
