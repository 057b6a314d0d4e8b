// Work items and timers: each execution in its own simulated task, with the pending/armed state kept by the
// world so cancelled items are never touched.
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "bus/native_runtime.hpp"
#include "bus/timer.hpp"
#include "bus/workqueue.hpp"
#include "core/lockdep_map.hpp"
#include "core/runtime.hpp"
#include "sim/world.hpp"

namespace devsim::bus {

namespace {
// Per world. Keys are the items' addresses: simulated storage is never reused within an execution.
struct DeferredState {
  // One work_struct. Every successful queue_work() is an instance; instances run one at a time, in order
  // (kernel/workqueue.c: a work item is non-reentrant), and each one retires when it ran or was cancelled.
  // INVARIANT: queued - retired == (pending ? 1 : 0) + running, and running is 0 or 1.
  struct Work {
    bool pending = false;
    bool delayed = false;  // pending on its timer (queue_delayed_work), not yet on a workqueue
    int running = 0;
    int canceling = 0;  // cancel_work_sync() calls in progress: queue_work() fails meanwhile
    std::uint64_t queued = 0;
    std::uint64_t retired = 0;
    std::uint64_t timer_generation = 0;  // the delayed instance's timer that may fire
    // The workqueue of the pending instance and its place on it; those of the running instance.
    const Workqueue* wq = nullptr;
    std::uint64_t seq = 0;
    const Workqueue* run_wq = nullptr;
    std::uint64_t run_seq = 0;
    std::optional<core::LockClass> lockdep;  // the work's lockdep map; its class is INIT_WORK()'s site
  };
  // One workqueue (nullptr: the system workqueue). Every instance put on it gets the next sequence number and
  // stays in `outstanding` until it ran or was taken back: flush_workqueue waits for the numbers below its start.
  struct Wq {
    bool ordered = false;
    bool destroyed = false;  // destroy_workqueue() returned: queueing on it is refused with a warning
    std::uint64_t next_seq = 1;
    std::set<std::uint64_t> outstanding;
  };
  struct Timer {
    std::uint64_t armed = 0;  // the generation that may fire; 0: disarmed
    std::uint64_t generation = 0;
    int running = 0;
    bool shutdown = false;
  };
  std::unordered_map<const WorkStruct*, Work> works;
  std::unordered_map<const Workqueue*, Wq> wqs;
  std::unordered_map<const TimerList*, Timer> timers;
  std::uint64_t work_executions = 0;
  std::uint64_t timer_fires = 0;
};

sim::World& world() {
  return *sim::World::current();
}
DeferredState& state() {
  return world().extension<DeferredState>();
}
}  // namespace

class Workqueues {
 public:
  using Work = DeferredState::Work;
  using Wq = DeferredState::Wq;

  static void init(WorkStruct& w, WorkStruct::Func f, const Site& site) {
    w.embedded_.attach(&w);
    w.func_ = f;
    state().works[&w] = {};
    state().works[&w].lockdep.emplace(nullptr, site);
  }
  static void alloc(Workqueue& wq, bool ordered) {
    wq.embedded_.attach(&wq);
    state().wqs[&wq] = {};
    state().wqs[&wq].ordered = ordered;
  }
  // __queue_work() reads the workqueue: one freed is a use-after-free (false: reported). One destroyed but not
  // freed (a C++ driver's embedded Workqueue after destroy_workqueue) is the kernel's WARN_ON in __queue_work
  // (__WQ_DESTROYING): a non-fatal report, and nothing is queued (false).
  static bool wq_alive(const Workqueue* wq, const Site& site) {
    if (wq == nullptr) return true;
    if (!wq->embedded_.touch(wq, sizeof *wq, false, site)) return false;
    if (!state().wqs[wq].destroyed) return true;
    sim::Report r;
    r.kind = std::string(bug::kQueueOnDestroyedWorkqueue);
    r.headline = "WARNING: work queued on a destroyed workqueue";
    r.fatal = false;
    r.accessed_by = world().task_site(world().current_task(), site);
    world().report(std::move(r));
    return false;
  }
  // insert_work(): the pending instance goes on `wq`'s worklist, and a worker is started for it.
  static void insert(WorkStruct& w, Work& s, const Workqueue* wq, const Site& site) {
    Wq& q = state().wqs[wq];
    s.delayed = false;
    s.wq = wq;
    s.seq = q.next_seq++;
    q.outstanding.insert(s.seq);
    WorkStruct* item = &w;
    world().spawn(
        "kworker", [item, site] { process_one_work(item, site); }, site);
  }
  // A new pending instance: on `wq` at once, or on its timer (delayed_work_timer_fn puts it there at expiry).
  static void make_pending(WorkStruct& w, Work& s, const Workqueue* wq, std::uint64_t delay, bool use_timer,
                           const Site& site) {
    s.pending = true;
    ++s.queued;
    if (!use_timer) return insert(w, s, wq, site);
    s.delayed = true;
    s.wq = wq;
    const std::uint64_t gen = ++s.timer_generation;
    WorkStruct* item = &w;
    world().spawn(
        "timer", [item, gen, delay, site] { delayed_work_timer_fn(item, gen, delay, site); }, site);
  }
  // try_to_grab_pending(): the pending instance is taken back (its timer deleted, or taken off its worklist) and
  // retires without running.
  static void grab_pending(Work& s, const Site& site) {
    if (!s.pending) return;
    if (s.delayed) {
      ++s.timer_generation;
      s.delayed = false;
    } else {
      Wq& q = state().wqs[s.wq];
      q.outstanding.erase(s.seq);
      world().wake_all(&q, site);
    }
    s.pending = false;
    ++s.retired;
    world().wake_all(&s, site);
  }
  static bool queue(const Workqueue* wq, WorkStruct& w, const Site& site) {
    world().yield(sim::EventKind::Sync, &w, site);
    Work& s = state().works[&w];
    // queue_work_on(): the PENDING bit is taken with test_and_set. While a cancel is in progress the canceler
    // owns it (kernel/workqueue.c __cancel_work_sync: the work is disabled, then flushed), so queueing fails.
    if (s.pending || s.canceling > 0) return false;
    // Only then does __queue_work() read the workqueue.
    if (!wq_alive(wq, site)) return false;
    make_pending(w, s, wq, 0, false, site);
    return true;
  }
  // queue_delayed_work_on(): PENDING is taken first, as for queue_work; a zero delay queues at once.
  static bool queue_delayed(const Workqueue* wq, WorkStruct& w, std::uint64_t delay, const Site& site) {
    world().yield(sim::EventKind::Sync, &w, site);
    Work& s = state().works[&w];
    if (s.pending || s.canceling > 0) return false;
    if (!wq_alive(wq, site)) return false;
    make_pending(w, s, wq, delay, delay != 0, site);
    return true;
  }
  // mod_delayed_work_on(): try_to_grab_pending() then __queue_delayed_work(); true if it was pending.
  static bool mod_delayed(const Workqueue* wq, WorkStruct& w, std::uint64_t delay, const Site& site) {
    world().yield(sim::EventKind::Sync, &w, site);
    Work& s = state().works[&w];
    // try_to_grab_pending() fails with -ENOENT while a cancel owns the item, and mod_delayed_work_on returns that
    // as true without queueing.
    if (s.canceling > 0) return true;
    if (!wq_alive(wq, site)) return false;
    const bool was = s.pending;
    grab_pending(s, site);
    make_pending(w, s, wq, delay, delay != 0, site);
    return was;
  }
  // cancel_work()/cancel_delayed_work(): try_to_grab_pending() without waiting for a running instance.
  static bool cancel(WorkStruct& w, const Site& site) {
    world().yield(sim::EventKind::Sync, &w, site);
    Work& s = state().works[&w];
    if (s.canceling > 0) return false;
    const bool was = s.pending;
    grab_pending(s, site);
    return was;
  }
  // delayed_work_timer_fn(): at expiry the timer reads the delayed work (freed: a use-after-free here, as KASAN
  // would report it in the kernel's timer callback) and puts it on its workqueue, whose struct it reads too.
  static void delayed_work_timer_fn(WorkStruct* w, std::uint64_t gen, std::uint64_t delay, const Site& armed_at) {
    world().sleep_for(delay, armed_at);
    Work& s = state().works[w];
    if (!s.pending || !s.delayed || s.timer_generation != gen) return;  // cancelled, grabbed or flushed
    if (!w->embedded_.touch(&w->func_, sizeof w->func_, false, Site::current())) return;
    if (!wq_alive(s.wq, Site::current())) {
      // Refused (destroyed, or freed and reported): the instance retires without running.
      s.pending = false;
      s.delayed = false;
      ++s.retired;
      world().wake_all(&s, armed_at);
      return;
    }
    insert(*w, s, s.wq, armed_at);
  }
  // Named after the kernel function whose access KASAN would report.
  static void process_one_work(WorkStruct* w, const Site& queued_at) {
    sim::yield(queued_at);
    Work* s = &state().works[w];
    for (;;) {
      // Cancelled, taken back or turned into a delayed instance: this worker has nothing to run. (Workers are
      // interchangeable: every instance put on a worklist starts one, and the first to get there runs it.)
      if (!s->pending || s->delayed) return;
      // Non-reentrant (kernel/workqueue.c __queue_work: a work still running on a pool is queued behind itself on
      // that pool, and process_one_work() runs one instance at a time): the item stays pending, so queue_work()
      // keeps returning false, until the running instance returned.
      if (s->running > 0) {
        world().block(s, "work item to finish", queued_at);
      } else if (Wq& q = state().wqs[s->wq]; q.ordered && *q.outstanding.begin() != s->seq) {
        // An ordered workqueue (kernel/workqueue.c: max_active 1, one pool_workqueue) runs the oldest item on it
        // first and one at a time: this one stays pending on the worklist behind the older ones.
        world().block(&q, "ordered workqueue's earlier items", queued_at);
      } else {
        break;
      }
      s = &state().works[w];
    }
    // Happens-before: the previous instance (whose release is at its end) is ordered before this one.
    world().races().acquire(world().current_task(), w);
    s->pending = false;  // set_work_pool_and_clear_pending(): queueing it again from here on succeeds
    ++s->running;
    s->run_wq = s->wq;
    s->run_seq = s->seq;
    const Workqueue* run_wq = s->run_wq;
    const std::uint64_t run_seq = s->run_seq;
    ++state().work_executions;
    // process_one_work(): reads the function from the item, which must still be alive.
    WorkStruct::Func f = w->func_;
    // process_one_work(): lock_map_acquire(&work->lockdep_map) around the function (kernel/workqueue.c).
    const std::optional<core::LockClass> map = s->lockdep;
    if (map) core::lockdep::lock_map_acquire(w, *map, "(work_completion)", queued_at);
    if (w->embedded_.touch(&w->func_, sizeof f, false, Site::current()) && f != nullptr) f(*w);
    if (map) core::lockdep::lock_map_release(w);
    Work& after = state().works[w];
    --after.running;
    ++after.retired;
    Wq& q = state().wqs[run_wq];
    q.outstanding.erase(run_seq);
    // Happens-before (race detector): what the function did is ordered before a flush or cancel that sees this
    // instance finished, whether or not it had to wait (the kernel orders them through the pool's lock, which
    // process_one_work retakes after the function and start_flush_work takes).
    world().races().release(world().current_task(), w);
    world().races().release(world().current_task(), &q);
    world().wake_all(&after, queued_at);
    world().wake_all(&q, queued_at);
  }
  // __flush_work() (flush_work, cancel_work_sync): lock_map_acquire + release of the work's map, pending or not,
  // so flushing a work under a lock the work takes is an inversion even when the work already finished.
  static void touch_lockdep_map(WorkStruct& w, const Work& s, const Site& site) {
    if (!s.lockdep) return;
    core::lockdep::lock_map_acquire(&w, *s.lockdep, "(work_completion)", site);
    core::lockdep::lock_map_release(&w);
  }
  // flush_work(): waits for the instance queued or running when it was called (kernel/workqueue.c
  // start_flush_work inserts a barrier right behind it), not for instances queued after: a self-requeueing work
  // is not stopped by a flush. A delayed instance is on no worklist yet: it is not waited for.
  static bool flush(WorkStruct& w, const Site& site) {
    world().yield(sim::EventKind::Sync, &w, site);
    Work& s = state().works[&w];
    touch_lockdep_map(w, s, site);
    const std::uint64_t target = s.pending && s.delayed ? s.queued - 1 : s.queued;
    const bool waited = s.retired < target;
    while (s.retired < target)
      world().block(&s, "work item to finish", site);
    world().races().acquire(world().current_task(), &w);  // the finished instances' release (process_one_work)
    return waited;
  }
  // flush_delayed_work(): a pending timer is deleted and the item queued at once on its workqueue, then flushed.
  static bool flush_delayed(WorkStruct& w, const Site& site) {
    world().yield(sim::EventKind::Sync, &w, site);
    Work& s = state().works[&w];
    if (s.pending && s.delayed) {
      ++s.timer_generation;
      insert(w, s, s.wq, site);
    }
    return flush(w, site);
  }
  // cancel_work_sync(): kernel/workqueue.c __cancel_work_sync. The pending instance is taken back (a delayed one's
  // timer too), the running one is waited for, and queue_work() fails for the whole duration, so a work that
  // requeues itself cannot escape the cancel. Afterwards the item is idle: neither pending nor running.
  static bool cancel_sync(WorkStruct& w, const Site& site) {
    world().yield(sim::EventKind::Sync, &w, site);
    Work& s = state().works[&w];
    touch_lockdep_map(w, s, site);
    const bool was_pending = s.pending;
    grab_pending(s, site);
    ++s.canceling;
    while (s.running > 0)
      world().block(&s, "work item to finish", site);
    --s.canceling;
    world().races().acquire(world().current_task(), &w);  // the finished instances' release (process_one_work)
    return was_pending;
  }
  // flush_workqueue(): kernel/workqueue.c __flush_workqueue waits for the flush colour of every work queued
  // before it; here, for every sequence number given out before the call.
  static void flush_wq(const Workqueue* wq, const Site& site) {
    world().yield(sim::EventKind::Sync, wq, site);
    if (!wq_alive(wq, site)) return;
    Wq& q = state().wqs[wq];
    const std::uint64_t before = q.next_seq;
    while (!q.outstanding.empty() && *q.outstanding.begin() < before)
      world().block(&q, "workqueue flush", site);
    world().races().acquire(world().current_task(), &q);
  }
  // drain_workqueue(): flushes until the workqueue is empty, including work queued meanwhile (chained work).
  static void drain(const Workqueue* wq, const Site& site) {
    world().yield(sim::EventKind::Sync, wq, site);
    if (!wq_alive(wq, site)) return;
    Wq& q = state().wqs[wq];
    while (!q.outstanding.empty())
      world().block(&q, "workqueue drain", site);
    world().races().acquire(world().current_task(), &q);
  }
  // destroy_workqueue(): drained, then later queueing is refused (the kernel frees the workqueue).
  static void destroy(const Workqueue* wq, const Site& site) {
    drain(wq, site);
    state().wqs[wq].destroyed = true;
  }
  static bool pending(const WorkStruct& w) { return state().works[&w].pending; }
};

class Timers {
 public:
  static void setup(TimerList& t, TimerList::Func f) {
    t.embedded_.attach(&t);
    t.func_ = f;
    state().timers[&t] = {};
  }
  static bool mod(TimerList& t, std::uint64_t delay, const Site& site) {
    world().yield(sim::EventKind::Sync, &t, site);
    DeferredState::Timer& s = state().timers[&t];
    if (s.shutdown) return false;
    bool was = s.armed != 0;
    std::uint64_t gen = ++s.generation;
    s.armed = gen;
    TimerList* timer = &t;
    world().spawn(
        "timer", [timer, gen, delay, site] { call_timer_fn(timer, gen, delay, site); }, site);
    return was;
  }
  static void call_timer_fn(TimerList* t, std::uint64_t gen, std::uint64_t delay, const Site& armed_at) {
    world().sleep_for(delay, armed_at);
    DeferredState::Timer& s = state().timers[t];
    if (s.armed != gen) return;  // deleted or re-armed: this expiry never happens
    s.armed = 0;
    ++s.running;
    ++state().timer_fires;
    {
      // call_timer_fn() runs in softirq context: no sleeping.
      world().note_acquired(t, "softirq (timer callback)", armed_at, sim::HoldKind::Atomic);
      TimerList::Func f = t->func_;
      if (t->embedded_.touch(&t->func_, sizeof f, false, Site::current()) && f != nullptr) f(*t);
      world().note_released(t);
    }
    DeferredState::Timer& after = state().timers[t];
    // Happens-before (race detector): the callback is ordered before a del_timer_sync() that finds it finished
    // (kernel/time/timer.c: the base lock, taken after the callback and by the delete).
    world().races().release(world().current_task(), t);
    if (--after.running == 0) world().wake_all(&after, armed_at);
  }
  static bool del(TimerList& t, bool sync, bool shutdown, const Site& site) {
    world().yield(sim::EventKind::Sync, &t, site);
    DeferredState::Timer* s = &state().timers[&t];
    // timer_shutdown*(): the function is cleared at the first attempt, so a running callback cannot re-arm.
    if (shutdown) s->shutdown = true;
    if (!sync) {
      bool was = s->armed != 0;
      s->armed = 0;
      return was;
    }
    // kernel/time/timer.c __timer_delete_sync: __try_to_del_timer_sync() refuses (-1) while the callback runs
    // and is retried until it succeeds, so a callback that re-armed the timer meanwhile is disarmed by the
    // retry: on return the timer is neither running nor pending. The result is that of the last attempt.
    while (s->running > 0) {
      world().block(s, "timer callback to finish", site);
      s = &state().timers[&t];
    }
    world().races().acquire(world().current_task(), &t);  // finished callbacks' release (call_timer_fn)
    bool was = s->armed != 0;
    s->armed = 0;
    return was;
  }
  static bool pending(const TimerList& t) { return state().timers[&t].armed != 0; }
};

// Each entry point takes the native runtime (bus/native_runtime.hpp, on Boost.Asio) when there is no simulated
// world: one check of a thread-local, as core/ does.
namespace {
bool native() {
  return core::sim_world() == nullptr;
}
}  // namespace

void init_work(WorkStruct& work, WorkStruct::Func func, const Site& site) {
  if (native()) return NativeDeferred::init_work(work, func);
  Workqueues::init(work, func, site);
}
bool queue_work(WorkStruct& work, const Site& site) {
  if (native()) return NativeDeferred::queue_work(nullptr, work);
  return Workqueues::queue(nullptr, work, site);
}
void alloc_workqueue(Workqueue& wq, bool ordered, const Site&) {
  if (native()) return NativeDeferred::alloc_workqueue(wq, ordered);
  Workqueues::alloc(wq, ordered);
}
bool queue_work(Workqueue* wq, WorkStruct& work, const Site& site) {
  if (native()) return NativeDeferred::queue_work(wq, work);
  return Workqueues::queue(wq, work, site);
}
void flush_workqueue(Workqueue* wq, const Site& site) {
  if (native()) return NativeDeferred::flush_workqueue(wq);
  Workqueues::flush_wq(wq, site);
}
void drain_workqueue(Workqueue* wq, const Site& site) {
  if (native()) return NativeDeferred::drain_workqueue(wq, /*destroy=*/false);
  Workqueues::drain(wq, site);
}
void destroy_workqueue(Workqueue* wq, const Site& site) {
  if (wq == nullptr) return;  // the system workqueue is never destroyed
  if (native()) return NativeDeferred::drain_workqueue(wq, /*destroy=*/true);
  Workqueues::destroy(wq, site);
}
bool queue_delayed_work(Workqueue* wq, WorkStruct& work, std::uint64_t delay_ns, const Site& site) {
  if (native()) return NativeDeferred::queue_delayed_work(wq, work, delay_ns);
  return Workqueues::queue_delayed(wq, work, delay_ns, site);
}
bool mod_delayed_work(Workqueue* wq, WorkStruct& work, std::uint64_t delay_ns, const Site& site) {
  if (native()) return NativeDeferred::mod_delayed_work(wq, work, delay_ns);
  return Workqueues::mod_delayed(wq, work, delay_ns, site);
}
bool cancel_work(WorkStruct& work, const Site& site) {
  if (native()) return NativeDeferred::cancel_work(work);
  return Workqueues::cancel(work, site);
}
bool flush_delayed_work(WorkStruct& work, const Site& site) {
  if (native()) return NativeDeferred::flush_delayed_work(work);
  return Workqueues::flush_delayed(work, site);
}
bool flush_work(WorkStruct& work, const Site& site) {
  if (native()) return NativeDeferred::flush_work(work);
  return Workqueues::flush(work, site);
}
bool cancel_work_sync(WorkStruct& work, const Site& site) {
  if (native()) return NativeDeferred::cancel_work_sync(work);
  return Workqueues::cancel_sync(work, site);
}
bool work_pending(const WorkStruct& work) {
  if (native()) return NativeDeferred::work_pending(work);
  return Workqueues::pending(work);
}
std::uint64_t work_executions() {
  if (native()) return NativeDeferred::work_executions();
  return state().work_executions;
}

void timer_setup(TimerList& timer, TimerList::Func func, const Site&) {
  if (native()) return NativeDeferred::timer_setup(timer, func);
  Timers::setup(timer, func);
}
bool mod_timer(TimerList& timer, std::uint64_t delay_ns, const Site& site) {
  if (native()) return NativeDeferred::mod_timer(timer, delay_ns);
  return Timers::mod(timer, delay_ns, site);
}
bool del_timer(TimerList& timer, const Site& site) {
  if (native()) return NativeDeferred::del_timer(timer, false, false);
  return Timers::del(timer, false, false, site);
}
bool del_timer_sync(TimerList& timer, const Site& site) {
  if (native()) return NativeDeferred::del_timer(timer, true, false);
  return Timers::del(timer, true, false, site);
}
bool timer_shutdown_sync(TimerList& timer, const Site& site) {
  if (native()) return NativeDeferred::del_timer(timer, true, true);
  return Timers::del(timer, true, true, site);
}
bool timer_pending(const TimerList& timer) {
  if (native()) return NativeDeferred::timer_pending(timer);
  return Timers::pending(timer);
}
std::uint64_t timer_fires() {
  if (native()) return NativeDeferred::timer_fires();
  return state().timer_fires;
}
std::uint64_t jiffies() {
  if (native()) return NativeDeferred::now_ns() / kNsecPerJiffy;
  return world().now() / kNsecPerJiffy;
}

}  // namespace devsim::bus
