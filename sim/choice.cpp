#include "sim/choice.hpp"

#include <charconv>

namespace devsim::sim {

std::string to_string(const Schedule& schedule) {
  std::string out;
  out.reserve(schedule.size() * 3);
  for (const Choice& c : schedule) {
    if (!out.empty()) out += ' ';
    out += c.kind == Choice::Kind::Task ? 't' : 'v';
    out += std::to_string(c.value);
  }
  return out;
}

std::optional<Schedule> parse_schedule(std::string_view text, std::size_t* error_offset) {
  Schedule out;
  std::size_t i = 0;
  auto fail = [&](std::size_t at) -> std::optional<Schedule> {
    if (error_offset) *error_offset = at;
    return std::nullopt;
  };
  while (i < text.size()) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == ',') {
      ++i;
      continue;
    }
    Choice choice;
    if (c == 't' || c == 'T')
      choice.kind = Choice::Kind::Task;
    else if (c == 'v' || c == 'V')
      choice.kind = Choice::Kind::Value;
    else
      return fail(i);
    ++i;
    auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + text.size(), choice.value);
    if (ec != std::errc{} || ptr == text.data() + i) return fail(i);
    i = static_cast<std::size_t>(ptr - text.data());
    out.push_back(choice);
  }
  return out;
}

}  // namespace devsim::sim
