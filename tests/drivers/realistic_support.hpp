// Helpers shared by the realistic drivers' suites (pl061_gpio, virtio_blk, mfd_multi): finding a driver and its
// ioctls by name, per-execution checks at the end of a model, and the simulated memory seen by type.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/registry.hpp"
#include "sim/explorer.hpp"
#include "sim/report.hpp"
#include "sim/world.hpp"
#include "tests/bus/bus_test_support.hpp"

namespace devsim::drivers::test {

using bus::test::expect;

inline const DriverInfo& driver(std::string_view name) {
  const DriverInfo* info = find_driver(name);
  if (info == nullptr) throw std::logic_error("driver not registered: " + std::string(name));
  return *info;
}

// The number behind an ioctl name, as the scenario language and the fuzzer resolve it.
inline unsigned ioctl_cmd(std::string_view driver_name, std::string_view ioctl) {
  for (const IoctlSpec& spec : driver(driver_name).ioctls)
    if (spec.name == ioctl) return spec.cmd;
  throw std::logic_error("no ioctl " + std::string(ioctl) + " in " + std::string(driver_name));
}

// Exhaustive search with a small preemption bound; stops at nothing, so every failing schedule is counted.
// Sleep sets (partial-order reduction) skip schedules that only reorder independent steps.
inline sim::ExploreOptions exhaustive(int preemptions, bool sleep_sets = true) {
  sim::ExploreOptions o = bus::test::exhaustive(preemptions);
  o.strategy.sleep_sets = sleep_sets;
  return o;
}

// The first failure of a search, as text, for BOOST_TEST messages.
inline std::string first_failure(const sim::ExploreResult& r) {
  return r.failures.empty() ? std::string() : sim::render_text(r.failures[0].report);
}

// The simulated allocations whose C++ type's name ends with `suffix` ("::Pl061"), in allocation order.
inline std::vector<const sim::Allocation*> allocations_of(std::string_view suffix) {
  std::vector<const sim::Allocation*> found;
  sim::KernelMemory& mem = sim::world().memory();
  for (sim::AllocId id = 1; id <= mem.allocations(); ++id) {
    const sim::Allocation& a = mem.record(id);
    if (sim::KernelMemory::type_name(a).ends_with(suffix)) found.push_back(&a);
  }
  return found;
}

// Counts the model's tasks down: the last one to finish runs the end-of-execution checks, so exhaustive
// search checks them in every schedule. Reset by each execution's model function.
struct Finish {
  int running = 0;
  void start(int tasks) { running = tasks; }
  template <class Check>
  void done(Check&& check) {
    if (--running == 0) check();
  }
};

}  // namespace devsim::drivers::test
