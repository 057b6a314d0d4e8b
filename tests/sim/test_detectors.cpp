// The world's detectors (world.hpp): deadlock, stack overflow, processor faults, unhandled exception, step budget
// and held-at-exit each end up as a report of the right kind, and the test process survives every one of them.
#define BOOST_TEST_MODULE sim_detectors
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/mman.h>

#include <cinttypes>
#include <cstdio>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/explorer.hpp"
#include "sim/kmalloc.hpp"
#include "sim/report.hpp"
#include "sim/stacktrace.hpp"
#include "sim/world.hpp"
#include "tests/sim/test_models.hpp"

namespace sim = devsim::sim;

namespace {

sim::ExploreOptions exhaustive() {
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Exhaustive;
  o.max_executions = 0;
  return o;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---- deadlock ------------------------------------------------------------------------------------------

// Each task first waits for the other's signal and only then would send its own: neither ever sends.
struct Handshake {
  int to_left = 0;  // channels: only their addresses matter
  int to_right = 0;
  unsigned left_block_line = 0;
  unsigned right_block_line = 0;
};

void left_side(sim::World& w, Handshake& h) {
  h.left_block_line = __LINE__ + 1;
  w.block(&h.to_left, "the right side's hello");
  w.wake_all(&h.to_right);
}

void right_side(sim::World& w, Handshake& h) {
  w.note_acquired(&h, "handshake lock");
  h.right_block_line = __LINE__ + 1;
  w.block(&h.to_right, "the left side's hello");
  w.wake_all(&h.to_left);
  w.note_released(&h);
}

// ---- stack overflow ------------------------------------------------------------------------------------

// Read through a volatile so the compiler cannot prove the recursion bounded and turn it into a loop.
volatile std::uint64_t g_depth_limit = ~std::uint64_t{0};
volatile std::uint64_t g_deepest = 0;

[[gnu::noinline]] std::uint64_t recurse(std::uint64_t depth) {
  // A frame well below the 16 KiB guard, so the overflow lands in the guard rather than past it.
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  frame[sizeof frame - 1] = 1;
  g_deepest = depth;
  if (depth >= g_depth_limit) return frame[0];
  // Not a tail call: the frame is still needed after the call returns.
  return recurse(depth + 1) + static_cast<std::uint64_t>(frame[depth % sizeof frame]);
}

// Counts constructions and destructions, to see that frames were unwound.
struct Witness {
  int* made;
  int* destroyed;
  Witness(int* m, int* d) : made(m), destroyed(d) { ++*made; }
  ~Witness() { ++*destroyed; }
  Witness(const Witness&) = delete;
  Witness& operator=(const Witness&) = delete;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(deadlock)

BOOST_AUTO_TEST_CASE(mutual_wait_is_a_deadlock_listing_each_waiter) {
  Handshake h;
  const sim::Model model = [&h](sim::World& w) {
    w.spawn("left", [&h](sim::World& world) { left_side(world, h); });
    w.spawn("right", [&h](sim::World& world) { right_side(world, h); });
  };
  sim::ExploreResult r = sim::explore(model, exhaustive());
  // Blocking is not a choice: the only decision is who starts, and both orders deadlock.
  BOOST_TEST(r.executions == 2u);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 2u);
  BOOST_TEST_REQUIRE(r.first_failure.has_value());
  BOOST_TEST(r.first_failure->outcome == sim::Outcome::Deadlock);
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  const sim::Report& rep = r.failures[0].report;
  BOOST_TEST(rep.kind == sim::bug::kDeadlock);
  BOOST_TEST(rep.fatal);
  const std::string file = "tests/sim/test_detectors.cpp:";
  const std::vector<std::string> expected = {
      "task left/0 waits for the right side's hello at left_side (" + file + std::to_string(h.left_block_line) + ")",
      "task right/1 waits for the left side's hello at right_side (" + file + std::to_string(h.right_block_line) + ")",
      "  holding handshake lock (taken at right_side (" + file + std::to_string(h.right_block_line - 2) + "))",
  };
  BOOST_TEST(rep.details == expected, boost::test_tools::per_element());
  const std::string text = sim::render_text(rep);
  BOOST_TEST(contains(text, "BUG: deadlock: every task is blocked and nothing is pending\n"));
  BOOST_TEST(contains(text, expected[0] + "\n" + expected[1] + "\n"));
}

BOOST_AUTO_TEST_CASE(a_lost_wakeup_deadlocks_only_in_the_racy_schedules) {
  // The racy waiter checks the flag in one step and blocks in the next, without checking again: a wake in
  // between is lost. The correct waiter re-checks in the same step as it blocks, so it never misses one.
  for (bool racy : {true, false}) {
    BOOST_TEST_CONTEXT("racy=" << racy) {
      struct State {
        bool ready = false;
        int channel = 0;
      };
      const sim::Model model = [racy](sim::World& w) {
        auto state = std::make_shared<State>();
        w.spawn("waiter", [state, racy](sim::World& world) {
          if (racy) {
            if (!state->ready) {
              sim::yield();
              world.block(&state->channel, "ready");
            }
          } else {
            while (!state->ready)
              world.block(&state->channel, "ready");
          }
        });
        w.spawn("signaller", [state](sim::World& world) {
          state->ready = true;
          world.wake_all(&state->channel);
        });
      };
      sim::ExploreResult r = sim::explore(model, exhaustive());
      BOOST_TEST(r.exhausted);
      if (racy) {
        // waiter: 2 steps, signaller: 1; the wake lost between the waiter's check and its block: 1 of 3.
        BOOST_TEST(r.executions == 3u);
        BOOST_TEST(r.failing_executions == 1u);
        BOOST_TEST_REQUIRE(r.failures.size() == 1u);
        BOOST_TEST(r.failures[0].report.kind == sim::bug::kDeadlock);
        BOOST_TEST_REQUIRE(r.failures[0].report.details.size() == 1u);
        BOOST_TEST(r.failures[0].report.details[0].starts_with("task waiter/0 waits for ready at "));
      } else {
        BOOST_TEST(r.executions == 2u);
        BOOST_TEST(r.failing_executions == 0u);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stack_overflow)

BOOST_AUTO_TEST_CASE(deep_recursion_is_reported_and_the_task_abandoned) {
  int made = 0, destroyed = 0;
  const sim::Model model = [&](sim::World& w) {
    w.spawn("recursor", [] {
      sim::yield();
      static_cast<void>(recurse(0));
    });
    w.spawn("bystander", [&] {
      Witness witness(&made, &destroyed);
      for (int i = 0; i < 3; ++i)
        sim::yield();
    });
  };
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Random;
  o.strategy.seed = 3;
  o.max_executions = 20;
  sim::ExploreResult r = sim::explore(model, o);
  // Every execution overflows (the recursion is unconditional); the stacks, guard pages included, are
  // reused from one execution to the next, so the guard must still catch it the 20th time.
  BOOST_TEST(r.executions == 20u);
  BOOST_TEST(r.failing_executions == 20u);
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  const sim::Report& rep = r.failures[0].report;
  BOOST_TEST(rep.kind == sim::bug::kStackOverflow);
  BOOST_TEST(rep.headline == "stack-overflow in task recursor/0 (stack of 65536 bytes)");
  BOOST_TEST(rep.accessed_by->task == "recursor/0");
  BOOST_TEST(r.first_failure->outcome == sim::Outcome::Stopped);
  // 64 KiB of 1 KiB frames (more with sanitizer redzones): deep, but stopped by the guard.
  BOOST_TEST(g_deepest > 16u);
  BOOST_TEST(g_deepest < 64u);
  // Only the overflowing task is abandoned: a bystander that had started was unwound (or had finished) in
  // every execution, so each of its witnesses was destroyed.
  BOOST_TEST(made > 0);
  BOOST_TEST(destroyed == made);
}

BOOST_AUTO_TEST_CASE(a_bounded_recursion_fits_the_default_stack) {
  g_depth_limit = 40;  // ~40 KiB of frames: fits 64 KiB
  sim::Execution e = sim::run_once([](sim::World& w) { w.spawn("bounded", [] { static_cast<void>(recurse(0)); }); },
                                   sim::WorldOptions{});
  g_depth_limit = ~std::uint64_t{0};
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(detection_survives_a_host_that_replaced_the_handler_and_the_signal_stack) {
  // What a test framework does between test cases (Boost.Test does both): the engine must notice and
  // re-install its own before the next explore() or one-off run.
  const sim::Model model = [](sim::World& w) { w.spawn("recursor", [] { static_cast<void>(recurse(0)); }); };
  for (bool via_explore : {true, false}) {
    BOOST_TEST_CONTEXT("via_explore=" << via_explore) {
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      sigemptyset(&dfl.sa_mask);
      struct sigaction saved_segv {
      }, saved_bus{};
      BOOST_TEST_REQUIRE(sigaction(SIGSEGV, &dfl, &saved_segv) == 0);
      BOOST_TEST_REQUIRE(sigaction(SIGBUS, &dfl, &saved_bus) == 0);
      stack_t off{};
      off.ss_flags = SS_DISABLE;
      stack_t saved_stack{};
      BOOST_TEST_REQUIRE(sigaltstack(&off, &saved_stack) == 0);

      std::vector<sim::Report> reports;
      if (via_explore) {
        sim::ExploreOptions o;
        o.max_executions = 1;
        const sim::ExploreResult r = sim::explore(model, o);
        for (const sim::Failure& f : r.failures)
          reports.push_back(f.report);
      } else {
        reports = sim::run_once(model, sim::WorldOptions{}).reports;
      }
      BOOST_TEST_REQUIRE(reports.size() == 1u);
      BOOST_TEST(reports[0].kind == sim::bug::kStackOverflow);

      // Hand the host its own back, as it expects when this test case ends.
      sigaction(SIGSEGV, &saved_segv, nullptr);
      sigaction(SIGBUS, &saved_bus, nullptr);
      if (!(saved_stack.ss_flags & SS_DISABLE)) sigaltstack(&saved_stack, nullptr);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(processor_faults)

// A driver's `p->field` through a null `p`: a store 16 bytes above address 0. Volatile, so the compiler cannot see
// through it, and not address 0 itself, which UBSan's null check would stop first in the sanitizer builds.
volatile std::uintptr_t g_near_null = 16;
volatile std::uintptr_t g_list_poison = 0xdead000000000100;  // LIST_POISON1 (include/linux/poison.h)

[[gnu::noinline]] void store_through_null_member() {
  *reinterpret_cast<volatile int*>(g_near_null) = 1;
}
[[gnu::noinline]] int load_through_poisoned_next() {
  return *reinterpret_cast<volatile int*>(g_list_poison);
}

// arch/x86/mm/fault.c page_fault_oops: a kernel-mode fault on an address below PAGE_SIZE is "BUG: kernel NULL
// pointer dereference"; make_task_dead() then kills the task and the system goes on.
BOOST_AUTO_TEST_CASE(a_store_through_a_null_pointer_is_an_oops_of_that_task_in_every_execution) {
  int made = 0, destroyed = 0;
  const sim::Model model = [&](sim::World& w) {
    w.spawn("driver", [] {
      sim::yield();
      store_through_null_member();
    });
    w.spawn("bystander", [&] {
      Witness witness(&made, &destroyed);
      for (int i = 0; i < 3; ++i)
        sim::yield();
    });
  };
  sim::ExploreResult r = sim::explore(model, exhaustive());
  // Every interleaving faults, and the process survives each: the handler leaves the task for the next.
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  const sim::Report& rep = r.failures[0].report;
  BOOST_TEST(rep.kind == "null-ptr-deref");
  BOOST_TEST(rep.headline == "null-ptr-deref in store_through_null_member");
  BOOST_TEST(contains(rep.details.at(0), "BUG: kernel NULL pointer dereference, address: 0x0000000000000010"));
#if defined(__x86_64__)
  BOOST_TEST(rep.details.at(1) == "#PF: supervisor write access in kernel mode");
#endif
  BOOST_TEST_REQUIRE(rep.accessed_by.has_value());
  BOOST_TEST(rep.accessed_by->task == "driver/0");
  // The stack starts at the faulting instruction and goes on to its caller.
  BOOST_TEST(sim::stack_has_function(rep.accessed_by->stack, "store_through_null_member"));
  BOOST_TEST(r.first_failure->outcome == sim::Outcome::Stopped);
  // Only the faulting task is abandoned: the bystander was unwound (or had finished) every time.
  BOOST_TEST(made > 0);
  BOOST_TEST(destroyed == made);
}

// arch/x86/kernel/traps.c exc_general_protection: a non-canonical address, such as the poison list_del leaves in
// a removed entry, is a general-protection fault with no page-fault address.
BOOST_AUTO_TEST_CASE(a_load_through_a_poisoned_list_pointer_is_a_general_protection_fault) {
  sim::Execution e = sim::run_once([](sim::World& w) { w.spawn("reader", [] { (void)load_through_poisoned_next(); }); },
                                   sim::WorldOptions{});
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "general-protection-fault");
  BOOST_TEST(e.reports[0].headline == "general-protection-fault in load_through_poisoned_next");
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
}

// A canonical address with nothing mapped: "BUG: unable to handle page fault for address".
BOOST_AUTO_TEST_CASE(a_load_from_an_unmapped_page_is_a_page_fault_naming_the_address) {
  void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  BOOST_TEST_REQUIRE(page != MAP_FAILED);
  sim::Execution e =
      sim::run_once([page](sim::World& w) { w.spawn("reader", [page] { (void)*static_cast<volatile int*>(page); }); },
                    sim::WorldOptions{});
  munmap(page, 4096);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "page-fault");
  char expected[64];
  std::snprintf(expected, sizeof expected, "address: 0x%016" PRIxPTR, reinterpret_cast<std::uintptr_t>(page));
  BOOST_TEST(contains(e.reports[0].details.at(0), expected));
}

volatile int g_zero = 0;
// UBSan (in the sanitizer builds) would report the division itself; the test is what the processor does.
[[gnu::noinline, gnu::no_sanitize("undefined")]] int divide_by_zero() {
  return 100 / g_zero;
}

// arch/x86/kernel/traps.c exc_divide_error: an integer division by zero in kernel mode is an oops.
BOOST_AUTO_TEST_CASE(an_integer_division_by_zero_is_a_divide_error) {
  sim::Execution e =
      sim::run_once([](sim::World& w) { w.spawn("driver", [] { (void)divide_by_zero(); }); }, sim::WorldOptions{});
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "divide-error");
  BOOST_TEST(e.reports[0].headline == "divide-error in divide_by_zero");
}

// A fault is not mistaken for a stack overflow and the guard still catches one afterwards in the same thread.
BOOST_AUTO_TEST_CASE(an_overflow_after_a_fault_is_still_an_overflow) {
  sim::Execution fault =
      sim::run_once([](sim::World& w) { w.spawn("driver", [] { store_through_null_member(); }); }, sim::WorldOptions{});
  sim::Execution overflow = sim::run_once(
      [](sim::World& w) { w.spawn("recursor", [] { static_cast<void>(recurse(0)); }); }, sim::WorldOptions{});
  BOOST_TEST_REQUIRE(fault.reports.size() == 1u);
  BOOST_TEST(fault.reports[0].kind == "null-ptr-deref");
  BOOST_TEST_REQUIRE(overflow.reports.size() == 1u);
  BOOST_TEST(overflow.reports[0].kind == sim::bug::kStackOverflow);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(other_detectors)

BOOST_AUTO_TEST_CASE(an_exception_escaping_a_task_is_reported) {
  int made = 0, destroyed = 0;
  sim::Execution e = sim::run_once(
      [&](sim::World& w) {
        w.spawn("probe", [&] {
          Witness witness(&made, &destroyed);
          sim::yield();
          throw std::runtime_error("probe failed: -ENODEV");
        });
      },
      sim::WorldOptions{});
  BOOST_TEST(made == 1);
  BOOST_TEST(destroyed == 1);  // the exception unwound the task's frames
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kTaskException);
  BOOST_TEST(e.reports[0].headline == "unhandled-exception in task probe/0: probe failed: -ENODEV");
  BOOST_TEST(e.reports[0].accessed_by->task == "probe/0");

  sim::Execution other =
      sim::run_once([](sim::World& w) { w.spawn("thrower", [] { throw 42; }); }, sim::WorldOptions{});
  BOOST_TEST_REQUIRE(other.reports.size() == 1u);
  BOOST_TEST(other.reports[0].kind == sim::bug::kTaskException);
  BOOST_TEST(other.reports[0].headline == "unhandled-exception in task thrower/0: unknown exception");
}

BOOST_AUTO_TEST_CASE(a_task_that_never_stops_exceeds_the_step_budget) {
  sim::WorldOptions o;
  o.step_budget = 50;
  std::uint64_t spins = 0;
  sim::Execution e = sim::run_once(
      [&spins](sim::World& w) {
        w.spawn("spinner", [&spins] {
          for (;;) {
            ++spins;
            sim::yield();
          }
        });
      },
      o);
  BOOST_TEST(e.outcome == sim::Outcome::StepBudget);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kStepBudget);
  BOOST_TEST(e.reports[0].headline == "step budget of 50 scheduling points exceeded (livelock?) in task spinner/0");
  // The budget counts scheduling points: the first is the task's start, so 49 yields fit.
  BOOST_TEST(spins == 50u);

  // Under the budget, the same task with an end finishes cleanly.
  sim::Execution fine = sim::run_once(
      [](sim::World& w) {
        w.spawn("counter", [] {
          for (int i = 0; i < 40; ++i)
            sim::yield();
        });
      },
      o);
  BOOST_TEST(fine.outcome == sim::Outcome::Completed);
  BOOST_TEST(fine.reports.empty());
}

BOOST_AUTO_TEST_CASE(two_spinning_tasks_exceed_the_budget_under_any_strategy) {
  sim::ExploreOptions o;
  o.world.step_budget = 200;
  o.max_executions = 10;
  for (sim::StrategyKind kind : {sim::StrategyKind::Random, sim::StrategyKind::Pct, sim::StrategyKind::Exhaustive}) {
    BOOST_TEST_CONTEXT("strategy=" << sim::to_string(kind)) {
      o.strategy.kind = kind;
      sim::ExploreResult r = sim::explore(
          [](sim::World& w) {
            for (int i = 0; i < 2; ++i)
              w.spawn("spin", [] {
                for (;;)
                  sim::yield();
              });
          },
          o);
      BOOST_TEST(r.executions == 10u);
      BOOST_TEST(r.failing_executions == 10u);
      BOOST_TEST_REQUIRE(r.failures.size() == 1u);
      BOOST_TEST(r.failures[0].report.kind == sim::bug::kStepBudget);
      BOOST_TEST(r.first_failure->outcome == sim::Outcome::StepBudget);
    }
  }
}

BOOST_AUTO_TEST_CASE(exiting_while_holding_a_resource_is_reported) {
  int lock = 0;
  unsigned line = 0;
  sim::Execution e = sim::run_once(
      [&](sim::World& w) {
        w.spawn("holder", [&](sim::World& world) {
          line = __LINE__ + 1;
          world.note_acquired(&lock, "mutex dev->lock");
        });
      },
      sim::WorldOptions{});
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  const sim::Report& r = e.reports[0];
  BOOST_TEST(r.kind == sim::bug::kHeldAtExit);
  BOOST_TEST(r.headline == "task holder/0 exited holding mutex dev->lock");
  BOOST_TEST(r.accessed_by->site->line() == line);
  BOOST_TEST_REQUIRE(r.details.size() == 1u);
  BOOST_TEST(r.details[0] == "acquired at " + sim::describe(*r.accessed_by->site) + ", never released");

  // Released in time: nothing to report. Released in another order than taken: also fine.
  int other = 0;
  sim::Execution ok = sim::run_once(
      [&](sim::World& w) {
        w.spawn("holder", [&](sim::World& world) {
          world.note_acquired(&lock, "mutex dev->lock");
          world.note_acquired(&other, "spinlock other");
          sim::yield();
          world.note_released(&lock);
          world.note_released(&other);
        });
      },
      sim::WorldOptions{});
  BOOST_TEST(ok.outcome == sim::Outcome::Completed);
  BOOST_TEST(ok.reports.empty());
}

BOOST_AUTO_TEST_CASE(with_stop_on_first_bug_off_every_report_is_kept) {
  sim::WorldOptions o;
  o.stop_on_first_bug = false;
  sim::Execution e = sim::run_once(
      [](sim::World& w) {
        w.spawn("messy", [] {
          sim::KPtr<int> p = sim::kmalloc<int>(1);
          sim::kfree(p);
          sim::kfree(p);
          static_cast<void>(p.read());
        });
      },
      o);
  BOOST_TEST_REQUIRE(e.reports.size() == 2u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kDoubleFree);
  BOOST_TEST(e.reports[1].kind == sim::bug::kUseAfterFree);
}

BOOST_AUTO_TEST_SUITE_END()
