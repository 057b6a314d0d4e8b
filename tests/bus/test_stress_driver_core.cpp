// The driver model on real OS threads: device registration, matching, binding through sysfs, cdevs and files, the
// drain protocol and kernfs draining, with no simulated world (bus/host_lock.hpp, sim/machine.hpp). One mock driver
// (refcounted data, a cdev of its own, the drain protocol: the fixed R1/R2 pattern) runs unchanged in both runtimes:
// explored exhaustively in the simulator, and hammered on threads here, where a use-after-free is ASan's report and
// a data race TSan's. Threads synchronise only through the API under test, atomics and latches; loops that wait do
// so for a state the API reports, never for time.
// Runs under ASan and TSan in .ci/run (ctest label "native").
#define BOOST_TEST_MODULE bus_stress_driver_core
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "sim/explorer.hpp"
#include "sim/machine.hpp"
#include "sim/native_report.hpp"
#include "tests/bus/bus_test_support.hpp"

using namespace devsim;
using namespace devsim::bus;

namespace {

// The runtime-neutral "let others run here": a scheduling point in the simulator, a yield of the CPU natively.
void pause_here() {
  if (sim::World::current() != nullptr)
    sim::yield();
  else
    std::this_thread::yield();
}

// What the driver saw, counted across threads.
struct Counters {
  std::atomic<int> probes{0};
  std::atomic<int> removes{0};
  std::atomic<int> frees{0};        // the driver data's last put
  std::atomic<int> opens{0};        // successful driver opens
  std::atomic<int> releases{0};     // release() calls
  std::atomic<int> in_driver{0};    // file operations inside the driver now
  std::atomic<int> violations{0};   // a file operation that ran after remove() drained its cdev
  std::atomic<bool> removed{true};  // remove() drained the current device's cdev
  void reset() {
    probes = removes = frees = opens = releases = in_driver = violations = 0;
    removed = true;
  }
};
Counters g;

// The fixed driver: refcounted data; the cdev holds a reference until its own release and each open file one;
// remove() disconnects and drains the cdev before it lets go (Pinchart's protocol).
struct Priv {
  core::Kref kref;
  Cdev* cdev = nullptr;
  int value = 7;
};

void priv_put(sim::KPtr<Priv> p) {
  p.write().kref.put([p] {
    ++g.frees;
    sim::kfree(p);
  });
}
int priv_open(Cdev& cdev, File& file) {
  sim::KPtr<Priv> p = cdev.owner_ptr<Priv>();
  p.write().kref.get();
  file.set_private(p);
  ++g.opens;
  return 0;
}
long priv_ioctl(File& file, unsigned, unsigned long) {
  ++g.in_driver;
  if (g.removed.load()) ++g.violations;
  pause_here();  // the call is in flight: remove() may start now, and must wait for it
  if (g.removed.load()) ++g.violations;
  long v = file.private_data<Priv>().load(&Priv::value);
  --g.in_driver;
  return v;
}
int priv_release(Cdev&, File& file) {
  ++g.releases;
  priv_put(file.private_data<Priv>());
  return 0;
}
const FileOperations kFops{priv_open, nullptr, nullptr, priv_ioctl, nullptr, nullptr, priv_release};

int probe(CoreContext& ctx) {
  sim::KPtr<Priv> priv = sim::kzalloc<Priv>();
  priv.store(&Priv::value, 7);
  Cdev* cdev = cdev_alloc(&kFops);
  cdev->set_owner(priv);
  priv.write().kref.get();  // LIFETIME: the cdev's reference, dropped at its release
  cdev->on_release = [priv] { priv_put(priv); };
  cdev_enable_drain(*cdev, -kENODEV);
  priv.store(&Priv::cdev, cdev);
  ctx->set_drvdata(priv.unchecked());
  g.removed = false;
  int r = cdev_add(*cdev, "ndemo0", &ctx.device());
  if (r == 0) ++g.probes;
  return r;
}
void remove(CoreContext& ctx) {
  sim::KPtr<Priv> priv(static_cast<Priv*>(ctx->drvdata()));
  Cdev* cdev = priv.load(&Priv::cdev);
  cdev_disconnect(*cdev);  // no new calls
  cdev_drain(*cdev);       // the calls in flight return
  if (g.in_driver.load() != 0) ++g.violations;
  g.removed = true;
  cdev_del(*cdev);
  priv_put(priv);  // the driver's reference; open files hold theirs
  ++g.removes;
}

Driver* register_driver() {
  return platform_driver_register(DriverOps{"ndemo", "platform", {}, probe, remove});
}

// One use of the node by a process: open, ioctl, close. False if the ioctl gave something no correct driver gives.
bool use_node() {
  OpenResult o = vfs_open("ndemo0");
  if (o.file == nullptr) return o.error == -kENOENT || o.error == -kENODEV || o.error == -kENXIO;
  long r = vfs_ioctl(o.file, 1, 0);
  vfs_close(o.file);
  return r == 7 || r == -kENODEV;
}

// Each case starts on a machine that has never seen a device, as each simulated execution does.
struct FreshMachine {
  FreshMachine() {
    sim::NativeMachine::begin_fresh();
    g.reset();
    reports_before = sim::native::reports();
  }
  std::uint64_t reports_before = 0;
};

}  // namespace

// The simulator's fibers are not annotated for TSan (.ci/run): under TSan only the native cases run; the main and
// ASan builds run this one too.
#if !defined(DEVSIM_TSAN_RUNTIME)
BOOST_AUTO_TEST_CASE(the_same_driver_is_clean_in_every_simulated_schedule) {
  // The simulator's half of "one driver source, two runtimes": the open file against the unplug, explored.
  std::atomic<int> bad_results{0};
  sim::ExploreResult r = sim::explore(
      [&bad_results](sim::World& w) {
        w.spawn("setup", [&bad_results](sim::World& w) {
          g.reset();
          register_driver();
          Device* dev = platform_device_register("ndemo");
          w.spawn("app", [&bad_results] {
            if (!use_node()) ++bad_results;
          });
          w.spawn("hub", [dev] { platform_device_unregister(dev); });
        });
      },
      bus::test::exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 10u);
  BOOST_TEST(r.failing_executions == 0u, (r.failures.empty() ? std::string() : sim::render_text(r.failures[0].report)));
  BOOST_TEST(bad_results.load() == 0);
  BOOST_TEST(g.violations.load() == 0);
}
#endif

BOOST_AUTO_TEST_CASE(binding_matching_sysfs_and_uevents_work_on_threads) {
  FreshMachine m;
  Driver* drv = register_driver();
  BOOST_TEST_REQUIRE(drv != nullptr);
  Device* dev = platform_device_register("ndemo");
  BOOST_TEST_REQUIRE(dev != nullptr);
  BOOST_TEST(dev->driver() == drv);
  BOOST_TEST(g.probes.load() == 1);
  BOOST_TEST(kernel().sysfs().link_target("/sys/devices/platform/ndemo/driver") == "/sys/bus/platform/drivers/ndemo");
  // Unbind and bind again through sysfs (drivers/base/bus.c unbind_store, bind_store).
  BOOST_TEST(kernel().sysfs().write("/sys/bus/platform/drivers/ndemo/unbind", "ndemo") == 5);
  BOOST_TEST(dev->driver() == nullptr);
  BOOST_TEST(g.removes.load() == 1);
  BOOST_TEST(kernel().sysfs().write("/sys/bus/platform/drivers/ndemo/bind", "ndemo\n") == 6);
  BOOST_TEST(g.probes.load() == 2);
  BOOST_TEST(use_node());
  platform_device_unregister(dev);
  BOOST_TEST(g.removes.load() == 2);
  BOOST_TEST(g.frees.load() == 2);
  BOOST_TEST(!kernel().sysfs().exists("/sys/devices/platform/ndemo"));
  std::vector<std::string> actions;
  for (const Uevent& e : kernel().uevents().events())
    actions.push_back(e.action);
  const std::vector<std::string> want{"add", "bind", "unbind", "bind", "unbind", "remove"};
  BOOST_TEST(actions == want, boost::test_tools::per_element());
  driver_unregister(drv);
  BOOST_TEST(sim::native::reports() == m.reports_before);
}

BOOST_AUTO_TEST_CASE(unplug_while_open_on_threads_never_reaches_freed_data) {
  // R1/R2 with the fixed driver: a process opens, calls and closes the node while the hub plugs and unplugs the
  // device, thousands of times. ASan fails the run on a use-after-free; the counters check the protocol.
  FreshMachine m;
  register_driver();
  constexpr int kPlugs = 1500;
  std::atomic<bool> done{false};
  std::atomic<int> bad_results{0};
  std::atomic<int> uses{0};
  std::thread app([&] {
    while (!done.load()) {
      if (!use_node()) ++bad_results;
      ++uses;
    }
  });
  std::thread app2([&] {
    while (!done.load())
      if (!use_node()) ++bad_results;
  });
  for (int i = 0; i < kPlugs; ++i) {
    Device* dev = platform_device_register("ndemo");
    BOOST_REQUIRE(dev != nullptr);
    pause_here();
    platform_device_unregister(dev);
  }
  done = true;
  app.join();
  app2.join();
  BOOST_TEST(bad_results.load() == 0);
  BOOST_TEST(g.violations.load() == 0);
  BOOST_TEST(g.probes.load() == kPlugs);
  BOOST_TEST(g.removes.load() == kPlugs);
  // Every file was closed, so every release ran and every driver data went with its last reference.
  BOOST_TEST(g.releases.load() == g.opens.load());
  BOOST_TEST(g.frees.load() == kPlugs);
  BOOST_TEST(uses.load() > 0);
  BOOST_TEST(sim::native::reports() == m.reports_before);
}

BOOST_AUTO_TEST_CASE(removal_waits_for_a_sysfs_store_in_flight) {
  // kernfs draining on threads (fs/kernfs/dir.c __kernfs_remove -> kernfs_drain; fs/kernfs/file.c
  // kernfs_fop_write_iter holds the active reference across ->store): device_del does not return while a store on
  // one of the device's attributes is still running.
  FreshMachine m;
  register_driver();
  Device* dev = platform_device_register("ndemo");
  BOOST_TEST_REQUIRE(dev != nullptr);
  std::latch in_store{1};
  std::latch release_store{1};
  std::atomic<bool> store_returned{false};
  BOOST_TEST_REQUIRE(device_create_file(*dev, "level", {}, [&](Device&, const std::string& text) {
    in_store.count_down();
    release_store.wait();
    store_returned = true;
    return static_cast<int>(text.size());
  }));
  int write_result = 0;
  std::thread writer([&] { write_result = kernel().sysfs().write("/sys/devices/platform/ndemo/level", "1"); });
  in_store.wait();
  std::atomic<bool> removed{false};
  std::thread remover([&] {
    platform_device_unregister(dev);
    removed = true;
  });
  // The removal reaches the node (which then refuses new callers) but cannot take it away while the store runs:
  // the node stays until its callers drained.
  const std::string level = "/sys/devices/platform/ndemo/level";
  while (kernel().sysfs().exists(level) && !kernel().sysfs().removing(level))
    std::this_thread::yield();
  BOOST_TEST(kernel().sysfs().exists(level));
  BOOST_TEST(!removed.load());
  BOOST_TEST(kernel().sysfs().write(level, "2") == -kENODEV);
  release_store.count_down();
  remover.join();
  writer.join();
  BOOST_TEST(removed.load());
  BOOST_TEST(store_returned.load());
  BOOST_TEST(write_result == 1);
  BOOST_TEST(!kernel().sysfs().exists("/sys/devices/platform/ndemo/level"));
  BOOST_TEST(sim::native::reports() == m.reports_before);
}

BOOST_AUTO_TEST_CASE(binds_unbinds_unplugs_and_unloads_race_without_loss) {
  // Three threads drive the driver core's walks against each other: a sysfs bind/unbind loop, the hub plugging
  // and unplugging, and the module loading and unloading (driver_register's bus walk, driver_unregister's
  // driver_detach). However they interleave, every probe is matched by one remove and every driver data is freed.
  FreshMachine m;
  constexpr int kRounds = 400;
  std::atomic<bool> done{false};
  // Boost.Test's assertions are for the main thread: the workers count what they would have failed.
  std::atomic<int> bad_binds{0};
  std::atomic<int> bad_uses{0};
  std::thread binder([&] {
    while (!done.load()) {
      const int b = kernel().sysfs().write("/sys/bus/platform/drivers/ndemo/bind", "ndemo");
      const int u = kernel().sysfs().write("/sys/bus/platform/drivers/ndemo/unbind", "ndemo");
      // Each is done, or refused because the device or the driver is not there (or busy): never anything else.
      if (!(b == 5 || b == -kENODEV || b == -kEBUSY || b == -kENOENT)) ++bad_binds;
      if (!(u == 5 || u == -kENODEV || u == -kENOENT)) ++bad_binds;
    }
  });
  std::thread loader([&] {
    for (int i = 0; i < kRounds; ++i) {
      if (Driver* d = register_driver()) driver_unregister(d);
    }
  });
  std::thread user([&] {
    while (!done.load())
      if (!use_node()) ++bad_uses;
  });
  for (int i = 0; i < kRounds; ++i) {
    if (Device* dev = platform_device_register("ndemo")) platform_device_unregister(dev);
  }
  loader.join();
  done = true;
  binder.join();
  user.join();
  BOOST_TEST(bad_binds.load() == 0);
  BOOST_TEST(bad_uses.load() == 0);
  BOOST_TEST(g.probes.load() == g.removes.load());
  BOOST_TEST(g.frees.load() == g.probes.load());
  BOOST_TEST(g.releases.load() == g.opens.load());
  BOOST_TEST(g.violations.load() == 0);
  BOOST_TEST(kernel().find_bus("platform")->devices().empty());
  BOOST_TEST(sim::native::reports() == m.reports_before);
}

BOOST_AUTO_TEST_CASE(each_native_machine_starts_empty) {
  FreshMachine first;
  register_driver();
  BOOST_TEST(kernel().find_bus("platform") != nullptr);
  const std::size_t generation = sim::NativeMachine::generation();
  sim::NativeMachine::begin_fresh();
  BOOST_TEST(sim::NativeMachine::generation() == generation + 1);
  BOOST_TEST(kernel().find_bus("platform") == nullptr);
  BOOST_TEST(register_driver() != nullptr);  // the name is free again on the new machine
}
