#include "bus/mmio.hpp"

#include <deque>
#include <memory>

#include "bus/devm.hpp"
#include "bus/host_lock.hpp"
#include "bus/kernel.hpp"
#include "sim/machine.hpp"
#include "sim/native_report.hpp"

namespace devsim::bus {

namespace {
// Regions and mappings belong to the machine, not to driver memory: a mapping outlives its iounmap (as the
// kernel's page tables outlive a stale pointer into them), so an access after unmap is a detectable event, not
// host UB. Per world; deques never move their elements.
struct MmioState {
  std::deque<MmioRegion> regions;
  std::deque<IoMem> mappings;
};
MmioState& state() {
  return sim::machine_state<MmioState>();
}

// A bad MMIO access: the simulator's report, or natively the native runtime's.
void report_io(std::string kind, std::string headline, const Site& site) {
  sim::World* w = sim::World::current();
  if (w == nullptr) return sim::native::report(kind, headline);
  sim::Report r;
  r.kind = std::move(kind);
  r.headline = std::move(headline);
  r.accessed_by = w->task_site(w->current_task(), site);
  w->report(std::move(r));
}
}  // namespace

bool IoMem::check(std::size_t offset, bool write, const Site& site) {
  sim::World* w = sim::World::current();
  if (w != nullptr) w->yield(write ? sim::EventKind::Write : sim::EventKind::Read, this, site);
  if (!mapped_) {
    report_io("io-after-unmap",
              "BUG: unable to handle page fault: MMIO " + std::string(write ? "write" : "read") + " at offset " +
                  std::to_string(offset) + " after iounmap() in " + sim::site_function(site),
              site);
    return false;
  }
  if (offset / 4 >= region_->regs_.size()) {
    report_io("io-out-of-bounds",
              "MMIO access at offset " + std::to_string(offset) + " beyond the register window in " +
                  sim::site_function(site),
              site);
    return false;
  }
  if (!region_->present_) {
    ++region_->after_removal_;
    if (w != nullptr) w->record(sim::EventKind::Sync, this, offset, site, "mmio access after removal");
    return false;
  }
  return true;
}

std::uint32_t IoMem::readl(std::size_t offset, const Site& site) {
  return check(offset, false, site) ? region_->regs_[offset / 4] : 0xffffffffu;
}

void IoMem::writel(std::uint32_t value, std::size_t offset, const Site& site) {
  if (check(offset, true, site)) region_->regs_[offset / 4] = value;
}

MmioRegion* attach_mmio(Device& dev, std::size_t registers) {
  MmioState& mmio = state();
  HostGuard guard;
  MmioRegion* r = &mmio.regions.emplace_back(registers);
  dev.set_mmio(r);
  return r;
}

IoMem* ioremap(Device& dev, const Site& site) {
  MmioRegion* region = dev.mmio();
  if (region == nullptr) return nullptr;
  if (sim::World* w = sim::World::current()) w->yield(sim::EventKind::Acquire, region, site);
  MmioState& mmio = state();
  HostGuard guard;
  IoMem* io = &mmio.mappings.emplace_back();
  io->region_ = region;
  io->mapped_ = true;
  return io;
}

void iounmap(IoMem* io, const Site& site) {
  if (io == nullptr) return;
  if (sim::World* w = sim::World::current()) w->yield(sim::EventKind::Release, io, site);
  io->mapped_ = false;
}

IoMem* devm_ioremap(const BoundContext& dev, const Site& site) {
  IoMem* io = ioremap(dev.device(), site);
  if (io == nullptr) return nullptr;
  if (devm_add_action_or_reset(
          dev, "devm_ioremap", [io] { iounmap(io); }, site) != 0)
    return nullptr;
  return io;
}

}  // namespace devsim::bus
