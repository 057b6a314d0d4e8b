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
  int running = 0;
  int disabled = 0;      // disable_irq nesting
  bool pending = false;  // raised while disabled: delivered by enable_irq
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
  if (l.disabled > 0) {
    l.pending = true;  // masked: enable_irq delivers it
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
  h(irq, dev_id);
  world().note_released(&l);
  if (--l.running == 0) world().wake_all(&l, raised_at);
}
}  // namespace

int request_irq(unsigned irq, IrqHandler handler, std::string name, void* dev_id, const Site& site) {
  if (native()) return NativeDeferred::request_irq(irq, handler, std::move(name), dev_id);
  world().yield(sim::EventKind::Acquire, &line(irq), site);
  Line& l = line(irq);
  if (l.handler != nullptr) return -kEBUSY;
  l.handler = handler;
  l.dev_id = dev_id;
  l.name = std::move(name);
  return 0;
}

void free_irq(unsigned irq, void* dev_id, const Site& site) {
  if (native()) return NativeDeferred::free_irq(irq, dev_id);
  world().yield(sim::EventKind::Release, &line(irq), site);
  Line& l = line(irq);
  if (l.handler == nullptr || l.dev_id != dev_id) return;
  l.handler = nullptr;
  l.dev_id = nullptr;
  // synchronize_irq(): a handler already running finishes before the caller may free what it uses.
  while (l.running > 0)
    world().block(&l, "synchronize_irq(" + std::to_string(irq) + ")", site);
}

void synchronize_irq(unsigned irq, const Site& site) {
  if (native()) return NativeDeferred::synchronize_irq(irq);
  world().might_sleep("synchronize_irq", site);
  world().yield(sim::EventKind::Sync, &line(irq), site);
  Line& l = line(irq);
  while (l.running > 0)
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
  if (--l.disabled == 0 && l.pending) {
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

}  // namespace devsim::bus
