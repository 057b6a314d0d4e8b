// The machine a layer's per-machine state belongs to: this thread's simulated world, or natively the process's
// native machine. One source of driver code keeps its tables (the driver core's buses, a module's globals, the
// USB root hub) in machine_state<T>() and runs unchanged in both runtimes.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "sim/world.hpp"

namespace devsim::sim {

// The per-machine state of code running on real OS threads (no simulated world): what World::extension is in the
// simulator. One machine is current for the whole process; begin_fresh() replaces it, so each native stress
// iteration starts from a kernel that has never seen a device, as each simulated execution does.
// INVARIANT: a state object is created at its first use and lives until its machine is retired: the process's
// end, or the next begin_fresh(), which destroys the machine it replaces. Nothing may use a retired machine's state:
// begin_fresh() requires that the threads of the last run were joined and that nothing of it is still queued
// (work, timers, interrupts).
// Thread-safe: state() may be called from any thread; begin_fresh() only while no thread uses the current machine.
class NativeMachine {
 public:
  template <class T>
  T& state() {
    const void* key = &kKey<T>;
    std::lock_guard lock(mutex_);
    for (Entry& e : entries_)
      if (e.key == key) return *static_cast<T*>(e.state.get());
    entries_.push_back(Entry{key, {new T(), [](void* p) { delete static_cast<T*>(p); }}});
    return *static_cast<T*>(entries_.back().state.get());
  }

  static NativeMachine& current();
  // Destroys the current machine's state and makes a new, empty machine current. Requires: no thread runs driver
  // code of the old machine and nothing of it is queued (INVARIANT above).
  static void begin_fresh();
  // How many machines the process has made current (1 until the first begin_fresh(), 0 before any native use).
  static std::size_t generation();

 private:
  struct Entry {
    const void* key;
    std::unique_ptr<void, void (*)(void*)> state;
  };
  template <class T>
  static inline const char kKey = 0;  // its address identifies T
  std::mutex mutex_;
  std::vector<Entry> entries_;
};

// The state of type T of the machine this thread runs on (created on first use; T default-constructible). In the
// simulator it is World::extension<T>() with that function's footprint rules (kFootprintExempt).
template <class T>
T& machine_state() {
  if (World* w = World::current()) return w->extension<T>();
  return NativeMachine::current().state<T>();
}

// Sleeps the calling task for `duration`: virtual time in the simulator (World::sleep_for), real time natively
// (the thread sleeps; timers and other threads go on meanwhile).
void sleep_for(Nanos duration, const Site& site = Site::current());

}  // namespace devsim::sim
