// Devices and the driver core: two lifetimes (refcount vs registration), parents, binding, sysfs bind/unbind,
// uevents, device contexts (BRIEF §2 items 1, 7, 10).
#define BOOST_TEST_MODULE bus_device
#include <boost/test/unit_test.hpp>

#include <set>

#include "bus/devm.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "core/arc.hpp"
#include "core/aref.hpp"
#include "core/compiler.hpp"
#include "sim/kmalloc.hpp"
#include "tests/bus/bus_test_support.hpp"

using namespace devsim;
using namespace devsim::bus;
using bus::test::expect;

namespace {
int probe_ok(CoreContext&) {
  return 0;
}
DriverOps demo_driver() {
  return DriverOps{"demo", "platform", {}, probe_ok, {}};
}
}  // namespace

BOOST_AUTO_TEST_CASE(memory_is_freed_at_the_last_put_not_at_unregister) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      Driver* drv = platform_driver_register(demo_driver());
      Device* dev = platform_device_register("demo");
      expect(dev->bound() && dev->driver() == drv, "bound at registration");
      Device* held = get_device(dev);  // someone stores the pointer, with a reference
      platform_device_unregister(dev);
      const sim::Allocation& a = sim::world().memory().record(held->allocation());
      expect(!a.freed, "alive after unregister: a reference is held");
      expect(held->state() == DeviceState::Dead && !held->bound() && held->driver() == nullptr,
             "unbound and dead while still referenced");
      put_device(held);
      expect(a.freed, "freed at the last put");
    });
  });
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
}

BOOST_AUTO_TEST_CASE(a_parent_outlives_its_children) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      Device* parent = Device::create("hub", &platform_bus(), nullptr);
      Device* child = Device::create("port1", &platform_bus(), parent);
      expect(parent->refcount() == 2, "the child holds its parent");
      expect(child->devpath() == "/sys/devices/platform/hub/port1", "child path below the parent");
      sim::AllocId p = parent->allocation();
      put_device(parent);  // the creator lets go of the parent first
      expect(!sim::world().memory().record(p).freed, "parent alive while its child is");
      put_device(child);
      expect(sim::world().memory().record(p).freed, "parent freed with its last child");
    });
  });
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
}

// R11 in miniature: a pointer stored without a reference is a use-after-free once the device is released; the
// same pointer held through ARef<Device> is safe in every schedule.
namespace {
void stored_pointer_model(sim::World& w, bool with_reference) {
  w.spawn("setup", [with_reference](sim::World& w) {
    Device* dev = platform_device_register("demo");
    core::ARef<Device> ref(*dev);
    Device* raw = dev;
    w.spawn("user", [raw, ref = with_reference ? std::move(ref) : core::ARef<Device>()]() mutable {
      sim::yield();
      static_cast<void>(raw->name());  // e.g. dev_info(dev, ...)
      ref = core::ARef<Device>();
    });
    w.spawn("unplug", [dev] { platform_device_unregister(dev); });
  });
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_stored_device_pointer_needs_a_reference) {
  sim::ExploreResult buggy =
      sim::explore([](sim::World& w) { stored_pointer_model(w, false); }, bus::test::exhaustive());
  BOOST_TEST(buggy.exhausted);
  BOOST_TEST(bus::test::found_kind(buggy, "use-after-free"));
  sim::ExploreResult fixed =
      sim::explore([](sim::World& w) { stored_pointer_model(w, true); }, bus::test::exhaustive());
  BOOST_TEST(fixed.exhausted);
  BOOST_TEST(fixed.failing_executions == 0u);
  BOOST_TEST(fixed.executions > 1u);
}

BOOST_AUTO_TEST_CASE(bind_and_unbind_through_sysfs_as_in_linux) {
  static int probes, removes;
  probes = removes = 0;
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      Driver* drv = platform_driver_register(
          DriverOps{"demo", "platform", {}, [](CoreContext&) { return ++probes, 0; }, [](CoreContext&) { ++removes; }});
      Device* dev = platform_device_register("demo0");
      dev->set_modalias("demo");
      Sysfs& fs = kernel().sysfs();
      expect(!dev->bound(), "no match before the alias is set");
      expect(fs.write("/sys/bus/platform/drivers/demo/bind", "demo0\n") == 6, "bind accepted");
      expect(dev->driver() == drv && probes == 1, "bound through sysfs");
      expect(fs.link_target("/sys/devices/platform/demo0/driver") == "/sys/bus/platform/drivers/demo", "driver link");
      expect(fs.exists("/sys/bus/platform/drivers/demo/demo0"), "device link in the driver directory");
      expect(fs.write("/sys/bus/platform/drivers/demo/bind", "demo0") == -kEBUSY, "already bound");
      expect(fs.write("/sys/bus/platform/drivers/demo/unbind", "nosuch") == -kENODEV, "unknown device");
      expect(fs.write("/sys/bus/platform/drivers/demo/unbind", "demo0") == 5, "unbind accepted");
      expect(dev->driver() == nullptr && removes == 1, "unbound through sysfs");
      expect(!fs.exists("/sys/devices/platform/demo0/driver"), "driver link gone");
      expect(fs.write("/sys/bus/platform/drivers/demo/bind", "demo0") == 5 && probes == 2, "rebind");
      platform_device_unregister(dev);
      expect(removes == 2, "unregister unbinds");
      expect(!fs.exists("/sys/devices/platform/demo0") && !fs.exists("/sys/bus/platform/devices/demo0"),
             "sysfs entries gone");
    });
  });
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
}

BOOST_AUTO_TEST_CASE(uevents_are_seen_in_order) {
  static std::vector<std::string> seen;
  seen.clear();
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        seen.clear();
        w.spawn("udev", [] {
          UeventLog& log = kernel().uevents();
          std::uint64_t after = 0;
          for (const char* action : {"add", "bind", "unbind", "remove"}) {
            Uevent ev = log.wait(after, [action](const Uevent& u) { return u.action == action; });
            expect(ev.seqnum > after, "later than the previous one");
            after = ev.seqnum;
            seen.push_back(ev.action + " " + ev.devpath);
          }
        });
        w.spawn("hotplug", [] {
          platform_driver_register(demo_driver());
          Device* dev = platform_device_register("demo");
          platform_device_unregister(dev);
        });
      },
      bus::test::exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u);
  BOOST_TEST(seen == (std::vector<std::string>{"add /devices/platform/demo", "bind /devices/platform/demo",
                                               "unbind /devices/platform/demo", "remove /devices/platform/demo"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(managed_allocation_on_an_unbound_device_is_a_context_misuse) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      Device* dev = platform_device_register("lonely");  // no driver
      sim::KPtr<int> p = devm_kzalloc<int>(*dev);
      expect(!p, "refused");
      platform_device_unregister(dev);
    });
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "context-misuse");
  BOOST_TEST(e.reports[0].headline == "context-misuse: lonely is not bound to a driver");
}

BOOST_AUTO_TEST_CASE(owned_driver_data_is_dropped_after_remove_unless_shared) {
  struct State {
    int value = 5;
  };
  static std::optional<core::Arc<State>> kept;
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      platform_driver_register(DriverOps{
          "owned",
          "platform",
          {},
          [](CoreContext& ctx) {
            core::Arc<State> s = core::Arc<State>::make(State{});
            kept = s.clone();  // an open file would hold this
            ctx->set_drvdata_owned(std::move(s));
            return 0;
          },
          [](CoreContext& ctx) { expect(ctx->drvdata_borrow<core::Arc<State>>()->value == 5, "borrowed in remove"); }});
      Device* dev = platform_device_register("owned");
      expect(kept->refcount() == 2, "device and holder");
      platform_device_unregister(dev);
      expect(kept->refcount() == 1, "the device's reference went with the binding");
      kept.reset();
    });
  });
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));  // and no leak: the holder dropped the last one
}

BOOST_AUTO_TEST_CASE(device_attributes_show_and_store_until_the_device_goes) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      Device* dev = platform_device_register("attr");
      static int level;
      level = 3;
      expect(device_create_file(
                 *dev, "level", [](Device&) { return std::to_string(level) + "\n"; },
                 [](Device&, const std::string& text) {
                   level = std::stoi(text);
                   return static_cast<int>(text.size());
                 }),
             "created");
      Sysfs& fs = kernel().sysfs();
      expect(fs.read("/sys/devices/platform/attr/level").text == "3\n", "show");
      expect(fs.write("/sys/devices/platform/attr/level", "7") == 1 && level == 7, "store");
      expect(fs.read("/sys/bus/platform/devices/attr/level").text == "7\n", "through the bus link");
      platform_device_unregister(dev);
      expect(fs.read("/sys/devices/platform/attr/level").error == -kENOENT, "gone with the device");
    });
  });
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
}

namespace {
// What the store and the removal tell each other, in simulated memory: marked accesses there are what partial-order
// reduction sees, so it must try the removal at every point of the store.
struct Flags {
  int in_store = 0;
  int removing = 0;
};
int g_overlaps = 0;             // per exploration: executions where a removal started during a store's callback
std::set<int> g_write_results;  // per exploration: what a sysfs write returned

void slow_store_model(sim::World& w) {
  w.spawn("setup", [](sim::World& w) {
    sim::KPtr<Flags> flags = sim::kzalloc<Flags>();
    sim::kmemleak_not_leak(flags);
    Flags* f = flags.unchecked();  // LIFETIME: never freed (not a leak): it outlives every task
    Device* dev = platform_device_register("attr");
    expect(device_create_file(*dev, "slow", {},
                              [f](Device&, const std::string& text) {
                                core::write_once(f->in_store, 1);
                                sim::world().yield(sim::EventKind::Yield, nullptr);  // the store sleeps: others run
                                g_overlaps += core::read_once(f->removing);
                                core::write_once(f->in_store, 0);
                                return static_cast<int>(text.size());
                              }),
           "created");
    w.spawn("writer", [] {
      const int r = kernel().sysfs().write("/sys/devices/platform/attr/slow", "1");
      expect(r == 1 || r == -kENOENT || r == -kENODEV, "the write succeeds or finds the node gone or going");
    });
    w.spawn("hub", [dev, f] {
      core::write_once(f->removing, 1);
      platform_device_unregister(dev);
      expect(core::read_once(f->in_store) == 0, "the removal returned while a store was still in its callback");
    });
  });
}
}  // namespace

// fs/kernfs/dir.c __kernfs_remove() deactivates each node and kernfs_drain() waits until every active reference is
// dropped; fs/kernfs/file.c kernfs_fop_write_iter() holds one (kernfs_get_active) around the attribute's store, and
// a node already deactivated refuses it (-ENODEV). Explored with and without partial-order reduction: each must
// reach a removal that waits for a store in flight, and none a removal that returns during one.
BOOST_AUTO_TEST_CASE(removing_a_device_waits_for_its_attribute_callbacks_in_flight) {
  for (const char* reduction : {"none", "dpor"}) {
    BOOST_TEST_CONTEXT(reduction) {
      sim::ExploreOptions o = bus::test::exhaustive(2);
      BOOST_REQUIRE(sim::parse_reduction(reduction, &o.strategy));
      g_overlaps = 0;
      sim::ExploreResult r = sim::explore(slow_store_model, o);
      BOOST_TEST(r.exhausted);
      BOOST_TEST(r.failing_executions == 0u,
                 (r.failures.empty() ? std::string() : sim::render_text(r.failures.front().report)));
      BOOST_TEST(g_overlaps > 0, "no schedule had the removal start during the store");
    }
  }
}

// A write to an attribute against the removal of its device, and nothing else shared: what the write returns
// depends only on the sysfs tree, which partial-order reduction must see as shared (a write looks a node up, a
// removal deletes it), or it would try one order only. The tree is part of the per-world Kernel, and every use of
// it is a write to the whole of it for the reduction (sim::World::extension).
BOOST_AUTO_TEST_CASE(a_sysfs_write_and_the_removal_of_its_node_are_tried_in_both_orders) {
  std::set<int> results[2];
  for (int i = 0; i < 2; ++i) {
    BOOST_TEST_CONTEXT((i == 0 ? "none" : "dpor")) {
      sim::ExploreOptions o = bus::test::exhaustive(2);
      BOOST_REQUIRE(sim::parse_reduction(i == 0 ? "none" : "dpor", &o.strategy));
      g_write_results.clear();
      sim::ExploreResult r = sim::explore(
          [](sim::World& w) {
            w.spawn("setup", [](sim::World& w) {
              Device* dev = platform_device_register("attr");
              device_create_file(*dev, "level", {},
                                 [](Device&, const std::string& text) { return static_cast<int>(text.size()); });
              w.spawn("writer",
                      [] { g_write_results.insert(kernel().sysfs().write("/sys/devices/platform/attr/level", "1")); });
              w.spawn("hub", [dev] { platform_device_unregister(dev); });
            });
          },
          o);
      BOOST_TEST(r.exhausted);
      BOOST_TEST(r.failing_executions == 0u);
      results[i] = g_write_results;
    }
  }
  BOOST_TEST(results[0].count(1) == 1u, "a write before the removal");
  BOOST_TEST(results[0].count(-kENOENT) == 1u, "a write after the removal");
  BOOST_TEST((results[1] == results[0]), "partial-order reduction missed a result of the write");
}

// The tree is built on the first look from a log of what was created and removed (bus/sysfs.hpp), and anyway once the
// log is long: both ways the first look must find what eager building would have made.
BOOST_AUTO_TEST_CASE(sysfs_built_on_first_look_holds_what_was_created_and_removed) {
  for (int n : {10, 3000}) {  // below and above the log's limit
    BOOST_TEST_CONTEXT("devices: " << n) {
      Sysfs fs;
      for (int i = 0; i < n; ++i) {
        const std::string dir = "/sys/devices/d" + std::to_string(i);
        fs.create_dir(dir);
        fs.create_attr(dir + "/id", [i] { return SysfsRead{0, std::to_string(i)}; });
        fs.create_link("/sys/bus/x/devices/d" + std::to_string(i), dir);
      }
      for (int i = 1; i < n; i += 2) {
        fs.remove_tree("/sys/bus/x/devices/d" + std::to_string(i));
        fs.remove_tree("/sys/devices/d" + std::to_string(i));
      }
      fs.create_link("/sys/devices/d0/peer", "/sys/devices/d2");
      BOOST_TEST(!fs.removing("/sys/devices/d0"));
      BOOST_TEST(fs.list("/sys/devices").size() == static_cast<std::size_t>(n / 2));
      BOOST_TEST(fs.read("/sys/bus/x/devices/d0/id").text == "0");
      BOOST_TEST(fs.read("/sys/devices/d0/peer/id").text == "2");
      BOOST_TEST(fs.read("/sys/devices/d1/id").error == -kENOENT);
      BOOST_TEST(!fs.exists("/sys/bus/x/devices/d1"));
      BOOST_TEST(fs.link_target("/sys/bus/x/devices/d2") == "/sys/devices/d2");
      BOOST_TEST(fs.read("/sys/devices").error == -kEISDIR);
      // After the first look, changes go straight to the tree.
      fs.remove_tree("/sys/devices/d0");
      BOOST_TEST(fs.read("/sys/bus/x/devices/d0/id").error == -kENOENT);
      BOOST_TEST(fs.list("/sys/devices").size() == static_cast<std::size_t>(n / 2 - 1));
    }
  }
}
