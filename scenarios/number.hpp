// The one checked-number parser of devsim: every number of a scenario and of the command line goes through
// these, with its range, so no value wraps around, saturates or is undefined.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace devsim::scenarios {

// An unsigned integer, decimal or 0x-hexadecimal, in [min, max]. On failure returns nothing and says why in
// *why ("expected a number", "out of range 1..64").
std::optional<std::uint64_t> parse_unsigned(std::string_view text, std::uint64_t min, std::uint64_t max,
                                            std::string* why);
// A signed integer ("-" then an unsigned one) in [min, max].
std::optional<std::int64_t> parse_signed(std::string_view text, std::int64_t min, std::int64_t max, std::string* why);
// A duration "<digits><unit>" with unit ns, us, ms or s, in nanoseconds, in [0, max_ns].
std::optional<std::uint64_t> parse_duration(std::string_view text, std::uint64_t max_ns, std::string* why);
// Seconds as a decimal number (finite, in (0, max]): "2", "0.5".
std::optional<double> parse_seconds(std::string_view text, double max, std::string* why);

}  // namespace devsim::scenarios
