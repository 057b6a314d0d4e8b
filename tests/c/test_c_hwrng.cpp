// linux/hw_random.h (cabi/hw_random.cpp) as drivers/char/hw_random/core.c serves generators: the current one is
// the best quality, a new current one is read at once (add_early_randomness), /dev/hwrng reads it under a reference,
// and hwrng_unregister waits until the last reference is dropped (cleanup_done), so a driver may free what its read
// uses once unregister returned.
#define BOOST_TEST_MODULE c_hwrng
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "sim/report.hpp"
#include "tests/c/case_run.hpp"

extern "C" {
struct rngcase;
struct rngcase *rngcase_new(const char *name, unsigned char byte, unsigned short quality, int with_read);
int rngcase_register(struct rngcase *c);
void rngcase_unregister(struct rngcase *c);
void rngcase_remove(struct rngcase *c, int buggy);
void rngcase_free(struct rngcase *c);
int rngcase_inits(struct rngcase *c);
int rngcase_reads(struct rngcase *c);
int rngcase_cleanups(struct rngcase *c);
}

namespace bus = devsim::bus;
namespace sim = devsim::sim;
namespace test = devsim::test;

namespace {
// Reads `count` bytes from /dev/hwrng: the result, and the bytes in `out`.
long read_hwrng(std::size_t count, std::string *out = nullptr) {
  const bus::OpenResult o = bus::vfs_open("hwrng");
  if (o.file == nullptr) return o.error;
  const long r = bus::vfs_read(o.file, count);
  if (out != nullptr) *out = bus::take_user_copied_out().value_or("(nothing)");
  bus::vfs_close(o.file);
  return r;
}
}  // namespace

// hwrng_register (drivers/char/hw_random/core.c): -EINVAL without a read callback, -EEXIST for a name taken; the
// first generator becomes current: init runs and 32 bytes are read at once; /dev/hwrng then returns its bytes;
// after hwrng_unregister its cleanup ran and /dev/hwrng says -ENODEV.
BOOST_AUTO_TEST_CASE(a_generator_is_initialised_read_at_once_served_and_cleaned_up) {
  int no_read = 0, duplicate = 0, registered = 0, inits = 0, early_reads = 0, cleanups = 0;
  long served = 0, after = 0;
  std::string bytes;
  const sim::Execution e = test::run_in_task([&] {
    struct rngcase *a = rngcase_new("case-a", 0xa5, 100, 1);
    struct rngcase *x = rngcase_new("case-x", 0, 100, 0);
    struct rngcase *a2 = rngcase_new("case-a", 0, 100, 1);
    no_read = rngcase_register(x);
    registered = rngcase_register(a);
    duplicate = rngcase_register(a2);
    rngcase_free(x);
    rngcase_free(a2);
    inits = rngcase_inits(a);
    early_reads = rngcase_reads(a);
    served = read_hwrng(8, &bytes);
    rngcase_unregister(a);
    cleanups = rngcase_cleanups(a);
    rngcase_free(a);
    after = read_hwrng(8);
  });
  BOOST_TEST(e.reports.empty(), (e.reports.empty() ? "" : e.reports.front().headline));
  BOOST_TEST(no_read == -bus::kEINVAL);
  BOOST_TEST(registered == 0);
  BOOST_TEST(duplicate == -bus::kEEXIST);
  BOOST_TEST(inits == 1);
  BOOST_TEST(early_reads == 1);
  BOOST_TEST(served == 8);
  BOOST_TEST(bytes == std::string(8, '\xa5'));
  BOOST_TEST(cleanups == 1);
  BOOST_TEST(after == -bus::kENODEV);
}

// enable_best_rng: a generator of higher quality takes over (the first one's reference dropped: its cleanup runs);
// when it goes, the best one left is initialised again and served.
BOOST_AUTO_TEST_CASE(the_best_quality_is_current_and_the_next_best_follows_it) {
  std::string first, second, third;
  int low_cleanups = 0, low_inits = 0;
  const sim::Execution e = test::run_in_task([&] {
    struct rngcase *low = rngcase_new("case-low", 0x11, 100, 1);
    struct rngcase *high = rngcase_new("case-high", 0x22, 900, 1);
    (void)rngcase_register(low);
    (void)read_hwrng(4, &first);
    (void)rngcase_register(high);
    low_cleanups = rngcase_cleanups(low);
    (void)read_hwrng(4, &second);
    rngcase_unregister(high);
    low_inits = rngcase_inits(low);
    (void)read_hwrng(4, &third);
    rngcase_remove(low, 0);
    rngcase_free(high);
  });
  BOOST_TEST(e.reports.empty(), (e.reports.empty() ? "" : e.reports.front().headline));
  BOOST_TEST(first == std::string(4, '\x11'));
  BOOST_TEST(low_cleanups == 1);
  BOOST_TEST(second == std::string(4, '\x22'));
  BOOST_TEST(low_inits == 2);
  BOOST_TEST(third == std::string(4, '\x11'));
}

// A read of /dev/hwrng against the driver's removal, every schedule: hwrng_unregister waits for the reader's
// reference (the core's cleanup_done), so freeing the state after it is never a use-after-free; freeing it before
// (the bug) is found.
BOOST_AUTO_TEST_CASE(unregister_waits_for_a_reader_so_a_free_after_it_is_safe) {
  for (const bool buggy : {false, true}) {
    const sim::Model model = [buggy](sim::World &w) {
      w.spawn("probe", [&w, buggy] {
        struct rngcase *c = rngcase_new("case-race", 0x5a, 100, 1);
        if (rngcase_register(c) != 0) throw std::runtime_error("hwrng_register failed");
        w.spawn("reader", [] { (void)read_hwrng(16); });
        w.spawn("remove", [c, buggy] { rngcase_remove(c, buggy ? 1 : 0); });
      });
    };
    const sim::ExploreResult r = test::explore_every_schedule(model);
    BOOST_TEST(r.exhausted);
    BOOST_TEST(r.executions > 1u);
    if (buggy) {
      BOOST_TEST(test::any_report(r, sim::bug::kUseAfterFree));
    } else {
      BOOST_TEST(r.failing_executions == 0u, (r.failures.empty() ? "" : r.failures.front().report.headline));
    }
  }
}
