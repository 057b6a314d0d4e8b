// Leaks are what kmemleak reports (issue 11 items 6 and 12).
//
// mm/kmemleak.c kmemleak_scan: objects start white; the roots (the kernel's data and bss sections, task stacks)
// are scanned by scan_block, which greys every object a pointer-sized, aligned word points into (anywhere inside
// it: lookup_object with alias); grey objects are scanned in turn; objects still white at the end are reported
// as "unreferenced object", so an orphaned cycle is reported while an object reachable from a global is not.
// kmemleak_not_leak() makes an object grey (never reported, scanned for references).
//
// include/linux/refcount.h __refcount_sub_and_test / __refcount_dec and lib/refcount.c refcount_warn_saturate:
// decrementing a saturated (or zero) refcount_t warns "refcount_t: underflow; use-after-free." and sets the
// count back to REFCOUNT_SATURATED: a saturated count stays saturated, its object is never freed, and kmemleak
// later reports that object (the leak the saturation warning announced).
#define BOOST_TEST_MODULE semantics_kmemleak
#include <boost/test/unit_test.hpp>

#include <climits>
#include <string>
#include <vector>

#include "core/refcount.hpp"
#include "sim/explorer.hpp"
#include "sim/kmalloc.hpp"
#include "sim/kmemleak.hpp"
#include "sim/report.hpp"

namespace sim = devsim::sim;
namespace core = devsim::core;

namespace devsim::sim {
inline std::ostream& boost_test_print_type(std::ostream& os, Outcome outcome) {
  return os << to_string(outcome);
}
}  // namespace devsim::sim

namespace {

struct Node {
  sim::KPtr<Node> next;
  Node* raw = nullptr;  // a plain C pointer counts as much as a handle
  long payload = 0;
};

// A module's static data (module globals): scanned only once registered as a root.
struct Globals {
  sim::KPtr<Node> head;
  long counter = 0;
};
Globals g_globals;

std::size_t count_kind(const std::vector<sim::Report>& reports, std::string_view kind) {
  std::size_t n = 0;
  for (const sim::Report& r : reports)
    n += r.kind == kind ? 1 : 0;
  return n;
}

std::string all(const std::vector<sim::Report>& reports) {
  std::string out;
  for (const sim::Report& r : reports)
    out += sim::render_text(r);
  return out;
}

sim::ExploreOptions exhaustive() {
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Exhaustive;
  o.strategy.preemption_bound = 2;
  o.max_executions = 0;
  return o;
}

// Two tasks build a list from the global head: a pushes a node, b pushes one whose `next` is whatever the head
// was. Every schedule, every node stays reachable from the registered global: no leak in any of them.
sim::Model list_from_global(bool register_root) {
  return [register_root](sim::World& w) {
    g_globals = Globals{};
    if (register_root) sim::kmemleak_add_root(g_globals);
    for (const char* name : {"a", "b"}) {
      w.spawn(name, [] {
        sim::KPtr<Node> n = sim::kzalloc<Node>();
        n.store(&Node::next, g_globals.head);
        g_globals.head = n;
      });
    }
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_object_referenced_from_a_registered_global_is_not_a_leak) {
  sim::ExploreResult clean = sim::explore(list_from_global(true), exhaustive());
  BOOST_TEST(clean.exhausted);
  BOOST_TEST(clean.executions > 1u);
  BOOST_TEST(clean.failing_executions == 0u,
             (clean.failures.empty() ? "" : sim::render_text(clean.failures[0].report)));
  // The same global, not registered: kmemleak cannot see it, and both nodes are unreferenced.
  sim::Execution e = sim::run_once(list_from_global(false));
  BOOST_TEST(count_kind(e.reports, sim::bug::kLeak) == 2u, all(e.reports));
}

BOOST_AUTO_TEST_CASE(an_object_referenced_only_from_a_referenced_live_object_is_not_a_leak) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    g_globals = Globals{};
    sim::kmemleak_add_root(g_globals);
    w.spawn("t", [] {
      sim::KPtr<Node> a = sim::kzalloc<Node>();
      sim::KPtr<Node> b = sim::kzalloc<Node>();
      sim::KPtr<Node> c = sim::kzalloc<Node>();
      a.store(&Node::next, b);             // global -> a -> b (a handle)
      b.store(&Node::raw, c.unchecked());  // b -> c (a raw pointer)
      g_globals.head = a;
    });
  });
  BOOST_TEST((e.outcome == sim::Outcome::Completed));
  BOOST_TEST(e.reports.empty(), all(e.reports));
}

BOOST_AUTO_TEST_CASE(an_orphaned_cycle_is_reported_with_what_hangs_off_it) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    g_globals = Globals{};
    sim::kmemleak_add_root(g_globals);
    w.spawn("t", [] {
      sim::KPtr<Node> a = sim::kzalloc<Node>();
      sim::KPtr<Node> b = sim::kzalloc<Node>();
      sim::KPtr<Node> tail = sim::kzalloc<Node>();
      a.store(&Node::next, b);  // a <-> b: each references the other, nothing else references either
      b.store(&Node::next, a);
      b.store(&Node::raw, tail.unchecked());  // reachable only from the cycle
      sim::KPtr<Node> kept = sim::kzalloc<Node>();
      g_globals.head = kept;  // referenced from the global: not a leak
    });
  });
  BOOST_TEST(count_kind(e.reports, sim::bug::kLeak) == 3u, all(e.reports));
  BOOST_TEST(e.reports.size() == 3u);
  // In allocation order: a, b, tail (the kept node is not among them).
  BOOST_TEST_REQUIRE(e.reports.size() == 3u);
  BOOST_TEST(e.reports[0].access->object < e.reports[1].access->object);
  BOOST_TEST(e.reports[1].access->object < e.reports[2].access->object);
}

BOOST_AUTO_TEST_CASE(a_pointer_into_the_middle_of_an_object_references_it) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    g_globals = Globals{};
    sim::kmemleak_add_root(g_globals);
    w.spawn("t", [] {
      sim::KPtr<Node> a = sim::kzalloc<Node>();
      sim::KPtr<Node> b = sim::kzalloc<Node>();
      a.store(&Node::raw, reinterpret_cast<Node*>(&b.unchecked()->payload));  // an interior pointer
      g_globals.head = a;
    });
  });
  BOOST_TEST(e.reports.empty(), all(e.reports));
}

BOOST_AUTO_TEST_CASE(not_leak_objects_are_scanned_and_removed_roots_are_not) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    g_globals = Globals{};
    sim::kmemleak_add_root(g_globals);
    w.spawn("t", [] {
      sim::KPtr<Node> anchor = sim::kzalloc<Node>();
      sim::kmemleak_not_leak(anchor);
      sim::KPtr<Node> held = sim::kzalloc<Node>();
      anchor.store(&Node::next, held);  // referenced from a not-leak object: not a leak
      g_globals.head = sim::kzalloc<Node>();
      sim::kmemleak_remove_root(&g_globals);  // the module went away: its globals no longer count
    });
  });
  BOOST_TEST(count_kind(e.reports, sim::bug::kLeak) == 1u, all(e.reports));
}

namespace {
struct Counted {
  core::Refcount refs{1};
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_saturated_refcount_warns_on_decrement_stays_saturated_and_its_leak_is_reported) {
  // One task: the saturation is the designed outcome, not a race; exploring adds no schedule.
  bool freed_early = false;
  bool stays_saturated = false;
  sim::Execution e = sim::run_once([&](sim::World& w) {
    w.spawn("t", [&] {
      sim::KPtr<Counted> obj = sim::kzalloc<Counted>();
      core::Refcount& refs = obj.unchecked()->refs;
      refs.set(INT_MAX);
      refs.inc();                 // overflows: saturated; leaking memory.
      if (refs.dec_and_test()) {  // a saturated count never drops to zero
        freed_early = true;
        sim::kfree(obj);
      }
      refs.dec();
      stays_saturated = refs.read() == core::Refcount::kSaturated;
    });
  });
  BOOST_TEST(!freed_early);
  BOOST_TEST(stays_saturated);
  std::vector<std::string> headlines;
  for (const sim::Report& r : e.reports) {
    headlines.push_back(r.headline);
    BOOST_TEST(!r.fatal, sim::render_text(r));  // warnings and a leak: the execution ran to its end
  }
  const std::vector<std::string> expected = {
      "refcount_t: saturated; leaking memory.",
      "refcount_t: underflow; use-after-free.",  // dec_and_test on the saturated count
      "refcount_t: underflow; use-after-free.",  // dec on it
      "memory leak: unreferenced object 0xffff888100000000 (size 4)",
  };
  BOOST_TEST(headlines == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(decrementing_a_zero_refcount_is_still_a_fatal_underflow) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      sim::KPtr<Counted> obj = sim::kzalloc<Counted>();
      core::Refcount& refs = obj.unchecked()->refs;
      refs.set(0);
      static_cast<void>(refs.dec_and_test());
    });
  });
  BOOST_TEST_REQUIRE(!e.reports.empty());
  BOOST_TEST(e.reports[0].headline == "refcount_t: underflow; use-after-free.");
  BOOST_TEST(e.reports[0].fatal);
  // A fatal report stops the execution: no leak check after it (the stopped task never ran its frees).
  BOOST_TEST((e.outcome == sim::Outcome::Stopped));
  BOOST_TEST(count_kind(e.reports, sim::bug::kLeak) == 0u, all(e.reports));
}

BOOST_AUTO_TEST_CASE(leaks_are_checked_after_a_fatal_report_that_did_not_stop_the_execution) {
  sim::WorldOptions o;
  o.stop_on_first_bug = false;  // every task runs to its end despite the report
  sim::Execution e = sim::run_once(
      [](sim::World& w) {
        w.spawn("t", [] {
          sim::KPtr<Node> gone = sim::kzalloc<Node>();
          sim::kfree(gone);
          sim::kfree(gone);                         // double free: fatal
          static_cast<void>(sim::kzalloc<Node>());  // and a leak
        });
      },
      o);
  BOOST_TEST(count_kind(e.reports, sim::bug::kDoubleFree) == 1u, all(e.reports));
  BOOST_TEST(count_kind(e.reports, sim::bug::kLeak) == 1u, all(e.reports));
}
