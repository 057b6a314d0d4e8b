#include "scenarios/stress.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "bus/driver.hpp"
#include "bus/errno.hpp"
#include "bus/firmware.hpp"
#include "core/signal.hpp"
#include "drivers/registry.hpp"
#include "scenarios/operations.hpp"
#include "sim/machine.hpp"
#include "sim/native_report.hpp"

namespace devsim::scenarios {

namespace {

std::string at(const Scenario& s, Location l) {
  return s.file + ":" + std::to_string(l.line) + ":" + std::to_string(l.column) + ": ";
}

// The delay at an operation boundary: none, a yield of the CPU, or a sleep of up to max_delay_us.
void random_delay(std::mt19937_64& rng, std::uint32_t max_delay_us) {
  if (max_delay_us == 0) return;
  switch (rng() % 3) {
    case 0:
      return;
    case 1:
      std::this_thread::yield();
      return;
    default:
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % (max_delay_us + 1)));
  }
}

// A result outside the allowed ones, in the simulator's words (operations.hpp), as a native report.
void report_unexpected(const Scenario& s, const Task& t, const Op& op, const std::string& headline) {
  sim::native::report("unexpected-result",
                      headline + "\n  task " + t.name + ", at " + s.file + ":" + std::to_string(op.at.line));
}

// The signal state of an iteration's tasks, one per task of the scenario (in its order).
using Signals = std::vector<core::NativeSignalTarget>;

// An iteration's tasks as the main thread watches them.
struct IterationTasks {
  explicit IterationTasks(std::size_t n) : signals(n), finished(n) {}
  Signals signals;
  std::vector<std::atomic<bool>> finished;

  // The end of an execution in the simulator (World::kill_sleeping_users): processes still asleep in interruptible
  // or killable waits when nothing else happens are killed, not reported. Natively "nothing else happens" is the
  // deadline passing; only if every unfinished task sleeps so, SIGKILL goes to each. False if one does not (it
  // runs, or sleeps uninterruptibly: a hang).
  bool kill_sleepers() {
    for (std::size_t k = 0; k < signals.size(); ++k)
      if (!finished[k].load() && !signals[k].sleeping()) return false;
    for (std::size_t k = 0; k < signals.size(); ++k)
      if (!finished[k].load()) signals[k].send(/*fatal=*/true);
    return true;
  }
};

void run_native_task(const Scenario& s, std::size_t self, Signals& signals, const StressOptions& o,
                     std::uint64_t seed) {
  const Task& t = s.tasks[self];
  const core::NativeSignalTarget::Scope process(signals[self]);
  std::mt19937_64 rng(seed);
  Process p;
  for (const Op& op : t.ops) {
    random_delay(rng, o.max_delay_us);
    // A signal that arrived between two system calls was delivered on the way back to user space.
    signals[self].deliver();
    std::int64_t r = 0;
    if (op.kind == OpKind::Signal) {
      const auto target = std::find_if(s.tasks.begin(), s.tasks.end(), [&op](const Task& k) { return k.name == op.a; });
      // The parser checked the name; a target that already exited ignores it (the simulator's process is gone).
      if (target != s.tasks.end()) signals[static_cast<std::size_t>(target - s.tasks.begin())].send(/*fatal=*/false);
    } else if (op.kind == OpKind::Sleep) {
      const auto ns = static_cast<std::int64_t>(static_cast<double>(op.number) * o.sleep_scale);
      if (ns > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
    } else if (op.kind == OpKind::Yield) {
      std::this_thread::yield();
    } else {
      r = run_op(op, p);
    }
    // The return to user space, as the simulator's runner has it: EINTR for an interrupted call; SIGKILL (sent to
    // sleepers at the deadline, IterationTasks::kill_sleepers) ends the process before it sees the result.
    if (r == -bus::kERESTARTSYS) r = -bus::kEINTR;
    if (signals[self].fatal()) break;
    signals[self].deliver();
    if (!op.bind.empty()) p.vars[op.bind] = r;
    const std::optional<std::string> copied_out = bus::take_user_copied_out();
    if (!o.check_results || op.allowed.empty()) continue;
    const auto it = std::find(op.allowed.begin(), op.allowed.end(), r);
    if (it == op.allowed.end()) {
      report_unexpected(s, t, op, unexpected_result_headline(op, r));
    } else if (const auto& want = op.allowed_data[static_cast<std::size_t>(it - op.allowed.begin())];
               want && copied_out.value_or("") != *want) {
      report_unexpected(s, t, op, unexpected_bytes_headline(op, r, *want, copied_out));
    }
  }
  exit_process(p);
}

// The threads still running in one phase of an iteration; the main thread waits for them with a deadline.
struct Finish {
  std::mutex mutex;
  std::condition_variable done;
  std::size_t left = 0;

  void one_done() {
    std::lock_guard lock(mutex);
    if (--left == 0) done.notify_all();
  }
  // False if a thread is still running after `seconds`.
  bool wait(double seconds) {
    std::unique_lock lock(mutex);
    return done.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return left == 0; });
  }
};

// Runs one thread per function and waits for them all. When `seconds` pass with one still running, `at_deadline`
// (if given) may act and return true to wait `seconds` more, once. False if one is still running after that: the
// threads are detached, still using whatever they use (the caller must end the process without destroying it).
bool run_bounded(std::vector<std::function<void()>> fns, double seconds,
                 const std::function<bool()>& at_deadline = {}) {
  auto finish = std::make_shared<Finish>();
  finish->left = fns.size();
  std::vector<std::thread> threads;
  threads.reserve(fns.size());
  for (auto& fn : fns)
    threads.emplace_back([finish, fn = std::move(fn)] {
      fn();
      finish->one_done();
    });
  if (!finish->wait(seconds) && !(at_deadline && at_deadline() && finish->wait(seconds))) {
    for (std::thread& t : threads)
      t.detach();
    return false;
  }
  for (std::thread& t : threads)
    t.join();
  return true;
}

}  // namespace

std::string native_obstacle(const Scenario& s) {
  for (const std::string& d : s.drivers)
    if (drivers::find_driver(d) == nullptr) return at(s, {1, 1}) + "unknown driver '" + d + "'";
  return {};
}

StressResult stress_scenario(const Scenario& s, const StressOptions& o,
                             const std::function<void(const StressResult&)>& progress) {
  StressResult result;
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t reports_before = sim::native::reports();
  const auto elapsed = [&start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  for (std::uint64_t i = 0; i < o.iterations; ++i) {
    if (o.max_seconds > 0 && elapsed() >= o.max_seconds) break;
    // LIFETIME: the previous iteration's threads were joined and its shut-down unloaded every driver, so nothing of
    // the old machine runs or is queued (NativeMachine::begin_fresh's requirement).
    sim::NativeMachine::begin_fresh();
    // Every phase has the deadline, not only the tasks: a probe, a remove() or a firmware continuation that never
    // returns would otherwise hang the run with nothing said.
    const auto hang = [&](StressResult::Phase phase) {
      result.hung = phase;
      result.seconds = elapsed();
      return result;
    };
    if (!run_bounded({[&s] { set_up_machine(s); }}, o.iteration_timeout_seconds))
      return hang(StressResult::Phase::SetUp);
    // LIFETIME: shared with the task threads, which a hang leaves running after this function returned.
    auto running = std::make_shared<IterationTasks>(s.tasks.size());
    std::vector<std::function<void()>> tasks;
    for (std::size_t k = 0; k < s.tasks.size(); ++k) {
      const std::uint64_t seed = o.seed * 0x9e3779b97f4a7c15ULL + i * 1000003ULL + k;
      tasks.emplace_back([&s, &o, k, seed, running] {
        run_native_task(s, k, running->signals, o, seed);
        running->finished[k] = true;
      });
    }
    bool killed = false;
    if (!run_bounded(std::move(tasks), o.iteration_timeout_seconds,
                     [running, &killed] { return killed = running->kill_sleepers(); }))
      return hang(StressResult::Phase::Tasks);
    if (killed) ++result.sleepers_killed;
    // LIFETIME: a firmware request's continuation, or the deferred-probe work, may still run on the pool after the
    // shut-down; they use this machine, so the iteration waits for them.
    if (!run_bounded({[&s] {
                       shut_down_machine(s);
                       bus::wait_for_device_probe();
                       bus::wait_for_firmware_requests();
                     }},
                     o.iteration_timeout_seconds))
      return hang(StressResult::Phase::ShutDown);
    ++result.iterations;
    result.reports = sim::native::reports() - reports_before;
    result.seconds = elapsed();
    if (progress) progress(result);
    if (result.reports != 0) break;
  }
  result.seconds = elapsed();
  return result;
}

}  // namespace devsim::scenarios
