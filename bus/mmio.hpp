// A device's register window, and the mappings a driver reads and writes it through.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "bus/device.hpp"

namespace devsim::bus {

// The hardware side: 32-bit registers that exist while the device is physically present. After unplug, reads
// return all ones (as a surprise-removed PCI or USB device does) and writes are dropped; both are counted, so
// "hardware access after removal" is observable.
class MmioRegion {
 public:
  explicit MmioRegion(std::size_t registers) : regs_(registers, 0) {}
  std::size_t size() const { return regs_.size(); }
  bool present() const { return present_; }
  void unplug() { present_ = false; }
  std::uint64_t accesses_after_removal() const { return after_removal_; }
  // The hardware's view, for tests and device models.
  std::uint32_t& reg(std::size_t index) { return regs_.at(index); }

 private:
  friend class IoMem;
  std::vector<std::uint32_t> regs_;
  // Atomic: natively the unplug and the driver's accesses run on different threads (the hardware going away is
  // not ordered with the driver; that is the point of the model).
  std::atomic<bool> present_ = true;
  std::atomic<std::uint64_t> after_removal_ = 0;
};

// What ioremap() returns: the driver's mapping of a region.
// INVARIANT: accesses through a mapping are valid only between ioremap() and iounmap(); one after is reported
// as "io-after-unmap" (a kernel page fault on an unmapped address) and reads return all ones.
class IoMem {
 public:
  std::uint32_t readl(std::size_t offset, const Site& site = Site::current());
  void writel(std::uint32_t value, std::size_t offset, const Site& site = Site::current());
  bool mapped() const { return mapped_; }

 private:
  friend IoMem* ioremap(Device& dev, const Site& site);
  friend void iounmap(IoMem* io, const Site& site);
  bool check(std::size_t offset, bool write, const Site& site);
  MmioRegion* region_ = nullptr;
  std::atomic<bool> mapped_ = false;  // atomic: natively, an iounmap and an access may race
};

// Gives `dev` a register window of `registers` registers (what the bus does when the device appears).
MmioRegion* attach_mmio(Device& dev, std::size_t registers);
// ioremap()/iounmap(). Null if the device has no register window.
IoMem* ioremap(Device& dev, const Site& site = Site::current());
void iounmap(IoMem* io, const Site& site = Site::current());
// devm_ioremap(): unmapped at unbind.
IoMem* devm_ioremap(const BoundContext& dev, const Site& site = Site::current());

}  // namespace devsim::bus
