// R15: the same Arc inserted twice in a list. The buggy driver list_add()s its preallocated status event again
// while it is still queued: list-corruption "list_add double add". The fixed driver queues a ListArc, so the
// second insertion is impossible (try_from_arc fails) and POST_STATUS coalesces: clean in every schedule, the
// event queued at most once.
#define BOOST_TEST_MODULE drivers_r15
#include <boost/test/unit_test.hpp>

#include "bus/errno.hpp"
#include "tests/drivers/race_support_b.hpp"

using namespace devsim;
using namespace devsim::drivers::test;
using bus::test::expect;

namespace {

constexpr unsigned kPostStatus = 0x5801;

struct Outcomes {
  int queued = 0;     // POST_STATUS returned 1
  int coalesced = 0;  // POST_STATUS returned 0: already queued
  int read = 0;       // read() returned the event
};
Outcomes g_outcomes;

void poster() {
  with_open("evq0", [](bus::File* f) {
    long r = bus::vfs_ioctl(f, kPostStatus, 0);
    expect(r == 1 || r == 0 || r == -bus::kENODEV, "POST_STATUS: 1, 0 or -ENODEV");
    g_outcomes.queued += r == 1;
    g_outcomes.coalesced += r == 0;
  });
}

void reader() {
  with_open("evq0", [](bus::File* f) {
    long r = bus::vfs_read(f, 1);
    expect(r == 7 || r == -bus::kEAGAIN || r == -bus::kENODEV, "read: the event, -EAGAIN or -ENODEV");
    g_outcomes.read += r == 7;
  });
}

sim::Model two_posters_vs_unplug(const std::string& driver) {
  return scenario(driver, {{"post0", poster}, {"post1", poster}, {"hub", unplug_task}});
}

sim::Model two_posters_and_a_reader(const std::string& driver) {
  return scenario(driver, {{"post0", poster}, {"post1", poster}, {"reader", reader}, {"hub", unplug_task}});
}

}  // namespace

BOOST_AUTO_TEST_CASE(both_variants_are_registered) {
  const drivers::DriverInfo* buggy = drivers::find_driver("r15_event_queue_buggy");
  const drivers::DriverInfo* fixed = drivers::find_driver("r15_event_queue_fixed");
  BOOST_TEST_REQUIRE(buggy != nullptr);
  BOOST_TEST_REQUIRE(fixed != nullptr);
  BOOST_TEST(buggy->race == "R15");
  BOOST_TEST(buggy->buggy);
  BOOST_TEST(buggy->bug_kind == "list-corruption");
  BOOST_TEST(!fixed->buggy);
  BOOST_TEST(fixed->node == "evq0");
}

BOOST_AUTO_TEST_CASE(buggy_second_post_is_a_double_add) {
  sim::ExploreResult r = sim::explore(two_posters_vs_unplug("r15_event_queue_buggy"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  const sim::Report* corruption = find_failure(r, "list-corruption", "list_add double add");
  BOOST_TEST_REQUIRE(corruption != nullptr, all_headlines(r));
  BOOST_TEST(corruption->fatal);
  for (const sim::Failure& f : r.failures)
    BOOST_TEST(f.report.kind == "list-corruption", sim::render_text(f.report));
  BOOST_TEST(r.failing_executions < r.executions);  // an unplug before the second post: fine
}

BOOST_AUTO_TEST_CASE(fixed_list_arc_makes_the_second_insertion_impossible) {
  g_outcomes = Outcomes{};
  sim::ExploreResult r = sim::explore(two_posters_vs_unplug("r15_event_queue_fixed"), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  BOOST_TEST(r.executions > 10u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));  // no corruption, and no leaked event
  BOOST_TEST(g_outcomes.queued > 0);
  BOOST_TEST(g_outcomes.coalesced > 0);  // the second post found it queued and said so
}

BOOST_AUTO_TEST_CASE(fixed_event_can_be_queued_again_once_read) {
  g_outcomes = Outcomes{};
  sim::ExploreResult r = sim::explore(two_posters_and_a_reader("r15_event_queue_fixed"), exhaustive(1));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
  BOOST_TEST(g_outcomes.read > 0);
}
