#include "core/completion.hpp"

namespace devsim::core {

namespace {
// Consumes one done unless completed for all; the caller knows done > 0.
unsigned consumed(unsigned done, unsigned all) {
  return done == all ? done : done - 1;
}
}  // namespace

void Completion::complete(const Site& site) {
  if (sim::World* w = sim_world()) {
    sim::World::NoCancelScope scope(*w);
    w->yield(sim::EventKind::Sync, this, site);
    w->touch(this, true);
    const unsigned d = done_.load(std::memory_order_relaxed);
    if (d != kAll) done_.store(d + 1, std::memory_order_relaxed);
    w->wake_one(this, site);
    return;
  }
  {
    std::lock_guard lock(mu_);
    const unsigned d = done_.load(std::memory_order_relaxed);
    if (d != kAll) done_.store(d + 1, std::memory_order_release);
  }
  cv_.notify_one();
}

void Completion::complete_all(const Site& site) {
  if (sim::World* w = sim_world()) {
    sim::World::NoCancelScope scope(*w);
    w->yield(sim::EventKind::Sync, this, site);
    w->touch(this, true);
    done_.store(kAll, std::memory_order_relaxed);
    w->wake_all(this, site);
    return;
  }
  {
    std::lock_guard lock(mu_);
    done_.store(kAll, std::memory_order_release);
  }
  cv_.notify_all();
}

void Completion::wait_for_completion(const Site& site) {
  if (sim::World* w = sim_world()) {
    // Checked up front, as the kernel's might_sleep(): a wait that happens not to sleep is still a bug there.
    w->might_sleep("wait_for_completion", site);
    w->yield(sim::EventKind::Sync, this, site);
    w->touch(this, true);
    // A waiter woken by complete() may find the done taken by a task that ran first: it waits again.
    while (done_.load(std::memory_order_relaxed) == 0)
      w->block(this, "completion", site, /*sleeps=*/false);
    done_.store(consumed(done_.load(std::memory_order_relaxed), kAll), std::memory_order_relaxed);
    return;
  }
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return done_.load(std::memory_order_relaxed) != 0; });
  done_.store(consumed(done_.load(std::memory_order_relaxed), kAll), std::memory_order_relaxed);
}

bool Completion::try_wait(const Site& site) {
  if (sim::World* w = sim_world()) {
    w->yield(sim::EventKind::Sync, this, site);
    w->touch(this, true);
    const unsigned d = done_.load(std::memory_order_relaxed);
    if (d == 0) return false;
    done_.store(consumed(d, kAll), std::memory_order_relaxed);
    return true;
  }
  if (done_.load(std::memory_order_acquire) == 0) return false;  // the kernel's lock-free early exit
  std::lock_guard lock(mu_);
  const unsigned d = done_.load(std::memory_order_relaxed);
  if (d == 0) return false;
  done_.store(consumed(d, kAll), std::memory_order_relaxed);
  return true;
}

void Completion::reinit(const Site& site) {
  if (sim::World* w = sim_world()) {
    w->yield(sim::EventKind::Sync, this, site);
    w->touch(this, true);
    done_.store(0, std::memory_order_relaxed);
    return;
  }
  std::lock_guard lock(mu_);
  done_.store(0, std::memory_order_relaxed);
}

}  // namespace devsim::core
