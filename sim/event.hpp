// The kinds of things a simulated execution does, as the scheduler, the detectors and the trace see them.
#pragma once

#include <cstdint>
#include <string_view>

namespace devsim::sim {

enum class EventKind : std::uint8_t {
  Yield,    // a plain scheduling point
  Spawn,    // a task was created
  Exit,     // a task finished
  Block,    // a task waits on a channel
  Wake,     // a task made others runnable
  Sleep,    // a task waits for virtual time
  Alloc,    // kmalloc
  Free,     // kfree
  Read,     // checked memory read
  Write,    // checked memory write
  Acquire,  // a lock, a reference or another held resource is taken (later layers)
  Release,  // … and given back
  Sync,     // another synchronisation operation (later layers: RCU, completions, refcounts)
};

std::string_view to_string(EventKind kind);

}  // namespace devsim::sim
