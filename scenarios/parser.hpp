// Parsing scenario text, with errors that say where and what (and suggest the nearest valid name).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/scenario.hpp"

namespace devsim::scenarios {

// A malformed scenario: what() is "FILE:LINE:COL: message".
class ParseError : public std::runtime_error {
 public:
  ParseError(const std::string& file, Location at, const std::string& message)
      : std::runtime_error(file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": " + message),
        at_(at),
        message_(message) {}
  Location where() const { return at_; }
  const std::string& message() const { return message_; }

 private:
  Location at_;
  std::string message_;
};

// Parses `text` (named `file` in messages). Driver names, ioctl names, variables and errno names are checked
// against the driver registry. Throws ParseError.
Scenario parse_scenario(std::string_view text, const std::string& file);
// Reads and parses a file. Throws ParseError (an unreadable file is reported at 0:0).
Scenario load_scenario(const std::string& path);

// The candidate closest to `word` by edit distance, if it is close enough to be a plausible typo ("" if none).
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace devsim::scenarios
