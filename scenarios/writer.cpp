#include "scenarios/writer.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"

namespace devsim::scenarios {

namespace {
std::string result_text(std::int64_t r) {
  if (r < 0 && bus::errno_from_name(bus::errno_name(static_cast<int>(-r))) != 0)
    return "-" + std::string(bus::errno_name(static_cast<int>(-r)));
  return std::to_string(r);
}
}  // namespace

std::string data_text(const std::string& d) {
  static const char* const kHex = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : d) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f && c != '"') {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out + "\"";
}

namespace {
// A sysfs value as the parser reads it back: bare if it is one plain word, else quoted with the data's escapes.
std::string value_text(const std::string& v) {
  const bool bare = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/' || c == ':' ||
           c == '+';
  });
  return bare ? v : data_text(v);
}
}  // namespace

std::string op_text(const Op& op) {
  std::ostringstream o;
  if (!op.bind.empty()) o << op.bind << " = ";
  o << to_string(op.kind);
  switch (op.kind) {
    case OpKind::Open:
      o << " /dev/" << op.a;
      if ((op.number & bus::kO_NONBLOCK) != 0) o << " nonblock";
      break;
    case OpKind::Close:
    case OpKind::Poll:
    case OpKind::Mmap:
    case OpKind::Munmap:
      o << " " << op.fd;
      break;
    case OpKind::Read:
    case OpKind::Write:
      if (op.data)
        o << " " << op.fd << " " << data_text(*op.data);
      else
        o << " " << op.fd << " " << op.number;
      break;
    case OpKind::Ioctl:
      o << " " << op.fd << " " << (op.a.empty() ? std::to_string(op.number) : op.a) << " "
        << (op.data ? data_text(*op.data) : std::to_string(op.arg));
      break;
    case OpKind::Plug:
      o << " " << op.a << " " << op.b << " " << op.c;
      break;
    case OpKind::Unplug:
    case OpKind::Bind:
    case OpKind::Unbind:
      o << " " << op.a << " " << op.b;
      break;
    case OpKind::SysfsRead:
    case OpKind::Load:
    case OpKind::Unload:
      o << " " << op.a;
      break;
    case OpKind::SysfsWrite:
      o << " " << op.a << " " << value_text(op.b);
      break;
    case OpKind::Sleep:
      o << " " << op.number << "ns";
      break;
    case OpKind::Irq:
      o << " " << op.number;
      break;
    case OpKind::Yield:
      break;
    case OpKind::Signal:
      o << " " << op.a;
      break;
    case OpKind::UsbData:
      o << " " << op.a << (op.b.empty() ? "" : " " + op.b) << " " << data_text(op.data ? *op.data : std::string());
      break;
    case OpKind::UsbError:
      o << " " << op.a << " " << (op.b.empty() ? std::to_string(op.arg) : op.b) << " "
        << result_text(-static_cast<std::int64_t>(op.number));
      break;
  }
  for (std::size_t i = 0; i < op.allowed.size(); ++i) {
    o << (i == 0 ? " => " : " | ") << result_text(op.allowed[i]);
    if (i < op.allowed_data.size() && op.allowed_data[i]) o << " " << data_text(*op.allowed_data[i]);
  }
  return o.str();
}

std::string to_text(const Scenario& s) {
  std::ostringstream o;
  for (const std::string& d : s.drivers)
    o << "driver " << d << "\n";
  for (const auto& [name, contents] : s.firmware)
    o << "firmware " << name << " " << data_text(contents) << "\n";
  for (const DeviceDecl& d : s.devices) {
    o << "device " << d.bus << " " << d.id << " " << d.modalias << "\n";
    for (const Op& op : d.script)
      o << op_text(op) << "\n";
  }
  if (s.fail_nth != 0) o << "fail-nth " << s.fail_nth << "\n";
  for (const Task& t : s.tasks) {
    o << "\ntask " << t.name << " {\n";
    for (const Op& op : t.ops)
      o << "  " << op_text(op) << "\n";
    o << "}\n";
  }
  if (!s.expectations.empty() || !s.schedule) o << "\n";
  for (const Expectation& e : s.expectations)
    o << "expect " << e.kind << (e.function.empty() ? "" : " in " + e.function) << "\n";
  if (s.schedule) {
    o << "\nschedule \"" << sim::to_string(*s.schedule) << "\"\n";
  } else {
    o << "explore " << sim::to_string(s.strategy.kind);
    if (s.strategy.kind != sim::StrategyKind::Exhaustive) o << " seed=" << s.strategy.seed;
    if (s.strategy.kind == sim::StrategyKind::Pct) o << " depth=" << s.strategy.pct_depth;
    if (s.strategy.kind == sim::StrategyKind::Exhaustive && s.strategy.preemption_bound >= 0)
      o << " preemptions=" << s.strategy.preemption_bound;
    // Always written: the default (dpor) is the parser's, and none must survive a round trip.
    if (s.strategy.kind == sim::StrategyKind::Exhaustive) o << " reduction=" << sim::reduction_name(s.strategy);
    if (s.step_budget != 0) o << " steps=" << s.step_budget;
    o << " executions=" << s.executions << "\n";
  }
  return o.str();
}

}  // namespace devsim::scenarios
