// RCU-protected raw pointers, as C drivers use them: rcu_dereference() and its checked variants,
// rcu_assign_pointer(), srcu_dereference(), kfree_rcu(); with PROVE_RCU's checks in the simulator.
#pragma once

#include <string_view>
#include <type_traits>

#include "core/rcu.hpp"
#include "core/srcu.hpp"
#include "sim/kmalloc.hpp"

namespace devsim::core {

namespace bug {
// kernel/rcu/update.c lockdep_rcu_suspicious(): "suspicious RCU usage".
inline constexpr std::string_view kSuspiciousRcuUsage = "suspicious-rcu-usage";
}  // namespace bug

namespace detail {
// Reports "suspicious <api> usage" (PROVE_RCU's splat) at `site` in the current task: `api` names the accessor
// ("rcu_dereference_check()"), `why` what was missing.
void lockdep_rcu_suspicious(sim::World& w, std::string_view api, std::string_view why, const Site& site);

// The pointer's current value: an acquire load for raw pointers (the kernel's READ_ONCE with address
// dependency), a plain copy for checked handles (simulator only; the simulator is sequentially consistent at
// scheduling points).
template <class P>
P rcu_load(const P& p) {
  if constexpr (std::is_pointer_v<P>)
    return __atomic_load_n(&p, __ATOMIC_ACQUIRE);
  else
    return p;
}
template <class P, class V>
void rcu_store(P& p, V v) {
  if constexpr (std::is_pointer_v<P>)
    __atomic_store_n(&p, static_cast<P>(v), __ATOMIC_RELEASE);
  else
    p = v;
}
template <class P>
P checked_dereference(const P& p, bool ok, std::string_view api, std::string_view why, const Site& site) {
  if (sim::World* w = sim_world()) [[unlikely]] {
    w->yield(sim::EventKind::Read, &p, site);
    w->touch(&p, false);
    if (!ok) lockdep_rcu_suspicious(*w, api, why, site);
  }
  return rcu_load(p);
}
}  // namespace detail

// The kernel's RCU pointer accessors (include/linux/rcupdate.h) on a pointer `p` (a raw T* or a sim::KPtr<T>)
// that updaters publish with rcu_assign_pointer(). In the simulator each is a scheduling point on `p` and,
// like CONFIG_PROVE_RCU, checks the caller's context:
// - rcu_dereference(p): inside rcu_read_lock() (an RcuReadGuard of this task); an SRCU section does not count.
// - rcu_dereference_check(p, c): inside rcu_read_lock(), or `c` holds (lockdep_is_held(&lock), …).
// - rcu_dereference_protected(p, c): `c` holds (the update side: the updaters' lock is held); no read section
//   needed or implied.
// - srcu_dereference(p, ss): inside a read section of `ss`.
// - rcu_dereference_raw(p): no check (a documented exception, like the kernel's).
// Otherwise: "suspicious-rcu-usage" (kernel/rcu/update.c lockdep_rcu_suspicious), a fatal report.
// Natively the checks are off (as without PROVE_RCU): each is an acquire load.
template <class P>
P rcu_dereference(const P& p, const Site& site = Site::current()) {
  const bool ok = sim_world() == nullptr || rcu_read_lock_held();
  return detail::checked_dereference(p, ok, "rcu_dereference_check()",
                                     "rcu_dereference() outside an RCU read-side critical section", site);
}
template <class P>
P rcu_dereference_check(const P& p, bool c, const Site& site = Site::current()) {
  const bool ok = c || sim_world() == nullptr || rcu_read_lock_held();
  return detail::checked_dereference(
      p, ok, "rcu_dereference_check()",
      "rcu_dereference_check() outside an RCU read-side critical section, and its condition is false", site);
}
template <class P>
P rcu_dereference_protected(const P& p, bool c, const Site& site = Site::current()) {
  return detail::checked_dereference(p, c, "rcu_dereference_protected()",
                                     "rcu_dereference_protected() with its condition false (the update-side lock "
                                     "is not held)",
                                     site);
}
template <class P>
P srcu_dereference(const P& p, const Srcu& ss, const Site& site = Site::current()) {
  const bool ok = sim_world() == nullptr || ss.read_lock_held();
  return detail::checked_dereference(
      p, ok, "srcu_dereference_check()",
      "srcu_dereference() outside a read-side critical section of srcu_struct " + ss.name(), site);
}
template <class P>
P rcu_dereference_raw(const P& p) {
  return detail::rcu_load(p);
}

// rcu_assign_pointer(p, v): publishes `v` (a release store: whatever was written to *v before is visible to
// a reader that dereferences it). A scheduling point on `p` in the simulator.
template <class P, class V>
void rcu_assign_pointer(P& p, V v, const Site& site = Site::current()) {
  if (sim::World* w = sim_world()) [[unlikely]] {
    w->yield(sim::EventKind::Write, &p, site);
    w->touch(&p, true);
  }
  detail::rcu_store(p, v);
}

// kfree_rcu(p): frees `p` after a grace period, without waiting (call_rcu + kfree). Simulator only.
template <class T>
void kfree_rcu(sim::KPtr<T> p, const Site& site = Site::current()) {
  if (!p) return;
  call_rcu([p, site] { sim::kfree(p, site); }, site);
}

}  // namespace devsim::core
