// Stacks through the layers: a devm free shows the unbind path that freed the object and the probe that
// registered it, and a scenario's `expect KIND in FUNCTION` holds when FUNCTION is any frame of the access stack
// (as a kernel developer reads a KASAN report: mm/kasan/report.c print_report prints the whole access stack).
#define BOOST_TEST_MODULE scenarios_stacks
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "bus/devm.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "scenarios/runner.hpp"
#include "sim/explorer.hpp"
#include "sim/report.hpp"
#include "sim/stacktrace.hpp"

using namespace devsim;

namespace {

struct Priv {
  int value = 0;
};

volatile int g_sink = 0;
sim::KPtr<Priv> g_kept;  // what the buggy driver keeps after unbind (reset by each model)

// noinline and a use after each call: every function keeps its own frame.
[[gnu::noinline]] int stackdrv_setup_priv(bus::CoreContext& ctx) {
  g_kept = bus::devm_kzalloc<Priv>(ctx);
  g_sink = 1;
  return g_kept ? 0 : -bus::kENOMEM;
}
[[gnu::noinline]] int stackdrv_probe(bus::CoreContext& ctx) {
  int r = stackdrv_setup_priv(ctx);
  g_sink = 2;
  return r;
}
[[gnu::noinline]] int stackdrv_peek() {
  int v = g_kept.load(&Priv::value);
  g_sink = v;
  return v;
}
[[gnu::noinline]] int stackdrv_status() {
  int v = stackdrv_peek();
  g_sink = v + 1;
  return v;
}

std::vector<std::string> functions(const sim::StackTrace& stack) {
  std::vector<std::string> out;
  for (const sim::StackFrame& f : sim::symbolize(stack))
    out.push_back(f.function);
  return out;
}

bool has(const std::vector<std::string>& frames, const std::string& name) {
  for (const std::string& f : frames)
    if (f == name) return true;
  return false;
}

std::string joined(const std::vector<std::string>& frames) {
  std::string out;
  for (const std::string& f : frames)
    out += f + " ";
  return out;
}

// Bind, unbind, then read the devm memory the driver kept: a use-after-free.
sim::Report devm_use_after_unbind() {
  g_kept = nullptr;
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      bus::platform_driver_register(bus::DriverOps{"stackdrv", "platform", {}, stackdrv_probe, {}});
      bus::Device* dev = bus::platform_device_register("stackdrv");
      bus::platform_device_unregister(dev);
      g_sink = stackdrv_status();
    });
  });
  BOOST_TEST_REQUIRE(!e.reports.empty());
  BOOST_TEST_REQUIRE(e.reports[0].kind == std::string(sim::bug::kUseAfterFree));
  return e.reports[0];
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_devm_free_shows_the_unbind_path_and_the_registering_probe) {
  const sim::Report r = devm_use_after_unbind();
  const std::string text = sim::render_text(r);
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST_REQUIRE(r.freed_by.has_value());
  // Freed by: devres_release_all, reached from the unregistration in the task (drivers/base/dd.c
  // device_release_driver -> devres_release_all).
  const std::vector<std::string> freed = functions(r.freed_by->stack);
  BOOST_TEST(has(freed, "release_range"), joined(freed));
  BOOST_TEST(has(freed, "devres_release_all"), joined(freed));
  BOOST_TEST(has(freed, "release_driver"), joined(freed));
  // Outermost: the task's body, the lambda that unregistered the device (inlined lambdas print as <lambda>).
  const std::vector<sim::StackFrame> freed_frames = sim::symbolize(r.freed_by->stack);
  BOOST_TEST_REQUIRE(!freed_frames.empty());
  BOOST_TEST(freed_frames.back().location.starts_with("tests/scenarios/test_stacks.cpp:"));
  // Allocated by: the probe.
  const std::vector<std::string> alloc = functions(r.allocated_by->stack);
  BOOST_TEST(has(alloc, "stackdrv_setup_priv"), joined(alloc));
  BOOST_TEST(has(alloc, "stackdrv_probe"), joined(alloc));
  // Registered by: the devres entry's registration, in probe.
  BOOST_TEST_REQUIRE(r.related.size() == 1u);
  BOOST_TEST(r.related[0].title == "Registered by (devm_kzalloc(Priv))");
  const std::vector<std::string> registered = functions(r.related[0].at.stack);
  BOOST_TEST(has(registered, "stackdrv_probe"), joined(registered));
  BOOST_TEST(text.find("Registered by (devm_kzalloc(Priv)) by task t/0") != std::string::npos, text);
  BOOST_TEST(text.find("Freed by task t/0") < text.find("Registered by"), text);
}

BOOST_AUTO_TEST_CASE(expect_in_function_matches_any_frame_of_the_access_stack) {
  const sim::Report r = devm_use_after_unbind();
  const std::vector<std::string> access = functions(r.accessed_by->stack);
  BOOST_TEST_REQUIRE(!access.empty());
  BOOST_TEST(access[0] == "stackdrv_peek", joined(access));
  scenarios::Expectation e;
  e.kind = "use-after-free";
  e.function = "stackdrv_peek";  // the access site, as before
  BOOST_TEST(scenarios::report_matches(r, e));
  e.function = "stackdrv_status";  // its caller: a frame of the stack
  BOOST_TEST(scenarios::report_matches(r, e));
  e.function = "stackdrv_probe";  // on the allocation stack only: not the access
  BOOST_TEST(!scenarios::report_matches(r, e));
  e.function = "no_such_function";
  BOOST_TEST(!scenarios::report_matches(r, e));
  e.kind = "double-free";
  e.function = "stackdrv_status";
  BOOST_TEST(!scenarios::report_matches(r, e));
}
