// Reports of the native runtime: what the driver model detects itself on real OS threads (ASan and TSan report
// memory errors and data races on their own).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace devsim::sim::native {

// Prints "BUG: <headline>" (with the kind) on stderr, as the kernel's log would show it, and counts it.
// Thread-safe.
void report(std::string_view kind, const std::string& headline);
// Reports made so far in this process (native_kmalloc's bad frees included).
std::uint64_t reports();

}  // namespace devsim::sim::native
