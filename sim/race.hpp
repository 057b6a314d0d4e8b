// The data-race detector: happens-before by vector clocks, KCSAN's notion of a data race.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include <boost/container/flat_map.hpp>
#include <boost/container/small_vector.hpp>

#include "sim/choice.hpp"

namespace devsim::sim {

// Two accesses race when they come from different tasks, touch overlapping bytes, at least one writes, neither
// is marked (READ_ONCE/WRITE_ONCE, atomics, data_race()), and neither happens before the other.
//
// Happens-before is tracked with one vector clock per task and per synchronisation object, FastTrack-style
// epochs per access. Edges (see docs/architecture.md): every scheduling point a primitive makes on an object
// (World::yield with an object: locks, completions, refcounts, RCU/SRCU, IRQ lines...) synchronises the task
// with the object both ways; wake-ups release to the channel and the woken task acquires it; a spawned task
// starts with its parent's clock; atomics release and acquire on their address with the order they are given.
//
// Clocks start only with the first instrumented access of an execution: a synchronisation that no access
// precedes cannot order anything, so executions that never touch simulated memory pay nothing.
//
// KCSAN defaults followed: plain aligned writes up to word size are assumed atomic, so two such writes do not
// race with each other (CONFIG_KCSAN_ASSUME_PLAIN_WRITES_ATOMIC=y); a plain write against a plain read still
// races. Not followed: value-unchanged writes are not filtered (the callback runs before the write, so the new
// value is not known). Per 8-byte cell the detector remembers the last write and two reads; an older read
// evicted by two concurrent newer ones is forgotten (a race with it may be missed, never invented).
class RaceDetector {
 public:
  struct Access {
    TaskId task = kNoTask;
    std::uint32_t clock = 0;
    std::uintptr_t pc = 0;
    std::uint8_t mask = 0;  // the bytes of the 8-byte cell it touched
    bool write = false;
    bool atomic_write = false;  // a plain aligned write of at most 8 bytes (assumed atomic)
  };
  struct Cell {
    std::uint32_t generation = 0;
    Access write;
    Access reads[2];
  };
  struct Conflict {
    Access other;
    std::uintptr_t address = 0;  // host address of the cell's first byte of the conflict
  };

  // The clocks' storage passes from one execution's detector to the next on the thread (an explorer builds a
  // world per execution; growing the tables afresh each time was most of their cost).
  RaceDetector();
  ~RaceDetector();
  RaceDetector(const RaceDetector&) = delete;
  RaceDetector& operator=(const RaceDetector&) = delete;

  bool active() const { return active_; }
  // Happens-before edges from the engine.
  void sync(TaskId task, const void* object);     // release then acquire
  void release(TaskId task, const void* object);  // object ⊔= task, then the task's epoch advances
  void acquire(TaskId task, const void* object);  // task ⊔= object
  void spawn(TaskId parent, TaskId child);
  // A plain access by `task` (marked accesses are not recorded). Returns the first conflicting earlier access.
  std::optional<Conflict> access(TaskId task, std::uintptr_t address, std::size_t size, bool write, std::uintptr_t pc,
                                 Cell* cells, std::uintptr_t cells_base, std::uint32_t generation);

 private:
  // Inline room for the tasks of a scenario: an explorer builds a detector per execution, and allocating and
  // hashing clocks was a sixth of an R1 execution's cost.
  using Clock = boost::container::small_vector<std::uint32_t, 8>;
  // Task t's clock, made on first use with its own epoch at 1 (0 means "never heard of").
  Clock& clock(TaskId t) {
    if (t < clocks_.size()) {
      Clock& c = clocks_[t];
      if (t < c.size() && c[t] != 0) return c;
    }
    return new_clock(t);
  }
  Clock& new_clock(TaskId t);
  Clock& object_clock(const void* object);
  void activate();
  // Whether access `a` happens before task t's present, whose clock is `c`.
  static bool before(const Access& a, TaskId t, const Clock& c);

  bool active_ = false;
  std::vector<Clock> clocks_;  // by task id
  // Synchronisation objects' clocks: a few hundred per execution, looked up far more often than added.
  // INVARIANT: object_index_ maps each object to its clock's index in objects_; clocks are never removed.
  boost::container::flat_map<const void*, std::uint32_t> object_index_;
  std::vector<Clock> objects_;
  // Which detector this is, for the thread's cache of object_index_ (race.cpp): a number no other detector in the
  // process had.
  std::uint64_t id_;
  // The index of `object`'s clock, or none when it has none.
  std::optional<std::uint32_t> object_index(const void* object);
};

}  // namespace devsim::sim
