// Which runtime a core/ primitive is running in: the simulator or real OS threads.
#pragma once

#include "sim/world.hpp"

namespace devsim::core {

using sim::Site;

// The simulated world of this thread, or null when running natively.
//
// This is the whole dispatch mechanism between the two runtimes: every core/ operation asks it once. In a
// static library the thread-local is reached with a single %fs-relative load, so the native fast path pays a
// load and a well-predicted branch for the simulator's hooks (bench/ measures it).
inline sim::World* sim_world() {
  return sim::World::current();
}

}  // namespace devsim::core
