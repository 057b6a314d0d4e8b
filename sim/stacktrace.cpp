#include "sim/stacktrace.hpp"

#include <cxxabi.h>
#include <link.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "sim/site.hpp"
#include "sim/task_fault.hpp"
#include "sim/world.hpp"

// libbacktrace ships with gcc (libgcc-12-dev: libbacktrace.a and its header in gcc's private include
// directory). The build passes the header's full path, so that clang builds include it without putting gcc's
// private headers on their include path.
#include DEVSIM_BACKTRACE_HEADER

namespace devsim::sim {

namespace {
#ifdef DEVSIM_SOURCE_ROOT
constexpr std::string_view kSourceRoot = DEVSIM_SOURCE_ROOT;
#else
constexpr std::string_view kSourceRoot = "";
#endif

}  // namespace

// Not instrumented by the sanitizers: in a function built without frame pointers, %rbp is an ordinary register
// and the chain may lead into a redzone of this same stack. The bounds keep the walk inside the stack; what it
// reads there is only compared and copied.
static __attribute__((no_sanitize("address", "thread", "undefined"))) void walk_frames(StackTrace& st,
                                                                                       std::uintptr_t fp,
                                                                                       const void* low,
                                                                                       const void* high) noexcept {
  const auto lo = reinterpret_cast<std::uintptr_t>(low);
  const auto hi = reinterpret_cast<std::uintptr_t>(high);
  if (hi < lo || hi - lo < 2 * sizeof(std::uintptr_t)) return;  // also keeps hi - 16 below from wrapping
  // A frame is [saved frame pointer, return address] at the frame pointer; callers' frames lie above.
  while (st.depth < StackTrace::kMaxFrames && fp >= lo && fp <= hi - 2 * sizeof(std::uintptr_t) &&
         fp % sizeof(std::uintptr_t) == 0) {
    const auto* frame = reinterpret_cast<const std::uintptr_t*>(fp);
    const std::uintptr_t next = frame[0];
    const std::uintptr_t pc = frame[1];
    if (pc == 0) break;
    st.pcs[st.depth++] = pc;
    if (next <= fp) break;  // the outermost frame, or not a frame chain: the stack grows down
    fp = next;
  }
}

__attribute__((noinline)) StackTrace capture_stack(const void* low, const void* high) noexcept {
  StackTrace st;
  walk_frames(st, reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)), low, high);
  return st;
}

StackTrace fault_stack(const TaskFault& fault, const Stack& stack) noexcept {
  StackTrace st;
  st.pcs[st.depth++] = fault.pc;
  walk_frames(st, fault.fp, stack.bottom(), stack.top());
  return st;
}

StackTrace capture_current_stack() noexcept {
  // Only inside a task. Code outside one (a model's set-up, the scheduler) runs on the OS thread's stack under
  // whatever harness called the explorer (a test, a thread of the fuzzer): its frames would differ between a
  // run and its replay, and reports must not.
  World* w = World::current();
  const Stack* s = w != nullptr ? w->current_stack() : nullptr;
  if (s == nullptr) return {};
  return capture_stack(s->bottom(), s->top());
}

namespace {

struct RawFrame {
  std::string function;  // as libbacktrace gives it: a linkage (mangled) name or a plain one
  std::string file;
  int line = 0;
};

void ignore_error(void*, const char*, int) {}

// Set while this thread is inside libbacktrace (ListingForSymboliser): its listing of the loaded objects then
// leaves out the system's libraries (__wrap_dl_iterate_phdr below).
thread_local bool t_listing_for_symboliser = false;

struct ListingForSymboliser {
  ListingForSymboliser() { t_listing_for_symboliser = true; }
  ~ListingForSymboliser() { t_listing_for_symboliser = false; }
  ListingForSymboliser(const ListingForSymboliser&) = delete;
  ListingForSymboliser& operator=(const ListingForSymboliser&) = delete;
};

// The system's shared libraries (libc, libstdc++, Boost…): reports drop their frames, and the kernel model is
// never in them. Whatever else is loaded stays: the program itself, and C drivers' module copies (/proc/self/fd/N,
// cabi/module.cpp).
bool is_system_library(const char* name) {
  if (name == nullptr || name[0] == '\0') return false;  // the program itself
  const std::string_view path(name);
  if (path.find('/') == std::string_view::npos) return true;  // the vDSO ("linux-vdso.so.1")
  for (std::string_view dir : {"/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/"})
    if (path.starts_with(dir)) return true;
  return false;
}

std::atomic<unsigned> g_code_generation{0};

backtrace_state* state() {
  // One state for the process, built on first use (it reads the debug information lazily). threaded=1: the
  // explorer's threads symbolise concurrently. A state lists the loaded objects when it is made: after code was
  // loaded (stacktrace_code_loaded) a new one is made. The old one is kept: libbacktrace cannot free a state, and
  // module loads are few (one per C driver and thread).
  // Called under g_symboliser_mutex.
  static backtrace_state* s = nullptr;
  static unsigned made_at = 0;
  const unsigned now = g_code_generation.load(std::memory_order_acquire);
  if (s == nullptr || made_at != now) {
    s = backtrace_create_state(nullptr, /*threaded=*/1, ignore_error, nullptr);
    made_at = now;
  }
  return s;
}

void on_syminfo(void* data, std::uintptr_t, const char* symbol, std::uintptr_t, std::uintptr_t) {
  if (symbol != nullptr) *static_cast<std::string*>(data) = symbol;
}

struct DataSymbol {
  std::string name;
  std::uintptr_t value = 0, size = 0;
};

void on_data_syminfo(void* data, std::uintptr_t, const char* symbol, std::uintptr_t value, std::uintptr_t size) {
  if (symbol != nullptr) *static_cast<DataSymbol*>(data) = {symbol, value, size};
}

// Serialises libbacktrace's state (state()) and the caches built from it.
std::mutex g_symboliser_mutex;

int on_pcinfo(void* data, std::uintptr_t, const char* file, int line, const char* function) {
  auto& out = *static_cast<std::vector<RawFrame>*>(data);
  if (file == nullptr && function == nullptr) return 0;
  out.push_back({function != nullptr ? function : "", file != nullptr ? file : "", line});
  return 0;
}

std::string demangle(const std::string& name) {
  if (!name.starts_with("_Z")) return name;
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status), std::free);
  return status == 0 && d ? std::string(d.get()) : name;
}

std::string short_name(const std::string& linkage_name) {
  std::string name = demangle(linkage_name);
  // bare_function_name() reads up to the first parenthesis; this one is part of a scope, not a parameter list.
  static constexpr std::string_view kAnon = "(anonymous namespace)::";
  for (std::size_t at; (at = name.find(kAnon)) != std::string::npos;)
    name.erase(at, kAnon.size());
  if (name == "operator()") return "<lambda>";  // an inlined lambda: its enclosing function is the next frame
  return bare_function_name(name);
}

// The kept frames of one return address, innermost (inlined) first. Symbolising walks the debug information,
// so each address is done once per process.
const std::vector<StackFrame>& frames_of(std::uintptr_t pc) {
  static std::unordered_map<std::uintptr_t, std::vector<StackFrame>> cache;
  std::lock_guard lock(g_symboliser_mutex);
  auto [it, fresh] = cache.try_emplace(pc);
  if (!fresh) return it->second;
  std::vector<RawFrame> raw;
  const ListingForSymboliser listing;
  // A return address points after its call: look up the call instruction itself.
  backtrace_state* s = state();
  if (s != nullptr) backtrace_pcinfo(s, pc - 1, on_pcinfo, ignore_error, &raw);
  // The debug information may name the function that holds the address by its plain name ("operator()" for a
  // lambda); its symbol has the full mangled name, which names a lambda after its enclosing function.
  if (s != nullptr && !raw.empty() && !raw.back().function.starts_with("_Z")) {
    std::string symbol;
    backtrace_syminfo(s, pc - 1, on_syminfo, ignore_error, &symbol);
    if (symbol.starts_with("_Z")) raw.back().function = symbol;
  }
  for (std::size_t i = 0; i < raw.size(); ++i) {
    std::string_view file = raw[i].file;
    if (file.empty()) continue;  // no debug information: a host library
    if (!kSourceRoot.empty() && file.starts_with(kSourceRoot)) file.remove_prefix(kSourceRoot.size());
    // The engine, the C++ library and Boost; and the marked-access helpers, which are inlined into the code that
    // marks: that code is the frame a reader wants.
    if (file.starts_with("sim/") || file.starts_with("/usr/") || file == "core/compiler.hpp") continue;
    it->second.push_back(
        {short_name(raw[i].function), std::string(file) + ":" + std::to_string(raw[i].line), i + 1 < raw.size()});
  }
  return it->second;
}

}  // namespace

void stacktrace_code_loaded() noexcept {
  g_code_generation.fetch_add(1, std::memory_order_acq_rel);
}

std::vector<StackFrame> symbolize(const StackTrace& stack) {
  std::vector<StackFrame> out;
  for (std::size_t i = 0; i < stack.depth; ++i) {
    const std::vector<StackFrame>& f = frames_of(stack.pcs[i]);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

bool stack_has_function(const StackTrace& stack, std::string_view name) {
  for (std::size_t i = 0; i < stack.depth; ++i)
    for (const StackFrame& f : frames_of(stack.pcs[i]))
      if (f.function == name) return true;
  return false;
}

StackTrace stack_of_return_address(std::uintptr_t return_address) noexcept {
  StackTrace st;
  st.pcs[0] = return_address;
  st.depth = return_address != 0 ? 1 : 0;
  return st;
}

std::string data_symbol(std::uintptr_t address) {
  DataSymbol found;
  {
    std::lock_guard lock(g_symboliser_mutex);
    const ListingForSymboliser listing;
    backtrace_state* s = state();
    if (s != nullptr) backtrace_syminfo(s, address, on_data_syminfo, ignore_error, &found);
  }
  if (found.name.empty() || address < found.value) return "?";
  char tail[48];
  std::snprintf(tail, sizeof tail, "+0x%zx/0x%zx", static_cast<std::size_t>(address - found.value),
                static_cast<std::size_t>(found.size));
  return demangle(found.name) + tail;
}

StackFrame innermost_frame(std::uintptr_t return_address) {
  const std::vector<StackFrame>& f = frames_of(return_address);
  return f.empty() ? StackFrame{"?", "?", false} : f.front();
}

namespace {
struct ModelCodeSlot {
  std::uintptr_t pc = 0;
  bool model = false;
};

// The cache's miss path, kept out of line so that the hit path needs no stack frame.
[[gnu::noinline]] bool classify_code(std::uintptr_t return_address, ModelCodeSlot& slot) {
  thread_local std::unordered_map<std::uintptr_t, bool> cache;
  auto [it, fresh] = cache.try_emplace(return_address, false);
  if (fresh) {
    const std::string location = innermost_frame(return_address).location;
    // cabi/: the C drivers' kernel API, on top of bus/ and core/.
    for (std::string_view model : {"core/", "bus/", "cabi/"})
      it->second = it->second || location.compare(0, model.size(), model) == 0;
  }
  slot = ModelCodeSlot{return_address, it->second};
  return it->second;
}
}  // namespace

bool is_kernel_model_code(std::uintptr_t return_address) {
  // Asked on every access an inlined kernel-model header makes to simulated memory (hundreds per execution),
  // for a few hundred distinct call sites: a direct-mapped cache answers nearly all without hashing (with 512
  // slots indexed by the address's low bits, one lookup in ten missed).
  constexpr unsigned kSlotBits = 12;
  thread_local std::array<ModelCodeSlot, std::size_t{1} << kSlotBits> recent{};
  ModelCodeSlot& slot = recent[(return_address * 0x9E3779B97F4A7C15ULL) >> (64 - kSlotBits)];
  if (slot.pc == return_address && return_address != 0) return slot.model;
  return classify_code(return_address, slot);
}

}  // namespace devsim::sim

// libbacktrace lists the loaded objects with dl_iterate_phdr when it first symbolises, and reads the debug
// information of each, including a system library's separate debug file when one is installed: libc6-dbg, which
// valgrind brings, made that read 0.14 s of every devsim process's start, most of it inflating libc's compressed
// debug sections (docs/performance.md). The link redirects the program's static references to dl_iterate_phdr
// here (LINKER:--wrap=dl_iterate_phdr, sim/CMakeLists.txt), which are libbacktrace's and, in clang builds, the
// statically linked sanitizer runtime's: those and any call outside the symboliser get the full listing.
extern "C" int __real_dl_iterate_phdr(int (*callback)(dl_phdr_info*, std::size_t, void*), void* data);

extern "C" int __wrap_dl_iterate_phdr(int (*callback)(dl_phdr_info*, std::size_t, void*), void* data) {
  if (!devsim::sim::t_listing_for_symboliser) return __real_dl_iterate_phdr(callback, data);
  struct Listing {
    int (*callback)(dl_phdr_info*, std::size_t, void*);
    void* data;
  } listing{callback, data};
  return __real_dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t size, void* p) {
        const auto& l = *static_cast<const Listing*>(p);
        return devsim::sim::is_system_library(info->dlpi_name) ? 0 : l.callback(info, size, l.data);
      },
      &listing);
}
