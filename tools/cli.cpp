// The devsim command line, as a library: the devsim tool is one main() calling run_cli(), and so is a user's
// own build with extra drivers (docs/writing-a-driver.md).
#include "tools/cli.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "tools/demo.hpp"
#include "tools/fuzz_command.hpp"
#include "tools/scenario_commands.hpp"
#include "tools/stress_command.hpp"

#ifndef DEVSIM_VERSION
#define DEVSIM_VERSION "0.1.0"
#endif

namespace devsim::tool {

int run_cli(int argc, char** argv) {
  CLI::App app{
      "devsim: a deterministic simulator of the Linux driver model that finds, replays and explains "
      "device-lifetime bugs."};
  // At most one; none is checked after parsing, so that an unknown option is reported as what it is rather than
  // as a missing subcommand.
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", std::string("devsim ") + DEVSIM_VERSION);
  int verbosity = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbosity, "more diagnostics (repeat for debug and trace)");
  app.add_flag("-q,--quiet", quiet, "errors only");
  int exit_code = 0;
  devsim::tool::add_run_command(app, &exit_code);
  devsim::tool::add_replay_command(app, &exit_code);
  devsim::tool::add_list_command(app, &exit_code);
  devsim::tool::add_fuzz_command(app, &exit_code);
  devsim::tool::add_demo_command(app, &exit_code);
  devsim::tool::add_stress_command(app, &exit_code);
  app.parse_complete_callback([&] {
    spdlog::set_level(quiet            ? spdlog::level::err
                      : verbosity >= 2 ? spdlog::level::trace
                      : verbosity == 1 ? spdlog::level::debug
                                       : spdlog::level::warn);
  });
  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) {
      std::cerr << "devsim: a command is required: run, replay, list, fuzz, demo or stress (devsim --help)\n";
      return 2;
    }
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;  // usage errors: status 2
  } catch (const std::exception& e) {
    std::cerr << "devsim: " << e.what() << "\n";
    return 2;
  }
  return exit_code;
}

}  // namespace devsim::tool
