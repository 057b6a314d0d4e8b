// A sleeping lock's unlock touches the lock after handing it over to a waiter (kernel/locking/mutex.c
// __mutex_unlock_slowpath takes lock->wait_lock after releasing the owner; kernel/locking/rwsem.c rwsem_wake likewise;
// Documentation/locking/mutex-design.rst: "mutex_unlock() may access the mutex structure even after it has internally
// released the lock already"). So the task that takes a C driver's mutex next must not free the object around it on
// the strength of holding it: drivers/usb/misc/idmouse.c's release did, until its fix moved the free after both
// unlocks behind a kref (tests/c/lock_handoff_cases.c).
#define BOOST_TEST_MODULE c_lock_handoff
#include <boost/test/unit_test.hpp>

#include <string>

#include "tests/c/case_run.hpp"

extern "C" {
struct handoff;
struct handoff *handoff_new(void);
void handoff_disconnect(struct handoff *h);
void handoff_release(struct handoff *h);
void handoff_disconnect_fixed(struct handoff *h);
void handoff_release_fixed(struct handoff *h);
void handoff_disconnect_rwsem(struct handoff *h);
void handoff_release_rwsem(struct handoff *h);
}

namespace sim = devsim::sim;
namespace test = devsim::test;

namespace {

using Case = void (*)(struct handoff *);

sim::ExploreResult disconnect_and_release(Case disconnect, Case release) {
  const sim::Model model = [disconnect, release](sim::World &w) {
    w.spawn("setup", [&w, disconnect, release] {
      // LIFETIME: simulated memory; whichever task frees it last, the world outlives both.
      struct handoff *h = handoff_new();
      w.spawn("disconnect", [h, disconnect] { disconnect(h); });
      w.spawn("release", [h, release] { release(h); });
    });
  };
  return test::explore_every_schedule(model);
}

// Whether some failure is a use-after-free by `unlock` (its report's note) in the disconnecting task.
bool unlock_after_free(const sim::ExploreResult &r, const std::string &unlock) {
  for (const sim::Failure &f : r.failures) {
    if (f.report.kind != sim::bug::kUseAfterFree || !f.report.accessed_by) continue;
    if (f.report.accessed_by->task.rfind("disconnect/", 0) != 0) continue;
    for (const std::string &d : f.report.details)
      if (d.rfind(unlock + " touches the lock after handing it to a waiter", 0) == 0) return true;
  }
  return false;
}

std::string first_headline(const sim::ExploreResult &r) {
  return r.failures.empty() ? std::string() : sim::render_text(r.failures.front().report);
}

}  // namespace

BOOST_AUTO_TEST_CASE(freeing_a_mutex_taken_from_an_unlocker_is_a_use_after_free_in_its_unlock) {
  const sim::ExploreResult buggy = disconnect_and_release(handoff_disconnect, handoff_release);
  BOOST_TEST(buggy.exhausted);
  BOOST_TEST(buggy.failing_executions > 0u);
  BOOST_TEST(buggy.failing_executions < buggy.executions);  // only when release waited for the mutex
  BOOST_TEST(unlock_after_free(buggy, "mutex_unlock"), first_headline(buggy));
  const sim::ExploreResult fixed = disconnect_and_release(handoff_disconnect_fixed, handoff_release_fixed);
  BOOST_TEST(fixed.exhausted);
  BOOST_TEST(fixed.executions > 1u);
  BOOST_TEST(fixed.failing_executions == 0u, first_headline(fixed));
}

BOOST_AUTO_TEST_CASE(freeing_an_rwsem_taken_from_a_writer_is_a_use_after_free_in_its_up_write) {
  const sim::ExploreResult r = disconnect_and_release(handoff_disconnect_rwsem, handoff_release_rwsem);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions > 0u);
  BOOST_TEST(r.failing_executions < r.executions);
  BOOST_TEST(unlock_after_free(r, "rwsem_wake (up_read, up_write)"), first_headline(r));
}
