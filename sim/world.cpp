#include "sim/world.hpp"

#include <cxxabi.h>
#include <unwind.h>
#include <algorithm>
#include <cinttypes>
#include <csetjmp>
#include <cstdio>
#include <exception>
#include <stdexcept>

#include "sim/intern.hpp"
#include "sim/sanitizers.hpp"
#include "sim/shadow.hpp"
#include "sim/task_fault.hpp"

#if defined(DEVSIM_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace devsim::sim {

namespace ctx = boost::context::detail;

namespace {

// The report of a task's processor fault: what the kernel's oops says (arch/x86/mm/fault.c show_fault_oops,
// arch/x86/kernel/traps.c exc_general_protection), with the faulting task's stack from the faulting instruction.
void describe_fault(Report& r, TaskSite at, const TaskFault& fault) {
  r.kind = fault_kind(fault);
  std::vector<StackFrame> frames = symbolize(at.stack);
  std::string where = !frames.empty() ? frames.front().function : innermost_frame(fault.pc).function;
  // The C ABI's entry points are kernel functions under a prefix (__devsim_dev_printk is dev_printk): the headline
  // names the kernel's; the stack keeps the real frame.
  constexpr std::string_view kAbiPrefix = "__devsim_";
  if (where.starts_with(kAbiPrefix)) where.erase(0, kAbiPrefix.size());
  r.headline = r.kind + " in " + where;
  char line[160];
  if (r.kind == "divide-error") {
    r.details.push_back("divide error: an integer division by zero");
  } else if (r.kind == "general-protection-fault") {
    r.details.push_back(
        "general protection fault, probably for a non-canonical address: a poisoned or corrupted pointer (list_del "
        "leaves LIST_POISON1, 0xdead000000000100, in the entry it removes)");
  } else {
    std::snprintf(
        line, sizeof line, "%s, address: 0x%016" PRIxPTR,
        r.kind == "null-ptr-deref" ? "BUG: kernel NULL pointer dereference" : "BUG: unable to handle page fault",
        fault.address);
    r.details.push_back(line);
  }
  if (fault.access != TaskFault::Access::Unknown)
    r.details.push_back(fault.access == TaskFault::Access::Write ? "#PF: supervisor write access in kernel mode"
                                                                 : "#PF: supervisor read access in kernel mode");
  r.details.push_back("Oops: the faulting task is killed here; what it held stays held");
  r.details.push_back(
      "(C++ mock drivers: state in a `static` is shared by every execution and fuzz job and can fault this way "
      "without a driver bug; docs/writing-a-driver.md, section 7)");
  r.accessed_by = std::move(at);
}

// A task that keeps yielding during teardown where it cannot be unwound (inside a NoCancelScope) is abandoned
// after this many scheduling points.
constexpr std::uint64_t kTeardownStepLimit = 10'000;
// A task whose catch (...) blocks swallow its cancellation comes back to a scheduling point and is cancelled
// again: after this many it is abandoned (before, such a loop kept unwinding forever and hung the run).
constexpr std::uint32_t kCancellationLimit = 100;

inline void asan_start_switch([[maybe_unused]] void** fake_stack_save, [[maybe_unused]] const void* bottom,
                              [[maybe_unused]] std::size_t size) {
#ifdef DEVSIM_ASAN
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#endif
}
inline void asan_finish_switch([[maybe_unused]] void* fake_stack_save, [[maybe_unused]] const void** bottom_old,
                               [[maybe_unused]] std::size_t* size_old) {
#ifdef DEVSIM_ASAN
  __sanitizer_finish_switch_fiber(fake_stack_save, bottom_old, size_old);
#endif
}

// The exception object of a cancellation (World::cancel_current): "DVSMCNCL", a class no C++ runtime uses, so
// it is foreign to every typed handler. Freed by the catch (...) that ends it (__cxa_end_catch calls the cleanup).
constexpr _Unwind_Exception_Class kCancellationClass = 0x4456534d434e434cULL;
void free_cancellation(_Unwind_Reason_Code, _Unwind_Exception* e) {
  delete e;
}
// The forced unwind's stop function: never stops it. task_entry's catch (...) ends it, below every frame of the
// task's code; the make_fcontext trampoline under task_entry is never reached.
_Unwind_Reason_Code keep_unwinding(int, _Unwind_Action, _Unwind_Exception_Class, _Unwind_Exception*, _Unwind_Context*,
                                   void*) {
  return _URC_NO_REASON;
}

char* align_down(char* p, std::size_t align) {
  return reinterpret_cast<char*>(reinterpret_cast<std::uintptr_t>(p) & ~(std::uintptr_t{align} - 1));
}
}  // namespace

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::Completed:
      return "completed";
    case Outcome::Stopped:
      return "stopped";
    case Outcome::Deadlock:
      return "deadlock";
    case Outcome::StepBudget:
      return "step-budget";
    case Outcome::Pruned:
      return "pruned";
  }
  return "?";
}

World::World(WorldOptions options, Strategy* strategy, StackPool* pool)
    : options_(options), strategy_(strategy), pool_(pool), memory_(*this) {
  if (pool_ == nullptr) {
    own_pool_ = std::make_unique<StackPool>(options_.stack_size);
    pool_ = own_pool_.get();
  }
  if (options_.trace) trace_ = std::make_unique<Trace>();
  // One allocation up front instead of a growth series: a small model makes a few dozen choices.
  schedule_.reserve(32);
  track_footprints_ = strategy_ != nullptr && strategy_->wants_footprints();
  previous_world_ = detail::t_current;
  detail::t_current = this;
}

World::~World() {
  teardown();
  // Simulated objects' destructors run while this world is still current, in teardown mode (no reports).
  memory_.destroy_all();
  // Later layers' state goes last: simulated objects' destructors above may still use it.
  while (!extensions_.empty())
    extensions_.pop_back();
  detail::t_current = previous_world_;
}

// ---- tasks -----------------------------------------------------------------------------------------

Task& World::create_task(std::string name, std::size_t body_size, std::size_t body_align, const Site& site) {
  Stack stack = pool_->acquire();
  char* top = stack.top();
  char* block = align_down(top - sizeof(Task), alignof(Task));
  char* body = align_down(block - body_size, std::max<std::size_t>(body_align, 16));
  char* sp = align_down(body, 64);
  if (sp - stack.bottom() < static_cast<std::ptrdiff_t>(4096)) {
    pool_->release(stack);
    throw std::length_error("devsim: task body does not fit on the task stack");
  }
  Task* task = new (block) Task();
  task->id = static_cast<TaskId>(tasks_.size());
  task->world = this;
  task->stack = stack;
  task->body = body;
  task->last_site = site;
  task->ctx = ctx::make_fcontext(sp, static_cast<std::size_t>(sp - stack.bottom()), &World::task_entry);
  tasks_.push_back(task);
  names_.push_back(std::move(name));
  states_.push_back(TaskState::Runnable);
  runnable_.push_back(task->id);  // ids grow, so runnable_ stays sorted
  if (trace_) trace_->name_task(task->id, names_.back());
  races_.spawn(current_task(), task->id);
  note_acted();
  record(EventKind::Spawn, nullptr, task->id, site, names_.back());
  if (track_footprints_) {
    // The new task's first step follows this one; two spawns keep their order, which decides the tasks' ids.
    touch(&tasks_, true);
    segment_.enable(task->id);
  }
  return *task;
}

void World::task_entry(ctx::transfer_t from) {
  Task* task = static_cast<Task*>(from.data);
  World& w = *task->world;
  w.scheduler_ctx_ = from.fctx;
  asan_finish_switch(nullptr, &w.scheduler_stack_bottom_, &w.scheduler_stack_size_);
  {
    // LIFETIME: this frame never returns (it jumps away below), so its locals must die in this scope.
    std::string failure;
    try {
      if (!task->cancelled) task->run_body(task->body);
    } catch (const std::exception& e) {
      failure = e.what();
      if (failure.empty()) failure = "std::exception";
    } catch (...) {
      // The cancellation (cancel_current) is the one foreign exception a task sees: it has no C++ object.
      if (std::current_exception() != nullptr) failure = "unknown exception";
    }
    {
      // LIFETIME: the callable's captures may hold simulated references whose release yields; it must not
      // be unwound halfway through.
      NoCancelScope scope(w);
      task->body_alive = false;
      task->destroy_body(task->body);
    }
    if (!failure.empty() && !w.tearing_down_) {
      Report r;
      r.kind = bug::kTaskException;
      r.headline = std::string(bug::kTaskException) + " in task " + w.task_label(task->id) + ": " + failure;
      r.accessed_by = w.task_site(task->id, task->last_site);
      w.report(std::move(r));
    }
  }
  w.finish_current(TaskState::Finished);
  asan_start_switch(nullptr, w.scheduler_stack_bottom_, w.scheduler_stack_size_);
  ctx::jump_fcontext(w.scheduler_ctx_, nullptr);
  std::terminate();  // a finished task is never resumed
}

void World::finish_current(TaskState state) {
  Task& t = *current_;
  if (t.hardirq) hardirq_return();  // the IRQ layer returns from it first; this is the backstop
  wake_spinners();
  if (!tearing_down_) {
    for (const Task::Held& h : t.held) {
      Report r;
      r.kind = bug::kHeldAtExit;
      r.headline = "task " + task_label(t.id) + " exited holding " + std::string(h.what);
      r.accessed_by = task_site(t.id, h.site);
      r.details.push_back("acquired at " + describe(h.site) + ", never released");
      report(std::move(r));
    }
  }
  t.held.clear();
  set_state(t, state);
  // An exit changes only this task's state: a task waiting for it is woken through a channel (wake_all), and
  // that wake-up is what orders the two for partial-order reduction.
  record(EventKind::Exit, nullptr, 0, t.last_site);
}

void World::set_state(Task& task, TaskState state) {
  TaskState old = task.state;
  if (old == state) return;
  if (old == TaskState::Runnable) {
    auto it = std::lower_bound(runnable_.begin(), runnable_.end(), task.id);
    if (it != runnable_.end() && *it == task.id) runnable_.erase(it);
  }
  // INVARIANT: a task preempted by a hard-IRQ handler stays off the list until hardirq_return() puts it back.
  if (state == TaskState::Runnable && task.preempted_by == kNoTask)
    runnable_.insert(std::lower_bound(runnable_.begin(), runnable_.end(), task.id), task.id);
  task.state = state;
  states_[task.id] = state;
  // Outside a task (the scheduler advancing time, or killing sleepers when nothing else can run) a change needs no
  // name: time advancing is a barrier, and a signal conflicts with everything.
  if (track_footprints_ && current_ != nullptr) segment_.touch(Footprint::task_state_name(task.id), true);
}

// ---- CPUs ------------------------------------------------------------------------------------------

void World::hardirq_preempt(TaskId victim) {
  if (current_ == nullptr) throw std::logic_error("devsim: hardirq_preempt() outside a task");
  Task& handler = *current_;
  handler.hardirq = true;
  handler.hardirq_victim = victim;
  note_acted();
  if (victim >= tasks_.size() || tasks_[victim] == nullptr || victim == handler.id) return;  // an idle CPU
  Task& v = *tasks_[victim];
  if (v.state == TaskState::Finished || v.state == TaskState::Abandoned || v.preempted_by != kNoTask) return;
  // Whether the victim can run changed: for partial-order reduction that depends on everything. (On an idle
  // CPU nothing but the handler itself changed.)
  if (track_footprints_) segment_.touch_everything();
  v.preempted_by = handler.id;
  ++v.hardirqs_taken;
  auto it = std::lower_bound(runnable_.begin(), runnable_.end(), v.id);
  if (it != runnable_.end() && *it == v.id) runnable_.erase(it);
}

void World::hardirq_defer(std::vector<TaskId> candidates) {
  hardirq_preempt(kNoTask);
  // The candidates were chosen by reading every task's state (whether it can run; the caller reads whether it
  // takes interrupts, core/irqflags.cpp), and whether the choice is deferred at all by reading which tasks exist.
  // Those reads are the entry's footprint. Which of the candidates is taken, and whether it still may be, is
  // decided by resolve_hardirq_cpu(), which conflicts with everything: a handler that never resolves its CPU
  // depends on nothing else here, since no other task and no report can tell which CPU it ran on.
  if (track_footprints_) {
    touch(&tasks_, false);
    for (TaskId t = 0; t < tasks_.size(); ++t)
      segment_.touch(Footprint::task_state_name(t), false);
  }
  Task& handler = *current_;
  handler.deferred_cpus.clear();
  for (TaskId id : candidates) {
    if (id >= tasks_.size() || tasks_[id] == nullptr || id == handler.id) continue;
    const Task& t = *tasks_[id];
    handler.deferred_cpus.push_back({id, t.resumes, t.hardirqs_taken});
  }
}

TaskId World::resolve_hardirq_cpu(const Site& site) {
  if (current_ == nullptr) return kNoTask;
  Task& handler = *current_;
  if (handler.deferred_cpus.empty() || !handler.hardirq || tearing_down_ || stopping_) {
    handler.deferred_cpus.clear();
    return handler.hardirq_victim;
  }
  // INVARIANT: a candidate that has not run since the entry is exactly as it was then (runnable, interrupts
  // enabled: only the task itself changes either), and with no other handler on its CPU meanwhile, having
  // preempted it at the entry would have produced this same execution so far.
  std::vector<TaskId> options{kNoTask};
  for (const Task::DeferredCpu& c : std::exchange(handler.deferred_cpus, {})) {
    const Task* t = c.task < tasks_.size() ? tasks_[c.task] : nullptr;
    if (t != nullptr && t->state == TaskState::Runnable && t->preempted_by == kNoTask && t->resumes == c.resumes &&
        t->hardirqs_taken == c.hardirqs_taken)
      options.push_back(c.task);
  }
  // Which executions stay possible depends on who ran since the entry: for partial-order reduction this
  // choice conflicts with everything, even when no candidate is left (that too depends on who ran).
  if (track_footprints_) segment_.touch_everything();
  if (options.size() == 1) return kNoTask;
  const TaskId victim = options[choose(options.size(), site)];
  if (victim == kNoTask) return kNoTask;
  Task& v = *tasks_[victim];
  handler.hardirq_victim = victim;
  v.preempted_by = handler.id;
  ++v.hardirqs_taken;
  auto it = std::lower_bound(runnable_.begin(), runnable_.end(), v.id);
  if (it != runnable_.end() && *it == v.id) runnable_.erase(it);
  return victim;
}

TaskId World::hardirq_return() {
  if (current_ == nullptr) return kNoTask;
  Task& handler = *current_;
  const TaskId victim = std::exchange(handler.hardirq_victim, kNoTask);
  handler.hardirq = false;
  handler.deferred_cpus.clear();
  note_acted();
  if (victim < tasks_.size() && tasks_[victim] != nullptr && tasks_[victim]->preempted_by == handler.id) {
    // The victim can run again: for partial-order reduction that depends on everything (returning from an
    // idle CPU changes nothing but the handler).
    if (track_footprints_) segment_.touch_everything();
    Task& v = *tasks_[victim];
    v.preempted_by = kNoTask;
    if (v.state == TaskState::Runnable)
      runnable_.insert(std::lower_bound(runnable_.begin(), runnable_.end(), v.id), v.id);
  }
  return victim;
}

void World::make_runnable(Task& task) {
  task.probe = Task::Probe::None;  // a real wake-up (probe_sleeping_users sets Probing after this)
  task.wait_retests = false;
  task.wait_channel = nullptr;
  task.wait_mode = WaitMode::Uninterruptible;
  task.wait_what.clear();
  if (task.wake_at) {
    task.wake_at.reset();
    --sleepers_;
  }
  set_state(task, TaskState::Runnable);
}

void World::make_blocked(Task& task) {
  set_state(task, TaskState::Blocked);
}

// ---- switching -----------------------------------------------------------------------------------

void World::resume(Task& task) {
  current_ = &task;
  task.started = true;
  ++task.resumes;
  if (trace_) run_begin_seq_ = seq_++;
  overflow::arm(task.stack, &escape_);
  // Each side of the switch has its own C++ exception state (exception_state.hpp).
  ExceptionState& exceptions = thread_exception_state();
  scheduler_exceptions_ = exceptions;
  exceptions = task.exceptions;
  asan_start_switch(&scheduler_fake_stack_, task.stack.bottom(), task.stack.size);
  ctx::transfer_t back = ctx::jump_fcontext(task.ctx, &task);
  asan_finish_switch(scheduler_fake_stack_, nullptr, nullptr);
  // LIFETIME: the Task block lives on its stack until reclaim() below or teardown, even once it finished.
  task.exceptions = exceptions;
  exceptions = scheduler_exceptions_;
  overflow::disarm();
  bool done = task.state == TaskState::Finished || task.state == TaskState::Abandoned;
  task.ctx = done ? nullptr : back.fctx;
  if (trace_) trace_->add_run(task.id, run_begin_seq_, seq_++);
  current_ = nullptr;
  if (task.state == TaskState::Finished && !task.body_alive) reclaim(task);
}

void World::reclaim(Task& task) {
  // LIFETIME: a finished task is never resumed and its callable is gone, so its stack (which holds the Task
  // block itself) goes back to the pool now: a long execution that spawns a task per work item or timer
  // needs as many stacks as run at once, not as it ever spawned. names_ and states_ keep its record.
  TaskId id = task.id;
  Stack stack = task.stack;
  task.~Task();
  pool_->release(stack);
  tasks_[id] = nullptr;
}

void World::switch_to_scheduler() {
  Task* t = current_;
  asan_start_switch(&t->asan_fake_stack, scheduler_stack_bottom_, scheduler_stack_size_);
  ctx::transfer_t back = ctx::jump_fcontext(scheduler_ctx_, nullptr);
  scheduler_ctx_ = back.fctx;
  asan_finish_switch(t->asan_fake_stack, &scheduler_stack_bottom_, &scheduler_stack_size_);
  if (t->cancelled && t->no_cancel_depth == 0) cancel_current();
}

void World::cancel_current() {
  if (++current_->cancellations > kCancellationLimit) abandon_current();
#ifdef DEVSIM_ASAN
  // What ASan's interceptor of __cxa_throw does: the frames about to go may have poisoned their stack (scopes
  // ended early), and the stack goes to another task next.
  __asan_handle_no_return();
#endif
  auto* e = new _Unwind_Exception{};
  e->exception_class = kCancellationClass;
  e->exception_cleanup = &free_cancellation;
  _Unwind_ForcedUnwind(e, &keep_unwinding, nullptr);
  std::terminate();  // returns only if no frame took it, and task_entry's catch (...) always does
}

void World::abandon_current() {
  Task& t = *current_;
  set_state(t, TaskState::Abandoned);
  asan_start_switch(nullptr, scheduler_stack_bottom_, scheduler_stack_size_);
  ctx::jump_fcontext(scheduler_ctx_, nullptr);
  std::terminate();  // an abandoned task is never resumed
}

void World::oops() {
  if (current_ == nullptr) throw std::logic_error("devsim: fatal fault outside a task");
  if (current_->no_cancel_depth == 0) cancel_current();
  abandon_current();
}

World::NoCancelScope::NoCancelScope(World& w) : task_(w.current_) {
  if (task_ != nullptr) ++task_->no_cancel_depth;
}
World::NoCancelScope::~NoCancelScope() {
  if (task_ != nullptr) --task_->no_cancel_depth;
}

World::NotHungScope::NotHungScope(World& w) : task_(w.current_) {
  if (task_ != nullptr) ++task_->not_hung_depth;
}
World::NotHungScope::~NotHungScope() {
  if (task_ != nullptr) --task_->not_hung_depth;
}

World::RemovalScope::RemovalScope(World* w) : task_(w != nullptr ? w->current_ : nullptr) {
  if (task_ != nullptr) ++task_->removal_depth;
}
World::RemovalScope::~RemovalScope() {
  if (task_ != nullptr) --task_->removal_depth;
}

// ---- scheduling ----------------------------------------------------------------------------------

std::uintptr_t World::footprint_name(const void* object) {
  // Only touch() calls this, for addresses below the kernel half: simulated addresses (KernelMemory's) name
  // themselves there. Storage in this world's region is likewise the same for the same sequence of allocations
  // in every execution.
  const auto address = reinterpret_cast<std::uintptr_t>(object);
  // A host pointer into the region (a primitive embedded in a kmalloc'd object): named as the object's accesses
  // and its free are (KernelMemory names them by the object's simulated address).
  if (shadow::in_region(object)) {
    const std::uintptr_t simulated = memory_.object_address(object);
    return simulated != 0 ? simulated : address;
  }
  auto [it, inserted] = host_names_.try_emplace(address, Footprint::host_name(host_names_.size()));
  return it->second;
}

TaskId World::pick_next() {
  if (runnable_.empty()) return kNoTask;
  TaskId cur = current_ != nullptr && current_->state == TaskState::Runnable ? current_->id : kNoTask;
  if (runnable_.size() == 1) {
    // A switch without a decision (the current task blocked or ended): a strategy that tracks footprints still
    // hears of it, so that what each task did stays apart (partial-order reduction relates tasks' steps). It is
    // not a choice: nothing is recorded in the schedule.
    if (track_footprints_ && cur == kNoTask) {
      SchedulingPoint point{std::span<const TaskId>(runnable_.data(), 1), cur, &segment_};
      TaskId next = strategy_->pick_task(point);
      if (next == kPruneExecution) return next;
      segment_.clear(host_names_.size());
    }
    return runnable_.front();
  }
  TaskId next;
  if (strategy_ != nullptr) {
    SchedulingPoint point{std::span<const TaskId>(runnable_.data(), runnable_.size()), cur,
                          track_footprints_ ? &segment_ : nullptr};
    next = strategy_->pick_task(point);
    if (next == kPruneExecution) return next;
    if (!std::binary_search(runnable_.begin(), runnable_.end(), next)) {
      throw std::logic_error("devsim: strategy picked a task that cannot run");
    }
  } else {
    next = cur != kNoTask ? cur : runnable_.front();
  }
  schedule_.push_back({Choice::Kind::Task, next});
  if (track_footprints_) segment_.clear(host_names_.size());
  return next;
}

void World::wake_spinners() {
  if (spinners_ == 0 || current_ == nullptr || current_->wait_channel == &spin_channel_) return;
  spinning_alone_since_.reset();  // a task that is not spinning made progress
  spin_rounds_ = 0;
  for (Task* t : tasks_) {
    if (t != nullptr && t->state == TaskState::Blocked && t->wait_channel == &spin_channel_) {
      make_runnable(*t);
      --spinners_;
      // A spinner rereads whatever it polls: any step of another task may be what it waits for.
      if (track_footprints_) segment_.touch_everything();
    }
  }
}

void World::reschedule(const Site& site) {
  Task& t = *current_;
  t.last_site = site;
  t.acted = false;
  wake_spinners();
  ++t.steps;
  if (tearing_down_) {
    if (t.cancelled && t.no_cancel_depth == 0) cancel_current();
    if (t.steps > kTeardownStepLimit) abandon_current();
    return;
  }
  ++steps_;
  if (!stopping_ && steps_ > options_.step_budget) {
    Report r;
    r.kind = bug::kStepBudget;
    r.headline = "step budget of " + std::to_string(options_.step_budget) +
                 " scheduling points exceeded (livelock?) in task " + task_label(t.id);
    r.accessed_by = task_site(t.id, site);
    report(std::move(r));
    outcome_ = Outcome::StepBudget;
    stopping_ = true;
  }
  if (stopping_) {
    switch_to_scheduler();
    return;
  }
  TaskId next = pick_next();
  if (next == t.id) return;
  if (next == kPruneExecution) {
    outcome_ = Outcome::Pruned;
    stopping_ = true;
    switch_to_scheduler();
    return;
  }
  pending_next_ = next;
  switch_to_scheduler();
}

void World::yield(EventKind kind, const void* object, const Site& site) {
  if (current_ == nullptr) return;  // model set-up code: nothing to interleave with yet
  record(kind, object, 0, site);
  // A primitive's point on its object synchronises with it both ways (sim/race.hpp): release what this task
  // did before, acquire, once it runs again, what others released there meanwhile.
  // Each side asks whether the detector is active then: the first instrumented access (which activates it) may
  // happen in another task while this one waits in reschedule, and what that task releases here must still be
  // acquired.
  if (object != nullptr && races_.active()) races_.release(current_->id, object);
  // That release changes what a later acquire of the object sees: for partial-order reduction it is a write in
  // the segment that ends here, not only in the one that begins (the primitive's own touch).
  if (object != nullptr) touch(object, true);
  reschedule(site);
  if (object != nullptr && races_.active()) races_.acquire(current_->id, object);
  // The primitive works on its object next: an object in freed simulated memory is a use-after-free at the
  // primitive's caller's site (its Site), the primitive (the caller of this point) named in the details.
  if (object != nullptr && shadow::in_region(object) && !tearing_down_)
    memory_.check_primitive(object, site, reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
}

void World::data_access_point(EventKind kind, const void* object, const Site& site) {
  if (current_ == nullptr) return;
  record(kind, object, 0, site);
  reschedule(site);
}

void World::access_point(bool write, std::uint64_t address, std::uint32_t size, bool may_point) {
  Task& t = *current_;
  if (!may_point || t.exclusive_holds > 0 || !t.acted || tearing_down_) return;
  record_address(write ? EventKind::Write : EventKind::Read, address, size, t.last_site, "point");
  NoCancelScope scope(*this);
  reschedule(t.last_site);
}

void World::spin_relax(const Site& site) {
  if (current_ == nullptr) return;
  if (tearing_down_ || stopping_) {
    yield(EventKind::Yield, nullptr, site);
    return;
  }
  resolve_hardirq_cpu(site);
  Task& t = *current_;
  t.last_site = site;
  t.acted = false;
  t.wait_channel = &spin_channel_;
  t.wait_what = "spin-wait (cpu_relax) for another task to change what it reads";
  t.wait_site = site;
  t.wait_stack = capture_current_stack();
  ++spinners_;
  ++t.steps;
  record(EventKind::Block, &spin_channel_, 0, site, "cpu_relax");
  if (track_footprints_) segment_.touch_everything();
  make_blocked(t);
  pending_next_ = kNoTask;
  switch_to_scheduler();
}

void World::block(const void* channel, std::string_view what, const Site& site, bool sleeps) {
  if (current_ == nullptr) throw std::logic_error("devsim: block() outside a task");
  if (sleeps && !tearing_down_) might_sleep(what, site);
  Task& t = *current_;
  if (tearing_down_) {
    if (t.no_cancel_depth == 0) cancel_current();
    abandon_current();  // cannot wait for anything while the world ends
  }
  if (stopping_) {
    switch_to_scheduler();
    return;
  }
  resolve_hardirq_cpu(site);
  t.last_site = site;
  t.wait_channel = channel;
  t.wait_what.assign(what);
  t.wait_site = site;
  t.wait_stack = capture_current_stack();
  record(EventKind::Block, channel, 0, site, what);
  // Blocking and waking the channel do not commute: their order decides whether this task is woken.
  touch(channel, true);
  wake_spinners();
  make_blocked(t);
  pending_next_ = kNoTask;
  switch_to_scheduler();
  t.acted = false;
  // Whoever woke us released to the channel; a probe at the end of the execution is no wake-up and orders nothing.
  if (t.probe != Task::Probe::Probing) races_.acquire(t.id, channel);
  // Woken, the waiter reads its primitive's state again (a lock's owner, a completion's count) before anything
  // else: for partial-order reduction that read conflicts with a third task changing the state between the
  // wake-up and the re-check, so both orders are explored (kernel/locking/mutex.c __mutex_lock_common retries
  // the trylock after schedule(); kernel/sched/completion.c do_wait_for_common re-reads x->done).
  touch(channel, false);
}

std::size_t World::wake_all(const void* channel, const Site& site) {
  return wake_matching(channel, /*interruptible_only=*/false, site);
}

std::size_t World::wake_all_interruptible(const void* channel, const Site& site) {
  return wake_matching(channel, /*interruptible_only=*/true, site);
}

std::size_t World::wake_matching(const void* channel, bool interruptible_only, const Site& site) {
  note_acted();
  races_.release(current_task(), channel);
  std::size_t woken = 0;
  for (Task* t : tasks_) {
    if (t != nullptr && t->state == TaskState::Blocked && t->wait_channel == channel &&
        (!interruptible_only || t->wait_mode == WaitMode::Interruptible)) {
      t->wake_reason = WaitResult::Woken;
      make_runnable(*t);
      if (track_footprints_) segment_.enable(t->id);
      ++woken;
    }
  }
  record(EventKind::Wake, channel, woken, site);
  touch(channel, true);
  return woken;
}

bool World::wake_one(const void* channel, const Site& site) {
  note_acted();
  races_.release(current_task(), channel);
  for (Task* t : tasks_) {
    if (t != nullptr && t->state == TaskState::Blocked && t->wait_channel == channel) {
      t->wake_reason = WaitResult::Woken;
      make_runnable(*t);
      record(EventKind::Wake, channel, 1, site);
      touch(channel, true);
      if (track_footprints_) segment_.enable(t->id);
      return true;
    }
  }
  touch(channel, true);  // waking nobody still depends on whether a waiter blocked first
  return false;
}

void World::sleep_for(Nanos duration, const Site& site) {
  if (current_ == nullptr) throw std::logic_error("devsim: sleep_for() outside a task");
  if (duration == 0) {
    yield(EventKind::Sleep, nullptr, site);
    return;
  }
  if (!tearing_down_) might_sleep("sleep", site);
  Task& t = *current_;
  if (tearing_down_) {
    if (t.no_cancel_depth == 0) cancel_current();
    return;  // time does not pass during teardown
  }
  if (stopping_) {
    switch_to_scheduler();
    return;
  }
  resolve_hardirq_cpu(site);
  t.last_site = site;
  t.wake_at = now_ + duration;
  ++sleepers_;
  t.wait_channel = &now_;
  t.wait_what = "sleep until " + std::to_string(*t.wake_at) + " ns";
  t.wait_site = site;
  // Time stands still while any task can run, so the wake-up time this reads is the same in every order of the
  // segments before the next advance (advance_time() orders everything around it).
  record(EventKind::Sleep, nullptr, duration, site);
  wake_spinners();
  make_blocked(t);
  pending_next_ = kNoTask;
  switch_to_scheduler();
}

bool World::advance_time() {
  if (sleepers_ == 0) return false;
  Nanos next = ~Nanos{0};
  for (Task* t : tasks_)
    if (t != nullptr && t->state == TaskState::Blocked && t->wake_at) next = std::min(next, *t->wake_at);
  now_ = next;
  for (Task* t : tasks_) {
    if (t != nullptr && t->state == TaskState::Blocked && t->wake_at && *t->wake_at <= now_) {
      t->wake_reason = WaitResult::TimedOut;
      make_runnable(*t);
    }
  }
  // INVARIANT: time advances only with every task blocked, so every step before this point happens before
  // every step after it.
  if (track_footprints_) segment_.mark_barrier();
  return true;
}

// Only spinners are left and nothing else is pending: only time passing can end a spin now (a poll with a
// timeout: `while (!done && time_before(jiffies, end)) cpu_relax();`). Time passes, faster each round (1 ms,
// 2 ms, 4 ms, ...: how many iterations a spin makes per unit of time is not something the kernel promises), and
// the spinners run again. A spin that outlasts the kernel's soft-lockup threshold this way is reported as the
// watchdog reports it (kernel/watchdog.c watchdog_timer_fn: "BUG: soft lockup - CPU#N stuck for 22s!"; the
// threshold is 2 * watchdog_thresh, 20 s by default). Returns true if the spinners were woken.
bool World::spin_time() {
  if (spinners_ == 0) return false;
  constexpr Nanos kMillisecond = 1'000'000;
  constexpr Nanos kSoftLockup = 20'000 * kMillisecond;
  // A hard-IRQ handler spins with interrupts off on its CPU: the hard-lockup detector's case, which fires after
  // watchdog_thresh (10 s; kernel/watchdog.c watchdog_hardlockup_check: "Watchdog detected hard LOCKUP").
  constexpr Nanos kHardLockup = 10'000 * kMillisecond;
  auto spinning = [this](const Task* t) {
    return t != nullptr && t->state == TaskState::Blocked && t->wait_channel == &spin_channel_;
  };
  const Task* handler = nullptr;
  for (const Task* t : tasks_)
    if (spinning(t) && t->hardirq && handler == nullptr) handler = t;
  if (!spinning_alone_since_) spinning_alone_since_ = now_;
  if (now_ - *spinning_alone_since_ >= (handler != nullptr ? kHardLockup : kSoftLockup)) {
    for (Task* t : tasks_) {
      if (!spinning(t) || (handler != nullptr && t != handler)) continue;
      const std::string seconds = std::to_string((now_ - *spinning_alone_since_) / kMillisecond / 1000);
      Report r;
      if (handler != nullptr) {
        r.kind = std::string(bug::kHardLockup);
        r.headline = "hard LOCKUP: interrupt handler " + task_label(t->id) +
                     " spins in cpu_relax() with interrupts off " + cpu_of_handler(*t) + " for " + seconds +
                     " s of virtual time";
      } else {
        r.kind = std::string(bug::kSoftLockup);
        r.headline = "soft lockup: task " + task_label(t->id) + " spins in cpu_relax() for " + seconds +
                     " s of virtual time and no other task can change what it reads";
      }
      r.accessed_by = task_site(t->id, t->wait_site);
      r.accessed_by->stack = t->wait_stack;
      report(std::move(r));
      break;
    }
    stopping_ = true;
    return false;
  }
  now_ += kMillisecond << std::min(spin_rounds_++, 20u);
  for (Task* t : tasks_) {
    if (t != nullptr && t->state == TaskState::Blocked && t->wait_channel == &spin_channel_) {
      make_runnable(*t);
      --spinners_;
    }
  }
  if (track_footprints_) {
    segment_.touch_everything();
    segment_.mark_barrier();
  }
  return true;
}

WaitResult World::block_wait(const void* channel, std::string_view what, WaitMode mode, std::optional<Nanos> timeout,
                             const Site& site, bool retests) {
  if (current_ == nullptr) throw std::logic_error("devsim: block_wait() outside a task");
  Task& t = *current_;
  // Probed and sleeping again: its condition was false when nothing else could run; the kill may come now.
  if (t.probe == Task::Probe::Probing) t.probe = Task::Probe::Probed;
  if (mode != WaitMode::Uninterruptible) touch_signal(t.id, false);
  const bool interruptible =
      mode == WaitMode::Interruptible ? t.signal_pending : mode == WaitMode::Killable && t.fatal_signal;
  if (interruptible && !tearing_down_) return WaitResult::Signalled;
  if (!timeout) {
    t.wake_reason = WaitResult::Woken;
    t.wait_mode = mode;  // block() keeps it until the task is made runnable again
    t.wait_retests = retests;
    block(channel, what, site, /*sleeps=*/false);
    t.wait_mode = WaitMode::Uninterruptible;
    return t.wake_reason;
  }
  if (tearing_down_) {
    if (t.no_cancel_depth == 0) cancel_current();
    return WaitResult::TimedOut;  // time does not pass during teardown
  }
  if (stopping_) {
    switch_to_scheduler();
    return WaitResult::TimedOut;
  }
  resolve_hardirq_cpu(site);
  t.last_site = site;
  t.wait_channel = channel;
  t.wait_what.assign(what);
  t.wait_site = site;
  t.wait_mode = mode;
  t.wake_reason = WaitResult::Woken;
  t.wake_at = now_ + *timeout;
  ++sleepers_;
  record(EventKind::Block, channel, *timeout, site, what);
  touch(channel, true);
  make_blocked(t);
  pending_next_ = kNoTask;
  switch_to_scheduler();
  // As in block(): the caller re-checks its condition now. After a timeout or a signal nothing else orders that
  // check after a third task's change of the state (a complete() at the instant the timeout fires).
  touch(channel, false);
  return t.wake_reason;
}

void World::set_user_task(TaskId task) {
  if (task < tasks_.size() && tasks_[task] != nullptr) tasks_[task]->user = true;
}

void World::send_signal(TaskId task, bool fatal, const Site& site) {
  // Whether the target is still there to take the signal is a read of its state: a signal that finds the process
  // exited does nothing, one sent before its exit may interrupt it, so the two orders are both explored.
  if (track_footprints_) {
    if (task >= tasks_.size()) touch(&tasks_, false);
    segment_.touch(Footprint::task_state_name(task), false);
  }
  if (task >= tasks_.size() || tasks_[task] == nullptr) return;  // the process has exited
  Task& t = *tasks_[task];
  if (t.state == TaskState::Finished || t.state == TaskState::Abandoned) return;
  t.signal_pending = true;
  t.fatal_signal = t.fatal_signal || fatal;
  record(EventKind::Wake, nullptr, task, site, fatal ? "SIGKILL" : "signal");
  // For partial-order reduction a signal from a task writes what it changes: the target's signal and, when it
  // wakes the target, the target's state (set_state) and the channel it leaves (a later wake of that channel
  // finds one waiter fewer); the target's next step happens after this one. From the scheduler (killing
  // sleepers when nothing else can run) it conflicts with everything.
  touch_signal(t.id, true);
  if (t.state == TaskState::Blocked &&
      (t.wait_mode == WaitMode::Interruptible || (t.wait_mode == WaitMode::Killable && t.fatal_signal))) {
    t.wake_reason = WaitResult::Signalled;
    if (track_footprints_ && t.wait_channel != nullptr) touch(t.wait_channel, true);
    make_runnable(t);
    if (track_footprints_) segment_.enable(t.id);
  }
  if (track_footprints_ && current_ == nullptr) segment_.touch_everything();
}

void World::deliver_signals() {
  if (current_ == nullptr || current_->fatal_signal) return;
  touch_signal(current_->id, true);
  current_->signal_pending = false;
}

void World::wait_condition_held(const Site& site) {
  if (current_ == nullptr || current_->probe != Task::Probe::Probing) return;
  Task& t = *current_;
  t.probe = Task::Probe::None;
  auto slept = std::find_if(probed_.begin(), probed_.end(), [&t](const ProbedSleep& p) { return p.task == t.id; });
  if (slept == probed_.end()) return;  // INVARIANT: probe_sleeping_users records every task it sets Probing
  Report r;
  r.kind = std::string(bug::kLostWakeup);
  r.headline = "lost wake-up: task " + task_label(t.id) + " sleeps in " + slept->what + " though its condition holds";
  r.accessed_by = task_site(t.id, site);
  r.details.push_back(
      "every other task is finished or blocked, and nothing will wake this one: the process would sleep "
      "until a signal. Whoever made the condition true did not wake the queue afterwards (or woke "
      "another queue, or woke an exclusive waiter that did not take it, or is itself blocked before its "
      "wake-up, perhaps on a lock this task holds)");
  TaskSite asleep{task_label(t.id), slept->site, slept->step};
  asleep.stack = slept->stack;
  r.related.push_back({"Asleep (in " + slept->what + ")", std::move(asleep)});
  probed_.erase(slept);
  report(std::move(r));
}

std::size_t World::probe_sleeping_users() {
  for (Task* t : tasks_) {
    if (t == nullptr || !t->user || t->state != TaskState::Blocked || !t->wait_retests) continue;
    if (t->wait_mode == WaitMode::Uninterruptible || t->wake_at || t->probe != Task::Probe::None) continue;
    std::erase_if(probed_, [t](const ProbedSleep& p) { return p.task == t->id; });
    probed_.push_back({t->id, t->wait_what, t->wait_site, t->wait_stack, steps_});
    record(EventKind::Wake, t->wait_channel, t->id, t->wait_site, "probe: test the condition before the kill");
    t->wake_reason = WaitResult::Woken;
    make_runnable(*t);
    t->probe = Task::Probe::Probing;
    // As the kill's signal from the scheduler: it conflicts with everything.
    if (track_footprints_) {
      segment_.enable(t->id);
      segment_.touch_everything();
    }
    return 1;
  }
  return 0;
}

void World::report_hung_task() {
  if (hung_task_reported_) return;
  // Only the kill below could end what follows: with nobody to kill, every task blocked is a deadlock report.
  std::vector<const Task*> sleepers;
  for (const Task* t : tasks_)
    if (t != nullptr && t->user && t->state == TaskState::Blocked && t->wait_mode != WaitMode::Uninterruptible)
      sleepers.push_back(t);
  if (sleepers.empty()) return;
  // kernel/hung_task.c check_hung_uninterruptible_tasks: a task in TASK_UNINTERRUPTIBLE, not TASK_WAKEKILL (killable)
  // or TASK_NOLOAD (TASK_IDLE), whose switch count did not move for hung_task_timeout_secs (120 by default). No
  // timer is pending (advance_time found none), so virtual time may pass that long. A spinner is running, not
  // asleep; a hard-IRQ handler's wait is the hard-lockup report's. Only a removal counts (see world.hpp): the
  // kernel's detector would name any such task, but behind a process waiting for data the mock device never sends,
  // a write or an ioctl waits as it would on a silent real device, which no driver can help; an unplug or an
  // unbind must finish whatever the processes do.
  std::vector<const Task*> hung_removals;
  for (const Task* t : tasks_) {
    if (t == nullptr || t->state != TaskState::Blocked || t->wait_mode != WaitMode::Uninterruptible) continue;
    if (t->removal_depth == 0) continue;
    if (t->not_hung_depth > 0 || t->hardirq || t->wake_at || t->wait_channel == &spin_channel_) continue;
    hung_removals.push_back(t);
  }
  if (hung_removals.empty()) return;
  // The one the others wait behind: a removal waiting for a lock another hung removal holds (a second unbind
  // behind the first's device_lock) is a consequence; follow the holders, at most once round each.
  const Task* hung = hung_removals.front();
  for (std::size_t hops = 0; hops < hung_removals.size(); ++hops) {
    const auto holder = std::find_if(hung_removals.begin(), hung_removals.end(), [&](const Task* t) {
      return t != hung && std::any_of(t->held.begin(), t->held.end(),
                                      [&](const Task::Held& h) { return h.resource == hung->wait_channel; });
    });
    if (holder == hung_removals.end()) break;
    hung = *holder;
  }
  hung_task_reported_ = true;
  Report r;
  r.kind = bug::kHungTask;
  r.fatal = false;  // khungtaskd only prints; here the processes are killed next, as before
  r.headline = "hung-task: task " + task_label(hung->id) + " blocked for more than 120 seconds in " + hung->wait_what +
               " while removing a device or driver";
  r.details.push_back("task " + task_label(hung->id) + " sleeps uninterruptibly (TASK_UNINTERRUPTIBLE) at " +
                      describe(hung->wait_site) +
                      " in the driver core's removal (an unplug, an unbind or a driver's unregistration) and nothing "
                      "left can wake it: every other task is finished or asleep, and only a signal to a process asleep "
                      "below would change that (the kernel's hung-task detector, kernel/hung_task.c, reports such a "
                      "task after hung_task_timeout_secs, 120 by default)");
  for (const Task::Held& h : hung->held)
    r.details.push_back("  holding " + std::string(h.what) + " (taken at " + describe(h.site) + ")");
  for (const Task* t : hung_removals)
    if (t != hung)
      r.details.push_back("task " + task_label(t->id) + ", removing too, is blocked behind it in " + t->wait_what +
                          " at " + describe(t->wait_site));
  // The blocked removal is the report's own stack: `expect hung-task in my_disconnect` names a frame of it.
  r.accessed_by = task_site(hung->id, hung->wait_site);
  r.accessed_by->stack = hung->wait_stack;
  for (const Task* t : sleepers) {
    r.details.push_back("process " + task_label(t->id) + " sleeps " +
                        (t->wait_mode == WaitMode::Killable ? "killably" : "interruptibly") + " in " + t->wait_what +
                        " at " + describe(t->wait_site));
    for (const Task::Held& h : t->held)
      r.details.push_back("  holding " + std::string(h.what) + " (taken at " + describe(h.site) + ")");
    TaskSite asleep{task_label(t->id), t->wait_site, steps_};
    asleep.stack = t->wait_stack;
    r.related.push_back({"Asleep (in " + t->wait_what + ")", std::move(asleep)});
  }
  report(std::move(r));
}

std::size_t World::kill_sleeping_users() {
  std::size_t woken = 0;
  for (Task* t : tasks_) {
    if (t == nullptr || !t->user || t->state != TaskState::Blocked) continue;
    if (t->wait_mode == WaitMode::Uninterruptible) continue;
    send_signal(t->id, /*fatal=*/true, t->wait_site);
    ++woken;
  }
  return woken;
}

std::uint64_t World::choose(std::uint64_t bound, const Site& site) {
  if (bound <= 1) return 0;
  std::uint64_t v = strategy_ != nullptr ? strategy_->pick_value(bound) : 0;
  if (v >= bound) v = bound - 1;
  schedule_.push_back({Choice::Kind::Value, v});
  if (track_footprints_) segment_.touch_everything();
  record(EventKind::Sync, nullptr, v, site, "choose");
  return v;
}

bool World::should_fail_alloc(const Site& site) {
  ++failable_allocations_;
  // With fault injection on, which allocation fails depends on the order of every task's allocations: the
  // counter is shared state for partial-order reduction.
  if (options_.fail_nth != 0) touch(&failable_allocations_, true);
  if (options_.fail_nth == 0 || failable_allocations_ != options_.fail_nth) return false;
  record(EventKind::Alloc, nullptr, failable_allocations_, site, "injected allocation failure");
  return true;
}

void World::note_acquired(const void* resource, std::string_view what, const Site& site, HoldKind kind) {
  if (current_ == nullptr) return;
  current_->acted = true;
  current_->held.push_back({resource, intern(what), site, kind});
}

std::span<const Task::Held> World::held() const {
  if (current_ == nullptr) return {};
  return current_->held;
}

const Task::Held* World::atomic_hold() const {
  if (current_ == nullptr) return nullptr;
  const auto& held = current_->held;
  for (auto it = held.rbegin(); it != held.rend(); ++it)
    if (it->kind == HoldKind::Atomic) return &*it;
  return nullptr;
}

World::NotRunningScope::NotRunningScope(World& w, const Site& site) : task_(w.current_) {
  if (task_ == nullptr || task_->not_running_since) return;
  task_->not_running_since = site;
  outermost_ = true;
}
World::NotRunningScope::~NotRunningScope() {
  // LIFETIME: the task is the one running its own condition; it cannot have ended in between.
  if (outermost_) task_->not_running_since.reset();
}

bool World::might_sleep(std::string_view operation, const Site& site) {
  const Task::Held* h = atomic_hold();
  if (h == nullptr) {
    if (current_ != nullptr && current_->not_running_since && !warned_not_running_) {
      // WARN_ONCE in the kernel: the blocking operation resets the task's state, so the wait it prepared can
      // miss its wake-up; the operation itself goes on.
      warned_not_running_ = true;
      Report r;
      r.kind = bug::kBlockingNotRunning;
      r.fatal = false;
      r.headline = "do not call blocking ops when !TASK_RUNNING: " + std::string(operation) + " in task " +
                   task_label(current_->id) + " while it is set to sleep";
      r.accessed_by = task_site(current_->id, site);
      r.details.push_back(
          "the task was set not running (TASK_UNINTERRUPTIBLE or TASK_INTERRUPTIBLE) at " +
          site_location(TaskSite{task_label(current_->id), current_->not_running_since, steps_}) +
          " (prepare_to_wait_event() before a wait_event condition, prepare_to_wait() or set_current_state()) and has "
          "not slept since: a blocking operation sets it running again, so the wake-up its sleep waits for can be "
          "missed. In a wait_event condition use wait_woken() or take the lock outside the condition; between "
          "prepare_to_wait() and schedule() allocate with GFP_ATOMIC or move the call before prepare_to_wait()");
      report(std::move(r));
    }
    return true;
  }
  Report r;
  r.kind = bug::kSleepInAtomic;
  r.headline = "sleeping function called from invalid context: " + std::string(operation) + " in task " +
               task_label(current_->id) + " while holding " + std::string(h->what);
  r.accessed_by = task_site(current_->id, site);
  r.details.push_back(std::string(h->what) + " taken at " + describe(h->site));
  report(std::move(r));
  return false;
}

void World::note_released(const void* resource) {
  if (current_ == nullptr) return;
  current_->acted = true;
  auto& held = current_->held;
  for (auto it = held.rbegin(); it != held.rend(); ++it) {
    if (it->resource == resource) {
      held.erase(std::next(it).base());
      return;
    }
  }
}

// ---- the loop ------------------------------------------------------------------------------------

Outcome World::run() {
  if (ran_) throw std::logic_error("devsim: World::run() called twice");
  ran_ = true;
  // A world with its own pool is a one-off (run_once, replay), where two system calls are noise: re-check
  // that nobody replaced the handler or the alternate stack. An explorer re-checks once per explore().
  overflow::prepare_thread(/*recheck=*/own_pool_ != nullptr);
  // The escape point for a stack overflow: the signal handler jumps back here with the overflowing task
  // still marked current. Nothing in this frame is modified between here and the jump.
  if (sigsetjmp(escape_.jump, 0) != 0) handle_overflow();
  schedule_loop();

  if (!outcome_) {
    bool all_done = std::all_of(states_.begin(), states_.end(),
                                [](TaskState s) { return s == TaskState::Finished || s == TaskState::Abandoned; });
    outcome_ = stopping_ ? Outcome::Stopped : all_done ? Outcome::Completed : Outcome::Deadlock;
  }
  if (track_footprints_ && *outcome_ != Outcome::Pruned && !runnable_.empty())
    strategy_->cut_short(std::span<const TaskId>(runnable_.data(), runnable_.size()));
  // kmemleak runs whenever the execution reached its end (every task finished), whatever was reported before:
  // a warning (a saturated refcount) often comes with the very leak it announces. Not after a stop (a fatal
  // report, a deadlock, the step budget): the stopped tasks never ran the frees they still had to run, so
  // their objects would be reported as leaks that the driver does not have.
  if (*outcome_ == Outcome::Completed && options_.detect_leaks) memory_.report_leaks();
  if (*outcome_ == Outcome::Completed && !reports_.empty()) outcome_ = Outcome::Stopped;
  teardown();
  return *outcome_;
}

void World::schedule_loop() {
  while (!stopping_) {
    TaskId next = std::exchange(pending_next_, kNoTask);
    if (next == kNoTask) {
      if (runnable_.empty()) {
        if (advance_time()) continue;
        if (probe_sleeping_users() > 0) continue;
        report_hung_task();
        if (kill_sleeping_users() > 0) continue;
        if (spin_time()) continue;
        if (stopping_) return;  // spin_time() reported a soft lockup
        bool all_done = std::all_of(states_.begin(), states_.end(),
                                    [](TaskState s) { return s == TaskState::Finished || s == TaskState::Abandoned; });
        if (!all_done) report_deadlock();
        return;
      }
      ++steps_;
      if (steps_ > options_.step_budget) {
        Report r;
        r.kind = bug::kStepBudget;
        r.headline = "step budget of " + std::to_string(options_.step_budget) + " scheduling points exceeded";
        report(std::move(r));
        outcome_ = Outcome::StepBudget;
        return;
      }
      next = pick_next();
      if (next == kPruneExecution) {
        outcome_ = Outcome::Pruned;
        return;
      }
    }
    resume(*tasks_[next]);
  }
}

void World::handle_overflow() {
  overflow::disarm();
  // The signal handler jumped here from the task's stack without a fiber switch: tell ASan we are back on
  // the scheduler's stack, or it keeps the dead task's stack as this thread's (and LeakSanitizer later
  // scans it after the pool unmapped it). The task's fake stack is dropped with the task.
  asan_start_switch(nullptr, scheduler_stack_bottom_, scheduler_stack_size_);
  asan_finish_switch(scheduler_fake_stack_, nullptr, nullptr);
  thread_exception_state() = scheduler_exceptions_;  // whatever the task was handling went with its frames
  Task& t = *current_;
  current_ = nullptr;
  t.ctx = nullptr;  // LIFETIME: its frames are garbage now; the stack is only reclaimed, never resumed
  set_state(t, TaskState::Abandoned);
  Report r;
  if (std::optional<TaskFault> fault = take_task_fault()) {
    // LIFETIME: the task's stack is still mapped (an abandoned task's stack is reclaimed only at teardown), so
    // the walk from the faulting frame reads the frames as they were at the fault.
    describe_fault(r, TaskSite{task_label(t.id), std::nullopt, steps_, fault_stack(*fault, t.stack)}, *fault);
  } else {
    r.kind = bug::kStackOverflow;
    r.headline =
        "stack-overflow in task " + task_label(t.id) + " (stack of " + std::to_string(t.stack.size) + " bytes)";
    r.accessed_by = task_site(t.id, t.last_site);
    r.details.push_back("the task ran off the end of its stack into the guard page after its last scheduling point");
  }
  report(std::move(r));
  stopping_ = true;
}

std::string World::cpu_of_handler(const Task& handler) const {
  if (handler.hardirq_victim == kNoTask) return "on an idle CPU";
  return "on the CPU of task " + task_label(handler.hardirq_victim) +
         (preempted_by(handler.hardirq_victim) == handler.id
              ? ", which it preempted there and which cannot run until it returns"
              : "");
}

void World::report_deadlock() {
  Report r;
  r.kind = bug::kDeadlock;
  r.headline = "deadlock: every task is blocked and nothing is pending";
  // A hard-IRQ handler that waits forever keeps its CPU with interrupts off: the kernel's hard-lockup detector
  // reports that CPU (kernel/watchdog.c watchdog_hardlockup_check). With its victim holding what it waits for, it
  // is the self-deadlock of a lock taken with interrupts enabled and in the handler.
  for (const Task* t : tasks_) {
    if (t == nullptr || t->state != TaskState::Blocked || !t->hardirq) continue;
    r.kind = bug::kHardLockup;
    r.headline = "hard LOCKUP: interrupt handler " + task_label(t->id) + " waits forever for " + t->wait_what +
                 " with interrupts off " + cpu_of_handler(*t);
    break;
  }
  for (Task* t : tasks_) {
    if (t != nullptr && t->state == TaskState::Runnable && t->preempted_by != kNoTask) {
      r.details.push_back("task " + task_label(t->id) + " is preempted on its CPU by interrupt handler " +
                          task_label(t->preempted_by) + " and runs again only when the handler returns");
      for (const Task::Held& h : t->held)
        r.details.push_back("  holding " + std::string(h.what) + " (taken at " + describe(h.site) + ")");
      r.related.push_back({"Preempted (by interrupt handler " + task_label(t->preempted_by) + ")",
                           TaskSite{task_label(t->id), t->last_site, steps_}});
      continue;
    }
    if (t == nullptr || t->state != TaskState::Blocked) continue;
    r.details.push_back("task " + task_label(t->id) + " waits for " + t->wait_what + " at " + describe(t->wait_site) +
                        (t->user ? " (an uninterruptible sleep: not even SIGKILL ends it)" : ""));
    for (const Task::Held& h : t->held)
      r.details.push_back("  holding " + std::string(h.what) + " (taken at " + describe(h.site) + ")");
    TaskSite blocked{task_label(t->id), t->wait_site, steps_};
    blocked.stack = t->wait_stack;
    r.related.push_back({"Blocked (waits for " + t->wait_what + ")", std::move(blocked)});
  }
  outcome_ = Outcome::Deadlock;
  report(std::move(r));
}

void World::teardown() {
  if (tearing_down_) return;
  tearing_down_ = true;
  stopping_ = true;
  // Unwind tasks that started and have not finished, so their C++ destructors run. By index: an unwinding task
  // may still spawn one (a release that queues work), which grows tasks_ under the loop.
  for (std::size_t i = 0; i < tasks_.size(); ++i) {
    Task* t = tasks_[i];
    if (t == nullptr || !t->started || t->ctx == nullptr) continue;
    if (t->state == TaskState::Finished || t->state == TaskState::Abandoned) continue;
    t->cancelled = true;
    resume(*t);
  }
  for (Task*& t : tasks_) {
    if (t == nullptr) continue;
    // A task that never ran, or was abandoned, still has its callable on the stack. LIFETIME: nothing
    // refers to it any more (an abandoned task's frames are never resumed).
    if (t->body_alive) {
      t->body_alive = false;
      t->destroy_body(t->body);
    }
    Stack stack = t->stack;
    t->~Task();
    pool_->release(stack);
    t = nullptr;
  }
}

// ---- reports and trace ---------------------------------------------------------------------------

void World::report(Report r) {
  if (tearing_down_) return;
  if (stopping_ && options_.stop_on_first_bug && r.fatal && !reports_.empty()) return;
  r.schedule = schedule_;
  bool stop = r.fatal && options_.stop_on_first_bug;
  reports_.push_back(std::move(r));
  if (stop) stopping_ = true;
}

std::string World::task_label(TaskId id) const {
  if (id == kNoTask || id >= names_.size()) return "setup/-";
  return names_[id] + "/" + std::to_string(id);
}

TaskSite World::task_site(TaskId id, const std::optional<Site>& site) const {
  TaskSite ts{task_label(id), site, steps_};
  if (id == current_task()) ts.stack = capture_current_stack();
  return ts;
}

void World::record_traced(EventKind kind, const void* object, std::uint64_t arg, const Site& site,
                          std::string_view label) {
  std::uint64_t id = 0;
  if (object != nullptr) {
    auto it = std::find(traced_objects_.begin(), traced_objects_.end(), object);
    id = static_cast<std::uint64_t>(it - traced_objects_.begin()) + 1;
    if (it == traced_objects_.end()) traced_objects_.push_back(object);
  }
  record_address_traced(kind, id, arg, site, label);
}

void World::record_address_traced(EventKind kind, std::uint64_t object, std::uint64_t arg, const Site& site,
                                  std::string_view label) {
  trace_->add(TraceEvent{seq_++, current_task(), kind, site, object, arg, std::string(label)});
}

}  // namespace devsim::sim
