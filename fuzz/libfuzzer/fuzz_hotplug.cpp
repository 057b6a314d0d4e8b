// libFuzzer entry point: hotplug sequences. The input's bytes choose the driver, the operations of each task and
// the exploration seed; the case then runs under a few random and PCT schedules. Drivers that are not a race's
// buggy variant must never produce a report: one that does is a crash (the report is printed first), so a
// fuzzing cluster (ClusterFuzzLite, OSS-Fuzz) keeps the input. DEVSIM_FUZZ_DRIVER=NAME fuzzes one driver only.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz/fuzzer.hpp"
#include "scenarios/runner.hpp"
#include "scenarios/writer.hpp"

namespace {
std::vector<const devsim::drivers::DriverInfo*> targets() {
  std::vector<const devsim::drivers::DriverInfo*> out;
  const char* only = std::getenv("DEVSIM_FUZZ_DRIVER");
  for (const auto& d : devsim::drivers::all_drivers())
    if (only != nullptr ? d.name == only : !d.buggy) out.push_back(&d);
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<const devsim::drivers::DriverInfo*> drivers = targets();
  if (drivers.empty() || size < 2) return 0;
  devsim::fuzz::ByteSource source(data, size);
  const devsim::drivers::DriverInfo& d = *drivers[source.below(drivers.size())];
  const std::uint64_t seed = source.below(1 << 16);
  devsim::scenarios::Scenario s = devsim::fuzz::generate(d, source, seed);
  devsim::scenarios::Overrides o;
  o.executions = 4;
  for (auto kind : {devsim::sim::StrategyKind::Random, devsim::sim::StrategyKind::Pct}) {
    o.strategy = kind;
    o.seed = seed;
    devsim::scenarios::Verdict v = devsim::scenarios::run_scenario(s, o);
    if (d.buggy) continue;
    for (const devsim::sim::Failure& f : v.result.failures) {
      if (std::find(d.expected_warnings.begin(), d.expected_warnings.end(), f.report.kind) != d.expected_warnings.end())
        continue;
      std::fprintf(stderr, "devsim: %s reported a bug:\n%s\nin the case:\n%s", d.name.c_str(),
                   devsim::sim::render_text(f.report).c_str(), devsim::scenarios::to_text(s).c_str());
      std::abort();
    }
  }
  return 0;
}
