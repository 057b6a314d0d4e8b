// libFuzzer entry point: the scenario parser. Any input must either parse or raise a ParseError with a
// FILE:LINE:COL message — never crash, hang, leak or trip a sanitizer. What parses must survive the writer:
// its text parses again (a failure there aborts: the round trip is a property, not an allowed error) and
// writes back to the same text. Seed corpus: scenarios/*.scn.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "scenarios/limits.hpp"
#include "scenarios/parser.hpp"
#include "scenarios/writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  devsim::scenarios::Scenario s;
  try {
    s = devsim::scenarios::parse_scenario(text, "input.scn");
  } catch (const devsim::scenarios::ParseError& e) {
    if (!std::string_view(e.what()).starts_with("input.scn:")) std::abort();
    return 0;
  }
  const std::string written = devsim::scenarios::to_text(s);
  // The writer spells durations in ns and modaliases out: near the size limit its text may exceed it.
  if (written.size() > devsim::scenarios::limits::kMaxFileBytes) return 0;
  try {
    const std::string again = devsim::scenarios::to_text(devsim::scenarios::parse_scenario(written, "roundtrip.scn"));
    if (again != written) {
      std::fprintf(stderr, "write-back round trip changed the scenario:\n%s\n---\n%s\n", written.c_str(),
                   again.c_str());
      std::abort();
    }
  } catch (const devsim::scenarios::ParseError& e) {
    std::fprintf(stderr, "write-back round trip does not parse: %s\n---\n%s\n", e.what(), written.c_str());
    std::abort();
  }
  return 0;
}
