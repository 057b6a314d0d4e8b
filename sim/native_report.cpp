#include "sim/native_report.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace devsim::sim::native {

namespace {
std::atomic<std::uint64_t> g_reports{0};
}  // namespace

void report(std::string_view kind, const std::string& headline) {
  // One report's lines stay together when threads report at once.
  static std::mutex* print = new std::mutex;  // LIFETIME: never destroyed: a thread may report during exit
  std::lock_guard lock(*print);
  std::fprintf(stderr, "BUG: %s [%.*s] (devsim native runtime)\n", headline.c_str(), static_cast<int>(kind.size()),
               kind.data());
  g_reports.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t reports() {
  return g_reports.load(std::memory_order_relaxed);
}

}  // namespace devsim::sim::native
