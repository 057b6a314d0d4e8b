// Gate: counts calls in flight and lets a closer refuse new ones and wait for the rest to leave.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>

#include "core/runtime.hpp"

namespace devsim::core {

// seastar's gate, the kernel's "active count + disconnected flag + wait" drain (Pinchart's in-flight
// counter for fops, SRCU-less cdev drain): callers enter() around an operation on an object; the object's
// remove path close()s the gate, after which entries are refused, and close() returns once every holder has
// left. After close() returns, no caller is inside and none will get in: the object can be torn down.
//
//   if (auto in = gate.try_enter()) { ... use the device ... } else return -ENODEV;
//
// In the simulator each operation is a scheduling point on the gate, and close() sleeps (sleep-in-atomic
// under a spinlock); a close that can never finish (a holder waiting for something the closer holds, or the
// closer holding an entry itself) is a deadlock report ("gate close"). Natively: one atomic word (count and
// closed bit): entering and leaving are one compare-and-swap each; once closing, leavers and the closer meet
// under a mutex and condition variable.
//
// INVARIANT: count() is the number of live Holders; once closed, it only goes down.
// Does not handle: reopening (a gate closes once; build a new one), more than 2^31 - 1 holders, a holder that
// outlives its gate (a LIFETIME bug: the gate must outlive its holders, which close() guarantees for a gate
// that is closed before it is destroyed). Holders are not tied to a task (they can move to a work item), so
// a task that exits holding one is not reported: the close that waits forever is.
class Gate {
 public:
  // One entry: leaves the gate when destroyed or leave()d. Movable; a moved-from holder does nothing.
  // LIFETIME: the gate outlives the holder.
  class [[nodiscard]] Holder {
   public:
    Holder(Holder&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
    Holder& operator=(Holder&&) = delete;
    Holder(const Holder&) = delete;
    ~Holder() {
      if (gate_ != nullptr) gate_->leave(Site::current());
    }
    // Leaves now, at the caller's site.
    void leave(const Site& site = Site::current()) {
      if (gate_ != nullptr) std::exchange(gate_, nullptr)->leave(site);
    }

   private:
    friend class Gate;
    explicit Holder(Gate& g) : gate_(&g) {}
    Gate* gate_;
  };

  Gate() = default;
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  // Enters, unless the gate is closed (or closing).
  std::optional<Holder> try_enter(const Site& site = Site::current());
  // Refuses new entries, then sleeps until every holder has left. Idempotent: a second close waits too.
  void close(const Site& site = Site::current());

  bool is_closed() const { return (state_.load(std::memory_order_acquire) & kClosed) != 0; }
  // Holders alive now (racy natively: for tests and statistics).
  std::uint32_t count() const { return state_.load(std::memory_order_acquire) & ~kClosed; }

 private:
  static constexpr std::uint32_t kClosed = 1u << 31;
  // May run in a destructor (the Holder's): never unwound halfway.
  void leave(const Site& site);

  std::atomic<std::uint32_t> state_{0};  // kClosed | number of holders
  std::mutex mu_;                        // native: orders the last leave with the closer's return
  std::condition_variable cv_;
};

}  // namespace devsim::core
