#include "scenarios/runner.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "bus/host_lock.hpp"
#include "bus/irq.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "bus/usb.hpp"
#include "drivers/registry.hpp"
#include "scenarios/limits.hpp"
#include "scenarios/operations.hpp"
#include "scenarios/printable.hpp"
#include "scenarios/writer.hpp"
#include "sim/site.hpp"

namespace devsim::scenarios {

std::string result_text(std::int64_t r) {
  if (r < 0) return "-" + std::string(bus::errno_name(static_cast<int>(-r)));
  return std::to_string(r);
}

std::string unexpected_result_headline(const Op& op, std::int64_t got) {
  std::string allowed;
  for (std::int64_t a : op.allowed)
    allowed += (allowed.empty() ? "" : " | ") + result_text(a);
  return "unexpected result: '" + op.text + "' returned " + result_text(got) + " (allowed: " + allowed + ")";
}

std::string unexpected_bytes_headline(const Op& op, std::int64_t got, const std::string& want,
                                      const std::optional<std::string>& copied_out) {
  return "unexpected result: '" + op.text + "' returned " + result_text(got) + " with " +
         (copied_out ? printable(data_text(*copied_out)) : std::string("no user buffer")) +
         " in the user buffer (expected " + printable(data_text(want)) + ")";
}

namespace {

void report_unexpected(const Scenario& s, const Op& op, std::int64_t got) {
  sim::World& w = sim::world();
  sim::Report r;
  r.kind = "unexpected-result";
  r.headline = unexpected_result_headline(op, got);
  r.details.push_back("task " + w.task_label(w.current_task()) + ", at " + s.file + ":" + std::to_string(op.at.line));
  w.report(std::move(r));
}

// `=> N "BYTES"`: the call returned N but left other bytes in the user buffer.
void report_unexpected_bytes(const Scenario& s, const Op& op, std::int64_t got, const std::string& want,
                             const std::optional<std::string>& copied_out) {
  sim::World& w = sim::world();
  sim::Report r;
  r.kind = "unexpected-result";
  r.headline = unexpected_bytes_headline(op, got, want, copied_out);
  if (!copied_out) r.details.push_back("only C drivers copy to a user buffer; a C++ driver's read and ioctl do not");
  r.details.push_back("task " + w.task_label(w.current_task()) + ", at " + s.file + ":" + std::to_string(op.at.line));
  w.report(std::move(r));
}

bus::Device* find_device(const std::string& bus_name, const std::string& id) {
  bus::BusType* b = bus::kernel().find_bus(bus_name);
  return b != nullptr ? b->find_device(id) : nullptr;
}

bus::UsbDeviceEvent usb_event(const Op& op) {
  if (op.kind == OpKind::UsbError) return {static_cast<unsigned>(op.arg), "", -static_cast<int>(op.number)};
  return {op.b.empty() ? bus::kUsbEndpointIntIn : static_cast<unsigned>(op.arg), op.data.value_or(""), 0};
}

std::int64_t plug(const std::string& bus_name, const std::string& id, const std::string& modalias,
                  const std::vector<Op>& script = {}) {
  if (bus_name == "usb") {
    std::vector<bus::UsbDeviceEvent> events;
    for (const Op& op : script)
      events.push_back(usb_event(op));
    return bus::usb_plug(id, modalias, events) != nullptr ? 0 : -bus::kEBUSY;
  }
  // Platform hotplug is the scenario's own doing: serialised like the hub's, so one name is never registered and
  // unregistered at once.
  core::MutexGuard lock = bus::kernel().hotplug_lock().guard();
  if (find_device("platform", id) != nullptr) return -bus::kEBUSY;
  bus::Device* dev = bus::platform_device_register(id);
  if (dev == nullptr) return -bus::kEBUSY;
  if (modalias != id) {
    dev->set_modalias(modalias);
    bus::device_attach(dev);
  }
  return 0;
}

std::int64_t unplug(const std::string& bus_name, const std::string& id) {
  if (bus_name == "usb") return bus::usb_unplug(id) ? 0 : -bus::kENODEV;
  core::MutexGuard lock = bus::kernel().hotplug_lock().guard();
  bus::Device* dev = find_device("platform", id);
  if (dev == nullptr) return -bus::kENODEV;
  bus::platform_device_unregister(dev);
  return 0;
}

// The scenario's tasks still running; init waits for them before shutting the machine down.
struct Running {
  int tasks = 0;
  std::map<std::string, sim::TaskId> ids;  // `signal TASK` finds its target here
};

}  // namespace

std::int64_t run_op(const Op& op, Process& p) {
  auto file = [&]() -> bus::File* {
    auto v = p.vars.find(op.fd);
    if (v == p.vars.end()) return nullptr;
    auto f = p.files.find(v->second);
    return f == p.files.end() ? nullptr : f->second;
  };
  switch (op.kind) {
    case OpKind::Open: {
      bus::OpenResult o = bus::vfs_open(op.a, static_cast<unsigned>(op.number));
      if (o.file == nullptr) return o.error;
      std::int64_t fd = p.next_fd++;
      p.files[fd] = o.file;
      return fd;
    }
    case OpKind::Close: {
      bus::File* f = file();
      if (f == nullptr) return -bus::kEBADF;
      p.files.erase(p.vars[op.fd]);
      bus::vfs_close(f);
      return 0;
    }
    case OpKind::Read:
      return file() ? bus::vfs_read(file(), op.number) : -bus::kEBADF;
    case OpKind::Write:
      if (file() == nullptr) return -bus::kEBADF;
      return op.data ? bus::vfs_write(file(), std::string_view(*op.data)) : bus::vfs_write(file(), op.number);
    case OpKind::Ioctl:
      if (file() == nullptr) return -bus::kEBADF;
      return op.data ? bus::vfs_ioctl(file(), static_cast<unsigned>(op.number), std::string_view(*op.data))
                     : bus::vfs_ioctl(file(), static_cast<unsigned>(op.number), op.arg);
    case OpKind::Poll:
      return file() ? static_cast<std::int64_t>(bus::vfs_poll(file())) : -bus::kEBADF;
    case OpKind::Mmap: {
      bus::File* f = file();
      if (f == nullptr) return -bus::kEBADF;
      int r = bus::vfs_mmap(f);
      if (r == 0) p.mappings.emplace(p.vars[op.fd], f);
      return r;
    }
    case OpKind::Munmap: {
      auto v = p.vars.find(op.fd);
      auto m = v != p.vars.end() ? p.mappings.find(v->second) : p.mappings.end();
      if (m != p.mappings.end()) {
        bus::File* f = m->second;
        p.mappings.erase(m);
        return bus::vfs_munmap(f);
      }
      // Nothing mapped through it: the kernel's answer for an unmapped range (bus::vfs_munmap), or -EBADF for a
      // descriptor that was never opened.
      return file() ? bus::vfs_munmap(file()) : -bus::kEBADF;
    }
    case OpKind::Plug:
      return plug(op.a, op.b, op.c);
    case OpKind::Unplug:
      return unplug(op.a, op.b);
    case OpKind::Bind:
    case OpKind::Unbind: {
      const drivers::DriverInfo* info = drivers::find_driver(op.a);
      std::string path = "/sys/bus/" + info->bus + "/drivers/" + op.a + (op.kind == OpKind::Bind ? "/bind" : "/unbind");
      return bus::kernel().sysfs().write(path, op.b);
    }
    case OpKind::SysfsRead: {
      bus::SysfsRead r = bus::kernel().sysfs().read(op.a);
      if (r.error != 0) return r.error;
      bus::note_user_copied_out(r.text);  // what read(2) put in the buffer, for `=> N "TEXT"`
      return static_cast<std::int64_t>(r.text.size());
    }
    case OpKind::SysfsWrite:
      return bus::kernel().sysfs().write(op.a, op.b);
    case OpKind::Load:
      return drivers::load_module(*drivers::find_driver(op.a));
    case OpKind::Unload:
      return drivers::unload_module(*drivers::find_driver(op.a));
    case OpKind::Sleep:
      sim::world().sleep_for(op.number);
      return 0;
    case OpKind::Irq:
      bus::raise_irq(static_cast<unsigned>(op.number));
      return 0;
    case OpKind::Yield:
      sim::yield();
      return 0;
    case OpKind::UsbData:
    case OpKind::UsbError:
      return bus::usb_device_send(op.a, usb_event(op));
    case OpKind::Signal: {
      sim::World& w = sim::world();
      w.yield(sim::EventKind::Wake, nullptr);
      w.send_signal(w.extension<Running>().ids.at(op.a), /*fatal=*/false);
      return 0;
    }
  }
  return 0;
}

void exit_process(Process& p) {
  for (auto& [fd, f] : p.mappings)
    bus::vfs_munmap(f);
  for (auto& [fd, f] : p.files)
    bus::vfs_close(f);
  p.mappings.clear();
  p.files.clear();
}

namespace {

// The declared devices no driver is bound to now, and why (bus::unbound_reason). Host state only: no scheduling
// point, no access the explorer sees.
// Not inlined: its string temporaries would add cleanup entries to the init task's frame, which a failing execution
// unwinds (R1 buggy paid 3,000 instructions per execution in the unwinder's table walk).
[[gnu::noinline]] void note_unbound(const Scenario& s, SetUpNotes& notes) {
  if (notes.list_attributes && notes.executions == 0) {
    bus::Sysfs& fs = bus::kernel().sysfs();
    for (const DeviceDecl& d : s.devices) {
      std::vector<std::string>& out = notes.attributes[d.bus + " " + d.id];
      const std::string dir = fs.link_target("/sys/bus/" + d.bus + "/devices/" + d.id);
      if (dir.empty()) continue;
      // Attributes in the device's directory and in the directories inside it, three levels deep: a group's
      // ("more/reads"), a USB interface's ("1-1:1.0/level", "1-1:1.0/more/reads"), a class device's
      // ("gpiochip0/dev"). Links lead elsewhere (the driver, the subsystem): not followed.
      const auto walk = [&fs, &out](const auto& self, const std::string& path, const std::string& rel,
                                    int depth) -> void {
        for (const std::string& name : fs.list(path)) {
          const std::string child = path + "/" + name;
          const std::string child_rel = rel.empty() ? name : rel + "/" + name;
          if (fs.is_attribute(child))
            out.push_back(child_rel);
          else if (depth > 1 && fs.link_target(child).empty())
            self(self, child, child_rel, depth - 1);
        }
      };
      walk(walk, dir, "", 3);
      std::sort(out.begin(), out.end());
    }
  }
  ++notes.executions;
  for (const DeviceDecl& d : s.devices) {
    const std::optional<bus::UnboundReason> why = bus::unbound_reason(d.bus, d.id);
    if (!why) continue;
    SetUpNotes::Unbound& u = notes.unbound[d.bus + " " + d.id + " (" + d.modalias + ")"];
    if (u.why.empty()) {
      u.why = why->driver.empty() ? std::string("no driver of the scenario matches it")
              : why->error == -bus::kEPROBE_DEFER
                  ? why->driver + "'s probe deferred (-EPROBE_DEFER)"
                  : why->driver + "'s probe returned -" + std::string(bus::errno_name(why->error));
    }
    ++u.executions;
  }
}

}  // namespace

void set_up_machine(const Scenario& s) {
  for (const auto& [name, contents] : s.firmware)
    bus::kernel().firmware_files()[name] = contents;
  for (const std::string& d : s.drivers)
    drivers::load_driver(*drivers::find_driver(d));
  for (const DeviceDecl& d : s.devices)
    plug(d.bus, d.id, d.modalias, d.script);
}

void shut_down_machine(const Scenario& s) {
  if (bus::BusType* usb = bus::kernel().find_bus("usb")) {
    for (bus::Device* d : std::vector<bus::Device*>(usb->devices().begin(), usb->devices().end()))
      if (d->parent() == bus::usb_root_hub()) bus::usb_unplug(d->name());
  }
  if (bus::BusType* platform = bus::kernel().find_bus("platform")) {
    for (bus::Device* d : std::vector<bus::Device*>(platform->devices().begin(), platform->devices().end()))
      bus::platform_device_unregister(d);
  }
  for (const auto& b : bus::kernel().buses())
    for (bus::Driver* d : std::vector<bus::Driver*>(b->drivers()))
      bus::driver_unregister(d);
  // Modules (C drivers) still loaded: their module_exit runs (an unloaded one answers -ENOENT).
  for (const std::string& d : s.drivers)
    if (const drivers::DriverInfo* info = drivers::find_driver(d); info->is_module()) info->module_unload();
  for (const Task& t : s.tasks)
    for (const Op& op : t.ops)
      if (op.kind == OpKind::Load)
        if (const drivers::DriverInfo* info = drivers::find_driver(op.a); info->is_module()) info->module_unload();
}

namespace {

void run_task(const Scenario& s, const Task& t) {
  Process p;
  sim::World& w = sim::world();
  for (const Op& op : t.ops) {
    // A signal that arrived between two system calls was delivered on the way back to user space.
    w.deliver_signals();
    std::int64_t r = run_op(op, p);
    // The return to user space: the process has a handler without SA_RESTART, so an interrupted call fails
    // with EINTR (arch signal code, handle_signal); SIGKILL ends the process, which never sees the result.
    if (r == -bus::kERESTARTSYS) r = -bus::kEINTR;
    if (w.fatal_signal_pending()) break;
    w.deliver_signals();
    if (!op.bind.empty()) p.vars[op.bind] = r;
    const std::optional<std::string> copied_out = bus::take_user_copied_out();
    if (!op.allowed.empty()) {
      const auto it = std::find(op.allowed.begin(), op.allowed.end(), r);
      if (it == op.allowed.end()) {
        report_unexpected(s, op, r);
      } else {
        // Any alternative with this result whose bytes match (or that names none) accepts it: `=> 2 "7\n" | 2 "0\n"`.
        bool matched = false;
        for (std::size_t i = 0; i < op.allowed.size() && !matched; ++i)
          matched = op.allowed[i] == r && (!op.allowed_data[i] || copied_out.value_or("") == *op.allowed_data[i]);
        if (!matched)
          report_unexpected_bytes(s, op, r, *op.allowed_data[static_cast<std::size_t>(it - op.allowed.begin())],
                                  copied_out);
      }
    }
  }
  exit_process(p);
}

}  // namespace

sim::Model make_model(const Scenario& s, SetUpNotes* notes) {
  return [&s, notes](sim::World& w) {
    w.spawn("init", [&s, notes](sim::World& w) {
      set_up_machine(s);
      if (notes != nullptr) note_unbound(s, *notes);
      Running& running = w.extension<Running>();
      for (const Task& t : s.tasks) {
        ++running.tasks;
        sim::TaskId id = w.spawn(t.name, [&s, &t, &running] {
          run_task(s, t);
          // The shutdown below runs after every task ended: each task's end happens before it (a wake-up
          // orders only the last one).
          sim::world().races().release(sim::world().current_task(), &running);
          if (--running.tasks == 0) sim::world().wake_all(&running);
        });
        w.set_user_task(id);  // a process: killed, not reported, when it sleeps interruptibly at the end
        running.ids[t.name] = id;
      }
      while (running.tasks > 0)
        w.block(&running, "the scenario's tasks to finish");
      w.races().acquire(w.current_task(), &running);
      // kmemleak runs when the execution ends, after the shut-down.
      shut_down_machine(s);
    });
  };
}

bool report_matches(const sim::Report& r, const Expectation& e) {
  if (r.kind != e.kind) return false;
  if (e.function.empty()) return true;
  if (r.headline.find(e.function) != std::string::npos) return true;
  if (!r.accessed_by) return false;
  if (r.accessed_by->site && sim::site_function(*r.accessed_by->site) == e.function) return true;
  // Any frame of the access stack: "expect use-after-free in my_ioctl" holds when the access happened in a
  // helper my_ioctl called, as a kernel developer reads a KASAN report's stack.
  return sim::stack_has_function(r.accessed_by->stack, e.function);
}

std::uint64_t default_step_budget(const Scenario& s) {
  if (s.step_budget != 0) return s.step_budget;
  std::uint64_t ops = 0;
  for (const Task& t : s.tasks)
    ops += t.ops.size();
  return std::clamp(ops * limits::kDefaultStepsPerOperation, limits::kDefaultStepBudget, limits::kMaxStepBudget);
}

namespace {

// Where the k-th (0-based) choice of the scenario's schedule string is written.
Location choice_location(const Scenario& s, std::size_t k) {
  Location at = s.schedule_at;
  if (at.line < 1 || at.line > static_cast<int>(s.lines.size())) return at;
  const std::string& line = s.lines[static_cast<std::size_t>(at.line - 1)];
  std::size_t i = static_cast<std::size_t>(at.column);  // just after the opening quote
  std::size_t seen = 0;
  while (i < line.size() && line[i] != '"') {
    if (line[i] == ' ' || line[i] == '\t' || line[i] == ',') {
      ++i;
      continue;
    }
    if (seen++ == k) return Location{at.line, static_cast<int>(i) + 1};
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != ',' && line[i] != '"')
      ++i;
  }
  return at;
}

std::string choice_text(const sim::Choice& c) {
  return (c.kind == sim::Choice::Kind::Task ? "t" : "v") + std::to_string(c.value);
}

// Compares the choices the replayed execution made (`ran`) with the recorded ones: a replayed schedule fits when
// it is a prefix of what ran (after it, default choices follow, as documented).
std::string check_divergence(const Scenario& s, const sim::Schedule& ran) {
  const sim::Schedule& recorded = *s.schedule;
  const std::size_t common = std::min(recorded.size(), ran.size());
  std::size_t k = 0;
  while (k < common && recorded[k] == ran[k])
    ++k;
  auto where = [&](std::size_t index) {
    Location at = choice_location(s, index);
    return s.file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": ";
  };
  if (k < common) {
    const sim::Choice& want = recorded[k];
    std::string why = want.kind == sim::Choice::Kind::Task && ran[k].kind == sim::Choice::Kind::Task
                          ? "task t" + std::to_string(want.value) + " could not run there"
                      : want.kind != ran[k].kind
                          ? std::string("the execution made a ") +
                                (ran[k].kind == sim::Choice::Kind::Task ? "task" : "value") + " choice there"
                          : "the value is out of that choice's range";
    return where(k) + "the recorded schedule does not fit: it diverged at choice " + std::to_string(k + 1) + " ('" +
           choice_text(want) + "'): " + why + "; the execution took '" + choice_text(ran[k]) +
           "' (the scenario or its drivers changed since it was recorded?)";
  }
  if (recorded.size() > ran.size()) {
    return where(ran.size()) + "the recorded schedule does not fit: the execution ended after " +
           std::to_string(ran.size()) + " choice(s), but the schedule has " + std::to_string(recorded.size()) +
           " (the scenario or its drivers changed since it was recorded?)";
  }
  return std::string();
}

// Moves the reports that are devsim's own limits, not the driver's bugs, out of the failures: the step budget
// (unless the scenario expects a livelock) and host memory exhaustion. Returns their messages.
std::vector<std::string> take_limits(const Scenario& s, std::uint64_t step_budget, sim::ExploreResult& r) {
  bool expects_budget = false;
  for (const Expectation& e : s.expectations)
    expects_budget = expects_budget || e.kind == sim::bug::kStepBudget;
  std::vector<std::string> out;
  std::vector<sim::Failure> kept;
  for (sim::Failure& f : r.failures) {
    const bool budget = f.report.kind == sim::bug::kStepBudget && !expects_budget;
    const bool memory =
        f.report.kind == "unhandled-exception" && f.report.headline.find("bad_alloc") != std::string::npos;
    if (!budget && !memory) {
      kept.push_back(std::move(f));
      continue;
    }
    r.failing_executions -= std::min(r.failing_executions, f.count);
    if (budget) {
      out.push_back("devsim limit: the step budget of " + std::to_string(step_budget) +
                    " scheduling points per execution ran out in " + std::to_string(f.count) +
                    " execution(s) (first: execution " + std::to_string(f.first_execution) +
                    "); not reported as a bug. Raise it with 'explore ... steps=N' or 'devsim run --step-budget N'. "
                    "A driver that loops forever also ends here: if a larger budget still runs out, check for a "
                    "livelock with 'expect step-budget-exceeded'.");
    } else {
      out.push_back("devsim limit: the host ran out of memory (" + f.report.headline + ") in " +
                    std::to_string(f.count) +
                    " execution(s); not reported as a bug. Fewer tasks or operations, "
                    "or more memory, are needed.");
    }
  }
  r.failures = std::move(kept);
  if (r.failures.empty() && !out.empty() && r.first_failure) r.first_failure.reset();
  return out;
}

}  // namespace

Verdict run_scenario(const Scenario& s, const Overrides& o, bool trace_first_failure) {
  Verdict v;
  sim::ExploreOptions eo;
  eo.world.fail_nth = s.fail_nth;
  eo.world.step_budget = o.step_budget.value_or(default_step_budget(s));
  eo.trace_first_failure = trace_first_failure;
  eo.max_seconds = o.max_seconds;
  eo.progress = o.progress;
  eo.stop = o.stop;
  // A C module that cannot be loaded uses a kernel function devsim does not provide: no execution could run its
  // driver, and what they would report is devsim's failure, not the driver's.
  for (const std::string& name : s.drivers) {
    const drivers::DriverInfo* d = drivers::find_driver(name);
    if (d == nullptr || !d->module_check) continue;
    if (std::string why = d->module_check(); !why.empty()) {
      v.limits.push_back("devsim limit: the C module " + name + " cannot be loaded: " + why +
                         ". An undefined symbol is a kernel function or variable devsim's include/linux does not "
                         "provide (docs/writing-a-driver-in-c.md lists what it does); nothing was run.");
      v.summary = "0 executions; devsim limit reached";
      return v;
    }
  }
  SetUpNotes notes;
  sim::Model model = make_model(s, &notes);
  if (s.schedule) {
    v.replayed = true;
    sim::StrategyOptions so;
    so.kind = sim::StrategyKind::Replay;
    so.replay = *s.schedule;
    eo.strategy = so;
    eo.max_executions = 1;
  } else {
    eo.strategy = s.strategy;
    eo.max_executions = s.executions;
    if (o.strategy) {
      eo.strategy.kind = *o.strategy;
      if (!o.executions) eo.max_executions = *o.strategy == sim::StrategyKind::Exhaustive ? 0 : 1000;
    }
    if (o.reduction && !sim::parse_reduction(*o.reduction, &eo.strategy))
      throw std::invalid_argument("unknown reduction '" + *o.reduction + "' (dpor, sleep-sets, none)");
    if (o.seed) eo.strategy.seed = *o.seed;
    if (o.executions) eo.max_executions = *o.executions;
    if (o.preemptions) eo.strategy.preemption_bound = *o.preemptions;
    if (o.pct_depth) eo.strategy.pct_depth = *o.pct_depth;
  }
  v.result = sim::explore(model, eo);
  if (s.schedule) {
    // A failing replay kept its execution's choices; a passing one runs once more to get them (the shrinker's
    // many replays mostly fail, so they pay nothing extra).
    const sim::Schedule ran =
        v.result.first_failure ? v.result.first_failure->schedule : sim::replay(model, *s.schedule, eo.world).schedule;
    v.divergence = check_divergence(s, ran);
  }
  v.limits = take_limits(s, eo.world.step_budget, v.result);
  for (const auto& [device, u] : notes.unbound) {
    v.notes.push_back("note: " + device + " had no driver bound when the tasks started: " + u.why +
                      (u.executions == notes.executions ? std::string()
                                                        : " (in " + std::to_string(u.executions) + " of " +
                                                              std::to_string(notes.executions) + " executions)"));
  }

  std::ostringstream sum;
  bool expects_bug = s.expects_bug();
  if (expects_bug) {
    for (const Expectation& e : s.expectations) {
      if (e.kind == "no-bug") continue;
      bool found = false;
      for (const sim::Failure& f : v.result.failures)
        found = found || report_matches(f.report, e);
      if (!found) {
        v.unmet.push_back(s.file + ":" + std::to_string(e.at.line) + ": expected " + e.kind +
                          (e.function.empty() ? "" : " in " + e.function) + ", not found");
      }
    }
  } else if (!v.result.failures.empty()) {
    v.unmet.push_back("expected no bug, found " + std::to_string(v.result.failures.size()) + " distinct (" +
                      v.result.failures.front().report.headline + (v.result.failures.size() > 1 ? ", …" : "") + ")");
  }
  v.passed = v.unmet.empty() && v.divergence.empty() && v.limits.empty();
  sum << (v.replayed ? "replayed 1 execution" : std::to_string(v.result.executions) + " executions");
  if (v.result.exhausted && !v.replayed) sum << " (all schedules within the bound)";
  if (eo.strategy.kind == sim::StrategyKind::Exhaustive && !v.replayed &&
      (v.result.pruned_executions != 0 || v.result.pruned_alternatives != 0)) {
    sum << " [" << sim::reduction_name(eo.strategy) << ": " << v.result.pruned_executions << " cut short, "
        << v.result.pruned_alternatives << " alternatives pruned]";
  }
  if (v.result.out_of_time) sum << " (stopped by the time limit)";
  if (v.result.interrupted) sum << " (interrupted by a signal)";
  sum << ", " << v.result.failing_executions << " failing, " << v.result.failures.size() << " distinct";
  if (!v.divergence.empty()) sum << "; the recorded schedule does not fit";
  if (!v.limits.empty()) sum << "; devsim limit reached";
  if (expects_bug && v.passed) sum << "; the expected bug was found";
  if (!expects_bug && v.passed) sum << "; no bug";
  v.summary = sum.str();
  return v;
}

std::string reproducer_text(const Scenario& s, const sim::Report& failure) {
  std::ostringstream out;
  out << "# Reproducer written by devsim " << DEVSIM_VERSION << " from " << s.file << "\n";
  out << "# It replays one execution that reports: " << failure.headline << "\n";
  out << "# It declares no bug: replaying it fails while the bug reproduces and passes once it is fixed.\n";
  std::vector<bool> setting(s.lines.size() + 1, false);
  for (int line : s.setting_lines)
    if (line >= 1 && static_cast<std::size_t>(line) <= s.lines.size()) setting[static_cast<std::size_t>(line)] = true;
  for (std::size_t i = 0; i < s.lines.size(); ++i)
    if (!setting[i + 1]) out << s.lines[i] << "\n";
  out << "schedule \"" << sim::to_string(failure.schedule) << "\"\n";
  return out.str();
}

}  // namespace devsim::scenarios
