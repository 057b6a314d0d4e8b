// The devsim command line; the C drivers added with devsim_add_c_driver are registered beside the shipped ones.
#include "tools/cli.hpp"

int main(int argc, char** argv) {
  return devsim::tool::run_cli(argc, argv);
}
