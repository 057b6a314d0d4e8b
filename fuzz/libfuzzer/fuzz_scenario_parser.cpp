// libFuzzer entry point: the scenario parser. Any input must either parse or raise a ParseError with a
// FILE:LINE:COL message — never crash, hang, leak or trip a sanitizer. Seed corpus: scenarios/*.scn.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "scenarios/parser.hpp"
#include "scenarios/writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    devsim::scenarios::Scenario s = devsim::scenarios::parse_scenario(text, "input.scn");
    // What parses must survive a round trip through the writer (the fuzzer saves reproducers that way).
    devsim::scenarios::parse_scenario(devsim::scenarios::to_text(s), "roundtrip.scn");
  } catch (const devsim::scenarios::ParseError& e) {
    std::string_view what = e.what();
    if (!what.starts_with("input.scn:") && !what.starts_with("roundtrip.scn:")) std::abort();
  }
  return 0;
}
