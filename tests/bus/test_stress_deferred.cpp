// Native stress for work items and timers on real OS threads (no simulated world: bus/native_runtime.hpp, on
// Boost.Asio). Each kernel guarantee that bus/workqueue.hpp and bus/timer.hpp state is checked under concurrency,
// many times, with assertions that a broken runtime fails. Threads synchronise only through the API under test,
// atomics and latches/completions; polling loops wait for a state the API reports, never for time.
// Runs under TSan and ASan in .ci/run (ctest label "native").
#define BOOST_TEST_MODULE bus_stress_deferred
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <thread>
#include <vector>

#include "bus/timer.hpp"
#include "bus/workqueue.hpp"
#include "core/completion.hpp"
#include "core/runtime.hpp"

using namespace devsim;
using namespace devsim::bus;

namespace {

// Spins until `ready()` holds: waiting for a state another thread publishes, not for time.
template <class Pred>
void wait_until(Pred ready) {
  while (!ready())
    std::this_thread::yield();
}

// A work item with its test state; the work is the first member, so the function finds the rest from it the
// way container_of() does.
struct Item {
  WorkStruct work;
  std::atomic<int> inside{0};      // executions of this item in progress now
  std::atomic<int> max_inside{0};  // the most ever seen at once
  std::atomic<long> executions{0};
  std::atomic<bool> requeue{false};  // the function queues its own item again
  std::atomic<long> requeued_ok{0};  // ... and that succeeded
  std::atomic<bool> stopped{false};  // set once cancel_work_sync() returned: any execution after is a violation
  std::atomic<long> after_stop{0};
  long plain = 0;  // written by the function without a lock: flush/cancel must order it before the reader
  std::latch* started = nullptr;  // counted down by the function, when set
  std::latch* release = nullptr;  // waited for by the function, when set
};
static_assert(offsetof(Item, work) == 0);

Item& item_of(WorkStruct& w) {
  return *reinterpret_cast<Item*>(&w);
}

void item_fn(WorkStruct& w) {
  Item& it = item_of(w);
  // Read before `started` is counted down: the test changes them once it saw the count.
  std::latch* started = it.started;
  std::latch* release = it.release;
  const int now = it.inside.fetch_add(1) + 1;
  int seen = it.max_inside.load();
  while (now > seen && !it.max_inside.compare_exchange_weak(seen, now)) {
  }
  if (it.stopped.load()) it.after_stop.fetch_add(1);
  ++it.plain;
  it.executions.fetch_add(1);
  if (started != nullptr) started->count_down();
  if (release != nullptr) release->wait();
  std::this_thread::yield();  // widen the window in which a second execution could overlap this one
  if (it.requeue.load() && queue_work(it.work)) it.requeued_ok.fetch_add(1);
  it.inside.fetch_sub(1);
}

struct NativeFixture {
  NativeFixture() { BOOST_TEST_REQUIRE(core::sim_world() == nullptr); }  // these run the native runtime
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(workqueue, NativeFixture)

// kernel/workqueue.c __queue_work + process_one_work: a work item is non-reentrant; every successful
// queue_work() is one execution (nothing is cancelled here), however many threads queue it.
BOOST_AUTO_TEST_CASE(never_runs_concurrently_with_itself) {
  constexpr int kThreads = 4;
  constexpr int kQueues = 5'000;
  Item it;
  init_work(it.work, item_fn);
  std::atomic<long> accepted{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int k = 0; k < kQueues; ++k)
        if (queue_work(it.work)) accepted.fetch_add(1);
    });
  for (std::thread& t : threads)
    t.join();
  flush_work(it.work);
  BOOST_TEST(it.max_inside.load() == 1);
  BOOST_TEST(it.executions.load() == accepted.load());
  BOOST_TEST(it.plain == accepted.load());  // flush_work ordered every execution's plain write before this read
  BOOST_TEST(accepted.load() >= 1);
  BOOST_TEST(!work_pending(it.work));
}

// __queue_work: queued while it runs, it is pending and runs again after the running instance; a second
// queue_work while pending fails. flush_work waits for the pending instance too.
BOOST_AUTO_TEST_CASE(requeue_while_running_runs_again_after_it) {
  constexpr int kIterations = 2'000;
  for (int i = 0; i < kIterations; ++i) {
    Item it;
    init_work(it.work, item_fn);
    std::latch started(1);
    std::latch release(1);
    it.started = &started;
    it.release = &release;
    BOOST_TEST_REQUIRE(queue_work(it.work));
    started.wait();  // the first instance is running and waits for `release`
    it.started = nullptr;
    it.release = nullptr;  // read by the second instance only, which starts after the first returned
    const bool queued = queue_work(it.work);
    const bool pending = work_pending(it.work);
    const bool again = queue_work(it.work);
    release.count_down();
    flush_work(it.work);  // may or may not find the second instance still to wait for
    BOOST_TEST_REQUIRE(queued);
    BOOST_TEST_REQUIRE(pending);
    BOOST_TEST_REQUIRE(!again);
    BOOST_TEST_REQUIRE(it.executions.load() == 2);
    BOOST_TEST_REQUIRE(it.max_inside.load() == 1);
    BOOST_TEST_REQUIRE(!work_pending(it.work));
    BOOST_TEST_REQUIRE(!flush_work(it.work));  // nothing pending or running: nothing to wait for
  }
}

// flush_work (kernel/workqueue.c start_flush_work): waits for the instance pending or running at the call, and
// orders what it did before the caller's next access (checked by TSan on `plain`).
BOOST_AUTO_TEST_CASE(flush_waits_for_the_queued_instance) {
  constexpr int kIterations = 5'000;
  Item it;
  init_work(it.work, item_fn);
  for (int i = 1; i <= kIterations; ++i) {
    BOOST_TEST_REQUIRE(queue_work(it.work));
    flush_work(it.work);  // true or false: the instance may have finished before the call
    BOOST_TEST_REQUIRE(it.plain == i);
    BOOST_TEST_REQUIRE(it.executions.load() == i);
  }
}

// flush_work does not wait for instances queued after the call: it returns on a work that requeues itself
// forever (a flush that waited for "idle" would hang here, and ctest's time limit fails it).
BOOST_AUTO_TEST_CASE(flush_returns_on_a_self_requeueing_work) {
  constexpr int kIterations = 500;
  for (int i = 0; i < kIterations; ++i) {
    Item it;
    init_work(it.work, item_fn);
    it.requeue = true;
    BOOST_TEST_REQUIRE(queue_work(it.work));
    flush_work(it.work);
    BOOST_TEST_REQUIRE(it.executions.load() >= 1);
    cancel_work_sync(it.work);
    BOOST_TEST_REQUIRE(it.inside.load() == 0);
    BOOST_TEST_REQUIRE(!work_pending(it.work));
  }
}

// __cancel_work_sync: a work that requeues itself is stopped; on return it is neither pending nor running and
// never runs again.
BOOST_AUTO_TEST_CASE(cancel_stops_a_self_requeueing_work) {
  constexpr int kIterations = 1'000;
  for (int i = 0; i < kIterations; ++i) {
    Item it;
    init_work(it.work, item_fn);
    it.requeue = true;
    BOOST_TEST_REQUIRE(queue_work(it.work));
    const long target = 1 + i % 8;  // cancel after a few self-requeues, at varying points
    wait_until([&] { return it.executions.load() >= target; });
    cancel_work_sync(it.work);
    it.stopped = true;
    const long executions = it.executions.load();
    BOOST_TEST_REQUIRE(it.inside.load() == 0);   // not running
    BOOST_TEST_REQUIRE(!work_pending(it.work));  // not pending
    BOOST_TEST_REQUIRE(!flush_work(it.work));    // so nothing to wait for
    BOOST_TEST_REQUIRE(it.executions.load() == executions);
    BOOST_TEST_REQUIRE(it.after_stop.load() == 0);
    BOOST_TEST_REQUIRE(it.max_inside.load() == 1);
    // Queueing works again after the cancel returned.
    it.requeue = false;
    it.stopped = false;
    BOOST_TEST_REQUIRE(queue_work(it.work));
    flush_work(it.work);
    BOOST_TEST_REQUIRE(it.executions.load() == executions + 1);
  }
}

// __cancel_work_sync: queue_work() fails for the whole cancel, also while it waits for the running instance;
// a pending instance is taken off the queue and never runs (cancel returns true for it).
BOOST_AUTO_TEST_CASE(queue_fails_while_cancel_is_in_progress) {
  constexpr int kIterations = 1'000;
  for (int i = 0; i < kIterations; ++i) {
    Item it;
    init_work(it.work, item_fn);
    std::latch started(1);
    std::latch release(1);
    it.started = &started;
    it.release = &release;
    BOOST_TEST_REQUIRE(queue_work(it.work));
    started.wait();
    it.started = nullptr;
    BOOST_TEST_REQUIRE(queue_work(it.work));  // pending behind the running instance
    bool cancelled_pending = false;
    std::thread canceler([&] { cancelled_pending = cancel_work_sync(it.work); });
    // Only the cancel takes the pending instance away while the first one is held running: once it is no
    // longer pending, the cancel is in progress (it waits for the running instance).
    wait_until([&] { return !work_pending(it.work); });
    const bool during = queue_work(it.work);
    release.count_down();
    canceler.join();
    BOOST_TEST_REQUIRE(!during);
    BOOST_TEST_REQUIRE(cancelled_pending);
    BOOST_TEST_REQUIRE(it.executions.load() == 1);  // the cancelled instance never ran
    BOOST_TEST_REQUIRE(it.inside.load() == 0);
    BOOST_TEST_REQUIRE(!work_pending(it.work));
  }
}

// Every accepted queue_work() retires exactly once: it runs, or a cancel_work_sync() that returns true takes it
// off the queue. Queuers and cancelers race on one item.
BOOST_AUTO_TEST_CASE(queue_and_cancel_race_accounting) {
  constexpr int kQueuers = 3;
  constexpr int kQueues = 4'000;
  constexpr int kCancels = 2'000;
  Item it;
  init_work(it.work, item_fn);
  std::atomic<long> accepted{0};
  std::atomic<long> cancelled{0};
  std::latch start(kQueuers + 1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kQueuers; ++i)
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int k = 0; k < kQueues; ++k)
        if (queue_work(it.work)) accepted.fetch_add(1);
    });
  threads.emplace_back([&] {
    start.arrive_and_wait();
    for (int k = 0; k < kCancels; ++k)
      if (cancel_work_sync(it.work)) cancelled.fetch_add(1);
  });
  for (std::thread& t : threads)
    t.join();
  flush_work(it.work);
  BOOST_TEST(it.executions.load() + cancelled.load() == accepted.load());
  // On a loaded machine every racing instance may be cancelled before it runs, so one more runs alone now: the
  // most seen at once is then exactly one.
  BOOST_TEST_REQUIRE(queue_work(it.work));
  flush_work(it.work);
  BOOST_TEST(it.max_inside.load() == 1);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// A timer with its test state (container_of as above).
struct Tick {
  TimerList timer;
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::atomic<long> fires{0};
  std::atomic<bool> rearm{false};    // the callback re-arms its own timer
  std::atomic<bool> stopped{false};  // set once the delete returned: any callback after is a violation
  std::atomic<long> after_stop{0};
  std::atomic<long> rearm_refused{0};  // mod_timer from the callback returned false with the timer not armed
  std::uint64_t delay_ns = 1'000;
  std::chrono::steady_clock::time_point armed_at{};  // written before mod_timer, read by the callback
  std::atomic<long> early{0};                        // a callback before its expiry
  long plain = 0;
  std::latch* started = nullptr;
  std::latch* release = nullptr;
};
static_assert(offsetof(Tick, timer) == 0);

void tick_fn(TimerList& t) {
  Tick& k = *reinterpret_cast<Tick*>(&t);
  std::latch* started = k.started;
  std::latch* release = k.release;
  const int now = k.inside.fetch_add(1) + 1;
  int seen = k.max_inside.load();
  while (now > seen && !k.max_inside.compare_exchange_weak(seen, now)) {
  }
  if (k.stopped.load()) k.after_stop.fetch_add(1);
  if (std::chrono::steady_clock::now() - k.armed_at < std::chrono::nanoseconds(k.delay_ns)) k.early.fetch_add(1);
  ++k.plain;
  k.fires.fetch_add(1);
  if (started != nullptr) started->count_down();
  if (release != nullptr) release->wait();
  if (k.rearm.load()) {
    k.armed_at = std::chrono::steady_clock::now();
    mod_timer(k.timer, k.delay_ns);
  }
  k.inside.fetch_sub(1);
}

// A second timer whose callback completes a completion: timers share one softirq thread and fire in expiry
// order, so once `later` fired, an expiry of another timer due earlier has had its turn.
struct Marker {
  TimerList timer;
  core::Completion done;
};
void marker_fn(TimerList& t) {
  reinterpret_cast<Marker*>(&t)->done.complete();
}
// Waits until every expiry due within `ns` from now has been handled.
void wait_past(std::uint64_t ns) {
  Marker m;
  timer_setup(m.timer, marker_fn);
  mod_timer(m.timer, ns);
  m.done.wait_for_completion();
  del_timer_sync(m.timer);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(timers, NativeFixture)

// kernel/time/timer.c __timer_delete_sync: a callback that re-arms its own timer is stopped by del_timer_sync;
// on return it is neither running nor pending, and it never fires again.
BOOST_AUTO_TEST_CASE(del_timer_sync_stops_a_self_rearming_timer) {
  constexpr int kIterations = 500;
  for (int i = 0; i < kIterations; ++i) {
    Tick k;
    k.rearm = true;
    timer_setup(k.timer, tick_fn);
    k.armed_at = std::chrono::steady_clock::now();
    BOOST_TEST_REQUIRE(!mod_timer(k.timer, k.delay_ns));
    const long target = 1 + i % 8;
    wait_until([&] { return k.fires.load() >= target; });
    del_timer_sync(k.timer);
    k.stopped = true;
    BOOST_TEST_REQUIRE(k.inside.load() == 0);
    BOOST_TEST_REQUIRE(!timer_pending(k.timer));
    BOOST_TEST_REQUIRE(k.plain == k.fires.load());  // the callbacks' plain writes are ordered before this read
    wait_past(100'000);                             // 100 us: far past a re-armed 1 us expiry, had one survived
    BOOST_TEST_REQUIRE(k.after_stop.load() == 0);
    BOOST_TEST_REQUIRE(k.max_inside.load() == 1);
    BOOST_TEST_REQUIRE(k.early.load() == 0);
  }
}

// timer_shutdown_sync (kernel/time/timer.c, the function cleared under the base lock): as del_timer_sync, and
// every later arming, the callback's own included, is refused.
BOOST_AUTO_TEST_CASE(timer_shutdown_sync_refuses_rearming) {
  constexpr int kIterations = 500;
  for (int i = 0; i < kIterations; ++i) {
    Tick k;
    k.rearm = true;
    timer_setup(k.timer, tick_fn);
    k.armed_at = std::chrono::steady_clock::now();
    mod_timer(k.timer, k.delay_ns);
    wait_until([&] { return k.fires.load() >= 1 + i % 4; });
    timer_shutdown_sync(k.timer);
    k.stopped = true;
    BOOST_TEST_REQUIRE(k.inside.load() == 0);
    BOOST_TEST_REQUIRE(!timer_pending(k.timer));
    BOOST_TEST_REQUIRE(!mod_timer(k.timer, 0));  // refused: not armed
    BOOST_TEST_REQUIRE(!timer_pending(k.timer));
    wait_past(100'000);
    BOOST_TEST_REQUIRE(k.after_stop.load() == 0);
  }
}

// del_timer_sync waits for a callback that is running: what the callback did is complete on return.
BOOST_AUTO_TEST_CASE(del_timer_sync_waits_for_the_running_callback) {
  constexpr int kIterations = 1'000;
  for (int i = 0; i < kIterations; ++i) {
    Tick k;
    timer_setup(k.timer, tick_fn);
    std::latch started(1);
    std::latch release(1);
    k.started = &started;
    k.release = &release;
    k.delay_ns = 0;
    mod_timer(k.timer, 0);
    started.wait();  // the callback runs and waits for `release`
    std::atomic<bool> returned{false};
    std::atomic<int> inside_at_return{-1};
    std::thread deleter([&] {
      del_timer_sync(k.timer);
      inside_at_return = k.inside.load();
      returned = true;
    });
    const bool early_return = returned.load();  // the callback is held: the delete cannot have returned
    release.count_down();
    deleter.join();
    BOOST_TEST_REQUIRE(!early_return);
    BOOST_TEST_REQUIRE(inside_at_return.load() == 0);
    BOOST_TEST_REQUIRE(k.plain == 1);
    BOOST_TEST_REQUIRE(k.fires.load() == 1);
  }
}

// mod_timer/del_timer accounting, from several threads: each arming fires once, or is deleted (del_timer
// returned true), or is replaced by a later arming while still pending (mod_timer returned true). A callback
// never fires before its expiry and never overlaps itself.
BOOST_AUTO_TEST_CASE(arm_and_delete_race_accounting) {
  constexpr int kThreads = 3;
  constexpr int kArms = 2'000;
  Tick k;
  k.delay_ns = 0;  // armed_at is not meaningful with several arming threads
  timer_setup(k.timer, tick_fn);
  std::atomic<long> arms{0};
  std::atomic<long> replaced{0};
  std::atomic<long> deleted{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      for (int n = 0; n < kArms; ++n) {
        arms.fetch_add(1);
        if (mod_timer(k.timer, static_cast<std::uint64_t>((n % 5) * 2'000))) replaced.fetch_add(1);
        if ((n + i) % 3 == 0 && del_timer(k.timer)) deleted.fetch_add(1);
      }
    });
  for (std::thread& t : threads)
    t.join();
  if (del_timer_sync(k.timer)) deleted.fetch_add(1);
  BOOST_TEST(k.fires.load() + deleted.load() + replaced.load() == arms.load());
  // Never overlapping itself. Whether any arming fired at all depends on the threads' timing (on a loaded machine
  // every one may be replaced or deleted first), so 0 is allowed.
  BOOST_TEST(k.max_inside.load() <= 1);
  BOOST_TEST(!timer_pending(k.timer));
}

// A timer never fires before its expiry (kernel/time/timer.c: a timer runs at or after its expiry), and jiffies
// follow the steady clock natively.
BOOST_AUTO_TEST_CASE(fires_after_expiry_and_jiffies_advance) {
  BOOST_TEST(msecs_to_jiffies(1) == 1u);  // rounded up: a timeout never gets shorter
  BOOST_TEST(msecs_to_jiffies(1000 / kHz) == 1u);
  BOOST_TEST(msecs_to_jiffies(1000 / kHz + 1) == 2u);
  constexpr int kIterations = 20;
  for (int i = 0; i < kIterations; ++i) {
    const std::uint64_t start = jiffies();
    std::latch fired(1);
    Tick k;
    k.started = &fired;
    k.delay_ns = jiffies_to_nsecs(2);
    timer_setup(k.timer, tick_fn);
    k.armed_at = std::chrono::steady_clock::now();
    mod_timer(k.timer, k.delay_ns);
    fired.wait();
    BOOST_TEST_REQUIRE(jiffies() >= start + 2);
    del_timer_sync(k.timer);
    BOOST_TEST_REQUIRE(k.early.load() == 0);
  }
}

BOOST_AUTO_TEST_SUITE_END()
