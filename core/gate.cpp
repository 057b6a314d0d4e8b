#include "core/gate.hpp"

#include <mutex>

namespace devsim::core {

std::optional<Gate::Holder> Gate::try_enter(const Site& site) {
  if (sim::World* w = sim_world()) {
    w->yield(sim::EventKind::Acquire, this, site);
    w->touch(this, true);
    const std::uint32_t s = state_.load(std::memory_order_relaxed);
    if ((s & kClosed) != 0) return std::nullopt;
    state_.store(s + 1, std::memory_order_relaxed);
    return Holder(*this);
  }
  std::uint32_t s = state_.load(std::memory_order_relaxed);
  do {
    if ((s & kClosed) != 0) return std::nullopt;
  } while (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire, std::memory_order_relaxed));
  return Holder(*this);
}

void Gate::leave(const Site& site) {
  if (sim::World* w = sim_world()) {
    sim::World::NoCancelScope scope(*w);
    w->yield(sim::EventKind::Release, this, site);
    w->touch(this, true);
    const std::uint32_t s = state_.load(std::memory_order_relaxed) - 1;
    state_.store(s, std::memory_order_relaxed);
    if (s == kClosed) w->wake_all(this, site);
    return;
  }
  // Release: the holder's accesses happen before the closer's return.
  std::uint32_t s = state_.load(std::memory_order_relaxed);
  while ((s & kClosed) == 0) {
    // Not closing: nobody waits, so leaving is one atomic.
    if (state_.compare_exchange_weak(s, s - 1, std::memory_order_release, std::memory_order_relaxed)) return;
  }
  // LIFETIME: the closer returns (and may free the gate) as soon as it sees the last holder gone. It looks
  // under mu_, and the last holder leaves under mu_, so the closer cannot return before this unlock.
  std::lock_guard lock(mu_);
  if (state_.fetch_sub(1, std::memory_order_release) - 1 == kClosed) cv_.notify_all();
}

void Gate::close(const Site& site) {
  if (sim::World* w = sim_world()) {
    w->might_sleep("gate close", site);
    w->yield(sim::EventKind::Sync, this, site);
    w->touch(this, true);
    state_.store(state_.load(std::memory_order_relaxed) | kClosed, std::memory_order_relaxed);
    while (state_.load(std::memory_order_relaxed) != kClosed)
      w->block(this, "gate close", site, /*sleeps=*/false);
    return;
  }
  state_.fetch_or(kClosed, std::memory_order_relaxed);
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return state_.load(std::memory_order_acquire) == kClosed; });
}

}  // namespace devsim::core
