// What one stretch of execution touched, so an explorer can tell which steps commute.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace devsim::sim {

// The shared objects a segment of execution (from one scheduling decision to the next) read or wrote.
// Two segments are independent when no object is written by one and touched by the other; then running
// them in either order reaches the same state, and an explorer with sleep sets runs only one order.
// A segment that did something the engine cannot describe as object accesses (drew a random value, sent a
// signal, moved a hard-IRQ handler between CPUs) conflicts with everything: `everything` is set.
//
// Blocking, waking, spawning and time are described precisely, because treating them as conflicts with
// everything makes every pair of segments around them a race and defeats partial-order reduction:
// - blocking on a channel and waking a channel are writes to the channel (their order decides who is woken);
// - a segment that made tasks runnable (woke them, or spawned them) lists them in `enabled`: each such task's
//   next segment happens after this one (an ordering, not a conflict: the reverse order cannot be run);
// - a segment after which virtual time advanced is a `barrier`: time advances only when every task is blocked,
//   so every segment before it happens before every segment after it;
// - spawning also writes the task table, so two spawns keep their order (it decides the new tasks' ids).
//
// Objects are named so that a name means the same object in every execution with the same prefix of choices,
// because a sleep set compares a segment recorded in an earlier execution with the segments of later ones.
// Simulated memory is named by address: its allocator hands out the same addresses for the same sequence of
// allocations. Host memory (objects on the C++ heap, world extensions) is not: the host allocator may place an
// object elsewhere in the next execution, and always does under ASan's quarantine. So World names a host object
// by the order in which the execution first touched it (host_name()): the same prefix touches the same objects
// in the same order. An object first touched after a segment began has a name that depends on what ran since;
// still_independent_of() treats all such names as one object.

class Footprint {
 public:
  // Host names live in [2^62, 2^63): disjoint from user-space pointers (< 2^47) and from simulated kernel
  // addresses (>= 0xffff800000000000).
  static constexpr std::uintptr_t kHostNames = std::uintptr_t{1} << 62;
  static constexpr std::uintptr_t host_name(std::uint64_t index) { return kHostNames | index; }
  static constexpr bool is_host_name(std::uintptr_t object) { return (object >> 62) == 1; }
  // Whether task `task` can run (its state: runnable, blocked, finished) is an object of its own, named in
  // [2^61, 2^62) by the task's id, which is the same in every execution with the same prefix. Every change of
  // state writes it; a hard-IRQ handler's entry, which looks at which tasks can run, reads every task's.
  static constexpr std::uintptr_t kTaskStates = std::uintptr_t{1} << 61;
  static constexpr std::uintptr_t task_state_name(std::uint32_t task) { return kTaskStates | task; }
  // A task's pending signal, likewise: sending one writes it (and, when it wakes the task, the task's state and the
  // channel it waited on); the task's own checks of signal_pending() read it, delivering it writes it.
  static constexpr std::uintptr_t task_signal_name(std::uint32_t task) {
    return kTaskStates | (std::uintptr_t{1} << 32) | task;
  }

  void touch(std::uintptr_t object, bool write) {
    const std::uint64_t bit = signature_bit(object);
    const bool maybe_listed = (touched_ & bit) != 0;
    touched_ |= bit;
    if (write) written_ |= bit;
    if (!maybe_listed) {
      accesses_.push_back({object, write});
      return;
    }
    // Runs of accesses to one object are the common case (a structure's fields, a lock and what it guards).
    if (accesses_.back().object == object) {
      accesses_.back().write |= write;
      return;
    }
    for (Access& a : accesses_) {
      if (a.object == object) {
        a.write |= write;
        return;
      }
    }
    accesses_.push_back({object, write});
  }
  void touch_everything() { everything_ = true; }
  // This segment made task `task` runnable: that task's next segment happens after it.
  void enable(std::uint32_t task) {
    if (std::find(enabled_.begin(), enabled_.end(), task) == enabled_.end()) enabled_.push_back(task);
  }
  // Virtual time advanced after this segment, with every task blocked.
  void mark_barrier() { barrier_ = true; }
  // Starts a new segment; `host_names_so_far` host objects had been touched before it.
  void clear(std::uint64_t host_names_so_far) {
    accesses_.clear();
    touched_ = written_ = 0;
    enabled_.clear();
    everything_ = false;
    barrier_ = false;
    first_fresh_ = host_name(host_names_so_far);
  }
  bool empty() const { return accesses_.empty() && !everything_; }
  bool barrier() const { return barrier_; }
  bool enabled(std::uint32_t task) const { return std::find(enabled_.begin(), enabled_.end(), task) != enabled_.end(); }
  const std::vector<std::uint32_t>& enabled_tasks() const { return enabled_; }

  // Both segments come from the same execution.
  bool independent_of(const Footprint& other) const {
    if (everything_ || other.everything_) return false;
    if ((written_ & other.touched_) == 0 && (touched_ & other.written_) == 0) return true;
    for (const Access& a : accesses_)
      for (const Access& b : other.accesses_)
        if (a.object == b.object && (a.write || b.write)) return false;
    return true;
  }

  // This segment was recorded in an earlier execution, `later` in the current one, which shares this segment's
  // prefix. Names of host objects first touched at or after this segment's start may denote different objects
  // in the two executions, so any two such names are taken to be the same object (a conflict too many costs
  // only a pruning; one too few would lose interleavings).
  bool still_independent_of(const Footprint& later) const {
    if (everything_ || later.everything_) return false;
    for (const Access& a : accesses_) {
      const bool a_fresh = is_host_name(a.object) && a.object >= first_fresh_;
      for (const Access& b : later.accesses_) {
        const bool same = a.object == b.object || (a_fresh && is_host_name(b.object) && b.object >= first_fresh_);
        if (same && (a.write || b.write)) return false;
      }
    }
    return true;
  }

 private:
  struct Access {
    std::uintptr_t object;
    bool write;
  };
  // One of 64 bits per object (a multiplicative hash): two segments whose bits do not meet touch no object in
  // common, which settles most independence checks without comparing the lists.
  static std::uint64_t signature_bit(std::uintptr_t object) {
    return std::uint64_t{1} << ((static_cast<std::uint64_t>(object) * 0x9E3779B97F4A7C15ULL) >> 58);
  }
  std::vector<Access> accesses_;
  // INVARIANT: every object in accesses_ has its signature bit in touched_, and in written_ if written.
  std::uint64_t touched_ = 0;
  std::uint64_t written_ = 0;
  std::vector<std::uint32_t> enabled_;
  bool everything_ = false;
  bool barrier_ = false;
  std::uintptr_t first_fresh_ = kHostNames;
};

}  // namespace devsim::sim
