// PROVE_RCU (issue 11, item 13): an RCU-protected pointer dereferenced outside a read-side critical section of
// the right flavour is "suspicious RCU usage"; rcu_dereference_protected()/_check() take the update side's
// condition; rcu_assign_pointer() and kfree_rcu() on raw pointers.
//
// Kernel sources modelled:
// - include/linux/rcupdate.h rcu_dereference_check(p, c): checks `(c) || rcu_read_lock_held()`;
//   rcu_dereference(p) is rcu_dereference_check(p, 0); rcu_dereference_protected(p, c) checks `c` alone
//   (RCU_LOCKDEP_WARN); rcu_dereference_raw() checks nothing.
// - include/linux/srcu.h srcu_dereference_check(p, ssp, c): `(c) || srcu_read_lock_held(ssp)`: an RCU section
//   does not make an SRCU pointer safe, nor an SRCU section an RCU one.
// - kernel/rcu/update.c lockdep_rcu_suspicious(): the "suspicious RCU usage" splat.
// - include/linux/rcupdate.h rcu_assign_pointer() (a release store) and kfree_rcu() (free after a grace period).
//
// Each model is explored exhaustively within 2 preemptions (a reader and an updater, a few scheduling points).
#define BOOST_TEST_MODULE semantics_prove_rcu
#include <boost/test/unit_test.hpp>

#include <memory>
#include <optional>

#include "core/kbox.hpp"
#include "core/mutex.hpp"
#include "core/rcu.hpp"
#include "core/rcu_pointer.hpp"
#include "core/rcu_ptr.hpp"
#include "core/srcu.hpp"
#include "sim/explorer.hpp"
#include "sim/kmalloc.hpp"
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
  for (const sim::Failure& f : r.failures)
    if (f.report.kind != kind) return false;
  return true;
}

struct Config {
  int value = 1;
};

// A global RCU-protected pointer (a C driver's `static struct config __rcu *cfg`) with its update-side lock.
struct Globals {
  sim::KPtr<Config> cfg;
  core::Mutex cfg_lock{"prove_rcu_cfg_lock"};
  core::Srcu srcu{"prove_rcu_srcu"};
};

enum class Reader { RcuSection, NoSection, SrcuSectionOnly, SrcuDeref, SrcuDerefInRcuOnly, CheckWithCond };

// One reader dereferences the pointer in the way `how` says; one updater replaces it (under the lock, with
// rcu_dereference_protected) and frees the old value after a grace period (kfree_rcu, or synchronize + kfree
// for SRCU).
sim::Model model(Reader how) {
  return [how](sim::World& w) {
    auto g = std::make_shared<Globals>();
    w.spawn("setup", [g, how, &w] {
      {
        core::MutexGuard l = g->cfg_lock.guard();
        core::rcu_assign_pointer(g->cfg, sim::kmalloc(Config{1}));
      }
      w.spawn("reader", [g, how] {
        std::optional<core::RcuReadGuard> rcu;
        std::optional<core::SrcuReadGuard> srcu;
        sim::KPtr<Config> c;
        switch (how) {
          case Reader::RcuSection:
            rcu.emplace();
            c = core::rcu_dereference(g->cfg);
            break;
          case Reader::NoSection:
            c = core::rcu_dereference(g->cfg);
            break;
          case Reader::SrcuSectionOnly:
            srcu.emplace(g->srcu.read_lock());
            c = core::rcu_dereference(g->cfg);
            break;
          case Reader::SrcuDeref:
            srcu.emplace(g->srcu.read_lock());
            c = core::srcu_dereference(g->cfg, g->srcu);
            break;
          case Reader::SrcuDerefInRcuOnly:
            rcu.emplace();
            c = core::srcu_dereference(g->cfg, g->srcu);
            break;
          case Reader::CheckWithCond: {
            core::MutexGuard l = g->cfg_lock.guard();
            c = core::rcu_dereference_check(g->cfg, g->cfg_lock.held_by_current());
            (void)c.load(&Config::value);
            return;
          }
        }
        if (c) (void)c.load(&Config::value);
      });
      w.spawn("updater", [g, how] {
        sim::KPtr<Config> old;
        {
          core::MutexGuard l = g->cfg_lock.guard();
          old = core::rcu_dereference_protected(g->cfg, g->cfg_lock.held_by_current());
          core::rcu_assign_pointer(g->cfg, sim::kmalloc(Config{2}));
        }
        const bool srcu_reader = how == Reader::SrcuDeref || how == Reader::SrcuSectionOnly;
        if (srcu_reader) {
          g->srcu.synchronize();
          sim::kfree(old);
        } else {
          core::kfree_rcu(old);
        }
      });
    });
    w.spawn("teardown", [g] {
      sim::world().sleep_for(1000);  // after everyone: drop the last value
      core::MutexGuard l = g->cfg_lock.guard();
      sim::KPtr<Config> last = core::rcu_dereference_protected(g->cfg, g->cfg_lock.held_by_current());
      core::rcu_assign_pointer(g->cfg, sim::KPtr<Config>());
      core::kfree_rcu(last);
    });
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(dereferences_in_a_read_section_of_the_right_flavour_are_clean) {
  for (Reader how : {Reader::RcuSection, Reader::SrcuDeref, Reader::CheckWithCond}) {
    sim::ExploreResult r = sim::explore(model(how), exhaustive());
    BOOST_TEST_CONTEXT("reader " << static_cast<int>(how)) {
      BOOST_TEST(r.exhausted);
      BOOST_TEST(r.executions > 1u);
      BOOST_TEST(r.failing_executions == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(dereferences_outside_a_read_section_of_the_right_flavour_are_suspicious) {
  for (Reader how : {Reader::NoSection, Reader::SrcuSectionOnly, Reader::SrcuDerefInRcuOnly}) {
    sim::ExploreResult r = sim::explore(model(how), exhaustive());
    BOOST_TEST_CONTEXT("reader " << static_cast<int>(how)) {
      BOOST_TEST(r.exhausted);
      // Reported in every schedule, whether or not the freed value was really read: lockdep checks the context,
      // not the outcome.
      BOOST_TEST(r.failing_executions == r.executions);
      BOOST_TEST(every_failure_is(r, core::bug::kSuspiciousRcuUsage));
      BOOST_TEST(r.failures.front().report.headline.find("suspicious") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(rcu_dereference_protected_without_the_update_lock_is_suspicious) {
  sim::Model m = [](sim::World& w) {
    auto g = std::make_shared<Globals>();
    w.spawn("updater", [g] {
      // No cfg_lock: the condition is false.
      sim::KPtr<Config> old = core::rcu_dereference_protected(g->cfg, g->cfg_lock.held_by_current());
      (void)old;
    });
  };
  sim::ExploreResult r = sim::explore(m, exhaustive());
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST(every_failure_is(r, core::bug::kSuspiciousRcuUsage));
  BOOST_TEST(r.failures.front().report.headline.find("rcu_dereference_protected()") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(kfree_rcu_waits_for_readers_and_kfree_does_not) {
  // The reader holds the old value in its section; the updater frees it with kfree_rcu (clean) or kfree (a
  // use-after-free in the schedules where the reader reads after the free).
  for (bool use_kfree_rcu : {true, false}) {
    sim::Model m = [use_kfree_rcu](sim::World& w) {
      auto g = std::make_shared<Globals>();
      g->cfg = sim::kmalloc(Config{1});
      w.spawn("reader", [g] {
        core::RcuReadGuard rcu;
        sim::KPtr<Config> c = core::rcu_dereference(g->cfg);
        sim::yield();
        if (c) (void)c.load(&Config::value);  // null once the updater unpublished it
      });
      w.spawn("updater", [g, use_kfree_rcu] {
        sim::KPtr<Config> old = core::rcu_dereference_raw(g->cfg);  // sole updater
        core::rcu_assign_pointer(g->cfg, sim::KPtr<Config>());
        if (use_kfree_rcu)
          core::kfree_rcu(old);
        else
          sim::kfree(old);
      });
    };
    sim::ExploreResult r = sim::explore(m, exhaustive());
    BOOST_TEST(r.exhausted);
    if (use_kfree_rcu) {
      BOOST_TEST(r.failing_executions == 0u);
      for (const sim::Failure& f : r.failures)
        BOOST_TEST_MESSAGE(f.report.kind << ": " << f.report.headline);
    } else {
      BOOST_TEST(r.failing_executions > 0u);
      BOOST_TEST(every_failure_is(r, sim::bug::kUseAfterFree));
    }
  }
}

BOOST_AUTO_TEST_CASE(rcu_p_dereference_with_an_ended_guard_is_suspicious) {
  for (bool ended : {false, true}) {
    sim::Model m = [ended](sim::World& w) {
      auto cfg = std::make_shared<core::Rcu<core::KBox<Config>>>(core::KBox<Config>::make(Config{3}));
      w.spawn("reader", [cfg, ended] {
        core::RcuReadGuard g;
        if (ended) g.unlock();
        auto v = cfg->dereference(g);
        (void)v;
      });
    };
    sim::ExploreResult r = sim::explore(m, exhaustive());
    if (ended) {
      BOOST_TEST(r.failing_executions == r.executions);
      BOOST_TEST(every_failure_is(r, core::bug::kSuspiciousRcuUsage));
    } else {
      BOOST_TEST(r.failing_executions == 0u);
    }
  }
}
