// R7: insert and remove a USB device "a few zillion times" (Greg KH, Kernel Summit 2021, seed 002). The proposal he
// answered: let drivers allocate per-device memory with *module* lifetime, "safe in the knowledge it will be freed on
// module release". His answer: "Modules are never removed in a normal system. devices are." — devices come and go
// while the driver stays loaded, so every plug leaks what the module only frees at rmmod.
//
// A USB network-like adapter that allocates an RX ring per device.
//
//   r07_replug_leak_buggy  the ring comes from a module-managed allocator (freed at module unload, which never comes
//                          while devices are hotplugged): every plug/unplug cycle leaves one ring behind, and the
//                          kmemleak report grows with the number of cycles.
//   r07_replug_leak_fixed  the ring comes from devm_kzalloc(): it belongs to the binding and is freed at unbind.
//                          No leak, however many cycles.
#include <cstdint>
#include <vector>

#include "bus/devm.hpp"
#include "bus/errno.hpp"
#include "core/mutex.hpp"
#include "drivers/registry.hpp"
#include "sim/machine.hpp"

namespace devsim::drivers {
namespace {

using bus::CoreContext;

constexpr int kRxRingEntries = 32;

struct RxRing {
  std::uint32_t entries[kRxRingEntries] = {};
  int head = 0;
};

struct NetAdapter {
  sim::KPtr<RxRing> rx;
  int mtu = 0;
};

// ---- the proposal: module-lifetime allocations ----------------------------------------------------------------

// What a module would keep in static data: the allocations it promises to free in its module_exit(). Per world
// here (each execution is its own machine).
struct R07Module {
  core::Mutex lock{"r07_module_lock"};
  std::vector<sim::KPtr<RxRing>> allocations;  // freed at module unload: never, while devices come and go
};

R07Module& r07_module() {
  return sim::machine_state<R07Module>();
}

// modm_kzalloc(): the allocator the proposal asked for. LIFETIME: the object lives until the module is unloaded,
// not until the device goes: per device, that is a leak per hotplug cycle.
sim::KPtr<RxRing> r07_modm_kzalloc_ring(const sim::Site& site = sim::Site::current()) {
  sim::KPtr<RxRing> ring = sim::kzalloc<RxRing>(site);
  if (!ring) return ring;
  R07Module& module = r07_module();
  core::MutexGuard guard = module.lock.guard();
  module.allocations.push_back(ring);
  return ring;
}

// ---- the driver ------------------------------------------------------------------------------------------------

int r07_probe(CoreContext& ctx, bool module_lifetime) {
  // LIFETIME: the adapter state belongs to the binding.
  sim::KPtr<NetAdapter> adapter = bus::devm_kzalloc<NetAdapter>(ctx);
  if (!adapter) return -bus::kENOMEM;
  // BUG (buggy): module lifetime for per-device memory: the device will be unplugged long before the module goes.
  // (fixed): device lifetime: freed when the driver unbinds from this device.
  sim::KPtr<RxRing> rx = module_lifetime ? r07_modm_kzalloc_ring() : bus::devm_kzalloc<RxRing>(ctx);
  if (!rx) return -bus::kENOMEM;
  adapter.store(&NetAdapter::rx, rx);
  adapter.store(&NetAdapter::mtu, 1500);
  ctx->set_drvdata(adapter.unchecked());
  return 0;
}

int r07_buggy_probe(CoreContext& ctx) {
  return r07_probe(ctx, true);
}
int r07_fixed_probe(CoreContext& ctx) {
  return r07_probe(ctx, false);
}

DriverInfo r07_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r07_replug_leak_buggy" : "r07_replug_leak_fixed";
  info.bus = "usb";
  info.summary = buggy ? "R7 buggy: per-device RX ring with module lifetime: one leak per plug/unplug cycle"
                       : "R7 fixed: per-device RX ring from devm_kzalloc: freed at every unplug, no leak";
  info.race = "R7";
  info.buggy = buggy;
  if (buggy) info.bug_kind = "memory-leak";
  info.ops = [buggy] {
    bus::DriverOps ops;
    ops.bus = "usb";
    ops.probe = buggy ? r07_buggy_probe : r07_fixed_probe;
    return ops;  // no remove(): devres undoes the binding (and, in the buggy variant, forgets the ring)
  };
  return info;
}

DriverInfo r07_replug_leak_buggy_info() {
  return r07_info(true);
}
DriverInfo r07_replug_leak_fixed_info() {
  return r07_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r07_replug_leak_buggy_info);
DEVSIM_REGISTER_DRIVER(r07_replug_leak_fixed_info);

}  // namespace devsim::drivers
