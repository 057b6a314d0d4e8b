// Call stacks in reports (stacktrace.hpp, report.hpp): the access, "Allocated by" and "Freed by" sections and
// a deadlock's blocked tasks show the task's call stack, innermost first, symbolised with function and
// file:line, as the kernel's KASAN reports do (mm/kasan/report.c print_report, which prints the access stack
// and the allocation and free stacks saved by mm/kasan/common.c kasan_save_stack). The walk is bounded by the
// running fiber's stack, so it never crashes.
#define BOOST_TEST_MODULE sim_stacks
#include <boost/test/unit_test.hpp>

#include <dlfcn.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sim/explorer.hpp"
#include "sim/kmalloc.hpp"
#include "sim/report.hpp"
#include "sim/stacktrace.hpp"
#include "sim/world.hpp"

namespace sim = devsim::sim;

namespace {

struct Obj {
  int value = 0;
};

volatile int g_sink = 0;

// A miniature driver. noinline and a use of each result after the call: every function keeps its own frame
// (no inlining, no tail call), so the test knows exactly which frames the stack must show.
[[gnu::noinline]] int stacks_read_value(sim::KPtr<Obj> p) {
  int v = p.load(&Obj::value);
  g_sink = v;
  return v;
}
[[gnu::noinline]] int stacks_ioctl(sim::KPtr<Obj> p) {
  int v = stacks_read_value(p);
  g_sink = v + 1;
  return v;
}
[[gnu::noinline]] sim::KPtr<Obj> stacks_alloc_priv() {
  sim::KPtr<Obj> p = sim::kzalloc<Obj>();
  g_sink = 1;
  return p;
}
[[gnu::noinline]] sim::KPtr<Obj> stacks_probe() {
  sim::KPtr<Obj> p = stacks_alloc_priv();
  g_sink = 2;
  return p;
}
[[gnu::noinline]] void stacks_release_priv(sim::KPtr<Obj> p) {
  sim::kfree(p);
  g_sink = 3;
}
[[gnu::noinline]] void stacks_remove(sim::KPtr<Obj> p) {
  stacks_release_priv(p);
  g_sink = 4;
}
// Inlined into its caller: the stack still shows it (libbacktrace expands inlined calls from the debug info).
[[gnu::always_inline]] inline int stacks_inlined_helper(sim::KPtr<Obj> p) {
  return p.load(&Obj::value);
}
[[gnu::noinline]] int stacks_outer(sim::KPtr<Obj> p) {
  int v = stacks_inlined_helper(p);
  g_sink = v;
  return v;
}

std::vector<std::string> functions(const sim::StackTrace& stack) {
  std::vector<std::string> out;
  for (const sim::StackFrame& f : sim::symbolize(stack))
    out.push_back(f.function);
  return out;
}

// The position of `name` in `frames`, or -1.
long position(const std::vector<std::string>& frames, const std::string& name) {
  for (std::size_t i = 0; i < frames.size(); ++i)
    if (frames[i] == name) return static_cast<long>(i);
  return -1;
}

std::string joined(const std::vector<std::string>& frames) {
  std::string out;
  for (const std::string& f : frames)
    out += f + " ";
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A use-after-free: the object allocated in probe, freed in remove, read in ioctl, all in one task.
sim::Report use_after_free_report(int (*reader)(sim::KPtr<Obj>)) {
  sim::Execution e = sim::run_once([reader](sim::World& w) {
    w.spawn("app", [reader] {
      sim::KPtr<Obj> p = stacks_probe();
      stacks_remove(p);
      g_sink = reader(p);
    });
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST_REQUIRE(e.reports[0].kind == std::string(sim::bug::kUseAfterFree));
  return e.reports[0];
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_access_stack_names_the_driver_function_and_its_caller_in_order) {
  const sim::Report r = use_after_free_report(stacks_ioctl);
  BOOST_TEST_REQUIRE(r.accessed_by.has_value());
  const std::vector<std::string> frames = functions(r.accessed_by->stack);
  BOOST_TEST_MESSAGE(sim::render_text(r));
  const long inner = position(frames, "stacks_read_value");
  const long outer = position(frames, "stacks_ioctl");
  BOOST_TEST(inner == 0, joined(frames));  // innermost first: the engine's own frames are dropped
  BOOST_TEST(outer == inner + 1, joined(frames));
  // No frame of the engine (sim/) is printed.
  for (const sim::StackFrame& f : sim::symbolize(r.accessed_by->stack))
    BOOST_TEST(!f.location.starts_with("sim/"), f.location);
  const std::string text = sim::render_text(r);
  const auto read_at = text.find(" stacks_read_value (tests/sim/test_stacks.cpp:");
  const auto ioctl_at = text.find(" stacks_ioctl (tests/sim/test_stacks.cpp:");
  BOOST_TEST(read_at != std::string::npos, text);
  BOOST_TEST(ioctl_at != std::string::npos, text);
  BOOST_TEST(read_at < ioctl_at);
  // The access site is the first frame, not printed twice.
  BOOST_TEST(text.find(" stacks_read_value (") == text.rfind(" stacks_read_value ("), text);
}

BOOST_AUTO_TEST_CASE(allocated_by_and_freed_by_show_the_allocating_and_freeing_functions) {
  const sim::Report r = use_after_free_report(stacks_ioctl);
  BOOST_TEST_REQUIRE(r.allocated_by.has_value());
  BOOST_TEST_REQUIRE(r.freed_by.has_value());
  const std::vector<std::string> alloc = functions(r.allocated_by->stack);
  const std::vector<std::string> freed = functions(r.freed_by->stack);
  BOOST_TEST(position(alloc, "stacks_alloc_priv") == 0, joined(alloc));
  BOOST_TEST(position(alloc, "stacks_probe") == 1, joined(alloc));
  BOOST_TEST(position(freed, "stacks_release_priv") == 0, joined(freed));
  BOOST_TEST(position(freed, "stacks_remove") == 1, joined(freed));
  const std::string text = sim::render_text(r);
  const auto alloc_at = text.find("Allocated by task app/0");
  const auto freed_at = text.find("Freed by task app/0");
  BOOST_TEST_REQUIRE(alloc_at != std::string::npos);
  BOOST_TEST_REQUIRE(freed_at != std::string::npos);
  BOOST_TEST(text.find(" stacks_probe (tests/sim/test_stacks.cpp:", alloc_at) < freed_at, text);
  BOOST_TEST(text.find(" stacks_remove (tests/sim/test_stacks.cpp:", freed_at) != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(an_inlined_function_keeps_its_frame) {
  const sim::Report r = use_after_free_report(stacks_outer);
  const std::vector<std::string> frames = functions(r.accessed_by->stack);
  BOOST_TEST(position(frames, "stacks_inlined_helper") == 0, joined(frames));
  BOOST_TEST(position(frames, "stacks_outer") == 1, joined(frames));
  const std::vector<sim::StackFrame> symbolised = sim::symbolize(r.accessed_by->stack);
  BOOST_TEST_REQUIRE(!symbolised.empty());
  BOOST_TEST(symbolised[0].inlined);
}

// Reports drop frames in the system's libraries. Their debug information is not even read: with libc6-dbg
// installed (valgrind brings it), libc's frames came out named after glibc's sources ("./posix/...") and reading it
// cost a tenth of a second at every start. A return address inside libc gets no frame on every machine.
BOOST_AUTO_TEST_CASE(code_in_the_system_libraries_gets_no_frame_whatever_debug_files_are_installed) {
  const auto in_libc = reinterpret_cast<std::uintptr_t>(&::getpid) + 4;
  Dl_info where{};
  BOOST_TEST_REQUIRE(dladdr(reinterpret_cast<const void*>(in_libc), &where) != 0);
  const std::string_view library = where.dli_fname != nullptr ? where.dli_fname : "";
  BOOST_TEST_REQUIRE((library.starts_with("/lib/") || library.starts_with("/usr/lib/")), library);
  const sim::StackFrame f = sim::innermost_frame(in_libc);
  BOOST_TEST(f.function == "?", f.function << " at " << f.location);
  BOOST_TEST(f.location == "?", f.location);
}

BOOST_AUTO_TEST_CASE(json_reports_carry_the_frames) {
  const sim::Report r = use_after_free_report(stacks_ioctl);
  const nlohmann::json j = nlohmann::json::parse(sim::render_json(r));
  const nlohmann::json& stack = j.at("accessed_by").at("stack");
  BOOST_TEST_REQUIRE(stack.size() >= 2u);
  BOOST_TEST(stack[0].at("function") == "stacks_read_value");
  BOOST_TEST(stack[0].at("location").get<std::string>().starts_with("tests/sim/test_stacks.cpp:"));
  BOOST_TEST(stack[1].at("function") == "stacks_ioctl");
  BOOST_TEST(j.at("allocated_by").at("stack")[0].at("function") == "stacks_alloc_priv");
  BOOST_TEST(j.at("freed_by").at("stack")[0].at("function") == "stacks_release_priv");
  BOOST_TEST(j.at("related").is_array());
}

namespace {
// Recursion deeper than any stack a report keeps (twice as deep: small frames, so the task's stack holds them
// even with a sanitizer's redzones).
sim::StackTrace g_deep;
[[gnu::noinline]] void stacks_recurse(int depth) {
  if (depth == 0) {
    g_deep = sim::capture_current_stack();
    return;
  }
  stacks_recurse(depth - 1);
  g_sink = depth;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_deep_recursion_fills_the_array_and_stops) {
  sim::Execution e =
      sim::run_once([](sim::World& w) { w.spawn("deep", [] { stacks_recurse(2 * sim::StackTrace::kMaxFrames); }); });
  BOOST_TEST(e.reports.empty());
  const sim::StackTrace st = g_deep;
  BOOST_TEST(st.depth == sim::StackTrace::kMaxFrames);
  const std::vector<std::string> frames = functions(st);
  BOOST_TEST_REQUIRE(!frames.empty());
  for (const std::string& f : frames)
    BOOST_TEST(f == "stacks_recurse");
}

BOOST_AUTO_TEST_CASE(a_walk_never_leaves_the_fiber_stack) {
  // At the top of a task's fiber: the walk ends at the fiber's first frame, inside the bounds.
  sim::StackTrace at_top;
  const char* bottom = nullptr;
  const char* top = nullptr;
  sim::Execution e = sim::run_once([&](sim::World& w) {
    w.spawn("top", [&](sim::World& world) {
      at_top = sim::capture_current_stack();
      bottom = world.current_stack()->bottom();
      top = world.current_stack()->top();
    });
  });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(at_top.depth > 0u);
  BOOST_TEST(at_top.depth < sim::StackTrace::kMaxFrames);
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(bottom) < reinterpret_cast<std::uintptr_t>(top));
  // Bounds that hold none of the caller's frames: nothing is read, nothing captured.
  static char elsewhere[8192];
  BOOST_TEST(sim::capture_stack(elsewhere, elsewhere + sizeof elsewhere).depth == 0u);
  BOOST_TEST(sim::capture_stack(nullptr, nullptr).depth == 0u);
  // A window one frame wide: at most that frame.
  const char* fp = static_cast<const char*>(__builtin_frame_address(0));
  BOOST_TEST(sim::capture_stack(fp - 4096, fp).depth <= 1u);
}

namespace {
int g_channel = 0;
[[gnu::noinline]] void stacks_wait_forever(sim::World& w) {
  w.block(&g_channel, "a wake-up that never comes");
  g_sink = 5;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_deadlock_report_shows_where_each_task_blocked) {
  sim::Execution e = sim::run_once([](sim::World& w) { w.spawn("sleeper", stacks_wait_forever); });
  BOOST_TEST((e.outcome == sim::Outcome::Deadlock));
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  const sim::Report& r = e.reports[0];
  BOOST_TEST_REQUIRE(r.related.size() == 1u);
  BOOST_TEST(r.related[0].at.task == "sleeper/0");
  BOOST_TEST(position(functions(r.related[0].at.stack), "stacks_wait_forever") == 0);
  const std::string text = sim::render_text(r);
  BOOST_TEST(contains(text, "Blocked (waits for a wake-up that never comes) by task sleeper/0"), text);
  BOOST_TEST(contains(text, " stacks_wait_forever (tests/sim/test_stacks.cpp:"), text);
}
