#include "scenarios/parser.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "bus/usb.hpp"
#include "drivers/registry.hpp"
#include "scenarios/limits.hpp"
#include "scenarios/number.hpp"
#include "scenarios/printable.hpp"

namespace devsim::scenarios {

std::string_view to_string(OpKind kind) {
  switch (kind) {
    case OpKind::Open:
      return "open";
    case OpKind::Close:
      return "close";
    case OpKind::Read:
      return "read";
    case OpKind::Write:
      return "write";
    case OpKind::Ioctl:
      return "ioctl";
    case OpKind::Poll:
      return "poll";
    case OpKind::Mmap:
      return "mmap";
    case OpKind::Munmap:
      return "munmap";
    case OpKind::Plug:
      return "plug";
    case OpKind::Unplug:
      return "unplug";
    case OpKind::Bind:
      return "bind";
    case OpKind::Unbind:
      return "unbind";
    case OpKind::SysfsRead:
      return "sysfs-read";
    case OpKind::SysfsWrite:
      return "sysfs-write";
    case OpKind::Load:
      return "load";
    case OpKind::Unload:
      return "unload";
    case OpKind::Sleep:
      return "sleep";
    case OpKind::Irq:
      return "irq";
    case OpKind::Yield:
      return "yield";
    case OpKind::Signal:
      return "signal";
    case OpKind::UsbData:
      return "usb-data";
    case OpKind::UsbError:
      return "usb-error";
  }
  return "?";
}

std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
  // Bounded, so a suggestion never costs more than a constant per candidate: no suggestion for a word longer
  // than a name may be, candidates whose length alone rules them out are skipped, at most kMaxCandidates are
  // looked at, and the distance is computed in a band of width 2*limit+1 that stops once every cell is over
  // the limit.
  constexpr std::size_t kMaxCandidates = 4096;
  if (word.empty() || word.size() > limits::kMaxNameLength) return std::string();
  // A plausible typo: within a third of the word's length (at least 2 edits for short words).
  const std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
  const std::size_t kFar = limit + 1;
  std::string best;
  std::size_t best_d = kFar;
  std::vector<std::size_t> prev, cur;
  std::size_t looked = 0;
  for (const std::string& c : candidates) {
    if (looked++ == kMaxCandidates) break;
    const std::size_t n = c.size();
    if (n > word.size() + limit || word.size() > n + limit) continue;
    prev.assign(n + 1, kFar);
    cur.assign(n + 1, kFar);
    for (std::size_t j = 0; j <= std::min(n, limit); ++j)
      prev[j] = j;
    bool over = false;
    for (std::size_t i = 1; i <= word.size() && !over; ++i) {
      const std::size_t lo = i > limit ? i - limit : 1;
      const std::size_t hi = std::min(n, i + limit);
      std::fill(cur.begin(), cur.end(), kFar);
      cur[0] = i <= limit ? i : kFar;
      std::size_t row_min = cur[0];
      for (std::size_t j = lo; j <= hi; ++j) {
        std::size_t sub = prev[j - 1] + (std::tolower(static_cast<unsigned char>(word[i - 1])) ==
                                                 std::tolower(static_cast<unsigned char>(c[j - 1]))
                                             ? 0
                                             : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub, kFar});
        row_min = std::min(row_min, cur[j]);
      }
      over = row_min >= kFar;
      std::swap(prev, cur);
    }
    if (!over && prev[n] < best_d) {
      best_d = prev[n];
      best = c;
    }
  }
  return best_d <= limit ? best : std::string();
}

namespace {

struct Token {
  std::string text;
  int column = 0;  // 1-based
  bool quoted = false;
};

const std::vector<std::string> kOperations = {"open",       "close",       "read",     "write",    "ioctl", "poll",
                                              "mmap",       "munmap",      "plug",     "unplug",   "bind",  "unbind",
                                              "sysfs-read", "sysfs-write", "load",     "unload",   "sleep", "irq",
                                              "yield",      "signal",      "usb-data", "usb-error"};
// The statuses `usb-error` makes the device end a transfer with (Documentation/driver-api/usb/error-codes.rst: what
// a host controller reports for a transfer the device failed, or for a device gone).
const std::vector<std::string> kUsbErrors = {"-EPROTO", "-EILSEQ",    "-ETIME",     "-EPIPE",  "-ECOMM",
                                             "-ENOSR",  "-EOVERFLOW", "-EREMOTEIO", "-ENODEV", "-ESHUTDOWN"};
const std::vector<std::string> kStatements = {"driver", "device", "usb-data", "usb-error", "firmware",
                                              "task",   "expect", "explore",  "fail-nth",  "schedule"};
const std::vector<std::string> kBugKinds = {
    "use-after-free", "double-free", "invalid-free", "slab-out-of-bounds", "memory-leak", "deadlock", "stack-overflow",
    "step-budget-exceeded", "held-at-exit", "unhandled-exception", "sleep-in-atomic", "blocking-op-not-running",
    "refcount-warning", "lock-order-inversion", "recursive-locking", "bad-unlock-balance", "list-corruption",
    "context-misuse", "io-after-unmap", "io-after-disconnect", "io-out-of-bounds", "null-ptr-deref",
    "unexpected-result", "general-protection-fault", "divide-error", "page-fault", "data-race", "soft-lockup",
    "hard-lockup", "lost-wake-up", "hung-task", "warning", "suspicious-rcu-usage", "no-bug",
    // kinds of later layers' reports
    "inconsistent-lock-state", "queue-on-destroyed-workqueue"};

// Word alphabets (docs/scenario-language.md, "Names"). Names start with a letter; ids and paths may start with
// a digit (usb ports like 1-1).
bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}
// "usb:v" four hex digits "p" four hex digits, then optionally the interface's class, subclass and protocol as the
// kernel's modalias writes them: "ic" two hex digits, "isc" two, "ip" two (each may stop the text).
bool usb_id_alias(const std::string& text) {
  if (text.size() < 14 || text.compare(0, 5, "usb:v") != 0 || text[9] != 'p') return false;
  auto hex = [&](std::size_t i) { return i < text.size() && std::isxdigit(static_cast<unsigned char>(text[i])); };
  for (std::size_t i : {5u, 6u, 7u, 8u, 10u, 11u, 12u, 13u})
    if (!hex(i)) return false;
  std::size_t at = 14;
  for (std::string_view tag : {"ic", "isc", "ip"}) {
    if (at == text.size()) return true;
    if (text.compare(at, tag.size(), tag) != 0 || !hex(at + tag.size()) || !hex(at + tag.size() + 1)) return false;
    at += tag.size() + 2;
  }
  return at == text.size();
}

bool id_char(char c) {
  return name_char(c) || c == '.' || c == ':';
}
bool path_char(char c) {
  return id_char(c) || c == '/' || c == '+';
}

// 'word' for a message: escaped, and cut short if long.
std::string quote(std::string_view word) {
  return "'" + printable(word, 64) + "'";
}

class Parser {
 public:
  Parser(std::string_view text, std::string file) : file_(std::move(file)) {
    if (text.size() > limits::kMaxFileBytes)
      fail({1, 1}, "the scenario is larger than the limit of " + std::to_string(limits::kMaxFileBytes) + " bytes");
    // Lines split by hand: linear, and a NUL byte is an ordinary byte here (checked per line below).
    std::size_t begin = 0;
    while (begin < text.size()) {
      std::size_t nl = text.find('\n', begin);
      std::string_view line = text.substr(begin, nl == std::string_view::npos ? std::string_view::npos : nl - begin);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      s_.lines.emplace_back(line);
      if (nl == std::string_view::npos) break;
      begin = nl + 1;
    }
    s_.file = file_;
  }

  Scenario parse() {
    for (line_no_ = 1; line_no_ <= static_cast<int>(s_.lines.size()); ++line_no_) {
      check_bytes(s_.lines[line_no_ - 1]);
      std::vector<Token> t = tokenize(s_.lines[line_no_ - 1]);
      if (t.empty()) continue;
      statement(t);
    }
    if (current_task_ != nullptr)
      fail(current_task_->at, "task " + quote(current_task_->name) + " is not closed: missing '}'");
    if (s_.tasks.empty() && s_.devices.empty()) fail({1, 1}, "a scenario needs at least one task or device");
    if (s_.executions == 0 && s_.strategy.kind != sim::StrategyKind::Exhaustive)
      fail(executions_at_, "executions=0 (until the search ends) is only for explore exhaustive");
    check_signal_targets();
    return std::move(s_);
  }

 private:
  // `signal TASK` may name a task declared later: checked once every task is known.
  void check_signal_targets() const {
    std::vector<std::string> names;
    for (const Task& t : s_.tasks)
      names.push_back(t.name);
    for (const Task& t : s_.tasks)
      for (const Op& op : t.ops)
        if (op.kind == OpKind::Signal && std::find(names.begin(), names.end(), op.a) == names.end())
          fail(Location{op.at.line, op.at.column + static_cast<int>(op.text.find(op.a, 6))},
               "unknown task '" + op.a + "'" + suggest(op.a, names));
  }

  [[noreturn]] void fail(Location at, const std::string& message) const { throw ParseError(file_, at, message); }
  [[noreturn]] void fail(const Token& t, const std::string& message) const {
    fail(Location{line_no_, t.column}, message);
  }
  Location here(const Token& t) const { return Location{line_no_, t.column}; }
  Location end_of_line() const { return Location{line_no_, static_cast<int>(s_.lines[line_no_ - 1].size()) + 1}; }

  // Only UTF-8 text without control bytes (a tab is fine): whatever parses can go into a message, a JSON output
  // and a reproducer unchanged.
  void check_bytes(const std::string& line) const {
    for (std::size_t i = 0; i < line.size();) {
      const unsigned char c = static_cast<unsigned char>(line[i]);
      const std::size_t n = utf8_sequence_length(line, i);
      const Location at{line_no_, static_cast<int>(i) + 1};
      if (n == 0) fail(at, "byte " + printable(line.substr(i, 1)) + " is not UTF-8 (a scenario is UTF-8 text)");
      if ((c < 0x20 && c != '\t') || c == 0x7F)
        fail(at, "control byte " + printable(line.substr(i, 1)) + " (a scenario is text)");
      i += n;
    }
  }

  std::vector<Token> tokenize(const std::string& line) {
    std::vector<Token> out;
    std::size_t i = 0;
    while (i < line.size()) {
      char ch = line[i];
      if (ch == ' ' || ch == '\t') {
        ++i;
        continue;
      }
      if (ch == '#') break;
      int col = static_cast<int>(i) + 1;
      if (ch == '"') {
        std::size_t end = line.find('"', i + 1);
        if (end == std::string::npos) fail(Location{line_no_, col}, "unterminated string");
        out.push_back({line.substr(i + 1, end - i - 1), col, true});
        i = end + 1;
        continue;
      }
      if (ch == '=' && i + 1 < line.size() && line[i + 1] == '>') {
        out.push_back({"=>", col, false});
        i += 2;
        continue;
      }
      if (ch == '=' || ch == '{' || ch == '}' || ch == '|') {
        out.push_back({std::string(1, ch), col, false});
        ++i;
        continue;
      }
      std::size_t start = i;
      while (i < line.size()) {
        char c = line[i];
        if (path_char(c))
          ++i;
        else if (c == '=' && i > start && !(i + 1 < line.size() && line[i + 1] == '>'))
          ++i;  // key=value stays one token
        else
          break;
      }
      if (i == start) {
        std::size_t n = std::max<std::size_t>(1, utf8_sequence_length(line, i));
        fail(Location{line_no_, col}, "unexpected character " + quote(line.substr(i, n)));
      }
      out.push_back({line.substr(start, i - start), col, false});
    }
    return out;
  }

  std::string suggest(const std::string& word, const std::vector<std::string>& candidates) const {
    std::string n = nearest(word, candidates);
    return n.empty() ? std::string() : "; did you mean '" + n + "'?";
  }

  // The token at i, which must be there and must not be quoted (quotes are for the few places that take free
  // text: schedule, firmware contents, a sysfs value).
  const Token& need(const std::vector<Token>& t, std::size_t i, const std::string& what) const {
    if (i >= t.size()) fail(end_of_line(), "expected " + what);
    plain(t[i], what);
    return t[i];
  }
  void plain(const Token& t, const std::string& what) const {
    if (t.quoted) fail(t, "expected " + what + ", got the quoted string " + quote("\"" + t.text + "\""));
  }
  void no_more(const std::vector<Token>& t, std::size_t i) const {
    if (i < t.size()) fail(t[i], "unexpected " + quote(t[i].text));
  }

  // A name: a letter, then letters, digits, '_' and '-'; at most kMaxNameLength bytes.
  const std::string& name(const Token& t, const std::string& what) const {
    plain(t, what);
    if (t.text.size() > limits::kMaxNameLength)
      fail(t, what + " is longer than " + std::to_string(limits::kMaxNameLength) + " bytes: " + quote(t.text));
    if (!std::isalpha(static_cast<unsigned char>(t.text[0])) || !std::all_of(t.text.begin(), t.text.end(), name_char))
      fail(t, what + " " + quote(t.text) + " must start with a letter and hold only letters, digits, '_' and '-'");
    return t.text;
  }
  // An id (device ids, firmware files): letters, digits, '_', '-', '.', ':'; at most kMaxNameLength bytes.
  const std::string& id(const Token& t, const std::string& what) const {
    plain(t, what);
    if (t.text.size() > limits::kMaxNameLength)
      fail(t, what + " is longer than " + std::to_string(limits::kMaxNameLength) + " bytes: " + quote(t.text));
    if (!std::all_of(t.text.begin(), t.text.end(), id_char))
      fail(t, what + " " + quote(t.text) + " may hold only letters, digits, '_', '-', '.' and ':'");
    return t.text;
  }

  // Every number of the language goes through here: its range is part of the grammar (limits.hpp).
  std::uint64_t number(const Token& t, const std::string& what, std::uint64_t min, std::uint64_t max) const {
    plain(t, what);
    std::string why;
    std::optional<std::uint64_t> v = parse_unsigned(t.text, min, max, &why);
    if (!v) fail(t, (why == "expected a number" ? "expected " + what : what + " " + why) + ", got " + quote(t.text));
    return *v;
  }

  std::uint64_t duration(const Token& t) const {
    plain(t, "a duration");
    std::string why;
    std::optional<std::uint64_t> v = parse_duration(t.text, limits::kMaxSleepNanos, &why);
    if (!v) fail(t, why + ", got " + quote(t.text));
    return *v;
  }

  std::int64_t result_value(const Token& t) const {
    plain(t, "a result");
    const std::string& s = t.text;
    if (s.starts_with("-E")) {
      int e = bus::errno_from_name(s.substr(1));
      if (e == 0) {
        std::vector<std::string> names;
        for (const char* n : {"-EPERM", "-ENOENT", "-EIO", "-ENXIO", "-EBADF", "-EAGAIN", "-ENOMEM", "-EFAULT",
                              "-EBUSY", "-EEXIST", "-ENODEV", "-EISDIR", "-EINVAL", "-ENOTTY", "-ENOSYS", "-ESHUTDOWN"})
          names.emplace_back(n);
        fail(t, "unknown errno " + quote(s) + suggest(s, names));
      }
      return -e;
    }
    // Poll masks: IN, OUT, ERR, HUP joined with '+'.
    if (std::isalpha(static_cast<unsigned char>(s[0]))) {
      std::int64_t mask = 0;
      std::size_t start = 0;
      while (start <= s.size()) {
        std::size_t plus = s.find('+', start);
        std::string part = s.substr(start, plus == std::string::npos ? std::string::npos : plus - start);
        if (part == "IN")
          mask |= bus::kPollIn;
        else if (part == "OUT")
          mask |= bus::kPollOut;
        else if (part == "ERR")
          mask |= bus::kPollErr;
        else if (part == "HUP")
          mask |= bus::kPollHup;
        else
          fail(t,
               "unknown result " + quote(s) + ": expected a number, an errno like -ENODEV or a poll mask like HUP+ERR");
        if (plus == std::string::npos) break;
        start = plus + 1;
      }
      return mask;
    }
    std::string why;
    std::optional<std::int64_t> v = parse_signed(s, -limits::kMaxErrno, INT64_MAX, &why);
    if (!v) fail(t, (why == "expected a number" ? "expected a result" : "result " + why) + ", got " + quote(s));
    return *v;
  }

  // The bytes of `write FD "..."`: the text, with \\ \n \t \0 \xHH escapes (a '"' is \x22).
  std::string write_data(const Token& t) const {
    std::string out;
    const std::string& s = t.text;
    auto at = [&](std::size_t i) {
      Token c = t;
      c.column = t.column + 1 + static_cast<int>(i);  // after the opening quote
      return c;
    };
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '\\') {
        out += s[i];
        continue;
      }
      if (i + 1 == s.size()) fail(at(i), "unfinished escape at the end of the data (\\\\ for a backslash)");
      const char e = s[++i];
      if (e == '\\') {
        out += '\\';
      } else if (e == 'n') {
        out += '\n';
      } else if (e == 't') {
        out += '\t';
      } else if (e == '0') {
        out += '\0';
      } else if (e == 'x') {
        if (i + 2 >= s.size() || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0)
          fail(at(i - 1), "expected two hex digits after \\x");
        out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
        i += 2;
      } else {
        fail(at(i - 1), std::string("unknown escape \\") + e + " in the data (\\\\ \\n \\t \\0 \\xHH)");
      }
    }
    if (out.size() > limits::kMaxIoBytes)
      fail(t, "the data is " + std::to_string(out.size()) + " bytes, more than the limit of " +
                  std::to_string(limits::kMaxIoBytes));
    return out;
  }

  void check_driver(const Token& t) const {
    plain(t, "a driver name");
    if (drivers::find_driver(t.text) != nullptr) return;
    std::vector<std::string> names;
    for (const auto& d : drivers::all_drivers())
      names.push_back(d.name);
    fail(t, "unknown driver " + quote(t.text) + suggest(t.text, names));
  }
  void check_bus(const Token& t) const {
    plain(t, "a bus");
    if (t.text != "usb" && t.text != "platform")
      fail(t, "unknown bus " + quote(t.text) + " (usb or platform)" + suggest(t.text, {"usb", "platform"}));
  }
  // A modalias names the driver that binds the device (one the registry knows), or is a USB device's
  // "usb:vVVVVpPPPP": its descriptor has those ids, and whichever loaded driver's id table matches them binds it
  // (a C driver's table is known only once its module is loaded, so any such alias is accepted here).
  void check_modalias(const Token& t, const std::string& bus) const {
    plain(t, "a modalias");
    if (drivers::find_driver(t.text) != nullptr) return;
    if (usb_id_alias(t.text)) {
      if (bus != "usb") fail(t, "a usb:vVVVVpPPPP modalias is a USB device's; this device is on the " + bus + " bus");
      return;
    }
    std::vector<std::string> names;
    for (const auto& d : drivers::all_drivers())
      names.push_back(d.name);
    fail(t, "unknown driver " + quote(t.text) + " as modalias (no driver would bind this device)" +
                suggest(t.text, names));
  }

  void statement(const std::vector<Token>& t) {
    if (current_task_ != nullptr) {
      if (t[0].text == "}" && !t[0].quoted) {
        no_more(t, 1);
        current_task_ = nullptr;
        return;
      }
      operation(t);
      return;
    }
    const std::string& w = t[0].text;
    plain(t[0], "a statement");
    if (w == "driver") {
      const Token& name = need(t, 1, "a driver name");
      check_driver(name);
      no_more(t, 2);
      if (std::find(s_.drivers.begin(), s_.drivers.end(), name.text) == s_.drivers.end())
        s_.drivers.push_back(name.text);
    } else if (w == "device") {
      DeviceDecl d;
      d.at = here(t[0]);
      check_bus(need(t, 1, "a bus (usb or platform)"));
      d.bus = t[1].text;
      d.id = id(need(t, 2, "a device id (a port like 1-1, or a platform device name)"), "a device id");
      if (t.size() > 3) {
        check_modalias(t[3], d.bus);
        d.modalias = t[3].text;
        no_more(t, 4);
      } else {
        if (s_.drivers.empty()) fail(end_of_line(), "expected a modalias (no driver declared before this device)");
        d.modalias = s_.drivers.front();
      }
      // A second plug of the same device would fail with -EBUSY, which nobody would see.
      auto [it, fresh] = devices_.emplace(d.bus + " " + d.id, d.at);
      if (!fresh)
        fail(t[2], "device " + d.bus + " " + d.id + " is already declared at line " + std::to_string(it->second.line));
      s_.devices.push_back(std::move(d));
    } else if (w == "usb-data" || w == "usb-error") {
      // What a USB device declared above does first, before any task runs: scripted at set-up when it is
      // plugged, so its probe's transfers find it.
      const Op op = *operation(t);
      if (!op.allowed.empty()) fail(t[0], "a device's script has no expected result ('=>'): it runs at set-up");
      DeviceDecl* dev = nullptr;
      for (DeviceDecl& d : s_.devices)
        if (d.bus == "usb" && d.id == op.a) dev = &d;
      if (dev == nullptr)
        fail(t[1], "no usb device " + quote(op.a) + " is declared above (`device usb " + op.a + " MODALIAS`)");
      const auto same_endpoint =
          std::count_if(dev->script.begin(), dev->script.end(), [&](const Op& o) { return o.arg == op.arg; });
      if (static_cast<std::size_t>(same_endpoint) >= bus::kUsbDeviceQueueDepth) {
        char endpoint[8];
        std::snprintf(endpoint, sizeof endpoint, op.arg == 0 ? "0" : "0x%02x", static_cast<unsigned>(op.arg));
        fail(t[0], "a device script holds at most " + std::to_string(bus::kUsbDeviceQueueDepth) +
                       " transfers for one endpoint (the mock device's queue); endpoint " + endpoint + " of " + op.a +
                       " has more: send the rest from a task");
      }
      dev->script.push_back(op);
    } else if (w == "firmware") {
      const Token& name = need(t, 1, "a firmware file name");
      id(name, "a firmware file name");
      // Quoted contents take the write data's escapes: a binary blob ("\x00\x03...") can be written.
      std::string contents = t.size() <= 2 ? "firmware" : t[2].quoted ? write_data(t[2]) : t[2].text;
      no_more(t, t.size() > 2 ? 3 : 2);
      s_.firmware.emplace_back(name.text, contents);
    } else if (w == "task") {
      const Token& name_token = need(t, 1, "a task name");
      const std::string& task_name = name(name_token, "a task name");
      if (s_.tasks.size() == limits::kMaxTasks)
        fail(t[0], "more than " + std::to_string(limits::kMaxTasks) +
                       " tasks (a devsim limit: each task is a fiber "
                       "with its own stack)");
      if (!task_names_.insert(task_name).second) fail(name_token, "task " + quote(task_name) + " is defined twice");
      if (need(t, 2, "'{'").text != "{") fail(t[2], "expected '{' after the task name");
      no_more(t, 3);
      s_.tasks.push_back(Task{task_name, here(t[0]), {}});
      current_task_ = &s_.tasks.back();
      vars_.clear();
    } else if (w == "expect") {
      s_.setting_lines.push_back(line_no_);
      const Token& kind = need(t, 1, "a bug kind or no-bug");
      if (std::find(kBugKinds.begin(), kBugKinds.end(), kind.text) == kBugKinds.end())
        fail(kind, "unknown bug kind " + quote(kind.text) + suggest(kind.text, kBugKinds));
      Expectation e{kind.text, {}, here(t[0])};
      if (t.size() > 2) {
        if (t[2].text != "in" || t[2].quoted) fail(t[2], "expected 'in FUNCTION' after the bug kind");
        const Token& fn = need(t, 3, "a function name");
        if (fn.text.size() > 4 * limits::kMaxNameLength ||
            !std::all_of(fn.text.begin(), fn.text.end(), [](char c) { return id_char(c); }))
          fail(fn, "expected a function name, got " + quote(fn.text));
        e.function = fn.text;
        no_more(t, 4);
      }
      s_.expectations.push_back(std::move(e));
    } else if (w == "explore") {
      s_.setting_lines.push_back(line_no_);
      explore(t);
    } else if (w == "fail-nth") {
      s_.fail_nth = number(need(t, 1, "N"), "fail-nth", 1, limits::kMaxFailNth);
      no_more(t, 2);
    } else if (w == "schedule") {
      s_.setting_lines.push_back(line_no_);
      if (t.size() < 2) fail(end_of_line(), "expected a quoted choice list like \"t1 t0 v3\"");
      const Token& q = t[1];
      if (!q.quoted) fail(q, "the schedule must be quoted: schedule \"t1 t0 v3\"");
      s_.schedule = schedule(q);
      s_.schedule_at = here(q);
      no_more(t, 2);
    } else if (w == "}") {
      fail(t[0], "'}' without an open task");
    } else {
      std::vector<std::string> all = kStatements;
      std::string hint = suggest(w, all);
      if (hint.empty() && std::find(kOperations.begin(), kOperations.end(), w) != kOperations.end())
        hint = "; operations go inside a task { ... } block";
      fail(t[0], "unknown statement " + quote(w) + hint);
    }
  }

  // The text form of sim::Schedule ("t1 t0 v3", separated by spaces, tabs or commas), with each number range
  // checked where it is written: a task id that does not fit a TaskId would wrap around.
  sim::Schedule schedule(const Token& q) const {
    sim::Schedule out;
    const std::string& s = q.text;
    std::size_t i = 0;
    while (i < s.size()) {
      if (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
        ++i;
        continue;
      }
      std::size_t end = i;
      while (end < s.size() && s[end] != ' ' && s[end] != '\t' && s[end] != ',')
        ++end;
      const Token choice{s.substr(i, end - i), q.column + 1 + static_cast<int>(i), false};
      const char k = choice.text[0];
      Choice c;
      if (k == 't' || k == 'T') {
        c.kind = Choice::Kind::Task;
        c.value = number(Token{choice.text.substr(1), choice.column + 1, false}, "a task id", 0, kMaxTaskId);
      } else if (k == 'v' || k == 'V') {
        c.kind = Choice::Kind::Value;
        c.value = number(Token{choice.text.substr(1), choice.column + 1, false}, "a value", 0, UINT64_MAX);
      } else {
        fail(choice, "malformed choice " + quote(choice.text) + " in schedule: expected tN (a task) or vN (a value)");
      }
      out.push_back(c);
      i = end;
    }
    return out;
  }

  void explore(const std::vector<Token>& t) {
    const Token& kind = need(t, 1, "a strategy (random, pct or exhaustive)");
    if (kind.text == "random")
      s_.strategy.kind = sim::StrategyKind::Random;
    else if (kind.text == "pct")
      s_.strategy.kind = sim::StrategyKind::Pct;
    else if (kind.text == "exhaustive")
      s_.strategy.kind = sim::StrategyKind::Exhaustive;
    else
      fail(kind, "unknown strategy " + quote(kind.text) + suggest(kind.text, {"random", "pct", "exhaustive"}));
    s_.executions = s_.strategy.kind == sim::StrategyKind::Exhaustive ? 0 : 1000;
    // Exhaustive search reduces with DPOR unless told otherwise (reduction=none): the same reports as plain
    // search (tests/core/test_dpor_soundness.cpp, tests/scenarios/check_reduction.sh) for a fraction of the
    // executions.
    if (s_.strategy.kind == sim::StrategyKind::Exhaustive) s_.strategy.dpor = s_.strategy.sleep_sets = true;
    executions_at_ = here(kind);
    for (std::size_t i = 2; i < t.size(); ++i) {
      plain(t[i], "KEY=VALUE");
      std::size_t eq = t[i].text.find('=');
      if (eq == std::string::npos) fail(t[i], "expected KEY=VALUE, got " + quote(t[i].text));
      std::string key = t[i].text.substr(0, eq);
      Token value{t[i].text.substr(eq + 1), t[i].column + static_cast<int>(eq) + 1, false};
      if (key == "seed") {
        s_.strategy.seed = number(value, "seed", 0, UINT64_MAX);
      } else if (key == "executions") {
        s_.executions = number(value, "executions", 0, limits::kMaxExecutions);
        executions_at_ = here(value);
      } else if (key == "preemptions") {
        s_.strategy.preemption_bound = static_cast<int>(number(value, "preemptions", 0, limits::kMaxPreemptions));
      } else if (key == "depth") {
        s_.strategy.pct_depth = static_cast<int>(number(value, "depth", 1, limits::kMaxPctDepth));
      } else if (key == "steps") {
        s_.step_budget = number(value, "steps", limits::kMinStepBudget, limits::kMaxStepBudget);
      } else if (key == "sleep-sets") {
        if (value.text != "on" && value.text != "off") fail(value, "sleep-sets is on or off");
        s_.strategy.sleep_sets = value.text == "on";
        if (!s_.strategy.sleep_sets) s_.strategy.dpor = false;
      } else if (key == "reduction") {
        if (!sim::parse_reduction(value.text, &s_.strategy))
          fail(value, "reduction is dpor, sleep-sets or none" + suggest(value.text, {"dpor", "sleep-sets", "none"}));
      } else {
        fail(t[i],
             "unknown setting " + quote(key) +
                 suggest(key, {"seed", "executions", "preemptions", "depth", "steps", "sleep-sets", "reduction"}));
      }
    }
  }

  // An endpoint of the mock USB device (bus/usb.hpp): 0, 0x81, 0x82, 0x02 or 0x01, kept in op.arg and written back as
  // op.b.
  void usb_endpoint(const Token& t, Op& op) const {
    plain(t, "an endpoint");
    const std::uint64_t ep = number(t, "an endpoint", 0, 0xff);
    if (!bus::usb_mock_endpoint(static_cast<unsigned>(ep)))
      fail(t, "the mock USB device has no endpoint " + quote(t.text) +
                  ": its endpoints are 0 (control), 0x81 (interrupt-in), 0x82 (bulk-in), 0x02 (bulk-out) and 0x01 "
                  "(interrupt-out)");
    op.arg = ep;
    op.b = ep == 0 ? "0" : (ep < 0x10 ? "0x0" : "0x") + hex(ep);
  }
  static std::string hex(std::uint64_t v) {
    static const char* const kHex = "0123456789abcdef";
    std::string out;
    do {
      out.insert(out.begin(), kHex[v & 15]);
      v >>= 4;
    } while (v != 0);
    return out;
  }
  static std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (const std::string& w : words)
      out += (out.empty() ? "" : ", ") + w;
    return out;
  }

  const std::string& fd_var(const std::vector<Token>& t, std::size_t i) {
    const Token& v = need(t, i, "a descriptor variable");
    name(v, "a variable");
    if (vars_.count(v.text) == 0) {
      std::vector<std::string> known(vars_.begin(), vars_.end());
      fail(v, "unknown variable " + quote(v.text) + suggest(v.text, known));
    }
    return v.text;
  }

  // Parses an operation: appended to the current task; outside a task (a device's script) returned.
  std::optional<Op> operation(const std::vector<Token>& all) {
    Op op;
    std::size_t i = 0;
    if (all.size() >= 2 && all[1].text == "=" && !all[1].quoted) {
      op.bind = name(all[0], "a variable");
      i = 2;
    }
    // Results after "=>".
    std::vector<Token> t(all.begin() + static_cast<std::ptrdiff_t>(i), all.end());
    auto arrow = std::find_if(t.begin(), t.end(), [](const Token& x) { return x.text == "=>" && !x.quoted; });
    std::optional<Token> first_data;  // where the first expected bytes were written, for a misplaced one
    if (arrow != t.end()) {
      bool want_value = true;
      for (auto it = arrow + 1; it != t.end(); ++it) {
        if (want_value) {
          op.allowed.push_back(result_value(*it));
          op.allowed_data.emplace_back();
          // A result may be followed by the bytes the call must leave in the user buffer.
          if (it + 1 != t.end() && (it + 1)->quoted) {
            ++it;
            if (!first_data) first_data = *it;
            op.allowed_data.back() = write_data(*it);
          }
        } else if (it->text != "|" || it->quoted) {
          fail(*it, "expected '|' between results");
        }
        want_value = !want_value;
      }
      if (want_value) fail(end_of_line(), "expected a result after '=>' or '|'");
      t.erase(arrow, t.end());
    }
    const Token& w = need(t, 0, "an operation");
    op.at = here(w);
    const std::string& line = s_.lines[line_no_ - 1];
    op.text = line.substr(static_cast<std::size_t>(all[0].column - 1));
    if (auto hash = op.text.find('#'); hash != std::string::npos) op.text.erase(hash);
    while (!op.text.empty() && (op.text.back() == ' ' || op.text.back() == '\t'))
      op.text.pop_back();
    const std::string& name = w.text;
    auto it = std::find(kOperations.begin(), kOperations.end(), name);
    if (it == kOperations.end()) fail(w, "unknown operation " + quote(name) + suggest(name, kOperations));
    op.kind = static_cast<OpKind>(it - kOperations.begin());
    switch (op.kind) {
      case OpKind::Open: {
        const Token& path = need(t, 1, "a path like /dev/gpiochip0");
        if (!path.text.starts_with("/dev/") || path.text.size() == 5) fail(path, "expected a path like /dev/gpiochip0");
        op.a = path.text.substr(5);
        if (t.size() > 2) {
          if (t[2].text != "nonblock") fail(t[2], "expected 'nonblock' or the end of the operation");
          op.number = bus::kO_NONBLOCK;
        }
        no_more(t, 3);
        break;
      }
      case OpKind::Close:
      case OpKind::Poll:
      case OpKind::Mmap:
      case OpKind::Munmap:
        op.fd = fd_var(t, 1);
        no_more(t, 2);
        break;
      case OpKind::Read:
      case OpKind::Write:
        op.fd = fd_var(t, 1);
        if (op.kind == OpKind::Write && t.size() > 2 && t[2].quoted) {
          op.data = write_data(t[2]);
          op.number = op.data->size();
        } else {
          op.number = t.size() > 2 ? number(t[2], "a byte count", 0, limits::kMaxIoBytes) : 1;
        }
        no_more(t, 3);
        break;
      case OpKind::Ioctl: {
        op.fd = fd_var(t, 1);
        const Token& cmd = need(t, 2, "an ioctl command");
        if (std::isdigit(static_cast<unsigned char>(cmd.text[0]))) {
          op.number = number(cmd, "an ioctl command", 0, UINT32_MAX);
        } else {
          std::vector<std::string> names;
          bool found = false;
          for (const std::string& d : s_.drivers) {
            for (const drivers::IoctlSpec& spec : drivers::find_driver(d)->ioctls) {
              names.push_back(spec.name);
              if (spec.name == cmd.text && !found) {
                op.number = spec.cmd;
                found = true;
              }
            }
          }
          if (!found)
            fail(cmd, "unknown ioctl " + quote(cmd.text) + " for the declared drivers" + suggest(cmd.text, names));
        }
        op.a = cmd.text;
        if (t.size() > 3 && t[3].quoted) {
          op.data = write_data(t[3]);
          if (op.data->empty()) fail(t[3], "an ioctl's quoted argument needs at least one byte (or give a number)");
          if (op.data->size() > limits::kMaxIoBytes)
            fail(t[3], "an ioctl's quoted argument holds at most " + std::to_string(limits::kMaxIoBytes) + " bytes");
        } else {
          op.arg = t.size() > 3 ? number(t[3], "an ioctl argument", 0, UINT64_MAX) : 0;
        }
        no_more(t, 4);
        break;
      }
      case OpKind::Plug:
      case OpKind::Unplug: {
        check_bus(need(t, 1, "a bus (usb or platform)"));
        op.a = t[1].text;
        op.b = id(need(t, 2, "a device id"), "a device id");
        if (op.kind == OpKind::Plug) {
          if (t.size() > 3) {
            check_modalias(t[3], op.a);
            op.c = t[3].text;
            no_more(t, 4);
          } else {
            if (s_.drivers.empty()) fail(end_of_line(), "expected a modalias (no driver declared)");
            op.c = s_.drivers.front();
          }
        } else {
          no_more(t, 3);
        }
        break;
      }
      case OpKind::Bind:
      case OpKind::Unbind:
        check_driver(need(t, 1, "a driver name"));
        op.a = t[1].text;
        op.b = id(need(t, 2, "a device name"), "a device name");
        no_more(t, 3);
        break;
      case OpKind::SysfsRead:
        op.a = need(t, 1, "a sysfs path").text;
        if (!op.a.starts_with("/sys/")) fail(t[1], "expected a path under /sys/");
        no_more(t, 2);
        break;
      case OpKind::SysfsWrite:
        op.a = need(t, 1, "a sysfs path").text;
        if (!op.a.starts_with("/sys/")) fail(t[1], "expected a path under /sys/");
        // The value may be quoted: free text with the write data's escapes ("1\n" is what `echo 1` writes); the
        // writer quotes it back.
        if (t.size() < 3) fail(end_of_line(), "expected a value");
        op.b = t[2].quoted ? write_data(t[2]) : t[2].text;
        no_more(t, 3);
        break;
      case OpKind::Load:
      case OpKind::Unload:
        check_driver(need(t, 1, "a driver name"));
        op.a = t[1].text;
        no_more(t, 2);
        break;
      case OpKind::Sleep:
        op.number = duration(need(t, 1, "a duration"));
        no_more(t, 2);
        break;
      case OpKind::Irq:
        op.number = number(need(t, 1, "an interrupt line"), "an interrupt line", 0, limits::kMaxIrq);
        no_more(t, 2);
        break;
      case OpKind::Yield:
        no_more(t, 1);
        break;
      case OpKind::Signal:
        op.a = need(t, 1, "a task name").text;
        no_more(t, 2);
        break;
      case OpKind::UsbData: {
        op.a = id(need(t, 1, "a usb port like 1-1"), "a usb port");
        std::size_t next = 2;
        op.arg = bus::kUsbEndpointIntIn;
        if (t.size() > 2 && !t[2].quoted && std::isdigit(static_cast<unsigned char>(t[2].text[0]))) {
          usb_endpoint(t[2], op);
          if (op.arg == bus::kUsbEndpointBulkOut || op.arg == bus::kUsbEndpointIntOut)
            fail(t[2], "usb-data sends on an IN endpoint (0x81, 0x82) or the control endpoint (0); " + t[2].text +
                           " is an OUT endpoint");
          next = 3;
        }
        if (t.size() <= next) fail(end_of_line(), "expected the bytes the device sends, quoted (\"...\")");
        const Token& bytes = t[next];
        if (!bytes.quoted) fail(bytes, "expected the bytes the device sends, quoted (\"...\")");
        op.data = write_data(bytes);
        op.number = op.data->size();
        no_more(t, next + 1);
        break;
      }
      case OpKind::UsbError: {
        op.a = id(need(t, 1, "a usb port like 1-1"), "a usb port");
        usb_endpoint(need(t, 2, "an endpoint (0, 0x81, 0x82, 0x02 or 0x01)"), op);
        const Token& e = need(t, 3, "an URB status like -EPROTO");
        plain(e, "an URB status");
        const int n = e.text.starts_with("-E") ? bus::errno_from_name(e.text.substr(1)) : 0;
        if (n == 0 || std::find(kUsbErrors.begin(), kUsbErrors.end(), e.text) == kUsbErrors.end())
          fail(e, "expected an URB status the device can cause: " + join(kUsbErrors) + suggest(e.text, kUsbErrors));
        op.number = static_cast<std::uint64_t>(n);
        no_more(t, 4);
        break;
      }
    }
    if (first_data && op.kind != OpKind::Read && op.kind != OpKind::SysfsRead && !(op.kind == OpKind::Ioctl && op.data))
      fail(*first_data, "expected bytes can follow a result only of read, sysfs-read, or ioctl with a quoted argument");
    if (current_task_ == nullptr) return op;  // a device's script (statement)
    if (!op.bind.empty()) vars_.insert(op.bind);
    current_task_->ops.push_back(std::move(op));
    return std::nullopt;
  }

  using Choice = sim::Choice;
  // The largest task id a schedule may name: ids are sim::TaskId, whose two top values are reserved.
  static constexpr std::uint64_t kMaxTaskId = sim::kNoTask - 2;

  std::string file_;
  Scenario s_;
  int line_no_ = 0;
  Task* current_task_ = nullptr;  // LIFETIME: points into s_.tasks, which does not grow while a task is open
  std::set<std::string> vars_;
  std::unordered_set<std::string> task_names_;
  std::unordered_map<std::string, Location> devices_;  // "bus id" -> where declared
  Location executions_at_{1, 1};                       // where the execution count was set, for messages
};

}  // namespace

Scenario parse_scenario(std::string_view text, const std::string& file) {
  return Parser(text, file).parse();
}

Scenario load_scenario(const std::string& path) {
  // Only a regular file, opened without blocking (a FIFO with no writer would block open and read) and
  // checked with fstat before any read; read up to the size limit and no further, since /proc files and
  // the like report a size of 0 and may be endless.
  const std::string shown = printable(path, 256);
  auto error = [&](const std::string& message) { return ParseError(shown, Location{0, 0}, message); };
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) throw error(std::string("cannot open: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw error(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) {
    const char* type = S_ISDIR(st.st_mode)    ? "a directory"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    throw error(std::string("is ") + type + "; a scenario is read only from a regular file");
  }
  const std::string too_big =
      "is larger than the limit of " + std::to_string(limits::kMaxFileBytes) + " bytes (1 MiB) for a scenario";
  if (static_cast<std::uint64_t>(st.st_size) > limits::kMaxFileBytes) throw error(too_big);
  std::string text;
  text.resize(limits::kMaxFileBytes + 1);
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw error(std::string("cannot read: ") + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > limits::kMaxFileBytes) throw error(too_big);
  text.resize(got);
  return parse_scenario(text, shown);
}

}  // namespace devsim::scenarios
