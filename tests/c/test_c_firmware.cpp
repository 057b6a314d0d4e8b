// linux/firmware.h for C drivers (drivers/base/firmware_loader/main.c): request_firmware hands over a struct firmware
// whose data release_firmware frees; request_firmware_nowait calls its continuation from a task of its own, the
// blob (or NULL for a missing file) given to it. tests/c/firmware_cases.c is the kernel C.
#define BOOST_TEST_MODULE c_firmware
#include <boost/test/unit_test.hpp>

#include <string>

#include "bus/errno.hpp"
#include "bus/kernel.hpp"
#include "sim/report.hpp"
#include "tests/c/case_run.hpp"

extern "C" {
long firmware_case_size(const char *name, int *first);
int firmware_case_read_after_release(const char *name);
int firmware_case_nowait(const char *name, int buggy);
}

namespace bus = devsim::bus;
namespace sim = devsim::sim;
namespace test = devsim::test;

namespace {
void provide(const std::string &name, const std::string &contents) {
  bus::kernel().firmware_files()[name] = contents;
}

sim::ExploreResult nowait_against_its_requester(bool buggy) {
  const sim::Model model = [buggy](sim::World &w) {
    w.spawn("driver", [buggy] {
      provide("blob.bin", "abc");
      if (firmware_case_nowait("blob.bin", buggy ? 1 : 0) != 0) throw std::runtime_error("request failed");
    });
  };
  return test::explore_every_schedule(model);
}
}  // namespace

BOOST_AUTO_TEST_CASE(request_firmware_hands_over_the_file_or_enoent) {
  long size = 0, missing = 0;
  int first = 0, unused = 0;
  const sim::Execution e = test::run_in_task([&] {
    provide("blob.bin", std::string("\x7f"
                                    "ELF",
                                    4));
    size = firmware_case_size("blob.bin", &first);
    missing = firmware_case_size("none.bin", &unused);
  });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(size == 4);
  BOOST_TEST(first == 0x7f);
  BOOST_TEST(missing == -bus::kENOENT);
}

BOOST_AUTO_TEST_CASE(the_data_after_release_firmware_is_freed) {
  const sim::Execution e = test::run_in_task([] {
    provide("blob.bin", "abc");
    firmware_case_read_after_release("blob.bin");
  });
  BOOST_REQUIRE(!e.reports.empty());
  BOOST_TEST(e.reports[0].kind == sim::bug::kUseAfterFree);
}

// The continuation runs after the requester went on: freeing its context at once is a use-after-free in some
// schedule (R16's pattern, in C), never when the continuation owns it.
BOOST_AUTO_TEST_CASE(a_nowait_context_freed_by_the_requester_is_a_use_after_free_in_some_schedule) {
  const sim::ExploreResult fixed = nowait_against_its_requester(false);
  BOOST_TEST(fixed.exhausted);
  BOOST_TEST(fixed.executions >= 1u);
  BOOST_TEST(fixed.failing_executions == 0u);

  const sim::ExploreResult buggy = nowait_against_its_requester(true);
  BOOST_TEST(buggy.exhausted);
  BOOST_TEST(test::any_report(buggy, sim::bug::kUseAfterFree));
}
