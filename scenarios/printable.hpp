// Text from the user (scenario words, file names) as it may appear in a message or a JSON output: control
// bytes and bytes that are not UTF-8 escaped as \xNN, long words cut short.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace devsim::scenarios {

// The length of the valid UTF-8 sequence at text[i] (1 for ASCII), or 0 if the bytes there are not UTF-8.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i);

// Whether `text` is valid UTF-8; if not, *bad_offset is the first offending byte.
bool valid_utf8(std::string_view text, std::size_t* bad_offset = nullptr);

// `text` with control bytes, DEL and non-UTF-8 bytes as \xNN, cut after `max_bytes` input bytes with a note
// of the full length. Printable and valid: safe on a terminal and in JSON.
std::string printable(std::string_view text, std::size_t max_bytes = 80);

}  // namespace devsim::scenarios
