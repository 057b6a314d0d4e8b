// devsim stress: a scenario's tasks on real OS threads (scenarios/stress.hpp).
#pragma once

#include <CLI/CLI.hpp>

namespace devsim::tool {

void add_stress_command(CLI::App& app, int* exit_code);

}  // namespace devsim::tool
