// devsim run / replay / list: the scenario commands.
#pragma once

#include <CLI/CLI.hpp>

namespace devsim::tool {

// Each registers its subcommand; the callback sets the process exit status through *exit_code (0: every
// expectation held, 1: one failed, 2: usage or input error).
void add_run_command(CLI::App& app, int* exit_code);
void add_replay_command(CLI::App& app, int* exit_code);
void add_list_command(CLI::App& app, int* exit_code);

}  // namespace devsim::tool
