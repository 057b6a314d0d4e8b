// The devsim command line (run, replay, list, demo) as a function, so builds that add their own mock drivers
// get the same tool: link devsim::cli, register drivers with DEVSIM_REGISTER_DRIVER, and call run_cli from main.
#pragma once

namespace devsim::tool {

// Parses the arguments and runs the subcommand. Returns the process exit status: 0 when every expectation held,
// 1 when one failed, 2 on usage or input errors.
int run_cli(int argc, char** argv);

}  // namespace devsim::tool
