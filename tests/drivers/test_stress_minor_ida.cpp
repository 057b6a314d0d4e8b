// drivers/minor_ida.hpp on real OS threads: natively two probes of one driver run at once, and each must get a
// node number no other holds (the kernel's ida: lib/idr.c ida_alloc_range allocates under its own xa_lock, and
// ida_free releases under it). Runs under ASan and TSan in .ci/run (ctest label "native").
#define BOOST_TEST_MODULE drivers_stress_minor_ida
#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "drivers/minor_ida.hpp"
#include "sim/machine.hpp"

using namespace devsim;

namespace {
using TestMinors = drivers::MinorIda<struct TestMinorsTag>;
using OtherMinors = drivers::MinorIda<struct OtherMinorsTag>;
constexpr int kThreads = 4;
constexpr int kRounds = 5'000;
}  // namespace

BOOST_AUTO_TEST_CASE(concurrent_probes_never_share_a_number) {
  sim::NativeMachine::begin_fresh();
  // holders[m]: how many threads hold number m now (at most kThreads numbers are held at once, and the ida hands
  // out the lowest free one, so every number stays below 2 * kThreads).
  std::array<std::atomic<int>, 2 * kThreads> holders{};
  std::atomic<int> shared{0}, out_of_range{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < kRounds; ++i) {
        const int m = TestMinors::alloc();
        if (m < 0 || m >= static_cast<int>(holders.size())) {
          ++out_of_range;
          continue;
        }
        if (holders[static_cast<std::size_t>(m)].fetch_add(1) != 0) ++shared;
        holders[static_cast<std::size_t>(m)].fetch_sub(1);
        TestMinors::release(m);
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  BOOST_TEST(shared.load() == 0);
  BOOST_TEST(out_of_range.load() == 0);
}

BOOST_AUTO_TEST_CASE(numbers_are_per_driver_and_per_machine_lowest_free_first) {
  sim::NativeMachine::begin_fresh();
  BOOST_TEST(TestMinors::alloc() == 0);
  BOOST_TEST(TestMinors::alloc() == 1);
  BOOST_TEST(OtherMinors::alloc() == 0);  // another driver's numbers
  TestMinors::release(0);
  BOOST_TEST(TestMinors::alloc() == 0);  // the lowest free one again
  sim::NativeMachine::begin_fresh();
  BOOST_TEST(TestMinors::alloc() == 0);  // a fresh machine has handed out none
}
