// The explorer (explorer.hpp): results are deduplicated and counted as documented, and explorers on
// different OS threads are independent: running them in parallel gives what running them in turn gives.
#define BOOST_TEST_MODULE sim_explorer
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "sim/demo_models.hpp"
#include "sim/explorer.hpp"
#include "sim/kmalloc.hpp"
#include "sim/trace.hpp"
#include "tests/sim/test_models.hpp"

namespace sim = devsim::sim;

namespace {

const sim::Model kBuggyDemo = [](sim::World& w) { sim::demo::unplug_while_open(w, false); };

// Everything observable about a result except the wall-clock time, as one string.
std::string fingerprint(const sim::ExploreResult& r) {
  std::string out = std::to_string(r.executions) + " " + std::to_string(r.failing_executions) + " " +
                    std::to_string(r.pruned_executions) + " " + std::to_string(r.pruned_alternatives) + " " +
                    std::to_string(r.exhausted) + "\n";
  for (const sim::Failure& f : r.failures) {
    out += f.signature + " " + std::to_string(f.count) + " " + std::to_string(f.first_execution) + "\n" +
           sim::render_text(f.report);
  }
  if (r.first_failure) {
    out += std::to_string(r.first_failure->index) + " " + sim::to_string(r.first_failure->schedule) + " " +
           std::to_string(sim::fnv1a(r.first_failure->trace_json)) + "\n";
  }
  return out;
}

// One explorer's job: the demo under a random walk, then a task that overflows its stack (so each thread's
// overflow detection is exercised), then an exhaustive search.
std::string job(std::uint64_t seed) {
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Random;
  o.strategy.seed = seed;
  o.max_executions = 500;
  o.trace_first_failure = true;
  std::string out = fingerprint(sim::explore(kBuggyDemo, o));

  o.max_executions = 5;
  out += fingerprint(sim::explore(
      [](sim::World& w) {
        w.spawn("deep", [] {
          std::function<int(int)> dive = [&dive](int depth) {
            volatile char frame[1024];
            frame[0] = static_cast<char>(depth);
            return dive(depth + 1) + frame[0];
          };
          static_cast<void>(dive(0));
        });
        w.spawn("other", [] { sim::yield(); });
      },
      o));

  sim::ExploreOptions dfs;
  dfs.strategy.kind = sim::StrategyKind::Exhaustive;
  dfs.strategy.sleep_sets = seed % 2 == 0;
  dfs.max_executions = 0;
  out += fingerprint(sim::explore(sim::test::yielding_tasks({3, 4}), dfs));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(explorers_on_threads_match_sequential_runs) {
  constexpr std::uint64_t kJobs = 4;
  std::vector<std::string> sequential;
  for (std::uint64_t k = 1; k <= kJobs; ++k)
    sequential.push_back(job(k));

  std::vector<std::string> parallel(kJobs);
  {
    std::vector<std::thread> threads;
    for (std::uint64_t k = 1; k <= kJobs; ++k)
      threads.emplace_back([k, &parallel] { parallel[k - 1] = job(k); });
    for (std::thread& t : threads)
      t.join();
  }
  for (std::uint64_t k = 0; k < kJobs; ++k) {
    BOOST_TEST_CONTEXT("job " << k + 1) {
      BOOST_TEST(parallel[k] == sequential[k]);
      // Each job really found the use-after-free and the overflow.
      BOOST_TEST(sequential[k].find("use-after-free|") != std::string::npos);
      BOOST_TEST(sequential[k].find("stack-overflow|") != std::string::npos);
    }
  }
  // Different seeds explore differently (otherwise the comparison above would be trivially true).
  BOOST_TEST(sequential[0] != sequential[1]);
}

BOOST_AUTO_TEST_CASE(failures_are_deduplicated_by_signature) {
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Random;
  o.strategy.seed = 11;
  o.max_executions = 400;
  const sim::ExploreResult r = sim::explore(kBuggyDemo, o);
  BOOST_TEST(r.executions == 400u);
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  // Each failing execution has exactly one report here, so the counts agree.
  BOOST_TEST(r.failures[0].count == r.failing_executions);
  // Half of the 6 interleavings fail; random walk weights them unevenly, but far from 0% or 100%.
  BOOST_TEST(r.failing_executions > 100u);
  BOOST_TEST(r.failing_executions < 300u);
  BOOST_TEST_REQUIRE(r.first_failure.has_value());
  BOOST_TEST(r.first_failure->index == r.failures[0].first_execution);
  BOOST_TEST(r.first_failure->trace_json.empty());  // tracing was not asked for
  BOOST_TEST(!r.exhausted);                         // random never is

  o.stop_at_first_failure = true;
  const sim::ExploreResult first = sim::explore(kBuggyDemo, o);
  BOOST_TEST(first.executions == r.first_failure->index + 1);
  BOOST_TEST(first.failing_executions == 1u);
}

// The stop flag (set by devsim run's SIGINT/SIGTERM handler) ends the exploration after the execution that is
// running, and what was found before is kept. Here the model itself raises the flag in its 50th execution.
BOOST_AUTO_TEST_CASE(a_stop_request_ends_after_the_running_execution_and_keeps_the_findings) {
  std::atomic<bool> stop{false};
  int built = 0;
  const sim::Model model = [&](sim::World& w) {
    if (++built == 50) stop = true;
    sim::demo::unplug_while_open(w, false);
  };
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Random;
  o.strategy.seed = 11;
  o.max_executions = 400;
  o.stop = &stop;
  const sim::ExploreResult r = sim::explore(model, o);
  BOOST_TEST(r.interrupted);
  BOOST_TEST(r.executions == 50u);
  BOOST_TEST(!r.out_of_time);
  // The same 50 executions without the flag: the same findings.
  o.stop = nullptr;
  o.max_executions = 50;
  built = 0;
  const sim::ExploreResult whole = sim::explore(model, o);
  BOOST_TEST(!whole.interrupted);
  BOOST_TEST(whole.failing_executions > 0u);
  BOOST_TEST(fingerprint(r) == fingerprint(whole));
}

BOOST_AUTO_TEST_CASE(distinct_bugs_get_distinct_signatures) {
  // Either the reader reads freed memory, or the second freer frees twice: which one depends on the order,
  // and so do the sites in the report (who freed first).
  const sim::Model model = [](sim::World& w) {
    sim::KPtr<int> p = sim::kmalloc<int>(1);
    w.spawn("reader", [p] {
      sim::yield();
      static_cast<void>(p.read());
    });
    w.spawn("freer", [p] { sim::kfree(p); });
    w.spawn("again", [p] { sim::kfree(p); });
  };
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Exhaustive;
  o.max_executions = 0;
  const sim::ExploreResult r = sim::explore(model, o);
  BOOST_TEST(r.exhausted);
  // Every execution frees twice, so every one fails; the reader sometimes gets in first.
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST_REQUIRE(r.failures.size() == 4u);
  std::vector<std::string> kinds;
  std::uint64_t total = 0;
  for (const sim::Failure& f : r.failures) {
    kinds.push_back(f.report.kind);
    total += f.count;
  }
  std::sort(kinds.begin(), kinds.end());
  // A double free with either freer second, and the reader's use-after-free after either freer.
  BOOST_TEST(kinds == (std::vector<std::string>{"double-free", "double-free", "use-after-free", "use-after-free"}),
             boost::test_tools::per_element());
  BOOST_TEST(total == r.failing_executions);
}
