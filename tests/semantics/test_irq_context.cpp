// IRQ context (issue 11, item 9): lockdep's hard-IRQ usage states, interrupts disabled as atomic context,
// disable_irq/enable_irq/synchronize_irq, sleeping in a handler, and CPUs: a handler runs on a CPU and preempts
// the task there, a CPU with interrupts off holds it back, and the self-deadlock of a plain spin_lock() against
// its own handler is executed and reported.
//
// Kernel sources modelled:
// - kernel/locking/lockdep.c mark_lock() / print_usage_bug(): a lock class taken in hard-IRQ context
//   ({IN-HARDIRQ-W}) and also with interrupts enabled ({HARDIRQ-ON-W}) is "inconsistent lock state", in either
//   order and even if the two never overlapped in time.
// - include/linux/spinlock.h spin_lock_irqsave() / spin_unlock_irqrestore(), include/linux/irqflags.h
//   local_irq_save() / local_irq_restore(): with interrupts off the task is in atomic context
//   (kernel/sched/core.c __might_sleep checks irqs_disabled()), and its CPU takes no interrupt until they are
//   restored (arch_local_irq_save clears the CPU's interrupt flag; the interrupt stays pending at the CPU).
// - kernel/irq/handle.c handle_irq_event(): handlers run in hard-IRQ context on the CPU the interrupt arrived
//   on, on top of the task they interrupted, which does not run again until the handler returns
//   (kernel/softirq.c irq_enter / irq_exit bracket it); sleeping there is a bug.
// - kernel/locking/spinlock.c _raw_spin_lock(): a spinlock spins with interrupts as they are; a handler spinning
//   for a lock that the task it interrupted holds never gets it, and kernel/watchdog.c
//   watchdog_hardlockup_check() reports the CPU ("Watchdog detected hard LOCKUP").
// - kernel/irq/manage.c disable_irq() (mask, then synchronize_irq: wait for a running handler),
//   disable_irq_nosync() (no wait), enable_irq() (an interrupt raised while masked is resent: check_irq_resend).
//
// Not modelled (docs/driver-model.md): a fixed number of CPUs (there is one per task), migration, affinity,
// softirqs. Each model is explored exhaustively within 2 preemptions (one or three tasks besides the handler, a
// handful of scheduling points).
#define BOOST_TEST_MODULE semantics_irq_context
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "bus/irq.hpp"
#include "core/compiler.hpp"
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
  int observed = -1;                       // Observes: what the handler saw
  sim::TaskId interrupted = sim::kNoTask;  // Watches / Observes: the task the handler preempted
  bool saw_change = false;                 // Watches: the counter moved while the handler ran
  int flag = 0;                            // SpinsForFlag: set by process context
};
Dev* g_dev = nullptr;  // dev_id in C; a global so the handler (a plain function pointer) finds it
// LIFETIME: the handler is a task of its own and may be stopped mid-handler (holding a guard on g_dev->lock)
// when the execution ends with a report; the device must outlive that unwinding, which happens before the next
// execution's model runs. So the current device is owned here and replaced only by the next model.
std::shared_ptr<Dev> g_dev_owner;

enum class Handler { TakesLock, TakesMutex, Allocates, Marks, Observes, Watches, SpinsForFlag };
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
    case Handler::Observes:
      d.observed = d.counter;
      d.interrupted = core::interrupted_task();
      break;
    case Handler::Watches: {
      d.interrupted = core::interrupted_task();
      const int before = d.counter;
      sim::yield();  // every other task that can run may run here
      const int after = d.counter;
      sim::yield();
      d.saw_change = before != after || after != d.counter;
      break;
    }
    case Handler::SpinsForFlag:
      while (__atomic_load_n(&d.flag, __ATOMIC_ACQUIRE) == 0)
        core::cpu_relax();
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
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
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

// kernel/irq/handle.c handle_irq_event() runs the handler on the interrupted CPU; kernel/locking/spinlock.c
// _raw_spin_lock() spins there forever when the interrupted task holds the lock; kernel/watchdog.c
// watchdog_hardlockup_check() reports the CPU. The kernel's lockdep warns first and lets the machine run into the
// hang: with stop_on_first_bug off the explorer does the same.
BOOST_AUTO_TEST_CASE(plain_spin_lock_and_the_handler_on_its_cpu_is_a_hard_lockup_executed) {
  sim::ExploreOptions o = exhaustive();
  o.world.stop_on_first_bug = false;
  sim::ExploreResult r = sim::explore(lock_model(false, Handler::TakesLock), o);
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  BOOST_TEST(r.exhausted);
  bool lockup = false, lockdep = false, other = false;
  for (const sim::Failure& f : r.failures) {
    if (f.report.kind == sim::bug::kHardLockup) {
      lockup = true;
      BOOST_TEST_MESSAGE(sim::render_text(f.report));
      // The handler waits for the lock its victim, the driver, holds; the victim is named as preempted.
      BOOST_TEST(f.report.headline.find("hard LOCKUP: interrupt handler irq/7") != std::string::npos);
      BOOST_TEST(f.report.headline.find("spinlock irq_test_dev_lock") != std::string::npos);
      BOOST_TEST(f.report.headline.find("on the CPU of task driver/0, which it preempted") != std::string::npos);
      bool holder_named = false;
      for (const std::string& d : f.report.details)
        holder_named = holder_named || d.find("task driver/0 is preempted on its CPU by interrupt handler irq/7") == 0;
      BOOST_TEST(holder_named);
    } else if (f.report.kind == core::bug::kInconsistentLockState) {
      lockdep = true;
    } else {
      other = true;  // never a step budget, a plain deadlock or anything else
      BOOST_TEST_MESSAGE(f.report.kind << ": " << f.report.headline);
    }
  }
  BOOST_TEST(lockup);
  BOOST_TEST(lockdep);
  BOOST_TEST(!other);
  // Not every schedule hangs: the handler may also arrive before or after the lock is held, or on an idle CPU
  // while the driver sleeps.
  const auto lockups = std::count_if(r.failures.begin(), r.failures.end(),
                                     [](const sim::Failure& f) { return f.report.kind == sim::bug::kHardLockup; });
  BOOST_TEST(lockups == 1);
  for (const sim::Failure& f : r.failures)
    if (f.report.kind == sim::bug::kHardLockup) BOOST_TEST(f.count < r.executions);
}

// include/linux/spinlock.h spin_lock_irqsave(): interrupts off on this CPU before the lock is taken, so the handler
// is held back here, or runs on another CPU and spins until the lock is released. Clean on every schedule, with
// stop_on_first_bug on and off (nothing is hidden behind a first report).
BOOST_AUTO_TEST_CASE(spin_lock_irqsave_in_process_context_is_clean) {
  for (bool stop : {true, false}) {
    sim::ExploreOptions o = exhaustive();
    o.world.stop_on_first_bug = stop;
    sim::ExploreResult r = sim::explore(lock_model(true, Handler::TakesLock), o);
    BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
    BOOST_TEST(r.exhausted);
    BOOST_TEST(r.executions > 1u);
    BOOST_TEST(r.failing_executions == 0u);
  }
}

// include/linux/irqflags.h local_irq_save() / local_irq_restore(): while interrupts are off on the driver's CPU,
// an interrupt aimed there waits; the handler sees only what the driver left after local_irq_restore(). With
// interrupts on, it may arrive in between; with a second CPU idle (a task asleep), it may run there meanwhile.
BOOST_AUTO_TEST_CASE(local_irq_save_holds_the_handler_back_on_its_cpu) {
  enum class Variant { IrqSave, Plain, IrqSaveWithIdleCpu };
  for (Variant v : {Variant::IrqSave, Variant::Plain, Variant::IrqSaveWithIdleCpu}) {
    sim::Model m = [v](sim::World& w) {
      auto d = std::make_shared<Dev>();
      g_dev_owner = d;
      g_dev = d.get();
      g_handler = Handler::Observes;
      w.spawn("driver", [d, v] {
        bus::request_irq(kLine, handler, "irq_test", d.get());
        core::irqflags_t flags = 0;
        if (v != Variant::Plain) core::local_irq_save(flags);
        bus::raise_irq(kLine);  // the device completes synchronously: its interrupt is pending from here
        d->counter = 1;
        sim::yield();
        d->counter = 2;
        sim::yield();
        if (v != Variant::Plain) core::local_irq_restore(flags);
        sim::world().sleep_for(1000);  // the handler has run by then
        if (d->handled != 1) violation("the interrupt was never delivered");
        if (d->observed != 2) violation("the handler saw the state before local_irq_restore");
        bus::free_irq(kLine, d.get());
      });
      if (v == Variant::IrqSaveWithIdleCpu) w.spawn("sleeper", [] { sim::world().sleep_for(1); });
    };
    sim::ExploreResult r = sim::explore(m, exhaustive());
    BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
    BOOST_TEST(r.exhausted);
    if (v == Variant::IrqSave) {
      BOOST_TEST(r.failing_executions == 0u);
    } else {
      BOOST_TEST(r.failing_executions > 0u);
      BOOST_TEST(r.failing_executions < r.executions);
      BOOST_TEST(every_failure_is(r, "model-violation"));
    }
  }
}

// kernel/irq/handle.c handle_irq_event(): the handler runs on top of the task it interrupted, which resumes only
// after the handler returns (irq_exit): however the other tasks are scheduled at the handler's scheduling points,
// that task's counter does not move. On an idle CPU the handler preempts nobody and the task runs beside it.
BOOST_AUTO_TEST_CASE(a_handler_preempts_the_task_on_its_cpu_until_it_returns) {
  for (bool idle_cpu : {false, true}) {
    sim::Model m = [idle_cpu](sim::World& w) {
      auto d = std::make_shared<Dev>();
      g_dev_owner = d;
      g_dev = d.get();
      g_handler = Handler::Watches;
      w.spawn("driver", [d] {
        bus::request_irq(kLine, handler, "irq_test", d.get());
        bus::raise_irq(kLine);
        for (int i = 0; i < 3; ++i) {
          ++d->counter;
          sim::yield();
        }
        sim::world().sleep_for(1000);  // the handler has returned by then
        if (d->saw_change && d->interrupted == 0) violation("the preempted driver ran while its handler ran");
        if (d->saw_change && d->interrupted == sim::kNoTask) violation("on an idle CPU the driver ran beside it");
        bus::free_irq(kLine, d.get());
      });
      if (idle_cpu) w.spawn("sleeper", [] { sim::world().sleep_for(1); });
    };
    sim::ExploreResult r = sim::explore(m, exhaustive());
    BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
    BOOST_TEST(r.exhausted);
    if (!idle_cpu) {
      // One CPU: the handler can only preempt the driver (or arrive once it sleeps or ended).
      BOOST_TEST(r.failing_executions == 0u);
    } else {
      BOOST_TEST(r.failing_executions > 0u);
      bool beside = false;
      for (const sim::Failure& f : r.failures) {
        BOOST_TEST(f.report.headline.find("preempted driver ran") == std::string::npos);
        beside = beside || f.report.headline.find("idle CPU the driver ran beside it") != std::string::npos;
      }
      BOOST_TEST(beside);
    }
  }
}

BOOST_AUTO_TEST_CASE(sleeping_in_a_hard_irq_handler_is_sleep_in_atomic) {
  for (Handler h : {Handler::TakesMutex, Handler::Allocates}) {
    sim::ExploreResult r = sim::explore(lock_model(true, h), exhaustive());
    BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
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
    BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
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
      // A second CPU, idle while this task sleeps: a handler there runs beside the driver (on the driver's own
      // CPU it would preempt it, and nothing could run in between).
      w.spawn("sleeper", [] { sim::world().sleep_for(1); });
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
    BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
    BOOST_TEST(r.exhausted);
    if (sync) {
      BOOST_TEST(r.failing_executions == 0u);
    } else {
      BOOST_TEST(r.failing_executions > 0u);
      BOOST_TEST(every_failure_is(r, "model-violation"));
    }
  }
}

// Deferring the choice of a handler's CPU to its first wait (World::hardirq_defer, docs/architecture.md "CPUs") is
// a reduction: it must reach exactly the distinct reports that choosing at the entry reaches, on models where the
// CPU matters (a lock the interrupted task holds, a flag it would set, whom the handler interrupted) and with an
// idle CPU present (a sleeping task), which is when the choice is deferred. And it must not explore more.
// kernel/irq/handle.c handle_irq_event() (the handler on the interrupted CPU), kernel/watchdog.c
// watchdog_hardlockup_check() (a handler that never returns there).
BOOST_AUTO_TEST_CASE(choosing_the_cpu_at_the_first_wait_finds_what_choosing_at_the_entry_finds) {
  struct Case {
    const char* name;
    Handler handler;
    bool irqsave;      // process context takes the lock with interrupts off
    bool sets_flag;    // process context sets the flag the SpinsForFlag handler waits for
    bool two_drivers;  // a second process-context task that takes the lock too
  };
  const Case cases[] = {
      {"plain lock", Handler::TakesLock, false, false, false},
      {"irqsave lock", Handler::TakesLock, true, false, false},
      {"plain lock, two tasks", Handler::TakesLock, false, false, true},
      {"irqsave lock, two tasks", Handler::TakesLock, true, false, true},
      {"spin for a flag the driver sets", Handler::SpinsForFlag, false, true, false},
      {"spin for a flag, two tasks", Handler::SpinsForFlag, false, true, true},
      {"observes whom it interrupted", Handler::Observes, false, false, true},
      {"watches", Handler::Watches, true, false, true},
  };
  using Signatures = std::set<std::pair<std::string, std::string>>;
  for (const Case& c : cases) {
    for (bool stop : {true, false}) {
      sim::Model m = [c](sim::World& w) {
        auto d = std::make_shared<Dev>();
        g_dev_owner = d;
        g_dev = d.get();
        g_handler = c.handler;
        w.spawn("sleeper", [] { sim::world().sleep_for(1); });  // leaves an idle CPU
        auto process = [d, c](bool raises) {
          if (raises) {
            sim::world().sleep_for(10);  // the sleeper is gone by then: its CPU is idle at every raise
            bus::request_irq(kLine, handler, "irq_test", d.get());
            bus::raise_irq(kLine);
          }
          if (c.irqsave) {
            core::SpinLockIrqSaveGuard g(d->lock);
            ++d->counter;
          } else {
            core::SpinLockGuard g = d->lock.guard();
            ++d->counter;
          }
          if (c.sets_flag && raises) __atomic_store_n(&d->flag, 1, __ATOMIC_RELEASE);
          if (raises) {
            sim::world().sleep_for(1000);
            bus::free_irq(kLine, d.get());
          }
        };
        w.spawn("driver", [process] { process(true); });
        if (c.two_drivers) w.spawn("other", [process] { process(false); });
      };
      std::pair<Signatures, std::uint64_t> by_mode[2];
      for (bool defer : {false, true}) {
        sim::ExploreOptions o = exhaustive();
        o.world.stop_on_first_bug = stop;
        o.world.defer_hardirq_cpu = defer;
        sim::ExploreResult r = sim::explore(m, o);
        BOOST_TEST(r.exhausted);
        for (const sim::Failure& f : r.failures)
          by_mode[defer].first.emplace(f.report.kind, f.report.headline);
        by_mode[defer].second = r.executions;
      }
      BOOST_TEST_MESSAGE(c.name << (stop ? "" : ", running on after a report") << ": at the entry " << by_mode[0].second
                                << " executions, " << by_mode[0].first.size() << " distinct; at the first wait "
                                << by_mode[1].second << ", " << by_mode[1].first.size());
      BOOST_TEST_CONTEXT(c.name << ", stop_on_first_bug " << stop) {
        BOOST_TEST((by_mode[1].first == by_mode[0].first));
        BOOST_TEST(by_mode[1].second <= by_mode[0].second);
      }
    }
  }
}

// The flag the handler spins for is set by the task it interrupted, so on that task's CPU it never is: a hard
// lockup, found although the choice of CPU is deferred until the handler's first cpu_relax().
BOOST_AUTO_TEST_CASE(a_handler_spinning_for_what_its_victim_would_do_is_a_hard_lockup) {
  sim::Model m = [](sim::World& w) {
    auto d = std::make_shared<Dev>();
    g_dev_owner = d;
    g_dev = d.get();
    g_handler = Handler::SpinsForFlag;
    w.spawn("sleeper", [] { sim::world().sleep_for(1); });
    w.spawn("driver", [d] {
      sim::world().sleep_for(10);  // the sleeper is gone by then: its CPU is idle
      bus::request_irq(kLine, handler, "irq_test", d.get());
      bus::raise_irq(kLine);
      sim::yield();  // the handler may run from here on, on this CPU or the idle one
      __atomic_store_n(&d->flag, 1, __ATOMIC_RELEASE);
      sim::world().sleep_for(1000);
      bus::free_irq(kLine, d.get());
    });
  };
  sim::ExploreResult r = sim::explore(m, exhaustive());
  BOOST_TEST_MESSAGE(r.executions << " executions, " << r.failing_executions << " failing");
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions > 0u);
  BOOST_TEST(r.failing_executions < r.executions);  // on the idle CPU the driver sets the flag
  BOOST_TEST(every_failure_is(r, sim::bug::kHardLockup));
  for (const sim::Failure& f : r.failures)
    BOOST_TEST(f.report.headline.find("on the CPU of task driver/1") != std::string::npos);
}
