// R16: a firmware request completing after remove(). The buggy driver's completion writes the devm data freed
// at unbind (use-after-free in r16_fw_done); the fixed driver's request holds a reference on its refcounted
// data, so the late completion is clean in every schedule and frees the data last.
#define BOOST_TEST_MODULE drivers_r16
#include <boost/test/unit_test.hpp>

#include "tests/drivers/race_support_b.hpp"

using namespace devsim;
using namespace devsim::drivers::test;

namespace {

const std::vector<std::pair<std::string, std::string>> kFirmware{{"r16-fw.bin",
                                                                  "\x7f"
                                                                  "FWv1"}};

sim::Model unplug_during_load(const std::string& driver) {
  return scenario(driver, {{"hub", unplug_task}}, kFirmware);
}

sim::Model unplug_after_load(const std::string& driver) {
  return scenario(driver,
                  {{"hub",
                    [] {
                      sim::world().sleep_for(2'000'000);  // the load takes 1 ms
                      unplug_task();
                    }}},
                  kFirmware);
}

}  // namespace

BOOST_AUTO_TEST_CASE(both_variants_are_registered) {
  const drivers::DriverInfo* buggy = drivers::find_driver("r16_firmware_async_buggy");
  const drivers::DriverInfo* fixed = drivers::find_driver("r16_firmware_async_fixed");
  BOOST_TEST_REQUIRE(buggy != nullptr);
  BOOST_TEST_REQUIRE(fixed != nullptr);
  BOOST_TEST(buggy->race == "R16");
  BOOST_TEST(buggy->buggy);
  BOOST_TEST(buggy->bug_kind == "use-after-free");
  BOOST_TEST(!fixed->buggy);
  BOOST_TEST_REQUIRE(fixed->firmware.size() == 1u);
  BOOST_TEST(fixed->firmware[0] == "r16-fw.bin");
  BOOST_TEST(buggy->firmware == fixed->firmware);
}

BOOST_AUTO_TEST_CASE(buggy_completion_after_remove_writes_freed_data) {
  sim::ExploreResult r = sim::explore(unplug_during_load("r16_firmware_async_buggy"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  const sim::Report* uaf = find_failure(r, "use-after-free", "use-after-free in r16_fw_done");
  BOOST_TEST_REQUIRE(uaf != nullptr, all_headlines(r));
  BOOST_TEST(uaf->accessed_by->task.starts_with("firmware/"));
  BOOST_TEST(uaf->freed_by->task.starts_with("hub/"));  // devres, at the unbind the unplug ran
  // The load takes virtual time, so the unplug always comes first: every schedule has the bug.
  BOOST_TEST(r.failing_executions == r.executions);
}

BOOST_AUTO_TEST_CASE(buggy_is_fine_when_the_load_finishes_first) {
  sim::ExploreResult r = sim::explore(unplug_after_load("r16_firmware_async_buggy"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
}

BOOST_AUTO_TEST_CASE(fixed_request_reference_is_clean_in_every_schedule) {
  for (auto model : {unplug_during_load, unplug_after_load}) {
    sim::ExploreResult r = sim::explore(model("r16_firmware_async_fixed"), exhaustive(2));
    BOOST_TEST(r.exhausted);
    BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
    BOOST_TEST(r.failing_executions == 0u, first_failure(r));  // no use-after-free, no leak
  }
}

BOOST_AUTO_TEST_CASE(fixed_missing_firmware_is_handled) {
  sim::ExploreResult r = sim::explore(scenario("r16_firmware_async_fixed", {{"hub", unplug_task}}), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
}
