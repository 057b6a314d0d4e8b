// `devsim demo`: the engine finds a use-after-free in the two-task "unplug while open" model.
#pragma once

#include <CLI/CLI.hpp>

namespace devsim::tool {

// Registers the subcommand; the callback sets the process exit status through *exit_code.
void add_demo_command(CLI::App& app, int* exit_code);

}  // namespace devsim::tool
