#include "tools/demo.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "sim/demo_models.hpp"
#include "sim/explorer.hpp"

namespace devsim::tool {

namespace {
struct DemoOptions {
  std::string strategy = "exhaustive";
  std::uint64_t seed = 1;
  std::uint64_t executions = 1000;
  int preemptions = -1;
  int pct_depth = 2;
  bool fixed = false;
  std::string json_path;
  std::string trace_path;
};

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

int run_demo(const DemoOptions& o) {
  sim::ExploreOptions eo;
  if (!sim::parse_strategy_kind(o.strategy, &eo.strategy.kind) || eo.strategy.kind == sim::StrategyKind::Replay) {
    std::cerr << "devsim demo: unknown strategy '" << o.strategy << "' (random, pct, exhaustive)\n";
    return 2;
  }
  eo.strategy.seed = o.seed;
  eo.strategy.pct_depth = o.pct_depth;
  eo.strategy.preemption_bound = o.preemptions;
  eo.max_executions = o.executions;
  eo.trace_first_failure = !o.trace_path.empty();
  const bool fixed = o.fixed;
  sim::Model model = [fixed](sim::World& w) { sim::demo::unplug_while_open(w, fixed); };
  spdlog::debug("exploring the {} model with {} (seed {}, up to {} executions)", fixed ? "fixed" : "buggy", o.strategy,
                o.seed, o.executions);

  sim::ExploreResult r = sim::explore(model, eo);
  const char* variant = fixed ? "unplug-while-open (fixed: refcounted driver data)"
                              : "unplug-while-open (buggy: driver data freed at unplug)";
  std::cout << variant << ": " << r.executions << " executions (" << o.strategy
            << (r.exhausted ? ", search complete" : "") << "), " << r.failing_executions << " failing, "
            << r.failures.size() << " distinct bug(s)\n";
  for (const sim::Failure& f : r.failures) {
    std::cout << "\nfirst seen in execution " << f.first_execution << ", " << f.count << " execution(s) in all:\n"
              << sim::render_text(f.report);
  }
  if (r.failures.empty()) std::cout << "no bug in any explored schedule\n";

  if (!o.json_path.empty()) {
    nlohmann::json j;
    j["model"] = fixed ? "unplug_while_open/fixed" : "unplug_while_open/buggy";
    j["strategy"] = o.strategy;
    j["seed"] = o.seed;
    j["executions"] = r.executions;
    j["failing_executions"] = r.failing_executions;
    j["exhausted"] = r.exhausted;
    j["failures"] = nlohmann::json::array();
    for (const sim::Failure& f : r.failures) {
      j["failures"].push_back({{"signature", f.signature},
                               {"count", f.count},
                               {"first_execution", f.first_execution},
                               {"report", nlohmann::json::parse(sim::render_json(f.report))}});
    }
    if (!write_file(o.json_path, j.dump(2) + "\n")) {
      std::cerr << "devsim demo: cannot write " << o.json_path << "\n";
      return 2;
    }
  }
  if (!o.trace_path.empty()) {
    std::string trace = r.first_failure ? r.first_failure->trace_json : std::string();
    if (trace.empty()) {
      // No failure: trace the first execution instead.
      sim::WorldOptions wo;
      wo.trace = true;
      trace = sim::run_once(model, wo).trace_json;
    }
    if (!write_file(o.trace_path, trace)) {
      std::cerr << "devsim demo: cannot write " << o.trace_path << "\n";
      return 2;
    }
  }
  // The demo's expectation: the buggy model has a bug, the fixed one has none.
  const bool as_expected = fixed ? r.failures.empty() : !r.failures.empty();
  return as_expected ? 0 : 1;
}
}  // namespace

void add_demo_command(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<DemoOptions>();
  CLI::App* demo = app.add_subcommand(
      "demo",
      "Explore the two-task 'unplug while open' model: the engine finds the use-after-free in the buggy "
      "variant and proves the fixed one clean. Exit 0 when it does.");
  demo->add_option("--strategy", opts->strategy, "random, pct or exhaustive")->capture_default_str();
  demo->add_option("--seed", opts->seed, "seed of the choice stream")->capture_default_str();
  demo->add_option("--executions", opts->executions, "execution budget (0: until exhaustive search ends)")
      ->capture_default_str();
  demo->add_option("--preemptions", opts->preemptions, "preemption bound for exhaustive search (-1: none)")
      ->capture_default_str();
  demo->add_option("--pct-depth", opts->pct_depth, "PCT depth d")->capture_default_str()->check(CLI::PositiveNumber);
  demo->add_flag("--fixed", opts->fixed, "explore the fixed variant (refcounted driver data)");
  demo->add_option("--json", opts->json_path, "write the result as JSON to FILE");
  demo->add_option("--trace", opts->trace_path, "write the Chrome/Perfetto trace of the first failing execution");
  demo->callback([opts, exit_code] { *exit_code = run_demo(*opts); });
}

}  // namespace devsim::tool
