#include "sim/code_site.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include DEVSIM_BACKTRACE_HEADER

namespace devsim::sim {

namespace {
#ifdef DEVSIM_SOURCE_ROOT
constexpr std::string_view kSourceRoot = DEVSIM_SOURCE_ROOT;
#else
constexpr std::string_view kSourceRoot = "";
#endif

backtrace_state* state() {
  static backtrace_state* s = backtrace_create_state(nullptr, /*threaded=*/1, nullptr, nullptr);
  return s;
}

struct Frame {
  std::string function;
  std::string file;
  int line = 0;
};

int collect(void* data, std::uintptr_t, const char* file, int line, const char* function) {
  auto* frames = static_cast<std::vector<Frame>*>(data);
  frames->push_back({function != nullptr ? function : "", file != nullptr ? file : "", line});
  return 0;
}
void ignore_error(void*, const char*, int) {}

std::string demangle(const std::string& name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status), std::free);
  return status == 0 && d ? std::string(d.get()) : name;
}

bool engine_or_library(std::string_view file) {
  if (file.starts_with("/usr/")) return true;
  if (!kSourceRoot.empty() && file.starts_with(kSourceRoot)) file.remove_prefix(kSourceRoot.size());
  // The marked-access helpers are inlined into the code that marks: name that code.
  return file.starts_with("sim/") || file == "core/compiler.hpp";
}

CodeSite compute(std::uintptr_t pc) {
  std::vector<Frame> frames;  // innermost first
  if (state() != nullptr) backtrace_pcinfo(state(), pc - 1, collect, ignore_error, &frames);
  const Frame* pick = nullptr;
  for (const Frame& f : frames) {
    if (f.file.empty() || engine_or_library(f.file)) continue;
    pick = &f;
    break;
  }
  if (pick == nullptr && !frames.empty()) pick = &frames.front();
  if (pick == nullptr) return {"?", "?"};
  std::string_view file = pick->file;
  if (!kSourceRoot.empty() && file.starts_with(kSourceRoot)) file.remove_prefix(kSourceRoot.size());
  return {bare_function_name(demangle(pick->function)), std::string(file) + ":" + std::to_string(pick->line)};
}
}  // namespace

std::string bare_function_name(const std::string& full) {
  // "(anonymous namespace)" would look like a parameter list: name it as g++'s __PRETTY_FUNCTION__ does.
  std::string sig = full;
  for (std::size_t at; (at = sig.find("(anonymous namespace)")) != std::string::npos;)
    sig.replace(at, std::strlen("(anonymous namespace)"), "{anonymous}");
  if (sig.empty()) return "?";
  std::size_t depth = 0, paren = std::string::npos;
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
  std::string head = sig.substr(0, paren);
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
  return head.empty() ? sig : head;
}

bool is_kernel_model_pc(std::uintptr_t pc) {
  thread_local std::unordered_map<std::uintptr_t, bool> cache;
  auto [it, fresh] = cache.try_emplace(pc, false);
  if (fresh) {
    const std::string& location = locate_pc(pc).location;
    it->second = location.starts_with("core/") || location.starts_with("bus/");
  }
  return it->second;
}

CodeSite locate_pc(std::uintptr_t pc) {
  static std::mutex mu;
  static std::unordered_map<std::uintptr_t, CodeSite> cache;
  {
    std::lock_guard lock(mu);
    auto it = cache.find(pc);
    if (it != cache.end()) return it->second;
  }
  CodeSite site = compute(pc);
  std::lock_guard lock(mu);
  return cache.try_emplace(pc, std::move(site)).first->second;
}

}  // namespace devsim::sim
