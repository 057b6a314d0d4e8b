// The one stream of choices that drives a simulated execution, and its textual form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace devsim::sim {

using TaskId = std::uint32_t;
inline constexpr TaskId kNoTask = ~TaskId{0};

// One nondeterministic decision: which task runs next, or a value (random numbers, fault decisions).
// Only real decisions are recorded: a point with a single option consumes nothing from the stream, so a
// recorded schedule is exactly the list of decisions a strategy made.
struct Choice {
  enum class Kind : std::uint8_t { Task, Value };
  Kind kind = Kind::Task;
  std::uint64_t value = 0;  // the task id for Kind::Task, the value in [0, bound) for Kind::Value

  friend bool operator==(const Choice&, const Choice&) = default;
};

// A recorded execution: replaying it reproduces the execution exactly.
// Text form: space-separated "t<id>" (task) and "v<value>" (value) tokens, e.g. "t1 t0 v3 t1".
using Schedule = std::vector<Choice>;

std::string to_string(const Schedule& schedule);
// Parses the text form; on error returns nothing and sets *error_offset to the offending character.
std::optional<Schedule> parse_schedule(std::string_view text, std::size_t* error_offset = nullptr);

}  // namespace devsim::sim
