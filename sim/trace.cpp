#include "sim/trace.hpp"

#include <nlohmann/json.hpp>

namespace devsim::sim {

std::string_view to_string(EventKind kind) {
  switch (kind) {
    case EventKind::Yield:
      return "yield";
    case EventKind::Spawn:
      return "spawn";
    case EventKind::Exit:
      return "exit";
    case EventKind::Block:
      return "block";
    case EventKind::Wake:
      return "wake";
    case EventKind::Sleep:
      return "sleep";
    case EventKind::Alloc:
      return "kmalloc";
    case EventKind::Free:
      return "kfree";
    case EventKind::Read:
      return "read";
    case EventKind::Write:
      return "write";
    case EventKind::Acquire:
      return "acquire";
    case EventKind::Release:
      return "release";
    case EventKind::Sync:
      return "sync";
  }
  return "?";
}

void Trace::name_task(TaskId id, std::string name) {
  names_.emplace_back(id, std::move(name));
}

void Trace::add_run(TaskId task, std::uint64_t begin_seq, std::uint64_t end_seq) {
  runs_.push_back({task, begin_seq, end_seq});
}

std::string Trace::to_json() const {
  using nlohmann::json;
  json events = json::array();
  auto tid = [](TaskId t) -> std::uint64_t { return t == kNoTask ? 0 : std::uint64_t{t} + 1; };
  events.push_back({{"ph", "M"}, {"pid", 1}, {"tid", 0}, {"name", "thread_name"}, {"args", {{"name", "setup"}}}});
  for (const auto& [id, name] : names_) {
    events.push_back({{"ph", "M"},
                      {"pid", 1},
                      {"tid", tid(id)},
                      {"name", "thread_name"},
                      {"args", {{"name", name + "/" + std::to_string(id)}}}});
  }
  for (const Run& r : runs_) {
    events.push_back({{"ph", "X"},
                      {"pid", 1},
                      {"tid", tid(r.task)},
                      {"ts", r.begin},
                      {"dur", r.end - r.begin},
                      {"name", "run"},
                      {"cat", "sched"}});
  }
  for (const TraceEvent& e : events_) {
    json args = {{"site", describe(e.site)}};
    if (e.object != 0) {
      char buf[20];
      std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(e.object));
      args["object"] = buf;
    }
    if (e.arg != 0) args["arg"] = e.arg;
    if (!e.label.empty()) args["label"] = e.label;
    events.push_back({{"ph", "i"},
                      {"s", "t"},
                      {"pid", 1},
                      {"tid", tid(e.task)},
                      {"ts", e.seq},
                      {"name", std::string(to_string(e.kind))},
                      {"cat", "event"},
                      {"args", args}});
  }
  // "ts" is the logical clock (TraceEvent::seq), not time: the document says so instead of claiming a unit.
  // Viewers read it as microseconds, so one event is one "us" on their axis.
  json doc = {{"traceEvents", events},
              {"otherData",
               {{"ts_unit", "event sequence number (one tick per recorded event); not time"},
                {"virtual_time", "the sleep events' arg is virtual nanoseconds"}}}};
  return doc.dump();
}

std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace devsim::sim
