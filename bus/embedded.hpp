// Embedded: a kernel object that lives inside another simulated allocation and checks its own accesses.
#pragma once

#include "sim/kmalloc.hpp"
#include "sim/world.hpp"

namespace devsim::bus {

using sim::Site;

// Kernel structures are embedded in driver data (struct cdev, struct work_struct, struct timer_list inside a
// devm_kzalloc'd private structure). When the driver frees that structure while the kernel still uses the
// embedded object, the kernel's own access is the use-after-free KASAN reports (in fput, in
// process_one_work). An Embedded finds, once, the simulated allocation it sits in, and every kernel-side access
// to it is then a checked access: the report names the kernel site, "Freed by" names the driver's free.
//
// INVARIANT: alloc_ is the allocation that contained this object when attach() ran (0: not in simulated
// memory — a host object, never checked). Simulated storage never moves or gets reused within an execution,
// so the id stays right for the object's whole life.
class Embedded {
 public:
  // Records the containing allocation. Call from the object's init function (cdev_init, INIT_WORK).
  void attach(const void* self) {
    sim::World* w = sim::World::current();
    alloc_ = w != nullptr ? w->memory().find(self) : 0;
  }
  // A checked access of `size` bytes at `field` by kernel code at `site`. False when it was reported.
  bool touch(const void* field, std::size_t size, bool write, const Site& site) const {
    if (alloc_ == 0) return true;
    sim::World* w = sim::World::current();
    return w == nullptr || w->memory().check(alloc_, field, size, write, site);
  }
  sim::AllocId allocation() const { return alloc_; }

 private:
  sim::AllocId alloc_ = 0;
};

}  // namespace devsim::bus
