// Native stress tests on real OS threads (no simulator): Revocable and SrcuRevocable readers against a
// revoker, an Rcu<P> replace storm, SRCU readers that sleep while a synchronizer runs. Run under TSan and ASan
// (ctest label "native"). Threads meet through atomics only; sleeps are workload inside read sections, never
// synchronisation. Assertions are made after joining, from the test thread.
#define BOOST_TEST_MODULE core_stress_rcu
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "core/rcu.hpp"
#include "core/rcu_ptr.hpp"
#include "core/revocable.hpp"
#include "core/srcu.hpp"

using namespace devsim;

namespace {

constexpr std::uint64_t kAlive = 0xA11CE0FF5E7ULL;
constexpr std::uint64_t kDead = 0xDEADDEADDEADULL;
constexpr int kReaders = 3;

// The canary is a plain field: a reader racing the destructor is a data race TSan reports, and a reader that
// runs after it sees kDead.
struct Payload {
  explicit Payload(std::uint64_t seq = 0, std::atomic<int>* destroyed = nullptr) : seq(seq), destroyed(destroyed) {}
  Payload(const Payload&) = delete;
  Payload& operator=(const Payload&) = delete;
  ~Payload() {
    canary = kDead;
    if (destroyed != nullptr) destroyed->fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t canary = kAlive;
  std::uint64_t seq;
  std::atomic<int>* destroyed;
};

// Waits (spinning, yielding the CPU) until `counter` reaches `target`: progress, not time.
void spin_until_at_least(const std::atomic<long>& counter, long target) {
  while (counter.load(std::memory_order_acquire) < target)
    std::this_thread::yield();
}

struct RevokeRound {
  long accesses = 0;
  long bad_canary = 0;
  long after_revoke_returned = 0;
  int destroyed = 0;
};

// kReaders threads loop on try_access until it fails; a revoker revokes once every reader got in a few times.
template <class R, class Work>
RevokeRound revoke_round(Work work) {
  std::atomic<int> destroyed{0};
  auto revocable = std::make_unique<R>(std::in_place, core::Site::current(), 0, &destroyed);
  std::atomic<bool> revoke_returned{false};
  std::atomic<long> accesses{0}, bad{0}, late{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < kReaders; ++i) {
    readers.emplace_back([&] {
      for (;;) {
        auto g = revocable->try_access();
        if (!g) break;
        if (g->canary != kAlive) bad.fetch_add(1);
        work();
        if (g->canary != kAlive) bad.fetch_add(1);
        // Holding a guard after revoke() returned would mean revoke did not wait for us.
        if (revoke_returned.load(std::memory_order_acquire)) late.fetch_add(1);
        accesses.fetch_add(1, std::memory_order_release);
      }
    });
  }
  std::thread revoker([&] {
    spin_until_at_least(accesses, 20L * kReaders);
    if (revocable->revoke()) revoke_returned.store(true, std::memory_order_release);
  });
  revoker.join();
  for (std::thread& t : readers)
    t.join();
  RevokeRound r;
  r.accesses = accesses.load();
  r.bad_canary = bad.load();
  r.after_revoke_returned = late.load();
  r.destroyed = destroyed.load();
  revocable.reset();
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(stress_revocable_readers_never_see_destroyed_data) {
  constexpr int kRounds = 100;
  long accesses = 0, bad = 0, late = 0;
  int destroyed = 0, revoked_rounds = 0;
  for (int round = 0; round < kRounds; ++round) {
    RevokeRound r = revoke_round<core::Revocable<Payload>>([] {});
    accesses += r.accesses;
    bad += r.bad_canary;
    late += r.after_revoke_returned;
    destroyed += r.destroyed;
    revoked_rounds += r.destroyed == 1;
  }
  BOOST_TEST(bad == 0);
  BOOST_TEST(late == 0);
  BOOST_TEST(destroyed == kRounds);
  BOOST_TEST(revoked_rounds == kRounds);
  BOOST_TEST(accesses >= 20L * kReaders * kRounds);
}

BOOST_AUTO_TEST_CASE(stress_srcu_revocable_readers_sleep_inside_their_guard) {
  constexpr int kRounds = 20;
  long bad = 0, late = 0;
  int destroyed = 0;
  for (int round = 0; round < kRounds; ++round) {
    RevokeRound r =
        revoke_round<core::SrcuRevocable<Payload>>([] { std::this_thread::sleep_for(std::chrono::microseconds(20)); });
    bad += r.bad_canary;
    late += r.after_revoke_returned;
    destroyed += r.destroyed;
  }
  BOOST_TEST(bad == 0);
  BOOST_TEST(late == 0);
  BOOST_TEST(destroyed == kRounds);
}

// One updater replaces the value kUpdates times (most old values freed by RcuOld's grace period, every fourth
// through call_rcu); readers check every value they see is alive and that values never go backwards.
BOOST_AUTO_TEST_CASE(stress_rcu_ptr_replace_storm_with_readers) {
  constexpr int kUpdates = 400;
  std::atomic<int> destroyed{0};
  auto rcu = std::make_unique<core::Rcu<core::KBox<Payload>>>(
      core::KBox<Payload>::emplace(core::Site::current(), 0, &destroyed));
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0}, bad{0}, backwards{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < kReaders; ++i) {
    readers.emplace_back([&] {
      std::uint64_t last = 0;
      while (!stop.load(std::memory_order_acquire)) {
        core::RcuReadGuard g;
        auto v = rcu->dereference(g);
        if (!v || v->canary != kAlive) {
          bad.fetch_add(1);
          continue;
        }
        if (v->seq < last) backwards.fetch_add(1);
        last = v->seq;
        reads.fetch_add(1, std::memory_order_release);
      }
    });
  }
  for (int i = 1; i <= kUpdates; ++i) {
    spin_until_at_least(reads, i);  // interleave by progress: readers keep up with the updates
    auto old =
        rcu->replace(core::KBox<Payload>::emplace(core::Site::current(), static_cast<std::uint64_t>(i), &destroyed));
    if (old && i % 4 == 0) old->free_after_grace_period();
  }
  stop.store(true, std::memory_order_release);
  for (std::thread& t : readers)
    t.join();
  core::rcu_barrier();
  BOOST_TEST(destroyed.load() == kUpdates);  // every replaced value, none early (readers would have seen kDead)
  rcu.reset();
  BOOST_TEST(destroyed.load() == kUpdates + 1);
  BOOST_TEST(bad.load() == 0);
  BOOST_TEST(backwards.load() == 0);
  BOOST_TEST(reads.load() >= kUpdates);
}

// The GPIO pattern with raw SRCU: readers load a pointer inside a section and sleep before using it; the
// synchronizer unpublishes, synchronizes, deletes.
BOOST_AUTO_TEST_CASE(stress_srcu_readers_that_sleep_while_a_synchronizer_runs) {
  constexpr int kUpdates = 60;
  core::Srcu srcu("stress");
  std::atomic<int> destroyed{0};
  std::atomic<Payload*> current{new Payload(0, &destroyed)};
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0}, bad{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < kReaders; ++i) {
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_acquire)) {
        core::SrcuReadGuard g = srcu.read_lock();
        Payload* p = current.load(std::memory_order_seq_cst);
        std::this_thread::sleep_for(std::chrono::microseconds(10));  // workload: SRCU readers may sleep
        if (p->canary != kAlive) bad.fetch_add(1);
        reads.fetch_add(1, std::memory_order_release);
      }
    });
  }
  for (int i = 1; i <= kUpdates; ++i) {
    spin_until_at_least(reads, i);
    Payload* old = current.exchange(new Payload(static_cast<std::uint64_t>(i), &destroyed), std::memory_order_seq_cst);
    srcu.synchronize();
    delete old;
  }
  stop.store(true, std::memory_order_release);
  for (std::thread& t : readers)
    t.join();
  BOOST_TEST(srcu.readers() == 0u);
  delete current.load();
  BOOST_TEST(destroyed.load() == kUpdates + 1);
  BOOST_TEST(bad.load() == 0);
  BOOST_TEST(reads.load() >= kUpdates);
}
