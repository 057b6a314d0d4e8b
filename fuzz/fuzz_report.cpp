// devsim-fuzz-report: the figures of docs/fuzzing.md, measured.
//   table  [SEEDS]            every buggy driver fuzzed with seeds 1..SEEDS until its bug is found: medians of
//                             executions and seconds to first detection, reproducer length before and after
//   fixed  [EXECUTIONS [JOBS]] every other driver fuzzed for EXECUTIONS executions (default 1,000,000), over
//                             seeds, counting reports that are not its designed outcome (must be 0)
//   together [EXECUTIONS [JOBS]] every other driver in one pool: each case loads several of them together (now
//                             and then all), ops on all their nodes; EXECUTIONS in all (default 1,000,000),
//                             counting reports that are not a designed outcome (must be 0)
// One core per campaign unless JOBS says otherwise.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz/designed_outcome.hpp"
#include "fuzz/fuzzer.hpp"
#include "sim/report.hpp"

using namespace devsim;

namespace {

template <class T>
T median(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? T{} : v[v.size() / 2];
}

int table(unsigned seeds) {
  std::printf(
      "| driver | race | bug kind | found (seeds) | median executions to first detection | median time | "
      "reproducer ops before -> after (median) |\n| --- | --- | --- | --- | ---: | ---: | --- |\n");
  for (const drivers::DriverInfo& d : drivers::all_drivers()) {
    if (!d.buggy) continue;
    std::vector<std::uint64_t> execs;
    std::vector<double> secs;
    std::vector<std::size_t> before, after;
    unsigned found = 0;
    for (unsigned seed = 1; seed <= seeds; ++seed) {
      fuzz::CampaignOptions o;
      o.driver = d.name;
      o.seed = seed;
      o.executions = 200'000;
      o.stop_at_kind = d.bug_kind;
      fuzz::CampaignResult r = fuzz::run_campaign(o);
      for (const fuzz::Finding& f : r.findings) {
        if (f.report.kind != d.bug_kind) continue;
        ++found;
        execs.push_back(f.first_execution);
        secs.push_back(f.first_seconds);
        before.push_back(f.ops_before);
        after.push_back(f.ops_after);
        break;
      }
    }
    std::printf("| %s | %s | %s | %s (%u/%u) | %llu | %.1f ms | %zu -> %zu |\n", d.name.c_str(), d.race.c_str(),
                d.bug_kind.c_str(),
                found == seeds ? "yes"
                : found        ? "partly"
                               : "no",
                found, seeds, static_cast<unsigned long long>(median(execs)), median(secs) * 1000, median(before),
                median(after));
    std::fflush(stdout);
  }
  return 0;
}

int fixed(std::uint64_t executions, unsigned jobs) {
  int bad = 0;
  std::printf(
      "| driver | executions | seeds | reports (not designed outcomes) | executions/s |\n"
      "| --- | ---: | ---: | ---: | ---: |\n");
  for (const drivers::DriverInfo& d : drivers::all_drivers()) {
    if (d.buggy) continue;
    fuzz::CampaignOptions o;
    o.driver = d.name;
    o.seed = 1;
    o.executions = executions;
    o.jobs = jobs;
    fuzz::CampaignResult r = fuzz::run_campaign(o);
    std::size_t reports = 0;
    for (const fuzz::Finding& f : r.findings) {
      if (std::find(d.expected_warnings.begin(), d.expected_warnings.end(), f.report.kind) != d.expected_warnings.end())
        continue;
      reports += f.count;
      std::fprintf(stderr, "%s: %s\n%s\n", d.name.c_str(), f.report.headline.c_str(), f.reproducer.c_str());
    }
    bad += reports != 0;
    std::printf("| %s | %llu | %llu cases | %zu | %.0f |\n", d.name.c_str(),
                static_cast<unsigned long long>(r.executions), static_cast<unsigned long long>(r.cases), reports,
                r.seconds > 0 ? r.executions / r.seconds : 0.0);
    std::fflush(stdout);
  }
  return bad == 0 ? 0 : 1;
}

int together(std::uint64_t executions, unsigned jobs) {
  fuzz::CampaignOptions o;
  for (const drivers::DriverInfo& d : drivers::all_drivers())
    if (!d.buggy) o.drivers.push_back(d.name);
  o.seed = 1;
  o.executions = executions;
  o.jobs = jobs;
  fuzz::CampaignResult r = fuzz::run_campaign(o);
  std::uint64_t reports = 0, designed = 0;
  for (const fuzz::Finding& f : r.findings) {
    if (fuzz::designed_outcome(f)) {
      designed += f.count;
      continue;
    }
    reports += f.count;
    std::fprintf(stderr, "%s\n%s\n", f.report.headline.c_str(), f.reproducer.c_str());
  }
  std::printf(
      "%zu drivers together: %llu executions in %llu cases, %.0f s (%.0f/s, %u job(s)); %llu reports that "
      "are not designed outcomes, %llu designed-outcome reports skipped\n",
      o.drivers.size(), static_cast<unsigned long long>(r.executions), static_cast<unsigned long long>(r.cases),
      r.seconds, r.seconds > 0 ? r.executions / r.seconds : 0.0, jobs, static_cast<unsigned long long>(reports),
      static_cast<unsigned long long>(designed));
  return reports == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "table") return table(argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 10);
  if (mode == "fixed")
    return fixed(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1'000'000,
                 argc > 3 ? static_cast<unsigned>(std::atoi(argv[3])) : 1);
  if (mode == "together")
    return together(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1'000'000,
                    argc > 3 ? static_cast<unsigned>(std::atoi(argv[3])) : 1);
  std::fprintf(stderr, "usage: %s table [SEEDS] | fixed [EXECUTIONS [JOBS]] | together [EXECUTIONS [JOBS]]\n", argv[0]);
  return 2;
}
