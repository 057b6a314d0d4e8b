// linux/notifier.h: kernel/notifier.c's chains as inline C (tests/c/notifier_cases.c): order by priority,
// NOTIFY_STOP_MASK, -EEXIST/-ENOENT, notifier_from_errno/notifier_to_errno; and the guarantee that makes
// unregister-then-free correct: blocking_notifier_chain_unregister takes the chain's rwsem for writing, which every
// blocking_notifier_call_chain holds for reading across its callbacks, while a raw chain leaves that to the caller.
#define BOOST_TEST_MODULE c_notifier
#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/explorer.hpp"
#include "sim/report.hpp"
#include "sim/world.hpp"
#include "tests/c/case_run.hpp"
#include "tests/sim/test_models.hpp"

extern "C" {
struct shared_chain;
int notifier_case_semantics(long *out);
void notifier_case_freed_while_registered(void);
struct shared_chain *notifier_case_shared(int blocking);
void notifier_case_call(struct shared_chain *s, int blocking);
void notifier_case_remove(struct shared_chain *s, int blocking);
}

namespace sim = devsim::sim;
namespace test = devsim::test;
using test::any_report;
using test::run_in_task;

namespace {

enum Chain { kRaw = 0, kBlocking = 1, kAtomic = 2 };

sim::ExploreResult call_beside_remove(Chain chain) {
  const sim::Model model = [chain](sim::World &w) {
    w.spawn("setup", [&w, chain] {
      // LIFETIME: simulated memory the two tasks share; the world outlives them.
      struct shared_chain *s = notifier_case_shared(chain);
      w.spawn("caller", [s, chain] { notifier_case_call(s, chain); });
      w.spawn("remover", [s, chain] { notifier_case_remove(s, chain); });
    });
  };
  return test::explore_every_schedule(model);
}

}  // namespace

BOOST_AUTO_TEST_CASE(chains_call_by_priority_and_stop_on_request) {
  long out[32] = {};
  int n = 0;
  sim::Execution e = run_in_task([&] { n = notifier_case_semantics(out); });
  const std::vector<long> got(out, out + n);
  const std::vector<long> want = {0, 0, 0, 0, 1, 213, 0x8001, 2, -17, 0, -2, -22, 0};
  BOOST_TEST(got == want, boost::test_tools::per_element());
  // kernel/notifier.c notifier_chain_register: WARN(1, "notifier callback %ps already registered").
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "warning");
}

BOOST_AUTO_TEST_CASE(a_block_freed_while_registered_is_a_use_after_free_at_the_next_call) {
  sim::Execution e = run_in_task([] { notifier_case_freed_while_registered(); });
  BOOST_TEST_REQUIRE(!e.reports.empty());
  BOOST_TEST(e.reports[0].kind == sim::bug::kUseAfterFree);
}

BOOST_AUTO_TEST_CASE(unregister_then_free_is_safe_on_blocking_and_atomic_chains_and_not_on_an_unlocked_raw_one) {
  const sim::ExploreResult blocking = call_beside_remove(kBlocking);
  BOOST_TEST(blocking.exhausted);
  BOOST_TEST(blocking.executions > 1u);
  BOOST_TEST(blocking.failing_executions == 0u);

  // kernel/notifier.c atomic_notifier_chain_unregister: synchronize_rcu() after the removal, the walk under
  // rcu_read_lock().
  const sim::ExploreResult atomic = call_beside_remove(kAtomic);
  BOOST_TEST(atomic.exhausted);
  BOOST_TEST(atomic.executions > 1u);
  BOOST_TEST(atomic.failing_executions == 0u);

  const sim::ExploreResult raw = call_beside_remove(kRaw);
  BOOST_TEST(any_report(raw, sim::bug::kUseAfterFree));
}
