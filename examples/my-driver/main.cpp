// The devsim command line; the drivers registered in this program (my_sensor.cpp) are added to the shipped ones.
#include "tools/cli.hpp"

int main(int argc, char** argv) {
  return devsim::tool::run_cli(argc, argv);
}
