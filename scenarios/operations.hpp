// What a scenario's operations do to the machine, shared by the simulator's runner (runner.hpp) and the native
// stress runner (stress.hpp): one process's state, one operation, the machine's set-up and shut-down.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "bus/cdev.hpp"
#include "scenarios/scenario.hpp"

namespace devsim::scenarios {

// One task's process state: its variables, open descriptors and mappings.
struct Process {
  std::map<std::string, std::int64_t> vars;
  std::map<std::int64_t, bus::File*> files;
  // Mappings by the descriptor they were made through. A mapping outlives the descriptor's close (it holds its
  // own file reference), so `munmap FD` still finds it after `close FD`.
  std::multimap<std::int64_t, bus::File*> mappings;
  std::int64_t next_fd = 3;
};

// A result as the language writes it: "3", "-ENODEV".
std::string result_text(std::int64_t r);
// The headline of an "unexpected-result" report: a result outside `op.allowed`, or the right result with other
// bytes than `want` in the user buffer.
std::string unexpected_result_headline(const Op& op, std::int64_t got);
std::string unexpected_bytes_headline(const Op& op, std::int64_t got, const std::string& want,
                                      const std::optional<std::string>& copied_out);

// Runs one operation in the calling task and returns its result. `sleep`, `yield` and `signal` need the simulator
// (a world's virtual time and tasks); the native runner (scenarios/stress.cpp) does all three itself.
std::int64_t run_op(const Op& op, Process& p);

// A process's exit: what it left mapped is unmapped (do_exit: exit_mm), then what it left open is closed
// (exit_files): release still runs.
void exit_process(Process& p);

// The machine as the scenario starts it: its firmware files, its drivers loaded, its devices plugged.
void set_up_machine(const Scenario& s);
// The scenario's end, after every task ended: what is still plugged goes and the drivers unload (module_exit for
// C modules), so whatever is left allocated after it is a real leak.
void shut_down_machine(const Scenario& s);

}  // namespace devsim::scenarios
