#include "bus/uevent.hpp"

#include "sim/world.hpp"

namespace devsim::bus {

void UeventLog::emit(Uevent event, const Site& site) {
  event.seqnum = last_seqnum() + 1;
  events_.push_back(std::move(event));
  if (sim::World* w = sim::World::current()) {
    w->record(sim::EventKind::Sync, this, events_.back().seqnum, site, events_.back().action);
    w->wake_all(this, site);
  }
}

Uevent UeventLog::wait(std::uint64_t after_seqnum, const std::function<bool(const Uevent&)>& pred, const Site& site) {
  sim::World& w = *sim::World::current();
  std::size_t next = after_seqnum;  // seqnum n is events_[n - 1]
  for (;;) {
    for (; next < events_.size(); ++next)
      if (pred(events_[next])) return events_[next];
    w.block(this, "a uevent", site);
  }
}

}  // namespace devsim::bus
