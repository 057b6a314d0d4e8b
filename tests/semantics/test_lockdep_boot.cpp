// lockdep sees what the kernel's lockdep sees (issue 11, item 10): the dependency graph lasts for a whole
// exploration (one "boot"), and work items and SRCU domains carry lockdep maps.
//
// Kernel sources modelled:
// - kernel/locking/lockdep.c: the dependency graph (lock_classes, list_entries) lives from boot to reboot;
//   check_prev_add() / check_noncircular() find a cycle through dependencies recorded at any earlier time.
// - kernel/workqueue.c process_one_work(): lock_map_acquire(&work->lockdep_map) around the work function;
//   __flush_work() (flush_work, cancel_work_sync): lock_map_acquire(&work->lockdep_map) + lock_map_release,
//   whether or not the work is pending — so flushing under a lock the work takes is reported even when the work
//   already finished.
// - include/linux/srcu.h srcu_read_lock(): srcu_lock_acquire(&ssp->dep_map) (a recursive read);
//   kernel/rcu/srcutree.c __synchronize_srcu(): srcu_lock_sync(&ssp->dep_map). An ABBA between two
//   srcu_structs (read s1 + synchronize s2 against read s2 + synchronize s1) is reported on schedules that do
//   not hang; read-read nesting in both orders is not a deadlock (recursive reads) and is not reported.
// - Completions: current kernels give them no lockdep map (the cross-release checks, CONFIG_LOCKDEP_COMPLETIONS,
//   were removed in 4.15: kernel/locking/lockdep.c has no completion hooks, include/linux/completion.h no map).
//   devsim matches: a completion wait under a lock is found only by the engine, on a schedule that hangs.
//
// Every model is explored exhaustively within 2 preemptions: one to three tasks with a few scheduling points.
#define BOOST_TEST_MODULE semantics_lockdep_boot
#include <boost/test/unit_test.hpp>

#include <memory>

#include "bus/workqueue.hpp"
#include "core/completion.hpp"
#include "core/lockdep.hpp"
#include "core/mutex.hpp"
#include "core/srcu.hpp"
#include "sim/explorer.hpp"
#include "sim/world.hpp"

using namespace devsim;

namespace {

sim::ExploreOptions exhaustive(int preemptions = 2) {
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Exhaustive;
  o.strategy.preemption_bound = preemptions;
  o.max_executions = 0;
  return o;
}

bool every_failure_is(const sim::ExploreResult& r, std::string_view kind) {
  for (const sim::Failure& f : r.failures) {
    if (f.report.kind == kind) continue;
    BOOST_TEST_MESSAGE(f.report.kind << ": " << f.report.headline);
    return false;
  }
  return true;
}

struct Locks {
  core::Mutex a{"boot_lock_a"};
  core::Mutex b{"boot_lock_b"};
};

// One task per execution takes both locks, in the order the execution's first value choice says: A -> B in
// one execution, B -> A in another, never both in one.
sim::Model one_order_per_execution(bool same_order) {
  return [same_order](sim::World& w) {
    auto l = std::make_shared<Locks>();
    w.spawn("t", [l, same_order] {
      const bool a_first = same_order || sim::world().choose(2) == 0;
      core::Mutex& first = a_first ? l->a : l->b;
      core::Mutex& second = a_first ? l->b : l->a;
      core::MutexGuard g1 = first.guard();
      core::MutexGuard g2 = second.guard();
    });
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_inversion_across_two_executions_of_one_exploration_is_reported) {
  sim::ExploreResult r = sim::explore(one_order_per_execution(false), exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions == 2u);
  BOOST_TEST(r.failing_executions == 1u);  // the second order closes the cycle
  BOOST_TEST(every_failure_is(r, core::bug::kLockOrderInversion));
}

BOOST_AUTO_TEST_CASE(one_order_across_executions_is_clean_and_a_lone_execution_has_its_own_graph) {
  sim::ExploreResult r = sim::explore(one_order_per_execution(true), exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u);
  // Outside an exploration (run_once, replay) there is no boot: each execution starts with an empty graph.
  sim::Execution e = sim::run_once(one_order_per_execution(false));
  BOOST_TEST(e.reports.empty());
}

namespace {

struct WorkModel {
  bus::WorkStruct work;
  core::Mutex m{"boot_work_mutex"};
  int runs = 0;
};
WorkModel* g_work = nullptr;  // the work function's way back to its model (container_of in C)

void work_fn(bus::WorkStruct&) {
  core::MutexGuard g = g_work->m.guard();
  ++g_work->runs;
}

// The work takes M. The flusher waits until the work has finished (virtual time), then flushes or cancels it,
// under M (the bug: a deadlock whenever the work is still pending or running) or after dropping it.
sim::Model flush_model(bool under_lock, bool cancel) {
  return [under_lock, cancel](sim::World& w) {
    auto s = std::make_shared<WorkModel>();
    g_work = s.get();
    w.spawn("driver", [s, under_lock, cancel] {
      bus::init_work(s->work, work_fn);
      bus::queue_work(s->work);
      sim::world().sleep_for(1000);  // the work has run and finished by now
      if (s->runs != 1) return;
      std::optional<core::MutexGuard> g;
      if (under_lock) g.emplace(s->m.guard());
      if (cancel)
        bus::cancel_work_sync(s->work);
      else
        bus::flush_work(s->work);
    });
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(flushing_a_work_under_a_lock_it_takes_is_reported_even_after_it_finished) {
  for (bool cancel : {false, true}) {
    sim::ExploreResult bad = sim::explore(flush_model(true, cancel), exhaustive());
    BOOST_TEST(bad.exhausted);
    BOOST_TEST(bad.failing_executions == bad.executions);
    BOOST_TEST(every_failure_is(bad, core::bug::kLockOrderInversion));
    BOOST_TEST(bad.failures.front().report.headline.find("(work_completion)") != std::string::npos);

    sim::ExploreResult good = sim::explore(flush_model(false, cancel), exhaustive());
    BOOST_TEST(good.exhausted);
    BOOST_TEST(good.failing_executions == 0u);
  }
}

namespace {

struct TwoSrcu {
  core::Srcu s1{"boot_srcu_1"};
  core::Srcu s2{"boot_srcu_2"};
  core::Mutex m{"boot_srcu_mutex"};
};

enum class SrcuCase { Abba, SameOrder, ReadRead, MutexInReader };

// Two tasks, the second starting after the first finished (virtual time): no schedule hangs.
sim::Model srcu_model(SrcuCase c) {
  return [c](sim::World& w) {
    auto s = std::make_shared<TwoSrcu>();
    auto body = [s, c](bool second) {
      core::Srcu& mine = second && c != SrcuCase::SameOrder ? s->s2 : s->s1;
      core::Srcu& other = &mine == &s->s1 ? s->s2 : s->s1;
      switch (c) {
        case SrcuCase::Abba:
        case SrcuCase::SameOrder: {
          core::SrcuReadGuard g = mine.read_lock();
          other.synchronize();
          break;
        }
        case SrcuCase::ReadRead: {
          core::SrcuReadGuard g1 = mine.read_lock();
          core::SrcuReadGuard g2 = other.read_lock();
          break;
        }
        case SrcuCase::MutexInReader:
          if (!second) {
            core::SrcuReadGuard g = s->s1.read_lock();
            core::MutexGuard l = s->m.guard();
          } else {
            core::MutexGuard l = s->m.guard();
            s->s1.synchronize();
          }
          break;
      }
    };
    w.spawn("first", [body] { body(false); });
    w.spawn("second", [body] {
      sim::world().sleep_for(1000);
      body(true);
    });
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(srcu_abba_is_reported_on_a_schedule_that_does_not_hang) {
  for (SrcuCase c : {SrcuCase::Abba, SrcuCase::MutexInReader}) {
    sim::ExploreResult r = sim::explore(srcu_model(c), exhaustive());
    BOOST_TEST_CONTEXT("case " << static_cast<int>(c)) {
      BOOST_TEST(r.exhausted);
      BOOST_TEST(r.failing_executions == r.executions);
      BOOST_TEST(every_failure_is(r, core::bug::kLockOrderInversion));
    }
  }
}

BOOST_AUTO_TEST_CASE(srcu_in_one_order_and_nested_read_sections_are_clean) {
  for (SrcuCase c : {SrcuCase::SameOrder, SrcuCase::ReadRead}) {
    sim::ExploreResult r = sim::explore(srcu_model(c), exhaustive());
    BOOST_TEST_CONTEXT("case " << static_cast<int>(c)) {
      BOOST_TEST(r.exhausted);
      BOOST_TEST(every_failure_is(r, "none"));
      BOOST_TEST(r.failing_executions == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(completions_carry_no_lockdep_map_as_in_current_kernels) {
  // The waiter waits under M for a completion whose completer takes M. On schedules where the completer runs
  // first nothing hangs, and (as in the kernel since 4.15) lockdep says nothing; where the waiter goes first
  // the engine reports the real deadlock.
  sim::Model m = [](sim::World& w) {
    auto lock = std::make_shared<core::Mutex>("boot_completion_mutex");
    auto done = std::make_shared<core::Completion>();
    w.spawn("waiter", [lock, done] {
      core::MutexGuard g = lock->guard();
      done->wait_for_completion();
    });
    w.spawn("completer", [lock, done] {
      { core::MutexGuard g = lock->guard(); }
      done->complete();
    });
  };
  sim::ExploreResult r = sim::explore(m, exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions > 0u);
  BOOST_TEST(r.failing_executions < r.executions);
  BOOST_TEST(every_failure_is(r, sim::bug::kDeadlock));
}
