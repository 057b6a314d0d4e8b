#include "sim/site.hpp"

#include <cstring>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace devsim::sim {

namespace {
#ifdef DEVSIM_SOURCE_ROOT
constexpr std::string_view kSourceRoot = DEVSIM_SOURCE_ROOT;
#else
constexpr std::string_view kSourceRoot = "";
#endif
}  // namespace

namespace {
std::string compute_location(const Site& site) {
  std::string_view file = site.file_name();
  if (!kSourceRoot.empty() && file.starts_with(kSourceRoot)) file.remove_prefix(kSourceRoot.size());
  return std::string(file) + ":" + std::to_string(site.line());
}

}  // namespace

std::string bare_function_name(std::string_view sig) {
  // g++ gives the pretty signature: "void ns::Cls::fn(int) [with T = ...]". Keep "fn" (or "Cls::fn" for
  // members would be nicer, but the bare name matches what KASAN prints).
  if (sig.empty()) return "?";
  // Lambdas: "ns::fn(...)::<lambda()>" — name them after the enclosing function.
  std::size_t depth = 0, paren = std::string_view::npos;
  for (std::size_t i = 0; i < sig.size(); ++i) {
    char c = sig[i];
    if (c == '<')
      ++depth;
    else if (c == '>' && depth > 0)
      --depth;
    else if (c == '(' && depth == 0) {
      paren = i;
      break;
    }
  }
  std::string_view head = sig.substr(0, paren);
  // Drop the return type: the name starts after the last space outside template brackets.
  depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < head.size(); ++i) {
    char c = head[i];
    if (c == '<')
      ++depth;
    else if (c == '>' && depth > 0)
      --depth;
    else if (c == ' ' && depth == 0)
      start = i + 1;
  }
  head = head.substr(start);
  // Drop namespaces and classes: keep the last component outside template brackets.
  depth = 0;
  start = 0;
  for (std::size_t i = 0; i + 1 < head.size(); ++i) {
    char c = head[i];
    if (c == '<')
      ++depth;
    else if (c == '>' && depth > 0)
      --depth;
    else if (c == ':' && head[i + 1] == ':' && depth == 0)
      start = i + 2;
  }
  head = head.substr(start);
  return head.empty() ? std::string(sig) : std::string(head);
}

namespace {
std::string compute_function(const Site& site) {
  return bare_function_name(site.function_name());
}

// Reports name sites over and over (the explorer builds one per failing execution), and a site's text never
// changes: its strings point at static storage (see Site). So each thread keeps what it computed, keyed by
// those pointers. Thread-local: worlds on different threads share nothing, not even a cache.
struct PointerPairHash {
  std::size_t operator()(const std::pair<const void*, unsigned>& k) const {
    return std::hash<const void*>()(k.first) * 31 + k.second;
  }
};
thread_local std::unordered_map<std::pair<const void*, unsigned>, std::string, PointerPairHash> t_locations;
thread_local std::unordered_map<const void*, std::string> t_functions;
}  // namespace

std::string site_location(const Site& site) {
  auto [it, fresh] = t_locations.try_emplace({site.file_name(), site.line()});
  if (fresh) it->second = compute_location(site);
  return it->second;
}

std::string site_function(const Site& site) {
  auto [it, fresh] = t_functions.try_emplace(site.function_name());
  if (fresh) it->second = compute_function(site);
  return it->second;
}

std::string describe(const Site& site) {
  return site_function(site) + " (" + site_location(site) + ")";
}

}  // namespace devsim::sim
