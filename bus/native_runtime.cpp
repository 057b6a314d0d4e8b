// Work items, timers and interrupt lines on real OS threads, on Boost.Asio. The only translation unit that includes
// Asio.
#include "bus/native_runtime.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bus/errno.hpp"
#include "core/irqflags.hpp"

namespace devsim::bus {

namespace asio = boost::asio;

namespace {

// The native state of one work_struct. The kernel keeps PENDING in the item and "running" in the worker pool
// (pool->busy_hash, keyed by the item's address); here both live in this entry, beside the item, so that the
// pool never touches the item after its function returned (the function may free it, as the kernel allows).
// INVARIANT: queued - retired == (pending ? 1 : 0) + (running ? 1 : 0). scheduled: a run_work() is posted
// and has not started; at most one is, so one item occupies at most one pool thread.
struct NativeWork {
  std::mutex mu;
  std::condition_variable cv;  // retired or running changed
  bool pending = false;
  bool scheduled = false;
  bool running = false;
  int canceling = 0;  // cancel_work_sync() calls in progress: queue_work() fails meanwhile
  std::uint64_t queued = 0;
  std::uint64_t retired = 0;
};

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
  void* dev_id = nullptr;
  std::string name;
  bool in_flight = false;
  bool again = false;
  int disabled = 0;      // disable_irq nesting
  bool pending = false;  // arrived while disabled: enable_irq raises it again (IRQS_PENDING resend)
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
void post_work(const std::shared_ptr<NativeWork>& e, WorkStruct* w);

// process_one_work(): one instance. Non-reentrant (kernel/workqueue.c): this is the only place the function
// runs, and it is posted only while the item is not running, so the function never overlaps itself.
void run_work(const std::shared_ptr<NativeWork>& e, WorkStruct* w) {
  WorkStruct::Func f = nullptr;
  {
    std::lock_guard lock(e->mu);
    e->scheduled = false;
    if (!e->pending) return;  // cancelled before it started: the item is not touched
    e->pending = false;       // set_work_pool_and_clear_pending(): queueing again succeeds from here
    e->running = true;
    f = NativeDeferred::func_of(*w);  // LIFETIME: the item is alive while an instance is pending
  }
  runtime().work_executions.fetch_add(1, std::memory_order_relaxed);
  if (f != nullptr) f(*w);
  // LIFETIME: from here on `w` may be freed (the function may free its item): only the entry is touched.
  {
    std::lock_guard lock(e->mu);
    e->running = false;
    ++e->retired;
    // Queued while it ran: the next instance runs now, after this one (never beside it).
    if (e->pending && !e->scheduled) {
      e->scheduled = true;
      post_work(e, w);
    }
  }
  e->cv.notify_all();
}

void post_work(const std::shared_ptr<NativeWork>& e, WorkStruct* w) {
  asio::post(runtime().system_wq, [e, w] { run_work(e, w); });
}
}  // namespace

void NativeDeferred::init_work(WorkStruct& work, WorkStruct::Func func) {
  work.func_ = func;
  runtime().works.fresh(&work);
}

bool NativeDeferred::queue_work(WorkStruct& work) {
  std::shared_ptr<NativeWork> e = runtime().works.get(&work);
  std::lock_guard lock(e->mu);
  // __queue_work(): test_and_set of PENDING; a cancel in progress owns it.
  if (e->pending || e->canceling > 0) return false;
  e->pending = true;
  ++e->queued;
  // A running instance posts the next one when it returns; a posted one that has not started will run it.
  if (!e->running && !e->scheduled) {
    e->scheduled = true;
    post_work(e, &work);
  }
  return true;
}

bool NativeDeferred::flush_work(WorkStruct& work) {
  std::shared_ptr<NativeWork> e = runtime().works.get(&work);
  std::unique_lock lock(e->mu);
  // start_flush_work(): a barrier right behind the instance pending or running now, not behind later ones.
  const std::uint64_t target = e->queued;
  const bool waited = e->retired < target;
  e->cv.wait(lock, [&] { return e->retired >= target; });
  return waited;
}

bool NativeDeferred::cancel_work_sync(WorkStruct& work) {
  std::shared_ptr<NativeWork> e = runtime().works.get(&work);
  std::unique_lock lock(e->mu);
  // __cancel_work_sync(): take the pending instance off the queue, then wait for the running one, with
  // queueing refused throughout, so a work that requeues itself cannot escape.
  const bool was_pending = e->pending;
  if (e->pending) {
    e->pending = false;
    ++e->retired;  // this instance never runs (a posted run_work() finds it gone)
  }
  ++e->canceling;
  e->cv.wait(lock, [&] { return !e->running; });
  --e->canceling;
  lock.unlock();
  e->cv.notify_all();  // flushers waiting for the cancelled instance
  return was_pending;
}

bool NativeDeferred::work_pending(const WorkStruct& work) {
  std::shared_ptr<NativeWork> e = runtime().works.get(&work);
  std::lock_guard lock(e->mu);
  return e->pending;
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
  std::fprintf(stderr, "devsim: %s(%u) called from irq %u's own handler would wait for itself forever; not waited\n",
               what, irq, irq);
  return true;
}

// handle_edge_irq() and handle_irq_event() on a CPU thread: the handler runs in hard-IRQ context, again once
// for every run of raises that arrived while it ran.
void deliver(const std::shared_ptr<NativeLine>& e, unsigned irq, int cpu) {
  current_cpu = cpu;
  current_line = e.get();
  std::unique_lock lock(e->mu);
  for (;;) {
    if (e->disabled > 0) {
      e->pending = true;  // masked: enable_irq resends it (the raises merged into it are this one)
      break;
    }
    if (e->handler == nullptr) {
      ++e->spurious;
    } else {
      const IrqHandler h = e->handler;
      void* const dev_id = e->dev_id;
      ++e->handled;
      lock.unlock();
      {
        core::hardirq_enter(Site::current());  // natively: in_hardirq() and irqs_disabled() on this thread
        // LIFETIME: hard-IRQ context ends with the handler, even when it is unwound.
        struct Leave {
          Leave() = default;
          Leave(const Leave&) = delete;
          Leave& operator=(const Leave&) = delete;
          ~Leave() { core::hardirq_exit(); }
        } leave;
        h(irq, dev_id);
      }
      lock.lock();
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
  e.cv.wait(lock, [&] { return !e.in_flight; });
}
}  // namespace

int NativeDeferred::request_irq(unsigned irq, IrqHandler handler, std::string name, void* dev_id) {
  std::shared_ptr<NativeLine> e = line_of(irq);
  std::lock_guard lock(e->mu);
  if (e->handler != nullptr) return -kEBUSY;
  e->handler = handler;
  e->dev_id = dev_id;
  e->name = std::move(name);
  return 0;
}

void NativeDeferred::free_irq(unsigned irq, void* dev_id) {
  std::shared_ptr<NativeLine> e = line_of(irq);
  std::unique_lock lock(e->mu);
  if (e->handler == nullptr || e->dev_id != dev_id) return;
  e->handler = nullptr;
  e->dev_id = nullptr;
  // synchronize_irq(): a handler already running returns before the caller may free what it uses; later
  // deliveries find no handler.
  if (!waiting_for_itself(*e, irq, "free_irq")) wait_idle(*e, lock);
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
    if (--e->disabled > 0 || !e->pending) return;
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

}  // namespace devsim::bus
