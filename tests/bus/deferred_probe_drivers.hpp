// The consumer and supplier drivers of the deferred-probe suites (test_deferred_probe.cpp in the simulator,
// test_stress_deferred_probe.cpp on real threads): the consumer's probe defers (-EPROBE_DEFER) until the supplier's
// probe has run, the usual reason a driver defers.
#pragma once

#include "bus/driver.hpp"
#include "bus/errno.hpp"
#include "sim/kmalloc.hpp"
#include "sim/machine.hpp"

namespace devsim::bus::test {

// What the supplier provides, in kernel memory so that exploration sees the two probes share it: set by the
// supplier's probe; the consumer's probe defers until it is set.
struct Supplier {
  bool ready = false;
};
// LIFETIME: made by make_supplier() before either driver is registered; left to the machine (not freed).
inline sim::KPtr<Supplier> g_supplier;

inline void make_supplier() {
  g_supplier = sim::kzalloc<Supplier>();
  sim::kmemleak_not_leak(g_supplier);  // the machine's, for the whole execution
}

inline DriverOps supplier_driver() {
  return DriverOps{"supplier",
                   "platform",
                   {},
                   [](CoreContext&) {
                     g_supplier.store_once(&Supplier::ready, true);
                     return 0;
                   },
                   {}};
}

// Reads what it needs, then does something that sleeps before it gives up (as a probe that takes a lock or waits
// for hardware does): the window in which the supplier's bind can come and go.
inline DriverOps consumer_driver() {
  return DriverOps{"consumer",
                   "platform",
                   {},
                   [](CoreContext&) {
                     const bool ready = g_supplier.load_once(&Supplier::ready);
                     sim::sleep_for(1000);
                     return ready ? 0 : -kEPROBE_DEFER;
                   },
                   {}};
}

}  // namespace devsim::bus::test
