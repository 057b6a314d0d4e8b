#include "tools/scenario_commands.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "drivers/registry.hpp"
#include "scenarios/limits.hpp"
#include "scenarios/number.hpp"
#include "scenarios/parser.hpp"
#include "scenarios/printable.hpp"
#include "scenarios/runner.hpp"
#include "tools/stop_signals.hpp"

namespace devsim::tool {

namespace {

namespace fs = std::filesystem;
using scenarios::Scenario;
using scenarios::Verdict;

struct RunOptions {
  std::vector<std::string> files;
  std::string strategy;
  // Numbers as written: each is parsed once, with its range, by the scenario language's checked parser.
  std::string seed, executions, preemptions, pct_depth, step_budget, time, reduction;
  std::string json_path;
  std::string trace_path;
  std::string repro_dir;
  bool quiet = false;
};

// A bad command-line value: "--seed: out of range ..., got '-1'".
struct OptionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::optional<std::uint64_t> option_unsigned(const std::string& name, const std::string& text, std::uint64_t min,
                                             std::uint64_t max) {
  if (text.empty()) return std::nullopt;
  std::string why;
  std::optional<std::uint64_t> v = scenarios::parse_unsigned(text, min, max, &why);
  if (!v) throw OptionError(name + ": " + why + ", got '" + scenarios::printable(text, 64) + "'");
  return v;
}

// Writes `text` to a new file: never over an existing one.
bool write_new_file(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  return ::close(fd) == 0 && done == text.size();
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

// A reproducer's path in `dir`: STEM-repro-K.scn, with the first K not taken, so an earlier run's files and
// another input of the same base name are never overwritten.
std::string save_reproducer(const std::string& dir, const std::string& stem, const std::string& text,
                            std::string* error) {
  for (unsigned k = 1; k < 100'000; ++k) {
    std::string path = (fs::path(dir) / (stem + "-repro-" + std::to_string(k) + ".scn")).string();
    if (write_new_file(path, text)) return path;
    if (errno != EEXIST) {
      *error = path + ": " + std::strerror(errno);
      return std::string();
    }
  }
  *error = dir + ": no free reproducer name for " + stem;
  return std::string();
}

std::string status_word(const Verdict& v) {
  if (!v.divergence.empty()) return "ERROR";
  if (!v.limits.empty()) return "LIMIT";
  return v.passed ? "PASS" : "FAIL";
}

void print_verdict(const Scenario& s, const Verdict& v, double seconds, bool quiet) {
  std::cout << status_word(v) << " " << s.file << ": " << v.summary << " (" << std::fixed << std::setprecision(1)
            << seconds * 1000 << " ms)\n";
  if (!v.divergence.empty()) std::cout << "  " << v.divergence << "\n";
  for (const std::string& l : v.limits)
    std::cout << "  " << l << "\n";
  for (const std::string& n : v.notes)
    std::cout << "  " << n << "\n";
  for (const std::string& u : v.unmet)
    std::cout << "  " << u << "\n";
  if (!quiet) {
    for (const sim::Failure& f : v.result.failures) {
      std::cout << "\n"
                << f.report.headline << ": first seen in execution " << f.first_execution << ", " << f.count
                << " execution(s) in all\n"
                << sim::render_text(f.report);
    }
    if (!v.result.failures.empty()) std::cout << "\n";
  }
  // A verdict is on the terminal (or in the pipe) as soon as it is known: a run stopped later loses none.
  std::cout.flush();
}

nlohmann::json verdict_json(const Scenario& s, const Verdict& v, double seconds) {
  nlohmann::json j;
  j["scenario"] = s.file;
  j["status"] = status_word(v);
  j["passed"] = v.passed;
  j["summary"] = v.summary;
  j["unmet"] = v.unmet;
  j["divergence"] = v.divergence;
  j["limits"] = v.limits;
  j["notes"] = v.notes;
  j["executions"] = v.result.executions;
  j["failing_executions"] = v.result.failing_executions;
  j["exhausted"] = v.result.exhausted;
  j["pruned_executions"] = v.result.pruned_executions;
  j["pruned_alternatives"] = v.result.pruned_alternatives;
  j["out_of_time"] = v.result.out_of_time;
  j["interrupted"] = v.result.interrupted;
  j["replayed"] = v.replayed;
  j["seconds"] = seconds;
  j["failures"] = nlohmann::json::array();
  for (const sim::Failure& f : v.result.failures) {
    nlohmann::json fj;
    fj["signature"] = f.signature;
    fj["count"] = f.count;
    fj["first_execution"] = f.first_execution;
    fj["report"] = nlohmann::json::parse(sim::render_json(f.report));
    j["failures"].push_back(std::move(fj));
  }
  return j;
}

// Every text in the JSON is checked UTF-8 at parse time; `replace` is the belt to those braces, so a stray byte
// can never make the dump throw and lose every result.
std::string dump_json(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// The progress line of a long exploration: on a terminal rewritten in place every second, otherwise one line
// every 10 seconds; on stderr, so stdout keeps only verdicts.
struct Progress {
  bool tty = isatty(STDERR_FILENO) != 0;
  double last_line = 0;
  bool shown = false;
  void operator()(const std::string& file, const sim::ExploreResult& r) {
    if (!tty && r.seconds - last_line < 10) return;
    last_line = r.seconds;
    std::fprintf(stderr, "%s%s: %llu executions (%.0f/s), %llu failing, %zu distinct, %.0f s%s", tty ? "\r" : "",
                 scenarios::printable(file, 80).c_str(), static_cast<unsigned long long>(r.executions),
                 r.seconds > 0 ? r.executions / r.seconds : 0.0, static_cast<unsigned long long>(r.failing_executions),
                 r.failures.size(), r.seconds, tty ? "   " : "\n");
    std::fflush(stderr);
    shown = true;
  }
  void done() {
    if (tty && shown) std::fputc('\n', stderr);
    shown = false;
    last_line = 0;
  }
};

// Runs every file; returns the exit status: 0 when every file passed, 1 when an expectation failed, 2 when a
// file could not be run (unreadable, malformed, a replay that does not fit) or hit a devsim limit. A file that
// cannot be run does not stop the others.
int run_files(const RunOptions& o, bool replay) {
  scenarios::Overrides ov;
  try {
    if (!o.strategy.empty()) {
      sim::StrategyKind k;
      if (!sim::parse_strategy_kind(o.strategy, &k) || k == sim::StrategyKind::Replay)
        throw OptionError("--strategy: unknown strategy '" + scenarios::printable(o.strategy, 64) +
                          "' (random, pct, exhaustive)");
      ov.strategy = k;
    }
    namespace lim = scenarios::limits;
    ov.seed = option_unsigned("--seed", o.seed, 0, UINT64_MAX);
    ov.executions = option_unsigned("--executions", o.executions, 0, lim::kMaxExecutions);
    if (auto p = option_unsigned("--preemptions", o.preemptions, 0, lim::kMaxPreemptions))
      ov.preemptions = static_cast<int>(*p);
    if (!o.reduction.empty()) {
      sim::StrategyOptions check;
      if (!sim::parse_reduction(o.reduction, &check))
        throw OptionError("--reduction: unknown reduction '" + scenarios::printable(o.reduction, 64) +
                          "' (dpor, sleep-sets, none)");
      ov.reduction = o.reduction;
    }
    if (auto d = option_unsigned("--pct-depth", o.pct_depth, 1, lim::kMaxPctDepth)) ov.pct_depth = static_cast<int>(*d);
    ov.step_budget = option_unsigned("--step-budget", o.step_budget, lim::kMinStepBudget, lim::kMaxStepBudget);
    if (!o.time.empty()) {
      std::string why;
      std::optional<double> t = scenarios::parse_seconds(o.time, lim::kMaxSeconds, &why);
      if (!t) throw OptionError("--time: " + why + ", got '" + scenarios::printable(o.time, 64) + "'");
      ov.max_seconds = *t;
    }
    if (ov.executions == 0u && ov.strategy && *ov.strategy != sim::StrategyKind::Exhaustive)
      throw OptionError("--executions 0 (until the search ends) is only for --strategy exhaustive");
  } catch (const OptionError& e) {
    std::cerr << "devsim: " << e.what() << "\n";
    return 2;
  }
  if (!o.repro_dir.empty()) {
    std::error_code ec;
    fs::create_directories(o.repro_dir, ec);
    if (ec || !fs::is_directory(o.repro_dir)) {
      std::cerr << "devsim: cannot create the directory " << scenarios::printable(o.repro_dir, 256) << ": "
                << (ec ? ec.message() : "not a directory") << "\n";
      return 2;
    }
  }

  bool input_error = false;
  bool all_passed = true;
  nlohmann::json results = nlohmann::json::array();
  auto save_json = [&]() {
    if (o.json_path.empty() || write_file(o.json_path, dump_json(results))) return true;
    std::cerr << "devsim: cannot write " << scenarios::printable(o.json_path, 256) << "\n";
    return false;
  };
  // Parse everything first: malformed files are reported before anything runs; the others still run.
  std::vector<Scenario> parsed;
  for (const std::string& f : o.files) {
    std::string error;
    try {
      Scenario s = scenarios::load_scenario(f);
      if (replay && !s.schedule)
        error = s.file + ": has no recorded schedule to replay (add: schedule \"t1 t0 ...\", or use devsim run)";
      else if (ov.executions == 0u && !ov.strategy && s.strategy.kind != sim::StrategyKind::Exhaustive && !s.schedule)
        error = s.file + ": --executions 0 (until the search ends) is only for exhaustive search, and " +
                "this scenario explores " + std::string(sim::to_string(s.strategy.kind));
      else
        parsed.push_back(std::move(s));
    } catch (const scenarios::ParseError& e) {
      error = e.what();
    }
    if (!error.empty()) {
      std::cerr << error << "\n";
      input_error = true;
      results.push_back({{"scenario", scenarios::printable(f, 256)}, {"status", "ERROR"}, {"error", error}});
    }
  }
  if (!save_json()) return 2;

  bool trace_written = false;
  Progress progress;
  // SIGINT/SIGTERM end the exploration that runs (its verdict, with what it found, is printed and saved like any
  // other) and skip the files after it.
  StopSignals stop_signals;
  reset_stop();
  ov.stop = &stop_requested();
  for (std::size_t i = 0; i < parsed.size() && !stop_requested(); ++i) {
    const Scenario& s = parsed[i];
    spdlog::debug("running {}", s.file);
    ov.progress = [&progress, &s](const sim::ExploreResult& r) { progress(s.file, r); };
    const auto start = std::chrono::steady_clock::now();
    Verdict v = scenarios::run_scenario(s, ov, !o.trace_path.empty() && !trace_written);
    progress.done();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    print_verdict(s, v, seconds, o.quiet);
    if (!v.divergence.empty()) std::cerr << v.divergence << "\n";
    input_error = input_error || !v.divergence.empty() || !v.limits.empty();
    all_passed = all_passed && v.passed;
    results.push_back(verdict_json(s, v, seconds));
    if (v.result.interrupted) results.back()["signal"] = stop_signal_name();
    if (!save_json()) return 2;

    if (!o.trace_path.empty() && !trace_written) {
      std::string trace;
      if (v.result.first_failure && !v.result.first_failure->trace_json.empty()) {
        trace = v.result.first_failure->trace_json;
      } else if (i + 1 == parsed.size()) {
        // No failure anywhere: the trace of one execution under default choices.
        sim::WorldOptions wo;
        wo.trace = true;
        wo.fail_nth = s.fail_nth;
        wo.step_budget = ov.step_budget.value_or(scenarios::default_step_budget(s));
        trace = sim::replay(scenarios::make_model(s), s.schedule.value_or(sim::Schedule{}), wo).trace_json;
      }
      if (!trace.empty()) {
        if (!write_file(o.trace_path, trace)) {
          std::cerr << "devsim: cannot write " << scenarios::printable(o.trace_path, 256) << "\n";
          return 2;
        }
        trace_written = true;
      }
    }
    if (!o.repro_dir.empty()) {
      for (const sim::Failure& f : v.result.failures) {
        std::string error;
        std::string path = save_reproducer(o.repro_dir, fs::path(s.file).stem().string(),
                                           scenarios::reproducer_text(s, f.report), &error);
        if (path.empty()) {
          std::cerr << "devsim: cannot write a reproducer: " << scenarios::printable(error, 256) << "\n";
          return 2;
        }
        std::cout << "reproducer: " << path << std::endl;
      }
    }
  }
  if (stop_requested()) {
    const int sig = stop_signal() != 0 ? stop_signal() : SIGINT;
    std::cerr << "devsim: interrupted by " << stop_signal_name() << ": the verdicts so far are above"
              << (o.json_path.empty() ? "" : " and in " + scenarios::printable(o.json_path, 256)) << "\n";
    return 128 + sig;
  }
  if (input_error) return 2;
  return all_passed ? 0 : 1;
}

void add_common(CLI::App* cmd, RunOptions* o) {
  cmd->add_option("--json", o->json_path, "write the results as JSON to FILE (rewritten after each verdict)")
      ->type_name("FILE");
  cmd->add_option("--trace", o->trace_path,
                  "write the Chrome/Perfetto trace of the first failing execution (or of one execution) to FILE")
      ->type_name("FILE");
  cmd->add_option("--save-repro", o->repro_dir,
                  "write each failing execution as a replayable scenario into DIR (never over an existing file)")
      ->type_name("DIR");
  cmd->add_flag("--brief", o->quiet, "print only the one-line verdicts");
}

}  // namespace

void add_run_command(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run scenarios under their exploration settings and check their expectations. Exit 0 when every "
      "expectation holds, 1 when one fails, 2 when a file cannot be run (unreadable, malformed) or hits a devsim "
      "limit; the other files still run. A long exploration shows a progress line on stderr (every second on a "
      "terminal, every 10 s otherwise). SIGINT or SIGTERM ends the running exploration: its verdict so far is "
      "printed and saved (--json, --save-repro) like the others, the files after it are skipped, and the exit "
      "status is 130/143.");
  cmd->add_option("files", o->files, "scenario files (.scn, regular files of at most 1 MiB)")->required();
  cmd->add_option("--strategy", o->strategy, "override the strategy: random, pct or exhaustive");
  cmd->add_option("--seed", o->seed, "override the seed (0..2^64-1)")->type_name("N");
  cmd->add_option("--executions", o->executions,
                  "override the execution budget (1..10^9; 0: until exhaustive search ends)")
      ->type_name("N");
  cmd->add_option("--preemptions", o->preemptions, "override the preemption bound of exhaustive search (0..1000)")
      ->type_name("N");
  cmd->add_option("--reduction", o->reduction,
                  "override exhaustive search's partial-order reduction: dpor (the default), sleep-sets, or none "
                  "(plain search, the reference the reductions are checked against); under a preemption bound "
                  "sleep sets prune less, see docs/architecture.md");
  cmd->add_option("--pct-depth", o->pct_depth, "override the PCT depth (1..64)")->type_name("N");
  cmd->add_option("--step-budget", o->step_budget,
                  "scheduling points per execution before devsim gives up on it (100..10^10; default: the "
                  "scenario's steps=, or 100,000 and at least 100 per operation)")
      ->type_name("N");
  cmd->add_option("--time", o->time, "stop exploring each scenario after SECONDS (a decimal number, up to 30 days)")
      ->type_name("SECONDS");
  add_common(cmd, o.get());
  cmd->callback([o, exit_code] { *exit_code = run_files(*o, false); });
}

void add_replay_command(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "replay",
      "Replay the recorded schedule of a scenario exactly (one execution) and print its report. Exit 0 "
      "when its expectations hold, 1 when not, 2 on input errors, including a schedule that does not fit the "
      "scenario (the error says at which choice it diverged).");
  cmd->add_option("files", o->files, "scenario files with a schedule statement")->required();
  add_common(cmd, o.get());
  cmd->callback([o, exit_code] { *exit_code = run_files(*o, true); });
}

void add_list_command(CLI::App& app, int* exit_code) {
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("list", "List the mock drivers, buses, operations and shipped scenarios.");
  cmd->add_option("--scenarios", *dir, "the directory of shipped scenarios (default: the source tree's)");
  cmd->callback([dir, exit_code] {
    std::string where = dir->empty() ? std::string(DEVSIM_SOURCE_ROOT) + "scenarios" : *dir;
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(where, ec))
      if (e.path().extension() == ".scn") names.push_back(scenarios::printable(e.path().filename().string(), 256));
    if (ec) {
      std::cerr << "devsim list: cannot read the scenario directory " << scenarios::printable(where, 256) << ": "
                << ec.message() << "\n";
      *exit_code = 2;
      return;
    }
    std::cout << "drivers:\n";
    for (const drivers::DriverInfo& d : drivers::all_drivers()) {
      const bool variant = !d.race.empty() || d.is_module();
      std::cout << "  " << d.name << "  ["
                << (d.is_module() ? (d.bus.empty() ? "module, C" : "module, C, " + d.bus) : d.bus)
                << (d.race.empty() ? "" : ", " + d.race)
                << (!variant  ? ""
                    : d.buggy ? ", buggy: " + d.bug_kind
                              : ", fixed")
                << "]" << (d.node.empty() ? "" : "  /dev/" + d.node)
                << (d.modalias.empty() ? "" : "  (device " + d.modalias + ")") << "\n      " << d.summary << "\n";
      if (!d.ioctls.empty()) {
        std::cout << "      ioctls:";
        for (const drivers::IoctlSpec& i : d.ioctls)
          std::cout << " " << i.name;
        std::cout << "\n";
      }
    }
    std::cout << "buses:\n  platform  (plug platform NAME [MODALIAS])\n  usb       (plug usb PORT [MODALIAS]; a hub "
                 "with root usb1)\n";
    std::cout << "operations:\n  open close read write ioctl poll mmap munmap plug unplug bind unbind sysfs-read "
                 "sysfs-write load unload sleep irq yield\n";
    std::sort(names.begin(), names.end());
    std::cout << "scenarios (" << where << "):\n";
    for (const std::string& n : names)
      std::cout << "  " << n << "\n";
    *exit_code = 0;
  });
}

}  // namespace devsim::tool
