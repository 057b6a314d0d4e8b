// GFP flags (issue 11, item 11): an allocation that may sleep in atomic context is a bug even when this one
// would not have slept; GFP_ATOMIC and GFP_NOWAIT never sleep.
//
// Kernel sources modelled:
// - include/linux/sched/mm.h might_alloc(): might_sleep_if(gfpflags_allow_blocking(gfp_mask)), called from
//   mm/slab.h / mm/slub.c slab_pre_alloc_hook() on every kmalloc/kzalloc/kmem_cache_alloc.
// - include/linux/gfp.h gfpflags_allow_blocking(): __GFP_DIRECT_RECLAIM; include/linux/gfp_types.h: GFP_KERNEL,
//   GFP_NOIO and GFP_NOFS include it, GFP_ATOMIC and GFP_NOWAIT do not.
// - kernel/sched/core.c __might_sleep(): "sleeping function called from invalid context" in atomic context
//   (a spinlock held, an RCU read-side section, a hard-IRQ handler).
//
// Each model is explored exhaustively within 2 preemptions (two tasks, a lock and an allocation: every
// interleaving is within the bound).
#define BOOST_TEST_MODULE semantics_gfp
#include <boost/test/unit_test.hpp>

#include <memory>

#include "bus/irq.hpp"
#include "core/rcu.hpp"
#include "core/spinlock.hpp"
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

struct Item {
  int value = 0;
};

enum class Context { Process, Spinlock, Rcu };

// Two tasks each allocate an item with `flags` in `context`, then free it; one of them contends for the lock.
sim::Model allocate_in(Context ctx, sim::gfp_t flags, bool zeroed) {
  return [=](sim::World& w) {
    auto lock = std::make_shared<core::SpinLock>("gfp_test_lock");
    for (int i = 0; i < 2; ++i) {
      w.spawn("t" + std::to_string(i), [lock, ctx, flags, zeroed] {
        std::optional<core::SpinLockGuard> held;
        std::optional<core::RcuReadGuard> rcu;
        if (ctx == Context::Spinlock) held.emplace(lock->guard());
        if (ctx == Context::Rcu) rcu.emplace();
        sim::KPtr<Item> p = zeroed ? sim::kzalloc<Item>(flags) : sim::kmalloc(Item{7}, flags);
        if (p) sim::kfree(p);
      });
    }
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_sleeping_allocation_in_atomic_context_is_sleep_in_atomic) {
  for (sim::gfp_t flags : {sim::GFP_KERNEL, sim::GFP_NOIO, sim::GFP_NOFS, sim::GFP_KERNEL | sim::__GFP_ZERO}) {
    for (Context ctx : {Context::Spinlock, Context::Rcu}) {
      for (bool zeroed : {false, true}) {
        sim::ExploreResult r = sim::explore(allocate_in(ctx, flags, zeroed), exhaustive());
        BOOST_TEST(r.exhausted);
        BOOST_TEST(r.failing_executions == r.executions);
        BOOST_TEST(every_failure_is(r, sim::bug::kSleepInAtomic));
        BOOST_TEST(r.failures.front().report.headline.find(std::string(sim::gfp_name(flags))) != std::string::npos);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(atomic_allocations_are_fine_in_atomic_context) {
  for (sim::gfp_t flags : {sim::GFP_ATOMIC, sim::GFP_NOWAIT, sim::GFP_ATOMIC | sim::__GFP_ZERO}) {
    for (Context ctx : {Context::Spinlock, Context::Rcu}) {
      for (bool zeroed : {false, true}) {
        sim::ExploreResult r = sim::explore(allocate_in(ctx, flags, zeroed), exhaustive());
        BOOST_TEST(r.exhausted);
        BOOST_TEST(r.executions > 1u);
        BOOST_TEST(r.failing_executions == 0u);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(any_allocation_is_fine_in_process_context) {
  for (sim::gfp_t flags : {sim::GFP_KERNEL, sim::GFP_ATOMIC, sim::GFP_NOWAIT}) {
    sim::ExploreResult r = sim::explore(allocate_in(Context::Process, flags, false), exhaustive());
    BOOST_TEST(r.exhausted);
    BOOST_TEST(r.failing_executions == 0u);
  }
}

BOOST_AUTO_TEST_CASE(the_default_flags_are_gfp_kernel) {
  // kmalloc(value) / kzalloc<T>() without flags are GFP_KERNEL: reported under a spinlock.
  sim::Model m = [](sim::World& w) {
    auto lock = std::make_shared<core::SpinLock>("gfp_default_lock");
    w.spawn("t", [lock] {
      core::SpinLockGuard g = lock->guard();
      sim::kfree(sim::kzalloc<Item>());
    });
  };
  sim::ExploreResult r = sim::explore(m, exhaustive());
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST(every_failure_is(r, sim::bug::kSleepInAtomic));
  BOOST_TEST(r.failures.front().report.headline.find("kmalloc(GFP_KERNEL)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_irq_handler_may_allocate_with_gfp_atomic_only) {
  // A hard-IRQ handler runs in atomic context (bus/irq.hpp): GFP_ATOMIC is the kernel's rule there.
  for (bool atomic : {true, false}) {
    static bool s_atomic;
    s_atomic = atomic;
    sim::Model m = [](sim::World& w) {
      w.spawn("hw", [] {
        bus::request_irq(
            5,
            [](unsigned, void*) {
              sim::KPtr<Item> p = sim::kzalloc<Item>(s_atomic ? sim::GFP_ATOMIC : sim::GFP_KERNEL);
              if (p) sim::kfree(p);
              return bus::IrqReturn::Handled;
            },
            "gfp_test", nullptr);
        bus::raise_irq(5);
        sim::world().sleep_for(1000);  // let the handler run before the line goes
        bus::free_irq(5, nullptr);
      });
    };
    sim::ExploreResult r = sim::explore(m, exhaustive());
    BOOST_TEST(r.exhausted);
    if (atomic) {
      BOOST_TEST(r.failing_executions == 0u);
    } else {
      BOOST_TEST(r.failing_executions == r.executions);
      BOOST_TEST(every_failure_is(r, sim::bug::kSleepInAtomic));
    }
  }
}
