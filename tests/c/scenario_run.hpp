// What the C driver tests share: run a scenario given as text, and its failures as text for a test's message.
#pragma once

#include <string>

#include "scenarios/parser.hpp"
#include "scenarios/runner.hpp"
#include "sim/report.hpp"

namespace devsim::test {

inline scenarios::Verdict run(const std::string &text, const std::string &name) {
  scenarios::Scenario s = scenarios::parse_scenario(text, name);
  return scenarios::run_scenario(s);
}

inline std::string failures_text(const scenarios::Verdict &v) {
  std::string out;
  for (const sim::Failure &f : v.result.failures)
    out += sim::render_text(f.report) + "\n";
  return out;
}

}  // namespace devsim::test
