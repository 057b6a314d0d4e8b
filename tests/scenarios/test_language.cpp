// The scenario language: what parses, what does not (file:line:col and a suggestion), how the runner judges a
// scenario, and reproducers that replay to the same bug.
#define BOOST_TEST_MODULE scenarios_language
#include <boost/test/unit_test.hpp>

#include "bus/cdev.hpp"
#include "bus/devm.hpp"
#include "drivers/registry.hpp"
#include "scenarios/parser.hpp"
#include "scenarios/runner.hpp"

using namespace devsim;
using namespace devsim::scenarios;

namespace {

// Two tiny drivers for these tests: data behind /dev/scn0, devm-allocated (buggy) or refcounted (fixed).
struct Data {
  core::Kref kref;
  int value = 7;
};
bool g_fixed_probe = false;

int data_open(bus::Cdev& cdev, bus::File& file) {
  sim::KPtr<Data> d = cdev.owner_ptr<Data>();
  if (g_fixed_probe) d.write().kref.get();
  file.set_private(d);
  return 0;
}
long data_ioctl(bus::File& file, unsigned, unsigned long) {
  return file.private_data<Data>().load(&Data::value);
}
int data_release(bus::Cdev&, bus::File& file) {
  sim::KPtr<Data> d = file.private_data<Data>();
  if (g_fixed_probe) d.write().kref.put([d] { sim::kfree(d); });
  return 0;
}
const bus::FileOperations kFops{data_open, nullptr, nullptr, data_ioctl, nullptr, nullptr, data_release};

drivers::DriverInfo scn_test_info() {
  drivers::DriverInfo i;
  i.name = "scn_test";
  i.bus = "usb";
  i.summary = "test driver: devm data behind an open file (buggy)";
  i.node = "scn0";
  i.ioctls = {{"GET_VALUE", 1, 0}};
  i.ops = [] {
    bus::DriverOps ops;
    ops.probe = [](bus::CoreContext& ctx) {
      sim::KPtr<Data> d = bus::devm_kzalloc<Data>(ctx);
      bus::Cdev* c = bus::cdev_alloc(&kFops);
      c->set_owner(d);
      ctx->set_drvdata(c);
      return bus::cdev_add(*c, "scn0", &ctx.device());
    };
    ops.remove = [](bus::CoreContext& ctx) { bus::cdev_del(*static_cast<bus::Cdev*>(ctx->drvdata())); };
    return ops;
  };
  return i;
}
DEVSIM_REGISTER_DRIVER(scn_test_info)

const char* kBuggy = R"(# devm data behind an open file
driver scn_test
device usb 1-1

task app {
  fd = open /dev/scn0
  ioctl fd GET_VALUE => 7 | -ENODEV
  close fd
}
task hub {
  unplug usb 1-1
}

expect use-after-free in data_ioctl
explore exhaustive preemptions=2
)";

std::string error_of(const std::string& text) {
  try {
    parse_scenario(text, "t.scn");
  } catch (const ParseError& e) {
    return e.what();
  }
  return "(parsed)";
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_scenario_parses_into_its_parts) {
  Scenario s = parse_scenario(kBuggy, "t.scn");
  BOOST_TEST(s.drivers == std::vector<std::string>{"scn_test"}, boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(s.devices.size() == 1u);
  BOOST_TEST(s.devices[0].bus == "usb");
  BOOST_TEST(s.devices[0].modalias == "scn_test");
  BOOST_TEST_REQUIRE(s.tasks.size() == 2u);
  BOOST_TEST_REQUIRE(s.tasks[0].ops.size() == 3u);
  const Op& ioctl = s.tasks[0].ops[1];
  BOOST_TEST(ioctl.number == 1u);  // GET_VALUE resolved through the driver's declaration
  BOOST_TEST(ioctl.allowed == (std::vector<std::int64_t>{7, -19}), boost::test_tools::per_element());
  BOOST_TEST(ioctl.at.line == 7);
  BOOST_TEST(s.expectations.size() == 1u);
  BOOST_TEST(s.expectations[0].function == "data_ioctl");
  BOOST_TEST((s.strategy.kind == sim::StrategyKind::Exhaustive));
  BOOST_TEST(s.strategy.preemption_bound == 2);
  BOOST_TEST(s.executions == 0u);
}

BOOST_AUTO_TEST_CASE(durations_results_and_schedules) {
  Scenario s = parse_scenario(
      "driver scn_test\ntask t {\n  sleep 3ms\n  sleep 10us\n  yield => 0\n}\nschedule \"t1 t0 v3\"\nfail-nth 2\n",
      "t.scn");
  BOOST_TEST(s.tasks[0].ops[0].number == 3'000'000u);
  BOOST_TEST(s.tasks[0].ops[1].number == 10'000u);
  BOOST_TEST_REQUIRE(s.schedule.has_value());
  BOOST_TEST(sim::to_string(*s.schedule) == "t1 t0 v3");
  BOOST_TEST(s.fail_nth == 2u);
}

BOOST_AUTO_TEST_CASE(malformed_input_is_located_and_explained) {
  BOOST_TEST(error_of("drivr scn_test\n") == "t.scn:1:1: unknown statement 'drivr'; did you mean 'driver'?");
  BOOST_TEST(error_of("driver scn_tst\n") == "t.scn:1:8: unknown driver 'scn_tst'; did you mean 'scn_test'?");
  BOOST_TEST(error_of("driver scn_test\ntask a {\n  opne /dev/x\n}\n") ==
             "t.scn:3:3: unknown operation 'opne'; did you mean 'open'?");
  BOOST_TEST(error_of("driver scn_test\ntask a {\n  fd = open /dev/scn0\n  close df\n}\n") ==
             "t.scn:4:9: unknown variable 'df'; did you mean 'fd'?");
  BOOST_TEST(error_of("driver scn_test\ntask a {\n  fd = open /dev/scn0\n  ioctl fd GET_VALEU\n}\n") ==
             "t.scn:4:12: unknown ioctl 'GET_VALEU' for the declared drivers; did you mean 'GET_VALUE'?");
  BOOST_TEST(error_of("driver scn_test\ntask a {\n  yield => -ENODV\n}\n") ==
             "t.scn:3:12: unknown errno '-ENODV'; did you mean '-ENODEV'?");
  BOOST_TEST(error_of("driver scn_test\ntask a {\n  yield\n") == "t.scn:2:1: task 'a' is not closed: missing '}'");
  BOOST_TEST(error_of("driver scn_test\nopen /dev/scn0\n") ==
             "t.scn:2:1: unknown statement 'open'; operations go inside a task { ... } block");
  BOOST_TEST(error_of("driver scn_test\ntask a {\n}\nschedule \"t1 x2\"\n") ==
             "t.scn:4:14: malformed choice in schedule");
  BOOST_TEST(error_of("driver scn_test\ntask a {\n  sleep 3 ms\n}\n") ==
             "t.scn:3:9: expected a duration like 10ns, 5us, 3ms or 1s, got '3'");
  BOOST_TEST(error_of("driver scn_test\nexplore pct depht=2\n") ==
             "t.scn:2:13: unknown setting 'depht'; did you mean 'depth'?");
  BOOST_TEST(error_of("driver scn_test\ndevice pci 0000:00:01.0\n") ==
             "t.scn:2:8: unknown bus 'pci' (usb or platform)");
  BOOST_TEST(error_of("") == "t.scn:1:1: a scenario needs at least one task or device");
}

BOOST_AUTO_TEST_CASE(the_buggy_driver_fails_and_the_scenario_that_declares_it_passes) {
  g_fixed_probe = false;
  Scenario s = parse_scenario(kBuggy, "t.scn");
  Verdict v = run_scenario(s);
  BOOST_TEST(v.passed, v.summary);
  BOOST_TEST(v.result.exhausted);
  // Without the expectation the same scenario fails: it expects no bug.
  std::string text = kBuggy;
  text.replace(text.find("expect use-after-free in data_ioctl"), 35, "");
  Verdict plain = run_scenario(parse_scenario(text, "t.scn"));
  BOOST_TEST(!plain.passed);
  BOOST_TEST_REQUIRE(plain.unmet.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_reproducer_replays_the_same_bug_and_declares_none) {
  g_fixed_probe = false;
  Scenario s = parse_scenario(kBuggy, "t.scn");
  Verdict v = run_scenario(s);
  BOOST_TEST_REQUIRE(!v.result.failures.empty());
  for (const sim::Failure& f : v.result.failures) {
    std::string repro = reproducer_text(s, f.report);
    Scenario r = parse_scenario(repro, "repro.scn");
    BOOST_TEST(r.expectations.empty());
    BOOST_TEST_REQUIRE(r.schedule.has_value());
    Verdict rv = run_scenario(r);
    BOOST_TEST(rv.replayed);
    BOOST_TEST(!rv.passed);  // the bug reproduces, and the reproducer expects none
    BOOST_TEST_REQUIRE(rv.result.failures.size() == 1u);
    BOOST_TEST(rv.result.failures[0].signature == f.signature);
  }
}

BOOST_AUTO_TEST_CASE(an_unexpected_result_is_a_reported_failure) {
  g_fixed_probe = false;
  Scenario s = parse_scenario(
      "driver scn_test\ndevice usb 1-1\ntask a {\n  fd = open /dev/scn0\n  ioctl fd "
      "GET_VALUE => 8\n  close fd\n}\n",
      "t.scn");
  Verdict v = run_scenario(s);
  BOOST_TEST(!v.passed);
  BOOST_TEST_REQUIRE(v.result.failures.size() == 1u);
  BOOST_TEST(v.result.failures[0].report.kind == "unexpected-result");
  BOOST_TEST(v.result.failures[0].report.headline ==
             "unexpected result: 'ioctl fd GET_VALUE => 8' returned 7 (allowed: 8)");
}

BOOST_AUTO_TEST_CASE(a_descriptor_that_was_never_opened_gives_ebadf) {
  Scenario s = parse_scenario(
      "driver scn_test\ntask a {\n  fd = open /dev/nothing => -ENOENT\n  ioctl fd GET_VALUE => -EBADF\n  close fd => "
      "-EBADF\n}\n",
      "t.scn");
  Verdict v = run_scenario(s);
  BOOST_TEST(v.passed, v.summary + (v.unmet.empty() ? "" : " " + v.unmet[0]));
}
