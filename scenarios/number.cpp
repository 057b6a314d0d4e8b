#include "scenarios/number.hpp"

#include <charconv>
#include <cmath>

namespace devsim::scenarios {

namespace {
std::string range_text(std::uint64_t min, std::uint64_t max) {
  return std::to_string(min) + ".." + std::to_string(max);
}
}  // namespace

std::optional<std::uint64_t> parse_unsigned(std::string_view text, std::uint64_t min, std::uint64_t max,
                                            std::string* why) {
  int base = 10;
  std::string_view digits = text;
  if (digits.starts_with("0x") || digits.starts_with("0X")) {
    base = 16;
    digits.remove_prefix(2);
  }
  // from_chars accepts no sign, no space and no prefix: exactly the digits of the base, which is what we want.
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
  if (digits.empty() || end != digits.data() + digits.size() ||
      (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    *why = "expected a number";
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range || v < min || v > max) {
    *why = "out of range " + range_text(min, max);
    return std::nullopt;
  }
  return v;
}

std::optional<std::int64_t> parse_signed(std::string_view text, std::int64_t min, std::int64_t max, std::string* why) {
  const bool negative = text.starts_with("-");
  if (negative) text.remove_prefix(1);
  auto range = [&] { return std::to_string(min) + ".." + std::to_string(max); };
  // Magnitudes up to 2^63 parse; the range check decides whether the signed value fits.
  std::optional<std::uint64_t> m = parse_unsigned(text, 0, std::uint64_t{1} << 63, why);
  if (!m) {
    if (*why != "expected a number") *why = "out of range " + range();
    return std::nullopt;
  }
  // INVARIANT: *m <= 2^63, so both branches are defined.
  std::int64_t v = 0;
  if (negative) {
    v = *m == (std::uint64_t{1} << 63) ? INT64_MIN : -static_cast<std::int64_t>(*m);
  } else {
    if (*m > static_cast<std::uint64_t>(INT64_MAX)) {
      *why = "out of range " + range();
      return std::nullopt;
    }
    v = static_cast<std::int64_t>(*m);
  }
  if (v < min || v > max) {
    *why = "out of range " + range();
    return std::nullopt;
  }
  return v;
}

std::optional<std::uint64_t> parse_duration(std::string_view text, std::uint64_t max_ns, std::string* why) {
  static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
      {"ns", 1}, {"us", 1'000}, {"ms", 1'000'000}, {"s", 1'000'000'000}};
  for (const auto& [suffix, scale] : kUnits) {
    if (text.size() <= suffix.size() || !text.ends_with(suffix)) continue;
    std::string_view digits = text.substr(0, text.size() - suffix.size());
    if (digits.starts_with("0x") || digits.starts_with("0X")) break;
    std::string inner;
    // The bound in the unit written, so the multiplication below cannot overflow.
    std::optional<std::uint64_t> v = parse_unsigned(digits, 0, max_ns / scale, &inner);
    if (!v) {
      if (inner == "expected a number") break;
      *why = "duration out of range: at most " + std::to_string(max_ns / 1'000'000'000) + "s";
      return std::nullopt;
    }
    return *v * scale;
  }
  *why = "expected a duration like 10ns, 5us, 3ms or 1s";
  return std::nullopt;
}

std::optional<double> parse_seconds(std::string_view text, double max, std::string* why) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::fixed);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
    *why = "expected a number of seconds like 10 or 0.5";
    return std::nullopt;
  }
  if (!(v > 0) || v > max) {
    *why = "out of range: more than 0 and at most " + std::to_string(static_cast<std::uint64_t>(max));
    return std::nullopt;
  }
  return v;
}

}  // namespace devsim::scenarios
