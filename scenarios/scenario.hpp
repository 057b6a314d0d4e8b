// A parsed scenario: drivers, devices present at start, concurrent tasks of operations, expectations and
// exploration settings (the language is docs/scenario-language.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/choice.hpp"
#include "sim/strategy.hpp"

namespace devsim::scenarios {

struct Location {
  int line = 0;  // 1-based
  int column = 0;
};

enum class OpKind : std::uint8_t {
  Open,
  Close,
  Read,
  Write,
  Ioctl,
  Poll,
  Mmap,
  Munmap,
  Plug,
  Unplug,
  Bind,
  Unbind,
  SysfsRead,
  SysfsWrite,
  Load,
  Unload,
  Sleep,
  Irq,
  Yield,
  Signal,    // a signal to another task of the scenario (a handler without SA_RESTART)
  UsbData,   // the USB device at a port sends a transfer on an IN endpoint (interrupt-in by default)
  UsbError,  // the USB device at a port fails the next transfer on an endpoint (-EPROTO, -EPIPE for a stall...)
};

// One operation of a task, resolved at parse time (ioctl names to numbers, durations to nanoseconds).
struct Op {
  OpKind kind = OpKind::Yield;
  Location at;
  std::string text;                   // the operation as written, for messages
  std::string bind;                   // the variable its result is bound to ("" if none)
  std::string fd;                     // the descriptor variable it uses (close, read, ioctl…)
  std::string a, b, c;                // path / bus, id, modalias / driver, device / sysfs path, value / task / port
  std::uint64_t number = 0;           // count, ioctl cmd, irq line, nanoseconds, open flags
  std::uint64_t arg = 0;              // ioctl argument
  std::vector<std::int64_t> allowed;  // results it may return (empty: any)
  // By result in `allowed` (empty: none): the bytes the call must leave in the user buffer when it returns that
  // result (`read fd 8 => 5 "hello"`, `ioctl fd CMD "\x01" => 0 "\x02"`).
  std::vector<std::optional<std::string>> allowed_data;
  // write "bytes" / ioctl fd CMD "bytes": what the user buffer holds (for write, number is its size); absent: a
  // write of `number` zero bytes, an ioctl with the number `arg`. usb-data PORT [EP] "bytes": what the device sends.
  // usb-data and usb-error: `b` is the endpoint as written back ("0x82"; empty: usb-data's default, the
  // interrupt-in endpoint) and `arg` its number; usb-error's errno is `number` (positive).
  std::optional<std::string> data;
};

struct Task {
  std::string name;
  Location at;
  std::vector<Op> ops;
};

struct DeviceDecl {
  std::string bus;  // "usb" or "platform"
  std::string id;   // "1-1", "gpio0"
  std::string modalias;
  Location at;
  // usb: what the device does first (usb-data/usb-error operations, in order), scripted when set-up plugs it,
  // before its probe runs.
  std::vector<Op> script;
};

struct Expectation {
  std::string kind;      // a bug kind, or "no-bug"
  std::string function;  // optional: the function the report must name
  Location at;
};

struct Scenario {
  std::string file;
  std::vector<std::string> lines;  // the source, for writing reproducers
  std::vector<std::string> drivers;
  std::vector<DeviceDecl> devices;
  std::vector<std::pair<std::string, std::string>> firmware;
  std::vector<Task> tasks;
  std::vector<Expectation> expectations;  // empty: no bug expected
  sim::StrategyOptions strategy;          // default: random, seed 1
  std::uint64_t executions = 1000;        // 0: until exhaustive search ends
  std::optional<sim::Schedule> schedule;  // a recorded execution to replay
  Location schedule_at;                   // where the schedule's quoted string starts
  std::uint64_t step_budget = 0;          // scheduling points per execution; 0: the default (runner.hpp)
  std::uint64_t fail_nth = 0;
  // Lines holding expect/explore/schedule statements (1-based), left out of reproducers.
  std::vector<int> setting_lines;

  bool expects_bug() const {
    for (const Expectation& e : expectations)
      if (e.kind != "no-bug") return true;
    return false;
  }
};

// Text of an OpKind as the language spells it ("sysfs-read").
std::string_view to_string(OpKind kind);

}  // namespace devsim::scenarios
