// What one stretch of execution touched, so an explorer can tell which steps commute.
#pragma once

#include <cstdint>
#include <vector>

namespace devsim::sim {

// The shared objects a segment of execution (from one scheduling decision to the next) read or wrote.
// Two segments are independent when no object is written by one and touched by the other; then running
// them in either order reaches the same state, and an explorer with sleep sets runs only one order.
// A segment that did something the engine cannot describe as object accesses (spawned a task, blocked,
// advanced time, drew a random value) conflicts with everything: `everything` is set.
class Footprint {
 public:
  void touch(std::uintptr_t object, bool write) {
    for (Access& a : accesses_) {
      if (a.object == object) {
        a.write |= write;
        return;
      }
    }
    accesses_.push_back({object, write});
  }
  void touch_everything() { everything_ = true; }
  void clear() {
    accesses_.clear();
    everything_ = false;
  }
  bool empty() const { return accesses_.empty() && !everything_; }

  bool independent_of(const Footprint& other) const {
    if (everything_ || other.everything_) return false;
    for (const Access& a : accesses_)
      for (const Access& b : other.accesses_)
        if (a.object == b.object && (a.write || b.write)) return false;
    return true;
  }

 private:
  struct Access {
    std::uintptr_t object;
    bool write;
  };
  std::vector<Access> accesses_;
  bool everything_ = false;
};

}  // namespace devsim::sim
