// refcount_t: a reference count that saturates instead of wrapping, and warns instead of freeing early.
#pragma once

#include <atomic>
#include <climits>
#include <string_view>

#include "core/runtime.hpp"

namespace devsim::core {

// The kernel's refcount_t semantics (include/linux/refcount.h):
// - an increment from 0 is a use-after-free ("addition on 0; use-after-free"): the count saturates;
// - an increment that overflows saturates ("saturated; leaking memory");
// - a decrement below 0 is an underflow ("underflow; use-after-free"): the count saturates;
// - a plain decrement to 0 leaks ("decrement hit 0; leaking memory");
// - a saturated count stays saturated forever: the object is never freed (leaks), never freed early.
//
// INVARIANT: once saturated, dec_and_test() never returns true.
// Does not handle: memory ordering beyond the kernel's (release on decrement, acquire on the final one).
// In the simulator every operation is a scheduling point on the counter and each warning is a report of
// kind "refcount-warning" (the use-after-free ones are fatal bugs; saturation and leaks are warnings).
class Refcount {
 public:
  static constexpr int kSaturated = INT_MIN / 2;  // REFCOUNT_SATURATED

  explicit Refcount(int initial = 1) : refs_(initial) {}
  Refcount(const Refcount&) = delete;
  Refcount& operator=(const Refcount&) = delete;

  int read() const { return refs_.load(std::memory_order_relaxed); }
  void set(int n) { refs_.store(n, std::memory_order_relaxed); }

  void inc(const Site& site = Site::current());
  // Increments unless the count is 0 (the object is on its way out). The lookup-vs-delete primitive.
  bool inc_not_zero(const Site& site = Site::current());
  // Decrements; true if this dropped the last reference (the caller frees).
  bool dec_and_test(const Site& site = Site::current());
  void dec(const Site& site = Site::current());

  // Test hook and kernel semantics in one: the value a refcount holds after saturating.
  bool saturated() const { return read() < 0; }

 private:
  void warn(std::string_view what, bool bug, const Site& site);
  std::atomic<int> refs_;
};

namespace bug {
inline constexpr std::string_view kRefcount = "refcount-warning";
}

}  // namespace devsim::core
