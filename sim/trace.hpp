// The timeline of one execution, as Chrome/Perfetto trace JSON.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/choice.hpp"
#include "sim/event.hpp"
#include "sim/site.hpp"

namespace devsim::sim {

// One recorded event. `seq` is the execution's logical clock (one tick per event), which is what the trace
// uses as its timestamp: virtual time stands still while tasks run, so it cannot order events.
struct TraceEvent {
  std::uint64_t seq = 0;
  TaskId task = kNoTask;
  EventKind kind = EventKind::Yield;
  Site site;
  std::uint64_t object = 0;  // simulated address, channel or resource id (0 if none)
  std::uint64_t arg = 0;     // size for alloc/access, virtual ns for sleep, woken count for wake
  std::string label;         // optional detail (type of an object, what a task waits for)
};

// Recording is off unless WorldOptions::trace is set: the explorer's hot loop pays nothing for it.
class Trace {
 public:
  void name_task(TaskId id, std::string name);
  void add(const TraceEvent& event) { events_.push_back(event); }
  // A slice for each stretch a task ran (from being switched in to switching out).
  void add_run(TaskId task, std::uint64_t begin_seq, std::uint64_t end_seq);
  const std::vector<TraceEvent>& events() const { return events_; }

  // {"traceEvents": [...]}: one tid per task (named), "X" slices for runs, "i" instants for events.
  // Deterministic: the same execution gives the same bytes.
  std::string to_json() const;

 private:
  struct Run {
    TaskId task;
    std::uint64_t begin, end;
  };
  std::vector<TraceEvent> events_;
  std::vector<Run> runs_;
  std::vector<std::pair<TaskId, std::string>> names_;
};

// FNV-1a 64 of a byte string: how tests compare traces and schedules compactly.
std::uint64_t fnv1a(std::string_view bytes);

}  // namespace devsim::sim
