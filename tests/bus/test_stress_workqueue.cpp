// Native stress for workqueues and delayed work on real OS threads (no simulated world: bus/native_runtime.hpp,
// on Boost.Asio): alloc_workqueue, ordered workqueues (an asio::strand over the system pool), flush_workqueue,
// drain_workqueue, destroy_workqueue, queue_delayed_work, mod_delayed_work, flush_delayed_work, cancel_work and
// cancel_work_sync of delayed items. Each guarantee bus/workqueue.hpp states is checked under concurrency, many
// times, with assertions a broken runtime fails. Threads synchronise only through the API under test, atomics
// and latches; polling loops wait for a state the API reports, never for time.
// Runs under TSan and ASan in .ci/run (ctest label "native").
#define BOOST_TEST_MODULE bus_stress_workqueue
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "bus/workqueue.hpp"
#include "core/runtime.hpp"

using namespace devsim;
using namespace devsim::bus;

namespace {

template <class Pred>
void wait_until(Pred ready) {
  while (!ready())
    std::this_thread::yield();
}

// What every item of one test shares: how many functions of the workqueue run at once, and the order they ran in.
struct Shared {
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::mutex mu;
  std::vector<int> order;  // item ids, in the order their functions started
  Workqueue* wq = nullptr;
};

// A work item with its test state; the work is the first member, so the function finds the rest from it the
// way container_of() does.
struct Item {
  WorkStruct work;
  int id = 0;
  Shared* shared = nullptr;
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::atomic<long> executions{0};
  std::atomic<int> chain{0};  // the function queues its item again on shared->wq while this is positive (decremented)
  std::atomic<bool> requeue_forever{false};
  long plain = 0;  // written without a lock: flush/drain must order it before the reader (TSan checks)
  std::chrono::steady_clock::time_point queued_at{};  // written before queue_delayed_work, read by the function
  std::uint64_t delay_ns = 0;
  std::atomic<long> early{0};     // ran before its delay elapsed
  std::latch* started = nullptr;  // counted down by the function, when set
  std::latch* release = nullptr;  // waited for by the function, when set
  bool flush_own_wq = false;      // the function flushes and drains its own workqueue
};
static_assert(offsetof(Item, work) == 0);

void record_max(std::atomic<int>& max, int now) {
  int seen = max.load();
  while (now > seen && !max.compare_exchange_weak(seen, now)) {
  }
}

void item_fn(WorkStruct& w) {
  Item& it = *reinterpret_cast<Item*>(&w);
  std::latch* started = it.started;
  std::latch* release = it.release;
  record_max(it.max_inside, it.inside.fetch_add(1) + 1);
  if (it.shared != nullptr) {
    record_max(it.shared->max_inside, it.shared->inside.fetch_add(1) + 1);
    std::lock_guard lock(it.shared->mu);
    it.shared->order.push_back(it.id);
  }
  if (it.delay_ns != 0 && std::chrono::steady_clock::now() - it.queued_at < std::chrono::nanoseconds(it.delay_ns))
    it.early.fetch_add(1);
  ++it.plain;
  it.executions.fetch_add(1);
  if (started != nullptr) started->count_down();
  if (release != nullptr) release->wait();
  std::this_thread::yield();  // widen the window in which another function could overlap this one
  if (it.flush_own_wq) {
    flush_workqueue(it.shared->wq);  // would wait for itself: said on stderr, not waited for
    drain_workqueue(it.shared->wq);
  }
  if (it.shared != nullptr) it.shared->inside.fetch_sub(1);
  it.inside.fetch_sub(1);
  // After `inside` is decremented: a chained instance may start as soon as it is queued.
  if (it.requeue_forever.load()) queue_work(it.shared->wq, it.work);
  if (it.chain.load() > 0) {
    it.chain.fetch_sub(1);
    queue_work(it.shared->wq, it.work);
  }
}

struct NativeFixture {
  NativeFixture() { BOOST_TEST_REQUIRE(core::sim_world() == nullptr); }  // these run the native runtime
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(workqueues, NativeFixture)

// kernel/workqueue.c alloc_ordered_workqueue (__WQ_ORDERED, max_active 1) and __queue_work: an ordered
// workqueue runs its items one at a time, in the order they were queued; items queued from several threads
// keep each thread's order.
BOOST_AUTO_TEST_CASE(ordered_runs_one_at_a_time_in_queueing_order) {
  constexpr int kThreads = 3;
  constexpr int kPerThread = 40;
  constexpr int kIterations = 100;
  for (int i = 0; i < kIterations; ++i) {
    Workqueue wq;
    alloc_workqueue(wq, /*ordered=*/true);
    Shared shared;
    shared.wq = &wq;
    std::vector<std::unique_ptr<Item>> items;
    for (int k = 0; k < kThreads * kPerThread; ++k) {
      items.push_back(std::make_unique<Item>());
      items.back()->id = k;
      items.back()->shared = &shared;
      init_work(items.back()->work, item_fn);
    }
    std::latch start(kThreads);
    std::atomic<int> refused{0};  // Boost.Test checks are made on the test's thread only
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        for (int k = 0; k < kPerThread; ++k)
          if (!queue_work(&wq, items[static_cast<std::size_t>(t * kPerThread + k)]->work)) refused.fetch_add(1);
      });
    for (std::thread& t : threads)
      t.join();
    BOOST_TEST_REQUIRE(refused.load() == 0);
    flush_workqueue(&wq);
    BOOST_TEST_REQUIRE(shared.max_inside.load() == 1);
    BOOST_TEST_REQUIRE(shared.order.size() == static_cast<std::size_t>(kThreads * kPerThread));
    std::vector<int> last(kThreads, -1);  // per queueing thread, the last id seen: ids must increase
    for (int id : shared.order) {
      const int t = id / kPerThread;
      BOOST_TEST_REQUIRE(id > last[static_cast<std::size_t>(t)]);
      last[static_cast<std::size_t>(t)] = id;
    }
    destroy_workqueue(&wq);
  }
}

// __queue_work on an ordered workqueue: an item that queues itself while it runs goes behind it in queueing
// order, before an item queued after that (X, X, Y), and still never overlaps itself (process_one_work).
BOOST_AUTO_TEST_CASE(ordered_self_requeue_keeps_queueing_order) {
  constexpr int kIterations = 1'000;
  for (int i = 0; i < kIterations; ++i) {
    Workqueue wq;
    alloc_workqueue(wq, /*ordered=*/true);
    Shared shared;
    shared.wq = &wq;
    Item x;
    Item y;
    x.id = 1;
    y.id = 2;
    x.shared = &shared;
    y.shared = &shared;
    init_work(x.work, item_fn);
    init_work(y.work, item_fn);
    std::latch started(1);
    std::latch release(1);
    x.started = &started;
    x.release = &release;
    BOOST_TEST_REQUIRE(queue_work(&wq, x.work));
    started.wait();  // X runs and waits for `release`
    x.started = nullptr;
    x.release = nullptr;  // read by X's second instance only, which starts after the first returned
    BOOST_TEST_REQUIRE(queue_work(&wq, x.work));  // queued while running: X's second instance
    BOOST_TEST_REQUIRE(queue_work(&wq, y.work));  // queued after it
    release.count_down();
    flush_workqueue(&wq);
    BOOST_TEST_REQUIRE(shared.order == (std::vector<int>{1, 1, 2}));
    BOOST_TEST_REQUIRE(shared.max_inside.load() == 1);
    destroy_workqueue(&wq);
  }
}

// An unordered workqueue (alloc_workqueue without __WQ_ORDERED) runs different items at once: two items that wait
// for each other to start both finish (an implementation that ran them one at a time hangs, and ctest's time limit
// fails it).
BOOST_AUTO_TEST_CASE(unordered_runs_items_concurrently) {
  constexpr int kIterations = 200;
  for (int i = 0; i < kIterations; ++i) {
    Workqueue wq;
    alloc_workqueue(wq, /*ordered=*/false);
    Shared shared;
    Item a;
    Item b;
    a.shared = &shared;
    b.shared = &shared;
    std::latch both(2);
    std::latch release(1);
    a.started = &both;
    b.started = &both;
    a.release = &release;
    b.release = &release;
    init_work(a.work, item_fn);
    init_work(b.work, item_fn);
    queue_work(&wq, a.work);
    queue_work(&wq, b.work);
    both.wait();  // both functions are inside at once
    release.count_down();
    flush_workqueue(&wq);
    BOOST_TEST_REQUIRE(shared.max_inside.load() == 2);
    destroy_workqueue(&wq);
  }
}

// kernel/workqueue.c __flush_workqueue: returns only once every item queued before the call has run, and what the
// items did is ordered before the caller's next access (plain, non-atomic counters: TSan checks the order).
BOOST_AUTO_TEST_CASE(flush_workqueue_waits_for_every_item_queued_before) {
  constexpr int kItems = 16;
  constexpr int kIterations = 500;
  for (const bool ordered : {false, true}) {
    Workqueue wq;
    alloc_workqueue(wq, ordered);
    std::vector<std::unique_ptr<Item>> items;
    for (int k = 0; k < kItems; ++k) {
      items.push_back(std::make_unique<Item>());
      init_work(items.back()->work, item_fn);
    }
    for (int i = 1; i <= kIterations; ++i) {
      for (auto& it : items)
        BOOST_TEST_REQUIRE(queue_work(&wq, it->work));
      flush_workqueue(&wq);
      for (auto& it : items) {
        BOOST_TEST_REQUIRE(it->plain == i);
        BOOST_TEST_REQUIRE(!work_pending(it->work));
      }
    }
    destroy_workqueue(&wq);
  }
}

// __flush_workqueue waits for the items queued before the call only: it returns on a work that requeues itself
// on the same workqueue forever (a flush that waited for "empty" would hang: ctest's time limit fails it).
BOOST_AUTO_TEST_CASE(flush_workqueue_returns_on_a_self_requeueing_work) {
  constexpr int kIterations = 300;
  for (const bool ordered : {false, true}) {
    for (int i = 0; i < kIterations; ++i) {
      Workqueue wq;
      alloc_workqueue(wq, ordered);
      Shared shared;
      shared.wq = &wq;
      Item it;
      it.shared = &shared;
      it.requeue_forever = true;
      init_work(it.work, item_fn);
      BOOST_TEST_REQUIRE(queue_work(&wq, it.work));
      flush_workqueue(&wq);
      BOOST_TEST_REQUIRE(it.executions.load() >= 1);
      cancel_work_sync(it.work);
      BOOST_TEST_REQUIRE(it.inside.load() == 0);
      destroy_workqueue(&wq);  // nothing pending: returns at once
    }
  }
}

// kernel/workqueue.c drain_workqueue: flushes until the workqueue is empty, work its own items queue meanwhile
// (chained work) included: a chain of kChain instances has fully run when it returns (a single flush would
// return after the first).
BOOST_AUTO_TEST_CASE(drain_workqueue_waits_for_chained_work) {
  constexpr int kChain = 50;
  constexpr int kIterations = 200;
  for (const bool ordered : {false, true}) {
    for (int i = 0; i < kIterations; ++i) {
      Workqueue wq;
      alloc_workqueue(wq, ordered);
      Shared shared;
      shared.wq = &wq;
      Item it;
      it.shared = &shared;
      it.chain = kChain - 1;
      init_work(it.work, item_fn);
      BOOST_TEST_REQUIRE(queue_work(&wq, it.work));
      drain_workqueue(&wq);
      BOOST_TEST_REQUIRE(it.executions.load() == kChain);
      BOOST_TEST_REQUIRE(it.plain == kChain);
      BOOST_TEST_REQUIRE(it.max_inside.load() == 1);
      BOOST_TEST_REQUIRE(!work_pending(it.work));
      // drain_workqueue leaves the workqueue usable.
      BOOST_TEST_REQUIRE(queue_work(&wq, it.work));
      flush_workqueue(&wq);
      BOOST_TEST_REQUIRE(it.executions.load() == kChain + 1);
    }
  }
}

// kernel/workqueue.c destroy_workqueue: drains first (chained work included); afterwards queueing on it is
// refused (__queue_work's WARN_ON for a destroying workqueue): queue_work returns false and the item never runs,
// and a delayed item armed before the destroy (which destroy_workqueue does not wait for) is dropped when its
// expiry puts it on the destroyed workqueue (delayed_work_timer_fn -> __queue_work).
BOOST_AUTO_TEST_CASE(destroy_workqueue_drains_then_refuses) {
  constexpr int kChain = 20;
  constexpr int kIterations = 200;
  for (const bool ordered : {false, true}) {
    for (int i = 0; i < kIterations; ++i) {
      Workqueue wq;
      alloc_workqueue(wq, ordered);
      Shared shared;
      shared.wq = &wq;
      Item it;
      it.shared = &shared;
      it.chain = kChain - 1;
      init_work(it.work, item_fn);
      Item late;
      init_work(late.work, item_fn);
      BOOST_TEST_REQUIRE(queue_work(&wq, it.work));
      BOOST_TEST_REQUIRE(queue_delayed_work(&wq, late.work, 10'000'000'000));  // 10 s: fired below
      destroy_workqueue(&wq);
      BOOST_TEST_REQUIRE(it.executions.load() == kChain);
      BOOST_TEST_REQUIRE(!queue_work(&wq, it.work));
      BOOST_TEST_REQUIRE(!work_pending(it.work));
      BOOST_TEST_REQUIRE(!queue_delayed_work(&wq, it.work, 1'000));
      BOOST_TEST_REQUIRE(!mod_delayed_work(&wq, it.work, 0));
      // The delayed item is still pending on its timer; firing it now (flush_delayed_work: its expiry, at once)
      // finds the workqueue destroyed and drops it, so there is nothing to wait for and it never runs.
      BOOST_TEST_REQUIRE(work_pending(late.work));
      BOOST_TEST_REQUIRE(!flush_delayed_work(late.work));
      BOOST_TEST_REQUIRE(!work_pending(late.work));
      BOOST_TEST_REQUIRE(late.executions.load() == 0);
      BOOST_TEST_REQUIRE(it.executions.load() == kChain);
      // The item itself is not spoilt: on another workqueue it runs.
      BOOST_TEST_REQUIRE(queue_work(it.work));
      flush_work(it.work);
      BOOST_TEST_REQUIRE(it.executions.load() == kChain + 1);
    }
  }
}

// process_one_work's non-reentrancy holds across workqueues: one item queued on an ordered workqueue, an unordered
// one and the system workqueue from several threads, with cancels racing, never runs beside itself, and every
// accepted queueing runs once or is cancelled once.
BOOST_AUTO_TEST_CASE(non_reentrant_across_workqueues) {
  constexpr int kQueues = 3'000;
  constexpr int kCancels = 1'000;
  Workqueue ordered;
  Workqueue plain;
  alloc_workqueue(ordered, true);
  alloc_workqueue(plain, false);
  Item it;
  init_work(it.work, item_fn);
  std::atomic<long> accepted{0};
  std::atomic<long> cancelled{0};
  Workqueue* targets[] = {&ordered, &plain, nullptr};
  std::latch start(4);
  std::vector<std::thread> threads;
  for (Workqueue* wq : targets)
    threads.emplace_back([&, wq] {
      start.arrive_and_wait();
      for (int k = 0; k < kQueues; ++k)
        if (queue_work(wq, it.work)) accepted.fetch_add(1);
    });
  threads.emplace_back([&] {
    start.arrive_and_wait();
    for (int k = 0; k < kCancels; ++k)
      if ((k % 2 == 0 ? cancel_work_sync(it.work) : cancel_work(it.work))) cancelled.fetch_add(1);
  });
  for (std::thread& t : threads)
    t.join();
  flush_work(it.work);
  BOOST_TEST(it.executions.load() + cancelled.load() == accepted.load());
  BOOST_TEST(it.plain == it.executions.load());
  // On a loaded machine every racing instance may be cancelled before it runs: one more runs alone now, so the
  // most seen at once is exactly one.
  BOOST_TEST_REQUIRE(queue_work(&ordered, it.work));
  flush_work(it.work);
  BOOST_TEST(it.max_inside.load() == 1);
  destroy_workqueue(&ordered);
  destroy_workqueue(&plain);
}

// Non-reentrancy across workqueues, deterministically: an item queued on a second workqueue while its function
// runs from the first runs after it returns, never beside it (kernel/workqueue.c __queue_work: the work is queued
// behind itself). From an ordered workqueue to an unordered one the run is handed to the running instance; from an
// unordered one to an ordered one the ordered workqueue holds its place, so an item queued on it after still runs
// after the second instance.
BOOST_AUTO_TEST_CASE(queued_on_another_workqueue_while_running_runs_after_it) {
  constexpr int kIterations = 500;
  for (const bool to_ordered : {false, true}) {
    for (int i = 0; i < kIterations; ++i) {
      Workqueue first;
      Workqueue second;
      alloc_workqueue(first, !to_ordered);
      alloc_workqueue(second, to_ordered);
      Shared shared;
      Item x;
      Item y;
      x.id = 1;
      y.id = 2;
      x.shared = &shared;
      y.shared = &shared;
      init_work(x.work, item_fn);
      init_work(y.work, item_fn);
      std::latch started(1);
      std::latch release(1);
      x.started = &started;
      x.release = &release;
      BOOST_TEST_REQUIRE(queue_work(&first, x.work));
      started.wait();
      x.started = nullptr;
      x.release = nullptr;
      BOOST_TEST_REQUIRE(queue_work(&second, x.work));
      BOOST_TEST_REQUIRE(queue_work(&second, y.work));
      release.count_down();
      flush_work(x.work);
      flush_workqueue(&second);
      BOOST_TEST_REQUIRE(x.executions.load() == 2);
      BOOST_TEST_REQUIRE(x.max_inside.load() == 1);
      BOOST_TEST_REQUIRE(y.executions.load() == 1);
      if (to_ordered) BOOST_TEST_REQUIRE(shared.order == (std::vector<int>{1, 1, 2}));
      destroy_workqueue(&first);
      destroy_workqueue(&second);
    }
  }
}

// A flush or drain of a workqueue from one of its own items would wait for itself (the kernel deadlocks; lockdep
// warns in check_flush_dependency): natively it is said on stderr and not waited for, so the run goes on.
BOOST_AUTO_TEST_CASE(flushing_its_own_workqueue_does_not_hang) {
  for (const bool ordered : {false, true}) {
    Workqueue wq;
    alloc_workqueue(wq, ordered);
    Shared shared;
    shared.wq = &wq;
    Item it;
    it.shared = &shared;
    it.flush_own_wq = true;
    init_work(it.work, item_fn);
    BOOST_TEST_REQUIRE(queue_work(&wq, it.work));
    drain_workqueue(&wq);
    BOOST_TEST(it.executions.load() == 1);
    destroy_workqueue(&wq);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(delayed_work, NativeFixture)

// kernel/workqueue.c queue_delayed_work_on / delayed_work_timer_fn: the item runs once, never before its delay, on
// its workqueue (that it is pending meanwhile is checked with a delay long enough to observe it, below).
BOOST_AUTO_TEST_CASE(runs_once_after_its_delay) {
  constexpr int kIterations = 200;
  for (const bool ordered : {false, true}) {
    Workqueue wq;
    alloc_workqueue(wq, ordered);
    for (int i = 0; i < kIterations; ++i) {
      Item it;
      init_work(it.work, item_fn);
      std::latch ran(1);
      it.started = &ran;
      it.delay_ns = 20'000 + static_cast<std::uint64_t>(i % 5) * 20'000;  // 20 to 100 us
      it.queued_at = std::chrono::steady_clock::now();
      BOOST_TEST_REQUIRE(queue_delayed_work(&wq, it.work, it.delay_ns));
      ran.wait();
      flush_workqueue(&wq);  // once it has started it is on the workqueue: the flush waits for it
      BOOST_TEST_REQUIRE(it.executions.load() == 1);
      BOOST_TEST_REQUIRE(it.early.load() == 0);
      BOOST_TEST_REQUIRE(!work_pending(it.work));
    }
    destroy_workqueue(&wq);
  }
}

// __cancel_work_sync -> try_to_grab_pending: a pending delayed item is taken back, from its timer or (expired) from
// its workqueue, and never runs; cancel_work (no wait) does the same. The ordered workqueue is held by a blocker, so
// the item cannot have started before the cancel (it is pending either way); a marker whose expiry is later runs
// behind the blocker, and a surviving expiry of the cancelled item would have put it on the workqueue before it.
BOOST_AUTO_TEST_CASE(cancel_takes_back_a_delayed_item) {
  constexpr int kIterations = 200;
  Workqueue wq;
  alloc_workqueue(wq, /*ordered=*/true);
  for (int i = 0; i < kIterations; ++i) {
    Item blocker;
    init_work(blocker.work, item_fn);
    std::latch blocked(1);
    std::latch unblock(1);
    blocker.started = &blocked;
    blocker.release = &unblock;
    BOOST_TEST_REQUIRE(queue_work(&wq, blocker.work));
    blocked.wait();  // the ordered workqueue's one runner is held
    Item it;
    init_work(it.work, item_fn);
    BOOST_TEST_REQUIRE(queue_delayed_work(&wq, it.work, static_cast<std::uint64_t>(i % 4) * 10'000));  // 0-30 us
    const bool was = i % 2 == 0 ? cancel_work_sync(it.work) : cancel_work(it.work);
    BOOST_TEST_REQUIRE(was);
    BOOST_TEST_REQUIRE(!work_pending(it.work));
    Item marker;
    init_work(marker.work, item_fn);
    BOOST_TEST_REQUIRE(queue_delayed_work(&wq, marker.work, 200'000));  // 200 us: well after the cancelled expiry
    unblock.count_down();
    wait_until([&] { return marker.executions.load() == 1; });
    flush_workqueue(&wq);
    BOOST_TEST_REQUIRE(it.executions.load() == 0);
    BOOST_TEST_REQUIRE(!work_pending(it.work));
  }
  destroy_workqueue(&wq);
}

// mod_delayed_work_on: try_to_grab_pending takes back the pending instance (its timer) and queues it anew with the
// new delay: a 10 s delay cut to 0 runs at once, once; returns true as it was pending. On an idle item it queues.
BOOST_AUTO_TEST_CASE(mod_delayed_work_replaces_the_pending_timer) {
  constexpr int kIterations = 300;
  Workqueue wq;
  alloc_workqueue(wq, /*ordered=*/false);
  for (int i = 0; i < kIterations; ++i) {
    Item it;
    init_work(it.work, item_fn);
    BOOST_TEST_REQUIRE(queue_delayed_work(&wq, it.work, 10'000'000'000));  // 10 s: never reached in this test
    // Every third iteration the new delay is 1 ms and the function checks it ran no earlier: the replaced expiry
    // (its wait is cancelled, so its handler runs at once) must not put the item on the workqueue.
    it.delay_ns = i % 3 == 0 ? 1'000'000 : 0;
    it.queued_at = std::chrono::steady_clock::now();
    BOOST_TEST_REQUIRE(mod_delayed_work(&wq, it.work, i % 3 == 0 ? it.delay_ns : (i % 3 == 1 ? 0 : 1'000)));
    wait_until([&] { return it.executions.load() == 1; });
    flush_workqueue(&wq);
    BOOST_TEST_REQUIRE(it.early.load() == 0);
    it.delay_ns = 0;
    BOOST_TEST_REQUIRE(!work_pending(it.work));              // the 10 s timer is gone: nothing pending
    BOOST_TEST_REQUIRE(!mod_delayed_work(&wq, it.work, 0));  // idle: queued, returns false
    wait_until([&] { return it.executions.load() == 2; });
    flush_workqueue(&wq);
    BOOST_TEST_REQUIRE(!cancel_work_sync(it.work));
    BOOST_TEST_REQUIRE(it.executions.load() == 2);
  }
  destroy_workqueue(&wq);
}

// flush_delayed_work: a pending timer is deleted and the item queued at once, then flushed: on return it has run.
// flush_work (start_flush_work) does not wait for a delayed instance whose timer has not fired.
BOOST_AUTO_TEST_CASE(flush_delayed_work_fires_the_timer_at_once) {
  constexpr int kIterations = 500;
  Workqueue wq;
  alloc_workqueue(wq, /*ordered=*/false);
  for (int i = 0; i < kIterations; ++i) {
    Item it;
    init_work(it.work, item_fn);
    BOOST_TEST_REQUIRE(queue_delayed_work(&wq, it.work, 10'000'000'000));  // 10 s
    // Pending from the call (queue_delayed_work_on takes PENDING first): queueing again fails.
    BOOST_TEST_REQUIRE(work_pending(it.work));
    BOOST_TEST_REQUIRE(!queue_delayed_work(&wq, it.work, 1'000));
    BOOST_TEST_REQUIRE(!queue_work(&wq, it.work));
    BOOST_TEST_REQUIRE(!flush_work(it.work));  // on no worklist yet: nothing to wait for
    BOOST_TEST_REQUIRE(it.executions.load() == 0);
    flush_delayed_work(it.work);  // true, or false if the run was over before the flush looked (flush_work's answer)
    BOOST_TEST_REQUIRE(it.executions.load() == 1);
    BOOST_TEST_REQUIRE(it.plain == 1);
    BOOST_TEST_REQUIRE(!work_pending(it.work));
    BOOST_TEST_REQUIRE(!flush_delayed_work(it.work));  // nothing pending: nothing runs
    BOOST_TEST_REQUIRE(it.executions.load() == 1);
  }
  destroy_workqueue(&wq);
}

// cancel_work (kernel/workqueue.c cancel_work: try_to_grab_pending only) does not wait for a running instance;
// cancel_work_sync does.
BOOST_AUTO_TEST_CASE(cancel_work_does_not_wait_for_the_running_instance) {
  constexpr int kIterations = 500;
  for (int i = 0; i < kIterations; ++i) {
    Item it;
    init_work(it.work, item_fn);
    std::latch started(1);
    std::latch release(1);
    it.started = &started;
    it.release = &release;
    BOOST_TEST_REQUIRE(queue_work(it.work));
    started.wait();
    BOOST_TEST_REQUIRE(!cancel_work(it.work));  // not pending; returns with the function still held inside
    const int inside = it.inside.load();
    std::atomic<int> inside_after_sync{-1};
    std::thread canceler([&] {
      cancel_work_sync(it.work);
      inside_after_sync = it.inside.load();
    });
    release.count_down();
    canceler.join();
    BOOST_TEST_REQUIRE(inside == 1);
    BOOST_TEST_REQUIRE(inside_after_sync.load() == 0);
  }
}

// Delayed items, queuers and cancelers race on one item: every accepted queueing (queue_delayed_work, or
// mod_delayed_work on an idle item) runs once or is taken back once (a true from cancel or mod_delayed_work).
BOOST_AUTO_TEST_CASE(delayed_queue_mod_cancel_race_accounting) {
  constexpr int kOps = 3'000;
  Workqueue wq;
  alloc_workqueue(wq, /*ordered=*/false);
  Item it;
  init_work(it.work, item_fn);
  std::atomic<long> accepted{0};
  std::atomic<long> taken_back{0};
  std::latch start(3);
  std::thread queuer([&] {
    start.arrive_and_wait();
    for (int k = 0; k < kOps; ++k)
      if (queue_delayed_work(&wq, it.work, static_cast<std::uint64_t>(k % 4) * 5'000)) accepted.fetch_add(1);
  });
  std::thread modder([&] {
    start.arrive_and_wait();
    for (int k = 0; k < kOps; ++k) {
      // mod_delayed_work always queues a new instance, and takes the pending one back if there was one.
      accepted.fetch_add(1);
      if (mod_delayed_work(&wq, it.work, static_cast<std::uint64_t>(k % 3) * 5'000)) taken_back.fetch_add(1);
    }
  });
  std::thread canceler([&] {
    start.arrive_and_wait();
    for (int k = 0; k < kOps / 2; ++k)
      if (k % 2 == 0 ? cancel_work(it.work) : cancel_work_sync(it.work)) taken_back.fetch_add(1);
  });
  queuer.join();
  modder.join();
  canceler.join();
  flush_delayed_work(it.work);
  BOOST_TEST(it.executions.load() + taken_back.load() == accepted.load());
  BOOST_TEST_REQUIRE(queue_work(&wq, it.work));  // one run alone (all racing ones may have been taken back)
  flush_work(it.work);
  BOOST_TEST(it.max_inside.load() == 1);
  destroy_workqueue(&wq);
}

BOOST_AUTO_TEST_SUITE_END()
