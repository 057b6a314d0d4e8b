// Work items: deferred calls that run in their own kernel thread, and may outlive remove() unless cancelled.
#pragma once

#include "bus/embedded.hpp"

namespace devsim::bus {

// struct work_struct: usually embedded in driver data. In the simulator each queued execution runs in its own
// simulated task ("kworker"), so it interleaves with everything else and can run after remove() returned.
// Natively (no simulated world; bus/native_runtime.hpp) it runs on the system workqueue, an asio::thread_pool,
// with the same guarantees below; the pending/running state lives in an entry keyed by the item's address, so
// the pool never touches the item after its function returned (the function may free it).
//
// INVARIANT: whether a work item is pending or running is kept by the world (keyed by its address, which is
// never reused within an execution), not in the item: a cancelled item is never touched again, while an item
// that runs after its memory was freed is reported as the use-after-free it is (in process_one_work, then in
// the driver's function) — race R14.
// INVARIANT (kernel/workqueue.c): a work item is non-reentrant — an instance queued while the previous one runs
// waits for it, so the function never runs concurrently with itself; queue_work() fails while the item is
// pending or while a cancel_work_sync() of it is in progress.
// Does not handle: ordered/unbound workqueues, delayed work (use a timer that queues), concurrency limits,
// several workqueues (every item is on one system workqueue), disable_work()/enable_work(); natively, the
// pool's size is fixed (the kernel adds workers when all of them sleep), so works that wait for one another
// can exhaust it.
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

// INIT_WORK().
void init_work(WorkStruct& work, WorkStruct::Func func, const Site& site = Site::current());
// queue_work()/schedule_work(): false if it was already pending, or while cancel_work_sync() of it runs.
// Queued while it runs, it runs again after the running instance returned, never concurrently.
bool queue_work(WorkStruct& work, const Site& site = Site::current());
// flush_work(): waits for the instance pending or running at the call to finish (not for instances queued
// later: it does not stop a work that requeues itself). True if it waited for something.
bool flush_work(WorkStruct& work, const Site& site = Site::current());
// cancel_work_sync(): a pending execution never runs; a running one is waited for; queueing fails meanwhile,
// so on return the item is neither pending nor running, even if it requeues itself. True if it was pending.
bool cancel_work_sync(WorkStruct& work, const Site& site = Site::current());
// work_pending(): whether an instance is queued and has not started.
bool work_pending(const WorkStruct& work);
// Executions of any work item that have started (tests and reports).
std::uint64_t work_executions();

}  // namespace devsim::bus
