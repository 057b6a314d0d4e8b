#include "core/completion.hpp"

#include <algorithm>
#include <chrono>

#include "core/signal.hpp"

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

long Completion::wait_common(sim::WaitMode mode, std::optional<sim::Nanos> timeout, const char* what,
                             const Site& site) {
  auto left = [](sim::Nanos now, sim::Nanos deadline) {
    return static_cast<long>(std::max<sim::Nanos>(deadline > now ? deadline - now : 0, 1));
  };
  if (sim::World* w = sim_world()) {
    w->might_sleep(what, site);
    w->yield(sim::EventKind::Sync, this, site);
    w->touch(this, true);
    const sim::Nanos deadline = timeout ? w->now() + *timeout : 0;
    // do_wait_for_common: while no done, check the signal, then the time, then sleep.
    while (done_.load(std::memory_order_relaxed) == 0) {
      const bool signalled = mode == sim::WaitMode::Interruptible ? w->signal_pending()
                             : mode == sim::WaitMode::Killable    ? w->fatal_signal_pending()
                                                                  : false;
      if (signalled) return -kERESTARTSYS;
      if (timeout && w->now() >= deadline) return 0;
      w->block_wait(this, "completion", mode, timeout ? std::optional<sim::Nanos>(deadline - w->now()) : std::nullopt,
                    site);
    }
    done_.store(consumed(done_.load(std::memory_order_relaxed), kAll), std::memory_order_relaxed);
    return timeout ? left(w->now(), deadline) : 0;
  }
  const auto start = std::chrono::steady_clock::now();
  // Registered before mu_ is taken (NativeSignalTarget's INVARIANT): a signal sent meanwhile is not lost.
  NativeSignalSleep sleep(mu_, cv_, mode);
  std::unique_lock lock(mu_);
  // do_wait_for_common's order: a done is taken even with a signal pending.
  bool signalled = false;
  const auto done = [&] {
    if (done_.load(std::memory_order_relaxed) != 0) return true;
    signalled = sleep.signalled();
    return signalled;
  };
  if (timeout) {
    if (!cv_.wait_for(lock, std::chrono::nanoseconds(*timeout), done)) return 0;
  } else {
    cv_.wait(lock, done);
  }
  if (done_.load(std::memory_order_relaxed) == 0) return signalled ? -kERESTARTSYS : 0;
  done_.store(consumed(done_.load(std::memory_order_relaxed), kAll), std::memory_order_relaxed);
  if (!timeout) return 0;
  const auto spent = static_cast<sim::Nanos>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
  return left(spent, *timeout);
}

long Completion::wait_for_completion_interruptible(const Site& site) {
  return wait_common(sim::WaitMode::Interruptible, std::nullopt, "wait_for_completion_interruptible", site);
}
long Completion::wait_for_completion_killable(const Site& site) {
  return wait_common(sim::WaitMode::Killable, std::nullopt, "wait_for_completion_killable", site);
}
unsigned long Completion::wait_for_completion_timeout(sim::Nanos timeout, const Site& site) {
  return static_cast<unsigned long>(
      wait_common(sim::WaitMode::Uninterruptible, timeout, "wait_for_completion_timeout", site));
}
long Completion::wait_for_completion_interruptible_timeout(sim::Nanos timeout, const Site& site) {
  return wait_common(sim::WaitMode::Interruptible, timeout, "wait_for_completion_interruptible_timeout", site);
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
