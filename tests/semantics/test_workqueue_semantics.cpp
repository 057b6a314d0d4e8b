// Work items as kernel/workqueue.c defines them (issue 11, items 1 and 3):
// - a work item is non-reentrant: __queue_work() queues a work that is still running on a pool behind itself on
//   that pool (find_worker_executing_work), and process_one_work() runs one instance at a time, so the function
//   never runs concurrently with itself;
// - cancel_work_sync() (__cancel_work_sync: the work is taken off the queue and disabled, then flushed) makes
//   queue_work() fail while it runs, so a self-requeueing work cannot escape it;
// - flush_work() (start_flush_work: a barrier behind the instance in flight) waits for that instance only, so
//   it does not stop a self-requeueing work: freeing the item after a flush is a use-after-free.
// Every test explores every schedule within 2 preemptions (sim::explore, StrategyKind::Exhaustive).
#define BOOST_TEST_MODULE semantics_workqueue
#include <boost/test/unit_test.hpp>

#include "bus/workqueue.hpp"
#include "sim/kmalloc.hpp"
#include "tests/bus/bus_test_support.hpp"

using namespace devsim;
using namespace devsim::bus;
using bus::test::expect;

namespace {

std::string first_failure(const sim::ExploreResult& r) {
  return r.failures.empty() ? std::string() : sim::render_text(r.failures.front().report);
}

// ---- item 1: non-reentrancy -------------------------------------------------------------------------------
struct Buf {
  int bytes = 0;
};
// The work items come first, so a work finds its structure the way container_of does.
struct Rx {
  WorkStruct work;
  WorkStruct twin;  // a second item running the same function: a distinct work, free to run concurrently
  sim::KPtr<Buf> buf;
  int inside = 0;         // instances of rx_work running now
  bool more_data = true;  // the first run finds more data and requeues itself
};

sim::KPtr<Rx> rx_of(WorkStruct& work) {
  // container_of for either item: the Rx is the allocation the item sits in.
  sim::AllocId id = sim::world().memory().find(&work);
  return sim::KPtr<Rx>(static_cast<Rx*>(sim::world().memory().record(id).base), id);
}

// Consumes the buffer: read the pointer, work on it, clear it, free it. Correct only if it never runs
// concurrently with itself on the same Rx — which the kernel guarantees for one work item.
void rx_work(WorkStruct& work) {
  sim::KPtr<Rx> rx = rx_of(work);
  if (&work == &rx.unchecked()->work) expect(rx.load(&Rx::inside) == 0, "rx_work runs concurrently with itself");
  rx.store(&Rx::inside, rx.load(&Rx::inside) + 1);
  if (rx.load(&Rx::more_data)) {
    rx.store(&Rx::more_data, false);
    queue_work(work);  // running: this queues a second instance, which must wait for this one
  }
  sim::KPtr<Buf> buf = rx.load(&Rx::buf);
  if (buf) {
    sim::yield();  // processing the buffer
    rx.store(&Rx::buf, sim::KPtr<Buf>());
    sim::kfree(buf);
  }
  rx.store(&Rx::inside, rx.load(&Rx::inside) - 1);
}

bool g_use_twin = false;  // the broken variant: the second queueing goes to another work item

void reentrancy_model(sim::World& w) {
  w.spawn("driver", [](sim::World& w) {
    sim::KPtr<Rx> rx = sim::kzalloc<Rx>();
    Rx* p = rx.unchecked();  // LIFETIME: freed by the irq task, after both items were cancelled
    init_work(p->work, rx_work);
    init_work(p->twin, rx_work);
    rx.store(&Rx::buf, sim::kzalloc<Buf>());
    rx.store(&Rx::more_data, true);
    queue_work(p->work);
    // An interrupt reports data again while the work may be running; then remove() cancels and frees.
    w.spawn("irq", [rx, p] {
      queue_work(g_use_twin ? p->twin : p->work);
      sim::yield();
      cancel_work_sync(p->work);
      cancel_work_sync(p->twin);
      // Both items idle now; the work may have been cancelled before consuming the buffer.
      expect(!work_pending(p->work) && !work_pending(p->twin), "cancel_work_sync left the items idle");
      if (sim::KPtr<Buf> left = rx.load(&Rx::buf)) sim::kfree(left);
      sim::kfree(rx);
    });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_work_queued_while_it_runs_never_runs_concurrently_with_itself) {
  g_use_twin = false;
  sim::ExploreResult r = sim::explore(reentrancy_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 10u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
}

BOOST_AUTO_TEST_CASE(two_work_items_with_one_function_do_run_concurrently) {
  // Non-reentrancy is per work item: the same function on a second item races with the first, and the
  // buffer is freed twice.
  g_use_twin = true;
  sim::ExploreResult r = sim::explore(reentrancy_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(bus::test::found_kind(r, "double-free"), first_failure(r));
}

namespace {

// ---- item 3: cancel_work_sync() against a work that requeues itself ---------------------------------------
struct Poll {
  WorkStruct work;
  int polls = 0;
};
constexpr int kMaxPolls = 3;  // bounded, so the schedule space is finite; the kernel idiom polls forever
bool g_requeue_refused = false;
bool g_use_flush = false;  // the broken remove(): flush_work() and free

void poll_work(WorkStruct& work) {
  auto* raw = reinterpret_cast<Poll*>(&work);
  sim::KPtr<Poll> poll(raw, sim::world().memory().find(raw));
  int n = poll.load(&Poll::polls) + 1;
  poll.store(&Poll::polls, n);
  if (n < kMaxPolls && !queue_work(work)) g_requeue_refused = true;  // polls the hardware again
}

void requeue_model(sim::World& w) {
  w.spawn("probe", [](sim::World& w) {
    sim::KPtr<Poll> poll = sim::kzalloc<Poll>();
    Poll* p = poll.unchecked();  // LIFETIME: freed by remove below, after the work stopped (or not: the bug)
    init_work(p->work, poll_work);
    queue_work(p->work);
    w.spawn("remove", [poll, p] {
      if (g_use_flush) {
        flush_work(p->work);
      } else {
        cancel_work_sync(p->work);
        expect(!work_pending(p->work), "cancel_work_sync returned with the work still pending");
      }
      sim::kfree(poll);
    });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(cancel_work_sync_stops_a_self_requeueing_work) {
  g_use_flush = false;
  g_requeue_refused = false;
  sim::ExploreResult r = sim::explore(requeue_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 3u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
  // Some schedule has the running work requeue itself during the cancel: that queue_work() returned false.
  BOOST_TEST(g_requeue_refused);
}

BOOST_AUTO_TEST_CASE(flush_work_does_not_stop_a_self_requeueing_work) {
  g_use_flush = true;
  sim::ExploreResult r = sim::explore(requeue_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  bool in_work = false;
  for (const sim::Failure& f : r.failures)
    in_work |= f.report.kind == "use-after-free" && f.report.headline == "use-after-free in process_one_work";
  BOOST_TEST(in_work, first_failure(r));
}

BOOST_AUTO_TEST_CASE(flush_work_waits_for_the_instance_in_flight) {
  // kernel/workqueue.c flush_work: returns only after the instance queued at the call has run.
  static int ran_before_flush_returned;
  ran_before_flush_returned = -1;
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        w.spawn("t", [](sim::World& w) {
          sim::KPtr<Poll> poll = sim::kzalloc<Poll>();
          Poll* p = poll.unchecked();  // LIFETIME: freed below, after the flush (the work does not requeue)
          init_work(p->work, [](WorkStruct& work) {
            auto* raw = reinterpret_cast<Poll*>(&work);
            sim::KPtr<Poll>(raw, sim::world().memory().find(raw)).store(&Poll::polls, 1);
          });
          w.spawn("other", [] { sim::yield(); });
          queue_work(p->work);
          bool waited = flush_work(p->work);
          expect(poll.load(&Poll::polls) == 1, "flush_work returned before the work ran");
          expect(!waited || work_executions() == 1, "one execution");
          ran_before_flush_returned = poll.load(&Poll::polls);
          sim::kfree(poll);
        });
      },
      bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
  BOOST_TEST(ran_before_flush_returned == 1);
}
