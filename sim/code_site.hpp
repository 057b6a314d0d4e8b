// Naming a code address: what an instrumented access's report says instead of a std::source_location.
#pragma once

#include <cstdint>
#include <string>

namespace devsim::sim {

// Where a program counter is, as reports name sites: the bare function name ("skel_ioctl") and
// "drivers/skel.cpp:42" (project root stripped). Inlined calls are expanded and the innermost frame that is
// not the engine's (sim/) nor the C++ library's (/usr/...) is chosen, so an access inside an inlined
// std::string member is named after the driver function that made it. Symbolised with libbacktrace from the
// executable's debug information, cached per address (thread-safe). Unknown: {"?", "?"}.
// Only when a report is made: never on the access path.
struct CodeSite {
  std::string function;
  std::string location;
};
CodeSite locate_pc(std::uintptr_t pc);

// Whether code at `pc` is devsim's model of the kernel (core/ primitives, bus/ driver model) rather than the code
// under test (drivers, models, a user's drivers): the innermost frame chosen as locate_pc chooses it is in
// core/ or bus/. Cached per address, per thread: after the first call, one hash lookup.
bool is_kernel_model_pc(std::uintptr_t pc);

// The bare function name of a demangled signature ("long ns::(anonymous namespace)::f(int)" -> "f").
std::string bare_function_name(const std::string& signature);

}  // namespace devsim::sim
