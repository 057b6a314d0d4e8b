#include "bus/uevent.hpp"

#include "bus/host_lock.hpp"
#include "sim/world.hpp"

namespace devsim::bus {

void UeventLog::emit(Uevent event, const Site& site) {
  HostGuard guard;
  event.seqnum = last_seqnum() + 1;
  events_.push_back(std::move(event));
  if (sim::World* w = sim::World::current()) {
    w->record(sim::EventKind::Sync, this, events_.back().seqnum, site, events_.back().action);
    w->wake_all(this, site);
  } else {
    HostGuard::notify_all();
  }
}

Uevent UeventLog::wait(std::uint64_t after_seqnum, const std::function<bool(const Uevent&)>& pred, const Site& site) {
  HostGuard guard;
  std::size_t next = after_seqnum;  // seqnum n is events_[n - 1]
  const auto found = [&] {
    for (; next < events_.size(); ++next)
      if (pred(events_[next])) return true;
    return false;
  };
  sim::World* w = sim::World::current();
  while (!found()) {
    if (w != nullptr)
      w->block(this, "a uevent", site);
    else
      guard.wait(found);
  }
  return events_[next];
}

}  // namespace devsim::bus
