// Simulated kernel memory (memory.hpp, kmalloc.hpp): the use-after-free of the central race is found in
// every schedule that has it and in none of the fixed model's, and every other misuse of kmalloc/kfree is
// reported with the right kind and sites instead of crashing the process.
#define BOOST_TEST_MODULE sim_memory
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sim/demo_models.hpp"
#include "sim/explorer.hpp"
#include "sim/kmalloc.hpp"
#include "sim/report.hpp"
#include "tests/sim/test_models.hpp"

namespace sim = devsim::sim;

namespace {

sim::ExploreOptions exhaustive() {
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Exhaustive;
  o.max_executions = 0;
  return o;
}

// Line `line` (1-based) of a project source file: reports must point at the exact statement.
std::string source_line(const std::string& relative_path, unsigned line) {
  std::ifstream in(std::string(DEVSIM_SOURCE_ROOT) + relative_path);
  std::string text;
  for (unsigned i = 0; i < line && std::getline(in, text); ++i) {
  }
  return text;
}

// A model of the same race written here, so the test knows the exact sites it expects.
struct Device {
  int id = 7;
  int users = 0;
};

unsigned g_read_line = 0;
unsigned g_free_line = 0;
unsigned g_alloc_line = 0;

void device_reader(sim::KPtr<Device> dev) {
  sim::yield();  // the read comes some time after the pointer was handed over
  g_read_line = __LINE__ + 1;
  int id = dev.load(&Device::id);
  static_cast<void>(id);
}

void device_remover(sim::KPtr<Device> dev) {
  g_free_line = __LINE__ + 1;
  sim::kfree(dev);
}

void reader_remover_model(sim::World& w) {
  g_alloc_line = __LINE__ + 1;
  sim::KPtr<Device> dev = sim::kmalloc(Device{});
  w.spawn("reader", [dev] { device_reader(dev); });
  w.spawn("remover", [dev] { device_remover(dev); });
}

// Runs `body` as the only task of a fresh world (leak detection on) and returns the execution.
template <class F>
sim::Execution run_single(F body, sim::WorldOptions options = {}) {
  return sim::run_once([&body](sim::World& w) { w.spawn("solo", body); }, options);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(use_after_free)

BOOST_AUTO_TEST_CASE(demo_buggy_model_is_found_with_both_sites_and_tasks) {
  const sim::Model model = [](sim::World& w) { sim::demo::unplug_while_open(w, false); };
  sim::ExploreResult r = sim::explore(model, exhaustive());
  // app has 2 steps (before and after its yield), hub 2 (kfree yields before freeing): C(4,2) = 6
  // interleavings, and the read follows the free in exactly half of them.
  BOOST_TEST(r.executions == 6u);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 3u);
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  const sim::Failure& f = r.failures[0];
  BOOST_TEST(f.count == 3u);
  const sim::Report& rep = f.report;
  BOOST_TEST(rep.kind == sim::bug::kUseAfterFree);
  BOOST_TEST(rep.headline == "use-after-free in app_ioctl");
  BOOST_TEST(rep.fatal);
  BOOST_TEST_REQUIRE(rep.accessed_by.has_value());
  BOOST_TEST_REQUIRE(rep.freed_by.has_value());
  BOOST_TEST_REQUIRE(rep.allocated_by.has_value());
  BOOST_TEST_REQUIRE(rep.access.has_value());
  BOOST_TEST(rep.accessed_by->task == "app/0");
  BOOST_TEST(rep.freed_by->task == "hub/1");
  BOOST_TEST(rep.allocated_by->task == "setup/-");
  BOOST_TEST_REQUIRE(rep.accessed_by->site.has_value());
  BOOST_TEST_REQUIRE(rep.freed_by->site.has_value());
  BOOST_TEST(sim::site_function(*rep.accessed_by->site) == "app_ioctl");
  BOOST_TEST(sim::site_function(*rep.freed_by->site) == "hub_unplug");
  BOOST_TEST(sim::site_function(*rep.allocated_by->site) == "unplug_while_open");
  // The lines are the statements that read and free, whatever the file's layout.
  const std::string file = "sim/demo_models.cpp";
  BOOST_TEST(sim::site_location(*rep.accessed_by->site).starts_with(file + ":"));
  BOOST_TEST(source_line(file, rep.accessed_by->site->line()).find("data.load(&DriverData::value)") !=
             std::string::npos);
  BOOST_TEST(source_line(file, rep.freed_by->site->line()).find("kfree(data)") != std::string::npos);
  BOOST_TEST(source_line(file, rep.allocated_by->site->line()).find("kmalloc(") != std::string::npos);
  // The read of DriverData::value: 4 bytes at offset 0 of the first object.
  BOOST_TEST(!rep.access->write);
  BOOST_TEST(rep.access->size == 4u);
  BOOST_TEST(rep.access->offset == 0u);
  BOOST_TEST(rep.access->object == 0xffff888100000000ULL);
  BOOST_TEST(rep.access->object_size == sizeof(sim::demo::DriverData));
  BOOST_TEST(rep.access->type == "devsim::sim::demo::DriverData");
  // The free happened before the access in the execution's step order.
  BOOST_TEST(rep.freed_by->step < rep.accessed_by->step);
  BOOST_TEST(!rep.schedule.empty());
}

BOOST_AUTO_TEST_CASE(demo_fixed_model_is_clean_in_every_schedule) {
  const sim::Model model = [](sim::World& w) { sim::demo::unplug_while_open(w, true); };
  sim::ExploreResult r = sim::explore(model, exhaustive());
  // hub's put is one step; it lands before, between or after app's two steps. Whoever drops the last
  // reference frees, with no other task left to interleave: 3 executions.
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions == 3u);
  BOOST_TEST(r.failing_executions == 0u);
  BOOST_TEST(r.failures.empty());
  BOOST_TEST(!r.first_failure.has_value());
}

BOOST_AUTO_TEST_CASE(inline_model_is_found_with_both_sites_and_tasks) {
  sim::ExploreResult r = sim::explore(reader_remover_model, exhaustive());
  BOOST_TEST(r.executions == 6u);
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 3u);
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  const sim::Report& rep = r.failures[0].report;
  BOOST_TEST(rep.kind == sim::bug::kUseAfterFree);
  BOOST_TEST(rep.accessed_by->task == "reader/0");
  BOOST_TEST(rep.freed_by->task == "remover/1");
  BOOST_TEST(sim::site_function(*rep.accessed_by->site) == "device_reader");
  BOOST_TEST(sim::site_function(*rep.freed_by->site) == "device_remover");
  BOOST_TEST(sim::site_function(*rep.allocated_by->site) == "reader_remover_model");
  BOOST_TEST(rep.accessed_by->site->line() == g_read_line);
  BOOST_TEST(rep.freed_by->site->line() == g_free_line);
  BOOST_TEST(rep.allocated_by->site->line() == g_alloc_line);
  BOOST_TEST(sim::site_location(*rep.accessed_by->site) == "tests/sim/test_memory.cpp:" + std::to_string(g_read_line));
  BOOST_TEST(rep.access->type == "(anonymous namespace)::Device");
  BOOST_TEST(rep.access->size == sizeof(int));
  BOOST_TEST(rep.access->offset == 0u);
  BOOST_TEST(rep.signature() == r.failures[0].signature);
  BOOST_TEST(r.failures[0].signature == "use-after-free|tests/sim/test_memory.cpp:" + std::to_string(g_read_line) +
                                            "|tests/sim/test_memory.cpp:" + std::to_string(g_free_line));
}

BOOST_AUTO_TEST_CASE(a_write_after_free_is_a_write) {
  sim::Execution e = run_single([] {
    sim::KPtr<Device> dev = sim::kmalloc(Device{});
    sim::kfree(dev);
    dev.store(&Device::users, 3);
  });
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kUseAfterFree);
  BOOST_TEST(e.reports[0].access->write);
  BOOST_TEST(e.reports[0].access->offset == offsetof(Device, users));
  BOOST_TEST(e.reports[0].freed_by->task == "solo/0");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(misuse)

BOOST_AUTO_TEST_CASE(double_free_names_both_frees) {
  unsigned first = 0, second = 0;
  sim::Execution e = run_single([&] {
    sim::KPtr<Device> dev = sim::kmalloc(Device{});
    first = __LINE__ + 1;
    sim::kfree(dev);
    second = __LINE__ + 1;
    sim::kfree(dev);
  });
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  const sim::Report& r = e.reports[0];
  BOOST_TEST(r.kind == sim::bug::kDoubleFree);
  BOOST_TEST(r.accessed_by->site->line() == second);
  BOOST_TEST(r.freed_by->site->line() == first);
  BOOST_TEST(r.freed_by->task == "solo/0");
  BOOST_TEST(r.allocated_by->task == "solo/0");
}

BOOST_AUTO_TEST_CASE(freeing_an_interior_pointer_is_an_invalid_free) {
  sim::Execution e = run_single([] {
    sim::KPtr<Device> dev = sim::kmalloc(Device{});
    sim::kfree_raw(&dev.unchecked()->users);
  });
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  const sim::Report& r = e.reports[0];
  BOOST_TEST(r.kind == sim::bug::kInvalidFree);
  BOOST_TEST_REQUIRE(r.access.has_value());
  BOOST_TEST(r.access->offset == offsetof(Device, users));
  BOOST_TEST(r.access->object_size == sizeof(Device));
  BOOST_TEST(r.allocated_by.has_value());
  BOOST_TEST(!r.freed_by.has_value());
}

BOOST_AUTO_TEST_CASE(freeing_a_stack_address_is_an_invalid_free) {
  sim::Execution e = run_single([] {
    int on_stack = 0;
    sim::kfree_raw(&on_stack);
  });
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kInvalidFree);
  BOOST_TEST(e.reports[0].accessed_by->task == "solo/0");
  BOOST_TEST(!e.reports[0].allocated_by.has_value());
  BOOST_TEST_REQUIRE(e.reports[0].details.size() == 1u);
  BOOST_TEST(e.reports[0].details[0].find("not returned by kmalloc") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(kfree_of_null_is_a_no_op) {
  sim::Execution e = run_single([] {
    sim::kfree(sim::KPtr<Device>());
    sim::kfree_raw(nullptr);
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(a_leak_is_reported_with_its_allocation_site) {
  unsigned line = 0;
  sim::Execution e = run_single([&] {
    line = __LINE__ + 1;
    sim::KPtr<Device> dev = sim::kmalloc(Device{});
    sim::KPtr<Device> kept = sim::kmalloc(Device{});
    sim::kmemleak_not_leak(kept);
    static_cast<void>(dev);
  });
  // A leak is not fatal, but it is a finding: the execution does not count as clean.
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  const sim::Report& r = e.reports[0];
  BOOST_TEST(r.kind == sim::bug::kLeak);
  BOOST_TEST(!r.fatal);
  BOOST_TEST_REQUIRE(r.allocated_by.has_value());
  BOOST_TEST(r.allocated_by->task == "solo/0");
  BOOST_TEST(r.allocated_by->site->line() == line);
  BOOST_TEST(sim::site_location(*r.allocated_by->site) == "tests/sim/test_memory.cpp:" + std::to_string(line));
  BOOST_TEST(r.access->object_size == sizeof(Device));
  BOOST_TEST(r.access->object == 0xffff888100000000ULL);
  const std::string text = sim::render_text(r);
  BOOST_TEST(text.find("unreferenced object 0xffff888100000000 (size 8):") != std::string::npos);
  BOOST_TEST(text.find("comm \"solo/0\"") != std::string::npos);
  BOOST_TEST(text.find("test_memory.cpp:" + std::to_string(line)) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(leak_detection_can_be_turned_off) {
  sim::WorldOptions o;
  o.detect_leaks = false;
  sim::Execution e = run_single([] { static_cast<void>(sim::kmalloc(Device{})); }, o);
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(reading_past_the_object_is_out_of_bounds) {
  struct Big {
    Device head;
    long tail = 0;
  };
  sim::Execution e = run_single([] {
    sim::KPtr<Device> small = sim::kmalloc(Device{});
    // The C bug: a pointer cast to a larger type than was allocated.
    sim::KPtr<Big> wrong(reinterpret_cast<Big*>(small.unchecked()), small.id());
    static_cast<void>(wrong.load(&Big::tail));
    sim::kfree(small);
  });
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kOutOfBounds);
  BOOST_TEST(e.reports[0].access->offset == offsetof(Big, tail));
  BOOST_TEST(e.reports[0].access->size == sizeof(long));
}

BOOST_AUTO_TEST_CASE(a_null_dereference_kills_only_the_task) {
  bool after = false;
  sim::Execution e = run_single([&] {
    sim::KPtr<Device> none;
    static_cast<void>(none.load(&Device::id));
    after = true;  // an oops: never reached
  });
  BOOST_TEST(!after);
  BOOST_TEST(e.outcome == sim::Outcome::Stopped);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "null-ptr-deref");
}

BOOST_AUTO_TEST_CASE(freed_objects_stay_intact_in_quarantine) {
  // The value a use-after-free reads is the one the object held at the free: never reused storage.
  int seen = 0;
  sim::WorldOptions o;
  o.stop_on_first_bug = false;
  sim::Execution e = run_single(
      [&] {
        sim::KPtr<Device> old = sim::kmalloc(Device{});
        old.store(&Device::id, 1234);
        sim::kfree(old);
        sim::KPtr<Device> fresh = sim::kmalloc(Device{});
        fresh.store(&Device::id, 99);
        seen = old.load(&Device::id);
        sim::kfree(fresh);
      },
      o);
  BOOST_TEST(seen == 1234);
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == sim::bug::kUseAfterFree);
  // Deterministic simulated addresses, with a redzone between objects.
  BOOST_TEST(e.reports[0].access->object == 0xffff888100000000ULL);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(fail_nth_fails_exactly_the_nth_failable_allocation) {
  for (std::uint64_t n = 1; n <= 3; ++n) {
    sim::WorldOptions o;
    o.fail_nth = n;
    std::vector<bool> got;
    sim::Execution e = sim::run_once(
        [&](sim::World& w) {
          w.spawn("t", [&] {
            for (int i = 0; i < 3; ++i) {
              sim::KPtr<int> p = sim::kzalloc<int>();
              got.push_back(static_cast<bool>(p));
              if (p) sim::kfree(p);
            }
            BOOST_TEST(sim::world().failable_allocations() == 3u);
          });
        },
        o);
    std::vector<bool> expected{true, true, true};
    expected[n - 1] = false;
    BOOST_TEST(got == expected, boost::test_tools::per_element());
    BOOST_TEST(e.reports.empty());
  }
}
