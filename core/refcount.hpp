// refcount_t: a reference count that saturates instead of wrapping, and warns instead of freeing early.
#pragma once

#include <atomic>
#include <climits>
#include <string_view>
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define DEVSIM_HAVE_SINGLE_THREADED 1
#endif

#include "core/runtime.hpp"

namespace devsim::core {

namespace detail {
// True while the process has never had a second thread (glibc's __libc_single_threaded). Then no other thread
// can observe the count, so a plain load and store do what an atomic read-modify-write would, without the
// locked instruction: libstdc++'s shared_ptr takes the same shortcut, and without it Arc is 3x slower than
// shared_ptr in a single-threaded process.
// INVARIANT: only this thread can make the process multi-threaded, so the answer cannot change between the test
// and the plain store that follows it (glibc never sets the flag back once a thread was created).
inline bool process_single_threaded() {
#ifdef DEVSIM_HAVE_SINGLE_THREADED
  return __libc_single_threaded != 0;
#else
  return false;
#endif
}
}  // namespace detail

// The kernel's refcount_t semantics (include/linux/refcount.h):
// - an increment from 0 is a use-after-free ("addition on 0; use-after-free"): the count saturates;
// - an increment that overflows saturates ("saturated; leaking memory");
// - a decrement below 0 is an underflow ("underflow; use-after-free"): the count saturates;
// - a decrement of a saturated count warns the same way (non-fatal here: the object stays pinned) and the
//   count stays saturated (lib/refcount.c refcount_warn_saturate, REFCOUNT_SUB_UAF);
// - a plain decrement to 0 leaks ("decrement hit 0; leaking memory");
// - a saturated count stays saturated forever: the object is never freed (leaks), never freed early.
//
// INVARIANT: once saturated, dec_and_test() never returns true.
// Does not handle: memory ordering beyond the kernel's (release on decrement, acquire on the final one).
// In the simulator every operation is a scheduling point on the counter and each warning is a report of
// kind "refcount-warning" (the use-after-free ones are fatal bugs; saturation and leaks are warnings).
//
// Natively the common cases (a count well inside (0, INT_MAX)) are inline: one runtime lookup, one atomic
// instruction, one predictable branch. Everything unusual (warnings, the simulator) is out of line.
class Refcount {
 public:
  static constexpr int kSaturated = INT_MIN / 2;  // REFCOUNT_SATURATED

  explicit Refcount(int initial = 1) : refs_(initial) {}
  Refcount(const Refcount&) = delete;
  Refcount& operator=(const Refcount&) = delete;

  int read() const { return refs_.load(std::memory_order_relaxed); }
  void set(int n) { refs_.store(n, std::memory_order_relaxed); }

  void inc(const Site& site = Site::current()) { inc(sim_world(), site); }
  // Increments unless the count is 0 (the object is on its way out). The lookup-vs-delete primitive.
  bool inc_not_zero(const Site& site = Site::current()) { return inc_not_zero(sim_world(), site); }
  // Decrements; true if this dropped the last reference (the caller frees).
  bool dec_and_test(const Site& site = Site::current()) { return dec_and_test(sim_world(), site); }
  void dec(const Site& site = Site::current());
  // refcount_dec_not_one() (lib/refcount.c): decrements unless the count is 1; false (nothing done) if it is.
  // A saturated count stays saturated (true); a decrement of 0 warns as an underflow.
  bool dec_not_one(const Site& site = Site::current());

  // The same operations for a caller that already asked sim_world(): `w` must be its answer (null natively).
  // Saves the runtime lookup on fast paths that need the world for something else too (Arc).
  void inc(sim::World* w, const Site& site) {
    if (w != nullptr) [[unlikely]]
      schedule(*w, sim::EventKind::Acquire, site);
    int old;
    if (detail::process_single_threaded()) {
      old = refs_.load(std::memory_order_relaxed);
      // Unsigned, so INT_MAX + 1 wraps as the atomic does (no signed overflow); fixed up below.
      refs_.store(static_cast<int>(static_cast<unsigned>(old) + 1u), std::memory_order_relaxed);
    } else {
      old = refs_.fetch_add(1, std::memory_order_relaxed);
    }
    if (old <= 0 || old == INT_MAX) [[unlikely]]
      inc_fixup(old, site);
  }
  bool inc_not_zero(sim::World* w, const Site& site) {
    if (w != nullptr) [[unlikely]]
      schedule(*w, sim::EventKind::Acquire, site);
    return inc_not_zero_no_yield(site);
  }
  bool dec_and_test(sim::World* w, const Site& site) {
    if (w != nullptr) [[unlikely]]
      schedule(*w, sim::EventKind::Release, site);
    int old;
    if (detail::process_single_threaded()) {
      old = refs_.load(std::memory_order_relaxed);
      refs_.store(static_cast<int>(static_cast<unsigned>(old) - 1u), std::memory_order_relaxed);
    } else {
      old = refs_.fetch_sub(1, std::memory_order_release);
    }
    if (old == 1) {
      // Acquire the releases of every earlier decrement before the caller frees. A load rather than a fence:
      // the same ordering, and one ThreadSanitizer understands (it ignores std::atomic_thread_fence).
      (void)refs_.load(std::memory_order_acquire);
      return true;
    }
    if (old <= 0) [[unlikely]]
      dec_fixup(old, site);
    return false;
  }

  // inc_not_zero() without its scheduling point, for a caller that passed one already and must not be
  // interleaved between its own check and this increment (Weak::upgrade inside its anchor's critical section).
  // Warnings are still reported.
  bool inc_not_zero_no_yield(const Site& site = Site::current()) {
    int old = refs_.load(std::memory_order_relaxed);
    do {
      if (old == 0) return false;
      if (old < 0) return true;  // saturated: stays saturated, the object is pinned forever
      if (old == INT_MAX) [[unlikely]]
        return saturate_on_inc_not_zero(site);
    } while (!refs_.compare_exchange_weak(old, old + 1, std::memory_order_relaxed));
    return true;
  }

  // Test hook and kernel semantics in one: the value a refcount holds after saturating.
  bool saturated() const { return read() < 0; }

 private:
  // The scheduling point of every operation in the simulator: the counter is the object touched.
  void schedule(sim::World& w, sim::EventKind kind, const Site& site);
  // The unusual outcomes, out of line so that the fast paths stay small. `old`: the value before the operation.
  void inc_fixup(int old, const Site& site);
  void dec_fixup(int old, const Site& site);
  bool saturate_on_inc_not_zero(const Site& site);
  void warn(std::string_view what, bool bug, const Site& site);
  std::atomic<int> refs_;
};

namespace bug {
inline constexpr std::string_view kRefcount = "refcount-warning";
}

}  // namespace devsim::core
