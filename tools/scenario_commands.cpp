#include "tools/scenario_commands.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "drivers/registry.hpp"
#include "scenarios/parser.hpp"
#include "scenarios/runner.hpp"

namespace devsim::tool {

namespace {

namespace fs = std::filesystem;
using scenarios::Scenario;
using scenarios::Verdict;

struct RunOptions {
  std::vector<std::string> files;
  std::string strategy;
  std::optional<std::uint64_t> seed;
  std::optional<std::uint64_t> executions;
  std::optional<int> preemptions;
  std::optional<int> pct_depth;
  std::string json_path;
  std::string trace_path;
  std::string repro_dir;
  bool quiet = false;
};

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

void print_verdict(const Scenario& s, const Verdict& v, double seconds, bool quiet) {
  std::cout << (v.passed ? "PASS " : "FAIL ") << s.file << ": " << v.summary << " (" << std::fixed
            << std::setprecision(1) << seconds * 1000 << " ms)\n";
  for (const std::string& u : v.unmet)
    std::cout << "  " << u << "\n";
  if (quiet) return;
  for (const sim::Failure& f : v.result.failures) {
    std::cout << "\n"
              << f.report.headline << ": first seen in execution " << f.first_execution << ", " << f.count
              << " execution(s) in all\n"
              << sim::render_text(f.report);
  }
  if (!v.result.failures.empty()) std::cout << "\n";
}

nlohmann::json verdict_json(const Scenario& s, const Verdict& v, double seconds) {
  nlohmann::json j;
  j["scenario"] = s.file;
  j["passed"] = v.passed;
  j["summary"] = v.summary;
  j["unmet"] = v.unmet;
  j["executions"] = v.result.executions;
  j["failing_executions"] = v.result.failing_executions;
  j["exhausted"] = v.result.exhausted;
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

// Runs every file; returns the exit status.
int run_files(const RunOptions& o, bool replay) {
  scenarios::Overrides ov;
  if (!o.strategy.empty()) {
    sim::StrategyKind k;
    if (!sim::parse_strategy_kind(o.strategy, &k) || k == sim::StrategyKind::Replay) {
      std::cerr << "devsim: unknown strategy '" << o.strategy << "' (random, pct, exhaustive)\n";
      return 2;
    }
    ov.strategy = k;
  }
  ov.seed = o.seed;
  ov.executions = o.executions;
  ov.preemptions = o.preemptions;
  ov.pct_depth = o.pct_depth;
  if (!o.repro_dir.empty()) {
    std::error_code ec;
    fs::create_directories(o.repro_dir, ec);
    if (ec) {
      std::cerr << "devsim: cannot create " << o.repro_dir << ": " << ec.message() << "\n";
      return 2;
    }
  }

  // Parse everything first: a malformed file is an input error, reported before anything runs.
  std::vector<Scenario> parsed;
  for (const std::string& f : o.files) {
    try {
      parsed.push_back(scenarios::load_scenario(f));
    } catch (const scenarios::ParseError& e) {
      std::cerr << e.what() << "\n";
      return 2;
    }
    if (replay && !parsed.back().schedule) {
      std::cerr << f << ": has no recorded schedule to replay (add: schedule \"t1 t0 ...\", or use devsim run)\n";
      return 2;
    }
  }

  bool all_passed = true;
  nlohmann::json results = nlohmann::json::array();
  bool trace_written = false;
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    const Scenario& s = parsed[i];
    spdlog::debug("running {}", s.file);
    const auto start = std::chrono::steady_clock::now();
    Verdict v = scenarios::run_scenario(s, ov, !o.trace_path.empty() && !trace_written);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    print_verdict(s, v, seconds, o.quiet);
    all_passed = all_passed && v.passed;
    results.push_back(verdict_json(s, v, seconds));

    if (!o.trace_path.empty() && !trace_written) {
      std::string trace;
      if (v.result.first_failure && !v.result.first_failure->trace_json.empty()) {
        trace = v.result.first_failure->trace_json;
      } else if (i + 1 == parsed.size()) {
        // No failure anywhere: the trace of one execution under default choices.
        sim::WorldOptions wo;
        wo.trace = true;
        wo.fail_nth = s.fail_nth;
        trace = sim::replay(scenarios::make_model(s), s.schedule.value_or(sim::Schedule{}), wo).trace_json;
      }
      if (!trace.empty()) {
        if (!write_file(o.trace_path, trace)) {
          std::cerr << "devsim: cannot write " << o.trace_path << "\n";
          return 2;
        }
        trace_written = true;
      }
    }
    if (!o.repro_dir.empty()) {
      std::size_t k = 0;
      for (const sim::Failure& f : v.result.failures) {
        std::string name = fs::path(s.file).stem().string() + "-repro-" + std::to_string(++k) + ".scn";
        std::string path = (fs::path(o.repro_dir) / name).string();
        if (!write_file(path, scenarios::reproducer_text(s, f.report))) {
          std::cerr << "devsim: cannot write " << path << "\n";
          return 2;
        }
        std::cout << "reproducer: " << path << "\n";
      }
    }
  }
  if (!o.json_path.empty() && !write_file(o.json_path, results.dump(2) + "\n")) {
    std::cerr << "devsim: cannot write " << o.json_path << "\n";
    return 2;
  }
  return all_passed ? 0 : 1;
}

void add_common(CLI::App* cmd, RunOptions* o) {
  cmd->add_option("--json", o->json_path, "write the results as JSON to FILE");
  cmd->add_option("--trace", o->trace_path,
                  "write the Chrome/Perfetto trace of the first failing execution (or of one execution) to FILE");
  cmd->add_option("--save-repro", o->repro_dir, "write each failing execution as a replayable scenario into DIR");
  cmd->add_flag("--brief", o->quiet, "print only the one-line verdicts");
}

}  // namespace

void add_run_command(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run scenarios under their exploration settings and check their expectations. Exit 0 when every "
      "expectation holds, 1 when one fails, 2 on usage or input errors.");
  cmd->add_option("files", o->files, "scenario files (.scn)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--strategy", o->strategy, "override the strategy: random, pct or exhaustive");
  cmd->add_option("--seed", o->seed, "override the seed");
  cmd->add_option("--executions", o->executions, "override the execution budget (0: until exhaustive search ends)");
  cmd->add_option("--preemptions", o->preemptions, "override the preemption bound of exhaustive search");
  cmd->add_option("--pct-depth", o->pct_depth, "override the PCT depth")->check(CLI::PositiveNumber);
  add_common(cmd, o.get());
  cmd->callback([o, exit_code] { *exit_code = run_files(*o, false); });
}

void add_replay_command(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "replay",
      "Replay the recorded schedule of a scenario exactly (one execution) and print its report. Exit 0 "
      "when its expectations hold, 1 when not, 2 on input errors.");
  cmd->add_option("files", o->files, "scenario files with a schedule statement")->required()->check(CLI::ExistingFile);
  add_common(cmd, o.get());
  cmd->callback([o, exit_code] { *exit_code = run_files(*o, true); });
}

void add_list_command(CLI::App& app, int* exit_code) {
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("list", "List the mock drivers, buses, operations and shipped scenarios.");
  cmd->add_option("--scenarios", *dir, "the directory of shipped scenarios (default: the source tree's)");
  cmd->callback([dir, exit_code] {
    std::cout << "drivers:\n";
    for (const drivers::DriverInfo& d : drivers::all_drivers()) {
      std::cout << "  " << d.name << "  [" << d.bus << (d.race.empty() ? "" : ", " + d.race)
                << (d.race.empty() ? ""
                    : d.buggy      ? ", buggy: " + d.bug_kind
                                   : ", fixed")
                << "]" << (d.node.empty() ? "" : "  /dev/" + d.node) << "\n      " << d.summary << "\n";
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
    std::string where = dir->empty() ? std::string(DEVSIM_SOURCE_ROOT) + "scenarios" : *dir;
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(where, ec))
      if (e.path().extension() == ".scn") names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    std::cout << "scenarios (" << where << "):\n";
    for (const std::string& n : names)
      std::cout << "  " << n << "\n";
    *exit_code = 0;
  });
}

}  // namespace devsim::tool
