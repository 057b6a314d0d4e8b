#include "tools/fuzz_command.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "fuzz/designed_outcome.hpp"
#include "fuzz/fuzzer.hpp"
#include "sim/report.hpp"
#include "tools/cli_numbers.hpp"
#include "tools/stop_signals.hpp"

namespace devsim::tool {

namespace {

// The bounds of the options (docs/fuzzing.md).
constexpr unsigned kMaxJobs = 256;
constexpr std::uint64_t kMaxExecutions = 1'000'000'000'000'000ULL;  // 10^15
constexpr double kMaxSeconds = 366.0 * 24 * 3600;                   // a year
constexpr unsigned kMaxShards = 1'000'000;

struct FuzzOptions {
  std::vector<std::string> drivers;
  bool all_fixed = false;
  std::string seconds, executions, seed = "1", jobs = "0", shard = "0/1";
  std::string out = "fuzz-out";
  std::string json_path;
  bool stop_at_first = false;
};

// ---- signals ---------------------------------------------------------------------------------------------------

// stop_requested() is set by SIGINT/SIGTERM (and by a failed write): the campaign stops starting cases and winds
// down.

// The crash handler's fixed text, prepared before the campaign (the handler may only write()).
char g_crash_suffix[1024] = "";

void write_str(const char* s) {
  std::size_t n = std::strlen(s);
  while (n > 0) {
    ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

// A crash of driver code in a job (not a report: the process itself faulted). Async-signal-safe: write() and
// _exit() only. The reproducers and JSON written so far stay on disk.
extern "C" void on_crash(int sig) {
  // Jobs are threads: two may crash at once. The first writes the error and ends the process; any other waits for
  // that (the handler stays installed: with the default action restored, a second crash would kill the process
  // before the first one's message is out).
  static std::atomic<bool> crashing{false};
  if (crashing.exchange(true)) {
    for (;;)
      ::pause();
  }
  const char* name = sig == SIGSEGV   ? "SIGSEGV"
                     : sig == SIGBUS  ? "SIGBUS"
                     : sig == SIGFPE  ? "SIGFPE"
                     : sig == SIGILL  ? "SIGILL"
                     : sig == SIGABRT ? "SIGABRT"
                                      : "a fatal signal";
  write_str("\ndevsim fuzz: error: ");
  write_str(name);
  write_str(" in a fuzz job running ");
  const char* what = fuzz::current_case_description();
  write_str(what[0] != '\0' ? what : "no case (outside the drivers' code)");
  write_str(".\n");
  write_str(g_crash_suffix);
  ::_exit(2);
}

// Installs the handlers for the campaign's duration and puts the previous ones back afterwards.
class SignalScope {
 public:
  SignalScope() {
    struct sigaction crash {};
    crash.sa_handler = on_crash;
    sigemptyset(&crash.sa_mask);
    // On the alternate stack the simulator gives every thread that runs tasks (a fault may be a stack overflow).
    crash.sa_flags = SA_ONSTACK;
    for (std::size_t i = 0; i < std::size(kCrashSignals); ++i)
      sigaction(kCrashSignals[i], &crash, &old_crash_[i]);
  }
  ~SignalScope() {
    // The crash handlers go only where still ours: the simulator's stack-overflow handler installs itself on
    // top during the campaign (chaining to ours), and stays.
    for (std::size_t i = 0; i < std::size(kCrashSignals); ++i) {
      struct sigaction current {};
      if (sigaction(kCrashSignals[i], nullptr, &current) == 0 && !(current.sa_flags & SA_SIGINFO) &&
          current.sa_handler == on_crash)
        sigaction(kCrashSignals[i], &old_crash_[i], nullptr);
    }
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  static constexpr int kCrashSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
  StopSignals stop_;  // SIGINT and SIGTERM
  struct sigaction old_crash_[std::size(kCrashSignals)]{};
};

// ---- output files ----------------------------------------------------------------------------------------------

// Writes `text` to a new file `path` (never an existing one: O_EXCL). "" on success, else the reason.
std::string write_new_file(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return std::strerror(errno);
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t w = ::write(fd, text.data() + done, text.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      std::string why = w < 0 ? std::strerror(errno) : "short write";
      ::close(fd);
      ::unlink(path.c_str());
      return why;
    }
    done += static_cast<std::size_t>(w);
  }
  // Flushed to the file system before anyone is told it exists.
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return why;
  }
  if (::close(fd) != 0) return std::strerror(errno);
  return {};
}

// Replaces `path` with `text` atomically (a temporary file beside it, then rename): a reader never sees half a
// JSON document, and a failure leaves the previous one. "" on success, else the reason.
std::string replace_file(const std::string& path, const std::string& text) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    return "it exists and is not a regular file";
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  if (std::string why = write_new_file(tmp, text); !why.empty()) return why;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return why;
  }
  return {};
}

// A fresh directory for this campaign under `out`: OUT/NAME-seedS[-shardKofN][-2, -3, …]. mkdir is atomic, so
// two campaigns never share one, and a campaign never writes next to an earlier one's files.
std::string make_campaign_dir(const std::string& out, const std::string& name, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec || !std::filesystem::is_directory(out, ec)) {
    *error = "--out " + out + ": cannot use it as a directory" + (ec ? " (" + ec.message() + ")" : "");
    return {};
  }
  for (int n = 1; n < 10'000; ++n) {
    std::string dir = (std::filesystem::path(out) / (name + (n == 1 ? "" : "-" + std::to_string(n)))).string();
    if (::mkdir(dir.c_str(), 0755) == 0) {
      // Writable? A directory we just made may still sit in a read-only or full file system.
      std::string probe = dir + "/.devsim-write-check";
      if (std::string why = write_new_file(probe, "check\n"); !why.empty()) {
        ::rmdir(dir.c_str());
        *error = "--out " + out + ": cannot write in it (" + why + ")";
        return {};
      }
      ::unlink(probe.c_str());
      return dir;
    }
    if (errno != EEXIST) {
      *error = "--out " + out + ": cannot create " + dir + " (" + std::strerror(errno) + ")";
      return {};
    }
  }
  *error = "--out " + out + ": 10,000 campaigns of this name are already there";
  return {};
}

// ---- the command -----------------------------------------------------------------------------------------------

std::string kind_slug(const std::string& kind) {
  std::string s;
  for (char c : kind)
    s += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return s.empty() ? "bug" : s;
}

nlohmann::json finding_json(const fuzz::Finding& f, const std::string& reproducer) {
  nlohmann::json fj;
  fj["index"] = f.index;
  fj["kind"] = f.report.kind;
  fj["root_cause"] = f.key;
  fj["signature"] = f.signature;
  fj["headline"] = f.report.headline;
  fj["designed_outcome"] = fuzz::designed_outcome(f);
  fj["access_sites"] = f.access_sites;
  fj["drivers"] = f.drivers;
  fj["case_number"] = f.case_number;
  fj["case_seed"] = f.case_seed;
  fj["first_execution"] = f.first_execution;
  fj["first_seconds"] = f.first_seconds;
  fj["failing_executions"] = f.count;
  fj["ops_before"] = f.ops_before;
  fj["ops_after"] = f.ops_after;
  fj["shrunk"] = f.shrunk;
  if (!f.note.empty()) fj["note"] = f.note;
  fj["reproducer"] = reproducer.empty() ? nlohmann::json(nullptr) : nlohmann::json(reproducer);
  return fj;
}

int run_fuzz(const FuzzOptions& o) {
  // Every value was range-checked by its validator; parsed again here with the same code.
  fuzz::CampaignOptions c;
  if (o.all_fixed) {
    for (const drivers::DriverInfo& d : drivers::all_drivers())
      if (!d.buggy) c.drivers.push_back(d.name);
  }
  for (const std::string& d : o.drivers) {
    if (drivers::find_driver(d) == nullptr) {
      std::cerr << "devsim fuzz: unknown driver '" << d << "' (devsim list shows them)\n";
      return 2;
    }
    if (std::find(c.drivers.begin(), c.drivers.end(), d) == c.drivers.end()) c.drivers.push_back(d);
  }
  if (c.drivers.empty()) {
    std::cerr << "devsim fuzz: say which drivers: --driver NAME (repeatable) or --all-fixed\n";
    return 2;
  }
  c.seed = *parse_uint(o.seed, 0, UINT64_MAX, nullptr);
  if (!o.executions.empty()) c.executions = *parse_uint(o.executions, 1, kMaxExecutions, nullptr);
  if (!o.seconds.empty()) c.seconds = *parse_seconds(o.seconds, kMaxSeconds, nullptr);
  if (c.seconds <= 0 && c.executions == 0) c.seconds = 60;
  const unsigned jobs = static_cast<unsigned>(*parse_uint(o.jobs, 0, kMaxJobs, nullptr));
  c.jobs = jobs != 0 ? jobs : std::clamp(std::thread::hardware_concurrency(), 1u, kMaxJobs);
  const Shard shard = *parse_shard(o.shard, kMaxShards, nullptr);
  c.shard = shard.k;
  c.shards = shard.n;
  c.stop_at_first = o.stop_at_first;

  // Outputs first: an unusable --out or --json is an error before any work.
  const std::string name = (c.drivers.size() == 1 ? c.drivers[0] : std::to_string(c.drivers.size()) + "-drivers") +
                           "-seed" + std::to_string(c.seed) +
                           (c.shards > 1 ? "-shard" + std::to_string(c.shard) + "of" + std::to_string(c.shards) : "");
  std::string error;
  const std::string dir = make_campaign_dir(o.out, name, &error);
  if (dir.empty()) {
    std::cerr << "devsim fuzz: " << error << "\n";
    return 2;
  }
  auto remove_dir_if_empty = [&] {
    std::error_code ec;
    if (std::filesystem::is_empty(dir, ec)) std::filesystem::remove(dir, ec);
  };

  nlohmann::json j;
  j["status"] = "running";
  j["drivers"] = c.drivers;
  j["seed"] = c.seed;
  j["shard"] = std::to_string(c.shard) + "/" + std::to_string(c.shards);
  j["jobs"] = c.jobs;
  j["budget"] = {{"executions", c.executions != 0 ? nlohmann::json(c.executions) : nlohmann::json(nullptr)},
                 {"seconds", c.seconds > 0 ? nlohmann::json(c.seconds) : nlohmann::json(nullptr)},
                 {"stop_at_first", c.stop_at_first}};
  j["out_dir"] = dir;
  j["findings"] = nlohmann::json::array();
  std::map<std::size_t, nlohmann::json> written;  // finding index -> its JSON, as reproducers are written
  auto save_json = [&]() -> bool {
    if (o.json_path.empty()) return true;
    j["findings"] = nlohmann::json::array();
    for (auto& [index, fj] : written)
      j["findings"].push_back(fj);
    if (std::string why = replace_file(o.json_path, j.dump(2) + "\n"); !why.empty()) {
      std::cerr << "devsim fuzz: cannot write --json " << o.json_path << ": " << why << "\n";
      return false;
    }
    return true;
  };
  if (!save_json()) {
    remove_dir_if_empty();
    return 2;
  }
  // A C module that cannot be loaded would run nothing: each case's verdict would be a devsim limit, and the campaign
  // would end with no bug found in a driver it never ran.
  for (const std::string& name : c.drivers) {
    const drivers::DriverInfo* d = drivers::find_driver(name);
    if (d == nullptr || !d->module_check) continue;
    if (const std::string why = d->module_check(); !why.empty()) {
      std::cerr << "devsim fuzz: error: the C module " << name << " cannot be loaded: " << why
                << " (an undefined symbol is a kernel function devsim's include/linux does not provide)\n";
      remove_dir_if_empty();
      return 2;
    }
  }
  // A campaign whose opens all fail runs and finds nothing: say so before it starts, and again with the result.
  std::vector<std::string> warnings;
  try {
    warnings = fuzz::missing_nodes(c.drivers);
  } catch (const std::exception& e) {  // host memory: the check is advice, the campaign reports its own errors
    std::cerr << "devsim fuzz: note: the check that the drivers' nodes exist could not run: " << e.what() << "\n";
  }
  for (const std::string& w : warnings)
    std::cerr << "devsim fuzz: warning: " << w << "\n";
  j["warnings"] = warnings;

  std::snprintf(g_crash_suffix, sizeof g_crash_suffix,
                "The process itself faulted in driver code: not a report devsim could make. A common cause is "
                "module state kept in static or global variables, shared by the %u jobs running at once; keep "
                "per-execution state in the world (sim::World::extension, docs/writing-a-driver.md section 7), "
                "and run with --jobs 1 to tell. Reproducers and JSON written so far are in %s.\n",
                c.jobs, dir.c_str());

  const bool tty = isatty(STDOUT_FILENO) != 0;
  bool write_failed = false;
  std::size_t files = 0;
  std::map<std::size_t, std::string> paths;  // finding index -> reproducer path (only once written)
  c.on_finding = [&](const fuzz::Finding& f) {
    // Written at once, each to a new file: the name is the finding's index and kind, in a directory no other
    // campaign uses.
    const std::string base = std::to_string(f.index) + "-" + kind_slug(f.report.kind) + ".scn";
    const std::string path = (std::filesystem::path(dir) / base).string();
    std::string rel;
    if (std::string why = write_new_file(path, f.reproducer); !why.empty()) {
      std::cerr << "devsim fuzz: cannot write reproducer " << path << ": " << why
                << "; it follows on standard output, and the campaign stops\n";
      std::cout << f.reproducer << std::flush;
      write_failed = true;
      stop_requested() = true;
    } else {
      rel = base;
      paths[f.index] = path;
      ++files;
      std::cout << (tty ? "\n" : "") << (fuzz::designed_outcome(f) ? "designed outcome " : "bug ") << f.index << ": "
                << f.report.headline << " -> " << path << "\n"
                << std::flush;
    }
    written[f.index] = finding_json(f, rel);
    if (!save_json()) {
      write_failed = true;
      stop_requested() = true;
    }
  };
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
  reset_stop();
  c.cancel = &stop_requested();
  fuzz::CampaignResult r;
  {
    SignalScope signals;
    try {
      r = fuzz::run_campaign(c);
    } catch (const std::exception& e) {
      std::cerr << "devsim fuzz: error: " << e.what() << "\n";
      j["status"] = "error";
      j["error"] = e.what();
      save_json();
      remove_dir_if_empty();
      return 2;
    }
  }
  const int sig = stop_signal();
  if (tty) std::printf("\n");
  std::string who = c.drivers.size() == 1 ? c.drivers[0] : std::to_string(c.drivers.size()) + " drivers";
  // What a driver declares it does on purpose (fuzz/designed_outcome.hpp) is listed apart and is not a bug.
  const std::size_t designed = static_cast<std::size_t>(std::count_if(
      r.findings.begin(), r.findings.end(), [](const fuzz::Finding& f) { return fuzz::designed_outcome(f); }));
  const std::size_t bugs = r.findings.size() - designed;
  std::cout << who << ": " << r.executions << " executions in " << r.cases << " cases, " << r.seconds << " s ("
            << static_cast<std::uint64_t>(r.seconds > 0 ? r.executions / r.seconds : 0) << "/s, " << c.jobs
            << " job(s)), " << bugs << " distinct bug(s)"
            << (designed != 0 ? ", " + std::to_string(designed) + " designed outcome(s) of the driver(s)" : "")
            << (sig == SIGINT    ? "; interrupted by SIGINT"
                : sig == SIGTERM ? "; stopped by SIGTERM"
                                 : "")
            << "\n";
  for (const std::string& w : warnings)
    std::cerr << "devsim fuzz: warning: " << w << "\n";
  for (const fuzz::Finding& f : r.findings) {
    auto p = paths.find(f.index);
    const bool is_designed = fuzz::designed_outcome(f);
    std::cout << "\n"
              << (is_designed ? "designed outcome " : "bug ") << f.index << ": " << f.report.headline
              << (is_designed ? "\n  the driver declares " + f.report.kind + " as what it does on purpose: not a bug"
                              : "")
              << "\n  root cause: " << f.key << "\n  first found after " << f.first_execution << " executions ("
              << f.first_seconds << " s), case seed " << f.case_seed << ", " << f.count << " failing execution(s)\n";
    for (const std::string& site : f.access_sites)
      std::cout << "  access: " << site << "\n";
    std::cout << "  reproducer " << f.ops_before << " -> " << f.ops_after << " operations"
              << (f.note.empty() ? "" : " (" + f.note + ")")
              << (p != paths.end() ? ": " + p->second : ": not written (see above)") << "\n"
              << sim::render_text(f.report);
  }
  j["status"] = write_failed ? "error" : sig != 0 ? "interrupted" : "completed";
  if (sig != 0) j["signal"] = stop_signal_name();
  j["executions"] = r.executions;
  j["cases"] = r.cases;
  j["seconds"] = r.seconds;
  j["executions_per_second"] = r.seconds > 0 ? r.executions / r.seconds : 0.0;
  written.clear();
  for (const fuzz::Finding& f : r.findings) {
    auto p = paths.find(f.index);
    written[f.index] =
        finding_json(f, p != paths.end() ? std::filesystem::path(p->second).filename().string() : std::string());
  }
  if (!save_json()) write_failed = true;
  if (files == 0) remove_dir_if_empty();
  std::cout << std::flush;
  if (write_failed) return 2;
  if (sig != 0) return 128 + sig;
  return bugs == 0 ? 0 : 1;
}

}  // namespace

void add_fuzz_command(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<FuzzOptions>();
  CLI::App* cmd = app.add_subcommand(
      "fuzz",
      "Fuzz hotplug sequences against drivers: generate operation sequences (every operation of the scenario "
      "language), explore their schedules with fault injection, deduplicate by root cause, and shrink each "
      "distinct bug to a replayable scenario, written as soon as it is found into a new directory under --out. "
      "Exit 0: no bug; 1: a bug was found; 2: usage or output error, or a crash of driver code in a job; "
      "130/143: stopped by SIGINT/SIGTERM (reproducers and JSON so far are written).");
  cmd->add_option("--driver", o->drivers,
                  "a driver to fuzz (devsim list); repeat it (or use commas) for several, loaded together")
      ->type_name("NAME")
      ->delimiter(',');
  cmd->add_flag("--all-fixed", o->all_fixed, "fuzz every driver that is not a buggy variant, together");
  cmd->add_option("--time", o->seconds, "stop after SECONDS (> 0, at most a year; default 60 when no --executions)")
      ->type_name("SECONDS")
      ->check(checked("", [](const std::string& t, std::string* e) { return parse_seconds(t, kMaxSeconds, e); }));
  cmd->add_option("--executions", o->executions, "stop after N executions (1 to 10^15)")
      ->type_name("N")
      ->check(checked("", [](const std::string& t, std::string* e) { return parse_uint(t, 1, kMaxExecutions, e); }));
  cmd->add_option("--seed", o->seed, "campaign seed (0 to 2^64-1, default 1)")
      ->type_name("SEED")
      ->check(checked("", [](const std::string& t, std::string* e) { return parse_uint(t, 0, UINT64_MAX, e); }));
  cmd->add_option("--jobs", o->jobs, "worker threads, 1 to 256 (default 0: every core of the machine)")
      ->type_name("N")
      ->check(checked("", [](const std::string& t, std::string* e) { return parse_uint(t, 0, kMaxJobs, e); }));
  cmd->add_option("--shard", o->shard, "K/N: this machine's share of the cases, 0 <= K < N <= 1000000")
      ->type_name("K/N")
      ->check(checked("", [](const std::string& t, std::string* e) { return parse_shard(t, kMaxShards, e); }));
  cmd->add_option("--out", o->out,
                  "directory for reproducers (default fuzz-out); each campaign writes into a new subdirectory")
      ->type_name("DIR")
      ->check([](const std::string& t) { return t.empty() ? std::string("expected a directory name") : ""; });
  cmd->add_option("--json", o->json_path,
                  "write the campaign's result as JSON to FILE (kept current as bugs are found)")
      ->type_name("FILE")
      ->check([](const std::string& t) { return t.empty() ? std::string("expected a file name") : ""; });
  cmd->add_flag("--stop-at-first", o->stop_at_first, "end the campaign once a bug is found and shrunk");
  cmd->callback([o, exit_code] { *exit_code = run_fuzz(*o); });
}

}  // namespace devsim::tool
