// RCU: read-side critical sections (RcuReadGuard), grace periods (synchronize_rcu), deferred callbacks
// (call_rcu) and rcu_barrier, in the simulator and natively on liburcu's urcu-memb flavour.
//
// Simulator semantics (per world, in World::extension<RcuState>):
// - rcu_read_lock/unlock are scheduling points. A read section is an atomic hold (HoldKind::Atomic): sleeping
//   inside it is reported by the engine as sleep-in-atomic; exiting a task inside one is held-at-exit.
//   Sections nest per task; only the outermost one counts for grace periods.
// - A grace period waits EXACTLY for the read sections open when it started: each outermost section records
//   the grace-period sequence number at its start; synchronize_rcu() starts grace period g and waits until no
//   section that started before g is open. A section that starts after it does not delay it.
// - synchronize_rcu() inside a read section of the same task is reported as a deadlock ("synchronize_rcu()
//   inside an RCU read-side critical section") and returns at once instead of hanging. Inside another atomic
//   hold (a spinlock) it is sleep-in-atomic.
// - call_rcu(f) starts a grace period at the call; f runs after it, in a simulated task "rcu_callbacks"
//   spawned on demand, which exits when it has nothing queued (so a finished model does not look deadlocked).
//   Callbacks run in FIFO order, in an atomic hold like softirq context (they must not sleep). Every callback
//   has run before an execution completes; callbacks still pending when an execution stops early are
//   destroyed unrun, before the world's objects are.
// - rcu_barrier() waits until every callback queued before it has run.
// - While a world tears down no task runs again, so nothing can be waited for: synchronize_rcu() returns at
//   once and call_rcu() runs its callback at once.
//
// Native semantics: liburcu's urcu-memb flavour. Each thread registers itself lazily on its first RCU
// operation (a thread_local; it unregisters at thread exit). call_rcu callbacks run on liburcu's default
// call_rcu thread, one at a time in queue order; rcu_barrier() queues a marker callback and waits for it (so it
// relies on no per-CPU / per-thread call_rcu data being created in the process). synchronize_rcu() inside a
// read section throws std::logic_error (liburcu would hang). Under ThreadSanitizer the read-side unlock, the
// grace period and the call_rcu hand-off are annotated as release/acquire, since TSan cannot see liburcu's
// membarrier-based ordering. The native fast path of a read section is liburcu's inline one plus one
// thread_local test (registration) and one sim_world() check.
//
// Does not handle: preemptible-RCU priority boosting, expedited grace periods, rcu_read_lock_bh/sched
// flavours (one flavour only), SRCU (srcu.hpp), RCU-protected pointers themselves (rcu_ptr.hpp), weak-memory
// effects in the simulator (it is sequentially consistent at scheduling points). A guard must be released on
// the task / thread that took it.
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "core/runtime.hpp"

#if defined(__SANITIZE_THREAD__)
#define DEVSIM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DEVSIM_TSAN 1
#endif
#endif
#if defined(DEVSIM_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

// liburcu's read side. By default its static inline fast path (what _LGPL_SOURCE selects; about 1 ns for a
// lock/unlock pair instead of 6 ns through the shared library), included from the static header alone: the
// public <urcu/urcu-memb.h> would also bring macros (rcu_read_lock, call_rcu, synchronize_rcu, rcu_dereference…)
// that collide with this API. Under ThreadSanitizer, or with DEVSIM_URCU_NO_INLINE defined (for code that must
// not inline LGPL functions), the library's out-of-line functions are called instead.
#if defined(DEVSIM_TSAN) || defined(DEVSIM_URCU_NO_INLINE)
extern "C" {
void urcu_memb_read_lock(void);
void urcu_memb_read_unlock(void);
}
#define DEVSIM_URCU_INLINE 0
#else
#include <urcu/static/urcu-memb.h>
#define DEVSIM_URCU_INLINE 1
#endif

namespace devsim::core {

namespace detail {

inline void urcu_read_lock() {
#if DEVSIM_URCU_INLINE
  _urcu_memb_read_lock();
#else
  urcu_memb_read_lock();
#endif
}
inline void urcu_read_unlock() {
#if DEVSIM_URCU_INLINE
  _urcu_memb_read_unlock();
#else
  urcu_memb_read_unlock();
#endif
}

// Happens-before edges ThreadSanitizer cannot infer (liburcu is not instrumented): no-ops otherwise.
inline void tsan_release([[maybe_unused]] void* addr) {
#if defined(DEVSIM_TSAN)
  __tsan_release(addr);
#endif
}
inline void tsan_acquire([[maybe_unused]] void* addr) {
#if defined(DEVSIM_TSAN)
  __tsan_acquire(addr);
#endif
}
// Every reader's unlock releases into this; every grace period acquires from it.
inline char g_rcu_tsan_sync;

// True once this thread is registered with liburcu (by us, or by liburcu for its own call_rcu thread).
// Constant-initialised, so the fast path reads it with one %fs-relative load.
inline thread_local bool t_urcu_registered = false;
void urcu_register_slow();
inline void urcu_ensure_registered() {
  if (!t_urcu_registered) [[unlikely]]
    urcu_register_slow();
}

// The simulator's side, in rcu.cpp.
void sim_rcu_read_lock(sim::World& w, const Site& site);
void sim_rcu_read_unlock(sim::World& w, const Site& site);
// The native side: liburcu's read section of the calling thread (registered at its first use).
inline void native_rcu_read_lock() {
  urcu_ensure_registered();
  urcu_read_lock();
}
inline void native_rcu_read_unlock() {
  tsan_release(&g_rcu_tsan_sync);
  urcu_read_unlock();
}

// A type-erased callback for call_rcu.
class RcuCallback {
 public:
  virtual ~RcuCallback() = default;
  virtual void run() = 0;
};
template <class F>
class RcuCallbackFn final : public RcuCallback {
 public:
  explicit RcuCallbackFn(F f) : f_(std::move(f)) {}
  void run() override { f_(); }

 private:
  F f_;
};
void call_rcu_erased(std::unique_ptr<RcuCallback> callback, const Site& site);

}  // namespace detail

// An RCU read-side critical section, held for the guard's scope (rcu_read_lock / rcu_read_unlock).
// Movable: a moved-from guard holds nothing. Nests.
// INVARIANT: an active guard holds exactly one rcu_read_lock of the task/thread that created it.
class RcuReadGuard {
 public:
  explicit RcuReadGuard(const Site& site = Site::current()) : world_(sim_world()), site_(site) {
    if (world_ != nullptr) [[unlikely]] {
      detail::sim_rcu_read_lock(*world_, site);
    } else {
      detail::native_rcu_read_lock();
    }
  }
  RcuReadGuard(RcuReadGuard&& other) noexcept
      : world_(other.world_), site_(other.site_), active_(std::exchange(other.active_, false)) {}
  RcuReadGuard& operator=(RcuReadGuard&&) = delete;
  RcuReadGuard(const RcuReadGuard&) = delete;
  RcuReadGuard& operator=(const RcuReadGuard&) = delete;
  ~RcuReadGuard() { unlock(site_); }

  // Ends the section now (rcu_read_unlock) at `site`; the guard becomes inactive.
  void unlock(const Site& site = Site::current()) {
    if (!std::exchange(active_, false)) return;
    if (world_ != nullptr) [[unlikely]] {
      detail::sim_rcu_read_unlock(*world_, site);
    } else {
      detail::native_rcu_read_unlock();
    }
  }
  bool active() const { return active_; }
  const Site& site() const { return site_; }    // where the section began
  sim::World* world() const { return world_; }  // null natively

 private:
  sim::World* world_;
  Site site_;
  bool active_ = true;
};

// rcu_read_lock(): the guard form is the only form.
inline RcuReadGuard rcu_read_lock(const Site& site = Site::current()) {
  return RcuReadGuard(site);
}

// Waits for a grace period: every read section open now has ended when it returns. Sleeps.
void synchronize_rcu(const Site& site = Site::current());

// Runs `f()` once, after a grace period that starts now. Does not wait. F must be move-constructible.
template <class F>
void call_rcu(F&& f, const Site& site = Site::current()) {
  detail::call_rcu_erased(std::make_unique<detail::RcuCallbackFn<std::decay_t<F>>>(std::forward<F>(f)), site);
}

// Waits until every callback queued by call_rcu() before this call has run. Sleeps.
void rcu_barrier(const Site& site = Site::current());

// Test hook: whether the current task (simulator) or thread (native) is inside a read section.
bool rcu_read_lock_held();

}  // namespace devsim::core
