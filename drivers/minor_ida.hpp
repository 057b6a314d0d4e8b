// A driver's node numbers (/dev/fooN), allocated as the kernel's ida does (lib/idr.c ida_alloc, ida_free): the
// lowest free number, per machine (sim::machine_state), so executions and native runs never share them.
#pragma once

#include <cstddef>
#include <vector>

#include "bus/host_lock.hpp"
#include "sim/machine.hpp"

namespace devsim::drivers {

// `Tag` keeps each driver's numbers apart (an incomplete struct named after the driver is enough).
// INVARIANT: `used_` is read and changed only under a HostGuard: natively two probes of one driver run at once on
// real threads, and the kernel's ida takes its own lock for the same reason (ida_alloc_range: xas_lock_irqsave). In
// the simulator the guard is empty and allocation is no scheduling point, as the kernel's is none a driver sees.
template <class Tag>
class MinorIda {
 public:
  static int alloc() {
    bus::HostGuard guard;
    std::vector<bool>& used = sim::machine_state<MinorIda>().used_;
    for (std::size_t i = 0; i < used.size(); ++i) {
      if (!used[i]) {
        used[i] = true;
        return static_cast<int>(i);
      }
    }
    used.push_back(true);
    return static_cast<int>(used.size() - 1);
  }
  static void release(int minor) {
    bus::HostGuard guard;
    sim::machine_state<MinorIda>().used_[static_cast<std::size_t>(minor)] = false;
  }

 private:
  std::vector<bool> used_;
};

}  // namespace devsim::drivers
