// A C driver on real threads (devsim stress's runtime, cabi/ with no simulated world): the module loader, its globals
// restored at every load, and the C ABI's misc device, wait queue and user copies, with drivers/c/mailbox.c built as
// a test module that the build's sanitizer instruments. Under ASan the module's globals carry redzones (poisoned):
// the loader copies the writable segment whole, at the first load and before every load, and must not be reported
// for it (a global-buffer-overflow in devsim's own loader was the false report this test was written for). The
// kernel's load_module copies a module's sections in anew at every load (kernel/module/main.c layout_and_allocate),
// so a module's globals start from the file's values each time: ioctl 1 counts opens since the load.
// Runs on real threads (ctest label "native"): under ASan and TSan in .ci/run.
#define BOOST_TEST_MODULE c_stress_module
#include <boost/test/unit_test.hpp>

#include <string>

#include "drivers/registry.hpp"
#include "scenarios/parser.hpp"
#include "scenarios/stress.hpp"
#include "sim/native_report.hpp"

using namespace devsim;

namespace {

constexpr const char *kModule = "ctest_mailbox_sanitized";

scenarios::StressResult stress(const std::string &text, std::uint64_t iterations) {
  const scenarios::Scenario s = scenarios::parse_scenario(text, "mailbox.scn");
  BOOST_REQUIRE(scenarios::native_obstacle(s).empty());
  scenarios::StressOptions o;
  o.iterations = iterations;
  o.sleep_scale = 0;
  o.check_results = true;  // every result below holds in any interleaving
  return scenarios::stress_scenario(s, o);
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_module_is_registered_for_the_test) {
  const drivers::DriverInfo *info = drivers::find_driver(kModule);
  BOOST_REQUIRE(info != nullptr);
  BOOST_TEST(info->is_module());
}

BOOST_AUTO_TEST_CASE(every_load_starts_from_the_files_globals) {
  const std::uint64_t before = sim::native::reports();
  const scenarios::StressResult r = stress(std::string("driver ") + kModule +
                                               "\n"
                                               "task app {\n"
                                               "  fd = open /dev/mailbox\n"
                                               "  ioctl fd 1 => 1\n"
                                               "  close fd => 0\n"
                                               "  unload " +
                                               kModule +
                                               " => 0\n"
                                               "  load " +
                                               kModule +
                                               " => 0\n"
                                               "  fd2 = open /dev/mailbox\n"
                                               "  ioctl fd2 1 => 1\n"
                                               "  close fd2 => 0\n"
                                               "}\n",
                                           50);
  BOOST_TEST(r.passed());
  BOOST_TEST(r.iterations == 50u);
  BOOST_TEST(sim::native::reports() == before);
}

BOOST_AUTO_TEST_CASE(a_reader_sleeps_in_the_c_wait_queue_until_the_writer_comes) {
  const scenarios::StressResult r = stress(std::string("driver ") + kModule +
                                               "\n"
                                               "task reader {\n"
                                               "  fd = open /dev/mailbox\n"
                                               "  read fd 16 => 5\n"
                                               "  close fd => 0\n"
                                               "}\n"
                                               "task writer {\n"
                                               "  fd = open /dev/mailbox\n"
                                               "  write fd 5 => 5\n"
                                               "  close fd => 0\n"
                                               "}\n",
                                           200);
  BOOST_TEST(r.passed());
  BOOST_TEST(r.iterations == 200u);
  BOOST_TEST(r.sleepers_killed == 0u);  // the write ended every sleep, not the deadline
}
