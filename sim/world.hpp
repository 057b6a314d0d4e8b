// The world of one simulated execution: its tasks, scheduler, virtual clock, memory and reports.
#pragma once

#include <boost/container/small_vector.hpp>
#include <boost/context/detail/fcontext.hpp>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sim/choice.hpp"
#include "sim/event.hpp"
#include "sim/exception_state.hpp"
#include "sim/footprint.hpp"
#include "sim/memory.hpp"
#include "sim/race.hpp"
#include "sim/report.hpp"
#include "sim/site.hpp"
#include "sim/stack_pool.hpp"
#include "sim/stacktrace.hpp"
#include "sim/strategy.hpp"
#include "sim/trace.hpp"

namespace devsim::sim {

using Nanos = std::uint64_t;  // virtual nanoseconds

struct WorldOptions {
  std::size_t stack_size = StackPool::kDefaultStackSize;  // per task; ignored when a pool is supplied
  std::uint64_t step_budget = 100'000;  // scheduling points per execution before "livelock" is reported
  bool stop_on_first_bug = true;        // a fatal report ends the execution (KASAN with panic_on_warn)
  bool detect_leaks = true;             // kmemleak at the end of an execution that ran to completion
  bool trace = false;                   // record the Chrome/Perfetto trace
  // Fault injection, as the kernel's fail-nth: the Nth failable allocation of the execution fails (1-based; 0:
  // none). Failable: kmalloc/kzalloc and what later layers mark (devres entries).
  std::uint64_t fail_nth = 0;
  // A hard-IRQ handler's CPU is chosen when it first waits, not at its entry (World::hardirq_defer). Off: at the
  // entry, the reference the deferred choice is tested against (tests/semantics/test_irq_context.cpp).
  bool defer_hardirq_cpu = true;
};

enum class TaskState : std::uint8_t {
  Runnable,
  Blocked,    // waiting on a channel or for virtual time
  Finished,   // its body returned (or threw)
  Abandoned,  // stopped for good without unwinding (stack overflow, blocking during teardown)
};

// How an execution ended.
enum class Outcome : std::uint8_t {
  Completed,   // every task finished
  Stopped,     // a fatal report stopped it
  Deadlock,    // tasks blocked with nothing pending
  StepBudget,  // the step budget ran out
  Pruned,      // the strategy found it redundant (sleep sets) and cut it short
};
std::string_view to_string(Outcome outcome);

// How a held resource constrains its holder. An atomic hold (a spinlock, an RCU read section) forbids
// sleeping: blocking while holding one is reported as "sleep-in-atomic".
enum class HoldKind : std::uint8_t { Sleepable, Atomic };

// How a sleep reacts to signals (the kernel's TASK_UNINTERRUPTIBLE, TASK_INTERRUPTIBLE, TASK_KILLABLE):
// an interruptible sleep ends on any signal, a killable one only on a fatal signal.
enum class WaitMode : std::uint8_t { Uninterruptible, Interruptible, Killable };
// Why block_wait() returned.
enum class WaitResult : std::uint8_t { Woken, Signalled, TimedOut };

class World;

namespace detail {
// LIFETIME: set by a World's constructor and restored by its destructor, so it always names a live world of
// this thread (worlds nest like scopes). Inline in the header: core/ asks for it on every operation, and
// natively (null) that must cost one thread-local load, not a call.
inline thread_local World* t_current = nullptr;
}  // namespace detail

// One simulated thread of execution. A task's control block lives at the top of its own stack, so spawning
// allocates nothing.
// INVARIANT: `ctx` is the saved context of a suspended task; it is null while the task runs and after it
// finished or was abandoned.
struct Task {
  TaskId id = kNoTask;
  TaskState state = TaskState::Runnable;
  World* world = nullptr;
  Stack stack;
  boost::context::detail::fcontext_t ctx = nullptr;
  void* body = nullptr;  // the callable, stored on the task's stack
  void (*run_body)(void*) = nullptr;
  void (*destroy_body)(void*) = nullptr;
  bool started = false;
  bool body_alive = true;  // the callable has not been destroyed yet
  bool cancelled = false;  // the world is ending: unwind at the next switch point
  std::uint32_t no_cancel_depth = 0;
  // Inside World::NotHungScope: its uninterruptible waits are not the kernel's TASK_UNINTERRUPTIBLE.
  std::uint32_t not_hung_depth = 0;
  // Inside World::RemovalScope: removing a device or a driver, which must finish without any process's help.
  std::uint32_t removal_depth = 0;
  std::uint32_t cancellations = 0;  // unwinds begun; more than one means a catch (...) swallowed one
  // What the task waits for, while Blocked.
  const void* wait_channel = nullptr;
  std::string wait_what;
  Site wait_site;
  StackTrace wait_stack;  // the call stack at the block, for deadlock reports
  std::optional<Nanos> wake_at;
  Site last_site;  // the last scheduling point it passed
  std::uint64_t steps = 0;
  // Signals (World::send_signal). A user task stands for a process: at the end of an execution it is killed
  // out of interruptible and killable sleeps instead of being reported as deadlocked.
  bool user = false;
  bool signal_pending = false;
  bool fatal_signal = false;  // the pending signal is SIGKILL
  WaitMode wait_mode = WaitMode::Uninterruptible;
  WaitResult wake_reason = WaitResult::Woken;
  // Its sleep retests a condition when woken (block_wait's `retests`: a wait_event loop), so at the end of an
  // execution it can be woken once to test it before it is killed (World::probe_sleeping_users). Probing: woken for
  // that test; Probed: the test failed and it sleeps again, until a real wake-up.
  bool wait_retests = false;
  enum class Probe : std::uint8_t { None, Probing, Probed } probe = Probe::None;
  struct Held {
    const void* resource;
    std::string_view what;  // interned (sim/intern.hpp): recording a hold allocates nothing
    Site site;
    HoldKind kind = HoldKind::Sleepable;
  };
  std::vector<Held> held;  // resources it must release before exiting
  void* asan_fake_stack = nullptr;
  ExceptionState exceptions;  // its C++ exception state while it is switched out
  // Since its last scheduling point, it did something another task can observe (a shared access, a lock
  // taken or released, a wake-up, a free, a spawn): the next shared access needs a scheduling point of its
  // own. Until then, the previous point already offers every ordering an access could (docs/architecture.md).
  bool acted = false;
  std::uint32_t exclusive_holds = 0;  // mutexes and spinlocks held: accesses under them are not points
  // Set while it tests the condition of a wait it is queued for (World::NotRunningScope): the kernel's task is in
  // TASK_(UN)INTERRUPTIBLE then, set at this site by prepare_to_wait_event().
  std::optional<Site> not_running_since;
  // CPUs (World::hardirq_preempt). A task that is not a hard-IRQ handler has a CPU of its own; a handler runs on
  // the CPU of its victim (kNoTask: an idle CPU) while `hardirq` is set.
  // INVARIANT: a task whose `preempted_by` names a handler is not in the scheduler's runnable list, whatever its
  // state: it runs again only after that handler returned (hardirq_return).
  TaskId preempted_by = kNoTask;
  bool hardirq = false;
  TaskId hardirq_victim = kNoTask;
  std::uint64_t resumes = 0;         // times the scheduler switched to it
  std::uint64_t hardirqs_taken = 0;  // handlers that preempted it
  // A handler that entered on an idle CPU while these tasks' CPUs would also have taken it (World::hardirq_defer):
  // each with its `resumes` and `hardirqs_taken` at the entry.
  struct DeferredCpu {
    TaskId task;
    std::uint64_t resumes;
    std::uint64_t hardirqs_taken;
  };
  std::vector<DeferredCpu> deferred_cpus;
};

// The world owns every piece of simulated state of one execution. Build it, spawn tasks, call run() once.
//
// Tasks are fibers on the calling OS thread; exactly one runs at a time, and control changes hands only at
// scheduling points (yield, block, sleep, alloc, free, and whatever later layers mark). At each point with
// more than one runnable task, the strategy picks who runs next; that choice and every value choice are
// recorded, so the schedule replays the execution exactly.
//
// INVARIANT: no state is shared between worlds, so worlds on different OS threads run independently. A
// world must be built, run and destroyed on one thread.
class World {
 public:
  // `strategy` decides choices (default: keep running the current task, else the lowest id; values 0).
  // `pool` supplies stacks (default: a pool owned by this world). LIFETIME: both must outlive the world.
  explicit World(WorldOptions options = {}, Strategy* strategy = nullptr, StackPool* pool = nullptr);
  // Unwinds tasks that have not finished (cancel_current), then destroys all simulated objects.
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // The world running on this thread, if any (set while run() or a teardown executes).
  static World* current() { return detail::t_current; }

  // ---- building --------------------------------------------------------------------------------
  // Creates a runnable task running `body()` (or `body(World&)`). Callable from the model and from tasks.
  template <class F>
  TaskId spawn(std::string name, F&& body, const Site& site = Site::current());

  // Runs until every task finished, a fatal bug stopped it, a deadlock or the step budget. Once.
  Outcome run();

  // ---- called from tasks -------------------------------------------------------------------------
  // A scheduling point: the strategy may switch to another task here. `object` (if any) is what the
  // operation about to happen touches, for the trace and for partial-order reduction.
  void yield(EventKind kind = EventKind::Yield, const void* object = nullptr, const Site& site = Site::current());
  // The scheduling point of a plain data access at `object` that the caller checks itself right after (a core/
  // handle's checked read or write). Unlike a primitive's point (yield with an object), it creates no
  // happens-before edge and does not check the object as a primitive's.
  void data_access_point(EventKind kind, const void* object, const Site& site = Site::current());
  // Blocks the current task on `channel` until wake_one/wake_all(channel). Returns after being woken and
  // scheduled again. Callers re-check their condition in a loop. `what` names the wait in deadlock reports.
  // A task holding an atomic resource must not sleep: that is reported (sleep-in-atomic) unless `sleeps` is
  // false, which models a busy-wait (a contended spinlock spins, it does not sleep).
  void block(const void* channel, std::string_view what, const Site& site = Site::current(), bool sleeps = true);
  // block() in a given mode, optionally bounded by `timeout` of virtual time: returns Signalled at once or
  // when a signal the mode accepts arrives (an interruptible/killable sleep with a signal already pending does
  // not sleep), TimedOut when the time ran out, Woken after a wake-up on `channel`. Callers re-check their
  // condition in a loop, as with block(). It does not check for atomic context: callers call might_sleep()
  // up front, as the kernel's wait_event*() do (a wait whose condition already holds is still a bug there).
  // `retests`: the caller is a wait_event loop that tests its condition again whenever the sleep returns, and calls
  // wait_condition_held() when it holds (see probe_sleeping_users).
  WaitResult block_wait(const void* channel, std::string_view what, WaitMode mode,
                        std::optional<Nanos> timeout = std::nullopt, const Site& site = Site::current(),
                        bool retests = false);
  // A wait_event loop of the current task found its condition true (after sleeping with block_wait's `retests`). If
  // the task was only woken to test it at the end of the execution, it slept with its condition true and nothing
  // would have woken it: a lost wake-up, reported at `site` (the wait).
  void wait_condition_held(const Site& site = Site::current());
  // Marks `task` as a user process (see Task::user). Scenario tasks are; kernel threads (workers, init) not.
  void set_user_task(TaskId task);
  // Makes a signal pending for `task` (SIGKILL if `fatal`) and wakes it from an interruptible sleep (or a
  // killable one, for SIGKILL). Not a scheduling point; callers yield first.
  void send_signal(TaskId task, bool fatal, const Site& site = Site::current());
  // signal_pending(current) / fatal_signal_pending(current); false outside a task.
  // For partial-order reduction each check reads the task's signal (Footprint::task_signal_name).
  bool signal_pending() {
    if (current_ == nullptr) return false;
    touch_signal(current_->id, false);
    return current_->signal_pending;
  }
  bool fatal_signal_pending() {
    if (current_ == nullptr) return false;
    touch_signal(current_->id, false);
    return current_->fatal_signal;
  }
  // The return to user space delivers a pending non-fatal signal (a handler without SA_RESTART runs): it is no
  // longer pending. A fatal one stays: the process is exiting.
  void deliver_signals();
  // Makes tasks blocked on `channel` runnable; returns how many.
  std::size_t wake_all(const void* channel, const Site& site = Site::current());
  // wake_all for the tasks asleep on `channel` in WaitMode::Interruptible only (the kernel's wake-up in mode
  // TASK_INTERRUPTIBLE: try_to_wake_up leaves a task whose state does not match asleep).
  std::size_t wake_all_interruptible(const void* channel, const Site& site = Site::current());
  bool wake_one(const void* channel, const Site& site = Site::current());
  // Sleeps for `duration` of virtual time. Time advances only when no task can run.
  void sleep_for(Nanos duration, const Site& site = Site::current());
  // A nondeterministic value in [0, bound), from the choice stream (random values, fault decisions).
  std::uint64_t choose(std::uint64_t bound, const Site& site = Site::current());
  // Fault injection: true if this failable allocation must fail (WorldOptions::fail_nth). Counts every call.
  bool should_fail_alloc(const Site& site = Site::current());
  std::uint64_t failable_allocations() const { return failable_allocations_; }
  // Records a held resource that must be released before the task exits (locks, RCU read sections…).
  void note_acquired(const void* resource, std::string_view what, const Site& site = Site::current(),
                     HoldKind kind = HoldKind::Sleepable);
  void note_released(const void* resource);
  // What the current task holds, oldest first (empty outside a task).
  std::span<const Task::Held> held() const;
  // The innermost atomic resource the current task holds, or null: "are we in atomic context?".
  const Task::Held* atomic_hold() const;
  // Reports "sleep-in-atomic" if the current task holds an atomic resource (the kernel's might_sleep()).
  // Returns false when it reported. Inside a NotRunningScope it also warns, once per execution, that a blocking
  // operation runs in a task that is not TASK_RUNNING (kernel/sched/core.c __might_sleep: "do not call blocking
  // ops when !TASK_RUNNING"); the operation goes on, as in the kernel.
  bool might_sleep(std::string_view operation, const Site& site = Site::current());
  // The current task tests the condition of a wait it is already queued for (wait_event's condition, between
  // prepare_to_wait_event() and schedule() or finish_wait()): set_not_running() marks it (a mark already there
  // stays), set_running() ends the mark. NotRunningScope does both for a C++ condition; nested scopes keep the
  // outermost site.
  void set_not_running(const Site& site) {
    if (current_ != nullptr && !current_->not_running_since) current_->not_running_since = site;
  }
  void set_running() {
    if (current_ != nullptr) current_->not_running_since.reset();
  }
  class NotRunningScope {
   public:
    NotRunningScope(World& w, const Site& site);
    ~NotRunningScope();
    NotRunningScope(const NotRunningScope&) = delete;
    NotRunningScope& operator=(const NotRunningScope&) = delete;

   private:
    Task* task_;
    bool outermost_ = false;
  };

  // Per-world state of a later layer (lockdep's graph, RCU's grace periods): created on first use, destroyed
  // with the world after every simulated object. T must be default-constructible.
  template <class T>
  T& extension();
  // Adds `object` to the current segment's footprint (for later layers' shared objects).
  void touch(const void* object, bool write) {
    if (!track_footprints_) return;
    // Simulated addresses (most touches: every access to simulated memory) are their own names.
    const auto address = reinterpret_cast<std::uintptr_t>(object);
    const std::uintptr_t name = address >= kKernelHalf ? address : footprint_name(object);
    // Alone (World::alone), no other task's step can be reordered against this one: named, since names go by
    // first touch and one named later would be "fresh" to the segments it then appears in (Footprint), but not
    // recorded.
    if (!alone()) segment_.touch(name, write);
  }
  // `object` has static storage duration: its address is the same in every execution, so it names the object
  // (below 2^47, apart from simulated addresses and host names; no lookup needed).
  void touch_static(const void* object, bool write) {
    if (track_footprints_) segment_.touch(reinterpret_cast<std::uintptr_t>(object), write);
  }
  void touch_signal(TaskId task, bool write) {
    if (track_footprints_) segment_.touch(Footprint::task_signal_name(task), write);
  }

  // ---- called by the instrumentation (sim/instrument.cpp, through KernelMemory::on_access) -------------
  // An access to shared simulated memory at simulated `address`: a scheduling point unless `may_point` is
  // false, the task holds a mutex or spinlock, or it did nothing observable since its last point. Never
  // unwinds the task (it runs inside a compiler callback): a cancellation waits for the next kernel operation.
  void access_point(bool write, std::uint64_t address, std::uint32_t size, bool may_point);
  void note_shared_access(bool shared) {
    if (shared && current_ != nullptr) current_->acted = true;
  }
  void note_acted() {
    if (current_ != nullptr) current_->acted = true;
  }
  // A mutex or spinlock was taken (+1) or released (-1) by the current task.
  void note_exclusive(int delta) {
    if (current_ != nullptr) current_->exclusive_holds += static_cast<std::uint32_t>(delta);
  }
  // cpu_relax() in a spin-wait: the task is not run again until another task has made progress (reached a
  // scheduling point, blocked or exited), so a correct spin-wait terminates under every strategy (fair
  // scheduling, as CHESS and loom's yield_now). When only spinners are left, virtual time passes (a poll with a
  // timeout ends); a spin that outlasts 20 s of it is a soft-lockup report (spin_time), or a hard-lockup one
  // when a hard-IRQ handler spins (10 s: interrupts are off on its CPU).
  void spin_relax(const Site& site = Site::current());
  RaceDetector& races() { return races_; }

  // ---- CPUs ----------------------------------------------------------------------------------------
  // The machine model hard-IRQ handlers need (core/irqflags.hpp decides where an interrupt goes): every task
  // that is not a handler runs on a CPU of its own and never migrates, so tasks interleave exactly as without
  // CPUs. A handler runs on the CPU of another task, its victim, and preempts it there.
  // The current task becomes a hard-IRQ handler on the CPU of `victim` (kNoTask: an idle CPU): the victim does
  // not run again, even when woken, until hardirq_return(). Not a scheduling point.
  void hardirq_preempt(TaskId victim);
  // The current task becomes a hard-IRQ handler whose CPU is chosen only when it matters: it starts on an idle
  // CPU, and the first time it waits (block, spin_relax) or asks which task it interrupted (resolve_hardirq_cpu),
  // the explorer may choose instead the CPU of one of `candidates` (tasks that were runnable with interrupts
  // enabled at the entry) that has not run and taken no other interrupt since: that execution is, step for step,
  // the one in which the handler had preempted it at the entry (docs/architecture.md, "CPUs").
  void hardirq_defer(std::vector<TaskId> candidates);
  // Makes the deferred choice of the current handler now, if it has one. Returns its victim (kNoTask: idle CPU).
  TaskId resolve_hardirq_cpu(const Site& site = Site::current());
  // The current handler returns from the interrupt: its victim may run again. Returns the victim (or kNoTask).
  TaskId hardirq_return();
  // The handler running on `task`'s CPU, or kNoTask.
  TaskId preempted_by(TaskId task) const {
    return task < tasks_.size() && tasks_[task] != nullptr ? tasks_[task]->preempted_by : kNoTask;
  }
  // The site of the current task's last scheduling point (a default for events with no site of their own).
  Site current_site() const { return current_ != nullptr ? current_->last_site : Site::current(); }

  // Marks a scope in which the task must not be unwound (a yield inside a destructor): cancellation waits
  // until the scope ends.
  class NoCancelScope {
   public:
    explicit NoCancelScope(World& w);
    ~NoCancelScope();
    NoCancelScope(const NoCancelScope&) = delete;
    NoCancelScope& operator=(const NoCancelScope&) = delete;

   private:
    Task* task_;
  };

  // Marks the waits of the current task inside it as ones the hung-task check (report_hung_task) passes by: the
  // kernel's task would not be in plain TASK_UNINTERRUPTIBLE there (TASK_IDLE; mutex_lock_interruptible and the
  // killable locks, which devsim models as locks that cannot fail).
  class NotHungScope {
   public:
    explicit NotHungScope(World& w);
    ~NotHungScope();
    NotHungScope(const NotHungScope&) = delete;
    NotHungScope& operator=(const NotHungScope&) = delete;

   private:
    Task* task_;
  };

  // Marks the current task as removing a device or a driver (the driver core's device_del, unbind and driver
  // unregistration, what they call included): the only tasks the hung-task check counts. `w` may be null (native).
  class RemovalScope {
   public:
    explicit RemovalScope(World* w);
    ~RemovalScope();
    RemovalScope(const RemovalScope&) = delete;
    RemovalScope& operator=(const RemovalScope&) = delete;

   private:
    Task* task_;
  };

  // ---- detectors ---------------------------------------------------------------------------------
  // Records a report, stamped with the schedule so far. A fatal report with stop_on_first_bug stops the
  // execution at the next scheduling point: the reporting operation itself completes (memory stays valid in
  // quarantine), then no task runs again. Reports made during teardown are dropped.
  void report(Report report);
  // Kills the current task after a fatal fault, like a kernel oops: it is unwound (cancel_current), or
  // abandoned where it cannot be unwound. Outside a task, throws std::logic_error.
  [[noreturn]] void oops();
  // Fills a TaskSite for `task` at `site`; for the running task, with its call stack.
  TaskSite task_site(TaskId task, const std::optional<Site>& site) const;
  std::string task_label(TaskId task) const;  // "name/id"

  // ---- state ---------------------------------------------------------------------------------------
  KernelMemory& memory() { return memory_; }
  const std::vector<Report>& reports() const { return reports_; }
  const Schedule& schedule() const { return schedule_; }
  const Trace* trace() const { return trace_.get(); }
  Nanos now() const { return now_; }
  std::uint64_t steps() const { return steps_; }
  TaskId current_task() const { return current_ ? current_->id : kNoTask; }
  // The running task's stack (null outside a task): the bounds of a stack walk (sim/stacktrace.hpp).
  const Stack* current_stack() const { return current_ ? &current_->stack : nullptr; }
  std::size_t task_count() const { return names_.size(); }
  const std::string& task_name(TaskId id) const { return names_[id]; }
  TaskState task_state(TaskId id) const { return states_[id]; }
  // What the execution ran after the last scheduling decision (for strategies that track footprints).
  const Footprint& final_segment() const { return segment_; }
  bool stopping() const { return stopping_; }
  bool tearing_down() const { return tearing_down_; }
  bool in_task() const { return current_ != nullptr; }
  // Whether the task running is the only one this execution has created. INVARIANT: every task created later is
  // created by it or by a task it created, after what it does now (the spawn orders them: races().spawn and the
  // footprint's enable), so nothing it does now races with, or can be reordered against, another task's step.
  // That holds because, once run() started, only tasks create tasks (the scheduler's own steps, timers' expiry
  // and the end-of-execution signals, never do: a timer or an interrupt is a task its arming task spawned).
  // Its accesses are then checked (use-after-free, bounds) and give ownership, but are not recorded for races or
  // footprints: as for set-up code outside any task. Most of a scenario's set-up (plug, probe) runs like this.
  bool alone() const { return tasks_.size() == 1 && current_ != nullptr; }
  const WorldOptions& options() const { return options_; }
  std::optional<Outcome> outcome() const { return outcome_; }

  // Records a trace event if tracing is on (later layers call this for their own operations). Host
  // pointers are traced as small ids in order of first appearance, so traces do not depend on ASLR.
  void record(EventKind kind, const void* object, std::uint64_t arg, const Site& site, std::string_view label = {}) {
    if (trace_) record_traced(kind, object, arg, site, label);
  }
  // The same, for an object already named by a deterministic simulated address.
  void record_address(EventKind kind, std::uint64_t object, std::uint64_t arg, const Site& site,
                      std::string_view label = {}) {
    if (trace_) record_address_traced(kind, object, arg, site, label);
  }

 private:
  friend class KernelMemory;

  // wake_all, of every sleeper on `channel` or only of those in WaitMode::Interruptible.
  std::size_t wake_matching(const void* channel, bool interruptible_only, const Site& site);

  void record_traced(EventKind kind, const void* object, std::uint64_t arg, const Site& site, std::string_view label);
  void record_address_traced(EventKind kind, std::uint64_t object, std::uint64_t arg, const Site& site,
                             std::string_view label);
  Task& create_task(std::string name, std::size_t body_size, std::size_t body_align, const Site& site);
  static void task_entry(boost::context::detail::transfer_t from);
  // Runs the scheduling decision from inside the current task: continues it, or switches away.
  void reschedule(const Site& site);
  // Spinning tasks may run again: the current task made progress.
  void wake_spinners();
  // Suspends the current task and returns control to run()'s loop; returns when resumed. Unwinds the task
  // (cancel_current) when resumed for teardown.
  void switch_to_scheduler();
  // Unwinds the current task to its entry, when the world ends before it did or an oops kills it: a forced unwind
  // (pthread_cancel's: one walk of its stack, where a C++ throw makes two, a search for the handler and then the
  // cleanup). Every destructor and every `catch (...)` on the way runs; typed handlers (`catch (const
  // std::exception&)`) do not see it. Task code must let it pass: a `catch (...)` that swallows it is a bug in the
  // task, which is cancelled again at its next scheduling point and abandoned once it has swallowed too many.
  // Never returns.
  [[noreturn]] void cancel_current();
  // Leaves the current task for good, without unwinding (overflow, block during teardown).
  [[noreturn]] void abandon_current();
  void resume(Task& task);
  void reclaim(Task& task);
  // The next task to run among runnable ones; kNoTask if none; kPruneExecution to stop.
  TaskId pick_next();
  void schedule_loop();
  void handle_overflow();
  void set_state(Task& task, TaskState state);
  void make_runnable(Task& task);
  void make_blocked(Task& task);
  void finish_current(TaskState state);
  void teardown();
  bool advance_time();
  bool spin_time();
  void report_deadlock();
  // "on an idle CPU" / "on the CPU of task x/1, which it preempted there…": where a handler runs, for reports.
  std::string cpu_of_handler(const Task& handler) const;
  // At the end of an execution: SIGKILL to every user task asleep interruptibly or killably, as when the
  // processes are killed. Returns how many it woke.
  std::size_t kill_sleeping_users();
  // Before that kill: a task removing a device or driver (RemovalScope) asleep uninterruptibly then would stay asleep
  // until a process gets a signal, and the kernel's hung-task detector reports it (kernel/hung_task.c). Once per
  // execution; not fatal. Other tasks asleep so are not counted: behind a process that waits for data the mock
  // device never sends (a write behind a read holding the device's mutex) they wait as on a silent real device.
  void report_hung_task();
  bool hung_task_reported_ = false;
  // Before that kill: the first user task asleep interruptibly or killably in a wait that retests its condition,
  // and not tested so yet, is woken to test it once. A user process blocked in read() is normal, but one whose
  // condition already holds would sleep until a signal (the wake-up was lost or never sent): the kill would hide
  // that hang. One task at a time, so the test interleaves with nothing. Returns how many it woke (0 or 1).
  std::size_t probe_sleeping_users();
  // The sleeps probe_sleeping_users woke tasks from, for the report (make_runnable clears a task's wait_ fields).
  // Kept here, not in Task: creating a task should not pay for a rare report.
  struct ProbedSleep {
    TaskId task;
    std::string what;
    Site site;
    StackTrace stack;
    std::uint64_t step;
  };
  std::vector<ProbedSleep> probed_;

  WorldOptions options_;
  Strategy* strategy_;
  std::unique_ptr<StackPool> own_pool_;
  StackPool* pool_;
  KernelMemory memory_;
  // By id. LIFETIME: a Task lives at the top of its own stack; tasks_[id] is valid until the stack is
  // released (when the task finished, or at the end of the world) and null after; names_ and states_
  // outlive it.
  // Inline room for a typical model's tasks: an explorer builds a world per execution (see performance.md).
  template <class T>
  using TaskVector = boost::container::small_vector<T, 4>;
  TaskVector<Task*> tasks_;
  TaskVector<std::string> names_;
  TaskVector<TaskState> states_;
  TaskVector<TaskId> runnable_;  // sorted ascending
  Task* current_ = nullptr;
  boost::context::detail::fcontext_t scheduler_ctx_ = nullptr;  // valid while a task runs
  const void* scheduler_stack_bottom_ = nullptr;
  std::size_t scheduler_stack_size_ = 0;
  void* scheduler_fake_stack_ = nullptr;
  ExceptionState scheduler_exceptions_;  // the scheduler's C++ exception state while a task runs
  overflow::Escape escape_;
  Schedule schedule_;
  std::vector<Report> reports_;
  std::unique_ptr<Trace> trace_;
  std::vector<const void*> traced_objects_;  // index + 1 is the id a host pointer gets in the trace
  std::uint64_t seq_ = 0;
  std::uint64_t run_begin_seq_ = 0;
  Nanos now_ = 0;
  std::uint64_t steps_ = 0;
  std::uint64_t failable_allocations_ = 0;
  std::size_t sleepers_ = 0;
  // The name of `object` in footprints (sim/footprint.hpp): simulated memory by address, host objects by the
  // order of their first touch in this execution.
  std::uintptr_t footprint_name(const void* object);
  static constexpr std::uintptr_t kKernelHalf = 0xffff800000000000ULL;  // where simulated addresses live
  bool track_footprints_ = false;
  Footprint segment_;
  // Host objects touched so far, in the order of their first touch. INVARIANT: the same prefix of choices touches
  // the same host objects in the same order (the model is deterministic), so a name denotes the same object in
  // every execution that shares the prefix up to its first touch. An address the host allocator reuses within
  // an execution keeps the name of its first object (a conflict too many, never one too few, within an
  // execution; across executions see docs/architecture.md).
  std::unordered_map<std::uintptr_t, std::uintptr_t> host_names_;
  RaceDetector races_;
  std::size_t spinners_ = 0;
  const char spin_channel_ = 0;  // what spinning tasks wait on
  // While only spinners can run: when that began (virtual time) and how many rounds of time passing they had.
  std::optional<Nanos> spinning_alone_since_;
  unsigned spin_rounds_ = 0;
  bool stopping_ = false;
  bool tearing_down_ = false;
  bool ran_ = false;
  bool warned_not_running_ = false;  // might_sleep's !TASK_RUNNING warning was given (WARN_ONCE)
  std::optional<Outcome> outcome_;
  TaskId pending_next_ = kNoTask;  // chosen by a task's reschedule(), run by the loop
  World* previous_world_ = nullptr;
  struct Extension {
    const void* key;
    std::unique_ptr<void, void (*)(void*)> state;
  };
  std::vector<Extension> extensions_;
  template <class T>
  static inline const char kExtensionKey = 0;  // its address identifies T
};

// ---- free helpers for code that does not carry a World& (driver code) ---------------------------------
// Each requires a current world (inside run()).
inline World& world() {
  return *World::current();
}
inline void yield(const Site& site = Site::current()) {
  World::current()->yield(EventKind::Yield, nullptr, site);
}

// ---- implementation of the templates -------------------------------------------------------------------
template <class T>
T& World::extension() {
  const void* key = &kExtensionKey<T>;
  // A layer's state kept in an extension (the driver core's tables, timers, interrupt lines...) is shared
  // host memory that the footprints cannot see access by access: each use is a write to the whole extension
  // for partial-order reduction, unless the type says why its uses commute (kFootprintExempt).
  if constexpr (!requires { T::kFootprintExempt; }) touch_static(&kExtensionKey<T>, true);
  for (Extension& e : extensions_)
    if (e.key == key) return *static_cast<T*>(e.state.get());
  extensions_.push_back(Extension{key, {new T(), [](void* p) { delete static_cast<T*>(p); }}});
  return *static_cast<T*>(extensions_.back().state.get());
}

template <class F>
TaskId World::spawn(std::string name, F&& body, const Site& site) {
  using Body = std::decay_t<F>;
  Task& task = create_task(std::move(name), sizeof(Body), alignof(Body), site);
  // LIFETIME: the callable lives in the task's stack, just below the Task block, until the task ends.
  task.body = new (task.body) Body(std::forward<F>(body));
  task.run_body = [](void* p) {
    Body& b = *static_cast<Body*>(p);
    if constexpr (std::is_invocable_v<Body&, World&>)
      b(*World::current());
    else
      b();
  };
  task.destroy_body = [](void* p) { static_cast<Body*>(p)->~Body(); };
  return task.id;
}

}  // namespace devsim::sim
