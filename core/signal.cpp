#include "core/signal.hpp"

namespace devsim::core {

namespace {
thread_local NativeSignalTarget* t_target = nullptr;

// Whether a pending signal ends a sleep in `mode` (kernel/signal.c signal_wake_up_state).
bool ends(sim::WaitMode mode, bool pending, bool fatal) {
  if (mode == sim::WaitMode::Interruptible) return pending;
  if (mode == sim::WaitMode::Killable) return fatal;
  return false;
}
}  // namespace

void NativeSignalTarget::send(bool fatal) {
  std::lock_guard lock(mu_);
  if (fatal) fatal_.store(true, std::memory_order_release);
  pending_.store(true, std::memory_order_release);
  if (sleep_mu_ == nullptr || !ends(sleep_mode_, true, fatal_.load(std::memory_order_relaxed))) return;
  // LIFETIME: the sleep unregisters under mu_ (held here) before its mutex and condition variable may go.
  // INVARIANT (class comment): taking the sleep's mutex means the sleeper is either asleep on the condition
  // variable (woken below) or has not checked yet (and will see the signal).
  { std::lock_guard sleeper(*sleep_mu_); }
  sleep_cv_->notify_all();
}

void NativeSignalTarget::deliver() {
  std::lock_guard lock(mu_);
  if (!fatal_.load(std::memory_order_relaxed)) pending_.store(false, std::memory_order_release);
}

bool NativeSignalTarget::sleeping() const {
  std::lock_guard lock(mu_);
  return sleep_mu_ != nullptr;
}

NativeSignalTarget* NativeSignalTarget::current() {
  return t_target;
}

NativeSignalTarget::Scope::Scope(NativeSignalTarget& target) : previous_(t_target) {
  t_target = &target;
}

NativeSignalTarget::Scope::~Scope() {
  t_target = previous_;
}

NativeSignalSleep::NativeSignalSleep(std::mutex& mu, std::condition_variable& cv, sim::WaitMode mode)
    : target_(mode == sim::WaitMode::Uninterruptible ? nullptr : NativeSignalTarget::current()), mode_(mode) {
  if (target_ == nullptr) return;
  std::lock_guard lock(target_->mu_);
  target_->sleep_mu_ = &mu;
  target_->sleep_cv_ = &cv;
  target_->sleep_mode_ = mode;
}

NativeSignalSleep::~NativeSignalSleep() {
  if (target_ == nullptr) return;
  std::lock_guard lock(target_->mu_);
  target_->sleep_mu_ = nullptr;
  target_->sleep_cv_ = nullptr;
}

bool NativeSignalSleep::signalled() const {
  return target_ != nullptr && ends(mode_, target_->pending(), target_->fatal());
}

}  // namespace devsim::core
