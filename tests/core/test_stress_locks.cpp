// Native stress for the lock primitives on real OS threads (runs under TSan; no simulator here): mutex and
// spinlock counters, a gate closed while threads enter and leave, completions and wait queues handing work
// between threads. Every check is exact; threads synchronise only through the primitives under test.
#define BOOST_TEST_MODULE core_stress_locks
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "core/completion.hpp"
#include "core/gate.hpp"
#include "core/mutex.hpp"
#include "core/spinlock.hpp"
#include "core/waitqueue.hpp"

using namespace devsim;

namespace {

constexpr int kThreads = 4;

void run_threads(int n, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back(body, i);
  for (std::thread& t : threads)
    t.join();
}

}  // namespace

BOOST_AUTO_TEST_CASE(mutex_counter_across_threads) {
  constexpr int kIterations = 50'000;
  core::Mutex m;
  long counter = 0;  // plain: only the mutex protects it
  run_threads(kThreads, [&](int i) {
    for (int k = 0; k < kIterations; ++k) {
      if (i % 2 == 0) {
        auto g = m.guard();
        ++counter;
      } else {
        m.lock();
        ++counter;
        m.unlock();
      }
    }
  });
  BOOST_TEST(counter == long{kThreads} * kIterations);
}

BOOST_AUTO_TEST_CASE(spinlock_counter_across_threads) {
  constexpr int kIterations = 50'000;
  core::SpinLock s;
  long counter = 0;
  long tried = 0;  // increments done through try_lock
  run_threads(kThreads, [&](int i) {
    for (int k = 0; k < kIterations; ++k) {
      if (i == 0 && s.try_lock()) {
        ++counter;
        ++tried;
        s.unlock();
        continue;
      }
      auto g = s.guard();
      ++counter;
    }
  });
  BOOST_TEST(counter == long{kThreads} * kIterations);
  BOOST_TEST(tried <= long{kIterations});
}

BOOST_AUTO_TEST_CASE(gate_close_while_threads_enter_and_leave) {
  core::Gate gate;
  std::atomic<int> inside{0};
  std::atomic<long> entries{0};
  std::atomic<bool> closed{false};
  std::atomic<int> violations{0};
  std::vector<long> per_thread(kThreads, 0);

  std::thread closer([&] {
    // Let the users get going (an atomic handshake, not a sleep), then drain.
    while (entries.load() < 10'000)
      std::this_thread::yield();
    gate.close();
    closed.store(true);
    if (inside.load() != 0) violations.fetch_add(1);
  });
  run_threads(kThreads, [&](int i) {
    // Each user loops until the gate refuses it: every thread is refused exactly once, at its end.
    while (auto in = gate.try_enter()) {
      if (closed.load()) violations.fetch_add(1);  // inside after close() returned
      inside.fetch_add(1);
      ++per_thread[i];
      entries.fetch_add(1);
      inside.fetch_sub(1);
    }
  });
  closer.join();
  long total = 0;
  for (long n : per_thread)
    total += n;
  BOOST_TEST(violations.load() == 0);
  BOOST_TEST(total == entries.load());
  BOOST_TEST(total >= 10'000);
  BOOST_TEST(gate.count() == 0u);
  BOOST_TEST(inside.load() == 0);
  BOOST_TEST(!gate.try_enter().has_value());
}

BOOST_AUTO_TEST_CASE(gate_close_waits_for_long_holders) {
  // Every user enters, then waits for a completion while inside; close() must not return before all left.
  core::Gate gate;
  core::Completion go;
  std::atomic<int> entered{0};
  std::atomic<int> left{0};
  std::vector<std::thread> users;
  for (int i = 0; i < kThreads; ++i) {
    users.emplace_back([&] {
      auto in = gate.try_enter();
      entered.fetch_add(1);
      go.wait_for_completion();
      left.fetch_add(1);
    });
  }
  while (entered.load() < kThreads)
    std::this_thread::yield();
  int left_when_closed = -1;
  std::thread closer([&] {
    gate.close();
    left_when_closed = left.load();
  });
  go.complete_all();
  closer.join();
  for (std::thread& t : users)
    t.join();
  BOOST_TEST(left_when_closed == kThreads);
}

BOOST_AUTO_TEST_CASE(completion_releases_one_waiter_per_complete) {
  core::Completion c;
  std::atomic<int> released{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < kThreads; ++i) {
    waiters.emplace_back([&] {
      c.wait_for_completion();
      released.fetch_add(1);
    });
  }
  for (int i = 0; i < kThreads; ++i)
    c.complete();
  for (std::thread& t : waiters)
    t.join();
  BOOST_TEST(released.load() == kThreads);
  BOOST_TEST(!c.done());  // exactly as many dones as waiters: none left over
}

BOOST_AUTO_TEST_CASE(completion_ping_pong) {
  constexpr int kRounds = 20'000;
  core::Completion ping, pong;
  long ball = 0;  // plain: each side touches it only between the other's complete and its own
  std::thread other([&] {
    for (int i = 0; i < kRounds; ++i) {
      ping.wait_for_completion();
      ++ball;
      pong.complete();
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    ++ball;
    ping.complete();
    pong.wait_for_completion();
  }
  other.join();
  BOOST_TEST(ball == 2L * kRounds);
}

BOOST_AUTO_TEST_CASE(waitqueue_producer_and_consumers) {
  constexpr int kItems = 20'000;
  core::WaitQueue wq;
  std::atomic<int> produced{0};
  std::atomic<int> consumed{0};
  std::atomic<int> failed_claims{0};
  run_threads(kThreads, [&](int i) {
    if (i == 0) {
      for (int k = 0; k < kItems; ++k) {
        produced.fetch_add(1);
        wq.wake_up_all();
      }
      return;
    }
    // Consumers claim items until all are consumed.
    for (;;) {
      wq.wait_event([&] { return consumed.load() < produced.load() || consumed.load() == kItems; });
      int c = consumed.load();
      if (c == kItems) break;
      if (c < produced.load() && consumed.compare_exchange_strong(c, c + 1)) continue;
      failed_claims.fetch_add(1);  // another consumer was faster: wait again
    }
    wq.wake_up_all();  // let the other consumers see the end
  });
  BOOST_TEST(consumed.load() == kItems);
  BOOST_TEST(produced.load() == kItems);
}
