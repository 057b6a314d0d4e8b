// kmemdup (mm/util.c) and krealloc (mm/slab_common.c) in linux/slab.h (tests/c/slab_cases.c): the bytes are kept,
// a new size of 0 frees, NULL allocates; and the pointer krealloc was given is freed memory afterwards.
#define BOOST_TEST_MODULE c_slab
#include <boost/test/unit_test.hpp>

#include <string>

#include "sim/explorer.hpp"
#include "sim/report.hpp"
#include "sim/world.hpp"
#include "tests/sim/test_models.hpp"

extern "C" {
int slab_case_copies(void);
char slab_case_stale_after_krealloc(void);
}

namespace sim = devsim::sim;

BOOST_AUTO_TEST_CASE(kmemdup_and_krealloc_keep_the_bytes) {
  int ok = 0;
  sim::Execution e =
      sim::run_once([&](sim::World &w) { w.spawn("driver", [&] { ok = slab_case_copies(); }); }, sim::WorldOptions{});
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(ok == 5);
}

BOOST_AUTO_TEST_CASE(the_pointer_given_to_krealloc_is_freed_memory_afterwards) {
  sim::Execution e = sim::run_once(
      [](sim::World &w) { w.spawn("driver", [] { (void)slab_case_stale_after_krealloc(); }); }, sim::WorldOptions{});
  BOOST_TEST_REQUIRE(!e.reports.empty());
  BOOST_TEST(e.reports[0].kind == sim::bug::kUseAfterFree);
  BOOST_TEST(e.reports[0].headline.find("slab_case_stale_after_krealloc") != std::string::npos);
}
