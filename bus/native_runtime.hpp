// The native runtime of bus/: work items, workqueues, timers and interrupt lines on real OS threads, the kernel's
// asynchronous machinery on Boost.Asio. Internal to bus/: drivers use bus/workqueue.hpp, bus/timer.hpp and
// bus/irq.hpp, which come here only when there is no simulated world (core::sim_world() is null).
//
// Boost.Asio is included by exactly one translation unit, native_runtime.cpp, behind this header: Asio's headers
// are heavy and the build is small.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "bus/irq.hpp"
#include "bus/timer.hpp"
#include "bus/workqueue.hpp"

namespace devsim::bus {

// The executors, shared by every native user:
// - the system workqueue: an asio::thread_pool of max(4, hardware threads) threads; every workqueue's items run
//   there, an ordered workqueue's through one asio::strand; delayed work's timers wait on it too;
// - the timer softirq: one thread (as one CPU's timer base), so timer callbacks never overlap;
// - the CPUs that take hard interrupts: kIrqCpus one-thread contexts; raise_irq() delivers to them round-robin
//   (threaded lines' thread functions run on the system workqueue's pool).
// LIFETIME: created at the first native use, stopped and joined at process exit (a static's destructor), after
// which nothing may be queued.
class NativeDeferred {
 public:
  // Work items and workqueues (bus/workqueue.hpp gives the contracts). A workqueue is nullptr for the system
  // one; an ordered workqueue's items run on an asio::strand over the system pool. Delays on the steady clock.
  static void init_work(WorkStruct& work, WorkStruct::Func func);
  static void alloc_workqueue(Workqueue& wq, bool ordered);
  static bool queue_work(Workqueue* wq, WorkStruct& work);
  static bool queue_delayed_work(Workqueue* wq, WorkStruct& work, std::uint64_t delay_ns);
  static bool mod_delayed_work(Workqueue* wq, WorkStruct& work, std::uint64_t delay_ns);
  static bool cancel_work(WorkStruct& work);
  static bool flush_work(WorkStruct& work);
  static bool flush_delayed_work(WorkStruct& work);
  static bool cancel_work_sync(WorkStruct& work);
  static bool work_pending(const WorkStruct& work);
  static void flush_workqueue(Workqueue* wq);
  // drain_workqueue(); with `destroy`, destroy_workqueue(): drained, then queueing on it is refused.
  static void drain_workqueue(Workqueue* wq, bool destroy);
  static std::uint64_t work_executions();

  // Timers (bus/timer.hpp gives the contracts). `delay_ns` on the steady clock.
  static void timer_setup(TimerList& timer, TimerList::Func func);
  static bool mod_timer(TimerList& timer, std::uint64_t delay_ns);
  static bool del_timer(TimerList& timer, bool sync, bool shutdown);
  static bool timer_pending(const TimerList& timer);
  static std::uint64_t timer_fires();

  // Interrupt lines (bus/irq.hpp gives the contracts). A raise is posted to one of the CPUs; a handler of one
  // line never runs beside itself: a raise while the line's interrupt is in flight (posted or its handler
  // running) is delivered once after it (kernel/irq/chip.c handle_edge_irq's IRQS_PENDING replay).
  // synchronize_irq() waits for the interrupt in flight, posted or running.
  static constexpr unsigned kIrqCpus = 4;
  // A threaded line's thread function (thread_fn, may be null) runs on the system workqueue's pool after a handler
  // returned IrqReturn::WakeThread, one run at a time per line; synchronize_irq() waits for it too.
  static int request_irq(unsigned irq, IrqHandler handler, IrqHandler thread_fn, bool oneshot, std::string name,
                         void* dev_id);
  static void free_irq(unsigned irq, void* dev_id);
  static void disable_irq(unsigned irq, bool sync);
  static void enable_irq(unsigned irq);
  static void synchronize_irq(unsigned irq);
  static void raise_irq(unsigned irq);
  static std::uint64_t irq_spurious(unsigned irq);
  static std::uint64_t irq_handled(unsigned irq);
  // The CPU (0 .. kIrqCpus-1) whose hard-IRQ handler the calling thread runs now; -1 outside a handler.
  static int irq_cpu();

  // Nanoseconds on the steady clock (std::chrono::steady_clock, the clock the timers use).
  static std::uint64_t now_ns();
  // Runs `fn` on the system workqueue's pool (for later native users: firmware, deferred probe).
  static void post(std::function<void()> fn);
  // Runs `fn` on one of the interrupt CPUs (round-robin, as raise_irq), in hard-IRQ context (hardirq_enter/exit
  // around it): a host controller's completion interrupt (cabi/usb.cpp).
  static void post_hardirq(std::function<void()> fn);

  // The function an item was initialised with (process_one_work and call_timer_fn read it from the item).
  static WorkStruct::Func func_of(const WorkStruct& work) { return work.func_; }
  static TimerList::Func func_of(const TimerList& timer) { return timer.func_; }
};

}  // namespace devsim::bus
