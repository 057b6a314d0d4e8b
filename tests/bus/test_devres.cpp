// devres: LIFO release after remove() on unbind, and on every failure point of a probe (BRIEF §2 item 5).
#define BOOST_TEST_MODULE bus_devres
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "bus/devm.hpp"
#include "bus/devres_resource.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "tests/bus/bus_test_support.hpp"

using namespace devsim;
using namespace devsim::bus;
using bus::test::expect;

namespace {
// What ran, in order: "remove", "release 2", … Reset by each model.
std::vector<std::string> g_log;
int g_fail_at = 0;  // the probe step that fails (1-based), 0: none

struct Priv {
  int value = 0;
};

// A probe of three steps, each taking a managed allocation and registering a managed action, failing at
// step g_fail_at as a real probe fails when its Nth resource cannot be had.
int staged_probe(CoreContext& ctx) {
  for (int step = 1; step <= 3; ++step) {
    if (step == g_fail_at) return -kENOMEM;
    sim::KPtr<Priv> p = devm_kzalloc<Priv>(ctx);
    if (!p) return -kENOMEM;
    int r = devm_add_action_or_reset(ctx, "step " + std::to_string(step),
                                     [step] { g_log.push_back("release " + std::to_string(step)); });
    if (r != 0) return r;
  }
  return 0;
}

void staged_remove(CoreContext&) {
  g_log.push_back("remove");
}

sim::Execution run_bind_unbind(int fail_at, std::uint64_t fail_nth = 0) {
  g_log.clear();
  g_fail_at = fail_at;
  sim::WorldOptions o;
  o.fail_nth = fail_nth;
  return sim::run_once(
      [](sim::World& w) {
        w.spawn("t", [] {
          platform_driver_register(DriverOps{"staged", "platform", {}, staged_probe, staged_remove});
          Device* dev = platform_device_register("staged");
          bool bound = dev->driver() != nullptr;
          expect(dev->devres().size() == (bound ? 6u : 0u), "a failed probe leaves no devres behind");
          if (bound) g_log.push_back("bound");
          platform_device_unregister(dev);
        });
      },
      o);
}
}  // namespace

BOOST_AUTO_TEST_CASE(unbind_runs_remove_then_releases_lifo) {
  sim::Execution e = run_bind_unbind(0);
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));  // no leak: every devm_kzalloc freed
  BOOST_TEST(g_log == (std::vector<std::string>{"bound", "remove", "release 3", "release 2", "release 1"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(every_probe_failure_point_unwinds_lifo_without_leaks) {
  for (int fail_at = 1; fail_at <= 3; ++fail_at) {
    BOOST_TEST_CONTEXT("probe fails at step " << fail_at) {
      sim::Execution e = run_bind_unbind(fail_at);
      BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
      std::vector<std::string> expected;
      for (int s = fail_at - 1; s >= 1; --s)
        expected.push_back("release " + std::to_string(s));
      BOOST_TEST(g_log == expected, boost::test_tools::per_element());
    }
  }
}

// fail-nth walks every allocation of the probe: each managed allocation and each devres entry can fail, and
// every one of those failure points must unwind cleanly.
BOOST_AUTO_TEST_CASE(fail_nth_walks_every_allocation_of_the_probe) {
  constexpr int kFailablePerStep = 3;  // the kzalloc, its devres entry, the action's devres entry
  for (std::uint64_t n = 1; n <= 3 * kFailablePerStep + 1; ++n) {
    BOOST_TEST_CONTEXT("allocation " << n << " fails") {
      sim::Execution e = run_bind_unbind(0, n);
      BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));  // no leak, no double free
      std::vector<std::string> expected;
      if (n > 3 * kFailablePerStep) {
        expected = {"bound", "remove", "release 3", "release 2", "release 1"};
      } else {
        const int step = static_cast<int>((n - 1) / kFailablePerStep) + 1;
        // devm_add_action_or_reset runs the action itself when its entry cannot be allocated.
        if (n % kFailablePerStep == 0) expected.push_back("release " + std::to_string(step));
        for (int s = step - 1; s >= 1; --s)
          expected.push_back("release " + std::to_string(s));
      }
      BOOST_TEST(g_log == expected, boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(groups_release_their_own_entries_lifo) {
  g_log.clear();
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      platform_driver_register(DriverOps{"grouped",
                                         "platform",
                                         {},
                                         [](CoreContext& ctx) {
                                           devm_add_action(ctx, "a", [] { g_log.push_back("a"); });
                                           auto g = devres_open_group(ctx);
                                           devm_add_action(ctx, "b", [] { g_log.push_back("b"); });
                                           devm_add_action(ctx, "c", [] { g_log.push_back("c"); });
                                           devres_close_group(ctx, g);
                                           devm_add_action(ctx, "d", [] { g_log.push_back("d"); });
                                           expect(devres_release_group(ctx, g) == 2u, "two in the group");
                                           g_log.push_back("|");
                                           return 0;
                                         },
                                         {}});
      Device* dev = platform_device_register("grouped");
      platform_device_unregister(dev);
    });
  });
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
  BOOST_TEST(g_log == (std::vector<std::string>{"c", "b", "|", "d", "a"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_action_added_during_release_is_released_too) {
  g_log.clear();
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      platform_driver_register(DriverOps{"nested",
                                         "platform",
                                         {},
                                         [](CoreContext& ctx) {
                                           Device* dev = &ctx.device();
                                           devm_add_action(ctx, "outer", [dev] {
                                             g_log.push_back("outer");
                                             dev->devres().add("late", [] { g_log.push_back("late"); }, {});
                                           });
                                           return 0;
                                         },
                                         {}});
      Device* dev = get_device(platform_device_register("nested"));
      platform_device_unregister(dev);
      expect(dev->devres().size() == 0u, "nothing left behind");
      put_device(dev);
    });
  });
  BOOST_TEST(g_log == (std::vector<std::string>{"outer", "late"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_devres_resource_is_revoked_at_unbind_for_every_holder) {
  static std::optional<Devres<int>> handle;
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        handle.reset();
        w.spawn("setup", [](sim::World& w) {
          platform_driver_register(DriverOps{"res",
                                             "platform",
                                             {},
                                             [](CoreContext& ctx) {
                                               handle = Devres<int>::create(ctx, 42);
                                               expect(handle && handle->access(ctx).read() == 42, "usable in probe");
                                               return handle ? 0 : -kENOMEM;
                                             },
                                             {}});
          Device* dev = platform_device_register("res");
          Devres<int> copy = *handle;  // e.g. kept by a work item
          handle.reset();
          w.spawn("user", [copy] {
            if (auto g = copy.try_access()) expect(g.read() == 42, "alive while the guard is held");
          });
          w.spawn("unplug", [dev, copy] {
            platform_device_unregister(dev);
            expect(!copy.try_access(), "gone for everyone after unbind");
          });
        });
      },
      bus::test::exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, (r.failures.empty() ? std::string() : sim::render_text(r.failures[0].report)));
}
