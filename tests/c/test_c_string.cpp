// linux/string.h and sprintf/snprintf/scnprintf in linux/kernel.h (tests/c/string_cases.c): lib/string.c's and
// lib/vsprintf.c's answers (snprintf returns what it would have written, scnprintf what it wrote, strscpy -E2BIG
// when it truncates), and their reads and writes checked as the driver's: past the end of an allocation is
// out-of-bounds, into freed memory a use-after-free.
#define BOOST_TEST_MODULE c_string
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "sim/report.hpp"
#include "tests/c/case_run.hpp"
#include "tests/sim/test_models.hpp"

extern "C" {
int string_case_answers(long *out);
void string_case_sprintf_overflow(void);
void string_case_strcat_overflow(void);
unsigned long string_case_strlen_after_free(void);
}

namespace sim = devsim::sim;
using devsim::test::run_in_task;

BOOST_AUTO_TEST_CASE(the_answers_are_the_kernels) {
  long out[16] = {};
  int n = 0;
  sim::Execution e = run_in_task([&] { n = string_case_answers(out); });
  BOOST_TEST(e.reports.empty());
  const std::vector<long> got(out, out + n);
  // lib/string.c: strcpy, strcat, sysfs_match_string (sysfs_streq: one trailing newline), match_string (exact).
  const std::vector<long> want = {9, 7, 7, -7, 0, 0, 4, 2, 0, 0, 2, -22, 1, -22, 1};
  BOOST_TEST(got == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(strcat_past_the_buffer_is_out_of_bounds) {
  sim::Execution e = run_in_task([] { string_case_strcat_overflow(); });
  BOOST_REQUIRE(!e.reports.empty());
  BOOST_TEST(e.reports[0].kind == sim::bug::kOutOfBounds);
}

BOOST_AUTO_TEST_CASE(sprintf_past_the_buffer_is_out_of_bounds) {
  sim::Execution e = run_in_task([] { string_case_sprintf_overflow(); });
  BOOST_TEST_REQUIRE(!e.reports.empty());
  BOOST_TEST(e.reports[0].kind == sim::bug::kOutOfBounds);
  BOOST_TEST(e.reports[0].headline.find("string_case_sprintf_overflow") != std::string::npos, e.reports[0].headline);
}

BOOST_AUTO_TEST_CASE(strlen_of_freed_memory_is_a_use_after_free) {
  sim::Execution e = run_in_task([] { (void)string_case_strlen_after_free(); });
  BOOST_TEST_REQUIRE(!e.reports.empty());
  BOOST_TEST(e.reports[0].kind == sim::bug::kUseAfterFree);
  BOOST_TEST(e.reports[0].headline.find("string_case_strlen_after_free") != std::string::npos, e.reports[0].headline);
}
