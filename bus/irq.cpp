#include "bus/irq.hpp"

#include <unordered_map>

#include "bus/devm.hpp"
#include "bus/errno.hpp"
#include "bus/native_runtime.hpp"
#include "core/irqflags.hpp"
#include "sim/world.hpp"

namespace devsim::bus {

namespace {
struct Line {
  IrqHandler handler = nullptr;
  void* dev_id = nullptr;
  std::string name;
  IrqHandler thread_fn = nullptr;  // request_threaded_irq's thread function (process context)
  int running = 0;
  // The line's irq thread (kernel/irq/manage.c irq_thread): a task runs thread_fn while thread_running; a wake
  // while it runs (IRQTF_RUNTHREAD set again) makes it run once more. INVARIANT: at most one such task per line.
  bool thread_running = false;
  bool thread_again = false;
  int disabled = 0;      // disable_irq nesting
  bool oneshot = false;  // IRQF_ONESHOT: masked from a wake of the thread until the thread function returned
  bool masked = false;   // masked by IRQF_ONESHOT now
  bool pending = false;  // raised while disabled or masked: delivered by enable_irq or the unmask
  std::uint64_t spurious = 0;
  std::uint64_t handled = 0;
};
// Per world. LIFETIME: unordered_map nodes never move, so a Line& stays valid while tasks block on it.
struct IrqState {
  // Each use names its line instead (World::extension): every entry point yields on or touches &Line, and the
  // map's nodes of different lines are independent.
  static constexpr bool kFootprintExempt = true;
  std::unordered_map<unsigned, Line> lines;
};
sim::World& world() {
  return *sim::World::current();
}
Line& line(unsigned irq) {
  return world().extension<IrqState>().lines[irq];
}

// Each entry point takes the native runtime (bus/native_runtime.hpp, on Boost.Asio) when there is no simulated
// world, as bus/deferred.cpp does.
bool native() {
  return core::sim_world() == nullptr;
}

// irq_thread(): the line's thread function in process context (it may sleep), until no wake came while it ran.
// Named after the kernel function a report of its context would show.
void irq_thread(unsigned irq, const Site& raised_at) {
  for (;;) {
    Line& l = line(irq);
    world().touch(&l, true);            // IrqState is footprint-exempt: each use names its line
    if (l.thread_fn == nullptr) break;  // freed (free_irq clears it only once this task ended)
    l.thread_again = false;
    l.thread_fn(irq, l.dev_id);
    world().touch(&line(irq), true);
    if (!line(irq).thread_again) break;
  }
  Line& l = line(irq);
  world().touch(&l, true);
  l.thread_running = false;
  world().wake_all(&l, raised_at);  // synchronize_irq waits for threads_active
  // kernel/irq/manage.c irq_finalize_oneshot: the thread function returned, the line is unmasked, and an interrupt
  // that arrived while it was masked is delivered now (unless disable_irq still masks it: enable_irq will).
  if (l.masked) {
    l.masked = false;
    if (l.pending && l.disabled == 0) {
      l.pending = false;
      raise_irq(irq, raised_at);
    }
  }
}

// irq_wake_thread(): the hard handler returned IRQ_WAKE_THREAD. A thread already running runs once more.
void irq_wake_thread(unsigned irq, const Site& raised_at) {
  Line& l = line(irq);
  world().touch(&l, true);
  if (l.thread_fn == nullptr) return;  // no thread function: the kernel warns (warn_no_thread) and does nothing
  if (l.thread_running) {
    l.thread_again = true;
    return;
  }
  l.thread_running = true;
  world().spawn(
      "irq/" + std::to_string(irq) + "-" + l.name, [irq, raised_at] { irq_thread(irq, raised_at); }, raised_at);
}

// handle_irq_event(): named after the kernel function a report of the handler's context would show.
void handle_irq_event(unsigned irq, const Site& raised_at) {
  sim::yield(raised_at);
  // The interrupt arrives on a CPU (core/irqflags.hpp), held back while that CPU has interrupts off; from here
  // until the handler returns, the task running on that CPU is preempted.
  const core::HardIrqScope hardirq(raised_at);  // in_hardirq(), irqs_disabled(): lockdep's IN-HARDIRQ usage
  Line& l = line(irq);
  // The delivery reads and updates the line: for partial-order reduction it conflicts with request_irq,
  // free_irq, disable_irq and enable_irq on it (their points write &l).
  world().touch(&l, true);
  if (l.disabled > 0 || l.masked) {
    l.pending = true;  // masked: enable_irq, or the end of a oneshot line's thread function, delivers it
    return;
  }
  if (l.handler == nullptr) {
    ++l.spurious;
    return;
  }
  ++l.running;
  ++l.handled;
  IrqHandler h = l.handler;
  void* dev_id = l.dev_id;
  world().note_acquired(&l, "hardirq context (irq " + std::to_string(irq) + ")", raised_at, sim::HoldKind::Atomic);
  const IrqReturn r = h(irq, dev_id);
  world().note_released(&l);
  if (r == IrqReturn::WakeThread) {
    Line& woken = line(irq);
    if (woken.oneshot && woken.thread_fn != nullptr) woken.masked = true;  // until irq_thread() returns
    irq_wake_thread(irq, raised_at);
  }
  Line& after = line(irq);
  world().touch(&after, true);  // the handler may have passed scheduling points: a new segment
  if (--after.running == 0) world().wake_all(&after, raised_at);
}
}  // namespace

// kernel/irq/manage.c irq_default_primary_handler: a threaded line without a hard handler wakes its thread.
IrqReturn default_primary_handler(unsigned, void*) {
  return IrqReturn::WakeThread;
}

int request_irq(unsigned irq, IrqHandler handler, std::string name, void* dev_id, const Site& site) {
  return request_threaded_irq(irq, handler, nullptr, std::move(name), dev_id, site);
}

namespace {
int setup_irq(unsigned irq, IrqHandler handler, IrqHandler thread_fn, bool oneshot, std::string name, void* dev_id,
              const Site& site) {
  if (handler == nullptr && thread_fn == nullptr) return -kEINVAL;
  if (handler == nullptr) handler = default_primary_handler;
  if (native()) return NativeDeferred::request_irq(irq, handler, thread_fn, oneshot, std::move(name), dev_id);
  world().yield(sim::EventKind::Acquire, &line(irq), site);
  Line& l = line(irq);
  if (l.handler != nullptr) return -kEBUSY;
  l.handler = handler;
  l.thread_fn = thread_fn;
  l.dev_id = dev_id;
  l.name = std::move(name);
  l.oneshot = oneshot;
  l.masked = false;
  return 0;
}
}  // namespace

int request_threaded_irq(unsigned irq, IrqHandler handler, IrqHandler thread_fn, std::string name, void* dev_id,
                         const Site& site) {
  return setup_irq(irq, handler, thread_fn, /*oneshot=*/false, std::move(name), dev_id, site);
}

int request_threaded_irq(unsigned irq, IrqHandler handler, IrqHandler thread_fn, unsigned long flags, std::string name,
                         void* dev_id, const Site& site) {
  // kernel/irq/manage.c __setup_irq: "Threaded irq requested with handler=NULL and !ONESHOT".
  if (handler == nullptr && thread_fn != nullptr && (flags & kIrqfOneshot) == 0) return -kEINVAL;
  return setup_irq(irq, handler, thread_fn, (flags & kIrqfOneshot) != 0, std::move(name), dev_id, site);
}

void free_irq(unsigned irq, void* dev_id, const Site& site) {
  if (native()) return NativeDeferred::free_irq(irq, dev_id);
  world().yield(sim::EventKind::Release, &line(irq), site);
  Line& l = line(irq);
  if (l.handler == nullptr || l.dev_id != dev_id) return;
  l.handler = nullptr;
  // synchronize_irq(): a handler already running, and the line's thread function with a wake still pending (the
  // irq thread runs it one last time: irq_wait_for_interrupt), finish before the caller may free what they use
  // (__free_irq: synchronize_irq, then kthread_stop). Then the line is cleared, unless requested again meanwhile.
  // Each check reads the line anew after a wake-up: a new segment for partial-order reduction (IrqState is
  // footprint-exempt; each use names its line).
  while ((world().touch(&l, true), l.running > 0 || l.thread_running))
    world().block(&l, "synchronize_irq(" + std::to_string(irq) + ")", site);
  if (l.handler == nullptr) {
    l.thread_fn = nullptr;
    l.dev_id = nullptr;
  }
}

void synchronize_irq(unsigned irq, const Site& site) {
  if (native()) return NativeDeferred::synchronize_irq(irq);
  world().might_sleep("synchronize_irq", site);
  world().yield(sim::EventKind::Sync, &line(irq), site);
  Line& l = line(irq);
  // kernel/irq/manage.c synchronize_irq: the hard handler, then threads_active (woken thread functions) to reach 0.
  // Each check reads the line anew after a wake-up: a new segment for partial-order reduction (IrqState is
  // footprint-exempt; each use names its line).
  while ((world().touch(&l, true), l.running > 0 || l.thread_running))
    world().block(&l, "synchronize_irq(" + std::to_string(irq) + ")", site);
}

void disable_irq_nosync(unsigned irq, const Site& site) {
  if (native()) return NativeDeferred::disable_irq(irq, /*sync=*/false);
  world().yield(sim::EventKind::Sync, &line(irq), site);
  ++line(irq).disabled;
}

void disable_irq(unsigned irq, const Site& site) {
  if (native()) return NativeDeferred::disable_irq(irq, /*sync=*/true);
  disable_irq_nosync(irq, site);
  synchronize_irq(irq, site);
}

void enable_irq(unsigned irq, const Site& site) {
  if (native()) return NativeDeferred::enable_irq(irq);
  world().yield(sim::EventKind::Sync, &line(irq), site);
  Line& l = line(irq);
  if (l.disabled == 0) return;  // unbalanced: the kernel WARNs; nothing to unmask
  if (--l.disabled == 0 && l.pending && !l.masked) {
    l.pending = false;
    raise_irq(irq, site);
  }
}

int devm_request_irq(const BoundContext& dev, unsigned irq, IrqHandler handler, std::string name, void* dev_id,
                     const Site& site) {
  int r = request_irq(irq, handler, name, dev_id, site);
  if (r != 0) return r;
  return devm_add_action_or_reset(
      dev, "devm_request_irq " + std::to_string(irq), [irq, dev_id] { free_irq(irq, dev_id); }, site);
}

void raise_irq(unsigned irq, const Site& site) {
  if (native()) return NativeDeferred::raise_irq(irq);
  const sim::TaskId task = world().spawn(
      "irq/" + std::to_string(irq), [irq, site] { handle_irq_event(irq, site); }, site);
  core::note_irq_task(task);  // a handler task, not a CPU
}

std::uint64_t irq_spurious(unsigned irq) {
  if (native()) return NativeDeferred::irq_spurious(irq);
  Line& l = line(irq);
  world().touch(&l, false);
  return l.spurious;
}
std::uint64_t irq_handled(unsigned irq) {
  if (native()) return NativeDeferred::irq_handled(irq);
  Line& l = line(irq);
  world().touch(&l, false);
  return l.handled;
}

void run_in_native_hardirq(std::function<void()> fn) {
  NativeDeferred::post_hardirq(std::move(fn));
}

}  // namespace devsim::bus
