// mutex_unlock() may touch the mutex after handing it over (issue 11, item 15).
// kernel/locking/mutex.c: mutex_unlock()'s fast path is one atomic release of lock->owner; with waiters it takes
// __mutex_unlock_slowpath(), which releases the owner field first and then takes lock->wait_lock to wake the
// first waiter. Between the two, another task (an optimistic spinner, or a first waiter spinning after an earlier
// wake-up) can take the mutex. Documentation/locking/mutex-design.rst states the contract: "mutex_unlock() may
// access the mutex structure even after it has internally released the lock already - so it's not safe for
// another context to acquire the mutex and assume that the mutex_unlock() context is not using the structure
// anymore." So "lock the mutex embedded in the object, see the last user gone, unlock, free" is a use-after-free
// in the other task's mutex_unlock; counting the users in a kref and freeing at its last put is the fix. A
// spinlock has no such access (spin_unlock is one store), so the same pattern with a spinlock is clean.
// kref_put_mutex() (include/linux/kref.h, lib/refcount.c refcount_dec_and_mutex_lock) is tested here too: a
// lookup under the mutex may kref_get() because the last put happens with the mutex held.
// Every test explores every schedule within 2 preemptions (sim::explore, StrategyKind::Exhaustive).
#define BOOST_TEST_MODULE semantics_mutex_handoff
#include <boost/test/unit_test.hpp>

#include <memory>

#include "core/kref.hpp"
#include "core/mutex.hpp"
#include "core/spinlock.hpp"
#include "sim/kmalloc.hpp"
#include "tests/bus/bus_test_support.hpp"

using namespace devsim;
using bus::test::expect;

namespace {

std::string first_failure(const sim::ExploreResult& r) {
  return r.failures.empty() ? std::string() : sim::render_text(r.failures.front().report);
}

// A USB-style device structure shared by two users (an open file and the disconnect path).
struct UsbDev {
  core::Mutex io_mutex{"usb_dev_io"};
  core::SpinLock io_lock{"usb_dev_lock"};
  core::Kref ref;  // the fix: one reference per user
  int users = 2;
  int io = 0;
};

enum class Release { LastUserUnderMutex, LastUserUnderSpinlock, Kref };
Release g_release = Release::LastUserUnderMutex;

// One user going away: its last I/O under the mutex, then the decision whether to free.
void user_done(sim::KPtr<UsbDev> dev) {
  UsbDev* d = dev.unchecked();  // LIFETIME: this user's share keeps it alive until the decision below
  switch (g_release) {
    case Release::LastUserUnderMutex: {
      d->io_mutex.lock();
      dev.store(&UsbDev::io, dev.load(&UsbDev::io) + 1);
      bool last = dev.load(&UsbDev::users) == 1;
      dev.store(&UsbDev::users, dev.load(&UsbDev::users) - 1);
      d->io_mutex.unlock();  // may still touch io_mutex after the other user took it
      if (last) sim::kfree(dev);
      break;
    }
    case Release::LastUserUnderSpinlock: {
      d->io_lock.lock();
      dev.store(&UsbDev::io, dev.load(&UsbDev::io) + 1);
      bool last = dev.load(&UsbDev::users) == 1;
      dev.store(&UsbDev::users, dev.load(&UsbDev::users) - 1);
      d->io_lock.unlock();  // one store: done with the lock when it returns
      if (last) sim::kfree(dev);
      break;
    }
    case Release::Kref: {
      d->io_mutex.lock();
      dev.store(&UsbDev::io, dev.load(&UsbDev::io) + 1);
      d->io_mutex.unlock();
      d->ref.put([dev] { sim::kfree(dev); });  // after our unlock returned: the other user's too, if last
      break;
    }
  }
}

void usb_model(sim::World& w) {
  w.spawn("probe", [](sim::World& w) {
    sim::KPtr<UsbDev> dev = sim::kzalloc<UsbDev>();
    dev.unchecked()->ref.get();  // two users, two references
    dev.store(&UsbDev::users, 2);
    w.spawn("release", [dev] { user_done(dev); });
    w.spawn("disconnect", [dev] { user_done(dev); });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(freeing_an_object_because_its_mutex_showed_the_last_user_is_a_use_after_free) {
  g_release = Release::LastUserUnderMutex;
  sim::ExploreResult r = sim::explore(usb_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  bool in_unlock = false;
  for (const sim::Failure& f : r.failures) {
    BOOST_TEST(f.report.kind == "use-after-free", sim::render_text(f.report));
    // The access is the unlocking task's, on the mutex inside the freed UsbDev.
    in_unlock |= f.report.access && f.report.access->type.find("UsbDev") != std::string::npos &&
                 f.report.access->offset < sizeof(core::Mutex) && f.report.freed_by.has_value();
  }
  BOOST_TEST(in_unlock, first_failure(r));
  // Not every schedule: only those where one user unlocks while the other waits for the mutex.
  BOOST_TEST(r.failing_executions < r.executions);
}

BOOST_AUTO_TEST_CASE(the_same_pattern_with_a_spinlock_is_clean) {
  g_release = Release::LastUserUnderSpinlock;
  sim::ExploreResult r = sim::explore(usb_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 2u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
}

BOOST_AUTO_TEST_CASE(the_refcounted_fix_is_clean) {
  g_release = Release::Kref;
  sim::ExploreResult r = sim::explore(usb_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 2u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
}

namespace {

// ---- kref_put_mutex: Documentation/core-api/kref.rst, the lookup-table example ----------------------------
struct Entry {
  core::Kref ref;
  int value = 7;
};
// A fresh lock per execution: an execution stopped at a report may end with it held.
std::unique_ptr<core::Mutex> g_table_mutex;
std::unique_ptr<core::SpinLock> g_table_lock;
sim::KPtr<Entry> g_table;  // one slot; the table itself holds no reference
bool g_put_mutex = true;   // false: the broken kref_put whose release takes the mutex

void release_entry_locked(sim::KPtr<Entry> e) {
  g_table = nullptr;  // unpublish while the mutex is still held
  g_table_mutex->unlock();
  sim::kfree(e);
}

void put_entry(sim::KPtr<Entry> e) {
  if (g_put_mutex) {
    e.unchecked()->ref.put_mutex([e] { release_entry_locked(e); }, *g_table_mutex);
  } else {
    e.unchecked()->ref.put([e] {
      g_table_mutex->lock();  // too late: a lookup can find the entry with a count of 0
      release_entry_locked(e);
    });
  }
}

sim::KPtr<Entry> get_entry() {
  core::MutexGuard guard = g_table_mutex->guard();
  sim::KPtr<Entry> e = g_table;
  if (e) e.unchecked()->ref.get();  // a plain kref_get: safe only with kref_put_mutex
  return e;
}

void table_model(sim::World& w) {
  g_table_mutex = std::make_unique<core::Mutex>("semantics_table");
  w.spawn("setup", [](sim::World& w) {
    g_table = sim::kzalloc<Entry>();
    sim::KPtr<Entry> creator = g_table;
    w.spawn("owner", [creator] { put_entry(creator); });
    w.spawn("lookup", [] {
      sim::KPtr<Entry> e = get_entry();
      if (!e) return;
      expect(e.load(&Entry::value) == 7, "the entry is intact");
      put_entry(e);
    });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(kref_put_mutex_lets_a_lookup_take_a_plain_reference) {
  g_put_mutex = true;
  sim::ExploreResult r = sim::explore(table_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 2u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
}

BOOST_AUTO_TEST_CASE(kref_put_with_the_mutex_taken_in_release_races_with_the_lookup) {
  g_put_mutex = false;
  sim::ExploreResult r = sim::explore(table_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  bool addition_on_zero = false;
  for (const sim::Failure& f : r.failures)
    addition_on_zero |= f.report.headline == "refcount_t: addition on 0; use-after-free.";
  BOOST_TEST(addition_on_zero, first_failure(r));
}

BOOST_AUTO_TEST_CASE(kref_put_lock_with_a_spinlock) {
  // kref_put_lock(): the same with a spinlock; release runs with it held and drops it.
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        w.spawn("setup", [](sim::World& w) {
          g_table_lock = std::make_unique<core::SpinLock>("semantics_table_lock");
          static sim::KPtr<Entry> slot;
          slot = sim::kzalloc<Entry>();
          sim::KPtr<Entry> creator = slot;
          auto put = [](sim::KPtr<Entry> e) {
            e.unchecked()->ref.put_lock(
                [e] {
                  slot = nullptr;
                  g_table_lock->unlock();
                  sim::kfree(e);
                },
                *g_table_lock);
            expect(!g_table_lock->is_locked() || g_table_lock->owner() != sim::world().current_task(),
                   "put_lock returns with the lock released");
          };
          w.spawn("owner", [creator, put] { put(creator); });
          w.spawn("lookup", [put] {
            g_table_lock->lock();
            sim::KPtr<Entry> e = slot;
            if (e) e.unchecked()->ref.get();
            g_table_lock->unlock();
            if (e) put(e);
          });
        });
      },
      bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
}
