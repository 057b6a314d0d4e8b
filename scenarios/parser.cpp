#include "scenarios/parser.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "drivers/registry.hpp"

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
  }
  return "?";
}

std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = ~std::size_t{0};
  for (const std::string& c : candidates) {
    // Levenshtein distance, two rows.
    std::vector<std::size_t> prev(c.size() + 1), cur(c.size() + 1);
    for (std::size_t j = 0; j <= c.size(); ++j)
      prev[j] = j;
    for (std::size_t i = 1; i <= word.size(); ++i) {
      cur[0] = i;
      for (std::size_t j = 1; j <= c.size(); ++j) {
        std::size_t sub = prev[j - 1] + (std::tolower(word[i - 1]) == std::tolower(c[j - 1]) ? 0 : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      }
      std::swap(prev, cur);
    }
    if (prev[c.size()] < best_d) {
      best_d = prev[c.size()];
      best = c;
    }
  }
  // A plausible typo: within a third of the word's length (at least 2 edits for short words).
  std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
  return best_d <= limit ? best : std::string();
}

namespace {

struct Token {
  std::string text;
  int column = 0;  // 1-based
  bool quoted = false;
};

const std::vector<std::string> kOperations = {
    "open", "close",  "read",       "write",       "ioctl", "poll",   "mmap",  "munmap", "plug",  "unplug",
    "bind", "unbind", "sysfs-read", "sysfs-write", "load",  "unload", "sleep", "irq",    "yield", "signal"};
const std::vector<std::string> kStatements = {"driver", "device",  "firmware", "task",
                                              "expect", "explore", "fail-nth", "schedule"};
const std::vector<std::string> kBugKinds = {"use-after-free",       "double-free",
                                            "invalid-free",         "slab-out-of-bounds",
                                            "memory-leak",          "deadlock",
                                            "stack-overflow",       "step-budget-exceeded",
                                            "held-at-exit",         "unhandled-exception",
                                            "sleep-in-atomic",      "refcount-warning",
                                            "lock-order-inversion", "recursive-locking",
                                            "bad-unlock-balance",   "list-corruption",
                                            "context-misuse",       "io-after-unmap",
                                            "io-out-of-bounds",     "null-ptr-deref",
                                            "unexpected-result",    "no-bug"};

class Parser {
 public:
  Parser(std::string_view text, std::string file) : file_(std::move(file)) {
    std::string line;
    std::istringstream in{std::string(text)};
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      s_.lines.push_back(line);
    }
    s_.file = file_;
  }

  Scenario parse() {
    for (line_no_ = 1; line_no_ <= static_cast<int>(s_.lines.size()); ++line_no_) {
      std::vector<Token> t = tokenize(s_.lines[line_no_ - 1]);
      if (t.empty()) continue;
      statement(t);
    }
    if (current_task_ != nullptr)
      fail(current_task_->at, "task '" + current_task_->name + "' is not closed: missing '}'");
    if (s_.tasks.empty() && s_.devices.empty()) fail({1, 1}, "a scenario needs at least one task or device");
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
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/' || c == ':' ||
            c == '+')
          ++i;
        else if (c == '=' && i > start && !(i + 1 < line.size() && line[i + 1] == '>'))
          ++i;  // key=value stays one token
        else
          break;
      }
      if (i == start) fail(Location{line_no_, col}, std::string("unexpected character '") + ch + "'");
      out.push_back({line.substr(start, i - start), col, false});
    }
    return out;
  }

  std::string suggest(const std::string& word, const std::vector<std::string>& candidates) const {
    std::string n = nearest(word, candidates);
    return n.empty() ? std::string() : "; did you mean '" + n + "'?";
  }

  const Token& need(const std::vector<Token>& t, std::size_t i, const std::string& what) const {
    if (i >= t.size()) fail(end_of_line(), "expected " + what);
    return t[i];
  }
  void no_more(const std::vector<Token>& t, std::size_t i) const {
    if (i < t.size()) fail(t[i], "unexpected '" + t[i].text + "'");
  }

  std::uint64_t number(const Token& t, const std::string& what) const {
    std::string s = t.text;
    int base = 10;
    std::size_t off = 0;
    if (s.starts_with("0x") || s.starts_with("0X")) {
      base = 16;
      off = 2;
    }
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data() + off, s.data() + s.size(), v, base);
    if (ec != std::errc() || p != s.data() + s.size() || off == s.size())
      fail(t, "expected " + what + ", got '" + s + "'");
    return v;
  }

  std::uint64_t duration(const Token& t) const {
    static const std::vector<std::pair<std::string, std::uint64_t>> units = {
        {"ns", 1}, {"us", 1'000}, {"ms", 1'000'000}, {"s", 1'000'000'000}};
    for (const auto& [suffix, scale] : units) {
      if (t.text.size() > suffix.size() && t.text.ends_with(suffix)) {
        std::string digits = t.text.substr(0, t.text.size() - suffix.size());
        if (!digits.empty() && std::all_of(digits.begin(), digits.end(), ::isdigit)) {
          std::uint64_t v = 0;
          std::from_chars(digits.data(), digits.data() + digits.size(), v);
          return v * scale;
        }
      }
    }
    fail(t, "expected a duration like 10ns, 5us, 3ms or 1s, got '" + t.text + "'");
  }

  std::int64_t result_value(const Token& t) const {
    const std::string& s = t.text;
    if (s.starts_with("-E")) {
      int e = bus::errno_from_name(s.substr(1));
      if (e == 0) {
        std::vector<std::string> names;
        for (const char* n : {"-EPERM", "-ENOENT", "-EIO", "-ENXIO", "-EBADF", "-EAGAIN", "-ENOMEM", "-EFAULT",
                              "-EBUSY", "-EEXIST", "-ENODEV", "-EISDIR", "-EINVAL", "-ENOTTY", "-ENOSYS", "-ESHUTDOWN"})
          names.emplace_back(n);
        fail(t, "unknown errno '" + s + "'" + suggest(s, names));
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
          fail(t, "unknown result '" + s + "': expected a number, an errno like -ENODEV or a poll mask like HUP+ERR");
        if (plus == std::string::npos) break;
        start = plus + 1;
      }
      return mask;
    }
    bool negative = s.starts_with("-");
    std::uint64_t v = number(Token{negative ? s.substr(1) : s, t.column, false}, "a result");
    return negative ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
  }

  void check_driver(const Token& t) const {
    if (drivers::find_driver(t.text) != nullptr) return;
    std::vector<std::string> names;
    for (const auto& d : drivers::all_drivers())
      names.push_back(d.name);
    fail(t, "unknown driver '" + t.text + "'" + suggest(t.text, names));
  }
  void check_bus(const Token& t) const {
    if (t.text != "usb" && t.text != "platform")
      fail(t, "unknown bus '" + t.text + "' (usb or platform)" + suggest(t.text, {"usb", "platform"}));
  }

  void statement(const std::vector<Token>& t) {
    if (current_task_ != nullptr) {
      if (t[0].text == "}") {
        no_more(t, 1);
        current_task_ = nullptr;
        return;
      }
      operation(t);
      return;
    }
    const std::string& w = t[0].text;
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
      d.id = need(t, 2, "a device id (a port like 1-1, or a platform device name)").text;
      if (t.size() > 3) {
        d.modalias = t[3].text;
        no_more(t, 4);
      } else {
        if (s_.drivers.empty()) fail(end_of_line(), "expected a modalias (no driver declared before this device)");
        d.modalias = s_.drivers.front();
      }
      s_.devices.push_back(std::move(d));
    } else if (w == "firmware") {
      const Token& name = need(t, 1, "a firmware file name");
      std::string contents = t.size() > 2 ? t[2].text : "firmware";
      no_more(t, t.size() > 2 ? 3 : 2);
      s_.firmware.emplace_back(name.text, contents);
    } else if (w == "task") {
      const Token& name = need(t, 1, "a task name");
      if (!std::isalpha(static_cast<unsigned char>(name.text[0]))) fail(name, "a task name starts with a letter");
      for (const Task& other : s_.tasks)
        if (other.name == name.text) fail(name, "task '" + name.text + "' is defined twice");
      if (need(t, 2, "'{'").text != "{") fail(t[2], "expected '{' after the task name");
      no_more(t, 3);
      s_.tasks.push_back(Task{name.text, here(t[0]), {}});
      current_task_ = &s_.tasks.back();
      vars_.clear();
    } else if (w == "expect") {
      s_.setting_lines.push_back(line_no_);
      const Token& kind = need(t, 1, "a bug kind or no-bug");
      if (std::find(kBugKinds.begin(), kBugKinds.end(), kind.text) == kBugKinds.end())
        fail(kind, "unknown bug kind '" + kind.text + "'" + suggest(kind.text, kBugKinds));
      Expectation e{kind.text, {}, here(t[0])};
      if (t.size() > 2) {
        if (t[2].text != "in") fail(t[2], "expected 'in FUNCTION' after the bug kind");
        e.function = need(t, 3, "a function name").text;
        no_more(t, 4);
      }
      s_.expectations.push_back(std::move(e));
    } else if (w == "explore") {
      s_.setting_lines.push_back(line_no_);
      explore(t);
    } else if (w == "fail-nth") {
      s_.fail_nth = number(need(t, 1, "N"), "a number");
      if (s_.fail_nth == 0) fail(t[1], "fail-nth counts from 1");
      no_more(t, 2);
    } else if (w == "schedule") {
      s_.setting_lines.push_back(line_no_);
      const Token& q = need(t, 1, "a quoted choice list like \"t1 t0 v3\"");
      if (!q.quoted) fail(q, "the schedule must be quoted: schedule \"t1 t0 v3\"");
      std::size_t offset = 0;
      auto parsed = sim::parse_schedule(q.text, &offset);
      if (!parsed) fail(Location{line_no_, q.column + 1 + static_cast<int>(offset)}, "malformed choice in schedule");
      s_.schedule = *parsed;
      no_more(t, 2);
    } else if (w == "}") {
      fail(t[0], "'}' without an open task");
    } else {
      std::vector<std::string> all = kStatements;
      std::string hint = suggest(w, all);
      if (hint.empty() && std::find(kOperations.begin(), kOperations.end(), w) != kOperations.end())
        hint = "; operations go inside a task { ... } block";
      fail(t[0], "unknown statement '" + w + "'" + hint);
    }
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
      fail(kind, "unknown strategy '" + kind.text + "'" + suggest(kind.text, {"random", "pct", "exhaustive"}));
    s_.executions = s_.strategy.kind == sim::StrategyKind::Exhaustive ? 0 : 1000;
    for (std::size_t i = 2; i < t.size(); ++i) {
      std::size_t eq = t[i].text.find('=');
      if (eq == std::string::npos) fail(t[i], "expected KEY=VALUE, got '" + t[i].text + "'");
      std::string key = t[i].text.substr(0, eq);
      Token value{t[i].text.substr(eq + 1), t[i].column + static_cast<int>(eq) + 1, false};
      if (key == "seed") {
        s_.strategy.seed = number(value, "a seed");
      } else if (key == "executions") {
        s_.executions = number(value, "an execution count");
      } else if (key == "preemptions") {
        s_.strategy.preemption_bound = static_cast<int>(number(value, "a preemption bound"));
      } else if (key == "depth") {
        s_.strategy.pct_depth = static_cast<int>(number(value, "a PCT depth"));
        if (s_.strategy.pct_depth < 1) fail(value, "the PCT depth is at least 1");
      } else if (key == "sleep-sets") {
        if (value.text != "on" && value.text != "off") fail(value, "sleep-sets is on or off");
        s_.strategy.sleep_sets = value.text == "on";
      } else {
        fail(t[i], "unknown setting '" + key + "'" +
                       suggest(key, {"seed", "executions", "preemptions", "depth", "sleep-sets"}));
      }
    }
  }

  const std::string& fd_var(const std::vector<Token>& t, std::size_t i) {
    const Token& v = need(t, i, "a descriptor variable");
    if (vars_.count(v.text) == 0) {
      std::vector<std::string> known(vars_.begin(), vars_.end());
      fail(v, "unknown variable '" + v.text + "'" + suggest(v.text, known));
    }
    return v.text;
  }

  void operation(const std::vector<Token>& all) {
    Op op;
    std::size_t i = 0;
    if (all.size() >= 2 && all[1].text == "=") {
      if (!std::isalpha(static_cast<unsigned char>(all[0].text[0]))) fail(all[0], "a variable starts with a letter");
      op.bind = all[0].text;
      i = 2;
    }
    // Results after "=>".
    std::vector<Token> t(all.begin() + static_cast<std::ptrdiff_t>(i), all.end());
    auto arrow = std::find_if(t.begin(), t.end(), [](const Token& x) { return x.text == "=>"; });
    if (arrow != t.end()) {
      bool want_value = true;
      for (auto it = arrow + 1; it != t.end(); ++it) {
        if (want_value) {
          op.allowed.push_back(result_value(*it));
        } else if (it->text != "|") {
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
    while (!op.text.empty() && op.text.back() == ' ')
      op.text.pop_back();
    const std::string& name = w.text;
    auto it = std::find(kOperations.begin(), kOperations.end(), name);
    if (it == kOperations.end()) fail(w, "unknown operation '" + name + "'" + suggest(name, kOperations));
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
        op.number = t.size() > 2 ? number(t[2], "a byte count") : 1;
        no_more(t, 3);
        break;
      case OpKind::Ioctl: {
        op.fd = fd_var(t, 1);
        const Token& cmd = need(t, 2, "an ioctl command");
        if (std::isdigit(static_cast<unsigned char>(cmd.text[0]))) {
          op.number = number(cmd, "an ioctl command");
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
          if (!found) fail(cmd, "unknown ioctl '" + cmd.text + "' for the declared drivers" + suggest(cmd.text, names));
        }
        op.a = cmd.text;
        op.arg = t.size() > 3 ? number(t[3], "an ioctl argument") : 0;
        no_more(t, 4);
        break;
      }
      case OpKind::Plug:
      case OpKind::Unplug: {
        check_bus(need(t, 1, "a bus (usb or platform)"));
        op.a = t[1].text;
        op.b = need(t, 2, "a device id").text;
        if (op.kind == OpKind::Plug) {
          if (t.size() > 3) {
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
        op.b = need(t, 2, "a device name").text;
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
        op.b = need(t, 2, "a value").text;
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
        op.number = number(need(t, 1, "an interrupt line"), "an interrupt line");
        no_more(t, 2);
        break;
      case OpKind::Yield:
        no_more(t, 1);
        break;
      case OpKind::Signal:
        op.a = need(t, 1, "a task name").text;
        no_more(t, 2);
        break;
    }
    if (!op.bind.empty()) vars_.insert(op.bind);
    current_task_->ops.push_back(std::move(op));
  }

  std::string file_;
  Scenario s_;
  int line_no_ = 0;
  Task* current_task_ = nullptr;  // LIFETIME: points into s_.tasks, which does not grow while a task is open
  std::set<std::string> vars_;
};

}  // namespace

Scenario parse_scenario(std::string_view text, const std::string& file) {
  return Parser(text, file).parse();
}

Scenario load_scenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ParseError(path, Location{0, 0}, "cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_scenario(text.str(), path);
}

}  // namespace devsim::scenarios
