// Compiler-instrumented simulated memory (sim/instrument.cpp, sim/memory.hpp, sim/race.hpp): plain pointers to
// kmalloc'd memory are checked like KPtr, primitives check their own memory, plain accesses to shared memory
// are scheduling points, unsynchronised conflicting accesses are data races (KCSAN), and cpu_relax() spin-waits
// are fair. This file is compiled with devsim::instrumented, like a driver.
#define BOOST_TEST_MODULE core_instrumented
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>

#include "core/compiler.hpp"
#include "core/completion.hpp"
#include "core/kref.hpp"
#include "core/mutex.hpp"
#include "core/spinlock.hpp"
#include "core/srcu.hpp"
#include "core/waitqueue.hpp"
#include "sim/kmalloc.hpp"
#include "tests/core/locks_helpers.hpp"

using namespace devsim;
using core::test::has_kind;

namespace {
// Models below keep their shared objects for the whole execution (kmemleak is another suite's business).
sim::ExploreOptions exhaustive(int preemption_bound) {
  sim::ExploreOptions o = core::test::exhaustive(preemption_bound);
  o.world.detect_leaks = false;
  return o;
}
}  // namespace

namespace {

struct Skel {
  int value = 42;
  int other = 0;
  char name[16] = {};
};

// Driver-style functions: the reports must name them.
[[gnu::noipa]] int skel_read_value(Skel* s) {
  return s->value;
}
[[gnu::noipa]] void skel_write_past_end(Skel* s) {
  reinterpret_cast<int*>(s + 1)[0] = 7;
}
[[gnu::noipa]] void skel_copy_name(Skel* s, const Skel& from) {
  std::memcpy(s->name, from.name, sizeof s->name);
}

sim::Execution run_one(const std::function<void()>& body) {
  return sim::run_once([&](sim::World& w) { w.spawn("driver", body); });
}

const sim::Report* find_kind(const sim::Execution& e, std::string_view kind) {
  for (const sim::Report& r : e.reports)
    if (r.kind == kind) return &r;
  return nullptr;
}

}  // namespace

// ---- item 1: plain pointers are checked ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(plain_read_of_freed_memory_is_a_use_after_free_naming_the_function) {
  int seen = 0;
  sim::Execution e = run_one([&] {
    sim::KPtr<Skel> p = sim::kzalloc<Skel>();
    Skel* raw = p.unchecked();
    raw->value = 5;
    sim::kfree(p);
    seen = skel_read_value(raw);  // quarantine: the read still returns the old value
  });
  const sim::Report* r = find_kind(e, sim::bug::kUseAfterFree);
  BOOST_TEST_REQUIRE(r != nullptr);
  BOOST_TEST(r->headline == "use-after-free in skel_read_value");
  BOOST_TEST_REQUIRE(r->access.has_value());
  BOOST_TEST(!r->access->write);
  BOOST_TEST(r->access->size == 4u);
  BOOST_TEST(r->access->offset == 0u);
  BOOST_TEST(r->freed_by.has_value());
  BOOST_TEST(sim::site_location(*r->accessed_by).find("tests/core/test_instrumented.cpp:") == 0u);
  BOOST_TEST(seen == 5);
}

BOOST_AUTO_TEST_CASE(plain_write_past_the_end_is_out_of_bounds) {
  sim::Execution e = run_one([] {
    sim::KPtr<Skel> p = sim::kzalloc<Skel>();
    skel_write_past_end(p.unchecked());
  });
  const sim::Report* r = find_kind(e, sim::bug::kOutOfBounds);
  BOOST_TEST_REQUIRE(r != nullptr);
  BOOST_TEST(r->headline == "slab-out-of-bounds in skel_write_past_end");
  BOOST_TEST(r->access->write);
  BOOST_TEST(r->access->offset == sizeof(Skel));
}

BOOST_AUTO_TEST_CASE(fixed_size_memcpy_into_freed_memory_is_reported) {
  // g++ turns a memcpy of a known size into a range check (__tsan_write_range); clang calls __tsan_memcpy.
  sim::Execution e = run_one([] {
    sim::KPtr<Skel> p = sim::kzalloc<Skel>();
    Skel src;
    sim::kfree(p);
    skel_copy_name(p.unchecked(), src);
  });
  const sim::Report* r = find_kind(e, sim::bug::kUseAfterFree);
  BOOST_TEST_REQUIRE(r != nullptr);
  BOOST_TEST(r->headline == "use-after-free in skel_copy_name");
  BOOST_TEST(r->access->write);
  BOOST_TEST(r->access->size == 16u);
}

BOOST_AUTO_TEST_CASE(host_memory_and_live_objects_are_not_reported) {
  sim::Execution e = run_one([] {
    auto host = std::make_unique<Skel>();
    host->value++;
    sim::KPtr<Skel> p = sim::kzalloc<Skel>();
    p.unchecked()->value += host->value;
    sim::kfree(p);
  });
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(find_is_exact_for_interior_pointers) {
  sim::Execution e = run_one([] {
    sim::KPtr<Skel> p = sim::kzalloc<Skel>();
    sim::KernelMemory& m = sim::world().memory();
    if (m.find(&p.unchecked()->other) != p.id()) core::test::violation("interior pointer not found");
    if (m.find(reinterpret_cast<char*>(p.unchecked()) + sizeof(Skel)) != 0) core::test::violation("redzone found");
    if (m.find(&p) != 0) core::test::violation("host stack found");
    sim::kfree(p);
  });
  BOOST_TEST(e.reports.empty());
}

// ---- item 4: primitives check their own memory ------------------------------------------------------------

namespace {
struct Prims {
  core::Mutex lock{"prims_lock"};
  core::SpinLock spin{"prims_spin"};
  core::Completion done;
  core::WaitQueue wq;
  core::Kref kref;
  core::Srcu srcu;
};

// Allocates the primitives in simulated memory, runs `before` on them, frees them, then calls `op` on the stale
// pointer from a driver-style function: the report names that function (its site) and the primitive.
using PrimOp = void (*)(Prims*);
[[gnu::noipa]] void prim_driver_call(PrimOp op, Prims* p) {
  op(p);
}
void expect_uaf_in(const char* primitive, PrimOp before, PrimOp op) {
  sim::Execution e = run_one([&] {
    sim::KPtr<Prims> p = sim::kzalloc<Prims>();
    Prims* raw = p.unchecked();  // a raw pointer kept past the free (file->private_data, dev_id)
    if (before != nullptr) before(raw);
    sim::kfree(p);
    prim_driver_call(op, raw);
  });
  const sim::Report* r = find_kind(e, sim::bug::kUseAfterFree);
  BOOST_TEST_REQUIRE(r != nullptr, primitive << ": no use-after-free report");
  BOOST_TEST(r->freed_by.has_value(), primitive);
  BOOST_TEST_REQUIRE(r->details.size() == 1u, primitive);
  // "the object is a primitive's, accessed by lock (core/sim_lock.cpp:NN)"
  BOOST_TEST(r->details[0].find(std::string("accessed by ") + primitive + " (core/") != std::string::npos,
             primitive << ": " << r->details[0]);
  BOOST_TEST_MESSAGE(primitive << ": " << r->headline << "; " << r->details[0]);
}
}  // namespace

// include/linux/mutex.h mutex_lock/mutex_unlock, spinlock.h spin_lock, completion.h complete and
// wait_for_completion, wait.h wake_up, kref.h kref_put, srcu.h srcu_read_lock: each touches the object it is
// given (the lock word, the done count, the wait list, the count, the per-CPU counters).
BOOST_AUTO_TEST_CASE(mutex_lock_on_freed_memory) {
  expect_uaf_in("lock", nullptr, [](Prims* p) { p->lock.lock(); });
}
BOOST_AUTO_TEST_CASE(mutex_unlock_on_freed_memory) {
  expect_uaf_in(
      "unlock", [](Prims* p) { p->lock.lock(); }, [](Prims* p) { p->lock.unlock(); });
}
BOOST_AUTO_TEST_CASE(spin_lock_on_freed_memory) {
  expect_uaf_in("lock", nullptr, [](Prims* p) { p->spin.lock(); });
}
BOOST_AUTO_TEST_CASE(complete_on_freed_memory) {
  expect_uaf_in("complete", nullptr, [](Prims* p) { p->done.complete(); });
}
BOOST_AUTO_TEST_CASE(wait_for_completion_on_freed_memory) {
  expect_uaf_in(
      "wait_for_completion", [](Prims* p) { p->done.complete(); }, [](Prims* p) { p->done.wait_for_completion(); });
}
BOOST_AUTO_TEST_CASE(wake_up_on_freed_memory) {
  expect_uaf_in("wake_up_all", nullptr, [](Prims* p) { p->wq.wake_up_all(); });
}
BOOST_AUTO_TEST_CASE(kref_put_on_freed_memory) {
  // Kref::put -> Refcount::dec_and_test -> its scheduling point (Refcount::schedule) looks at the count.
  expect_uaf_in("schedule", nullptr, [](Prims* p) { (void)p->kref.put([] {}); });
}
BOOST_AUTO_TEST_CASE(srcu_read_lock_on_freed_memory) {
  expect_uaf_in("sim_read_lock", nullptr, [](Prims* p) { auto guard = p->srcu.read_lock(); });
}

// ---- item 2: scheduling between plain accesses: the i2c-dev window -----------------------------------------

namespace {
// drivers/i2c/i2c-dev.c before the fix: i2c_dev_get_by_minor() finds the entry under i2c_dev_list_lock,
// unlocks, and the caller dereferences i2c_dev->adap; return_i2c_dev() deletes and frees under the same lock.
struct I2cDev {
  core::Kref kref;
  int adap = 3;
};
struct I2cTable {
  core::SpinLock lock{"i2c_dev_list_lock"};
  I2cDev* entry = nullptr;
};

[[gnu::noipa]] int i2cdev_open(I2cTable* t, bool fixed) {
  t->lock.lock();
  I2cDev* d = t->entry;
  if (d != nullptr && fixed) d->kref.get();
  t->lock.unlock();
  if (d == nullptr) return -19;
  int adap = d->adap;  // the window: no yield written here
  if (fixed) (void)d->kref.put([d] { sim::kfree_raw(d); });
  return adap;
}

[[gnu::noipa]] void i2cdev_remove(I2cTable* t) {
  t->lock.lock();
  I2cDev* d = t->entry;
  t->entry = nullptr;
  t->lock.unlock();
  if (d != nullptr) (void)d->kref.put([d] { sim::kfree_raw(d); });
}

sim::Model i2c_window(bool fixed) {
  return [fixed](sim::World& w) {
    I2cTable* t = sim::kzalloc<I2cTable>().unchecked();
    t->entry = sim::kzalloc<I2cDev>().unchecked();
    w.spawn("open", [t, fixed] { i2cdev_open(t, fixed); });
    w.spawn("remove", [t] { i2cdev_remove(t); });
  };
}
}  // namespace

BOOST_AUTO_TEST_CASE(i2c_dev_window_is_found_with_no_yield_in_the_driver) {
  sim::ExploreResult r = sim::explore(i2c_window(false), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST_REQUIRE(!r.failures.empty());
  BOOST_TEST(r.failures[0].report.kind == sim::bug::kUseAfterFree);
  BOOST_TEST(r.failures[0].report.headline == "use-after-free in i2cdev_open");
  BOOST_TEST_MESSAGE("i2c window: " << r.executions << " executions, " << r.failing_executions << " failing");
}

BOOST_AUTO_TEST_CASE(i2c_dev_window_fixed_with_kref_under_the_lock_is_clean) {
  sim::ExploreResult r = sim::explore(i2c_window(true), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failures.empty());
  for (const sim::Failure& f : r.failures)
    BOOST_TEST_MESSAGE(f.report.headline);
}

// ---- item 3: data races (KCSAN) --------------------------------------------------------------------------

namespace {
struct Counter {
  int n = 0;
  std::atomic<int> a{0};
  core::Mutex lock{"counter_lock"};
};

enum class Inc { Plain, Mutex, Atomic, Once };

[[gnu::noipa]] void counter_inc(Counter* c, Inc how) {
  switch (how) {
    case Inc::Plain:
      c->n++;
      break;
    case Inc::Mutex:
      c->lock.lock();
      c->n++;
      c->lock.unlock();
      break;
    case Inc::Atomic:
      c->a.fetch_add(1, std::memory_order_relaxed);
      break;
    case Inc::Once:
      WRITE_ONCE(c->n, READ_ONCE(c->n) + 1);
      break;
  }
}

sim::ExploreResult two_incrementers(Inc how) {
  return sim::explore(
      [how](sim::World& w) {
        Counter* c = sim::kzalloc<Counter>().unchecked();
        for (int i = 0; i < 2; ++i)
          w.spawn("inc" + std::to_string(i), [c, how] { counter_inc(c, how); });
      },
      exhaustive(2));
}

bool any_race(const sim::ExploreResult& r) {
  for (const sim::Failure& f : r.failures)
    if (f.report.kind == sim::bug::kDataRace) return true;
  return false;
}
}  // namespace

BOOST_AUTO_TEST_CASE(plain_increment_from_two_tasks_is_a_data_race) {
  sim::ExploreResult r = two_incrementers(Inc::Plain);
  BOOST_TEST_REQUIRE(any_race(r));
  const sim::Report& rep = r.failures[0].report;
  BOOST_TEST(rep.headline == "data-race in counter_inc / counter_inc");
  BOOST_TEST_REQUIRE(rep.racing_by.has_value());
  BOOST_TEST(rep.racing_by->task != rep.accessed_by->task);
  BOOST_TEST(sim::site_function(*rep.racing_by) == "counter_inc");
}
BOOST_AUTO_TEST_CASE(increment_under_a_mutex_is_clean) {
  BOOST_TEST(two_incrementers(Inc::Mutex).failures.empty());
}
BOOST_AUTO_TEST_CASE(atomic_increment_is_clean) {
  BOOST_TEST(two_incrementers(Inc::Atomic).failures.empty());
}
BOOST_AUTO_TEST_CASE(read_once_write_once_increment_is_clean) {
  // Marked accesses: a lost update may happen, but KCSAN does not call it a data race.
  BOOST_TEST(two_incrementers(Inc::Once).failures.empty());
}

// A task running alone (World::alone: the only task of the execution, as a scenario's set-up is) is not recorded
// for races: every later task is its child, ordered after what it did. What it does after the spawn is recorded.
namespace {
sim::ExploreResult parent_and_child(bool parent_increments_after_spawn) {
  return sim::explore(
      [parent_increments_after_spawn](sim::World& w) {
        w.spawn("parent", [&w, parent_increments_after_spawn] {
          Counter* c = sim::kzalloc<Counter>().unchecked();
          counter_inc(c, Inc::Plain);  // alone
          w.spawn("child", [c] { counter_inc(c, Inc::Plain); });
          if (parent_increments_after_spawn) counter_inc(c, Inc::Plain);
        });
      },
      exhaustive(2));
}
}  // namespace

BOOST_AUTO_TEST_CASE(what_a_task_did_alone_never_races_with_its_children_and_what_it_does_after_may) {
  sim::ExploreResult before_only = parent_and_child(false);
  BOOST_TEST(before_only.failures.empty());
  BOOST_TEST(before_only.executions == 1u);  // nothing to interleave: the parent ends as the child starts
  sim::ExploreResult after_too = parent_and_child(true);
  BOOST_TEST_REQUIRE(any_race(after_too));
  BOOST_TEST(after_too.failures[0].report.headline == "data-race in counter_inc / counter_inc");
}

namespace {
struct Message {
  int data = 0;
  int ready = 0;
};
[[gnu::noipa]] void mp_send(Message* m, bool marked) {
  m->data = 42;
  if (marked)
    smp_store_release(&m->ready, 1);
  else
    m->ready = 1;
}
[[gnu::noipa]] int mp_receive(Message* m, bool marked) {
  int ready = marked ? smp_load_acquire(&m->ready) : m->ready;
  return ready != 0 ? m->data : -1;
}
sim::ExploreResult message_passing(bool marked) {
  return sim::explore(
      [marked](sim::World& w) {
        Message* m = sim::kzalloc<Message>().unchecked();
        w.spawn("sender", [m, marked] { mp_send(m, marked); });
        w.spawn("receiver", [m, marked] { (void)mp_receive(m, marked); });
      },
      exhaustive(2));
}
}  // namespace

// tools/memory-model/Documentation/recipes.txt, "Release and acquire": the acquire that reads the released
// value orders the data read after the data write.
BOOST_AUTO_TEST_CASE(message_passing_with_release_acquire_is_clean) {
  sim::ExploreResult r = message_passing(true);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failures.empty());
}
BOOST_AUTO_TEST_CASE(message_passing_with_plain_accesses_is_a_data_race) {
  sim::ExploreResult r = message_passing(false);
  for (const sim::Failure& f : r.failures)
    BOOST_TEST_MESSAGE(f.report.headline);
  BOOST_TEST_MESSAGE("executions " << r.executions);
  BOOST_TEST(any_race(r));
}

BOOST_AUTO_TEST_CASE(data_race_marks_an_intended_race) {
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        Counter* c = sim::kzalloc<Counter>().unchecked();
        for (int i = 0; i < 2; ++i)
          w.spawn("stat" + std::to_string(i), [c] { data_race(c->n++); });
      },
      exhaustive(2));
  BOOST_TEST(r.failures.empty());
}

// ---- item 6: fair spinning -------------------------------------------------------------------------------

namespace {
struct Flag {
  int flag = 0;
  int data = 0;
};
sim::Model spin_wait() {
  return [](sim::World& w) {
    Flag* f = sim::kzalloc<Flag>().unchecked();
    w.spawn("waiter", [f] {
      while (!smp_load_acquire(&f->flag))
        core::cpu_relax();
      if (f->data != 1) core::test::violation("flag seen before data");
    });
    w.spawn("setter", [f] {
      f->data = 1;
      smp_store_release(&f->flag, 1);
    });
  };
}
}  // namespace

BOOST_AUTO_TEST_CASE(spin_wait_terminates_under_unbounded_exhaustive_search) {
  sim::ExploreResult r = sim::explore(spin_wait(), exhaustive(-1));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failures.empty());
}
BOOST_AUTO_TEST_CASE(spin_wait_terminates_under_pct_and_random) {
  for (sim::StrategyKind kind : {sim::StrategyKind::Pct, sim::StrategyKind::Random}) {
    sim::ExploreOptions o;
    o.strategy.kind = kind;
    o.strategy.seed = 7;
    o.max_executions = 2000;
    o.world.detect_leaks = false;
    sim::ExploreResult r = sim::explore(spin_wait(), o);
    BOOST_TEST(r.executions == 2000u);
    BOOST_TEST(r.failures.empty(), sim::to_string(kind));
  }
}
// kernel/watchdog.c watchdog_timer_fn: a CPU that spins without scheduling for 2 * watchdog_thresh (20 s) is
// "BUG: soft lockup". A spin nobody else can end: virtual time passes while only the spinner can run, and the
// watchdog's threshold is reached.
BOOST_AUTO_TEST_CASE(spin_wait_nobody_ends_is_a_soft_lockup) {
  sim::Execution e = run_one([] {
    sim::KPtr<Flag> f = sim::kzalloc<Flag>();
    while (!READ_ONCE(f.unchecked()->flag))
      core::cpu_relax();
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kSoftLockup);
  BOOST_TEST(e.reports[0].headline.starts_with("soft lockup: task "));
}

// A poll with a timeout (the shape of include/linux/iopoll.h read_poll_timeout_atomic: spin on a condition until
// a deadline): when nothing else can end it, time passes and the timeout ends it. Correct code: no report.
BOOST_AUTO_TEST_CASE(spin_with_a_timeout_ends_when_time_passes) {
  bool timed_out = false;
  sim::Execution e = run_one([&timed_out] {
    sim::KPtr<Flag> f = sim::kzalloc<Flag>();
    const sim::Nanos deadline = sim::world().now() + 5'000'000'000;  // 5 s
    while (!READ_ONCE(f.unchecked()->flag) && sim::world().now() < deadline)
      core::cpu_relax();
    timed_out = !READ_ONCE(f.unchecked()->flag);
    sim::kfree(f);
  });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(timed_out);
}
