#include "fuzz/fuzzer.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "bus/usb.hpp"
#include "scenarios/parser.hpp"
#include "scenarios/runner.hpp"
#include "scenarios/writer.hpp"

namespace devsim::fuzz {

using scenarios::Op;
using scenarios::OpKind;
using scenarios::Scenario;
using scenarios::Task;

std::uint64_t Rng::next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::size_t count_ops(const Scenario& s) {
  std::size_t n = 0;
  for (const Task& t : s.tasks)
    n += t.ops.size();
  return n;
}

namespace {

// Weights of the operation menu: users of the nodes most of the time, the hotplug and driver-model operations
// often enough to race with them, and every other operation of the language now and then.
// INVARIANT: every OpKind has a Pick (tests/fuzz checks a generated corpus holds every operation).
enum class Pick {
  Open,
  Ioctl,
  Read,
  Write,
  Poll,
  Mmap,
  Munmap,
  Close,
  Unplug,
  Plug,
  Unbind,
  Bind,
  SysfsRead,
  SysfsWrite,
  Unload,
  Load,
  Irq,
  Sleep,
  Yield,
  Signal,
  UsbData,
  UsbError
};
constexpr std::pair<Pick, unsigned> kMenu[] = {
    {Pick::Open, 14},   {Pick::Ioctl, 22},   {Pick::Read, 5},      {Pick::Write, 5},      {Pick::Poll, 4},
    {Pick::Mmap, 3},    {Pick::Munmap, 3},   {Pick::Close, 12},    {Pick::Unplug, 9},     {Pick::Plug, 4},
    {Pick::Unbind, 4},  {Pick::Bind, 3},     {Pick::SysfsRead, 2}, {Pick::SysfsWrite, 3}, {Pick::Unload, 2},
    {Pick::Load, 1},    {Pick::Irq, 4},      {Pick::Sleep, 3},     {Pick::Yield, 2},      {Pick::Signal, 2},
    {Pick::UsbData, 3}, {Pick::UsbError, 2},
};

Pick pick(ChoiceSource& rng) {
  unsigned total = 0;
  for (const auto& [p, w] : kMenu)
    total += w;
  unsigned r = static_cast<unsigned>(rng.below(total));
  for (const auto& [p, w] : kMenu) {
    if (r < w) return p;
    r -= w;
  }
  return Pick::Sleep;
}

// `n` bytes for a user buffer: mostly small values (0..15: offsets, indexes, counts, flags), now and then any byte.
std::string small_bytes(ChoiceSource& rng, std::uint64_t n) {
  std::string bytes(n, '\0');
  for (char& c : bytes)
    c = static_cast<char>(rng.chance(80) ? rng.below(16) : rng.below(256));
  return bytes;
}

// One driver of a case and the device it is given.
struct Target {
  const drivers::DriverInfo* info;
  std::string id;  // "1-2" (usb port) or "NAME0" (platform device)
  std::vector<std::string> nodes;
  std::vector<std::string> attributes;  // of its device's sysfs directory (device_attributes), "group/name" in groups
};

// A descriptor variable of a task and the driver whose node it opened.
struct FdVar {
  std::string name;
  std::size_t target;
  bool mapped = false;
};

std::uint64_t rng_seed(std::uint64_t seed) {
  return seed * 0x9e3779b97f4a7c15ULL + 0x5bd1e995;
}

// The driver's device script (DriverInfo::device_script) for its device at usb port `port`, parsed as the lines
// after a device line are. Throws std::invalid_argument naming the driver when a line does not parse.
std::vector<Op> device_script(const drivers::DriverInfo& d, const std::string& port) {
  if (d.device_script.empty() || d.bus != "usb") return {};
  std::string text = "driver " + d.name + "\ndevice usb " + port + " " + d.device_modalias() + "\n";
  std::vector<int> file_line;  // the script's line of each line after those two
  std::istringstream lines(d.device_script);
  int n = 0;
  for (std::string line; std::getline(lines, line);) {
    ++n;
    const std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const std::size_t end = line.find_first_of(" \t", start);
    // The port goes after the operation's name: "usb-data 0 ..." -> "usb-data 1-2 0 ...".
    text += line.substr(start, end - start) + " " + port + (end == std::string::npos ? "" : line.substr(end)) + "\n";
    file_line.push_back(n);
  }
  try {
    Scenario parsed = scenarios::parse_scenario(text, d.name);
    return std::move(parsed.devices.front().script);
  } catch (const scenarios::ParseError& e) {
    const std::size_t i = static_cast<std::size_t>(e.where().line) - 3;
    throw std::invalid_argument("driver '" + d.name + "': its device script does not parse: line " +
                                (i < file_line.size() ? std::to_string(file_line[i]) : std::string("?")) + ": " +
                                e.message());
  }
}

// Adds driver `d` to `s` with what it needs (its firmware files, a device on its bus: usb ports 1-1, 1-2... in the
// order of the calls, counted in `usb_ports`) and returns its target.
Target add_target(Scenario& s, const drivers::DriverInfo* d, int& usb_ports) {
  s.drivers.push_back(d->name);
  for (const std::string& fw : d->firmware) {
    bool have = false;
    for (const auto& [name, contents] : s.firmware)
      have = have || name == fw;
    if (!have) s.firmware.emplace_back(fw, "firmware");
  }
  Target t{d, d->bus == "usb" ? "1-" + std::to_string(++usb_ports) : d->name + "0", {}, {}};
  if (!d->node.empty()) t.nodes.push_back(d->node);
  t.nodes.insert(t.nodes.end(), d->more_nodes.begin(), d->more_nodes.end());
  // A module (a C driver) that binds no device has its nodes from its module_init; one that registers a bus
  // driver (a platform driver) gets a device as a bus driver does.
  if (!d->bus.empty()) s.devices.push_back({d->bus, t.id, d->device_modalias(), {}, device_script(*d, t.id)});
  return t;
}

// device_attributes, once per driver for the process (jobs generate cases on several threads).
const std::vector<std::string>& cached_attributes(const drivers::DriverInfo& d) {
  static std::mutex mu;
  static std::map<std::string, std::vector<std::string>> cache;
  {
    std::lock_guard lock(mu);
    if (auto it = cache.find(d.name); it != cache.end()) return it->second;
  }
  std::vector<std::string> found = device_attributes(d.name);
  std::lock_guard lock(mu);
  // LIFETIME: map nodes never move; entries are never erased.
  return cache.emplace(d.name, std::move(found)).first->second;
}

// The reason in a runner's set-up note ("note: usb 1-1 (M) had no driver bound when the tasks started: WHY").
std::string why_unbound(const std::string& note) {
  const std::string::size_type at = note.find("started: ");
  return at == std::string::npos ? note : note.substr(at + 9);
}

}  // namespace

std::vector<std::string> device_attributes(const std::string& name) {
  const drivers::DriverInfo* d = drivers::find_driver(name);
  if (d == nullptr || d->bus.empty()) return {};
  Scenario s;
  s.file = "fuzz-attributes-" + name + ".scn";
  int usb_ports = 0;
  const Target t = add_target(s, d, usb_ports);
  scenarios::SetUpNotes notes;
  notes.list_attributes = true;
  sim::ExploreOptions eo;
  eo.strategy.kind = sim::StrategyKind::Random;
  eo.strategy.seed = 1;
  eo.max_executions = 1;
  eo.world.step_budget = scenarios::default_step_budget(s);
  sim::explore(scenarios::make_model(s, &notes), eo);
  return notes.attributes[d->bus + " " + t.id];
}

std::vector<std::string> missing_nodes(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& name : names) {
    const drivers::DriverInfo* d = drivers::find_driver(name);
    if (d == nullptr) continue;
    Scenario base;
    base.file = "fuzz-nodes-" + name + ".scn";
    int usb_ports = 0;
    const Target t = add_target(base, d, usb_ports);
    // One execution per node (an execution keeps its first report): the open is expected to fail with -ENOENT, so
    // an unexpected-result report naming it says the node exists.
    for (const std::string& node : t.nodes) {
      Scenario s = base;
      Op open;
      open.kind = OpKind::Open;
      open.a = node;
      open.text = "open /dev/" + node;
      open.allowed = {-bus::kENOENT};
      open.allowed_data = {std::nullopt};  // one entry per allowed result, as the parser makes them
      s.tasks.push_back(Task{"check", {}, {open}});
      scenarios::Overrides o;
      o.strategy = sim::StrategyKind::Random;
      o.seed = 1;
      o.executions = 1;
      const scenarios::Verdict v = scenarios::run_scenario(s, o);
      // Any other report (a bug of the driver in its probe, a devsim limit) leaves it unknown: say nothing.
      if (!v.result.failures.empty() || !v.limits.empty()) continue;
      out.push_back(name + ": /dev/" + node + " does not exist once " +
                    (d->bus.empty()
                         ? std::string("the driver is loaded")
                         : "its " + d->bus + " device " + t.id + " (" + d->device_modalias() + ") is plugged") +
                    " (open: -ENOENT): every operation on it fails, and the campaign cannot reach the driver's "
                    "file operations. " +
                    (v.notes.empty() ? std::string("Is the node name right (NODE of devsim_add_c_driver; a USB class "
                                                   "driver's devnode callback may move its node)?")
                                     : "The device stayed unbound: " + why_unbound(v.notes.front()) + "."));
    }
  }
  return out;
}

Scenario generate(const drivers::DriverInfo& d, std::uint64_t seed) {
  const drivers::DriverInfo* pool[] = {&d};
  return generate_case(pool, seed);
}

Scenario generate(const drivers::DriverInfo& d, ChoiceSource& rng, std::uint64_t seed) {
  const drivers::DriverInfo* pool[] = {&d};
  return generate(pool, rng, seed);
}

Scenario generate_case(std::span<const drivers::DriverInfo* const> pool, std::uint64_t seed) {
  Rng rng(rng_seed(seed));
  return generate(pool, rng, seed);
}

Scenario generate(std::span<const drivers::DriverInfo* const> pool, ChoiceSource& rng, std::uint64_t seed) {
  if (pool.empty()) throw std::invalid_argument("fuzz: no driver to generate a case for");
  // The drivers of this case.
  std::vector<const drivers::DriverInfo*> chosen;
  if (pool.size() == 1 || rng.chance(12)) {
    chosen.assign(pool.begin(), pool.end());
  } else {
    std::vector<const drivers::DriverInfo*> rest(pool.begin(), pool.end());
    const std::size_t k = 2 + rng.below(std::min<std::size_t>(3, pool.size() - 1));
    for (std::size_t i = 0; i < k; ++i) {
      const std::size_t j = rng.below(rest.size());
      chosen.push_back(rest[j]);
      rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(j));
    }
  }
  Scenario s;
  s.file = "fuzz-" + (chosen.size() == 1 ? chosen[0]->name : std::to_string(chosen.size()) + "-drivers") + "-" +
           std::to_string(seed) + ".scn";
  std::vector<Target> targets;
  int usb_ports = 0;
  for (const drivers::DriverInfo* d : chosen) {
    targets.push_back(add_target(s, d, usb_ports));
    targets.back().attributes = cached_attributes(*d);
  }
  std::vector<std::size_t> with_nodes;
  for (std::size_t i = 0; i < targets.size(); ++i)
    if (!targets[i].nodes.empty()) with_nodes.push_back(i);
  // An ioctl name resolves (at parse time) to the first declared driver that has it: where another driver's
  // table would win, the case says the number instead.
  auto ioctl_name_fits = [&](const drivers::IoctlSpec& spec) {
    for (const Target& t : targets)
      for (const drivers::IoctlSpec& other : t.info->ioctls)
        if (other.name == spec.name) return other.cmd == spec.cmd;
    return false;
  };
  if (rng.chance(20)) s.fail_nth = 1 + rng.below(8);
  const int ntasks = 2 + static_cast<int>(rng.below(3));
  int fd_counter = 0;
  for (int ti = 0; ti < ntasks; ++ti) {
    Task task;
    task.name = "t" + std::to_string(ti);
    std::vector<FdVar> open_fds, closed_fds;
    const int nops = 1 + static_cast<int>(rng.below(6));
    for (int oi = 0; oi < nops; ++oi) {
      Op op;
      Pick p = pick(rng);
      // Operations on a descriptor need one: open first (valid by construction), except sometimes a closed one.
      const bool needs_fd = p == Pick::Ioctl || p == Pick::Read || p == Pick::Write || p == Pick::Poll ||
                            p == Pick::Mmap || p == Pick::Munmap || p == Pick::Close;
      if ((needs_fd && open_fds.empty() && (closed_fds.empty() || !rng.chance(15))) ||
          (p == Pick::Open && with_nodes.empty())) {
        p = !with_nodes.empty() ? Pick::Open : Pick::Sleep;
      }
      FdVar* fd = nullptr;
      if (needs_fd && p != Pick::Open && p != Pick::Sleep) {
        if (!open_fds.empty() && !(rng.chance(10) && !closed_fds.empty())) {
          // munmap prefers a mapped descriptor (the valid use), but not always (-EINVAL without a mapping).
          std::vector<std::size_t> mapped;
          for (std::size_t i = 0; i < open_fds.size(); ++i)
            if (open_fds[i].mapped) mapped.push_back(i);
          if (p == Pick::Munmap && !mapped.empty() && rng.chance(75))
            fd = &open_fds[mapped[rng.below(mapped.size())]];
          else
            fd = &open_fds[rng.below(open_fds.size())];
        } else {
          fd = &closed_fds[rng.below(closed_fds.size())];
        }
        op.fd = fd->name;
      }
      const Target& t = fd != nullptr ? targets[fd->target] : targets[rng.below(targets.size())];
      const std::string& bus = t.info->bus;
      const std::string& driver = t.info->name;
      // A module without a bus has no device to plug or bind: its device goes and comes back with the module
      // (unload, load).
      if (t.info->is_module() && bus.empty()) {
        if (p == Pick::Unplug || p == Pick::Unbind) p = Pick::Unload;
        if (p == Pick::Plug || p == Pick::Bind) p = Pick::Load;
        if (p == Pick::SysfsRead || p == Pick::SysfsWrite) p = Pick::Yield;
      }
      switch (p) {
        case Pick::Open: {
          const std::size_t ti_open = with_nodes[rng.below(with_nodes.size())];
          op.kind = OpKind::Open;
          op.a = targets[ti_open].nodes[rng.below(targets[ti_open].nodes.size())];
          op.bind = "fd" + std::to_string(fd_counter++);
          // Now and then a non-blocking open: reads that would wait return -EAGAIN instead.
          if (rng.chance(15)) op.number |= bus::kO_NONBLOCK;
          open_fds.push_back({op.bind, ti_open, false});
          break;
        }
        case Pick::Ioctl:
          op.kind = OpKind::Ioctl;
          if (!t.info->ioctls.empty()) {
            const drivers::IoctlSpec& spec = t.info->ioctls[rng.below(t.info->ioctls.size())];
            if (ioctl_name_fits(spec)) op.a = spec.name;
            op.number = spec.cmd;
            op.arg = rng.below(spec.max_arg + 1);
          } else {
            op.number = rng.below(4);
          }
          // A C driver's ioctl takes a user pointer to its struct (copy_from_user/copy_to_user): half the time the
          // argument is a user buffer of 1..8 bytes, small values first (offsets, indexes, flags).
          if (t.info->is_module() && rng.chance(50)) op.data = small_bytes(rng, 1 + rng.below(8));
          break;
        case Pick::Read:
        case Pick::Write:
          op.kind = p == Pick::Read ? OpKind::Read : OpKind::Write;
          op.number = 1 + rng.below(16);
          // What a C driver's write copies from user space: half the time bytes to parse rather than zeros.
          if (p == Pick::Write && t.info->is_module() && rng.chance(50)) op.data = small_bytes(rng, op.number);
          break;
        case Pick::Poll:
          op.kind = OpKind::Poll;
          break;
        case Pick::Mmap:
          op.kind = OpKind::Mmap;
          fd->mapped = true;
          break;
        case Pick::Munmap:
          op.kind = OpKind::Munmap;
          fd->mapped = false;
          break;
        case Pick::Close: {
          op.kind = OpKind::Close;
          FdVar closed = *fd;
          std::erase_if(open_fds, [&](const FdVar& v) { return v.name == closed.name; });
          if (std::none_of(closed_fds.begin(), closed_fds.end(), [&](const FdVar& v) { return v.name == closed.name; }))
            closed_fds.push_back(closed);
          break;
        }
        case Pick::Unplug:
          op.kind = OpKind::Unplug;
          op.a = bus;
          op.b = t.id;
          break;
        case Pick::Plug:
          op.kind = OpKind::Plug;
          op.a = bus;
          op.b = t.id;
          op.c = t.info->device_modalias();
          break;
        case Pick::Unbind:
        case Pick::Bind:
          op.kind = p == Pick::Unbind ? OpKind::Unbind : OpKind::Bind;
          op.a = driver;
          op.b = t.id;
          break;
        case Pick::SysfsRead: {
          // Attributes that exist, directories (-EIO), links followed, and a path that is not there.
          op.kind = OpKind::SysfsRead;
          const std::string drv_dir = "/sys/bus/" + bus + "/drivers/" + driver;
          const std::string dev_dir = "/sys/bus/" + bus + "/devices/" + t.id;
          const std::string paths[] = {drv_dir + "/bind",   drv_dir + "/" + t.id,       dev_dir,
                                       dev_dir + "/driver", dev_dir + "/driver/unbind", drv_dir + "/no_such_attribute"};
          // The driver's own attributes (their show racing an unplug is the classic), when its device has some.
          if (!t.attributes.empty() && rng.chance(60))
            op.a = dev_dir + "/" + t.attributes[rng.below(t.attributes.size())];
          else
            op.a = paths[rng.below(std::size(paths))];
          break;
        }
        case Pick::SysfsWrite: {
          // bind/unbind by their paths, through the device's driver link, and a value naming no device.
          op.kind = OpKind::SysfsWrite;
          const std::string drv_dir = "/sys/bus/" + bus + "/drivers/" + driver;
          const std::string paths[] = {drv_dir + "/bind", drv_dir + "/unbind",
                                       "/sys/bus/" + bus + "/devices/" + t.id + "/driver/unbind"};
          if (!t.attributes.empty() && rng.chance(60)) {
            // A store of the driver's: numbers in and out of range, a negative one, and text that is none.
            static const char* const kValues[] = {"0", "1", "7", "255", "256", "-1", "x", "99999999999"};
            op.a = "/sys/bus/" + bus + "/devices/" + t.id + "/" + t.attributes[rng.below(t.attributes.size())];
            op.b = kValues[rng.below(std::size(kValues))];
            break;
          }
          op.a = paths[rng.below(std::size(paths))];
          op.b = rng.chance(85) ? t.id : "no_such_device";
          break;
        }
        case Pick::Unload:
        case Pick::Load:
          op.kind = p == Pick::Unload ? OpKind::Unload : OpKind::Load;
          op.a = driver;
          break;
        case Pick::Irq:
          op.kind = OpKind::Irq;
          // Half the time a line the driver's device is described with, when it has some.
          if (!t.info->irqs.empty() && rng.chance(50))
            op.number = t.info->irqs[rng.below(t.info->irqs.size())];
          else
            op.number = rng.chance(50) ? 32 : rng.below(8);
          break;
        case Pick::Sleep:
          op.kind = OpKind::Sleep;
          op.number = (1 + rng.below(3)) * 1'000'000;
          break;
        case Pick::Yield:
          op.kind = OpKind::Yield;
          break;
        case Pick::Signal:
          // A signal to any task of the case (itself included): interruptible waits there return -ERESTARTSYS.
          op.kind = OpKind::Signal;
          op.a = "t" + std::to_string(rng.below(static_cast<std::uint64_t>(ntasks)));
          break;
        case Pick::UsbData: {
          // The device at the target's port sends 1..12 bytes, mostly on its interrupt-in endpoint, else on
          // bulk-in or as the data of the next control transfer (a port with nothing plugged, for a target on
          // another bus: -ENODEV).
          op.kind = OpKind::UsbData;
          op.a = t.info->bus == "usb" ? t.id : "1-1";
          if (rng.chance(30)) {
            static constexpr unsigned kIn[] = {bus::kUsbEndpointBulkIn, bus::kUsbEndpointControl};
            op.arg = kIn[rng.below(std::size(kIn))];
            op.b = op.arg == 0 ? "0" : "0x82";
          }
          std::string bytes(1 + rng.below(12), 'a');
          for (char& c : bytes)
            c = static_cast<char>('a' + rng.below(26));
          op.number = bytes.size();
          op.data = std::move(bytes);
          break;
        }
        case Pick::UsbError: {
          // The device fails (or stalls) the next transfer on one of its endpoints.
          op.kind = OpKind::UsbError;
          op.a = t.info->bus == "usb" ? t.id : "1-1";
          static constexpr std::pair<unsigned, const char*> kEndpoints[] = {{bus::kUsbEndpointIntIn, "0x81"},
                                                                            {bus::kUsbEndpointBulkIn, "0x82"},
                                                                            {bus::kUsbEndpointBulkOut, "0x02"},
                                                                            {bus::kUsbEndpointIntOut, "0x01"},
                                                                            {bus::kUsbEndpointControl, "0"}};
          const auto& [ep, text] = kEndpoints[rng.below(std::size(kEndpoints))];
          op.arg = ep;
          op.b = text;
          static constexpr int kStatuses[] = {71 /* EPROTO */, 32 /* EPIPE */, 84 /* EILSEQ */, 62 /* ETIME */};
          op.number = static_cast<std::uint64_t>(kStatuses[rng.below(std::size(kStatuses))]);
          break;
        }
      }
      task.ops.push_back(std::move(op));
    }
    s.tasks.push_back(std::move(task));
  }
  s.strategy.kind = sim::StrategyKind::Random;
  s.strategy.seed = seed;
  s.executions = 1;
  // Round trip through the text: the case is exactly what a reproducer will say, and the parser vouches for it.
  return scenarios::parse_scenario(scenarios::to_text(s), s.file);
}

std::string access_site(const sim::Report& r) {
  if (!r.accessed_by || !r.accessed_by->site) return {};
  return sim::describe(*r.accessed_by->site);
}

std::string root_cause(const sim::Report& r) {
  const std::string alloc = r.allocated_by && r.allocated_by->site ? sim::site_location(*r.allocated_by->site) : "";
  const std::string freed = r.freed_by && r.freed_by->site ? sim::site_location(*r.freed_by->site) : "";
  if (!alloc.empty() || !freed.empty()) return r.kind + "|alloc " + alloc + "|free " + freed;
  // No object behind it: the kind and where it was reported (the headline when the report names no site).
  if (r.accessed_by && r.accessed_by->site) return r.kind + "|at " + sim::site_location(*r.accessed_by->site);
  return r.kind + "|" + r.headline;
}

namespace {

// Runs one case: alternating random and PCT schedules. Returns the failures (first report of each signature).
struct CaseRun {
  std::uint64_t executions = 0;
  std::vector<sim::Failure> failures;
};

CaseRun run_case(const Scenario& s, std::uint64_t seed, const CaseSettings& settings) {
  CaseRun out;
  scenarios::Overrides o;
  const std::uint64_t half = std::max<std::uint64_t>(1, settings.executions / 2);
  for (int round = 0; round < 2; ++round) {
    o.strategy = round == 0 ? sim::StrategyKind::Random : sim::StrategyKind::Pct;
    o.seed = seed + static_cast<std::uint64_t>(round);
    o.executions = half;
    o.pct_depth = 2 + static_cast<int>(seed % 2);
    scenarios::Verdict v = scenarios::run_scenario(s, o);
    out.executions += v.result.executions;
    for (sim::Failure& f : v.result.failures) {
      bool seen = false;
      for (sim::Failure& g : out.failures) {
        if (g.signature == f.signature) {
          g.count += f.count;
          seen = true;
        }
      }
      if (!seen) out.failures.push_back(std::move(f));
    }
  }
  return out;
}

// The report with root cause `key` among a verdict's failures.
std::optional<sim::Report> find_key(const scenarios::Verdict& v, const std::string& key) {
  for (const sim::Failure& f : v.result.failures)
    if (root_cause(f.report) == key) return f.report;
  return std::nullopt;
}

// Replays `schedule` on `s`: the report with root cause `key` it gives (its own recorded schedule included), if
// any. A schedule that does not fit the scenario is no reproduction, however the replay says so.
std::optional<sim::Report> replay(const Scenario& s, const sim::Schedule& schedule, const std::string& key) {
  try {
    Scenario c = s;
    c.schedule = schedule;
    const scenarios::Verdict v = scenarios::run_scenario(c);
    // A replay that left the schedule (a recorded choice could not be taken) went on with default choices: whatever
    // it reports, the schedule written would not replay it.
    if (!v.divergence.empty()) return std::nullopt;
    return find_key(v, key);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Explores `s` again (three seeds, random and PCT) for a report with root cause `key` whose recorded schedule
// replays: a smaller case may need a different schedule to show the same bug.
// `exhaustive_budget`: executions the bounded exhaustive search below may still spend in this shrink (null: none).
std::optional<sim::Report> rediscover(const Scenario& s, const std::string& key, const CaseSettings& settings,
                                      std::uint64_t* exhaustive_budget = nullptr) {
  for (std::uint64_t seed : {1, 2, 3}) {
    CaseRun r;
    try {
      r = run_case(s, seed, settings);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    for (const sim::Failure& f : r.failures) {
      if (root_cause(f.report) != key) continue;
      if (auto again = replay(s, f.report.schedule, key)) return again;
    }
  }
  // A rare interleaving (one schedule in thousands) that a few random and PCT schedules miss: every schedule of a
  // small candidate within two preemptions, up to a cap, within the shrink's budget. Only small ones: their
  // schedules are few (a large case shrinks first by what random schedules find); and a budget, since every
  // candidate that lacks the bug pays its whole search.
  constexpr std::size_t kExhaustiveMaxOps = 8;
  constexpr std::uint64_t kExhaustiveCap = 4000;
  if (exhaustive_budget == nullptr || *exhaustive_budget == 0 || count_ops(s) > kExhaustiveMaxOps) return std::nullopt;
  scenarios::Overrides o;
  o.strategy = sim::StrategyKind::Exhaustive;
  o.preemptions = 2;
  o.executions = std::min(kExhaustiveCap, *exhaustive_budget);
  try {
    const scenarios::Verdict v = scenarios::run_scenario(s, o);
    *exhaustive_budget -= std::min(*exhaustive_budget, v.result.executions);
    if (auto found = find_key(v, key)) return replay(s, found->schedule, key);
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

// Drops ops that use a descriptor no remaining open binds (the parser would reject them).
void drop_orphans(Task& t) {
  std::vector<std::string> bound;
  std::vector<Op> kept;
  for (Op& op : t.ops) {
    if (!op.fd.empty() && std::find(bound.begin(), bound.end(), op.fd) == bound.end()) continue;
    if (!op.bind.empty()) bound.push_back(op.bind);
    kept.push_back(std::move(op));
  }
  t.ops = std::move(kept);
}

Scenario reparse(const Scenario& s) {
  Scenario copy = s;
  copy.schedule.reset();
  copy.expectations.clear();
  return scenarios::parse_scenario(scenarios::to_text(copy), s.file);
}

std::string reproducer_text(const Scenario& s, const sim::Schedule& schedule, const sim::Report& report,
                            const std::string& note) {
  Scenario c = s;
  c.schedule = schedule;
  std::string text = "# Reproducer written by devsim fuzz: it replays one execution that reports\n#   " +
                     report.headline + "\n# and declares no bug, so replaying it fails until the driver is fixed.\n";
  if (!note.empty()) text += "# Not shrunk (fully): " + note + "\n";
  return text + scenarios::to_text(c);
}

// What the calling thread's current case is, for the crash handler (see current_case_description).
thread_local char t_case_description[512] = "";

void describe_case(const Scenario& s, std::uint64_t seed) {
  std::string d = "driver(s)";
  for (const std::string& name : s.drivers)
    d += " " + name;
  d += ", case seed " + std::to_string(seed);
  const std::size_t n = std::min(d.size(), sizeof t_case_description - 1);
  // INVARIANT: the terminator is written first and last, so a signal arriving in between reads a valid string.
  t_case_description[0] = '\0';
  std::memcpy(t_case_description + 1, d.data() + 1, n > 0 ? n - 1 : 0);
  t_case_description[n] = '\0';
  if (n > 0) t_case_description[0] = d[0];
}

void clear_case() {
  t_case_description[0] = '\0';
}

}  // namespace

const char* current_case_description() {
  return t_case_description;
}

ShrinkResult shrink(const Scenario& failing, const sim::Report& report, const CaseSettings& settings,
                    const std::atomic<bool>* cancel) {
  const std::string key = root_cause(report);
  auto cancelled = [&] { return cancel != nullptr && cancel->load(); };
  ShrinkResult out;
  // The bounded exhaustive searches of rediscover() share this many executions per shrink.
  std::uint64_t exhaustive_budget = 12'000;
  Scenario best = reparse(failing);
  // Start from the recorded execution: replay it first. Only if it does not replay is the case explored again.
  sim::Schedule sched = report.schedule;
  if (auto r = replay(best, sched, key)) {
    sched = r->schedule;
  } else if (auto again = rediscover(best, key, settings, &exhaustive_budget)) {
    sched = again->schedule;
  } else {
    out.reproducer = reproducer_text(best, report.schedule, report,
                                     "its recorded schedule did not replay to the same bug, and exploring the "
                                     "case again did not find it (the execution depends on more than its "
                                     "schedule: state kept between executions?)");
    out.ops_after = count_ops(best);
    out.note = "the recorded schedule did not replay to the same bug";
    return out;
  }
  // INVARIANT from here on: replay(best, sched, key) reports the bug.
  // A smaller candidate is kept if the current schedule still shows the bug on it, or exploring finds a
  // schedule that does (and replays).
  auto accept = [&](const Scenario& candidate) {
    Scenario c;
    try {
      c = reparse(candidate);
    } catch (const std::exception&) {
      return false;
    }
    if (auto r = replay(c, sched, key)) {
      if (auto confirmed = replay(c, r->schedule, key)) {
        best = std::move(c);
        sched = confirmed->schedule;
        return true;
      }
    }
    if (auto r = rediscover(c, key, settings, &exhaustive_budget)) {
      best = std::move(c);
      sched = r->schedule;
      return true;
    }
    return false;
  };
  bool interrupted = false;
  // Layer 1: the operation sequence (delta debugging, one element at a time until nothing more goes).
  bool progress = true;
  while (progress && !interrupted) {
    progress = false;
    // Drop whole tasks.
    for (std::size_t ti = 0; ti < best.tasks.size() && best.tasks.size() > 1; ++ti) {
      if ((interrupted = cancelled())) break;
      Scenario c = best;
      c.tasks.erase(c.tasks.begin() + static_cast<std::ptrdiff_t>(ti));
      if (accept(c)) {
        progress = true;
        --ti;
      }
    }
    // Drop single operations.
    for (std::size_t ti = 0; ti < best.tasks.size() && !interrupted; ++ti) {
      for (std::size_t oi = 0; oi < best.tasks[ti].ops.size(); ++oi) {
        if ((interrupted = cancelled())) break;
        Scenario c = best;
        c.tasks[ti].ops.erase(c.tasks[ti].ops.begin() + static_cast<std::ptrdiff_t>(oi));
        drop_orphans(c.tasks[ti]);
        if (c.tasks[ti].ops.empty()) c.tasks.erase(c.tasks.begin() + static_cast<std::ptrdiff_t>(ti));
        if (c.tasks.empty()) continue;
        if (accept(c)) {
          progress = true;
          if (ti >= best.tasks.size()) break;
          --oi;
        }
      }
    }
    // Simplify: no fault injection if the bug does not need it.
    if (best.fail_nth != 0 && !interrupted) {
      Scenario c = best;
      c.fail_nth = 0;
      if (accept(c)) progress = true;
    }
    if (!interrupted) interrupted = cancelled();
  }
  // Layer 2: the schedule. Keep the shortest prefix that still replays the failure (default choices follow a
  // prefix: no preemption), then drop single choices.
  if (!interrupted) {
    std::size_t lo = 0, hi = sched.size();
    while (lo < hi) {
      std::size_t mid = (lo + hi) / 2;
      if (replay(best, sim::Schedule(sched.begin(), sched.begin() + static_cast<std::ptrdiff_t>(mid)), key))
        hi = mid;
      else
        lo = mid + 1;
    }
    if (lo < sched.size()) sched.resize(lo);
    for (std::size_t i = sched.size(); i-- > 0;) {
      if ((interrupted = cancelled())) break;
      sim::Schedule c = sched;
      c.erase(c.begin() + static_cast<std::ptrdiff_t>(i));
      if (replay(best, c, key)) sched = std::move(c);
    }
  }
  // The schedule written is one that was replayed last (the invariant); check once more all the same.
  if (!replay(best, sched, key)) {
    out.reproducer = reproducer_text(reparse(failing), report.schedule, report,
                                     "the shrunk case stopped replaying; this is the generated case");
    out.ops_after = count_ops(failing);
    out.note = "the shrunk case stopped replaying";
    return out;
  }
  out.ops_after = count_ops(best);
  out.shrunk = !interrupted;
  out.note = interrupted ? "shrinking was interrupted (the campaign was stopped)" : "";
  out.reproducer = reproducer_text(best, sched, report, out.note);
  return out;
}

CampaignResult run_campaign(const CampaignOptions& o) {
  std::vector<const drivers::DriverInfo*> pool;
  for (const std::string& name : o.drivers.empty() ? std::vector<std::string>{o.driver} : o.drivers) {
    const drivers::DriverInfo* d = drivers::find_driver(name);
    if (d == nullptr) throw std::invalid_argument("unknown driver '" + name + "'");
    if (std::find(pool.begin(), pool.end(), d) == pool.end()) pool.push_back(d);
  }
  if (o.shards == 0 || o.shard >= o.shards) throw std::invalid_argument("bad shard");
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };

  // A finished case waiting for its turn to be committed (cases commit in claim order).
  struct Outcome {
    std::uint64_t number = 0, seed = 0;
    Scenario scenario;  // kept only when it failed
    CaseRun run;
  };
  struct ToShrink {
    std::size_t index;
    std::uint64_t seed;
    Scenario scenario;
    sim::Report report;
  };

  std::mutex mu;
  CampaignResult result;
  std::map<std::uint64_t, Outcome> pending;  // by claim number
  std::uint64_t next_commit = 0;
  std::map<std::string, std::size_t> by_key;  // root cause -> findings index
  std::atomic<std::uint64_t> executions{0}, cases{0}, next_claim{0};
  std::atomic<std::size_t> bugs{0};
  std::atomic<bool> stop{false};    // end now (an error, or a finding that ends the campaign was shrunk)
  std::atomic<bool> closed{false};  // no further case is committed (the budget is spent, or a stop finding)
  std::exception_ptr error;
  auto cancelled = [&] { return o.cancel != nullptr && o.cancel->load(); };
  auto out_of_budget = [&] {
    return stop.load() || closed.load() || cancelled() || (o.seconds > 0 && elapsed() >= o.seconds);
  };
  auto ends_campaign = [&](const sim::Report& r) {
    return o.stop_at_first || (!o.stop_at_kind.empty() && r.kind == o.stop_at_kind);
  };

  // Commits the finished cases that are next in order. Called with `mu` held; returns the new findings.
  auto commit = [&](std::vector<ToShrink>& todo) {
    for (auto it = pending.find(next_commit); it != pending.end() && !closed.load(); it = pending.find(next_commit)) {
      Outcome& c = it->second;
      executions += c.run.executions;
      ++cases;
      ++next_commit;
      for (sim::Failure& f : c.run.failures) {
        const std::string key = root_cause(f.report);
        const std::string site = access_site(f.report);
        if (auto known = by_key.find(key); known != by_key.end()) {
          Finding& k = result.findings[known->second];
          k.count += f.count;
          if (!site.empty() && std::find(k.access_sites.begin(), k.access_sites.end(), site) == k.access_sites.end())
            k.access_sites.push_back(site);
          continue;
        }
        Finding nf;
        nf.index = result.findings.size() + 1;
        nf.key = key;
        nf.signature = f.signature;
        nf.report = f.report;
        if (!site.empty()) nf.access_sites.push_back(site);
        nf.drivers = c.scenario.drivers;
        nf.case_number = c.number;
        nf.case_seed = c.seed;
        nf.first_execution = executions.load();
        nf.first_seconds = elapsed();
        nf.ops_before = count_ops(c.scenario);
        nf.count = f.count;
        by_key.emplace(key, result.findings.size());
        result.findings.push_back(std::move(nf));
        bugs = result.findings.size();
        todo.push_back({result.findings.size() - 1, c.seed, c.scenario, f.report});
        // A finding that ends the campaign is the last one committed: what comes after it is never numbered.
        if (ends_campaign(f.report)) closed = true;
      }
      pending.erase(it);
      if (o.executions != 0 && executions.load() >= o.executions) closed = true;
    }
    if (closed.load()) pending.clear();  // cases run beyond the end: not part of the campaign
  };

  auto worker = [&] {
    try {
      while (!out_of_budget()) {
        // Case numbers are global; this shard takes every shards-th; the case's seed derives from it and the
        // campaign seed, so the same command on N machines covers disjoint cases.
        const std::uint64_t i = next_claim.fetch_add(1);
        const std::uint64_t case_no = i * o.shards + o.shard;
        const std::uint64_t seed = o.seed * 1'000'003 + case_no;  // wraps modulo 2^64, deterministically
        Outcome out;
        out.number = case_no;
        out.seed = seed;
        out.scenario = generate_case(pool, seed);
        describe_case(out.scenario, seed);
        out.run = run_case(out.scenario, seed, o.cases);
        clear_case();
        if (out.run.failures.empty()) out.scenario = Scenario{};
        std::vector<ToShrink> todo;
        {
          std::lock_guard lock(mu);
          if (!closed.load()) pending.emplace(i, std::move(out));
          commit(todo);
        }
        for (ToShrink& t : todo) {
          describe_case(t.scenario, t.seed);
          ShrinkResult sr = shrink(t.scenario, t.report, o.cases, o.cancel);
          clear_case();
          std::lock_guard lock(mu);
          Finding& f = result.findings[t.index];
          f.reproducer = std::move(sr.reproducer);
          f.ops_after = sr.ops_after;
          f.shrunk = sr.shrunk;
          f.note = std::move(sr.note);
          if (f.reproducer.empty()) {
            // Never the case (shrink keeps the generated case), but a finding must not end without a file.
            Scenario original = t.scenario;
            original.schedule = t.report.schedule;
            f.reproducer = scenarios::to_text(original);
          }
          if (o.on_finding) o.on_finding(f);
          if (ends_campaign(f.report)) stop = true;
        }
      }
    } catch (...) {
      clear_case();
      std::lock_guard lock(mu);
      if (!error) error = std::current_exception();
      stop = true;
    }
  };

  std::thread progress_thread;
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  std::vector<std::thread> threads;
  auto finish_threads = [&] {
    for (std::thread& t : threads)
      t.join();
    {
      std::lock_guard lock(done_mu);
      done = true;
    }
    done_cv.notify_all();
    if (progress_thread.joinable()) progress_thread.join();
  };
  try {
    for (unsigned j = 1; j < std::max(1u, o.jobs); ++j)
      threads.emplace_back(worker);
    if (o.progress) {
      progress_thread = std::thread([&] {
        std::unique_lock lock(done_mu);
        // A display refresh every half second; the campaign's end wakes it at once.
        while (!done_cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return done; }))
          o.progress(executions.load(), cases.load(), bugs.load(), elapsed());
      });
    }
  } catch (const std::system_error& e) {
    // Out of threads (or memory for their stacks): stop those already running, then say so.
    stop = true;
    finish_threads();
    throw std::runtime_error("cannot start " + std::to_string(o.jobs) + " fuzzing jobs (" +
                             std::to_string(threads.size() + 1) + " started): " + e.what());
  }
  // The calling thread works too.
  worker();
  finish_threads();
  if (error) std::rethrow_exception(error);
  result.executions = executions.load();
  result.cases = cases.load();
  result.seconds = elapsed();
  result.cancelled = cancelled();
  return result;
}

}  // namespace devsim::fuzz
