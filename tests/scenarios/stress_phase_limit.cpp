// devsim stress's deadline covers every phase of an iteration, not only the scenario's tasks: a driver whose probe
// (at set-up) or remove() (at shut-down) never returns stops the run as a devsim limit (StressResult::hung names
// the phase) instead of hanging it with nothing said.
//
// Not a Boost.Test suite: the stuck callback's thread can never be joined (a native thread cannot be interrupted),
// so, as `devsim stress` does after a LIMIT, the program ends with _Exit and no static destructors run under it.
// Usage: stress_phase_limit set-up|shut-down
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "drivers/registry.hpp"
#include "scenarios/parser.hpp"
#include "scenarios/stress.hpp"

using namespace devsim;

namespace {

bool g_stuck_in_probe = false;

[[noreturn]] void stuck() {
  for (;;)
    std::this_thread::sleep_for(std::chrono::hours(1));
}

drivers::DriverInfo stuck_info() {
  drivers::DriverInfo info;
  info.name = "stress_test_stuck";
  info.bus = "usb";
  info.summary = "test driver: probe or remove never returns";
  info.ops = [] {
    bus::DriverOps ops;
    ops.bus = "usb";
    ops.probe = [](bus::CoreContext&) {
      if (g_stuck_in_probe) stuck();
      return 0;
    };
    ops.remove = [](bus::CoreContext&) {
      if (!g_stuck_in_probe) stuck();
    };
    return ops;
  };
  return info;
}

DEVSIM_REGISTER_DRIVER(stuck_info)

int fail(const std::string& what) {
  std::fprintf(stderr, "stress_phase_limit: FAILED: %s\n", what.c_str());
  std::_Exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || (std::strcmp(argv[1], "set-up") != 0 && std::strcmp(argv[1], "shut-down") != 0))
    return fail("usage: stress_phase_limit set-up|shut-down");
  g_stuck_in_probe = std::strcmp(argv[1], "set-up") == 0;
  const scenarios::Scenario s = scenarios::parse_scenario(
      "driver stress_test_stuck\n"
      "device usb 1-1 stress_test_stuck\n"
      "task app {\n  sleep 1ms\n}\n",
      "stuck.scn");
  if (std::string why = scenarios::native_obstacle(s); !why.empty()) return fail("refused: " + why);
  scenarios::StressOptions o;
  o.iterations = 3;
  o.iteration_timeout_seconds = 0.2;
  const scenarios::StressResult r = scenarios::stress_scenario(s, o);
  const auto want = g_stuck_in_probe ? scenarios::StressResult::Phase::SetUp : scenarios::StressResult::Phase::ShutDown;
  if (r.hung != want)
    return fail("hung phase " + std::to_string(static_cast<int>(r.hung)) + ", want " +
                std::to_string(static_cast<int>(want)));
  if (r.iterations != 0) return fail("iterations " + std::to_string(r.iterations) + ", want 0");
  if (r.passed()) return fail("a hung run passed");
  std::printf("stress_phase_limit %s: the run stopped with the phase named\n", argv[1]);
  std::fflush(stdout);
  std::_Exit(0);
}
