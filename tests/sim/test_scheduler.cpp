// The world's scheduler (world.hpp): who runs when, blocking and waking, virtual time, value choices and
// how unfinished tasks are unwound when an execution ends.
#define BOOST_TEST_MODULE sim_scheduler
#include <boost/test/unit_test.hpp>

#include <exception>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sim/explorer.hpp"
#include "sim/kmalloc.hpp"
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

// A finding a model raises itself, so exhaustive search can check a property in every schedule.
void expect(sim::World& w, bool condition, const std::string& what) {
  if (condition) return;
  sim::Report r;
  r.kind = "test-expectation";
  r.headline = what;
  w.report(std::move(r));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(scheduling)

BOOST_AUTO_TEST_CASE(default_choices_keep_the_current_task_running) {
  std::string log;
  sim::World w;
  sim::test::yielding_tasks({3, 2, 2}, &log)(w);
  BOOST_TEST(w.run() == sim::Outcome::Completed);
  BOOST_TEST(log == "0.0,0.1,0.2,1.0,1.1,2.0,2.1,");
  // Default choices are still decisions (more than one task could run), so they are recorded.
  BOOST_TEST(sim::to_string(w.schedule()) == "t0 t0 t0 t1 t1");
  BOOST_TEST(w.steps() > 0u);
  BOOST_TEST(w.task_count() == 3u);
  BOOST_TEST(w.task_name(1) == "t1");
  BOOST_TEST(w.task_state(2) == sim::TaskState::Finished);
}

BOOST_AUTO_TEST_CASE(a_single_runnable_task_makes_no_choice) {
  sim::World w;
  sim::test::yielding_tasks({5})(w);
  BOOST_TEST(w.run() == sim::Outcome::Completed);
  BOOST_TEST(w.schedule().empty());
}

BOOST_AUTO_TEST_CASE(a_finished_task_gives_its_stack_back_at_once) {
  // A chain of 1,000 tasks, each spawning the next and finishing: never more than two alive at once, so
  // never more than two stacks, however long the execution runs.
  sim::StackPool pool;
  int ran = 0;
  {
    sim::World w({}, nullptr, &pool);
    struct Chain {
      int* ran;
      int left;
      void operator()(sim::World& w) const {
        ++*ran;
        if (left > 0) w.spawn("link", Chain{ran, left - 1});
        sim::yield();
      }
    };
    w.spawn("link", Chain{&ran, 999});
    BOOST_TEST(w.run() == sim::Outcome::Completed);
    BOOST_TEST(w.task_count() == 1000u);
  }
  BOOST_TEST(ran == 1000);
  BOOST_TEST(pool.mapped() == 2u);
}

BOOST_AUTO_TEST_CASE(run_twice_is_refused) {
  sim::World w;
  sim::test::yielding_tasks({1})(w);
  w.run();
  BOOST_CHECK_THROW(w.run(), std::logic_error);
}

BOOST_AUTO_TEST_CASE(tasks_spawned_by_tasks_get_the_next_ids) {
  std::vector<std::string> labels;
  sim::World w;
  w.spawn("parent", [&labels](sim::World& world) {
    world.spawn("child", [&labels](sim::World& inner) { labels.push_back(inner.task_label(inner.current_task())); });
    labels.push_back(world.task_label(world.current_task()));
  });
  BOOST_TEST(w.run() == sim::Outcome::Completed);
  BOOST_TEST(labels == (std::vector<std::string>{"parent/0", "child/1"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(value_choices_are_enumerated_and_recorded) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;
  const sim::Model model = [&seen](sim::World& w) {
    w.spawn("chooser", [&seen](sim::World& world) {
      std::uint64_t a = world.choose(3);
      std::uint64_t b = world.choose(2);
      std::uint64_t none = world.choose(1);  // one option is no choice
      seen.emplace_back(a, b);
      expect(world, none == 0, "choose(1) must be 0");
    });
  };
  sim::ExploreResult r = sim::explore(model, exhaustive());
  BOOST_TEST(r.executions == 6u);
  BOOST_TEST(r.failing_executions == 0u);
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> expected = {{0, 0}, {0, 1}, {1, 0},
                                                                         {1, 1}, {2, 0}, {2, 1}};
  BOOST_TEST(seen == expected);

  sim::World w;
  model(w);
  w.run();
  BOOST_TEST(sim::to_string(w.schedule()) == "v0 v0");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(blocking)

BOOST_AUTO_TEST_CASE(wake_one_wakes_one_and_wake_all_the_rest) {
  int channel = 0;
  int opened = 0;
  std::string order;
  std::vector<std::size_t> woken;
  sim::World w;
  for (int i = 0; i < 3; ++i) {
    w.spawn("waiter", [&, i](sim::World& world) {
      while (opened == 0)
        world.block(&channel, "the gate");
      order += std::to_string(i);
      --opened;
    });
  }
  w.spawn("opener", [&](sim::World& world) {
    opened = 1;
    woken.push_back(world.wake_one(&channel) ? 1 : 0);
    sim::yield();
    opened += 2;
    woken.push_back(world.wake_all(&channel));
    woken.push_back(world.wake_all(&channel));
  });
  BOOST_TEST(w.run() == sim::Outcome::Completed);
  BOOST_TEST(woken == (std::vector<std::size_t>{1, 2, 0}), boost::test_tools::per_element());
  // wake_one takes the lowest id; the others follow in id order under the default choices.
  BOOST_TEST(order == "012");
}

BOOST_AUTO_TEST_CASE(a_blocked_task_is_not_scheduled) {
  int channel = 0;
  bool resumed = false;
  sim::World w;
  w.spawn("sleeper", [&](sim::World& world) {
    world.block(&channel, "nothing");
    resumed = true;
  });
  w.spawn("worker", [] {
    for (int i = 0; i < 5; ++i)
      sim::yield();
  });
  BOOST_TEST(w.run() == sim::Outcome::Deadlock);
  BOOST_TEST(!resumed);
  BOOST_TEST_REQUIRE(w.reports().size() == 1u);
  BOOST_TEST(w.reports()[0].kind == sim::bug::kDeadlock);
  // By the time run() returns, the blocked task has been unwound from its block() (without resuming).
  BOOST_TEST(w.task_state(0) == sim::TaskState::Finished);
  // With the sleeper blocked, the worker is the only runnable task: no decisions after the first.
  BOOST_TEST(w.schedule().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(virtual_time)

BOOST_AUTO_TEST_CASE(sleepers_wake_in_deadline_order_and_the_clock_jumps) {
  std::vector<std::pair<std::string, sim::Nanos>> wakes;
  std::vector<sim::Nanos> busy_clock;
  sim::World w;
  w.spawn("slow", [&](sim::World& world) {
    world.sleep_for(300);
    wakes.emplace_back("slow", world.now());
  });
  w.spawn("fast", [&](sim::World& world) {
    world.sleep_for(100);
    wakes.emplace_back("fast", world.now());
  });
  w.spawn("busy", [&](sim::World& world) {
    // Time stands still while any task can run.
    for (int i = 0; i < 4; ++i) {
      busy_clock.push_back(world.now());
      sim::yield();
    }
  });
  BOOST_TEST(w.run() == sim::Outcome::Completed);
  const std::vector<std::pair<std::string, sim::Nanos>> expected = {{"fast", 100}, {"slow", 300}};
  BOOST_TEST(wakes == expected);
  BOOST_TEST(busy_clock == (std::vector<sim::Nanos>{0, 0, 0, 0}), boost::test_tools::per_element());
  BOOST_TEST(w.now() == 300u);
}

BOOST_AUTO_TEST_CASE(deadline_order_holds_in_every_schedule) {
  const sim::Model model = [](sim::World& w) {
    auto fast_woke = std::make_shared<bool>(false);
    w.spawn("slow", [fast_woke](sim::World& world) {
      sim::yield();
      world.sleep_for(250);
      expect(world, *fast_woke, "slow woke before fast");
      expect(world, world.now() == 250, "slow woke at the wrong time");
    });
    w.spawn("fast", [fast_woke](sim::World& world) {
      sim::yield();
      world.sleep_for(40);
      expect(world, world.now() == 40, "fast woke at the wrong time");
      *fast_woke = true;
      sim::yield();
    });
  };
  sim::ExploreResult r = sim::explore(model, exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);
}

BOOST_AUTO_TEST_CASE(sleeps_add_up_and_equal_deadlines_are_a_choice) {
  sim::World w;
  w.spawn("stepper", [](sim::World& world) {
    for (int i = 0; i < 3; ++i)
      world.sleep_for(100);
  });
  BOOST_TEST(w.run() == sim::Outcome::Completed);
  BOOST_TEST(w.now() == 300u);

  // Two sleepers due at the same instant both become runnable; which goes first is the strategy's call.
  std::set<std::string> orders;
  std::string order;
  const sim::Model model = [&order](sim::World& world) {
    for (const char* name : {"a", "b"})
      world.spawn(name, [&order, name](sim::World& inner) {
        inner.sleep_for(70);
        order += name;
      });
  };
  sim::StrategyOptions so;
  so.kind = sim::StrategyKind::Exhaustive;
  auto strategy = sim::make_strategy(so);
  while (!strategy->exhausted()) {
    order.clear();
    sim::run_once(model, {}, strategy.get());
    orders.insert(order);
  }
  BOOST_TEST(orders == (std::set<std::string>{"ab", "ba"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_sleeper_does_not_hide_a_deadlock) {
  int channel = 0;
  sim::World w;
  w.spawn("stuck", [&](sim::World& world) { world.block(&channel, "a wake that never comes"); });
  w.spawn("napper", [](sim::World& world) { world.sleep_for(1000); });
  BOOST_TEST(w.run() == sim::Outcome::Deadlock);
  BOOST_TEST(w.now() == 1000u);  // the napper's timer fired first; then nothing was left
  BOOST_TEST_REQUIRE(w.reports().size() == 1u);
  BOOST_TEST_REQUIRE(w.reports()[0].details.size() == 1u);
  BOOST_TEST(w.reports()[0].details[0].starts_with("task stuck/0 waits for a wake that never comes at "));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(teardown)

// Yields in its destructor, as a reference release in a later layer would.
struct YieldingGuard {
  int* released;
  explicit YieldingGuard(int* r) : released(r) {}
  ~YieldingGuard() {
    sim::World::NoCancelScope scope(sim::world());
    sim::yield();
    ++*released;
  }
  YieldingGuard(const YieldingGuard&) = delete;
  YieldingGuard& operator=(const YieldingGuard&) = delete;
};

BOOST_AUTO_TEST_CASE(unfinished_tasks_are_unwound_when_a_bug_stops_the_execution) {
  int released = 0;
  bool ran_past = false;
  auto capture = std::make_shared<int>(0);
  const sim::Model model = [&](sim::World& w) {
    w.spawn("holder", [&] {
      YieldingGuard guard(&released);
      for (int i = 0; i < 10; ++i)
        sim::yield();
      ran_past = true;
    });
    w.spawn("crasher", [] {
      sim::yield();
      sim::KPtr<int> p = sim::kmalloc<int>(1);
      sim::kfree(p);
      sim::kfree(p);
    });
    w.spawn("never_started", [&, capture] { ran_past = true; });
  };
  // The holder takes one step (its guard is alive), then the crasher runs to its double free; after that
  // the default choices keep the crasher going, so the third task never starts.
  sim::Execution e = sim::replay(model, {{sim::Choice::Kind::Task, 0}, {sim::Choice::Kind::Task, 1}}, {});
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST(!e.diverged);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kDoubleFree);
  BOOST_TEST(e.reports[0].accessed_by->task == "crasher/1");
  // The holder was unwound from its yield: its guard's destructor ran, including the yield inside it.
  BOOST_TEST(released == 1);
  BOOST_TEST(!ran_past);
  // The task that never started still had its callable destroyed.
  BOOST_TEST(capture.use_count() == 1);
}

// A cancellation is a forced unwind (World::cancel_current): destructors and catch (...) blocks run, typed
// handlers do not see it, and a catch (...) that rethrows lets it go on to the task's entry.
BOOST_AUTO_TEST_CASE(a_cancellation_runs_catch_all_blocks_and_passes_typed_handlers) {
  int released = 0, caught_all = 0, caught_typed = 0;
  const sim::Model model = [&](sim::World& w) {
    w.spawn("holder", [&] {
      try {
        try {
          YieldingGuard guard(&released);
          for (int i = 0; i < 10; ++i)
            sim::yield();
        } catch (const std::exception&) {
          ++caught_typed;
        }
      } catch (...) {
        ++caught_all;
        throw;
      }
    });
    w.spawn("crasher", [] {
      sim::KPtr<int> p = sim::kmalloc<int>(1);
      sim::kfree(p);
      sim::kfree(p);
    });
  };
  sim::Execution e = sim::replay(model, {{sim::Choice::Kind::Task, 0}, {sim::Choice::Kind::Task, 1}}, {});
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);  // no task-exception report: the cancellation is not one
  BOOST_TEST(e.reports[0].kind == sim::bug::kDoubleFree);
  BOOST_TEST(released == 1);
  BOOST_TEST(caught_all == 1);
  BOOST_TEST(caught_typed == 0);
}

// A catch (...) that swallows the cancellation is a bug in the task: it is cancelled again at its next scheduling
// point, and abandoned once it has swallowed too many; the execution still ends with its report (it used to
// hang: every scheduling point in teardown cancelled the task before the step limit could abandon it).
BOOST_AUTO_TEST_CASE(a_task_that_swallows_its_cancellation_is_cancelled_again_then_abandoned) {
  int swallowed = 0;
  const sim::Model model = [&](sim::World& w) {
    w.spawn("swallower", [&] {
      for (;;) {
        try {
          sim::yield();
        } catch (...) {
          ++swallowed;
        }
      }
    });
    w.spawn("crasher", [] {
      sim::KPtr<int> p = sim::kmalloc<int>(1);
      sim::kfree(p);
      sim::kfree(p);
    });
  };
  sim::Execution e = sim::replay(model, {{sim::Choice::Kind::Task, 0}, {sim::Choice::Kind::Task, 1}}, {});
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kDoubleFree);
  BOOST_TEST(swallowed == 100);  // World's kCancellationLimit: the 101st cancellation abandons it
}

// The exceptions a task is handling are its own (the Itanium C++ ABI keeps them per thread, in __cxa_eh_globals;
// tasks are fibers of one thread): in every schedule, a `throw;` inside a handler rethrows the task's exception,
// whatever the other task threw and is handling meanwhile.
BOOST_AUTO_TEST_CASE(each_task_handles_its_own_exceptions) {
  const sim::Model model = [](sim::World& w) {
    for (const char* name : {"a", "b"})
      w.spawn(name, [&w, name] {
        try {
          throw std::runtime_error(name);
        } catch (...) {
          sim::yield();
          expect(w, std::uncaught_exceptions() == 0, std::string(name) + " sees an exception in flight");
          try {
            throw;
          } catch (const std::runtime_error& e) {
            expect(w, std::string(e.what()) == name, std::string(name) + " rethrew " + e.what());
          }
        }
      });
  };
  const sim::ExploreResult r = sim::explore(model, exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions >= 2u);
  BOOST_TEST(r.failures.empty(), (r.failures.empty() ? "" : r.failures[0].report.headline));
}

// A task cancelled while another one sits inside a catch block: the cancellation, caught by catch (...) blocks,
// cannot meet the other task's exception (libsupc++'s __cxa_begin_catch ends the process when a foreign exception
// is caught on top of another one).
BOOST_AUTO_TEST_CASE(a_task_is_cancelled_while_another_handles_an_exception) {
  int rethrown = 0;
  const sim::Model model = [&](sim::World& w) {
    // The world unwinds unfinished tasks in order of creation: the holder first, while the handler is still
    // inside its catch block.
    w.spawn("holder", [&] {
      try {
        for (int i = 0; i < 3; ++i)
          sim::yield();
      } catch (...) {
        ++rethrown;
        throw;
      }
    });
    w.spawn("handler", [] {
      try {
        throw std::runtime_error("handled");
      } catch (...) {
        for (int i = 0; i < 3; ++i)
          sim::yield();
      }
    });
    w.spawn("crasher", [] {
      sim::yield();
      sim::KPtr<int> p = sim::kmalloc<int>(1);
      sim::kfree(p);
      sim::kfree(p);
    });
  };
  const sim::ExploreResult r = sim::explore(model, exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  BOOST_TEST(r.failures[0].report.kind == sim::bug::kDoubleFree);
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST(rethrown > 0);
}

BOOST_AUTO_TEST_SUITE_END()
