// devsim: the command-line tool with every shipped mock driver.
#include "tools/cli.hpp"

int main(int argc, char** argv) {
  return devsim::tool::run_cli(argc, argv);
}
