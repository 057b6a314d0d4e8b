// R8: error paths in probe (Roland Dreier, Kernel Summit 2021, seed 002): "Drivers often have a lot of code like
// `if (something_else()) goto undo_something;` [...] which is difficult to get right in the first place and even
// harder to keep correct in the face of changes. That leads to a lot of bugs in error paths, which maybe affect no
// one until they become exploitable security bugs".
//
// A USB device whose probe allocates its state, two transfer buffers, a control block and a status ring (a header
// and its slots, in a helper).
//
//   r08_probe_errors_buggy  hand-written goto unwinding, the way such code drifts: the control block was added
//                           later with the old label (if it fails, the TX buffer leaks), and the ring helper frees
//                           its header on failure but leaves the pointer behind, which the caller's unwinding frees
//                           again (double free). The success path and remove() are fine: nobody notices until
//                           the Nth allocation fails (fail-nth).
//   r08_probe_errors_fixed  every resource is devres-managed: there is no unwinding code, and whichever allocation
//                           fails, devres releases what was taken, last in first out.
#include <cstdint>

#include "bus/devm.hpp"
#include "bus/errno.hpp"
#include "drivers/registry.hpp"

namespace devsim::drivers {
namespace {

using bus::CoreContext;

struct UrbBuffer {
  std::uint8_t data[64] = {};
};
struct CtrlBlock {
  std::uint32_t setup[2] = {};
};
struct RingSlots {
  std::uint32_t slot[16] = {};
};
struct StatusRing {
  sim::KPtr<RingSlots> slots;
  int head = 0;
};
struct R08Dev {
  sim::KPtr<UrbBuffer> rx;
  sim::KPtr<UrbBuffer> tx;
  sim::KPtr<CtrlBlock> ctrl;
  sim::KPtr<StatusRing> ring;
};

template <class T>
sim::KPtr<T> r08_get_drvdata(bus::Device& dev) {
  auto* p = static_cast<T*>(dev.drvdata());
  return sim::KPtr<T>(p);
}

// ==== the buggy driver: goto unwinding =========================================================================

// Allocates the status ring. On failure it cleans up after itself...
int r08_alloc_ring(sim::KPtr<R08Dev> dev) {
  sim::KPtr<StatusRing> ring = sim::kzalloc<StatusRing>();
  if (!ring) return -bus::kENOMEM;
  dev.store(&R08Dev::ring, ring);
  sim::KPtr<RingSlots> slots = sim::kzalloc<RingSlots>();
  if (!slots) {
    sim::kfree(ring);  // ...but leaves dev->ring pointing at the freed header
    return -bus::kENOMEM;
  }
  ring.store(&StatusRing::slots, slots);
  return 0;
}

int r08_buggy_probe(CoreContext& ctx) {
  sim::KPtr<R08Dev> dev;
  sim::KPtr<UrbBuffer> rx;
  sim::KPtr<UrbBuffer> tx;
  sim::KPtr<CtrlBlock> ctrl;
  int ret = -bus::kENOMEM;

  dev = sim::kzalloc<R08Dev>();
  if (!dev) return -bus::kENOMEM;
  rx = sim::kzalloc<UrbBuffer>();
  if (!rx) goto err_free_dev;
  dev.store(&R08Dev::rx, rx);
  tx = sim::kzalloc<UrbBuffer>();
  if (!tx) goto err_free_rx;
  dev.store(&R08Dev::tx, tx);
  ctrl = sim::kzalloc<CtrlBlock>();
  if (!ctrl) goto err_free_rx;  // BUG: should be err_free_tx (the label predates tx): the TX buffer leaks
  dev.store(&R08Dev::ctrl, ctrl);
  ret = r08_alloc_ring(dev);
  if (ret != 0) goto err_free_ring;  // BUG: the helper already freed the ring it set: freed twice below
  ctx->set_drvdata(dev.unchecked());
  return 0;

err_free_ring:
  sim::kfree(dev.load(&R08Dev::ring));  // BUG: double free when the ring's slots could not be allocated
  sim::kfree(dev.load(&R08Dev::ctrl));
  sim::kfree(dev.load(&R08Dev::tx));
err_free_rx:
  sim::kfree(dev.load(&R08Dev::rx));
err_free_dev:
  sim::kfree(dev);
  return ret;
}

void r08_buggy_remove(CoreContext& ctx) {
  sim::KPtr<R08Dev> dev = r08_get_drvdata<R08Dev>(ctx.device());
  sim::KPtr<StatusRing> ring = dev.load(&R08Dev::ring);
  sim::kfree(ring.load(&StatusRing::slots));
  sim::kfree(ring);
  sim::kfree(dev.load(&R08Dev::ctrl));
  sim::kfree(dev.load(&R08Dev::tx));
  sim::kfree(dev.load(&R08Dev::rx));
  sim::kfree(dev);
}

// ==== the fixed driver: devres unwinds ===========================================================================

int r08_devm_alloc_ring(CoreContext& ctx, sim::KPtr<R08Dev> dev) {
  sim::KPtr<StatusRing> ring = bus::devm_kzalloc<StatusRing>(ctx);
  if (!ring) return -bus::kENOMEM;
  sim::KPtr<RingSlots> slots = bus::devm_kzalloc<RingSlots>(ctx);
  if (!slots) return -bus::kENOMEM;  // the header is released by devres with everything else
  ring.store(&StatusRing::slots, slots);
  dev.store(&R08Dev::ring, ring);
  return 0;
}

int r08_fixed_probe(CoreContext& ctx) {
  // LIFETIME: every allocation belongs to the binding: released LIFO when probe fails at any point, or at unbind.
  sim::KPtr<R08Dev> dev = bus::devm_kzalloc<R08Dev>(ctx);
  if (!dev) return -bus::kENOMEM;
  sim::KPtr<UrbBuffer> rx = bus::devm_kzalloc<UrbBuffer>(ctx);
  if (!rx) return -bus::kENOMEM;
  dev.store(&R08Dev::rx, rx);
  sim::KPtr<UrbBuffer> tx = bus::devm_kzalloc<UrbBuffer>(ctx);
  if (!tx) return -bus::kENOMEM;
  dev.store(&R08Dev::tx, tx);
  sim::KPtr<CtrlBlock> ctrl = bus::devm_kzalloc<CtrlBlock>(ctx);
  if (!ctrl) return -bus::kENOMEM;
  dev.store(&R08Dev::ctrl, ctrl);
  int ret = r08_devm_alloc_ring(ctx, dev);
  if (ret != 0) return ret;
  ctx->set_drvdata(dev.unchecked());
  return 0;
}

DriverInfo r08_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r08_probe_errors_buggy" : "r08_probe_errors_fixed";
  info.bus = "usb";
  info.summary = buggy ? "R8 buggy: goto-unwind in probe: leak (4th allocation fails) or double free (6th)"
                       : "R8 fixed: devm-managed probe: every failure point unwinds LIFO, no leak, no double free";
  info.race = "R8";
  info.buggy = buggy;
  if (buggy) info.bug_kind = "double-free";
  info.ops = [buggy] {
    bus::DriverOps ops;
    ops.bus = "usb";
    ops.probe = buggy ? r08_buggy_probe : r08_fixed_probe;
    if (buggy) ops.remove = r08_buggy_remove;  // the fixed one needs none: devres frees everything at unbind
    return ops;
  };
  return info;
}

DriverInfo r08_probe_errors_buggy_info() {
  return r08_info(true);
}
DriverInfo r08_probe_errors_fixed_info() {
  return r08_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r08_probe_errors_buggy_info);
DEVSIM_REGISTER_DRIVER(r08_probe_errors_fixed_info);

}  // namespace devsim::drivers
