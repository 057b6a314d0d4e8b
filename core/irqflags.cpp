#include "core/irqflags.hpp"

#include <vector>

namespace devsim::core {

namespace {
// Per world, by task id.
struct IrqFlagsState {
  std::vector<int> disabled;  // nesting of local_irq_disable/save
  std::vector<int> hardirq;
  const char token = 0;  // the atomic hold "interrupts disabled"
  int& of(std::vector<int>& v, sim::TaskId t) {
    if (v.size() <= t) v.resize(t + 1, 0);
    return v[t];
  }
};
IrqFlagsState* state() {
  sim::World* w = sim_world();
  if (w == nullptr || !w->in_task()) return nullptr;
  return &w->extension<IrqFlagsState>();
}
}  // namespace

bool in_hardirq() {
  IrqFlagsState* s = state();
  return s != nullptr && s->of(s->hardirq, sim_world()->current_task()) > 0;
}

bool irqs_disabled() {
  IrqFlagsState* s = state();
  if (s == nullptr) return false;
  // A hard-IRQ handler runs with interrupts off on its CPU.
  const sim::TaskId t = sim_world()->current_task();
  return s->of(s->disabled, t) > 0 || s->of(s->hardirq, t) > 0;
}

void local_irq_disable(const Site& site) {
  IrqFlagsState* s = state();
  if (s == nullptr) return;
  sim::World& w = *sim_world();
  if (s->of(s->disabled, w.current_task())++ == 0)
    w.note_acquired(&s->token, "interrupts disabled (local_irq_disable)", site, sim::HoldKind::Atomic);
}

void local_irq_enable(const Site&) {
  IrqFlagsState* s = state();
  if (s == nullptr) return;
  sim::World& w = *sim_world();
  int& d = s->of(s->disabled, w.current_task());
  if (d == 0) return;
  if (--d == 0) w.note_released(&s->token);
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

void hardirq_enter(const Site&) {
  if (IrqFlagsState* s = state()) ++s->of(s->hardirq, sim_world()->current_task());
}
void hardirq_exit() {
  if (IrqFlagsState* s = state()) --s->of(s->hardirq, sim_world()->current_task());
}

}  // namespace devsim::core
