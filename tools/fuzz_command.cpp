#include "tools/fuzz_command.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "fuzz/fuzzer.hpp"
#include "sim/report.hpp"

namespace devsim::tool {

namespace {

struct FuzzOptions {
  std::string driver;
  double seconds = 0;
  std::uint64_t executions = 0;
  std::uint64_t seed = 1;
  unsigned jobs = 0;  // every core
  std::string shard = "0/1";
  std::string out = "fuzz-out";
  std::string json_path;
  bool stop_at_first = false;
};

int run_fuzz(const FuzzOptions& o) {
  fuzz::CampaignOptions c;
  c.driver = o.driver;
  c.seed = o.seed;
  c.seconds = o.seconds;
  c.executions = o.executions;
  c.stop_at_first = o.stop_at_first;
  if (c.seconds <= 0 && c.executions == 0) c.seconds = 60;
  c.jobs = o.jobs == 0 ? std::max(1u, std::thread::hardware_concurrency()) : o.jobs;
  unsigned k = 0, n = 0;
  char slash = 0;
  if (std::sscanf(o.shard.c_str(), "%u%c%u", &k, &slash, &n) != 3 || slash != '/' || n == 0 || k >= n) {
    std::cerr << "devsim fuzz: --shard takes K/N with 0 <= K < N, got '" << o.shard << "'\n";
    return 2;
  }
  c.shard = k;
  c.shards = n;
  if (drivers::find_driver(o.driver) == nullptr) {
    std::cerr << "devsim fuzz: unknown driver '" << o.driver << "' (devsim list shows them)\n";
    return 2;
  }
  const bool tty = isatty(STDOUT_FILENO) != 0;
  double last_line = 0;
  c.progress = [&](std::uint64_t execs, std::uint64_t cases, std::size_t bugs, double secs) {
    if (tty) {
      std::printf("\r%llu executions (%.0f/s), %llu cases, %zu distinct bug(s), %.0f s   ",
                  static_cast<unsigned long long>(execs), secs > 0 ? execs / secs : 0.0,
                  static_cast<unsigned long long>(cases), bugs, secs);
      std::fflush(stdout);
    } else if (secs - last_line >= 10) {
      last_line = secs;
      std::printf("%llu executions (%.0f/s), %llu cases, %zu distinct bug(s), %.0f s\n",
                  static_cast<unsigned long long>(execs), secs > 0 ? execs / secs : 0.0,
                  static_cast<unsigned long long>(cases), bugs, secs);
      std::fflush(stdout);
    }
  };
  fuzz::CampaignResult r = fuzz::run_campaign(c);
  if (tty) std::printf("\n");
  std::cout << o.driver << ": " << r.executions << " executions in " << r.cases << " cases, " << r.seconds << " s ("
            << static_cast<std::uint64_t>(r.seconds > 0 ? r.executions / r.seconds : 0) << "/s, " << c.jobs
            << " job(s)), " << r.findings.size() << " distinct bug(s)\n";
  std::error_code ec;
  if (!r.findings.empty()) std::filesystem::create_directories(o.out, ec);
  nlohmann::json j;
  j["driver"] = o.driver;
  j["executions"] = r.executions;
  j["cases"] = r.cases;
  j["seconds"] = r.seconds;
  j["jobs"] = c.jobs;
  j["findings"] = nlohmann::json::array();
  std::size_t index = 0;
  for (const fuzz::Finding& f : r.findings) {
    std::string path;
    ++index;
    if (!f.reproducer.empty()) {
      path = (std::filesystem::path(o.out) / (o.driver + "-" + std::to_string(index) + ".scn")).string();
      std::ofstream(path) << f.reproducer;
    } else {
      // Not reproducible by replay (a bug that depends on more than the choices): keep the generated case.
      std::string unshrunk =
          (std::filesystem::path(o.out) / (o.driver + "-" + std::to_string(index) + "-unshrunk.scn")).string();
      std::ofstream(unshrunk) << "# The generated case (not shrunk: its failure did not replay)\n" << f.original;
      std::cout << "(kept the generated case as " << unshrunk << ")\n";
    }
    std::cout << "\n"
              << f.report.headline << ": first found after " << f.first_execution << " executions (" << f.first_seconds
              << " s); reproducer " << f.ops_before << " -> " << f.ops_after << " operations"
              << (path.empty() ? " (could not be reproduced)" : ": " + path) << "\n"
              << sim::render_text(f.report);
    nlohmann::json fj;
    fj["signature"] = f.signature;
    fj["kind"] = f.report.kind;
    fj["headline"] = f.report.headline;
    fj["first_execution"] = f.first_execution;
    fj["first_seconds"] = f.first_seconds;
    fj["ops_before"] = f.ops_before;
    fj["ops_after"] = f.ops_after;
    fj["reproducer"] = path;
    j["findings"].push_back(std::move(fj));
  }
  if (!o.json_path.empty()) std::ofstream(o.json_path) << j.dump(2) << "\n";
  return r.findings.empty() ? 0 : 1;
}

}  // namespace

void add_fuzz_command(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<FuzzOptions>();
  CLI::App* cmd = app.add_subcommand(
      "fuzz",
      "Fuzz hotplug sequences against a driver: generate operation sequences, explore their schedules "
      "with fault injection, shrink each distinct bug to a replayable scenario. Exit 1 when a bug is found, "
      "0 when none, 2 on usage errors.");
  cmd->add_option("--driver", o->driver, "the driver to fuzz (devsim list)")->required();
  cmd->add_option("--time", o->seconds, "stop after SECONDS (default 60 when no --executions)");
  cmd->add_option("--executions", o->executions, "stop after N executions");
  cmd->add_option("--seed", o->seed, "campaign seed");
  cmd->add_option("--jobs", o->jobs, "worker threads (default 0: every core of the machine)");
  cmd->add_option("--shard", o->shard, "K/N: this machine's share of the seed space");
  cmd->add_option("--out", o->out, "directory for reproducers (default fuzz-out)");
  cmd->add_option("--json", o->json_path, "write the campaign's result as JSON to FILE");
  cmd->add_flag("--stop-at-first", o->stop_at_first, "end the campaign once a bug is found and shrunk");
  cmd->callback([o, exit_code] { *exit_code = run_fuzz(*o); });
}

}  // namespace devsim::tool
