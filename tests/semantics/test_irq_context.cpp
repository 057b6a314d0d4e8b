// IRQ context (issue 11, item 9), the part devsim models: lockdep's hard-IRQ usage states, interrupts disabled
// as atomic context, disable_irq/enable_irq/synchronize_irq, and sleeping in a handler.
//
// Kernel sources modelled:
// - kernel/locking/lockdep.c mark_lock() / print_usage_bug(): a lock class taken in hard-IRQ context
//   ({IN-HARDIRQ-W}) and also with interrupts enabled ({HARDIRQ-ON-W}) is "inconsistent lock state", in either
//   order and even if the two never overlapped in time.
// - include/linux/spinlock.h spin_lock_irqsave() / spin_unlock_irqrestore(), include/linux/irqflags.h
//   local_irq_save() / local_irq_restore(): with interrupts off the task is in atomic context
//   (kernel/sched/core.c __might_sleep checks irqs_disabled()).
// - kernel/irq/manage.c disable_irq() (mask, then synchronize_irq: wait for a running handler),
//   disable_irq_nosync() (no wait), enable_irq() (an interrupt raised while masked is resent: check_irq_resend).
// - kernel/irq/handle.c handle_irq_event(): handlers run in hard-IRQ context, where sleeping is a bug.
//
// Not modelled (documented in docs/driver-model.md): CPUs. A handler is a task of its own that interleaves with
// the others at scheduling points; it does not preempt one particular task, so the self-deadlock of an
// interrupt arriving on the CPU that holds the lock is found through lockdep's usage check, not by hanging.
//
// Each model is explored exhaustively within 2 preemptions (two tasks, a handful of scheduling points).
#define BOOST_TEST_MODULE semantics_irq_context
#include <boost/test/unit_test.hpp>

#include <memory>

#include "bus/irq.hpp"
#include "core/irqflags.hpp"
#include "core/mutex.hpp"
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
  for (const sim::Failure& f : r.failures) {
    if (f.report.kind == kind) continue;
    BOOST_TEST_MESSAGE(f.report.kind << ": " << f.report.headline);
    return false;
  }
  return true;
}

void violation(std::string what) {
  sim::Report r;
  r.kind = "model-violation";
  r.headline = std::move(what);
  sim::world().report(std::move(r));
}

constexpr unsigned kLine = 7;

struct Dev {
  core::SpinLock lock{"irq_test_dev_lock"};
  core::Mutex mutex{"irq_test_dev_mutex"};
  int counter = 0;
  bool in_handler = false;
  int handled = 0;
};
Dev* g_dev = nullptr;  // dev_id in C; a global so the handler (a plain function pointer) finds it
// LIFETIME: the handler is a task of its own and may be stopped mid-handler (holding a guard on g_dev->lock)
// when the execution ends with a report; the device must outlive that unwinding, which happens before the next
// execution's model runs. So the current device is owned here and replaced only by the next model.
std::shared_ptr<Dev> g_dev_owner;

enum class Handler { TakesLock, TakesMutex, Allocates, Marks };
Handler g_handler = Handler::TakesLock;

bus::IrqReturn handler(unsigned, void*) {
  Dev& d = *g_dev;
  switch (g_handler) {
    case Handler::TakesLock: {
      core::SpinLockGuard g = d.lock.guard();  // in a handler interrupts are off: a plain lock is right
      ++d.counter;
      break;
    }
    case Handler::TakesMutex: {
      core::MutexGuard g = d.mutex.guard();  // BUG: a mutex sleeps
      break;
    }
    case Handler::Allocates:
      sim::kfree(sim::kzalloc<Dev>());  // BUG: GFP_KERNEL may sleep
      break;
    case Handler::Marks:
      d.in_handler = true;
      sim::yield();
      d.in_handler = false;
      break;
  }
  ++d.handled;
  return bus::IrqReturn::Handled;
}

// The driver installs the handler, the hardware raises the line once, and process context takes the lock with
// a plain spin_lock() (the bug) or spin_lock_irqsave() (the fix).
sim::Model lock_model(bool irqsave, Handler h) {
  return [irqsave, h](sim::World& w) {
    auto d = std::make_shared<Dev>();
    g_dev_owner = d;
    g_dev = d.get();
    g_handler = h;
    w.spawn("driver", [d, irqsave] {
      bus::request_irq(kLine, handler, "irq_test", d.get());
      bus::raise_irq(kLine);
      if (irqsave) {
        core::SpinLockIrqSaveGuard g(d->lock);
        ++d->counter;
      } else {
        core::SpinLockGuard g = d->lock.guard();
        ++d->counter;
      }
      sim::world().sleep_for(1000);  // the handler has run by then
      bus::free_irq(kLine, d.get());
    });
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_spinlock_taken_in_a_handler_and_with_interrupts_enabled_is_inconsistent_lock_state) {
  sim::ExploreResult r = sim::explore(lock_model(false, Handler::TakesLock), exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  // Whichever runs first, the second use makes the class inconsistent; every schedule has both uses.
  BOOST_TEST(r.failing_executions == r.executions);
  BOOST_TEST(every_failure_is(r, core::bug::kInconsistentLockState));
  bool both_orders = false, a = false, b = false;
  for (const sim::Failure& f : r.failures) {
    a = a || f.report.headline.find("{HARDIRQ-ON-W} -> {IN-HARDIRQ-W}") != std::string::npos;
    b = b || f.report.headline.find("{IN-HARDIRQ-W} -> {HARDIRQ-ON-W}") != std::string::npos;
  }
  both_orders = a && b;
  BOOST_TEST(both_orders);
}

BOOST_AUTO_TEST_CASE(spin_lock_irqsave_in_process_context_is_clean) {
  sim::ExploreResult r = sim::explore(lock_model(true, Handler::TakesLock), exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);
}

BOOST_AUTO_TEST_CASE(sleeping_in_a_hard_irq_handler_is_sleep_in_atomic) {
  for (Handler h : {Handler::TakesMutex, Handler::Allocates}) {
    sim::ExploreResult r = sim::explore(lock_model(true, h), exhaustive());
    BOOST_TEST(r.exhausted);
    BOOST_TEST(r.failing_executions == r.executions);
    BOOST_TEST(every_failure_is(r, sim::bug::kSleepInAtomic));
  }
}

BOOST_AUTO_TEST_CASE(interrupts_disabled_is_atomic_context) {
  // local_irq_save() then a sleeping call: reported; balanced save/restore around non-sleeping work: clean.
  for (bool sleeps : {true, false}) {
    sim::Model m = [sleeps](sim::World& w) {
      auto d = std::make_shared<Dev>();
      w.spawn("t", [d, sleeps] {
        core::irqflags_t flags;
        core::local_irq_save(flags);
        if (!core::irqs_disabled()) violation("interrupts still enabled");
        if (sleeps)
          sim::kfree(sim::kzalloc<Dev>());
        else
          sim::kfree(sim::kzalloc<Dev>(sim::GFP_ATOMIC));
        core::local_irq_restore(flags);
        if (core::irqs_disabled()) violation("interrupts still disabled");
      });
    };
    sim::ExploreResult r = sim::explore(m, exhaustive());
    if (sleeps) {
      BOOST_TEST(r.failing_executions == r.executions);
      BOOST_TEST(every_failure_is(r, sim::bug::kSleepInAtomic));
    } else {
      BOOST_TEST(r.failing_executions == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(disable_irq_waits_for_the_handler_and_nosync_does_not) {
  // The handler marks itself running across a scheduling point. After disable_irq() no handler runs; after
  // disable_irq_nosync() one may still be running. A raise while masked is delivered by enable_irq().
  for (bool sync : {true, false}) {
    sim::Model m = [sync](sim::World& w) {
      auto d = std::make_shared<Dev>();
      g_dev_owner = d;
      g_dev = d.get();
      g_handler = Handler::Marks;
      w.spawn("driver", [d, sync] {
        bus::request_irq(kLine, handler, "irq_test", d.get());
        bus::raise_irq(kLine);
        sim::yield();
        if (sync)
          bus::disable_irq(kLine);
        else
          bus::disable_irq_nosync(kLine);
        if (d->in_handler) violation("a handler runs after disable_irq returned");
        const int before = d->handled;  // 0 or 1: the first raise may also have found the line masked
        bus::raise_irq(kLine);          // masked: held back
        sim::world().sleep_for(1000);
        if (d->handled != before) violation("an interrupt was delivered while the line was masked");
        bus::enable_irq(kLine);
        sim::world().sleep_for(1000);
        if (d->handled != before + 1) violation("enable_irq did not deliver the interrupt raised while masked");
        bus::free_irq(kLine, d.get());
      });
    };
    sim::ExploreResult r = sim::explore(m, exhaustive());
    BOOST_TEST(r.exhausted);
    if (sync) {
      BOOST_TEST(r.failing_executions == 0u);
    } else {
      BOOST_TEST(r.failing_executions > 0u);
      BOOST_TEST(every_failure_is(r, "model-violation"));
    }
  }
}
