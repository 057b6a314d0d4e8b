// R6: PL061 the Rust way (Wedson Almeida Filho, Kernel Summit 2021, seed 002): "1. State created on probe is
// ref-counted. 2. Hardware resources (device mem and irq in this case) are revocable. 3. On remove, we
// automatically revoke access to hardware resources, then free them." and "After revoking access, we need to ensure
// that existing concurrent users finish before we can free resources [...] synchronize_rcu between revoking &
// freeing".
//
// A PL061-like platform GPIO controller: its registers are mapped with devm_ioremap() and reached only through a
// Revocable; the state is an Arc shared by the driver data, every open file of /dev/gpiochipN and the IRQ handler
// (line 7). Readers use try_access(): an RCU read section for the guard's scope.
//
//   r06_pl061_buggy  remove() revokes with revoke_nosync(): the registers are gone at once, without waiting for a
//                    reader in flight (an ioctl between two register reads, the IRQ handler acknowledging):
//                    use-after-free of the revoked value.
//   r06_pl061_fixed  remove() revokes with revoke(): availability cleared, then a grace period waits for the readers
//                    in flight, then the value is destroyed. Afterwards try_access() is empty: the ioctl returns
//                    -ENODEV and the IRQ handler IRQ_NONE; the Arc frees the state when the last holder lets go.
#include <cstdint>
#include <string>

#include "bus/cdev.hpp"
#include "bus/devm.hpp"
#include "bus/errno.hpp"
#include "bus/irq.hpp"
#include "bus/kernel.hpp"
#include "bus/mmio.hpp"
#include "core/arc.hpp"
#include "core/revocable.hpp"
#include "drivers/registry.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::CoreContext;
using bus::File;
using bus::FileOperations;
using bus::IoMem;
using bus::IrqReturn;

constexpr unsigned kPl061Irq = 7;  // the controller's interrupt line
constexpr unsigned kGpioGetLineValue = 1;
constexpr int kPl061Lines = 8;
// Register offsets (the mock's window is 16 registers; the real PL061 spreads them wider).
constexpr std::size_t kGpioData = 0x00;
constexpr std::size_t kGpioMis = 0x18;  // masked interrupt status
constexpr std::size_t kGpioIc = 0x1c;   // interrupt clear

std::string pl061_node_name() {
  for (int n = 0;; ++n) {
    std::string name = "gpiochip" + std::to_string(n);
    if (bus::kernel().find_devnode(name) == nullptr) return name;
  }
}

// The hardware resources: what becomes unavailable at remove.
struct Pl061Resources {
  IoMem* base = nullptr;  // devm_ioremap'd: unmapped by devres after remove()
};

// struct PL061Data: created at probe, reference-counted (Arc).
struct Pl061Data {
  explicit Pl061Data(IoMem* base) : inner(Pl061Resources{base}) {}
  // Revocable is internally synchronised (Rust: revoke(&self)); an Arc hands out shared access only.
  mutable core::Revocable<Pl061Resources> inner;
};
using Pl061Arc = core::Arc<Pl061Data>;

// ---- shared by both variants: the readers ----------------------------------------------------------------------

long r06_pl061_ioctl(File& file, unsigned cmd, unsigned long offset) {
  if (cmd != kGpioGetLineValue) return -bus::kENOTTY;
  if (offset >= static_cast<unsigned long>(kPl061Lines)) return -bus::kEINVAL;
  // LIFETIME: the file holds an Arc on the state (taken at open, dropped at release).
  core::ArcBorrow<Pl061Data> data = Pl061Arc::borrow_foreign(file.private_raw());
  // LIFETIME: the registers are usable while the guard (an RCU read section) lives: revoke() waits for it.
  auto pl061 = data->inner.try_access();
  if (!pl061) return -bus::kENODEV;  // revoked: the device is gone
  // pl061_get_value(). A surprise-removed controller reads all ones until remove() revoked the mapping.
  return (pl061->base->readl(kGpioData) & (1u << offset)) != 0 ? 1 : 0;
}

IrqReturn r06_pl061_irq_handler(unsigned, void* dev_id) {
  // LIFETIME: the handler's own Arc (see probe), dropped only after free_irq() returned.
  core::ArcBorrow<Pl061Data> data = Pl061Arc::borrow_foreign(dev_id);
  auto pl061 = data->inner.try_access();
  if (!pl061) return IrqReturn::None;  // revoked: not ours any more
  std::uint32_t pending = pl061->base->readl(kGpioMis);
  pl061->base->writel(pending, kGpioIc);  // acknowledge
  return IrqReturn::Handled;
}

int r06_pl061_open(Cdev& cdev, File& file) {
  // LIFETIME: the cdev holds an Arc until its release; the file takes its own.
  core::ArcBorrow<Pl061Data> data = Pl061Arc::borrow_foreign(cdev.owner_data());
  file.set_private_raw(std::move(data.to_arc()).into_foreign());
  return 0;
}

int r06_pl061_release(Cdev&, File& file) {
  Pl061Arc::from_foreign(file.private_raw()).drop();  // the file's Arc: maybe the last
  return 0;
}

const FileOperations kPl061Fops{r06_pl061_open, nullptr, nullptr, r06_pl061_ioctl, nullptr, nullptr, r06_pl061_release};

// ---- probe (shared) and the two removes ------------------------------------------------------------------------

int r06_pl061_probe(CoreContext& ctx) {
  // Released by devres after remove(), in reverse: free_irq, the handler's Arc, then the unmap.
  IoMem* base = bus::devm_ioremap(ctx);
  if (base == nullptr) return -bus::kENOMEM;
  Pl061Arc data = Pl061Arc::emplace(sim::Site::current(), base);
  // Revoked by devres as well, before the unmap registered above (LIFO): a probe that fails after the node became
  // visible never runs remove(), and an open file must not keep a mapping devres is about to undo. (The fuzzer
  // found that path: fail-nth on the cdev's devres entry, an open in between, an ioctl after the failed probe.)
  int ret = bus::devm_add_action_or_reset(ctx, "pl061 revoke", [arc = data.clone()]() mutable {
    arc->inner.revoke();
    arc.drop();
  });
  if (ret != 0) return ret;

  // The IRQ handler's reference: handed to the line as its cookie, dropped after free_irq.
  void* irq_data = data.clone().into_foreign();
  ret = bus::devm_add_action_or_reset(ctx, "pl061 irq data", [irq_data] { Pl061Arc::from_foreign(irq_data); });
  if (ret != 0) return ret;
  ret = bus::devm_request_irq(ctx, kPl061Irq, r06_pl061_irq_handler, "pl061", irq_data);
  if (ret != 0) return ret;

  // The chardev's reference, dropped by the cdev's release (after the last file of it is closed).
  Cdev* cdev = bus::cdev_alloc(&kPl061Fops);
  cdev->owner = data.clone().into_foreign();
  void* cdev_data = cdev->owner;
  cdev->on_release = [cdev_data] { Pl061Arc::from_foreign(cdev_data); };
  ret = bus::cdev_add(*cdev, pl061_node_name(), &ctx.device());
  if (ret != 0) {
    bus::cdev_del(*cdev);
    return ret;
  }
  ret = bus::devm_add_action_or_reset(ctx, "pl061 cdev", [cdev] { bus::cdev_del(*cdev); });
  if (ret != 0) return ret;

  // The driver's reference: dropped by the driver core right after remove().
  ctx->set_drvdata_owned(std::move(data));
  return 0;
}

void r06_buggy_remove(CoreContext& ctx) {
  auto data = ctx->drvdata_borrow<Pl061Arc>();  // LIFETIME: the driver's Arc, alive during remove()
  // BUG: no grace period. A reader that passed try_access() still holds a guard; its next register access uses
  // the destroyed resources.
  data->inner.revoke_nosync();
}

void r06_fixed_remove(CoreContext& ctx) {
  auto data = ctx->drvdata_borrow<Pl061Arc>();  // LIFETIME: the driver's Arc, alive during remove()
  // Unavailable from now on; waits for the readers in flight (synchronize_rcu), then destroys the resources.
  data->inner.revoke();
}

DriverInfo r06_info(bool buggy) {
  DriverInfo info;
  info.name = buggy ? "r06_pl061_buggy" : "r06_pl061_fixed";
  info.bus = "platform";
  info.summary = buggy ? "R6 buggy: PL061 with Arc state and revocable MMIO/IRQ, revoked with revoke_nosync: UAF"
                       : "R6 fixed: PL061 with Arc state and revocable MMIO/IRQ; revoke waits for readers: -ENODEV";
  info.race = "R6";
  info.buggy = buggy;
  if (buggy) info.bug_kind = "use-after-free";
  info.node = "gpiochip0";
  info.ioctls = {{"GET_LINE_VALUE", kGpioGetLineValue, kPl061Lines - 1}};
  info.ops = [buggy] {
    bus::DriverOps ops;
    ops.bus = "platform";
    ops.probe = r06_pl061_probe;
    ops.remove = buggy ? r06_buggy_remove : r06_fixed_remove;
    return ops;
  };
  return info;
}

DriverInfo r06_pl061_buggy_info() {
  return r06_info(true);
}
DriverInfo r06_pl061_fixed_info() {
  return r06_info(false);
}

}  // namespace

DEVSIM_REGISTER_DRIVER(r06_pl061_buggy_info);
DEVSIM_REGISTER_DRIVER(r06_pl061_fixed_info);

}  // namespace devsim::drivers
