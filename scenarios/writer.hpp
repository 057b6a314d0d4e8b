// Writing a scenario back as text: what the fuzzer's generated cases and shrunk reproducers are saved as.
#pragma once

#include <string>

#include "scenarios/scenario.hpp"

namespace devsim::scenarios {

// One operation in the language's syntax, with its binding and allowed results ("fd = open /dev/x => 0").
std::string op_text(const Op& op);
// Bytes as the parser reads them back between quotes: printable ASCII as it is, the rest (and '"', '\\') as \xHH
// or \\. Pure ASCII, so it is safe in a message.
std::string data_text(const std::string& bytes);
// The whole scenario: drivers, firmware, devices, fail-nth, tasks, expectations, exploration settings and the
// schedule if it has one. parse_scenario(to_text(s)) gives back an equivalent scenario.
std::string to_text(const Scenario& s);

}  // namespace devsim::scenarios
