#include "tools/stress_command.hpp"

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "scenarios/limits.hpp"
#include "scenarios/parser.hpp"
#include "scenarios/stress.hpp"
#include "tools/cli_numbers.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

namespace devsim::tool {

namespace {

// The options as written; each was checked by its validator (tools/cli_numbers.hpp) before the callback runs.
struct StressCli {
  std::vector<std::string> files;
  std::string iterations = "1000", time, seed = "1", sleep_scale = "1", max_delay_us = "50", iteration_timeout = "10",
              threads = "1";
  bool check_results = false;
};

constexpr std::uint64_t kMaxIterations = 1'000'000'000;
constexpr std::uint64_t kMaxWorkers = 256;
constexpr double kMaxSleepScale = 1000;
constexpr std::uint64_t kMaxDelayUs = 1'000'000;
constexpr double kMaxIterationTimeout = 86'400;

// Where the run is, for the sanitizer's death callback: ASan ends the process at a use-after-free, and the line it
// prints last should say which scenario and iteration it was.
std::atomic<const char*> g_file{nullptr};
std::atomic<std::uint64_t> g_iteration{0};
std::atomic<int> g_worker{-1};  // this process's worker number under --threads (-1: the only process)

[[maybe_unused]] void on_sanitizer_death() {
  const char* f = g_file.load();
  if (f == nullptr) return;
  if (int w = g_worker.load(); w >= 0)
    std::fprintf(stderr, "devsim stress: %s: worker %d stopped by the sanitizer's report in its iteration %llu\n", f, w,
                 static_cast<unsigned long long>(g_iteration.load() + 1));
  else
    std::fprintf(stderr, "devsim stress: %s: stopped by the sanitizer's report in iteration %llu\n", f,
                 static_cast<unsigned long long>(g_iteration.load() + 1));
}

void print_limit(const scenarios::Scenario& s, std::uint64_t iteration, double timeout,
                 scenarios::StressResult::Phase phase) {
  using Phase = scenarios::StressResult::Phase;
  const char* what = phase == Phase::SetUp ? "its set-up (driver loads, plugs and their probes)"
                     : phase == Phase::ShutDown
                         ? "its shut-down (unplugs, removes, module unloads, firmware continuations)"
                         : "its tasks";
  const char* why = phase == Phase::Tasks
                        ? "a task is blocked (a deadlock, or an uninterruptible wait that nothing ends; devsim "
                          "cannot interrupt a native thread)"
                        : "a driver callback is blocked (a deadlock, or a wait nothing will end)";
  std::cout << "LIMIT " << s.file << ": iteration " << iteration << " has not finished " << what << " after " << timeout
            << " s: " << why << ". Explore the scenario with devsim run.\n";
  std::cout.flush();
  std::fflush(stderr);
}

// One scenario in this process. Returns when the run ends; a hung iteration ends the process (exit 2): its blocked
// threads still use the scenario and the machine, so nothing may be destroyed under them.
scenarios::StressResult stress_here(const scenarios::Scenario& s, const scenarios::StressOptions& o) {
  g_file = s.file.c_str();
  g_iteration = 0;
  scenarios::StressResult r =
      scenarios::stress_scenario(s, o, [](const scenarios::StressResult& now) { g_iteration = now.iterations; });
  if (r.hung != scenarios::StressResult::Phase::None) {
    print_limit(s, r.iterations + 1, o.iteration_timeout_seconds, r.hung);
    std::_Exit(2);
  }
  return r;
}

// What a worker process tells the parent when its run ends normally (a sanitizer or a hang ends it otherwise).
struct WorkerSummary {
  std::uint64_t iterations = 0;
  std::uint64_t reports = 0;
  std::uint64_t killed = 0;  // iterations whose sleepers were killed at the deadline
};

// The PASS line's note on iterations that waited out the deadline (0: nothing to say).
std::string killed_note(std::uint64_t killed) {
  if (killed == 0) return "";
  return "; in " + std::to_string(killed) +
         " of them the tasks left asleep were killed at the deadline (SIGKILL), as the simulator kills them";
}

struct Worker {
  pid_t pid = -1;
  int summary_fd = -1;  // the read end of the worker's pipe
  int status = 0;       // waitpid's, once reaped
  bool reaped = false;
};

// --threads N: N worker processes run the scenario at once, each on its own native machine (there is one per
// process) with seed + k and its share of the iterations. The first that fails stops the others. Returns the exit
// status for this scenario: 0 passed, 1 a report, 2 a hang.
int stress_in_workers(const scenarios::Scenario& s, const scenarios::StressOptions& o, unsigned workers) {
  std::cout.flush();
  std::fflush(stderr);
  std::vector<Worker> ws(workers);
  // Out of processes or descriptors part way: the workers already started must not run on unwatched.
  const auto give_up = [&ws](unsigned started, const char* what) {
    const std::string why = std::string(what) + ": " + std::strerror(errno);
    for (unsigned j = 0; j < started; ++j) {
      ::kill(ws[j].pid, SIGKILL);
      ::waitpid(ws[j].pid, nullptr, 0);
      ::close(ws[j].summary_fd);
    }
    throw std::runtime_error("stress --threads: " + why);
  };
  for (unsigned k = 0; k < workers; ++k) {
    int fds[2];
    if (::pipe(fds) != 0) give_up(k, "pipe");
    pid_t pid = ::fork();
    if (pid < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      give_up(k, "fork");
    }
    if (pid == 0) {
      ::close(fds[0]);
      for (unsigned j = 0; j < k; ++j)
        ::close(ws[j].summary_fd);
      g_worker = static_cast<int>(k);
      scenarios::StressOptions mine = o;
      mine.seed = o.seed + k;
      mine.iterations = o.iterations / workers + (k < o.iterations % workers ? 1 : 0);
      scenarios::StressResult r = mine.iterations == 0 ? scenarios::StressResult{} : stress_here(s, mine);
      WorkerSummary sum{r.iterations, r.reports, r.sleepers_killed};
      [[maybe_unused]] ssize_t n = ::write(fds[1], &sum, sizeof sum);
      ::close(fds[1]);
      std::cout.flush();
      std::fflush(stderr);
      // exit, not _Exit: LeakSanitizer's check runs at exit.
      std::exit(r.passed() ? 0 : 1);
    }
    ::close(fds[1]);
    ws[k] = Worker{pid, fds[0]};
  }
  // Reap in the order they end; the first failure stops the rest.
  int failed = -1;
  for (unsigned left = workers; left > 0; --left) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) {
        ++left;
        continue;
      }
      throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
    }
    for (unsigned k = 0; k < workers; ++k) {
      if (ws[k].pid != pid) continue;
      ws[k].status = status;
      ws[k].reaped = true;
      bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && failed < 0) {
        failed = static_cast<int>(k);
        for (const Worker& other : ws)
          if (!other.reaped) ::kill(other.pid, SIGKILL);
      }
    }
  }
  std::uint64_t iterations = 0;
  std::uint64_t killed = 0;
  for (Worker& w : ws) {
    WorkerSummary sum;
    if (::read(w.summary_fd, &sum, sizeof sum) == static_cast<ssize_t>(sizeof sum)) {
      iterations += sum.iterations;
      killed += sum.killed;
    }
    ::close(w.summary_fd);
  }
  if (failed < 0) {
    std::cout << "PASS " << s.file << ": " << iterations << " iteration(s) on real threads in " << workers
              << " worker processes, no report" << killed_note(killed) << "\n";
    return 0;
  }
  const Worker& w = ws[static_cast<unsigned>(failed)];
  if (WIFEXITED(w.status) && WEXITSTATUS(w.status) == 2) return 2;  // the worker printed its LIMIT line
  std::cout << "FAIL " << s.file << ": worker " << failed << " (seed " << o.seed + static_cast<unsigned>(failed)
            << ") ";
  if (WIFSIGNALED(w.status))
    std::cout << "ended by signal " << WTERMSIG(w.status);
  else
    std::cout << "exited with status " << WEXITSTATUS(w.status);
  std::cout << " (its reports are above, on stderr); the others were stopped\n";
  return 1;
}

int stress_files(const StressCli& cli) {
  scenarios::StressOptions o;
  o.iterations = *parse_uint(cli.iterations, 1, kMaxIterations, nullptr);
  if (!cli.time.empty()) o.max_seconds = *parse_seconds(cli.time, scenarios::limits::kMaxSeconds, nullptr);
  o.seed = *parse_uint(cli.seed, 0, UINT64_MAX, nullptr);
  o.sleep_scale = *parse_scale(cli.sleep_scale, kMaxSleepScale, nullptr);
  o.max_delay_us = static_cast<std::uint32_t>(*parse_uint(cli.max_delay_us, 0, kMaxDelayUs, nullptr));
  o.iteration_timeout_seconds = *parse_seconds(cli.iteration_timeout, kMaxIterationTimeout, nullptr);
  o.check_results = cli.check_results;
  const auto workers = static_cast<unsigned>(*parse_uint(cli.threads, 1, kMaxWorkers, nullptr));
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_set_death_callback(on_sanitizer_death);
#else
  std::cerr << "devsim stress: this build has no ASan: a use-after-free goes unseen natively (build with "
               "-DDEVSIM_SANITIZE=address, docs/architecture.md \"Two runtimes\")\n";
#endif
  // Every file is parsed and checked first: one that cannot run natively is an input error, the others still run.
  bool input_error = false;
  std::vector<scenarios::Scenario> parsed;
  for (const std::string& f : cli.files) {
    try {
      scenarios::Scenario s = scenarios::load_scenario(f);
      if (std::string why = scenarios::native_obstacle(s); !why.empty()) {
        std::cerr << why << "\n";
        input_error = true;
        continue;
      }
      parsed.push_back(std::move(s));
    } catch (const scenarios::ParseError& e) {
      std::cerr << e.what() << "\n";
      input_error = true;
    }
  }
  bool all_passed = true;
  std::cout << std::fixed << std::setprecision(2);
  for (const scenarios::Scenario& s : parsed) {
    if (workers > 1) {
      int status = stress_in_workers(s, o, workers);
      std::cout.flush();
      if (status == 2) return 2;  // a hang ends the run, as in one process
      all_passed = all_passed && status == 0;
      continue;
    }
    scenarios::StressResult r = stress_here(s, o);
    if (r.passed()) {
      std::cout << "PASS " << s.file << ": " << r.iterations << " iteration(s) on real threads, no report ("
                << r.seconds << " s" << killed_note(r.sleepers_killed) << ")\n";
    } else {
      all_passed = false;
      std::cout << "FAIL " << s.file << ": " << r.reports << " native report(s) in iteration " << r.iterations << " ("
                << r.seconds << " s; the reports are above, on stderr)\n";
    }
    std::cout.flush();
  }
  g_file = nullptr;
  if (input_error) return 2;
  return all_passed ? 0 : 1;
}

}  // namespace

void add_stress_command(CLI::App& app, int* exit_code) {
  auto cli = std::make_shared<StressCli>();
  CLI::App* cmd = app.add_subcommand(
      "stress",
      "Run scenarios' tasks concurrently on real OS threads, again and again, with small random delays at operation "
      "boundaries, and stop at the first report. The detectors are the native ones: ASan/UBSan and LeakSanitizer "
      "in a build with -DDEVSIM_SANITIZE=address (a use-after-free ends the process with ASan's report), TSan in "
      "one with -DDEVSIM_SANITIZE=thread, and the driver model's own reports on stderr (unexpected results, MMIO "
      "after iounmap, bad kfree). Expectations (expect/explore/schedule) are not used: any report fails, and results "
      "(=> ...) are checked only with --check-results. Exit 0 "
      "when no iteration reported, 1 when one did, 2 on input errors or when an iteration hangs. C and C++ drivers, "
      "signals and USB device events all run natively.");
  cmd->add_option("files", cli->files, "scenario files (.scn)")->required();
  cmd->add_option("--iterations", cli->iterations, "how many times to run each scenario (1..10^9; default 1000)")
      ->type_name("N")
      ->check(checked("", [](const std::string& t, std::string* e) { return parse_uint(t, 1, kMaxIterations, e); }));
  cmd->add_option("--time", cli->time, "stop each scenario after SECONDS, whatever --iterations says")
      ->type_name("SECONDS")
      ->check(checked("", [](const std::string& t, std::string* e) {
        return parse_seconds(t, scenarios::limits::kMaxSeconds, e);
      }));
  cmd->add_option("--seed", cli->seed, "the random delays' seed (the OS still decides how threads interleave)")
      ->type_name("N")
      ->check(checked("", [](const std::string& t, std::string* e) { return parse_uint(t, 0, UINT64_MAX, e); }));
  cmd->add_option("--sleep-scale", cli->sleep_scale,
                  "a scenario's `sleep` sleeps this fraction of its duration (0..1000; default 1: real time; 0: not "
                  "at all)")
      ->type_name("X")
      ->check(checked("", [](const std::string& t, std::string* e) { return parse_scale(t, kMaxSleepScale, e); }));
  cmd->add_option("--max-delay-us", cli->max_delay_us,
                  "the longest random delay at an operation boundary, in microseconds (0..10^6; default 50)")
      ->type_name("N")
      ->check(checked("", [](const std::string& t, std::string* e) { return parse_uint(t, 0, kMaxDelayUs, e); }));
  cmd->add_option("--threads", cli->threads,
                  "run N iterations at a time, each in its own worker process with its own native machine (worker "
                  "k uses seed + k and 1/N of the iterations; --time applies to each); the first failure stops "
                  "the others (1..256; default 1)")
      ->type_name("N")
      ->check(checked("", [](const std::string& t, std::string* e) { return parse_uint(t, 1, kMaxWorkers, e); }));
  cmd->add_flag("--check-results", cli->check_results,
                "also report a result outside those the scenario allows (=> ...); off by default, since many rest "
                "on the order the scenario's virtual-time sleeps give the tasks, which real threads do not keep");
  cmd->add_option("--iteration-timeout", cli->iteration_timeout,
                  "give up (exit 2) when a phase of an iteration (set-up, the tasks, shut-down) runs longer than "
                  "SECONDS (> 0, at most a day; default 10)")
      ->type_name("SECONDS")
      ->check(
          checked("", [](const std::string& t, std::string* e) { return parse_seconds(t, kMaxIterationTimeout, e); }));
  cmd->callback([cli, exit_code] { *exit_code = stress_files(*cli); });
}

}  // namespace devsim::tool
