// Numbers on the command line, parsed once with a range check: no sign wrap (`-1` is not 2^64-1), no silent
// clamp on overflow, no trailing junk (`2junk`), no nan or infinity. Each parser returns the value, or nullopt
// with a message saying what was expected and what was given. CLI11 validators are built from the same
// functions, so a bad value is a usage error (exit 2) before any work starts.
#pragma once

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace devsim::tool {

// An unsigned decimal integer in [min, max].
inline std::optional<std::uint64_t> parse_uint(std::string_view text, std::uint64_t min, std::uint64_t max,
                                               std::string* error) {
  std::uint64_t v = 0;
  const char* end = text.data() + text.size();
  // from_chars takes no sign and no blanks: "-1", "+1", " 1" and "" are all rejected here.
  auto [ptr, ec] = std::from_chars(text.data(), end, v, 10);
  if (text.empty() || ec != std::errc() || ptr != end || v < min || v > max) {
    if (error != nullptr) {
      *error = "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) + ", got '" +
               std::string(text.substr(0, 64)) + (text.size() > 64 ? "…" : "") + "'";
    }
    return std::nullopt;
  }
  return v;
}

// A finite number of seconds in (0, max].
inline std::optional<double> parse_seconds(std::string_view text, double max, std::string* error) {
  std::string s(text);
  char* end = nullptr;
  double v = s.empty() ? 0 : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || !(v > 0) || v > max) {
    if (error != nullptr) {
      *error = "expected a number of seconds greater than 0 and at most " + std::to_string(static_cast<long>(max)) +
               ", got '" + s.substr(0, 64) + (s.size() > 64 ? "…" : "") + "'";
    }
    return std::nullopt;
  }
  return v;
}

// A finite number in [0, max] (a scale factor: 0 allowed).
inline std::optional<double> parse_scale(std::string_view text, double max, std::string* error) {
  std::string s(text);
  char* end = nullptr;
  double v = s.empty() ? 0 : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v < 0 || v > max) {
    if (error != nullptr) {
      *error = "expected a number from 0 to " + std::to_string(static_cast<long>(max)) + ", got '" + s.substr(0, 64) +
               (s.size() > 64 ? "…" : "") + "'";
    }
    return std::nullopt;
  }
  return v;
}

// K/N with 0 <= K < N <= max_n.
struct Shard {
  unsigned k = 0, n = 1;
};
inline std::optional<Shard> parse_shard(std::string_view text, unsigned max_n, std::string* error) {
  const auto slash = text.find('/');
  std::optional<std::uint64_t> k, n;
  if (slash != std::string_view::npos) {
    k = parse_uint(text.substr(0, slash), 0, max_n - 1, nullptr);
    n = parse_uint(text.substr(slash + 1), 1, max_n, nullptr);
  }
  if (!k || !n || *k >= *n) {
    if (error != nullptr) {
      *error = "expected K/N with integers 0 <= K < N <= " + std::to_string(max_n) + ", got '" +
               std::string(text.substr(0, 64)) + "'";
    }
    return std::nullopt;
  }
  return Shard{static_cast<unsigned>(*k), static_cast<unsigned>(*n)};
}

// A CLI11 validator from one of the parsers above (the option is kept as text and parsed again after
// validation, so the check and the conversion are the same code).
template <class Parse>
CLI::Validator checked(std::string description, Parse parse) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        std::string error;
        return parse(text, &error) ? std::string() : error;
      },
      std::move(description));
}

}  // namespace devsim::tool
