#include "core/refcount.hpp"

namespace devsim::core {

void Refcount::warn(std::string_view what, bool is_bug, const Site& site) {
  sim::World* w = sim_world();
  if (w == nullptr) return;  // native: saturation already keeps the object safe; there is no report sink
  sim::Report r;
  r.kind = std::string(bug::kRefcount);
  r.headline = "refcount_t: " + std::string(what);
  r.fatal = is_bug;
  r.accessed_by = w->task_site(w->current_task(), site);
  w->report(std::move(r));
}

void Refcount::inc(const Site& site) {
  if (sim::World* w = sim_world()) w->yield(sim::EventKind::Acquire, this, site);
  int old = refs_.fetch_add(1, std::memory_order_relaxed);
  if (old == 0) {
    refs_.store(kSaturated, std::memory_order_relaxed);
    warn("addition on 0; use-after-free.", true, site);
  } else if (old < 0 || old == INT_MAX) {  // INT_MAX + 1 wrapped negative: saturated now
    refs_.store(kSaturated, std::memory_order_relaxed);
    if (old == INT_MAX) warn("saturated; leaking memory.", false, site);
  }
}

bool Refcount::inc_not_zero(const Site& site) {
  if (sim::World* w = sim_world()) w->yield(sim::EventKind::Acquire, this, site);
  int old = refs_.load(std::memory_order_relaxed);
  do {
    if (old == 0) return false;
    if (old < 0) return true;  // saturated: stays saturated, the object is pinned forever
    if (old == INT_MAX) {
      refs_.store(kSaturated, std::memory_order_relaxed);
      warn("saturated; leaking memory.", false, site);
      return true;
    }
  } while (!refs_.compare_exchange_weak(old, old + 1, std::memory_order_relaxed));
  return true;
}

bool Refcount::dec_and_test(const Site& site) {
  if (sim::World* w = sim_world()) w->yield(sim::EventKind::Release, this, site);
  int old = refs_.fetch_sub(1, std::memory_order_release);
  if (old == 1) {
    std::atomic_thread_fence(std::memory_order_acquire);
    return true;
  }
  if (old <= 0) {
    refs_.store(kSaturated, std::memory_order_relaxed);
    if (old == 0) warn("underflow; use-after-free.", true, site);
  }
  return false;
}

void Refcount::dec(const Site& site) {
  if (sim::World* w = sim_world()) w->yield(sim::EventKind::Release, this, site);
  int old = refs_.fetch_sub(1, std::memory_order_release);
  if (old == 1) {
    refs_.store(kSaturated, std::memory_order_relaxed);
    warn("decrement hit 0; leaking memory.", false, site);
  } else if (old <= 0) {
    refs_.store(kSaturated, std::memory_order_relaxed);
    if (old == 0) warn("underflow; use-after-free.", true, site);
  }
}

}  // namespace devsim::core
