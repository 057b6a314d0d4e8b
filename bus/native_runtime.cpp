// Work items, timers and interrupt lines on real OS threads, on Boost.Asio. The only translation unit that includes
// Asio.
#include "bus/native_runtime.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bus/errno.hpp"
#include "core/irqflags.hpp"

namespace devsim::bus {

namespace asio = boost::asio;

namespace {

struct NativeWq;

// The native state of one work_struct. The kernel keeps PENDING in the item and "running" in the worker pool
// (pool->busy_hash, keyed by the item's address); here both live in this entry, beside the item, so that the
// pool never touches the item after its function returned (the function may free it, as the kernel allows).
// INVARIANT: queued - retired == (pending ? 1 : 0) + (running ? 1 : 0). Every pending instance that is on a
// workqueue (not delayed) has exactly one posted run_work() carrying the current ticket, or (resume) is re-posted
// by the running instance when it returns; runs with an older ticket do nothing. So the function never overlaps
// itself, and one item occupies at most one pool thread but for a superseded run that returns at once.
struct NativeWork {
  std::mutex mu;
  std::condition_variable cv;  // retired, running or ticket changed
  bool pending = false;
  bool delayed = false;  // pending on its timer (queue_delayed_work), on no workqueue yet
  bool running = false;
  bool resume = false;  // the posted run found the item running: the running instance posts it again at its end
  int canceling = 0;    // cancel_work_sync() calls in progress: queueing fails meanwhile
  std::uint64_t queued = 0;
  std::uint64_t retired = 0;
  std::uint64_t ticket = 0;  // the posted run_work() that may run the pending instance
  // The workqueue of the pending instance (delayed: the one its timer will put it on) and its place there.
  std::shared_ptr<NativeWq> wq;
  std::uint64_t seq = 0;
  std::uint64_t timer_generation = 0;  // the delayed instance's expiry that may fire
  // delayed_work.timer: made at the first queue_delayed_work. INVARIANT: used only under mu.
  std::unique_ptr<asio::steady_timer> timer;
};

// The native state of one workqueue (nullptr: the system workqueue). Every instance put on it gets the next
// sequence number and stays in `outstanding` until it ran or was taken back: flush_workqueue waits for the numbers
// given out before its call (kernel/workqueue.c flush colours), drain_workqueue for the set to be empty.
// An ordered workqueue posts its runs to one asio::strand over the system pool: they run one at a time, in the
// order they were posted, which is the order of their sequence numbers (both under mu).
struct NativeWq {
  NativeWq(bool is_ordered, asio::thread_pool& pool) : ordered(is_ordered), strand(asio::make_strand(pool)) {}
  std::mutex mu;
  std::condition_variable cv;  // outstanding lost an element
  const bool ordered;
  asio::strand<asio::thread_pool::executor_type> strand;  // used only when ordered
  std::uint64_t next_seq = 1;
  std::set<std::uint64_t> outstanding;
  bool destroyed = false;  // destroy_workqueue() returned: queueing on it is refused
  bool warned = false;     // the refusal was said once (the kernel's WARN_ON_ONCE)
};

// A refused queueing on a destroyed workqueue, said once per workqueue. REQUIRES: q.mu held.
void warn_destroyed(NativeWq& q, const char* what) {
  if (q.warned) return;
  q.warned = true;
  std::fprintf(stderr, "devsim: %s on a destroyed workqueue: refused (kernel/workqueue.c __queue_work WARNs)\n", what);
}

// The native state of one timer_list. Every arming has a generation; the Asio wait of an older generation
// finds armed != its generation and does nothing, so a re-armed or deleted timer's old expiry never calls.
// INVARIANT: the steady_timer is used only under mu (Asio timers are not safe to share between threads).
struct NativeTimer {
  explicit NativeTimer(asio::thread_pool& softirq) : timer(softirq.get_executor()) {}
  std::mutex mu;
  std::condition_variable cv;  // running became false
  asio::steady_timer timer;
  std::uint64_t armed = 0;  // the generation that may fire; 0: disarmed
  std::uint64_t generation = 0;
  bool running = false;
  bool shutdown = false;
};

// Entries by the item's address. init (INIT_WORK, timer_setup) starts a fresh entry: an instance still in
// flight for an older object at that address keeps its own entry through its shared_ptr.
// Entries are not erased (no kernel call says a work_struct or timer_list is gone): one per initialised address.
template <class Item, class Entry>
class Registry {
 public:
  template <class... Args>
  std::shared_ptr<Entry> fresh(const Item* item, Args&... args) {
    auto e = std::make_shared<Entry>(args...);
    std::lock_guard lock(mu_);
    map_[item] = e;
    return e;
  }
  // An item used without init gets an entry at its first use.
  template <class... Args>
  std::shared_ptr<Entry> get(const Item* item, Args&... args) {
    std::lock_guard lock(mu_);
    std::shared_ptr<Entry>& e = map_[item];
    if (!e) e = std::make_shared<Entry>(args...);
    return e;
  }

 private:
  std::mutex mu_;
  std::unordered_map<const Item*, std::shared_ptr<Entry>> map_;
};

// The native state of one interrupt line (the kernel's irq_desc), by line number.
// INVARIANT: in_flight is true from the raise_irq() that posts a delivery until that delivery returned; at most
// one delivery per line is in flight, so its handler never runs beside itself. A raise meanwhile sets `again`,
// which the delivery replays once (raises merge, as edges latched while the line is in progress do).
struct NativeLine {
  std::mutex mu;
  std::condition_variable cv;  // in_flight became false
  IrqHandler handler = nullptr;
  IrqHandler thread_fn = nullptr;  // request_threaded_irq's thread function, run on the system pool
  void* dev_id = nullptr;
  std::string name;
  bool in_flight = false;
  // The line's irq thread (kernel/irq/manage.c irq_thread): one run of thread_fn at a time, posted to the pool by
  // the first wake; a wake while it runs (IRQTF_RUNTHREAD set again) makes it run once more. synchronize_irq waits
  // for it too (threads_active).
  bool thread_running = false;
  bool thread_again = false;
  bool again = false;
  int disabled = 0;      // disable_irq nesting
  bool oneshot = false;  // IRQF_ONESHOT: masked from a wake of the thread until the thread function returned
  bool masked = false;   // masked by IRQF_ONESHOT now
  bool pending = false;  // arrived while disabled or masked: enable_irq or the unmask raises it again
  std::uint64_t spurious = 0;
  std::uint64_t handled = 0;
};

unsigned pool_threads() {
  return std::max(4u, std::thread::hardware_concurrency());
}

struct Runtime {
  // Declared first, destroyed last: the registries' timers belong to softirq's scheduler.
  asio::thread_pool system_wq{pool_threads()};
  asio::thread_pool softirq{1};
  // One one-thread context per CPU that takes hard interrupts. LIFETIME: never resized after construction.
  std::vector<std::unique_ptr<asio::thread_pool>> cpus = make_cpus();
  std::atomic<unsigned> next_cpu{0};
  Registry<WorkStruct, NativeWork> works;
  Registry<Workqueue, NativeWq> wqs;  // nullptr: the system workqueue
  Registry<TimerList, NativeTimer> timers;
  std::atomic<std::uint64_t> work_executions{0};
  std::atomic<std::uint64_t> timer_fires{0};
  std::mutex lines_mu;
  std::unordered_map<unsigned, std::shared_ptr<NativeLine>> lines;  // never erased: one entry per line number

  static std::vector<std::unique_ptr<asio::thread_pool>> make_cpus() {
    std::vector<std::unique_ptr<asio::thread_pool>> v;
    for (unsigned i = 0; i < NativeDeferred::kIrqCpus; ++i)
      v.push_back(std::make_unique<asio::thread_pool>(1));
    return v;
  }

  // At exit: queued work and armed timers are dropped, callbacks running now are waited for.
  ~Runtime() {
    for (auto& cpu : cpus)
      cpu->stop();
    softirq.stop();
    system_wq.stop();
    for (auto& cpu : cpus)
      cpu->join();
    softirq.join();
    system_wq.join();
  }
};

Runtime& runtime() {
  static Runtime r;
  return r;
}

}  // namespace

// ---- work items -------------------------------------------------------------------------------------------

namespace {
// The work item whose function the calling thread runs now, and the workqueue of that instance: a flush or drain
// that would wait for it from inside it never returns (the kernel deadlocks there; lockdep reports it), so it is
// said on stderr and not waited for.
thread_local const NativeWork* current_work = nullptr;
thread_local const NativeWq* current_wq = nullptr;

std::shared_ptr<NativeWq> wq_of(const Workqueue* wq) {
  bool ordered = false;  // a workqueue used without alloc_workqueue() is an unordered one
  return runtime().wqs.get(wq, ordered, runtime().system_wq);
}

void run_work(const std::shared_ptr<NativeWork>& e, WorkStruct* w, std::uint64_t ticket);

// Posts the run of the pending instance to its workqueue's executor. REQUIRES: e->mu held.
void post_run(const std::shared_ptr<NativeWork>& e, WorkStruct* w) {
  const std::uint64_t t = ++e->ticket;
  if (e->wq->ordered)
    asio::post(e->wq->strand, [e, w, t] { run_work(e, w, t); });
  else
    asio::post(runtime().system_wq, [e, w, t] { run_work(e, w, t); });
}

// insert_work(): the pending instance goes on `q` with the next sequence number, and a run of it is posted.
// False if `q` was destroyed (kernel/workqueue.c __queue_work WARNs; the instance is not queued).
// REQUIRES: e->mu held, e->pending.
bool insert(const std::shared_ptr<NativeWork>& e, WorkStruct* w, const std::shared_ptr<NativeWq>& q) {
  std::lock_guard qlock(q->mu);
  if (q->destroyed) {
    warn_destroyed(*q, "queue_work");
    return false;
  }
  e->delayed = false;
  e->wq = q;
  e->seq = q->next_seq++;
  q->outstanding.insert(e->seq);
  post_run(e, w);  // under q->mu: an ordered workqueue's strand gets its runs in sequence order
  return true;
}

// Takes a refused or cancelled pending instance back: it retires without running. REQUIRES: e->mu held.
void retire_pending(NativeWork& e) {
  e.pending = false;
  e.delayed = false;
  e.wq = nullptr;
  ++e.ticket;  // a posted run of it does nothing
  ++e.retired;
}

// try_to_grab_pending(): the pending instance is taken back from its timer or its workqueue. REQUIRES: e->mu held.
void grab_pending(NativeWork& e) {
  if (!e.pending) return;
  if (e.delayed) {
    ++e.timer_generation;  // its expiry finds an older generation and does nothing
    e.timer->cancel();
  } else {
    {
      std::lock_guard qlock(e.wq->mu);
      e.wq->outstanding.erase(e.seq);
    }
    e.wq->cv.notify_all();
  }
  retire_pending(e);
}

// A new pending instance on `q`: at once, or after `delay_ns` (delayed_work_timer_fn puts it on `q` at expiry).
// REQUIRES: e->mu held, not pending.
bool make_pending(const std::shared_ptr<NativeWork>& e, WorkStruct* w, const std::shared_ptr<NativeWq>& q,
                  std::uint64_t delay_ns);

// delayed_work_timer_fn(): at expiry the delayed instance goes on its workqueue.
void delayed_work_timer_fn(const std::shared_ptr<NativeWork>& e, WorkStruct* w, std::uint64_t gen) {
  {
    std::lock_guard lock(e->mu);
    if (!e->pending || !e->delayed || e->timer_generation != gen) return;  // cancelled, grabbed or flushed
    if (insert(e, w, e->wq)) return;
    retire_pending(*e);  // its workqueue was destroyed meanwhile
  }
  e->cv.notify_all();
}

bool make_pending(const std::shared_ptr<NativeWork>& e, WorkStruct* w, const std::shared_ptr<NativeWq>& q,
                  std::uint64_t delay_ns) {
  e->pending = true;
  ++e->queued;
  if (delay_ns == 0) {
    if (insert(e, w, q)) return true;
    retire_pending(*e);
    return false;
  }
  {
    std::lock_guard qlock(q->mu);
    if (q->destroyed) {
      warn_destroyed(*q, "queue_delayed_work");
      retire_pending(*e);
      return false;
    }
  }
  e->delayed = true;
  e->wq = q;
  const std::uint64_t gen = ++e->timer_generation;
  // On the system pool's executor: the expiry only puts the item on its workqueue (the kernel does it in the
  // timer softirq), and the timer shares the pool's lifetime.
  if (!e->timer) e->timer = std::make_unique<asio::steady_timer>(runtime().system_wq.get_executor());
  e->timer->expires_after(std::chrono::nanoseconds(delay_ns));
  e->timer->async_wait([e, w, gen](const boost::system::error_code&) { delayed_work_timer_fn(e, w, gen); });
  return true;
}

// process_one_work(): one instance. Non-reentrant (kernel/workqueue.c): this is the only place the function
// runs, and only while no other instance runs: a run that finds one running leaves the item to it (resume), or,
// on an ordered workqueue, holds its strand until it returned, so later items there stay behind it.
void run_work(const std::shared_ptr<NativeWork>& e, WorkStruct* w, std::uint64_t ticket) {
  WorkStruct::Func f = nullptr;
  std::shared_ptr<NativeWq> q;
  std::uint64_t seq = 0;
  {
    std::unique_lock lock(e->mu);
    for (;;) {
      if (e->ticket != ticket || !e->pending || e->delayed) return;  // cancelled, grabbed or superseded
      if (!e->running) break;
      if (!e->wq->ordered) {
        e->resume = true;
        return;
      }
      e->cv.wait(lock);  // running from another workqueue: only possible when queued on two of them
    }
    e->pending = false;  // set_work_pool_and_clear_pending(): queueing again succeeds from here
    e->running = true;
    q = std::move(e->wq);
    seq = e->seq;
    f = NativeDeferred::func_of(*w);  // LIFETIME: the item is alive while an instance is pending
  }
  runtime().work_executions.fetch_add(1, std::memory_order_relaxed);
  current_work = e.get();
  current_wq = q.get();
  if (f != nullptr) f(*w);
  current_work = nullptr;
  current_wq = nullptr;
  // LIFETIME: from here on `w` may be freed (the function may free its item): only the entry is touched, and
  // `w` only as the address a later run is posted with (that instance was queued by someone holding the item).
  {
    std::lock_guard lock(e->mu);
    e->running = false;
    ++e->retired;
    // Queued while it ran and its run found it running: the next instance runs now, after this one.
    if (e->resume) {
      e->resume = false;
      if (e->pending && !e->delayed) post_run(e, w);
    }
  }
  e->cv.notify_all();
  {
    std::lock_guard qlock(q->mu);
    q->outstanding.erase(seq);
  }
  q->cv.notify_all();
}

bool flushing_itself(const NativeWork* e, const char* what) {
  if (current_work != e) return false;
  std::fprintf(stderr, "devsim: %s of a work item from its own function would wait for itself forever; not waited\n",
               what);
  return true;
}
bool flushing_own_workqueue(const NativeWq* q, const char* what) {
  if (current_wq != q) return false;
  std::fprintf(stderr,
               "devsim: %s from a work item running on that workqueue would wait for itself forever; not waited\n",
               what);
  return true;
}
}  // namespace

void NativeDeferred::init_work(WorkStruct& work, WorkStruct::Func func) {
  work.func_ = func;
  runtime().works.fresh(&work);
}

void NativeDeferred::alloc_workqueue(Workqueue& wq, bool ordered) {
  runtime().wqs.fresh(&wq, ordered, runtime().system_wq);
}

bool NativeDeferred::queue_work(Workqueue* wq, WorkStruct& work) {
  return queue_delayed_work(wq, work, 0);
}

bool NativeDeferred::queue_delayed_work(Workqueue* wq, WorkStruct& work, std::uint64_t delay_ns) {
  std::shared_ptr<NativeWork> e = runtime().works.get(&work);
  std::shared_ptr<NativeWq> q = wq_of(wq);
  std::lock_guard lock(e->mu);
  // __queue_work() / queue_delayed_work_on(): test_and_set of PENDING; a cancel in progress owns it.
  if (e->pending || e->canceling > 0) return false;
  return make_pending(e, &work, q, delay_ns);
}

bool NativeDeferred::mod_delayed_work(Workqueue* wq, WorkStruct& work, std::uint64_t delay_ns) {
  std::shared_ptr<NativeWork> e = runtime().works.get(&work);
  std::shared_ptr<NativeWq> q = wq_of(wq);
  bool was = false;
  {
    std::lock_guard lock(e->mu);
    // mod_delayed_work_on(): try_to_grab_pending() fails with -ENOENT while a cancel owns the item; returned as true.
    if (e->canceling > 0) return true;
    was = e->pending;
    grab_pending(*e);
    make_pending(e, &work, q, delay_ns);
  }
  e->cv.notify_all();
  return was;
}

bool NativeDeferred::cancel_work(WorkStruct& work) {
  std::shared_ptr<NativeWork> e = runtime().works.get(&work);
  bool was = false;
  {
    std::lock_guard lock(e->mu);
    if (e->canceling > 0) return false;
    was = e->pending;
    grab_pending(*e);
  }
  e->cv.notify_all();
  return was;
}

bool NativeDeferred::flush_work(WorkStruct& work) {
  std::shared_ptr<NativeWork> e = runtime().works.get(&work);
  std::unique_lock lock(e->mu);
  // start_flush_work(): a barrier right behind the instance pending or running now, not behind later ones; a
  // delayed instance is on no worklist yet and is not waited for.
  const std::uint64_t target = e->pending && e->delayed ? e->queued - 1 : e->queued;
  const bool waited = e->retired < target;
  if (waited && flushing_itself(e.get(), "flush_work")) return false;
  e->cv.wait(lock, [&] { return e->retired >= target; });
  return waited;
}

bool NativeDeferred::flush_delayed_work(WorkStruct& work) {
  std::shared_ptr<NativeWork> e = runtime().works.get(&work);
  {
    std::lock_guard lock(e->mu);
    // flush_delayed_work(): a pending timer is deleted and the item put on its workqueue at once.
    if (e->pending && e->delayed) {
      ++e->timer_generation;
      e->timer->cancel();
      if (!insert(e, &work, e->wq)) retire_pending(*e);
    }
  }
  e->cv.notify_all();
  return flush_work(work);
}

bool NativeDeferred::cancel_work_sync(WorkStruct& work) {
  std::shared_ptr<NativeWork> e = runtime().works.get(&work);
  std::unique_lock lock(e->mu);
  // __cancel_work_sync(): take the pending instance back (off its workqueue or its timer), then wait for the
  // running one, with queueing refused throughout, so a work that requeues itself cannot escape.
  const bool was_pending = e->pending;
  grab_pending(*e);
  if (!(e->running && flushing_itself(e.get(), "cancel_work_sync"))) {
    ++e->canceling;
    e->cv.notify_all();  // an ordered run waiting for the running instance: its ticket is gone
    e->cv.wait(lock, [&] { return !e->running; });
    --e->canceling;
  }
  lock.unlock();
  e->cv.notify_all();  // flushers waiting for the cancelled instance
  return was_pending;
}

bool NativeDeferred::work_pending(const WorkStruct& work) {
  std::shared_ptr<NativeWork> e = runtime().works.get(&work);
  std::lock_guard lock(e->mu);
  return e->pending;
}

void NativeDeferred::flush_workqueue(Workqueue* wq) {
  std::shared_ptr<NativeWq> q = wq_of(wq);
  std::unique_lock lock(q->mu);
  // __flush_workqueue(): waits for every instance put on the workqueue before the call, not for later ones.
  const std::uint64_t before = q->next_seq;
  if (q->outstanding.empty() || *q->outstanding.begin() >= before) return;
  if (flushing_own_workqueue(q.get(), "flush_workqueue")) return;
  q->cv.wait(lock, [&] { return q->outstanding.empty() || *q->outstanding.begin() >= before; });
}

void NativeDeferred::drain_workqueue(Workqueue* wq, bool destroy) {
  std::shared_ptr<NativeWq> q = wq_of(wq);
  std::unique_lock lock(q->mu);
  // drain_workqueue(): flushes until the workqueue is empty, work queued meanwhile by its own items included.
  const char* what = destroy ? "destroy_workqueue" : "drain_workqueue";
  if (!q->outstanding.empty() && !flushing_own_workqueue(q.get(), what))
    q->cv.wait(lock, [&] { return q->outstanding.empty(); });
  // destroy_workqueue(): from here nothing may be queued on it (the kernel frees it). Under the same lock as the
  // drain's last check, so nothing slips in between.
  if (destroy) q->destroyed = true;
}

std::uint64_t NativeDeferred::work_executions() {
  return runtime().work_executions.load(std::memory_order_relaxed);
}

// ---- timers -----------------------------------------------------------------------------------------------

namespace {
// call_timer_fn() for one arming; on the softirq thread, so callbacks of all timers run one at a time.
void fire_timer(const std::shared_ptr<NativeTimer>& e, TimerList* t, std::uint64_t gen) {
  TimerList::Func f = nullptr;
  {
    std::lock_guard lock(e->mu);
    if (e->armed != gen) return;  // deleted or re-armed: this expiry never happens
    e->armed = 0;
    e->running = true;
    f = NativeDeferred::func_of(*t);  // LIFETIME: an armed timer is alive
  }
  runtime().timer_fires.fetch_add(1, std::memory_order_relaxed);
  if (f != nullptr) f(*t);
  {
    std::lock_guard lock(e->mu);
    e->running = false;
  }
  e->cv.notify_all();
}
}  // namespace

void NativeDeferred::timer_setup(TimerList& timer, TimerList::Func func) {
  timer.func_ = func;
  runtime().timers.fresh(&timer, runtime().softirq);
}

bool NativeDeferred::mod_timer(TimerList& timer, std::uint64_t delay_ns) {
  std::shared_ptr<NativeTimer> e = runtime().timers.get(&timer, runtime().softirq);
  std::lock_guard lock(e->mu);
  if (e->shutdown) return false;  // timer_shutdown*() cleared the function: arming is ignored
  const bool was = e->armed != 0;
  const std::uint64_t gen = ++e->generation;
  e->armed = gen;
  // expires_after() cancels the previous wait, whose handler then runs early and finds an older generation.
  e->timer.expires_after(std::chrono::nanoseconds(delay_ns));
  TimerList* t = &timer;
  e->timer.async_wait([e, t, gen](const boost::system::error_code&) { fire_timer(e, t, gen); });
  return was;
}

bool NativeDeferred::del_timer(TimerList& timer, bool sync, bool shutdown) {
  std::shared_ptr<NativeTimer> e = runtime().timers.get(&timer, runtime().softirq);
  std::unique_lock lock(e->mu);
  // timer_shutdown*(): the function is cleared at the first attempt, so a running callback cannot re-arm.
  if (shutdown) e->shutdown = true;
  // kernel/time/timer.c __timer_delete_sync: retried while the callback runs, so a re-arming done by that
  // callback is undone by the retry. Waiting under the same lock that the re-arming takes is that retry.
  if (sync) e->cv.wait(lock, [&] { return !e->running; });
  const bool was = e->armed != 0;
  e->armed = 0;
  e->timer.cancel();
  return was;
}

bool NativeDeferred::timer_pending(const TimerList& timer) {
  std::shared_ptr<NativeTimer> e = runtime().timers.get(&timer, runtime().softirq);
  std::lock_guard lock(e->mu);
  return e->armed != 0;
}

std::uint64_t NativeDeferred::timer_fires() {
  return runtime().timer_fires.load(std::memory_order_relaxed);
}

// ---- interrupt lines --------------------------------------------------------------------------------------

namespace {
thread_local int current_cpu = -1;                      // the CPU whose handler this thread runs; -1: none
thread_local const NativeLine* current_line = nullptr;  // the line whose handler this thread runs

std::shared_ptr<NativeLine> line_of(unsigned irq) {
  Runtime& r = runtime();
  std::lock_guard lock(r.lines_mu);
  std::shared_ptr<NativeLine>& e = r.lines[irq];
  if (!e) e = std::make_shared<NativeLine>();
  return e;
}

// Waiting for the line's own interrupt from inside its handler never ends (the kernel hangs there too): said
// on stderr and not waited for, so a misbehaving driver does not hang the run.
bool waiting_for_itself(const NativeLine& e, unsigned irq, const char* what) {
  if (current_line != &e) return false;
  std::fprintf(stderr,
               "devsim: %s(%u) called from irq %u's own handler or thread would wait for itself forever; not waited\n",
               what, irq, irq);
  return true;
}

// irq_thread() on a pool thread, in process context: the thread function, again as long as wakes came meanwhile.
void irq_thread(const std::shared_ptr<NativeLine>& e, unsigned irq) {
  current_line = e.get();  // a synchronize_irq from here would wait for itself
  std::unique_lock lock(e->mu);
  for (;;) {
    const IrqHandler fn = e->thread_fn;
    if (fn == nullptr) break;  // freed (free_irq clears it only once no run is in progress)
    void* const dev_id = e->dev_id;
    e->thread_again = false;
    lock.unlock();
    fn(irq, dev_id);
    lock.lock();
    if (!e->thread_again) break;
  }
  e->thread_running = false;
  // kernel/irq/manage.c irq_finalize_oneshot: unmasked once the thread function returned; an interrupt that
  // arrived while masked is delivered now (unless disable_irq still masks the line: enable_irq will).
  bool resend = false;
  if (e->masked) {
    e->masked = false;
    resend = e->pending && e->disabled == 0;
    if (resend) e->pending = false;
  }
  lock.unlock();
  e->cv.notify_all();
  current_line = nullptr;
  if (resend) NativeDeferred::raise_irq(irq);
}

// irq_wake_thread(): the hard handler returned IRQ_WAKE_THREAD. REQUIRES: e->mu held.
void irq_wake_thread(const std::shared_ptr<NativeLine>& e, unsigned irq) {
  if (e->thread_fn == nullptr) return;  // no thread function: the kernel warns (warn_no_thread) and does nothing
  if (e->thread_running) {
    e->thread_again = true;
    return;
  }
  e->thread_running = true;
  asio::post(runtime().system_wq, [e, irq] { irq_thread(e, irq); });
}

// handle_edge_irq() and handle_irq_event() on a CPU thread: the handler runs in hard-IRQ context, again once
// for every run of raises that arrived while it ran.
void deliver(const std::shared_ptr<NativeLine>& e, unsigned irq, int cpu) {
  current_cpu = cpu;
  current_line = e.get();
  std::unique_lock lock(e->mu);
  for (;;) {
    if (e->disabled > 0 || e->masked) {
      e->pending = true;  // masked: enable_irq or the unmask resends it (the raises merged into it are this one)
      break;
    }
    if (e->handler == nullptr) {
      ++e->spurious;
    } else {
      const IrqHandler h = e->handler;
      void* const dev_id = e->dev_id;
      ++e->handled;
      lock.unlock();
      IrqReturn r = IrqReturn::None;
      {
        core::hardirq_enter(Site::current());  // natively: in_hardirq() and irqs_disabled() on this thread
        // LIFETIME: hard-IRQ context ends with the handler, even when it is unwound.
        struct Leave {
          Leave() = default;
          Leave(const Leave&) = delete;
          Leave& operator=(const Leave&) = delete;
          ~Leave() { core::hardirq_exit(); }
        } leave;
        r = h(irq, dev_id);
      }
      lock.lock();
      if (r == IrqReturn::WakeThread) {
        if (e->oneshot && e->thread_fn != nullptr) e->masked = true;  // until irq_thread() returns
        irq_wake_thread(e, irq);
      }
    }
    if (!e->again) break;
    e->again = false;
  }
  e->again = false;
  e->in_flight = false;
  lock.unlock();
  e->cv.notify_all();
  current_line = nullptr;
  current_cpu = -1;
}

void wait_idle(NativeLine& e, std::unique_lock<std::mutex>& lock) {
  e.cv.wait(lock, [&] { return !e.in_flight && !e.thread_running; });
}
}  // namespace

int NativeDeferred::request_irq(unsigned irq, IrqHandler handler, IrqHandler thread_fn, bool oneshot, std::string name,
                                void* dev_id) {
  std::shared_ptr<NativeLine> e = line_of(irq);
  std::lock_guard lock(e->mu);
  if (e->handler != nullptr) return -kEBUSY;
  e->handler = handler;
  e->thread_fn = thread_fn;
  e->oneshot = oneshot;
  e->masked = false;
  e->dev_id = dev_id;
  e->name = std::move(name);
  return 0;
}

void NativeDeferred::free_irq(unsigned irq, void* dev_id) {
  std::shared_ptr<NativeLine> e = line_of(irq);
  std::unique_lock lock(e->mu);
  if (e->handler == nullptr || e->dev_id != dev_id) return;
  e->handler = nullptr;
  // synchronize_irq(): a handler or thread function already running returns before the caller may free what it
  // uses (__free_irq: synchronize_irq, then kthread_stop); later deliveries find no handler, and a running thread
  // function is not started again.
  if (!waiting_for_itself(*e, irq, "free_irq")) wait_idle(*e, lock);
  // The thread function ran its last wake with dev_id (irq_wait_for_interrupt runs a pending wake one last time);
  // now the line is cleared, unless it was requested again meanwhile.
  if (e->handler == nullptr) {
    e->thread_fn = nullptr;
    e->dev_id = nullptr;
  }
}

void NativeDeferred::disable_irq(unsigned irq, bool sync) {
  std::shared_ptr<NativeLine> e = line_of(irq);
  std::unique_lock lock(e->mu);
  ++e->disabled;
  if (sync && !waiting_for_itself(*e, irq, "disable_irq")) wait_idle(*e, lock);
}

void NativeDeferred::enable_irq(unsigned irq) {
  std::shared_ptr<NativeLine> e = line_of(irq);
  {
    std::lock_guard lock(e->mu);
    if (e->disabled == 0) return;  // unbalanced: the kernel WARNs; nothing to unmask
    if (--e->disabled > 0 || !e->pending || e->masked) return;
    e->pending = false;
  }
  raise_irq(irq);  // check_irq_resend()
}

void NativeDeferred::synchronize_irq(unsigned irq) {
  std::shared_ptr<NativeLine> e = line_of(irq);
  std::unique_lock lock(e->mu);
  if (!waiting_for_itself(*e, irq, "synchronize_irq")) wait_idle(*e, lock);
}

void NativeDeferred::raise_irq(unsigned irq) {
  std::shared_ptr<NativeLine> e = line_of(irq);
  {
    std::lock_guard lock(e->mu);
    if (e->in_flight) {
      e->again = true;  // IRQD_IRQ_INPROGRESS: the delivery in flight runs the handler once more
      return;
    }
    e->in_flight = true;
  }
  Runtime& r = runtime();
  const unsigned cpu = r.next_cpu.fetch_add(1, std::memory_order_relaxed) % kIrqCpus;
  asio::post(*r.cpus[cpu], [e, irq, cpu] { deliver(e, irq, static_cast<int>(cpu)); });
}

std::uint64_t NativeDeferred::irq_spurious(unsigned irq) {
  std::shared_ptr<NativeLine> e = line_of(irq);
  std::lock_guard lock(e->mu);
  return e->spurious;
}

std::uint64_t NativeDeferred::irq_handled(unsigned irq) {
  std::shared_ptr<NativeLine> e = line_of(irq);
  std::lock_guard lock(e->mu);
  return e->handled;
}

int NativeDeferred::irq_cpu() {
  return current_cpu;
}

std::uint64_t NativeDeferred::now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

void NativeDeferred::post(std::function<void()> fn) {
  asio::post(runtime().system_wq, std::move(fn));
}

void NativeDeferred::post_hardirq(std::function<void()> fn) {
  Runtime& r = runtime();
  const unsigned cpu = r.next_cpu.fetch_add(1, std::memory_order_relaxed) % kIrqCpus;
  asio::post(*r.cpus[cpu], [fn = std::move(fn)] {
    // LIFETIME: hard-IRQ context ends with the function, even when it is unwound.
    const core::HardIrqScope hardirq(Site::current());
    fn();
  });
}

}  // namespace devsim::bus
