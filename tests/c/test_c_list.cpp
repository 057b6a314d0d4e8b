// linux/list.h: the kernel's lists as inline C in the driver (tests/c/list_cases.c), with CONFIG_DEBUG_LIST's
// checks (lib/list_debug.c __list_add_valid_or_report, __list_del_entry_valid_or_report) and x86-64's poison
// (include/linux/poison.h LIST_POISON1/2 with CONFIG_ILLEGAL_POINTER_VALUE), run in simulated tasks.
#define BOOST_TEST_MODULE c_list
#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>

#include "sim/explorer.hpp"
#include "sim/report.hpp"
#include "sim/world.hpp"
#include "tests/c/case_run.hpp"
#include "tests/sim/test_models.hpp"

extern "C" {
long list_case_operations(void);
void list_case_double_del(void);
void list_case_double_add(void);
int list_case_walk_from_deleted(void);
int list_case_free_while_linked(void);
}

namespace sim = devsim::sim;
namespace test = devsim::test;
using test::any_report;
using test::run_in_task;

namespace {}  // namespace

BOOST_AUTO_TEST_CASE(the_operations_keep_the_kernels_order) {
  long digits = 0;
  sim::Execution e = run_in_task([&] { digits = list_case_operations(); });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  // 3 moved first, then 0, 2 (1 deleted), then 7 8 spliced at the tail; 5 nodes.
  BOOST_TEST(digits == 302785);
}

BOOST_AUTO_TEST_CASE(a_second_list_del_finds_the_poison) {
  sim::Execution e = run_in_task([] { list_case_double_del(); });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "list-corruption");
  BOOST_TEST(e.reports[0].headline == "list_del corruption, entry->next is LIST_POISON1");
  BOOST_TEST_REQUIRE(e.reports[0].accessed_by.has_value());
  BOOST_TEST(sim::site_function(*e.reports[0].accessed_by) == "list_case_double_del");
}

BOOST_AUTO_TEST_CASE(adding_an_entry_next_to_itself_is_a_double_add) {
  sim::Execution e = run_in_task([] { list_case_double_add(); });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "list-corruption");
  BOOST_TEST(e.reports[0].headline == "list_add double add");
}

// The poison is non-canonical on x86-64: following it is a general-protection fault, the task's oops.
BOOST_AUTO_TEST_CASE(walking_on_from_a_deleted_entry_is_a_general_protection_fault) {
  sim::Execution e = run_in_task([] { (void)list_case_walk_from_deleted(); });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "general-protection-fault");
  BOOST_TEST(e.reports[0].headline == "general-protection-fault in list_case_walk_from_deleted");
}

// The links are the driver's own accesses: an entry freed while linked is a use-after-free at the walk.
BOOST_AUTO_TEST_CASE(an_entry_freed_while_linked_is_a_use_after_free_at_the_walk) {
  sim::Execution e = run_in_task([] { (void)list_case_free_while_linked(); });
  BOOST_TEST_REQUIRE(!e.reports.empty());
  BOOST_TEST(e.reports[0].kind == sim::bug::kUseAfterFree);
  BOOST_TEST(e.reports[0].headline.find("list_case_free_while_linked") != std::string::npos);
}
