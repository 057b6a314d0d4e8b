// Read/write semaphores as kernel/locking/rwsem.c and lockdep define them:
// - down_read() shares with readers and excludes a writer; down_write() excludes everyone; downgrade_write()
//   turns the write hold into a read hold without letting a writer in between (rwsem_downgrade_wake);
// - a reader queues behind a waiting writer (rwsem_down_read_slowpath once the handoff bit is set), so
//   read - (writer waits) - read again in one task deadlocks;
// - lockdep (kernel/locking/lockdep.c, Documentation/locking/lockdep-design.rst "Recursive read locks"): rwsem
//   readers are non-recursive (down_read is rwsem_acquire_read with read = 1), so their dependencies count like
//   a writer's: an order inverted between a read hold and a mutex is a circular dependency, and a second
//   down_read of one class in one task is recursive locking.
// Every test explores every schedule within 2 preemptions (sim::explore, StrategyKind::Exhaustive), except the
// single-task unit checks, which have one schedule.
#define BOOST_TEST_MODULE semantics_rwsem
#include <boost/test/unit_test.hpp>

#include <memory>

#include "core/mutex.hpp"
#include "core/rwsem.hpp"
#include "core/spinlock.hpp"
#include "tests/bus/bus_test_support.hpp"

using namespace devsim;
using bus::test::expect;

namespace {

std::string first_failure(const sim::ExploreResult& r) {
  return r.failures.empty() ? std::string() : sim::render_text(r.failures.front().report);
}

// Fresh locks per execution: an execution stopped at a report may end with one held.
struct Locks {
  core::RwSemaphore sem{"semantics_rwsem"};
  core::Mutex mutex{"semantics_rwsem_mutex"};
  int readers_inside = 0;
  int writers_inside = 0;
  int max_readers_inside = 0;
};
std::unique_ptr<Locks> g;
int g_max_readers_seen = 0;
bool g_downgraded_reader_overlap = false;

void read_section() {
  g->sem.down_read();
  ++g->readers_inside;
  expect(g->writers_inside == 0, "a reader inside with a writer");
  g->max_readers_inside = std::max(g->max_readers_inside, g->readers_inside);
  g_max_readers_seen = std::max(g_max_readers_seen, g->readers_inside);
  sim::yield();
  --g->readers_inside;
  g->sem.up_read();
}

void write_section(bool downgrade) {
  g->sem.down_write();
  ++g->writers_inside;
  expect(g->writers_inside == 1 && g->readers_inside == 0, "a writer shares the semaphore");
  sim::yield();
  --g->writers_inside;
  if (downgrade) {
    g->sem.downgrade_write();
    ++g->readers_inside;
    sim::yield();
    g_downgraded_reader_overlap |= g->readers_inside > 1;
    --g->readers_inside;
    g->sem.up_read();
  } else {
    g->sem.up_write();
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(readers_share_writers_exclude) {
  g_max_readers_seen = 0;
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        g = std::make_unique<Locks>();
        w.spawn("reader1", [] { read_section(); });
        w.spawn("reader2", [] { read_section(); });
        w.spawn("writer", [] { write_section(false); });
      },
      bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
  BOOST_TEST(g_max_readers_seen == 2);  // some schedule has both readers inside at once
}

BOOST_AUTO_TEST_CASE(downgrade_write_admits_readers_and_no_writer) {
  g_downgraded_reader_overlap = false;
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        g = std::make_unique<Locks>();
        w.spawn("downgrader", [] { write_section(true); });
        w.spawn("reader", [] { read_section(); });
        w.spawn("writer", [] { write_section(false); });
      },
      bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
  BOOST_TEST(g_downgraded_reader_overlap);  // a reader got in while the downgraded holder still read
}

BOOST_AUTO_TEST_CASE(a_consistent_order_between_rwsem_and_mutex_is_clean) {
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        g = std::make_unique<Locks>();
        w.spawn("a", [] {
          g->sem.down_read();
          g->mutex.lock();
          g->mutex.unlock();
          g->sem.up_read();
        });
        w.spawn("b", [] {
          g->sem.down_write();
          g->mutex.lock();
          g->mutex.unlock();
          g->sem.up_write();
        });
      },
      bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
}

BOOST_AUTO_TEST_CASE(a_read_hold_inverted_with_a_mutex_is_a_circular_dependency) {
  // read(S) -> M in one task, M -> read(S) in another: with a writer queued on S this deadlocks, and lockdep
  // reports it from the two orders alone (non-recursive readers).
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        g = std::make_unique<Locks>();
        w.spawn("a", [] {
          g->sem.down_read();
          g->mutex.lock();
          g->mutex.unlock();
          g->sem.up_read();
        });
        w.spawn("b", [] {
          g->mutex.lock();
          g->sem.down_read();
          g->sem.up_read();
          g->mutex.unlock();
        });
      },
      bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(bus::test::found_kind(r, "lock-order-inversion"), first_failure(r));
}

BOOST_AUTO_TEST_CASE(a_recursive_read_with_a_writer_waiting_deadlocks) {
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        g = std::make_unique<Locks>();
        w.spawn("reader", [] {
          g->sem.down_read();
          sim::yield();
          g->sem.down_read();  // recursive read: lockdep reports it on every schedule
          g->sem.up_read();
          g->sem.up_read();
        });
        w.spawn("writer", [] {
          g->sem.down_write();
          g->sem.up_write();
        });
      },
      bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(bus::test::found_kind(r, "recursive-locking"), first_failure(r));
  BOOST_TEST(r.failing_executions == r.executions);
}

BOOST_AUTO_TEST_CASE(rwsem_misuse_is_reported) {
  // Unbalanced releases and sleeping under a spinlock (down_read may sleep: kernel/locking/rwsem.c might_sleep).
  sim::Execution e = sim::run_once([](sim::World& w) {
    g = std::make_unique<Locks>();
    w.spawn("t", [] {
      g->sem.up_read();
      g->sem.down_read();
      g->sem.up_write();
      g->sem.up_read();
    });
  });
  BOOST_TEST(e.reports.size() == 1u, bus::test::describe(e.reports));  // stops at the first (fatal) report
  BOOST_TEST(bus::test::has_kind(e.reports, "bad-unlock-balance"));

  sim::Execution atomic = sim::run_once([](sim::World& w) {
    g = std::make_unique<Locks>();
    w.spawn("t", [] {
      static std::unique_ptr<core::SpinLock> spin;
      spin = std::make_unique<core::SpinLock>("semantics_rwsem_spin");
      spin->lock();
      g->sem.down_read();
    });
  });
  BOOST_TEST(bus::test::has_kind(atomic.reports, "sleep-in-atomic"), bus::test::describe(atomic.reports));
}

BOOST_AUTO_TEST_CASE(rwsem_natively) {
  // Outside the simulator: a real lock on real threads' behalf (single thread here: the state machine).
  core::RwSemaphore sem("semantics_native_rwsem");
  sem.down_read();
  BOOST_TEST(sem.down_read_trylock());
  BOOST_TEST(!sem.down_write_trylock());
  sem.up_read();
  sem.up_read();
  BOOST_TEST(sem.down_write_trylock());
  BOOST_TEST(!sem.down_read_trylock());
  sem.downgrade_write();
  BOOST_TEST(sem.down_read_trylock());
  sem.up_read();
  sem.up_read();
  sem.down_write();
  sem.up_write();
}
