#include "scenarios/runner.hpp"

#include <map>
#include <memory>
#include <sstream>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "bus/irq.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "bus/usb.hpp"
#include "drivers/registry.hpp"
#include "sim/site.hpp"

namespace devsim::scenarios {

namespace {

// One task's process state: its variables and open descriptors.
struct Process {
  std::map<std::string, std::int64_t> vars;
  std::map<std::int64_t, bus::File*> files;
  std::int64_t next_fd = 3;
};

std::string result_text(std::int64_t r) {
  if (r < 0) return "-" + std::string(bus::errno_name(static_cast<int>(-r)));
  return std::to_string(r);
}

void report_unexpected(const Scenario& s, const Op& op, std::int64_t got) {
  sim::World& w = sim::world();
  sim::Report r;
  r.kind = "unexpected-result";
  std::string allowed;
  for (std::int64_t a : op.allowed)
    allowed += (allowed.empty() ? "" : " | ") + result_text(a);
  r.headline = "unexpected result: '" + op.text + "' returned " + result_text(got) + " (allowed: " + allowed + ")";
  r.details.push_back("task " + w.task_label(w.current_task()) + ", at " + s.file + ":" + std::to_string(op.at.line));
  w.report(std::move(r));
}

bus::Device* find_device(const std::string& bus_name, const std::string& id) {
  bus::BusType* b = bus::kernel().find_bus(bus_name);
  return b != nullptr ? b->find_device(id) : nullptr;
}

std::int64_t plug(const std::string& bus_name, const std::string& id, const std::string& modalias) {
  if (bus_name == "usb") return bus::usb_plug(id, modalias) != nullptr ? 0 : -bus::kEBUSY;
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

std::int64_t run_op(const Op& op, Process& p) {
  auto file = [&]() -> bus::File* {
    auto v = p.vars.find(op.fd);
    if (v == p.vars.end()) return nullptr;
    auto f = p.files.find(v->second);
    return f == p.files.end() ? nullptr : f->second;
  };
  switch (op.kind) {
    case OpKind::Open: {
      bus::OpenResult o = bus::vfs_open(op.a);
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
      return file() ? bus::vfs_write(file(), op.number) : -bus::kEBADF;
    case OpKind::Ioctl:
      return file() ? bus::vfs_ioctl(file(), static_cast<unsigned>(op.number), op.arg) : -bus::kEBADF;
    case OpKind::Poll:
      return file() ? static_cast<std::int64_t>(bus::vfs_poll(file())) : -bus::kEBADF;
    case OpKind::Mmap:
      return file() ? bus::vfs_mmap(file()) : -bus::kEBADF;
    case OpKind::Munmap:
      if (file() == nullptr) return -bus::kEBADF;
      bus::vfs_munmap(file());
      return 0;
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
      return r.error != 0 ? r.error : static_cast<std::int64_t>(r.text.size());
    }
    case OpKind::SysfsWrite:
      return bus::kernel().sysfs().write(op.a, op.b);
    case OpKind::Load:
      drivers::load_driver(*drivers::find_driver(op.a));
      return 0;
    case OpKind::Unload: {
      const drivers::DriverInfo* info = drivers::find_driver(op.a);
      bus::BusType* b = bus::kernel().find_bus(info->bus);
      if (bus::Driver* d = b != nullptr ? b->find_driver(op.a) : nullptr) bus::driver_unregister(d);
      return 0;
    }
    case OpKind::Sleep:
      sim::world().sleep_for(op.number);
      return 0;
    case OpKind::Irq:
      bus::raise_irq(static_cast<unsigned>(op.number));
      return 0;
    case OpKind::Yield:
      sim::yield();
      return 0;
  }
  return 0;
}

// The scenario's tasks still running; init waits for them before shutting the machine down.
struct Running {
  int tasks = 0;
};

void run_task(const Scenario& s, const Task& t) {
  Process p;
  for (const Op& op : t.ops) {
    std::int64_t r = run_op(op, p);
    if (!op.bind.empty()) p.vars[op.bind] = r;
    if (!op.allowed.empty() && std::find(op.allowed.begin(), op.allowed.end(), r) == op.allowed.end())
      report_unexpected(s, op, r);
  }
  // A process that exits closes what it left open (the kernel's exit_files): release still runs.
  for (auto& [fd, f] : p.files)
    bus::vfs_close(f);
}

}  // namespace

sim::Model make_model(const Scenario& s) {
  return [&s](sim::World& w) {
    w.spawn("init", [&s](sim::World& w) {
      for (const auto& [name, contents] : s.firmware)
        bus::kernel().firmware_files()[name] = contents;
      for (const std::string& d : s.drivers)
        drivers::load_driver(*drivers::find_driver(d));
      for (const DeviceDecl& d : s.devices)
        plug(d.bus, d.id, d.modalias);
      Running& running = w.extension<Running>();
      for (const Task& t : s.tasks) {
        ++running.tasks;
        w.spawn(t.name, [&s, &t, &running] {
          run_task(s, t);
          if (--running.tasks == 0) sim::world().wake_all(&running);
        });
      }
      while (running.tasks > 0)
        w.block(&running, "the scenario's tasks to finish");
      // Shutdown: what is still plugged goes and the drivers unload, so whatever is left allocated after this
      // is a real leak (kmemleak runs when the execution ends).
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
    });
  };
}

bool report_matches(const sim::Report& r, const Expectation& e) {
  if (r.kind != e.kind) return false;
  if (e.function.empty()) return true;
  if (r.headline.find(e.function) != std::string::npos) return true;
  return r.accessed_by && sim::site_function(*r.accessed_by) == e.function;
}

Verdict run_scenario(const Scenario& s, const Overrides& o, bool trace_first_failure) {
  Verdict v;
  sim::ExploreOptions eo;
  eo.world.fail_nth = s.fail_nth;
  eo.trace_first_failure = trace_first_failure;
  sim::Model model = make_model(s);
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
    if (o.seed) eo.strategy.seed = *o.seed;
    if (o.executions) eo.max_executions = *o.executions;
    if (o.preemptions) eo.strategy.preemption_bound = *o.preemptions;
    if (o.pct_depth) eo.strategy.pct_depth = *o.pct_depth;
  }
  v.result = sim::explore(model, eo);

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
  v.passed = v.unmet.empty();
  sum << (v.replayed ? "replayed 1 execution" : std::to_string(v.result.executions) + " executions");
  if (v.result.exhausted && !v.replayed) sum << " (all schedules within the bound)";
  sum << ", " << v.result.failing_executions << " failing, " << v.result.failures.size() << " distinct";
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
  for (std::size_t i = 0; i < s.lines.size(); ++i) {
    int line = static_cast<int>(i) + 1;
    if (std::find(s.setting_lines.begin(), s.setting_lines.end(), line) != s.setting_lines.end()) continue;
    out << s.lines[i] << "\n";
  }
  out << "schedule \"" << sim::to_string(failure.schedule) << "\"\n";
  return out.str();
}

}  // namespace devsim::scenarios
