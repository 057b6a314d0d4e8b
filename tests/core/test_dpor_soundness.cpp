// Soundness of exhaustive search's partial-order reductions (sim/strategy.cpp): on small random models (2-4
// tasks, a few shared objects, mutexes, RCU readers and updaters, frees; in some suites sleeps, completions,
// spawns, signals and hard-IRQ handlers), plain exhaustive search, sleep sets and
// DPOR must reach the same set of distinct reports (kind and sites: Report::signature) and the same set of final
// states of the executions that completed. Every model is generated from a fixed seed, so a failure names the
// seed that reproduces it.
//
// Causes of disagreement found with this test and covered by it:
// - objects outside simulated memory (here the mutexes, on the C++ heap) can be at another address in the next
//   execution, and a sleep set compares footprints across executions (sim/footprint.hpp names host objects by
//   first touch instead); `host_objects_that_move_between_executions` makes them move on purpose;
// - sleep sets under a preemption bound, used as without one, lose schedules within the bound: a task sleeps there
//   only where the order that ran it first had the budget (sim/strategy.cpp, Exhaustive::bound_slack);
// - a signal that found its target exited touched nothing, so DPOR never tried it before the exit, where it
//   interrupts the target (seed 40191 of `signals_and_interrupts`; World::send_signal now reads the target's
//   state); and a hard-IRQ handler's entry must read every task's state once it no longer conflicts with
//   everything (seeds 40002 and 40005 fail without those reads);
// - a waiter re-checks its primitive's state after it is woken, and that read was in no footprint: a timed wait
//   whose timeout fired at the instant another task completed it never saw the completion under DPOR (seed
//   100877 of `at_the_shipped_bound`; World::block and World::block_wait now read the channel after the wake).
//
// The comparison can fail: `an_incomplete_search_is_caught` shows it catching a search that skips interleavings.
#define BOOST_TEST_MODULE core_dpor_soundness
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/compiler.hpp"
#include "core/completion.hpp"
#include "core/irqflags.hpp"
#include "core/mutex.hpp"
#include "core/rcu.hpp"
#include "core/waitqueue.hpp"
#include "sim/boot.hpp"
#include "sim/explorer.hpp"
#include "sim/kmalloc.hpp"

using namespace devsim;

namespace {

// splitmix64: the generator's own stream, the same on every platform.
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int below(int n) { return static_cast<int>(next() % static_cast<std::uint64_t>(n)); }
};

enum class OpKind {
  Read,          // read object a (a scheduling point first, as a core/ handle does)
  Write,         // write object a
  Locked,        // under mutex a: read object b, then write it
  RcuRead,       // rcu_read_lock, load the published pointer, read through it, rcu_read_unlock
  RcuUpdate,     // unpublish the pointer, synchronize_rcu, kfree the old object
  RcuUpdateBad,  // the same without synchronize_rcu: a reader may use it after the free
  Free,          // kfree object a (twice from two tasks: a double free)
  Hidden,        // read-modify-write of a host variable: shared state the footprints cannot see (negative test)
  // With ModelSpec::blocking only:
  Sleep,     // sleep for a+1 ms of virtual time
  Complete,  // complete() completion a
  Wait,      // wait for completion a: forever if b is 0 (a deadlock if nobody completes it), else at most 1 ms
  Spawn,     // start a task that writes object a
  // With ModelSpec::interrupts only:
  Signal,         // send a signal to task a (a scenario's `signal`: a yield, then World::send_signal)
  WaitSignalled,  // wait_for_completion_interruptible on completion a: completed, or interrupted by a signal
  CheckSignal,    // signal_pending(), then deliver it as a return to user space does
  Interrupt,      // raise an interrupt: a hard-IRQ handler task that writes object a and notes whom it interrupted
  IrqsOff,        // local_irq_disable, write object a, local_irq_enable
  // With ModelSpec::more only:
  Spin,                  // spin (cpu_relax) while object a reads 0, at most three rounds
  Kill,                  // send SIGKILL to task a
  WaitKillable,          // wait_for_completion_killable on completion a
  WaitSignalledTimeout,  // wait_for_completion_interruptible_timeout on completion a, 1 ms
  CompleteAll,           // complete_all() completion a
  TryLock,               // mutex_trylock a: if taken, write object b and unlock
  // With ModelSpec::queues only:
  QueueWait,  // wait_event_interruptible_timeout on the queue, 1 ms, until object a or object b is non-zero
  QueueWake,  // write object a, then wake_up_all the queue
};

struct Op {
  OpKind kind;
  int a = 0;
  int b = 0;
};

struct ModelSpec {
  int objects = 2;
  int mutexes = 1;
  bool move_host_objects = false;  // place the mutexes at another host address in every execution
  bool blocking = false;           // sleeps, completions and spawns too (OpKind::Sleep to Spawn)
  bool interrupts = false;         // and signals and hard-IRQ handlers (OpKind::Signal to IrqsOff)
  bool more = false;               // and spins, SIGKILL, killable and timed waits, complete_all, trylock
  bool queues = false;             // and a wait queue whose condition reads two objects (OpKind::QueueWait)
  std::vector<std::vector<Op>> tasks;
  std::string describe() const {
    std::ostringstream o;
    for (std::size_t t = 0; t < tasks.size(); ++t) {
      o << " t" << t << ":";
      for (const Op& op : tasks[t])
        o << " " << static_cast<int>(op.kind) << "/" << op.a << "/" << op.b;
    }
    return o.str();
  }
};

constexpr int kCompletions = 2;

// Sizes chosen so that plain exhaustive search of a model stays in the thousands of executions.
ModelSpec generate(std::uint64_t seed, bool blocking = false, bool interrupts = false, bool more = false,
                   bool queues = false) {
  Rng rng{seed * 0x2545f4914f6cdd1dULL + 7};
  ModelSpec m;
  m.blocking = blocking || interrupts || more || queues;
  m.interrupts = interrupts || more || queues;
  m.more = more || queues;
  m.queues = queues;
  const int tasks = 2 + rng.below(3);
  m.objects = 1 + rng.below(3);
  m.mutexes = 1 + rng.below(2);
  const int max_ops = tasks == 2 ? 3 : tasks == 3 ? 2 : 1;
  m.tasks.resize(static_cast<std::size_t>(tasks));
  for (auto& ops : m.tasks) {
    const int n = 1 + rng.below(max_ops);
    for (int i = 0; i < n; ++i) {
      Op op;
      const int r = rng.below(queues ? 50 : more ? 46 : m.interrupts ? 37 : m.blocking ? 27 : 20);
      op.kind = r < 5    ? OpKind::Read
                : r < 10 ? OpKind::Write
                : r < 13 ? OpKind::Locked
                : r < 16 ? OpKind::RcuRead
                : r < 18 ? OpKind::RcuUpdate
                : r < 19 ? OpKind::RcuUpdateBad
                : r < 20 ? OpKind::Free
                : r < 22 ? OpKind::Sleep
                : r < 24 ? OpKind::Complete
                : r < 26 ? OpKind::Wait
                : r < 27 ? OpKind::Spawn
                : r < 29 ? OpKind::Signal
                : r < 31 ? OpKind::WaitSignalled
                : r < 32 ? OpKind::CheckSignal
                : r < 35 ? OpKind::Interrupt
                : r < 37 ? OpKind::IrqsOff
                : r < 39 ? OpKind::Spin
                : r < 40 ? OpKind::Kill
                : r < 42 ? OpKind::WaitKillable
                : r < 44 ? OpKind::WaitSignalledTimeout
                : r < 45 ? OpKind::CompleteAll
                : r < 46 ? OpKind::TryLock
                : r < 48 ? OpKind::QueueWait
                         : OpKind::QueueWake;
      const bool on_completion = op.kind == OpKind::Complete || op.kind == OpKind::Wait ||
                                 op.kind == OpKind::WaitSignalled || op.kind == OpKind::WaitKillable ||
                                 op.kind == OpKind::WaitSignalledTimeout || op.kind == OpKind::CompleteAll;
      const bool on_task = op.kind == OpKind::Signal || op.kind == OpKind::Kill;
      const bool on_mutex = op.kind == OpKind::Locked || op.kind == OpKind::TryLock;
      op.a = rng.below(on_mutex ? m.mutexes : on_completion ? kCompletions : on_task ? tasks : m.objects);
      op.b = rng.below(m.objects);
      ops.push_back(op);
    }
  }
  return m;
}

// One execution's simulated state, for the final-state comparison (host memory: it outlives the world).
struct State {
  std::vector<sim::KPtr<int>> objects;
  sim::KPtr<sim::KPtr<int>> slot;  // the RCU-published pointer
  std::vector<std::unique_ptr<core::Mutex, void (*)(core::Mutex*)>> mutexes;
  std::vector<std::unique_ptr<core::Completion>> completions;
  core::WaitQueue queue;
  std::vector<std::vector<int>> seen;  // per task: the values it read, in order
  std::vector<int> interrupted;        // per handler, in spawn order: the task whose CPU it took (-1: an idle one)
  int hidden = 0;
  // Object `a` accessed as instrumented driver code accesses it: a scheduling point, then the access.
  int read(sim::World& w, int a) const {
    sim::KPtr<int> p = objects[static_cast<std::size_t>(a)];
    w.data_access_point(sim::EventKind::Read, p.unchecked());
    return p.read();
  }
  void write(sim::World& w, int a, int value) const {
    sim::KPtr<int> p = objects[static_cast<std::size_t>(a)];
    w.data_access_point(sim::EventKind::Write, p.unchecked());
    p.write() = value;
  }
};

sim::Model make_model(const ModelSpec& spec, std::shared_ptr<State>* out) {
  return [spec, out](sim::World& w) {
    auto s = std::make_shared<State>();
    *out = s;
    for (int i = 0; i < spec.objects; ++i)
      s->objects.push_back(sim::kmalloc<int>(0));
    s->slot = sim::kmalloc<sim::KPtr<int>>(sim::kmalloc<int>(100));
    // The host allocator usually hands the same addresses back in the next execution; under ASan's quarantine it
    // never does. Moving mutexes take turns between three places, so that they move in every build.
    // LIFETIME: the previous execution's State (and its mutexes) was released by `*out = s` above.
    static unsigned execution = 0;
    const unsigned place = ++execution % 3;
    for (int i = 0; i < spec.mutexes; ++i) {
      if (spec.move_host_objects) {
        alignas(core::Mutex) static unsigned char places[3][4][sizeof(core::Mutex)];
        s->mutexes.emplace_back(new (places[place][i]) core::Mutex("dpor_test_mutex"),
                                [](core::Mutex* m) { m->~Mutex(); });
      } else {
        s->mutexes.emplace_back(new core::Mutex("dpor_test_mutex"), [](core::Mutex* m) { delete m; });
      }
    }
    for (int i = 0; i < kCompletions; ++i)
      s->completions.push_back(std::make_unique<core::Completion>());
    s->seen.resize(spec.tasks.size());
    for (std::size_t t = 0; t < spec.tasks.size(); ++t) {
      w.spawn("t" + std::to_string(t), [s, ops = spec.tasks[t], t](sim::World& w) {
        std::vector<int>& seen = s->seen[t];
        const int mark = static_cast<int>(t + 1);
        for (const Op& op : ops) {
          switch (op.kind) {
            case OpKind::Read:
              seen.push_back(s->read(w, op.a));
              break;
            case OpKind::Write:
              s->write(w, op.a, mark);
              break;
            case OpKind::Locked: {
              core::Mutex& m = *s->mutexes[static_cast<std::size_t>(op.a)];
              m.lock();
              const int v = s->read(w, op.b);
              seen.push_back(v);
              s->write(w, op.b, v * 10 + mark);
              m.unlock();
              break;
            }
            case OpKind::RcuRead: {
              core::RcuReadGuard g;
              w.data_access_point(sim::EventKind::Read, s->slot.unchecked());
              sim::KPtr<int> p = s->slot.read();
              if (p) {
                w.data_access_point(sim::EventKind::Read, p.unchecked());
                seen.push_back(p.read());
              } else {
                seen.push_back(-1);
              }
              break;
            }
            case OpKind::RcuUpdate:
            case OpKind::RcuUpdateBad: {
              w.data_access_point(sim::EventKind::Read, s->slot.unchecked());
              sim::KPtr<int> old = s->slot.read();
              w.data_access_point(sim::EventKind::Write, s->slot.unchecked());
              s->slot.write() = nullptr;
              if (op.kind == OpKind::RcuUpdate) core::synchronize_rcu();
              if (old) sim::kfree(old);
              break;
            }
            case OpKind::Free:
              sim::kfree(s->objects[static_cast<std::size_t>(op.a)]);
              break;
            case OpKind::Hidden: {
              w.yield();
              const int v = s->hidden;
              w.yield();
              s->hidden = v * 10 + mark;
              seen.push_back(v);
              break;
            }
            case OpKind::Sleep:
              w.sleep_for(static_cast<sim::Nanos>(op.a + 1) * 1'000'000);
              break;
            case OpKind::Complete:
              s->completions[static_cast<std::size_t>(op.a)]->complete();
              break;
            case OpKind::Wait: {
              core::Completion& c = *s->completions[static_cast<std::size_t>(op.a)];
              if (op.b == 0) {
                c.wait_for_completion();
                seen.push_back(-2);
              } else {
                seen.push_back(c.wait_for_completion_timeout(1'000'000) != 0 ? -3 : -4);
              }
              break;
            }
            case OpKind::Spawn:
              w.spawn("child", [s, a = op.a](sim::World& w) { s->write(w, a, 9); });
              break;
            case OpKind::Signal:
              w.yield();
              w.send_signal(static_cast<sim::TaskId>(op.a), /*fatal=*/false);
              break;
            case OpKind::WaitSignalled: {
              core::Completion& c = *s->completions[static_cast<std::size_t>(op.a)];
              seen.push_back(c.wait_for_completion_interruptible() == 0 ? -2 : -5);
              break;
            }
            case OpKind::CheckSignal:
              w.yield();
              seen.push_back(w.signal_pending() ? -6 : -7);
              w.deliver_signals();
              break;
            case OpKind::Interrupt: {
              const std::size_t slot = s->interrupted.size();
              s->interrupted.push_back(-2);  // the handler has not run
              // As bus/irq.cpp's raise_irq: a task per delivery, which is no CPU of its own.
              const sim::TaskId handler = w.spawn("irq", [s, a = op.a, slot](sim::World& w) {
                core::hardirq_enter(sim::Site::current());
                s->write(w, a, 7);
                const sim::TaskId victim = core::interrupted_task();
                s->interrupted[slot] = victim == sim::kNoTask ? -1 : static_cast<int>(victim);
                core::hardirq_exit();
              });
              core::note_irq_task(handler);
              break;
            }
            case OpKind::Spin: {
              int rounds = 0;
              for (;;) {
                if (s->read(w, op.a) != 0 || rounds == 3) break;
                ++rounds;
                core::cpu_relax();
              }
              seen.push_back(100 + rounds);
              break;
            }
            case OpKind::Kill:
              w.yield();
              w.send_signal(static_cast<sim::TaskId>(op.a), /*fatal=*/true);
              break;
            case OpKind::WaitKillable: {
              core::Completion& c = *s->completions[static_cast<std::size_t>(op.a)];
              seen.push_back(c.wait_for_completion_killable() == 0 ? -2 : -8);
              break;
            }
            case OpKind::WaitSignalledTimeout: {
              core::Completion& c = *s->completions[static_cast<std::size_t>(op.a)];
              const long r = c.wait_for_completion_interruptible_timeout(1'000'000);
              seen.push_back(r > 0 ? -3 : r == 0 ? -4 : -9);
              break;
            }
            case OpKind::CompleteAll:
              s->completions[static_cast<std::size_t>(op.a)]->complete_all();
              break;
            case OpKind::TryLock: {
              core::Mutex& m = *s->mutexes[static_cast<std::size_t>(op.a)];
              if (m.try_lock()) {
                s->write(w, op.b, mark);
                m.unlock();
                seen.push_back(-10);
              } else {
                seen.push_back(-11);
              }
              break;
            }
            case OpKind::QueueWait: {
              // Each read of the condition is a scheduling point: a wake-up can come between them.
              const long r = s->queue.wait_event_interruptible_timeout(
                  [&] { return s->read(w, op.a) != 0 || s->read(w, op.b) != 0; }, 1'000'000);
              seen.push_back(r > 0 ? -12 : r == 0 ? -13 : -14);
              break;
            }
            case OpKind::QueueWake:
              s->write(w, op.a, mark);
              s->queue.wake_up_all();
              break;
            case OpKind::IrqsOff: {
              core::local_irq_disable();
              s->write(w, op.a, mark);
              core::local_irq_enable();
              break;
            }
          }
        }
      });
    }
  };
}

struct Outcomes {
  std::set<std::string> reports;  // Report::signature(): kind, access site, free site
  std::set<std::string> finals;   // final states of the executions that completed
  std::uint64_t executions = 0;
  std::uint64_t pruned = 0;
  bool exhausted = false;
};

std::string describe_state(const State& s) {
  std::ostringstream o;
  // LIFETIME: the world is still alive (called before it ends); freed objects stay readable in quarantine.
  for (const sim::KPtr<int>& p : s.objects)
    o << *p.unchecked() << ",";
  o << "|" << (*s.slot.unchecked() ? 1 : 0) << "|" << s.hidden << "|";
  for (int v : s.interrupted)
    o << v << ",";
  o << "|";
  for (const std::vector<int>& seen : s.seen) {
    for (int v : seen)
      o << v << ",";
    o << ";";
  }
  return o.str();
}

// Runs exhaustive search by hand (as explore() does) so that each completed execution's state can be read
// before its world ends.
Outcomes run(const ModelSpec& spec, const char* reduction, int preemption_bound, std::uint64_t limit) {
  sim::StrategyOptions so;
  so.kind = sim::StrategyKind::Exhaustive;
  so.preemption_bound = preemption_bound;
  BOOST_REQUIRE(sim::parse_reduction(reduction, &so));
  auto strategy = sim::make_strategy(so);
  sim::Boot boot;
  sim::StackPool pool;
  std::shared_ptr<State> state;
  sim::Model model = make_model(spec, &state);
  Outcomes out;
  while (out.executions < limit && strategy->begin_execution()) {
    ++out.executions;
    sim::WorldOptions wo;
    wo.detect_leaks = false;  // the models never free most objects; leaks would be in every execution
    sim::World w(wo, strategy.get(), &pool);
    model(w);
    const sim::Outcome outcome = w.run();
    strategy->end_execution(&w.final_segment());
    if (outcome == sim::Outcome::Pruned) {
      ++out.pruned;
      continue;
    }
    for (const sim::Report& r : w.reports())
      out.reports.insert(r.signature());
    if (outcome == sim::Outcome::Completed) out.finals.insert(describe_state(*state));
  }
  out.exhausted = strategy->exhausted();
  return out;
}

constexpr std::uint64_t kPlainLimit = 20'000;

// Under ASan every suite compares a fifth of its models (at least 8): the plain build runs the full comparison in
// the same CI, and here the run is for memory errors on the search's paths, which the first models already take;
// the full count took this suite from about 70 s to over 600 s, the longest test of the ASan stage. The
// regression seeds named above are reached only in the plain build. The build says which it is (this unit carries
// devsim's instrumentation, not ASan's, so the compiler's __SANITIZE_ADDRESS__ is not defined here).
#ifdef DEVSIM_UNDER_ASAN
constexpr int kModelDivisor = 5;
#else
constexpr int kModelDivisor = 1;
#endif

// Compares plain search with each of `reductions` on generated models until `wanted` models were compared.
// Plain search runs once per model: most of the time goes to it, and to the models too large for it (skipped).
void compare_on_generated_models(std::initializer_list<const char*> reductions, int preemption_bound, int wanted,
                                 std::uint64_t first_seed, bool move_host_objects = false, bool blocking = false,
                                 bool interrupts = false, bool more = false, bool queues = false) {
  if (kModelDivisor > 1) wanted = std::max(wanted / kModelDivisor, 8);
  int compared = 0, skipped = 0, with_reports = 0;
  std::uint64_t plain_total = 0;
  std::vector<std::uint64_t> reduced_total(reductions.size(), 0);
  for (std::uint64_t seed = first_seed; compared < wanted && seed < first_seed + 4 * wanted; ++seed) {
    ModelSpec spec = generate(seed, blocking, interrupts, more, queues);
    spec.move_host_objects = move_host_objects;
    Outcomes plain = run(spec, "none", preemption_bound, kPlainLimit);
    if (!plain.exhausted) {
      ++skipped;
      continue;
    }
    std::size_t r = 0;
    for (const char* reduction : reductions) {
      Outcomes reduced = run(spec, reduction, preemption_bound, kPlainLimit);
      BOOST_TEST_CONTEXT(reduction << " seed " << seed << " bound " << preemption_bound << spec.describe()) {
        BOOST_TEST(reduced.exhausted);
        BOOST_TEST(reduced.executions <= plain.executions);
        BOOST_TEST(reduced.reports == plain.reports, boost::test_tools::per_element());
        BOOST_TEST(reduced.finals == plain.finals, boost::test_tools::per_element());
      }
      reduced_total[r++] += reduced.executions;
    }
    ++compared;
    with_reports += plain.reports.empty() ? 0 : 1;
    plain_total += plain.executions;
  }
  BOOST_TEST_MESSAGE("bound " << preemption_bound << ": " << compared << " models compared (" << with_reports
                              << " with reports), " << skipped << " too large; executions plain " << plain_total);
  BOOST_TEST(compared == wanted);
  // The models must exercise the detectors, or agreeing on the empty set of reports would prove little.
  BOOST_TEST(with_reports >= wanted / 5);
  std::size_t r = 0;
  for (const char* reduction : reductions) {
    BOOST_TEST_MESSAGE("  " << reduction << ": " << reduced_total[r] << " executions");
    // Without a bound a reduction must reduce, or agreeing would be trivial. Under a bound DPOR adds every
    // reversal back and sleep sets sleep less, so on models this small either may prune nothing.
    if (preemption_bound < 0) BOOST_TEST(reduced_total[r] < plain_total, reduction);
    ++r;
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(sleep_sets_and_dpor_agree_with_plain_search_on_generated_models) {
  compare_on_generated_models({"sleep-sets", "dpor"}, /*preemption_bound=*/-1, /*wanted=*/200, /*first_seed=*/1);
}

BOOST_AUTO_TEST_CASE(bounded_dpor_agrees_with_bounded_plain_search_on_generated_models) {
  compare_on_generated_models({"sleep-sets", "dpor"}, /*preemption_bound=*/1, /*wanted=*/200, /*first_seed=*/10'001);
}

// Seeds 169 and 204 disagreed when footprints named host objects by address, 10003 to 10154 (ten of them) when
// bounded search used sleep sets as unbounded search does; these runs cover both, with the mutexes moving between
// executions.
BOOST_AUTO_TEST_CASE(host_objects_that_move_between_executions) {
  compare_on_generated_models({"sleep-sets", "dpor"}, /*preemption_bound=*/-1, /*wanted=*/40, /*first_seed=*/165, true);
  compare_on_generated_models({"dpor"}, /*preemption_bound=*/1, /*wanted=*/40, /*first_seed=*/10'001, true);
}

// Blocking, waking, time and spawning are described to the reductions precisely (sim/footprint.hpp): a wait and a
// complete() write the completion's channel, the woken or spawned task's next step is ordered after the step that
// made it runnable, and time advancing orders everything before it before everything after it. Models with
// sleeps, completion waits (some without a timeout, so deadlocks are among the reports) and tasks started by tasks.
BOOST_AUTO_TEST_CASE(sleeps_completions_and_spawns) {
  compare_on_generated_models({"sleep-sets", "dpor"}, /*preemption_bound=*/-1, /*wanted=*/100, /*first_seed=*/20'001,
                              false, true);
  compare_on_generated_models({"dpor"}, /*preemption_bound=*/1, /*wanted=*/100, /*first_seed=*/30'001, false, true);
}

// Signals and hard interrupts, described precisely since they were named in the footprints (before, each
// conflicted with everything): a signal writes its target's signal, and its state and wait channel when it wakes
// it (World::send_signal); signal_pending() reads the task's own; a handler's entry on an idle CPU reads every
// task's state and every candidate CPU's interrupt gate (World::hardirq_defer, core/irqflags.cpp enter_cpu);
// local_irq_disable/enable write the CPU's gate; interrupted_task() resolves the deferred CPU, which conflicts
// with everything. Kernel: kernel/signal.c signal_wake_up_state() (a signal wakes an interruptible sleeper),
// kernel/sched/completion.c do_wait_for_common() (-ERESTARTSYS), kernel/irq/handle.c handle_irq_event().
BOOST_AUTO_TEST_CASE(signals_and_interrupts) {
  compare_on_generated_models({"sleep-sets", "dpor"}, /*preemption_bound=*/-1, /*wanted=*/150, /*first_seed=*/40'001,
                              false, true, true);
  compare_on_generated_models({"dpor"}, /*preemption_bound=*/1, /*wanted=*/150, /*first_seed=*/50'001, false, true,
                              true);
}

// Spin-waits (World::spin_relax: a spinner wakes at any other task's progress, which conflicts with everything),
// SIGKILL and killable waits, interruptible waits with a timeout, complete_all() and mutex_trylock (a scheduling
// point that never waits). 800 models of this suite (seeds 200001 and 300001 on) agreed when it was written.
BOOST_AUTO_TEST_CASE(spins_kills_timeouts_and_trylock) {
  compare_on_generated_models({"sleep-sets", "dpor"}, /*preemption_bound=*/-1, /*wanted=*/100, /*first_seed=*/60'001,
                              false, true, true, true);
  compare_on_generated_models({"dpor"}, /*preemption_bound=*/1, /*wanted=*/100, /*first_seed=*/61'001, false, true,
                              true, true);
}

BOOST_AUTO_TEST_CASE(the_same_seed_gives_the_same_numbers) {
  const ModelSpec spec = generate(42);
  Outcomes a = run(spec, "dpor", -1, kPlainLimit);
  Outcomes b = run(spec, "dpor", -1, kPlainLimit);
  BOOST_TEST(a.executions == b.executions);
  BOOST_TEST(a.pruned == b.pruned);
  BOOST_TEST(a.finals == b.finals, boost::test_tools::per_element());
}

// The comparison can fail: an incomplete search (here plain search with a preemption bound of 0, against the
// unbounded one) loses the final states of a lost update (two read-modify-writes of a host variable with
// scheduling points between read and write), and the same set comparison sees it. (The
// host_objects_that_move_between_executions case catches the reductions as they were before its fixes.)
BOOST_AUTO_TEST_CASE(an_incomplete_search_is_caught) {
  ModelSpec spec;
  spec.objects = 1;
  spec.mutexes = 1;
  spec.tasks = {{Op{OpKind::Hidden}}, {Op{OpKind::Hidden}}};
  Outcomes full = run(spec, "none", -1, kPlainLimit);
  Outcomes partial = run(spec, "none", 0, kPlainLimit);
  BOOST_TEST(full.exhausted);
  BOOST_TEST(partial.exhausted);
  BOOST_TEST(full.finals.size() > 1u);
  BOOST_TEST(partial.finals != full.finals);
}

// The shipped scenarios explore with a bound of 2. Seed 100877 of the last run (a timed completion wait whose
// timeout fires at the instant another task's sleep ends before its complete_all) disagreed before the waiter's
// re-check after a wake-up was in its footprint (World::block, World::block_wait); 3,000 models of these suites
// agreed once it was.
BOOST_AUTO_TEST_CASE(at_the_shipped_bound) {
  compare_on_generated_models({"dpor"}, /*preemption_bound=*/2, /*wanted=*/100, /*first_seed=*/80'001);
  compare_on_generated_models({"dpor"}, /*preemption_bound=*/2, /*wanted=*/100, /*first_seed=*/90'001, true, true);
  compare_on_generated_models({"dpor"}, /*preemption_bound=*/2, /*wanted=*/100, /*first_seed=*/100'801, false, true,
                              true, true);
}

// A waiter whose timeout fires at the instant another task completes: both run after time advanced, and which
// runs first decides what the wait returns. kernel/sched/completion.c do_wait_for_common(): after
// schedule_timeout() returns, the loop re-reads x->done under the wait lock, so a complete() that got in first
// makes the timed-out wait succeed (it returns `timeout ?: 1`). Every reduction must reach both results.
BOOST_AUTO_TEST_CASE(a_timeout_and_a_completion_at_the_same_instant) {
  ModelSpec spec;
  spec.objects = 1;
  spec.blocking = spec.interrupts = spec.more = true;
  spec.tasks = {{Op{OpKind::WaitSignalledTimeout, 0}}, {Op{OpKind::Sleep, 0}, Op{OpKind::CompleteAll, 0}}};
  // What t0's wait returned (-3 completed, -4 timed out) is the last field of a final state.
  const auto results = [](const Outcomes& o) {
    std::set<std::string> r;
    for (const std::string& f : o.finals)
      r.insert(f.substr(f.find("-", f.rfind('|'))));
    return r;
  };
  const std::set<std::string> both{"-3,;;", "-4,;;"};
  for (int bound : {-1, 0, 1, 2}) {
    for (const char* reduction : {"none", "sleep-sets", "dpor"}) {
      BOOST_TEST_CONTEXT(reduction << " bound " << bound) {
        const Outcomes o = run(spec, reduction, bound, kPlainLimit);
        BOOST_TEST(o.exhausted);
        BOOST_TEST(results(o) == both, boost::test_tools::per_element());
      }
    }
  }
}

// The wide comparison, for a change to the reductions or to what footprints record: 1,500 models, 100 per family
// (plain; mutexes that move between executions; sleeps, completions and spawns; with signals and interrupts; with
// spins, kills and timeouts) at bounds 2, 3 and none, sleep sets and DPOR, on seeds no other suite uses. It would
// double this suite's time (about 90 s more on this machine kind, more under ASan), so ctest leaves it out:
// `build/tests/core/core_dpor_soundness --run_test=wide_comparison` runs it. All 1,500 agreed when it was written.
BOOST_AUTO_TEST_CASE(wide_comparison, *boost::unit_test::disabled()) {
  for (int bound : {2, 3, -1}) {
    const std::uint64_t at = 1000 * static_cast<std::uint64_t>(bound + 1);
    compare_on_generated_models({"sleep-sets", "dpor"}, bound, 100, 700'001 + at);
    compare_on_generated_models({"sleep-sets", "dpor"}, bound, 100, 710'001 + at, true);
    compare_on_generated_models({"sleep-sets", "dpor"}, bound, 100, 720'001 + at, false, true);
    compare_on_generated_models({"sleep-sets", "dpor"}, bound, 100, 730'001 + at, false, true, true);
    compare_on_generated_models({"sleep-sets", "dpor"}, bound, 100, 740'001 + at, false, true, true, true);
  }
}

// A wait queue whose condition reads two objects, each read a scheduling point (OpKind::QueueWait): the waiter's
// wake-up count (core/waitqueue.hpp) and its footprint. 1,000 + 1,000 + 1,000 models (seeds 800001, 810001 with a
// bound of 1, 820001 with 2) agreed when it was written.
BOOST_AUTO_TEST_CASE(wait_queues) {
  compare_on_generated_models({"sleep-sets", "dpor"}, /*preemption_bound=*/-1, /*wanted=*/100, /*first_seed=*/830'001,
                              false, true, true, true, true);
  compare_on_generated_models({"dpor"}, /*preemption_bound=*/2, /*wanted=*/100, /*first_seed=*/840'001, false, true,
                              true, true, true);
}
