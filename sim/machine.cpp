#include "sim/machine.hpp"

#include <atomic>
#include <chrono>
#include <thread>

namespace devsim::sim {

namespace {
struct Machines {
  std::mutex mutex;
  std::unique_ptr<NativeMachine> owned;  // the current machine
  std::atomic<NativeMachine*> current{nullptr};
  std::size_t generation = 0;
};
Machines& machines() {
  // LIFETIME: never destroyed, so a static destructor of another layer (the native runtime's executors, stopped at
  // exit) still finds the machine its last work item belongs to.
  static Machines* m = new Machines;
  return *m;
}
}  // namespace

NativeMachine& NativeMachine::current() {
  Machines& m = machines();
  if (NativeMachine* now = m.current.load(std::memory_order_acquire)) return *now;
  std::lock_guard lock(m.mutex);
  if (m.current.load(std::memory_order_relaxed) == nullptr) {
    m.owned = std::make_unique<NativeMachine>();
    ++m.generation;
    m.current.store(m.owned.get(), std::memory_order_release);
  }
  return *m.current.load(std::memory_order_relaxed);
}

void NativeMachine::begin_fresh() {
  Machines& m = machines();
  std::lock_guard lock(m.mutex);
  auto fresh = std::make_unique<NativeMachine>();
  m.current.store(fresh.get(), std::memory_order_release);
  ++m.generation;
  // LIFETIME: the old machine's state goes now; begin_fresh()'s caller guarantees that nothing uses it.
  m.owned = std::move(fresh);
}

std::size_t NativeMachine::generation() {
  Machines& m = machines();
  std::lock_guard lock(m.mutex);
  return m.generation;
}

void sleep_for(Nanos duration, const Site& site) {
  if (World* w = World::current()) return w->sleep_for(duration, site);
  std::this_thread::sleep_for(std::chrono::nanoseconds(duration));
}

}  // namespace devsim::sim
