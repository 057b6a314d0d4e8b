#include "sim/report.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace devsim::sim {

namespace {
std::string hex(std::uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The slab cache KASAN would name for an object of `size` bytes.
std::string kmalloc_cache(std::uint32_t size) {
  std::uint32_t cache = 8;
  while (cache < size) {
    if (cache == 64 && size <= 96) return "kmalloc-96";
    if (cache == 128 && size <= 192) return "kmalloc-192";
    cache *= 2;
  }
  return "kmalloc-" + std::to_string(cache);
}

// The site, then the call stack, innermost first, one frame a line after `indent`. The site is the precise
// place of the operation; it is printed on its own only when no frame of the stack is that place already (the
// stack drops engine frames, so a site inside sim/ or an operation whose site was passed down is not in it).
void append_stack(std::string& out, const TaskSite& ts, const char* indent = " ") {
  std::vector<StackFrame> frames = symbolize(ts.stack);
  bool site_in_stack = false;
  if (ts.site) {
    const std::string location = site_location(*ts.site);
    for (const StackFrame& f : frames)
      site_in_stack = site_in_stack || f.location == location;
  }
  // An access the instrumentation saw has no source site: its stack alone says where it was.
  if (!site_in_stack && (ts.site || frames.empty()))
    out += indent + (ts.site ? describe(*ts.site) : std::string("(no site)")) + "\n";
  for (const StackFrame& f : frames)
    out += indent + f.function + " (" + f.location + ")\n";
}

void append_task_site(std::string& out, const std::string& what, const TaskSite& ts) {
  out += what;
  out += " by task " + ts.task + " at step " + std::to_string(ts.step) + ":\n";
  append_stack(out, ts);
}

nlohmann::json site_json(const std::optional<Site>& site) {
  if (!site) return nullptr;
  return {{"function", site_function(*site)}, {"location", site_location(*site)}};
}

nlohmann::json task_site_json(const TaskSite& ts) {
  nlohmann::json stack = nlohmann::json::array();
  for (const StackFrame& f : symbolize(ts.stack))
    stack.push_back({{"function", f.function}, {"location", f.location}, {"inlined", f.inlined}});
  return {{"task", ts.task}, {"step", ts.step}, {"site", site_json(ts.site)}, {"stack", std::move(stack)}};
}

nlohmann::json task_site_json(const std::optional<TaskSite>& ts) {
  if (!ts) return nullptr;
  return task_site_json(*ts);
}
}  // namespace

// A task site without a source site is an access the compiler instrumentation saw: its place is the innermost
// kept frame of its stack.
std::string site_function(const TaskSite& ts) {
  if (ts.site) return site_function(*ts.site);
  std::vector<StackFrame> frames = symbolize(ts.stack);
  return frames.empty() ? std::string() : frames.front().function;
}
std::string site_location(const TaskSite& ts) {
  if (ts.site) return site_location(*ts.site);
  std::vector<StackFrame> frames = symbolize(ts.stack);
  return frames.empty() ? std::string() : frames.front().location;
}
std::string describe(const TaskSite& ts) {
  if (ts.site) return describe(*ts.site);
  std::vector<StackFrame> frames = symbolize(ts.stack);
  return frames.empty() ? std::string("(no site)") : frames.front().function + " (" + frames.front().location + ")";
}

std::string Report::signature() const {
  std::string sig = kind;
  sig += '|';
  if (accessed_by) sig += site_location(*accessed_by);
  sig += '|';
  if (freed_by) sig += site_location(*freed_by);
  if (racing_by) {
    // One race, whichever of its two accesses came first.
    std::string a = accessed_by ? site_location(*accessed_by) : std::string(), b = site_location(*racing_by);
    sig = kind + '|' + std::min(a, b) + '|' + std::max(a, b);
  }
  return sig;
}

std::string render_text(const Report& r) {
  static const std::string kRule(66, '=');
  std::string out = kRule + "\n";
  if (r.kind == bug::kLeak && r.access) {
    // kmemleak's format.
    const MemoryAccess& a = *r.access;
    out += "unreferenced object 0x" + hex(a.object) + " (size " + std::to_string(a.object_size) + "):\n";
    if (r.allocated_by) {
      out += "  comm \"" + r.allocated_by->task + "\", step " + std::to_string(r.allocated_by->step) + "\n";
    }
    if (!a.type.empty()) out += "  type " + a.type + "\n";
    out += "  backtrace:\n";
    if (r.allocated_by) append_stack(out, *r.allocated_by, "    ");
  } else {
    bool memory = r.access.has_value();
    out += std::string("BUG: ") + (r.kind == bug::kDataRace ? "KCSAN: " : memory ? "KASAN: " : "") + r.headline + "\n";
    if (memory && r.accessed_by) {
      const MemoryAccess& a = *r.access;
      out += std::string(a.write ? "Write" : "Read") + " of size " + std::to_string(a.size) + " at addr " +
             hex(a.address) + " by task " + r.accessed_by->task + " at step " + std::to_string(r.accessed_by->step) +
             ":\n";
      append_stack(out, *r.accessed_by);
    } else if (r.accessed_by) {
      out += "task " + r.accessed_by->task + " at step " + std::to_string(r.accessed_by->step) + ":\n";
      append_stack(out, *r.accessed_by);
    }
    if (r.racing_by && r.racing_access) {
      const MemoryAccess& a = *r.racing_access;
      out += "\n" + std::string(a.write ? "write" : "read") + " to 0x" + hex(a.address) + " of " +
             std::to_string(a.size) + " bytes by task " + r.racing_by->task + ":\n";
      append_stack(out, *r.racing_by);
    } else if (r.racing_by) {
      out += "\nracing access by task " + r.racing_by->task + ":\n";
      append_stack(out, *r.racing_by);
    }
    if (r.allocated_by) {
      out += "\n";
      append_task_site(out, "Allocated", *r.allocated_by);
    }
    if (r.freed_by) {
      out += "\n";
      append_task_site(out, "Freed", *r.freed_by);
    }
    for (const StackSection& related : r.related) {
      out += "\n";
      append_task_site(out, related.title, related.at);
    }
    if (memory) {
      const MemoryAccess& a = *r.access;
      out += "\nThe buggy address belongs to the object at " + hex(a.object) + "\n";
      out += " which belongs to the cache " + kmalloc_cache(a.object_size) + " of size " +
             std::to_string(a.object_size) + (a.type.empty() ? "" : " (" + a.type + ")") + "\n";
      out += "The buggy address is located " + std::to_string(a.offset) + " bytes inside of\n";
      out += " " + std::to_string(a.object_size) + "-byte region [" + hex(a.object) + ", " +
             hex(a.object + a.object_size) + ")\n";
    }
  }
  if (!r.details.empty()) {
    out += "\n";
    for (const std::string& line : r.details)
      out += line + "\n";
  }
  out += "\nSchedule (" + std::to_string(r.schedule.size()) + " choices): " + to_string(r.schedule) + "\n";
  out += kRule + "\n";
  return out;
}

std::string render_json(const Report& r) {
  nlohmann::json j;
  j["kind"] = r.kind;
  j["headline"] = r.headline;
  j["fatal"] = r.fatal;
  if (r.access) {
    const MemoryAccess& a = *r.access;
    j["access"] = {{"write", a.write},
                   {"size", a.size},
                   {"address", hex(a.address)},
                   {"object", hex(a.object)},
                   {"object_size", a.object_size},
                   {"offset", a.offset},
                   {"type", a.type}};
  } else {
    j["access"] = nullptr;
  }
  j["accessed_by"] = task_site_json(r.accessed_by);
  j["allocated_by"] = task_site_json(r.allocated_by);
  j["freed_by"] = task_site_json(r.freed_by);
  j["related"] = nlohmann::json::array();
  for (const StackSection& related : r.related) {
    nlohmann::json section = task_site_json(related.at);
    section["title"] = related.title;
    j["related"].push_back(std::move(section));
  }
  if (r.racing_by) j["racing_by"] = task_site_json(r.racing_by);
  j["details"] = r.details;
  j["schedule"] = to_string(r.schedule);
  j["signature"] = r.signature();
  return j.dump();
}

}  // namespace devsim::sim
