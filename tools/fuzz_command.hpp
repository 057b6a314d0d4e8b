// devsim fuzz: the fuzzing command.
#pragma once

#include <CLI/CLI.hpp>

namespace devsim::tool {

void add_fuzz_command(CLI::App& app, int* exit_code);

}  // namespace devsim::tool
