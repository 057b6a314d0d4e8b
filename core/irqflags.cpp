#include "core/irqflags.hpp"

#include <deque>
#include <string>
#include <vector>

namespace devsim::core {

namespace {
// Per world, by task id. A task that is not an IRQ task is also a CPU: the one it runs on.
struct IrqFlagsState {
  // For partial-order reduction each use names what it shares precisely instead (World::extension): a task's
  // own entries are read only by itself; local_irq_disable/enable and hardirq_exit write the CPU's gate, which
  // a held-back handler blocks on and touches; the entry of a handler reads every candidate CPU's gate (whether
  // it takes interrupts) and every task's state (World::hardirq_defer), or conflicts with everything when it
  // chooses a CPU at once (World::choose).
  static constexpr bool kFootprintExempt = true;
  std::vector<int> disabled;  // nesting of local_irq_disable/save
  std::vector<int> hardirq;
  std::vector<int> irq_task;   // 1: a hard-IRQ handler task, with no CPU of its own
  std::vector<int> held_back;  // by CPU: handlers waiting for it to take interrupts
  // By CPU: what held-back handlers wait on, and the object whose footprint says "this CPU's interrupt state".
  // LIFETIME: a deque never moves its elements, so a waiter's channel stays valid while it grows.
  std::deque<char> gate;
  const char token = 0;  // the atomic hold "interrupts disabled"
  int& of(std::vector<int>& v, sim::TaskId t) {
    if (v.size() <= t) v.resize(t + 1, 0);
    return v[t];
  }
  const char* gate_of(sim::TaskId cpu) {
    if (gate.size() <= cpu) gate.resize(cpu + 1, 0);
    return &gate[cpu];
  }
};
// Natively (no simulated world) the state is the calling thread's: a thread is a CPU, a hard-IRQ handler runs
// on one of bus/native_runtime.cpp's CPU threads between hardirq_enter() and hardirq_exit(). Nothing is held
// back: local_irq_disable() only records that interrupts are off, for irqs_disabled().
thread_local int native_hardirq = 0;
thread_local int native_disabled = 0;

IrqFlagsState* state() {
  sim::World* w = sim_world();
  if (w == nullptr || !w->in_task()) return nullptr;
  return &w->extension<IrqFlagsState>();
}

bool cpu_takes_interrupts(sim::World& w, IrqFlagsState& s, sim::TaskId cpu) {
  const sim::TaskState st = w.task_state(cpu);
  if (st == sim::TaskState::Finished || st == sim::TaskState::Abandoned) return true;  // idle now
  return s.of(s.disabled, cpu) == 0 && w.preempted_by(cpu) == sim::kNoTask;
}

// Where the current handler task's interrupt arrives. With an idle CPU (a task asleep, waiting or gone) the
// choice is deferred (World::hardirq_defer): the handler starts there, and only when it first waits or asks whom
// it interrupted may it turn out to have preempted instead a task that has not run since the entry and took
// interrupts then. Until that point, which CPU it runs on changes nothing another task or a report can see except
// that the victim does not run, and the idle CPU's executions include every one of those. With no idle CPU the
// handler preempts a runnable task chosen now (in task id order), held back while that task has interrupts off.
void enter_cpu(sim::World& w, IrqFlagsState& s, const Site& site) {
  std::vector<sim::TaskId> runnable;
  bool idle = false;
  for (sim::TaskId t = 0; t < w.task_count(); ++t) {
    if (s.of(s.irq_task, t) != 0) continue;
    if (w.task_state(t) == sim::TaskState::Runnable)
      runnable.push_back(t);
    else
      idle = true;
  }
  const sim::TaskId me = w.current_task();
  if (runnable.empty() || (idle && w.options().defer_hardirq_cpu)) {
    // A task with interrupts off (or under another handler) would hold the handler back, which the idle CPU
    // does not: it is no candidate.
    std::erase_if(runnable, [&](sim::TaskId t) {
      w.touch(s.gate_of(t), false);  // whether it takes interrupts: local_irq_disable/enable write it
      return !cpu_takes_interrupts(w, s, t);
    });
    ++s.of(s.hardirq, me);
    w.hardirq_defer(std::move(runnable));
    return;
  }
  if (idle) runnable.insert(runnable.begin(), sim::kNoTask);  // only when not deferred
  const sim::TaskId cpu = runnable[w.choose(runnable.size(), site)];
  if (cpu == sim::kNoTask) {
    ++s.of(s.hardirq, me);
    w.hardirq_preempt(sim::kNoTask);
    return;
  }
  // INVARIANT: a handler runs on a CPU only while that CPU's task has interrupts enabled and no other handler
  // runs there; until then it waits on the CPU's gate, which local_irq_enable() and hardirq_exit() open.
  while (!cpu_takes_interrupts(w, s, cpu)) {
    // LIFETIME: the count is restored even when the task is unwound out of block() at the end of the world; by
    // index, as the vector may grow meanwhile.
    struct HeldBack {
      IrqFlagsState& s;
      sim::TaskId cpu;
      HeldBack(IrqFlagsState& state, sim::TaskId c) : s(state), cpu(c) { ++s.of(s.held_back, cpu); }
      ~HeldBack() { --s.of(s.held_back, cpu); }
      HeldBack(const HeldBack&) = delete;
      HeldBack& operator=(const HeldBack&) = delete;
    } held_back(s, cpu);
    w.block(s.gate_of(cpu), "interrupts enabled on the CPU of task " + w.task_label(cpu), site, /*sleeps=*/false);
  }
  w.touch(s.gate_of(cpu), true);
  ++s.of(s.hardirq, me);
  w.hardirq_preempt(cpu);
}
}  // namespace

bool in_hardirq() {
  if (sim_world() == nullptr) return native_hardirq > 0;
  IrqFlagsState* s = state();
  return s != nullptr && s->of(s->hardirq, sim_world()->current_task()) > 0;
}

bool irqs_disabled() {
  if (sim_world() == nullptr) return native_disabled > 0 || native_hardirq > 0;
  IrqFlagsState* s = state();
  if (s == nullptr) return false;
  // A hard-IRQ handler runs with interrupts off on its CPU.
  const sim::TaskId t = sim_world()->current_task();
  return s->of(s->disabled, t) > 0 || s->of(s->hardirq, t) > 0;
}

sim::TaskId interrupted_task() {
  if (sim_world() == nullptr || !in_hardirq()) return sim::kNoTask;  // natively a handler preempts no thread
  sim::World& w = *sim_world();
  w.resolve_hardirq_cpu();  // the answer depends on the CPU: it is chosen now if it was not yet
  for (sim::TaskId t = 0; t < w.task_count(); ++t)
    if (w.preempted_by(t) == w.current_task()) return t;
  return sim::kNoTask;
}

void local_irq_disable(const Site& site) {
  if (sim_world() == nullptr) {
    ++native_disabled;
    return;
  }
  IrqFlagsState* s = state();
  if (s == nullptr) return;
  sim::World& w = *sim_world();
  const sim::TaskId me = w.current_task();
  if (s->of(s->disabled, me)++ == 0) {
    // A handler's delivery reads this CPU's state: the two must not be taken as independent.
    w.touch(s->gate_of(me), true);
    w.note_acquired(&s->token, "interrupts disabled (local_irq_disable)", site, sim::HoldKind::Atomic);
  }
}

void local_irq_enable(const Site& site) {
  if (sim_world() == nullptr) {
    if (native_disabled > 0) --native_disabled;
    return;
  }
  IrqFlagsState* s = state();
  if (s == nullptr) return;
  sim::World& w = *sim_world();
  const sim::TaskId me = w.current_task();
  int& d = s->of(s->disabled, me);
  if (d == 0) return;
  if (--d == 0) {
    w.touch(s->gate_of(me), true);
    w.note_released(&s->token);
    // An interrupt held back on this CPU is delivered now.
    if (s->of(s->held_back, me) > 0) w.wake_all(s->gate_of(me), site);
  }
}

void local_irq_save(irqflags_t& flags, const Site& site) {
  flags = irqs_disabled() ? 1 : 0;
  local_irq_disable(site);
}

void local_irq_restore(irqflags_t, const Site& site) {
  // The saved state is the nesting itself: every save is paired with a restore.
  local_irq_enable(site);
}

void spin_lock_irqsave(SpinLock& lock, irqflags_t& flags, const Site& site) {
  local_irq_save(flags, site);
  lock.lock(site);
}
void spin_unlock_irqrestore(SpinLock& lock, irqflags_t flags, const Site& site) {
  lock.unlock(site);
  local_irq_restore(flags, site);
}
void spin_lock_irq(SpinLock& lock, const Site& site) {
  local_irq_disable(site);
  lock.lock(site);
}
void spin_unlock_irq(SpinLock& lock, const Site& site) {
  lock.unlock(site);
  local_irq_enable(site);
}

void note_irq_task(sim::TaskId task) {
  sim::World* w = sim_world();
  if (w == nullptr) return;
  IrqFlagsState& s = w->extension<IrqFlagsState>();
  s.of(s.irq_task, task) = 1;
}

void hardirq_enter(const Site& site) {
  if (sim_world() == nullptr) {
    ++native_hardirq;
    return;
  }
  IrqFlagsState* s = state();
  if (s == nullptr) return;
  enter_cpu(*sim_world(), *s, site);
}

void hardirq_exit() {
  if (sim_world() == nullptr) {
    if (native_hardirq > 0) --native_hardirq;
    return;
  }
  IrqFlagsState* s = state();
  if (s == nullptr) return;
  sim::World& w = *sim_world();
  const sim::TaskId me = w.current_task();
  if (s->of(s->hardirq, me) == 0) return;
  --s->of(s->hardirq, me);
  const sim::TaskId cpu = w.hardirq_return();
  if (cpu == sim::kNoTask) return;
  w.touch(s->gate_of(cpu), true);
  if (s->of(s->held_back, cpu) > 0) w.wake_all(s->gate_of(cpu), w.current_site());
}

}  // namespace devsim::core
