// Mutex (core/mutex.hpp): mutual exclusion in every schedule, blocking and ownership, guards, the
// held-at-exit and bad-unlock reports, and the native std::mutex path.
#define BOOST_TEST_MODULE core_mutex
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <thread>

#include "core/mutex.hpp"
#include "tests/core/locks_helpers.hpp"

using namespace devsim;
using core::test::exhaustive;

namespace {

struct Shared {
  core::Mutex lock{"counter_lock"};
  int value = 0;
  int finished = 0;
};

// Two tasks each do a read-yield-write increment of one counter, under the mutex or not; the last to finish
// checks that no update was lost. `contended` counts executions in which a task found the mutex taken.
sim::Model counter_model(bool locked, int* contended) {
  return [locked, contended](sim::World& w) {
    auto s = std::make_shared<Shared>();
    for (int i = 0; i < 2; ++i) {
      w.spawn("inc" + std::to_string(i), [s, locked, contended] {
        {
          std::optional<core::MutexGuard> g;
          if (locked) {
            if (s->lock.is_locked()) ++*contended;
            g.emplace(s->lock.guard());
          }
          const int v = s->value;
          sim::yield();  // the window between the read and the write
          s->value = v + 1;
        }
        if (++s->finished == 2 && s->value != 2)
          core::test::violation("lost update: counter is " + std::to_string(s->value));
      });
    }
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(no_lost_update_under_the_mutex_in_any_schedule) {
  int contended = 0;
  sim::ExploreResult r = sim::explore(counter_model(true, &contended), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u);
  BOOST_TEST(contended > 0);  // some schedules really made a task wait
}

BOOST_AUTO_TEST_CASE(without_the_mutex_the_search_finds_the_lost_update) {
  int contended = 0;
  sim::ExploreResult r = sim::explore(counter_model(false, &contended), exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions > 0u);
  BOOST_TEST(r.failing_executions < r.executions);  // the serial schedules are fine
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  BOOST_TEST(r.failures[0].report.headline == "lost update: counter is 1");
}

BOOST_AUTO_TEST_CASE(a_contended_lock_waits_for_the_owner) {
  std::string log;
  sim::Execution e = sim::run_once([&log](sim::World& w) {
    auto m = std::make_shared<core::Mutex>();
    w.spawn("owner", [m, &log](sim::World& w) {
      m->lock();
      log += "owner locked,";
      w.sleep_for(10);  // lets the other task run and find the mutex taken
      log += "owner unlocks,";
      m->unlock();
    });
    w.spawn("waiter", [m, &log] {
      BOOST_TEST(m->is_locked());
      BOOST_TEST(m->owner() == 0u);
      BOOST_TEST(!m->held_by_current());
      m->lock();
      log += "waiter locked,";
      BOOST_TEST(m->owner() == 1u);
      BOOST_TEST(m->held_by_current());
      m->unlock();
      BOOST_TEST(!m->is_locked());
    });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(log == "owner locked,owner unlocks,waiter locked,");
}

BOOST_AUTO_TEST_CASE(try_lock_fails_while_held_and_guards_unlock) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    auto m = std::make_shared<core::Mutex>();
    w.spawn("holder", [m](sim::World& w) {
      core::MutexGuard g = m->guard();
      BOOST_TEST(g.owns_lock());
      w.sleep_for(10);
      core::MutexGuard moved = std::move(g);
      BOOST_TEST(!g.owns_lock());
      moved.unlock();
      BOOST_TEST(!moved.owns_lock());
      BOOST_TEST(!m->is_locked());
    });
    w.spawn("trier", [m] {
      BOOST_TEST(!m->try_lock());
      BOOST_TEST(!m->try_guard().has_value());
      auto g = m->guard();  // waits for the holder
      auto again = m->try_guard();
      BOOST_TEST(!again.has_value());  // not recursive
    });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(exiting_with_the_mutex_held_is_reported) {
  sim::Execution e = core::test::run_task([] {
    core::Mutex* m = new core::Mutex("leaked_lock");
    m->lock();
    delete m;  // the record of the hold outlives the object: only the report matters here
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kHeldAtExit);
  BOOST_TEST(e.reports[0].headline == "task t/0 exited holding mutex leaked_lock");
}

BOOST_AUTO_TEST_CASE(unlock_by_another_task_is_a_bad_unlock) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    auto m = std::make_shared<core::Mutex>("owned");
    w.spawn("owner", [m](sim::World& w) {
      m->lock();
      w.sleep_for(10);
    });
    w.spawn("thief", [m] { m->unlock(); });
  });
  BOOST_TEST_REQUIRE(!e.reports.empty());
  BOOST_TEST(e.reports[0].kind == core::bug::kBadUnlock);
  BOOST_TEST(e.reports[0].headline ==
             "bad unlock balance detected: task thief/1 releases mutex owned held by task owner/0");
}

BOOST_AUTO_TEST_CASE(unlocking_a_free_mutex_is_a_bad_unlock) {
  sim::Execution e = core::test::run_task([] {
    core::Mutex m("free");
    m.unlock();
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].headline == "bad unlock balance detected: task t/0 releases mutex free which is not locked");
}

BOOST_AUTO_TEST_CASE(the_lock_class_is_the_name_or_the_construction_site) {
  core::Mutex named("dev->lock");
  core::Mutex unnamed;
  const int line = __LINE__ - 1;
  BOOST_TEST(named.lock_class().label() == "dev->lock");
  BOOST_TEST(unnamed.lock_class().label() == "tests/core/test_mutex.cpp:" + std::to_string(line));
  core::Mutex other_named("dev->lock");
  BOOST_TEST(named.lock_class().same_as(other_named.lock_class()));
  BOOST_TEST(!named.lock_class().same_as(unnamed.lock_class()));
}

BOOST_AUTO_TEST_CASE(native_mutex_excludes_another_thread) {
  core::Mutex m;
  BOOST_TEST(m.held_by_current());  // natively nothing is tracked
  {
    core::MutexGuard g = m.guard();
    bool other_got_it = true;
    std::thread([&] { other_got_it = m.try_lock(); }).join();
    BOOST_TEST(!other_got_it);
  }
  bool other_got_it = false;
  std::thread([&] {
    other_got_it = m.try_lock();
    if (other_got_it) m.unlock();
  }).join();
  BOOST_TEST(other_got_it);
  BOOST_TEST(!m.is_locked());  // the simulated state is untouched natively
}
