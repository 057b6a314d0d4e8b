#include "core/rcu.hpp"

#include "core/rcu_pointer.hpp"

#include <urcu/urcu-memb.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

namespace devsim::core {

namespace {

// ---- the simulator's RCU ------------------------------------------------------------------------------

struct PendingCallback {
  std::uint64_t grace_period;  // runs once no reader older than this is open
  std::unique_ptr<detail::RcuCallback> callback;
  Site site;  // where call_rcu was called
};

// One world's RCU: its open readers, its grace-period sequence and its callback queue.
// LIFETIME: a world extension; it outlives every task of the world (extensions are destroyed last).
struct RcuState {
  struct Reader {
    sim::TaskId task;
    std::uint32_t depth;
    std::uint64_t start;  // gp_seq when the outermost section began
  };
  std::vector<Reader> readers;  // one per task inside a section
  std::uint64_t gp_seq = 0;     // grace periods started so far
  std::size_t gp_waiters = 0;   // tasks blocked until readers leave (channel: &readers)
  // INVARIANT: `pending` is non-empty only while a worker task's body is alive: the body destroys whatever is
  // left when it is destroyed, so unrun callbacks (and what they own) die before the world's memory does.
  std::deque<PendingCallback> pending;
  bool worker_alive = false;
  std::uint64_t callbacks_queued = 0;
  std::uint64_t callbacks_done = 0;  // channel for rcu_barrier: &callbacks_done
  std::size_t barrier_waiters = 0;
  const char softirq = 0;  // the resource a running callback holds

  Reader* find(sim::TaskId task) {
    for (Reader& r : readers)
      if (r.task == task) return &r;
    return nullptr;
  }
  bool readers_before(std::uint64_t gp) const {
    return std::any_of(readers.begin(), readers.end(), [gp](const Reader& r) { return r.start < gp; });
  }
};

RcuState& state(sim::World& w) {
  return w.extension<RcuState>();
}

// Blocks until no read section that began before grace period `gp` is open.
void wait_for_readers(sim::World& w, RcuState& s, std::uint64_t gp, const Site& site, std::string_view what) {
  while (s.readers_before(gp) && !w.tearing_down()) {
    ++s.gp_waiters;
    struct Leave {
      RcuState& s;
      ~Leave() { --s.gp_waiters; }
    } leave{s};
    // Sleeping here was already checked by the caller (might_sleep), once.
    w.block(&s.readers, what, site, /*sleeps=*/false);
  }
}

// Holds the softirq-like atomic context while a callback runs.
class CallbackContext {
 public:
  CallbackContext(sim::World& w, RcuState& s, const Site& site) : w_(w), s_(s) {
    w_.note_acquired(&s_.softirq, "RCU callback context (softirq)", site, sim::HoldKind::Atomic);
  }
  ~CallbackContext() { w_.note_released(&s_.softirq); }
  CallbackContext(const CallbackContext&) = delete;
  CallbackContext& operator=(const CallbackContext&) = delete;

 private:
  sim::World& w_;
  RcuState& s_;
};

// The body of the "rcu_callbacks" task: runs queued callbacks, each after its grace period, then exits.
class CallbackWorker {
 public:
  explicit CallbackWorker(RcuState* s) : s_(s) {}
  CallbackWorker(CallbackWorker&& other) noexcept : s_(std::exchange(other.s_, nullptr)) {}
  CallbackWorker(const CallbackWorker&) = delete;
  CallbackWorker& operator=(const CallbackWorker&) = delete;
  CallbackWorker& operator=(CallbackWorker&&) = delete;
  ~CallbackWorker() {
    if (s_ == nullptr) return;
    // Ran dry, or the world is ending: either way no worker serves the queue any more.
    s_->worker_alive = false;
    std::deque<PendingCallback> unrun = std::move(s_->pending);
    s_->pending.clear();
  }

  void operator()(sim::World& w) {
    RcuState& s = *s_;
    while (!s.pending.empty()) {
      const std::uint64_t gp = s.pending.front().grace_period;
      const Site site = s.pending.front().site;
      wait_for_readers(w, s, gp, site, "call_rcu grace period");
      PendingCallback next = std::move(s.pending.front());
      s.pending.pop_front();
      w.yield(sim::EventKind::Sync, &s, next.site);
      w.touch(&s, true);
      {
        CallbackContext context(w, s, next.site);
        next.callback->run();
      }
      next.callback.reset();
      ++s.callbacks_done;
      if (s.barrier_waiters > 0) w.wake_all(&s.callbacks_done, next.site);
    }
  }

 private:
  RcuState* s_;
};

const Site* held_section_site(sim::World& w, const RcuState& s) {
  for (const sim::Task::Held& h : w.held())
    if (h.resource == &s) return &h.site;
  return nullptr;
}

// ---- native registration --------------------------------------------------------------------------------

struct Registration {
  Registration() {
    urcu_memb_register_thread();
    detail::t_urcu_registered = true;
  }
  ~Registration() {
    urcu_memb_unregister_thread();
    detail::t_urcu_registered = false;
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
};

// The native form of a queued callback. rcu_head first: liburcu hands its address back.
struct NativeCallback {
  rcu_head head;
  std::unique_ptr<detail::RcuCallback> callback;
};

void run_native_callback(rcu_head* head) {
  // liburcu registered its call_rcu thread itself; a callback that uses RCU must not register it again.
  detail::t_urcu_registered = true;
  // LIFETIME: head is the first member of the NativeCallback that call_rcu_erased leaked to liburcu.
  std::unique_ptr<NativeCallback> node(reinterpret_cast<NativeCallback*>(head));
  detail::tsan_acquire(node.get());
  detail::tsan_acquire(&detail::g_rcu_tsan_sync);
  node->callback->run();
}

}  // namespace

namespace detail {

void urcu_register_slow() {
  thread_local Registration registration;
  (void)registration;
}

void sim_rcu_read_lock(sim::World& w, const Site& site) {
  RcuState& s = state(w);
  w.yield(sim::EventKind::Acquire, &s, site);
  w.touch(&s, true);
  const sim::TaskId task = w.current_task();
  if (RcuState::Reader* r = s.find(task))
    ++r->depth;
  else
    s.readers.push_back({task, 1, s.gp_seq});
  w.note_acquired(&s, "rcu_read_lock", site, sim::HoldKind::Atomic);
}

void sim_rcu_read_unlock(sim::World& w, const Site& site) {
  // LIFETIME: runs in guard destructors; the section must be left even when the task is being unwound.
  sim::World::NoCancelScope scope(w);
  RcuState& s = state(w);
  w.yield(sim::EventKind::Release, &s, site);
  w.touch(&s, true);
  w.note_released(&s);
  RcuState::Reader* r = s.find(w.current_task());
  if (r == nullptr || --r->depth > 0) return;
  s.readers.erase(s.readers.begin() + (r - s.readers.data()));
  if (s.gp_waiters > 0) w.wake_all(&s.readers, site);
}

void call_rcu_erased(std::unique_ptr<RcuCallback> callback, const Site& site) {
  if (sim::World* w = sim_world()) {
    RcuState& s = state(*w);
    w->yield(sim::EventKind::Sync, &s, site);
    w->touch(&s, true);
    if (w->tearing_down()) {
      // No task runs again, so every reader is done: the grace period is over. (Spawning a worker now would
      // also add a task while the world is unwinding its task list.)
      callback->run();
      return;
    }
    s.pending.push_back({++s.gp_seq, std::move(callback), site});
    ++s.callbacks_queued;
    if (!s.worker_alive) {
      s.worker_alive = true;
      w->spawn("rcu_callbacks", CallbackWorker(&s), site);
    }
    return;
  }
  urcu_ensure_registered();
  auto node = std::make_unique<NativeCallback>();
  node->callback = std::move(callback);
  tsan_release(node.get());
  // LIFETIME: liburcu owns the node until run_native_callback takes it back.
  urcu_memb_call_rcu(&node.release()->head, &run_native_callback);
}

}  // namespace detail

void synchronize_rcu(const Site& site) {
  if (sim::World* w = sim_world()) {
    RcuState& s = state(*w);
    w->yield(sim::EventKind::Sync, &s, site);
    w->touch(&s, true);
    if (w->tearing_down()) return;
    if (const Site* lock_site = held_section_site(*w, s)) {
      sim::Report r;
      r.kind = std::string(sim::bug::kDeadlock);
      r.headline = "deadlock: synchronize_rcu() inside an RCU read-side critical section in task " +
                   w->task_label(w->current_task());
      r.accessed_by = w->task_site(w->current_task(), site);
      r.details.push_back("rcu_read_lock() taken at " + sim::describe(*lock_site) +
                          "; the grace period waits for this very section to end");
      w->report(std::move(r));
      return;  // waiting would hang the task forever
    }
    if (!w->might_sleep("synchronize_rcu", site)) return;
    wait_for_readers(*w, s, ++s.gp_seq, site, "synchronize_rcu grace period");
    return;
  }
  if (urcu_memb_read_ongoing())
    throw std::logic_error("devsim: synchronize_rcu() inside an RCU read-side critical section (deadlock)");
  urcu_memb_synchronize_rcu();
  detail::tsan_acquire(&detail::g_rcu_tsan_sync);
}

void rcu_barrier(const Site& site) {
  if (sim::World* w = sim_world()) {
    RcuState& s = state(*w);
    w->yield(sim::EventKind::Sync, &s, site);
    w->touch(&s, true);
    if (w->tearing_down()) return;
    if (!w->might_sleep("rcu_barrier", site)) return;
    const std::uint64_t target = s.callbacks_queued;
    while (s.callbacks_done < target) {
      ++s.barrier_waiters;
      struct Leave {
        RcuState& s;
        ~Leave() { --s.barrier_waiters; }
      } leave{s};
      w->block(&s.callbacks_done, "rcu_barrier", site, /*sleeps=*/false);
    }
    return;
  }
  // Not urcu_memb_barrier(): its internal hand-off between this thread and the call_rcu thread is invisible to
  // ThreadSanitizer (liburcu is not instrumented). Instead, queue a marker and wait for it. Every call_rcu here
  // goes to liburcu's default call_rcu thread (no per-CPU or per-thread call_rcu data is ever created), which
  // runs callbacks one at a time in queue order, so when the marker has run so has everything queued before it.
  // Shared: the marker may still be inside notify_all() when this thread has seen the store and returned.
  auto reached = std::make_shared<std::atomic<bool>>(false);
  call_rcu(
      [reached] {
        reached->store(true, std::memory_order_release);
        reached->notify_all();
      },
      site);
  while (!reached->load(std::memory_order_acquire))
    reached->wait(false, std::memory_order_acquire);
}

namespace detail {
void lockdep_rcu_suspicious(sim::World& w, std::string_view api, std::string_view why, const Site& site) {
  sim::Report r;
  r.kind = std::string(bug::kSuspiciousRcuUsage);
  r.headline =
      "suspicious " + std::string(api) + " usage in task " + w.task_label(w.current_task()) + ": " + std::string(why);
  r.accessed_by = w.task_site(w.current_task(), site);
  r.details.push_back("rcu_read_lock() held: " + std::string(rcu_read_lock_held() ? "yes" : "no"));
  for (const sim::Task::Held& h : w.held())
    r.details.push_back("holding " + std::string(h.what) + " (taken at " + sim::describe(h.site) + ")");
  w.report(std::move(r));
}
}  // namespace detail

bool rcu_read_lock_held() {
  if (sim::World* w = sim_world()) {
    RcuState& s = state(*w);
    return held_section_site(*w, s) != nullptr;
  }
  return urcu_memb_read_ongoing() != 0;
}

}  // namespace devsim::core
