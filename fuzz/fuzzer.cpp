#include "fuzz/fuzzer.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

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

// Weights of the operation menu: users of the node most of the time, the hotplug and driver-model operations
// often enough to race with them.
enum class Pick { Open, Ioctl, Read, Write, Poll, Mmap, Close, Unplug, Plug, Unbind, Bind, Unload, Load, Irq, Sleep };
constexpr std::pair<Pick, unsigned> kMenu[] = {
    {Pick::Open, 14}, {Pick::Ioctl, 22}, {Pick::Read, 5},   {Pick::Write, 5}, {Pick::Poll, 4},
    {Pick::Mmap, 3},  {Pick::Close, 12}, {Pick::Unplug, 9}, {Pick::Plug, 4},  {Pick::Unbind, 4},
    {Pick::Bind, 3},  {Pick::Unload, 2}, {Pick::Load, 1},   {Pick::Irq, 4},   {Pick::Sleep, 3},
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

}  // namespace

Scenario generate(const drivers::DriverInfo& d, std::uint64_t seed) {
  Rng rng(seed * 0x9e3779b97f4a7c15ULL + 0x5bd1e995);
  return generate(d, rng, seed);
}

Scenario generate(const drivers::DriverInfo& d, ChoiceSource& rng, std::uint64_t seed) {
  Scenario s;
  s.file = "fuzz-" + d.name + "-" + std::to_string(seed) + ".scn";
  s.drivers.push_back(d.name);
  for (const std::string& fw : d.firmware)
    s.firmware.emplace_back(fw, "firmware");
  const bool usb = d.bus == "usb";
  const std::string id = usb ? "1-1" : d.name + "0";
  s.devices.push_back({d.bus, id, d.name, {}});
  if (rng.chance(20)) s.fail_nth = 1 + rng.below(8);
  std::vector<std::string> nodes;
  if (!d.node.empty()) nodes.push_back(d.node);
  nodes.insert(nodes.end(), d.more_nodes.begin(), d.more_nodes.end());
  const bool has_node = !nodes.empty();
  const int ntasks = 2 + static_cast<int>(rng.below(3));
  int fd_counter = 0;
  for (int ti = 0; ti < ntasks; ++ti) {
    Task t;
    t.name = "t" + std::to_string(ti);
    std::vector<std::string> open_fds, closed_fds;
    const int nops = 1 + static_cast<int>(rng.below(5));
    for (int oi = 0; oi < nops; ++oi) {
      Op op;
      Pick p = pick(rng);
      // Operations on a descriptor need one: open first (valid by construction), except sometimes a closed one.
      bool needs_fd = p == Pick::Ioctl || p == Pick::Read || p == Pick::Write || p == Pick::Poll || p == Pick::Mmap ||
                      p == Pick::Close;
      if ((needs_fd && open_fds.empty() && (closed_fds.empty() || !rng.chance(15))) || (p == Pick::Open && !has_node)) {
        p = has_node ? Pick::Open : Pick::Sleep;
      }
      std::string fd;
      if (needs_fd && p != Pick::Open && p != Pick::Sleep) {
        if (!open_fds.empty() && !(rng.chance(10) && !closed_fds.empty()))
          fd = open_fds[rng.below(open_fds.size())];
        else
          fd = closed_fds[rng.below(closed_fds.size())];
      }
      switch (p) {
        case Pick::Open:
          op.kind = OpKind::Open;
          op.a = nodes[rng.below(nodes.size())];
          op.bind = "fd" + std::to_string(fd_counter++);
          open_fds.push_back(op.bind);
          break;
        case Pick::Ioctl:
          op.kind = OpKind::Ioctl;
          op.fd = fd;
          if (!d.ioctls.empty()) {
            const drivers::IoctlSpec& spec = d.ioctls[rng.below(d.ioctls.size())];
            op.a = spec.name;
            op.number = spec.cmd;
            op.arg = rng.below(spec.max_arg + 1);
          } else {
            op.number = rng.below(4);
          }
          break;
        case Pick::Read:
        case Pick::Write:
          op.kind = p == Pick::Read ? OpKind::Read : OpKind::Write;
          op.fd = fd;
          op.number = 1 + rng.below(16);
          break;
        case Pick::Poll:
          op.kind = OpKind::Poll;
          op.fd = fd;
          break;
        case Pick::Mmap:
          op.kind = OpKind::Mmap;
          op.fd = fd;
          break;
        case Pick::Close:
          op.kind = OpKind::Close;
          op.fd = fd;
          std::erase(open_fds, fd);
          closed_fds.push_back(fd);
          break;
        case Pick::Unplug:
          op.kind = OpKind::Unplug;
          op.a = d.bus;
          op.b = id;
          break;
        case Pick::Plug:
          op.kind = OpKind::Plug;
          op.a = d.bus;
          op.b = id;
          op.c = d.name;
          break;
        case Pick::Unbind:
        case Pick::Bind:
          op.kind = p == Pick::Unbind ? OpKind::Unbind : OpKind::Bind;
          op.a = d.name;
          op.b = id;
          break;
        case Pick::Unload:
        case Pick::Load:
          op.kind = p == Pick::Unload ? OpKind::Unload : OpKind::Load;
          op.a = d.name;
          break;
        case Pick::Irq:
          op.kind = OpKind::Irq;
          op.number = rng.chance(50) ? 32 : rng.below(8);
          break;
        case Pick::Sleep:
          op.kind = OpKind::Sleep;
          op.number = (1 + rng.below(3)) * 1'000'000;
          break;
      }
      t.ops.push_back(std::move(op));
    }
    s.tasks.push_back(std::move(t));
  }
  s.strategy.kind = sim::StrategyKind::Random;
  s.strategy.seed = seed;
  s.executions = 1;
  // Round trip through the text: the case is exactly what a reproducer will say, and the parser vouches for it.
  return scenarios::parse_scenario(scenarios::to_text(s), s.file);
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
      for (const sim::Failure& g : out.failures)
        seen = seen || g.signature == f.signature;
      if (!seen) out.failures.push_back(std::move(f));
    }
  }
  return out;
}

bool reproduces(const Scenario& s, const std::string& signature, const CaseSettings& settings, sim::Report* report) {
  // Several seeds: a smaller case may need a different schedule to show the same bug.
  for (std::uint64_t seed : {1, 2, 3}) {
    CaseRun r = run_case(s, seed, settings);
    for (const sim::Failure& f : r.failures) {
      if (f.signature == signature) {
        if (report != nullptr) *report = f.report;
        return true;
      }
    }
  }
  return false;
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

}  // namespace

std::string shrink(const Scenario& failing, const std::string& signature, const CaseSettings& settings,
                   std::size_t* ops_after) {
  Scenario best = reparse(failing);
  sim::Report report;
  if (!reproduces(best, signature, settings, &report)) return {};
  // Layer 1: the operation sequence (delta debugging, one element at a time until nothing more goes).
  bool progress = true;
  while (progress) {
    progress = false;
    // Drop whole tasks.
    for (std::size_t ti = 0; ti < best.tasks.size() && best.tasks.size() > 1; ++ti) {
      Scenario c = best;
      c.tasks.erase(c.tasks.begin() + static_cast<std::ptrdiff_t>(ti));
      if (reproduces(c, signature, settings, &report)) {
        best = reparse(c);
        progress = true;
        --ti;
      }
    }
    // Drop single operations.
    for (std::size_t ti = 0; ti < best.tasks.size(); ++ti) {
      for (std::size_t oi = 0; oi < best.tasks[ti].ops.size(); ++oi) {
        Scenario c = best;
        c.tasks[ti].ops.erase(c.tasks[ti].ops.begin() + static_cast<std::ptrdiff_t>(oi));
        drop_orphans(c.tasks[ti]);
        if (c.tasks[ti].ops.empty()) c.tasks.erase(c.tasks.begin() + static_cast<std::ptrdiff_t>(ti));
        if (c.tasks.empty()) continue;
        if (reproduces(c, signature, settings, &report)) {
          best = reparse(c);
          progress = true;
          if (ti >= best.tasks.size()) break;
          --oi;
        }
      }
    }
    // Simplify: no fault injection if the bug does not need it.
    if (best.fail_nth != 0) {
      Scenario c = best;
      c.fail_nth = 0;
      if (reproduces(c, signature, settings, &report)) {
        best = reparse(c);
        progress = true;
      }
    }
  }
  // Layer 2: the schedule. The report's schedule replays the failure; keep the shortest prefix that still does
  // (default choices follow a prefix: no preemption), then drop single choices.
  sim::Schedule sched = report.schedule;
  auto replays = [&](const sim::Schedule& candidate) {
    Scenario c = best;
    c.schedule = candidate;
    scenarios::Verdict v = scenarios::run_scenario(c);
    for (const sim::Failure& f : v.result.failures)
      if (f.signature == signature) return true;
    return false;
  };
  if (!replays(sched)) return {};
  std::size_t lo = 0, hi = sched.size();
  while (lo < hi) {
    std::size_t mid = (lo + hi) / 2;
    if (replays(sim::Schedule(sched.begin(), sched.begin() + static_cast<std::ptrdiff_t>(mid))))
      hi = mid;
    else
      lo = mid + 1;
  }
  sched.resize(lo);
  for (std::size_t i = sched.size(); i-- > 0;) {
    sim::Schedule c = sched;
    c.erase(c.begin() + static_cast<std::ptrdiff_t>(i));
    if (replays(c)) sched = std::move(c);
  }
  best.schedule = sched;
  *ops_after = count_ops(best);
  std::string text = "# Reproducer written by devsim fuzz: it replays one execution that reports\n#   " +
                     report.headline + "\n# and declares no bug, so replaying it fails until the driver is fixed.\n";
  return text + scenarios::to_text(best);
}

CampaignResult run_campaign(const CampaignOptions& o) {
  const drivers::DriverInfo* d = drivers::find_driver(o.driver);
  if (d == nullptr) throw std::invalid_argument("unknown driver '" + o.driver + "'");
  if (o.shards == 0 || o.shard >= o.shards) throw std::invalid_argument("bad shard");
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };

  std::mutex mu;
  CampaignResult result;
  std::atomic<std::uint64_t> executions{0}, cases{0}, next_case{0};
  std::atomic<bool> stop{false};
  auto out_of_budget = [&] {
    return stop.load() || (o.executions != 0 && executions.load() >= o.executions) ||
           (o.seconds > 0 && elapsed() >= o.seconds);
  };
  auto worker = [&] {
    while (!out_of_budget()) {
      // Case numbers are global; this shard takes every shards-th; the case's seed derives from it and the
      // campaign seed, so the same command on N machines covers disjoint cases.
      std::uint64_t i = next_case.fetch_add(1);
      std::uint64_t case_no = i * o.shards + o.shard;
      std::uint64_t seed = o.seed * 1'000'003 + case_no;
      Scenario s = generate(*d, seed);
      CaseRun r = run_case(s, seed, o.cases);
      executions += r.executions;
      ++cases;
      for (const sim::Failure& f : r.failures) {
        {
          std::lock_guard lock(mu);
          bool known = false;
          for (Finding& k : result.findings) {
            if (k.signature == f.signature) {
              k.count += f.count;
              known = true;
            }
          }
          if (known) continue;
          Scenario original = s;
          original.schedule = f.report.schedule;
          result.findings.push_back(Finding{f.signature,
                                            f.report,
                                            executions.load(),
                                            elapsed(),
                                            count_ops(s),
                                            0,
                                            {},
                                            scenarios::to_text(original),
                                            f.count});
        }
        std::size_t after = 0;
        std::string repro = shrink(s, f.signature, o.cases, &after);
        if (repro.empty()) {
          // The shrinker's seeds did not show the failure again; the case with its recorded schedule replays it
          // exactly, so that (unshrunk) is the reproducer.
          Scenario exact = s;
          exact.schedule = f.report.schedule;
          scenarios::Verdict v = scenarios::run_scenario(exact);
          for (const sim::Failure& g : v.result.failures) {
            if (g.signature == f.signature && repro.empty()) {
              repro = scenarios::to_text(exact);
              after = count_ops(s);
            }
          }
        }
        std::lock_guard lock(mu);
        for (Finding& k : result.findings) {
          if (k.signature == f.signature) {
            k.reproducer = repro;
            k.ops_after = after;
          }
        }
        if (o.stop_at_first || (!o.stop_at_kind.empty() && f.report.kind == o.stop_at_kind)) stop = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned j = 1; j < std::max(1u, o.jobs); ++j)
    threads.emplace_back(worker);
  // The calling thread works too, and reports progress between cases.
  std::thread progress_thread;
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  if (o.progress) {
    progress_thread = std::thread([&] {
      std::unique_lock lock(done_mu);
      // A display refresh every half second; the campaign's end wakes it at once.
      while (!done_cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return done; })) {
        std::size_t bugs;
        {
          std::lock_guard findings_lock(mu);
          bugs = result.findings.size();
        }
        o.progress(executions.load(), cases.load(), bugs, elapsed());
      }
    });
  }
  worker();
  for (std::thread& t : threads)
    t.join();
  {
    std::lock_guard lock(done_mu);
    done = true;
  }
  done_cv.notify_all();
  if (progress_thread.joinable()) progress_thread.join();
  result.executions = executions.load();
  result.cases = cases.load();
  result.seconds = elapsed();
  return result;
}

}  // namespace devsim::fuzz
