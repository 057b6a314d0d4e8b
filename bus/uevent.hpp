// uevents: the kernel's announcements of devices coming, going, binding and unbinding.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sim/site.hpp"

namespace devsim::bus {

using sim::Site;

struct Uevent {
  std::uint64_t seqnum = 0;  // 1, 2, 3… in emission order
  std::string action;        // "add", "remove", "bind", "unbind"
  std::string devpath;       // "/devices/platform/gpio0"
  std::string subsystem;     // the bus
  std::string driver;        // for bind/unbind
};

// The uevent stream of one world, kept whole, in order; observers (a udev-like task) wait for events.
// INVARIANT: seqnums are dense and increasing; events are never dropped.
// Natively emit() and wait() hold the driver model's HostGuard (wait()'s predicate runs under it); events() only
// while no thread emits.
class UeventLog {
 public:
  void emit(Uevent event, const Site& site = Site::current());
  const std::vector<Uevent>& events() const { return events_; }
  std::uint64_t last_seqnum() const { return events_.empty() ? 0 : events_.back().seqnum; }
  // Blocks the calling task until an event after `after_seqnum` satisfies `pred`; returns it. A scheduling
  // point. (If none ever comes, the deadlock detector reports the waiter.)
  Uevent wait(std::uint64_t after_seqnum, const std::function<bool(const Uevent&)>& pred,
              const Site& site = Site::current());

 private:
  std::vector<Uevent> events_;
};

}  // namespace devsim::bus
