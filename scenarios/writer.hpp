// Writing a scenario back as text: what the fuzzer's generated cases and shrunk reproducers are saved as.
#pragma once

#include <string>

#include "scenarios/scenario.hpp"

namespace devsim::scenarios {

// One operation in the language's syntax, with its binding and allowed results ("fd = open /dev/x => 0").
std::string op_text(const Op& op);
// The whole scenario: drivers, firmware, devices, fail-nth, tasks, expectations, exploration settings and the
// schedule if it has one. parse_scenario(to_text(s)) gives back an equivalent scenario.
std::string to_text(const Scenario& s);

}  // namespace devsim::scenarios
