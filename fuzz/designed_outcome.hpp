// A designed outcome: what a driver declares it does on purpose (DriverInfo::expected_warnings: R12's fixed driver
// saturates its refcount_t and leaks the object instead of freeing it early), found by the fuzzer. Not a bug of the
// driver: `devsim fuzz` lists it apart and does not count it.
#pragma once

#include <algorithm>
#include <string>

#include "drivers/registry.hpp"
#include "fuzz/fuzzer.hpp"
#include "sim/report.hpp"

namespace devsim::fuzz {

// Whether `f` is a kind one of its case's drivers declares as expected, in a report that names that driver's own
// source (its name without the _fixed/_buggy suffix): the same kind from another driver is still a bug.
inline bool designed_outcome(const Finding& f) {
  const std::string text = sim::render_text(f.report);
  for (const std::string& name : f.drivers) {
    const drivers::DriverInfo* d = drivers::find_driver(name);
    if (d == nullptr) continue;
    if (std::find(d->expected_warnings.begin(), d->expected_warnings.end(), f.report.kind) ==
        d->expected_warnings.end())
      continue;
    std::string stem = d->name;
    for (const char* suffix : {"_fixed", "_buggy"})
      if (stem.ends_with(suffix)) stem.resize(stem.size() - std::string(suffix).size());
    if (text.find(stem) != std::string::npos) return true;
  }
  return false;
}

}  // namespace devsim::fuzz
