// The kernel's marked accesses on real OS threads (core/compiler.hpp, sim/kmalloc.hpp KPtr::load_once/store_once):
// READ_ONCE/WRITE_ONCE (include/asm-generic/rwonce.h) and data_race() (include/linux/compiler.h) say an access races
// on purpose, and KCSAN does not report them. Under the real TSan (DEVSIM_TSAN_RUNTIME) they must not be reported
// either: READ_ONCE/WRITE_ONCE are relaxed atomics there, data_race() ignores the thread's accesses for its scope.
// A report fails the suite in the TSan job of .ci/run (halt_on_error=1); tsan_plain_race beside it shows that the
// same build does report an unmarked race. Runs on real threads (ctest label "native").
#define BOOST_TEST_MODULE core_stress_marked
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <latch>
#include <thread>

#include "core/compiler.hpp"
#include "sim/kmalloc.hpp"

using namespace devsim;

namespace {

constexpr int kRounds = 20'000;

struct Target {
  int value = 0;
};

struct Shared {
  sim::KPtr<Target> current;  // a word-sized class member (a kernel pointer)
  long generation = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(read_once_sees_write_once_in_order) {
  long word = 0;
  std::latch start(2);
  long went_back = 0;
  std::thread writer([&] {
    start.arrive_and_wait();
    for (long i = 1; i <= kRounds; ++i)
      WRITE_ONCE(word, i);
  });
  start.arrive_and_wait();
  long last = 0;
  for (int i = 0; i < kRounds; ++i) {
    const long now = READ_ONCE(word);
    if (now < last) ++went_back;  // one location's values are seen in the order they were written
    last = now;
  }
  writer.join();
  BOOST_TEST(went_back == 0);
  BOOST_TEST(READ_ONCE(word) == kRounds);
}

BOOST_AUTO_TEST_CASE(kptr_marked_members_race_without_a_report) {
  Target targets[2];
  Shared shared;
  sim::KPtr<Shared> s(&shared);
  s.store_once(&Shared::current, sim::KPtr<Target>(&targets[0]));
  std::latch start(2);
  std::thread writer([&] {
    start.arrive_and_wait();
    for (long i = 1; i <= kRounds; ++i) {
      s.store_once(&Shared::current, sim::KPtr<Target>(&targets[i % 2]));
      s.store_once(&Shared::generation, i);
    }
  });
  start.arrive_and_wait();
  int foreign = 0;
  long went_back = 0, last = 0;
  for (int i = 0; i < kRounds; ++i) {
    const sim::KPtr<Target> t = s.load_once(&Shared::current);
    if (t.unchecked() != &targets[0] && t.unchecked() != &targets[1]) ++foreign;  // never torn
    const long g = s.load_once(&Shared::generation);
    if (g < last) ++went_back;
    last = g;
  }
  writer.join();
  BOOST_TEST(foreign == 0);
  BOOST_TEST(went_back == 0);
  BOOST_TEST(s.load_once(&Shared::generation) == kRounds);
}

BOOST_AUTO_TEST_CASE(data_race_marks_a_statistics_counter) {
  // A counter bumped without a lock on purpose, as drivers keep statistics: increments may be lost, never invented.
  long hits = 0;
  std::latch start(2);
  auto bump = [&] {
    start.arrive_and_wait();
    for (int i = 0; i < kRounds; ++i)
      data_race(hits = hits + 1);
  };
  std::thread other(bump);
  bump();
  other.join();
  const long total = data_race(hits);
  BOOST_TEST(total >= kRounds);
  BOOST_TEST(total <= 2L * kRounds);
}
