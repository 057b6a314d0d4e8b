// Work items: deferred calls that run in their own kernel thread, and may outlive remove() unless cancelled.
#pragma once

#include <cstdint>
#include <string_view>

#include "bus/embedded.hpp"

namespace devsim::bus {

// struct work_struct: usually embedded in driver data. In the simulator each queued execution runs in its own
// simulated task ("kworker"), so it interleaves with everything else and can run after remove() returned.
// Natively (no simulated world; bus/native_runtime.hpp) every workqueue's items run on one asio::thread_pool (the
// system workqueue's), an ordered workqueue's through one asio::strand over it, and delayed work waits on an
// asio::steady_timer; the guarantees below hold in both runtimes. The pending/running state lives in an entry
// keyed by the item's address, so the pool never touches the item after its function returned (it may free it).
//
// INVARIANT: whether a work item is pending or running is kept by the world (keyed by its address, which is
// never reused within an execution), not in the item: a cancelled item is never touched again, while an item
// that runs after its memory was freed is reported as the use-after-free it is (in process_one_work, then in
// the driver's function) — race R14.
// INVARIANT (kernel/workqueue.c): a work item is non-reentrant — an instance queued while the previous one runs
// waits for it, so the function never runs concurrently with itself, even when queued on two workqueues;
// queue_work() fails while the item is pending or while a cancel_work_sync() of it is in progress.
// Workqueues (alloc_workqueue): an item is queued on one; flush_workqueue() waits for the instances queued on it
// before the call; an ordered workqueue runs its items one at a time in queueing order. Delayed work
// (queue_delayed_work): the item is pending from the call, its timer puts it on its workqueue at expiry.
// destroy_workqueue() drains; queueing on the workqueue afterwards is refused (the kernel's WARN in __queue_work;
// in the simulator a non-fatal report, natively a line on stderr).
// Does not handle: max_active limits other than an ordered workqueue's, unbound/CPU affinity,
// disable_work()/enable_work(), WQ_MEM_RECLAIM rescuers, a workqueue's own lockdep map, the refusal of queueing
// from outside the workqueue while it drains (kernel: __WQ_DRAINING WARNs unless the work is chained); natively,
// the pool's size is fixed (the kernel adds workers when all of them sleep), so works that wait for one another
// can exhaust it (an ordered workqueue holds one pool thread while it waits for its item running elsewhere), a
// flush or cancel of a work item from its own function, or a flush/drain of a workqueue from one of its items,
// is said on stderr and not waited for (the kernel deadlocks), and lockdep's work maps are not checked.
class WorkStruct {
 public:
  using Func = void (*)(WorkStruct& work);
  WorkStruct() = default;
  WorkStruct(const WorkStruct&) = delete;
  WorkStruct& operator=(const WorkStruct&) = delete;

 private:
  friend class Workqueues;
  friend class NativeDeferred;
  Embedded embedded_;
  Func func_ = nullptr;
};

// struct workqueue_struct: made by alloc_workqueue(); nullptr in the calls below is the system workqueue. Usually
// in simulated memory (a C driver's alloc_workqueue): queueing on one that was freed is a use-after-free, and so is
// a delayed item whose timer fires after its workqueue was destroyed and freed.
// INVARIANT: as for work items, a workqueue's state is kept by the world keyed by its address.
class Workqueue {
 public:
  Workqueue() = default;
  Workqueue(const Workqueue&) = delete;
  Workqueue& operator=(const Workqueue&) = delete;

 private:
  friend class Workqueues;
  Embedded embedded_;
};

// INIT_WORK().
void init_work(WorkStruct& work, WorkStruct::Func func, const Site& site = Site::current());
// queue_work()/schedule_work(): false if it was already pending, or while cancel_work_sync() of it runs.
// Queued while it runs, it runs again after the running instance returned, never concurrently.
bool queue_work(WorkStruct& work, const Site& site = Site::current());
// flush_work(): waits for the instance pending or running at the call to finish (a delayed instance whose timer
// has not fired is not waited for: kernel/workqueue.c start_flush_work finds it on no worklist; not for instances
// queued later: it does not stop a work that requeues itself). True if it waited for something.
bool flush_work(WorkStruct& work, const Site& site = Site::current());
// cancel_work_sync(): a pending execution never runs; a running one is waited for; queueing fails meanwhile,
// so on return the item is neither pending nor running, even if it requeues itself. True if it was pending.
bool cancel_work_sync(WorkStruct& work, const Site& site = Site::current());
// work_pending(): whether an instance is queued (or delayed) and has not started.
bool work_pending(const WorkStruct& work);
// alloc_workqueue()/alloc_ordered_workqueue(): a workqueue at `wq`'s storage. Ordered: one item at a time, in the
// order they were queued (kernel/workqueue.c: __WQ_ORDERED, max_active 1).
void alloc_workqueue(Workqueue& wq, bool ordered, const Site& site = Site::current());
// queue_work(wq, work): as queue_work() above, on `wq` (nullptr: the system workqueue).
bool queue_work(Workqueue* wq, WorkStruct& work, const Site& site = Site::current());
// flush_workqueue(): waits for every instance queued on `wq` before the call (not for later ones).
void flush_workqueue(Workqueue* wq, const Site& site = Site::current());
// drain_workqueue(): waits until nothing is queued on `wq` or running from it, including items queued meanwhile.
// Delayed items whose timer has not fired are not waited for (as in the kernel).
void drain_workqueue(Workqueue* wq, const Site& site = Site::current());
// destroy_workqueue(): drains `wq`, after which queueing on it (a delayed item's expiry included) is refused: nothing
// is queued, queue_work returns false, and a warning says so (kernel/workqueue.c destroy_workqueue, __queue_work).
// The system workqueue (nullptr) is never destroyed. The storage is the caller's to free afterwards.
void destroy_workqueue(Workqueue* wq, const Site& site = Site::current());
// queue_delayed_work(): false if the item is pending (delayed or queued) or being cancelled; otherwise it is
// pending from now and goes on `wq` after `delay_ns` of virtual time (at once for 0).
bool queue_delayed_work(Workqueue* wq, WorkStruct& work, std::uint64_t delay_ns, const Site& site = Site::current());
// mod_delayed_work(): takes the pending instance back (its timer or its place on a workqueue) and queues it anew
// with `delay_ns`; queues it if it was idle. True if it was pending. A running instance is not affected. While a
// cancel_work_sync() of it runs it queues nothing and returns true (the kernel's -ENOENT, returned as a bool).
bool mod_delayed_work(Workqueue* wq, WorkStruct& work, std::uint64_t delay_ns, const Site& site = Site::current());
// cancel_work()/cancel_delayed_work(): takes the pending instance back without waiting for a running one. True if
// it was pending.
bool cancel_work(WorkStruct& work, const Site& site = Site::current());
// flush_delayed_work(): a pending timer is fired at once (the item goes on its workqueue), then flush_work().
bool flush_delayed_work(WorkStruct& work, const Site& site = Site::current());
// Executions of any work item that have started (tests and reports).
std::uint64_t work_executions();

namespace bug {
// Work queued on a workqueue after destroy_workqueue() (the kernel's WARN_ON in __queue_work): non-fatal.
inline constexpr std::string_view kQueueOnDestroyedWorkqueue = "queue-on-destroyed-workqueue";
}  // namespace bug

}  // namespace devsim::bus
