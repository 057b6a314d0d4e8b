// Small engine-level models of the project's central race, used by `devsim demo`, the tests and the
// benchmarks. They use only sim/ (no driver model): a task reading driver data through an open file while
// another frees it on unplug.
#pragma once

#include "sim/world.hpp"

namespace devsim::sim::demo {

// The driver data an open file points at.
struct DriverData {
  int value = 42;
  int refs = 1;  // used only by the fixed variant
};

// "app" reads the data (an ioctl on the open file); "hub" unplugs the device.
// buggy: unplug frees the data (devm-style: freed at unbind) while the file still points at it.
// fixed: the file holds a reference; whoever drops the last one frees the data.
void unplug_while_open(World& world, bool fixed);

}  // namespace devsim::sim::demo
