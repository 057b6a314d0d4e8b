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

void Refcount::schedule(sim::World& w, sim::EventKind kind, const Site& site) {
  w.yield(kind, this, site);
  // Every operation reads and writes the counter: two of them never commute (for partial-order reduction).
  w.touch(this, true);
}

void Refcount::inc_fixup(int old, const Site& site) {
  // The increment already happened: put the count where the kernel leaves it.
  refs_.store(kSaturated, std::memory_order_relaxed);
  if (old == 0)
    warn("addition on 0; use-after-free.", true, site);
  else if (old == INT_MAX)  // INT_MAX + 1 wrapped negative: saturated now
    warn("saturated; leaking memory.", false, site);
}

bool Refcount::saturate_on_inc_not_zero(const Site& site) {
  refs_.store(kSaturated, std::memory_order_relaxed);
  warn("saturated; leaking memory.", false, site);
  return true;
}

void Refcount::dec_fixup(int old, const Site& site) {
  // lib/refcount.c refcount_warn_saturate(REFCOUNT_SUB_UAF), reached from include/linux/refcount.h
  // __refcount_sub_and_test and __refcount_dec whenever the old value was 0 or negative: the count is set back
  // to saturated and the same warning is printed. From 0 it is a real underflow (a put without a get: fatal);
  // from a saturated count it is the kernel's warning on a count that already leaks, and the object stays
  // pinned (not fatal: nothing is freed early).
  refs_.store(kSaturated, std::memory_order_relaxed);
  warn("underflow; use-after-free.", old == 0, site);
}

void Refcount::dec(const Site& site) {
  if (sim::World* w = sim_world()) schedule(*w, sim::EventKind::Release, site);
  int old = refs_.fetch_sub(1, std::memory_order_release);
  if (old == 1) {
    refs_.store(kSaturated, std::memory_order_relaxed);
    warn("decrement hit 0; leaking memory.", false, site);
  } else if (old <= 0) {
    dec_fixup(old, site);
  }
}

bool Refcount::dec_not_one(const Site& site) {
  if (sim::World* w = sim_world()) schedule(*w, sim::EventKind::Release, site);
  int old = refs_.load(std::memory_order_relaxed);
  do {
    if (old < 0) return true;  // saturated: stays so
    if (old == 1) return false;
    if (old == 0) {
      dec_fixup(old, site);  // "underflow; use-after-free."
      return true;
    }
  } while (!refs_.compare_exchange_weak(old, old - 1, std::memory_order_release));
  return true;
}

}  // namespace devsim::core
