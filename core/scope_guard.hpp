// ScopeGuard: runs a cleanup when a scope ends, unless dismissed (Rust-for-Linux's kernel::types::ScopeGuard).
#pragma once

#include <type_traits>
#include <utility>

#include "core/runtime.hpp"

namespace devsim::core {

// Owns `data` and runs cleanup(data) when destroyed, on every way out of the scope (return, exception,
// the cancellation unwinding a simulated task); dismiss() cancels the cleanup and hands the data back. The goto-
// unwind ladder of a C probe() function, one rung per guard, run in reverse order of construction.
//
// INVARIANT: cleanup runs at most once, and never after dismiss().
// In the simulator the cleanup runs inside a NoCancelScope: it may reach scheduling points (kfree) while the
// world is unwinding the task, and must then complete instead of throwing out of a destructor.
// Does not handle: a cleanup that throws (it runs in a destructor: std::terminate), or cancelling a cleanup
// from another thread. Not copyable (two guards would clean up twice), not movable (keep it to its scope).
template <class D, class F>
class ScopeGuard {
 public:
  ScopeGuard(D data, F cleanup) : data_(std::move(data)), cleanup_(std::move(cleanup)) {}
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;
  ~ScopeGuard() {
    if (!armed_) return;
    if (sim::World* w = sim_world()) {
      sim::World::NoCancelScope scope(*w);
      cleanup_(data_);
      return;
    }
    cleanup_(data_);
  }

  // Cancels the cleanup; the data is the caller's now.
  [[nodiscard]] D dismiss() {
    armed_ = false;
    return std::move(data_);
  }

  D& operator*() { return data_; }
  const D& operator*() const { return data_; }
  D* operator->() { return &data_; }
  const D* operator->() const { return &data_; }
  bool armed() const { return armed_; }

 private:
  D data_;
  F cleanup_;
  bool armed_ = true;
};

// The data-less form: runs cleanup() when the scope ends, unless dismissed.
template <class F>
class ScopeGuard<void, F> {
 public:
  explicit ScopeGuard(F cleanup) : cleanup_(std::move(cleanup)) {}
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;
  ~ScopeGuard() {
    if (!armed_) return;
    if (sim::World* w = sim_world()) {
      sim::World::NoCancelScope scope(*w);
      cleanup_();
      return;
    }
    cleanup_();
  }

  void dismiss() { armed_ = false; }
  bool armed() const { return armed_; }

 private:
  F cleanup_;
  bool armed_ = true;
};

template <class F>
ScopeGuard(F) -> ScopeGuard<void, F>;
template <class D, class F>
ScopeGuard(D, F) -> ScopeGuard<D, F>;

}  // namespace devsim::core
