#include "bus/mmio.hpp"

#include <deque>
#include <memory>

#include "bus/devm.hpp"
#include "bus/kernel.hpp"

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
  return sim::World::current()->extension<MmioState>();
}
}  // namespace

bool IoMem::check(std::size_t offset, bool write, const Site& site) {
  sim::World& w = *sim::World::current();
  w.yield(write ? sim::EventKind::Write : sim::EventKind::Read, this, site);
  if (!mapped_) {
    sim::Report r;
    r.kind = "io-after-unmap";
    r.headline = "BUG: unable to handle page fault: MMIO " + std::string(write ? "write" : "read") + " at offset " +
                 std::to_string(offset) + " after iounmap() in " + sim::site_function(site);
    r.accessed_by = w.task_site(w.current_task(), site);
    w.report(std::move(r));
    return false;
  }
  if (offset / 4 >= region_->regs_.size()) {
    sim::Report r;
    r.kind = "io-out-of-bounds";
    r.headline = "MMIO access at offset " + std::to_string(offset) + " beyond the register window in " +
                 sim::site_function(site);
    r.accessed_by = w.task_site(w.current_task(), site);
    w.report(std::move(r));
    return false;
  }
  if (!region_->present_) {
    ++region_->after_removal_;
    w.record(sim::EventKind::Sync, this, offset, site, "mmio access after removal");
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
  MmioRegion* r = &state().regions.emplace_back(registers);
  dev.set_mmio(r);
  return r;
}

IoMem* ioremap(Device& dev, const Site& site) {
  MmioRegion* region = dev.mmio();
  if (region == nullptr) return nullptr;
  sim::World::current()->yield(sim::EventKind::Acquire, region, site);
  IoMem* io = &state().mappings.emplace_back();
  io->region_ = region;
  io->mapped_ = true;
  return io;
}

void iounmap(IoMem* io, const Site& site) {
  if (io == nullptr) return;
  sim::World::current()->yield(sim::EventKind::Release, io, site);
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
