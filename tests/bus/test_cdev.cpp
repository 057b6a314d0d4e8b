// cdevs and files: fops keep coming after cdev_del, release always runs (BRIEF §2 item 2); the drain protocol
// and its post-removal results (item 4); ures groups; the unplug-while-open race (R1) and the in-flight call
// race (R2) explored.
#define BOOST_TEST_MODULE bus_cdev
#include <boost/test/unit_test.hpp>

#include "bus/cdev.hpp"
#include "bus/devm.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "core/mutex.hpp"
#include "tests/bus/bus_test_support.hpp"

using namespace devsim;
using namespace devsim::bus;
using bus::test::expect;

namespace {

struct Counters {
  int ioctls = 0;
  int releases = 0;
  bool removed = false;  // set by remove() once it may free things
};
Counters g;

// ---- the C-style driver: devm_kzalloc'd data with the cdev embedded (R1's bug) ----------------------------------
struct LegacyPriv {
  Cdev cdev;
  int value = 0;
};

int legacy_open(Cdev& cdev, File& file) {
  file.set_private(cdev.owner_ptr<LegacyPriv>());
  return 0;
}
long legacy_ioctl(File& file, unsigned, unsigned long) {
  ++g.ioctls;
  return file.private_data<LegacyPriv>().load(&LegacyPriv::value);
}
int legacy_release(Cdev&, File&) {
  ++g.releases;
  return 0;
}
const FileOperations kLegacyFops{legacy_open, nullptr, nullptr, legacy_ioctl, nullptr, nullptr, legacy_release};

int legacy_probe(CoreContext& ctx) {
  sim::KPtr<LegacyPriv> priv = devm_kzalloc<LegacyPriv>(ctx);
  if (!priv) return -kENOMEM;
  LegacyPriv* p = priv.unchecked();  // LIFETIME: just allocated, bound: alive for the rest of probe
  cdev_init(p->cdev, &kLegacyFops);
  p->cdev.set_owner(priv);
  ctx->set_drvdata(p);
  return cdev_add(p->cdev, "demo0", &ctx.device());
}
void legacy_remove(CoreContext& ctx) {
  cdev_del(static_cast<LegacyPriv*>(ctx->drvdata())->cdev);
}

// ---- the fixed driver: refcounted data, a cdev of its own, the drain protocol --------------------------------------
struct FixedPriv {
  core::Kref kref;
  Cdev* cdev = nullptr;
  bool gone = false;
  int value = 7;
};
int g_drain_error = 0;  // 0: no drain (plain refcounting), else the post-removal errno

void fixed_put(sim::KPtr<FixedPriv> p) {
  p.write().kref.put([p] { sim::kfree(p); });
}
int fixed_open(Cdev& cdev, File& file) {
  sim::KPtr<FixedPriv> p = cdev.owner_ptr<FixedPriv>();
  p.write().kref.get();
  file.set_private(p);
  return 0;
}
long fixed_ioctl(File& file, unsigned, unsigned long) {
  ++g.ioctls;
  sim::KPtr<FixedPriv> p = file.private_data<FixedPriv>();
  if (p.load_once(&FixedPriv::gone)) return -kENODEV;  // READ_ONCE: remove() sets it concurrently
  sim::yield();                                        // the call is in flight: remove() may run now
  expect(!g.removed, "no driver call runs after remove() drained");
  return p.load(&FixedPriv::value);
}
int fixed_release(Cdev&, File& file) {
  ++g.releases;
  fixed_put(file.private_data<FixedPriv>());
  return 0;
}
const FileOperations kFixedFops{fixed_open, nullptr, nullptr, fixed_ioctl, nullptr, nullptr, fixed_release};

int fixed_probe(CoreContext& ctx) {
  sim::KPtr<FixedPriv> priv = sim::kzalloc<FixedPriv>();
  priv.store(&FixedPriv::value, 7);
  Cdev* cdev = cdev_alloc(&kFixedFops);
  cdev->set_owner(priv);
  // LIFETIME: the cdev holds the data until its own release, so an open that found the cdev while remove()
  // runs still finds the data alive (without this, the open's kref_get races the last put: the simulator
  // finds "addition on 0").
  priv.write().kref.get();
  cdev->on_release = [priv] { fixed_put(priv); };
  if (g_drain_error != 0) cdev_enable_drain(*cdev, g_drain_error);
  priv.store(&FixedPriv::cdev, cdev);
  ctx->set_drvdata(priv.unchecked());
  return cdev_add(*cdev, "demo0", &ctx.device());
}
void fixed_remove(CoreContext& ctx) {
  auto* raw = static_cast<FixedPriv*>(ctx->drvdata());
  sim::KPtr<FixedPriv> priv(raw, sim::world().memory().find(raw));
  Cdev* cdev = priv.load(&FixedPriv::cdev);
  if (g_drain_error != 0) {
    cdev_disconnect(*cdev);  // 1. no new calls
    cdev_drain(*cdev);       // 3. wait for the calls in flight (2., cancelling I/O, has nothing to do here)
  }
  priv.store_once(&FixedPriv::gone, true);  // WRITE_ONCE: ioctls in flight read it
  g.removed = g_drain_error != 0;
  cdev_del(*cdev);  // 4. unregister
  fixed_put(priv);  // the driver's reference; open files hold theirs
}

void setup(bool fixed) {
  g = Counters{};
  platform_driver_register(fixed ? DriverOps{"demo", "platform", {}, fixed_probe, fixed_remove}
                                 : DriverOps{"demo", "platform", {}, legacy_probe, legacy_remove});
}

// R1/R2: one task uses the node, the hub unplugs the device.
void unplug_while_open(sim::World& w, bool fixed) {
  w.spawn("setup", [fixed](sim::World& w) {
    setup(fixed);
    Device* dev = platform_device_register("demo");
    w.spawn("app", [] {
      OpenResult o = vfs_open("demo0");
      if (o.file == nullptr) return;
      long r = vfs_ioctl(o.file, 1, 0);
      expect(r == 7 || r == 0 || r == -kENODEV || r == g_drain_error, "ioctl: a value or the post-removal error");
      vfs_close(o.file);
    });
    w.spawn("hub", [dev] { platform_device_unregister(dev); });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(r1_devm_data_behind_an_open_file_is_a_use_after_free) {
  g_drain_error = 0;
  sim::ExploreResult r = sim::explore([](sim::World& w) { unplug_while_open(w, false); }, bus::test::exhaustive());
  BOOST_TEST(r.exhausted);
  // Two distinct bugs: the driver's ioctl reading freed data, and the kernel's own fput touching the cdev that
  // was embedded in it (Greg KH's two lifecycles).
  const sim::Report* in_ioctl = nullptr;
  for (const sim::Failure& f : r.failures)
    if (f.report.headline == "use-after-free in legacy_ioctl") in_ioctl = &f.report;
  BOOST_TEST_REQUIRE(in_ioctl != nullptr);
  BOOST_TEST(in_ioctl->freed_by->task.starts_with("hub/"));
  BOOST_TEST(in_ioctl->allocated_by->site->function_name() ==
             std::string_view(r.failures[0].report.allocated_by->site->function_name()));
  for (const sim::Failure& f : r.failures)
    BOOST_TEST(f.report.kind == "use-after-free", bus::test::describe({f.report}));
}

BOOST_AUTO_TEST_CASE(r1_refcounted_data_is_clean_in_every_schedule) {
  g_drain_error = 0;
  sim::ExploreResult r = sim::explore([](sim::World& w) { unplug_while_open(w, true); }, bus::test::exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 10u);
  BOOST_TEST(r.failing_executions == 0u, (r.failures.empty() ? std::string() : sim::render_text(r.failures[0].report)));
}

BOOST_AUTO_TEST_CASE(fops_keep_coming_after_cdev_del_and_release_always_runs) {
  g_drain_error = 0;
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      setup(true);
      Device* dev = platform_device_register("demo");
      OpenResult o = vfs_open("demo0");
      platform_device_unregister(dev);
      expect(vfs_open("demo0").error == -kENOENT, "no new opens after cdev_del");
      expect(vfs_ioctl(o.file, 1, 0) == -kENODEV, "the driver answers, and says the device is gone");
      expect(g.ioctls == 1, "the fop was called after cdev_del");
      expect(g.releases == 0, "not released while open");
      vfs_close(o.file);
      expect(g.releases == 1, "release ran at close");
    });
  });
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));  // no leak: the data went at release
}

BOOST_AUTO_TEST_CASE(drained_cdevs_give_the_post_removal_results) {
  for (int error : {kENODEV, kEIO, kENXIO}) {
    BOOST_TEST_CONTEXT("post-removal error " << errno_name(error)) {
      g_drain_error = -error;
      sim::Execution e = sim::run_once([](sim::World& w) {
        w.spawn("t", [] {
          setup(true);
          Device* dev = platform_device_register("demo");
          OpenResult o = vfs_open("demo0");
          expect(vfs_ioctl(o.file, 1, 0) == 7, "works while bound");
          platform_device_unregister(dev);
          expect(vfs_ioctl(o.file, 1, 0) == g_drain_error, "ioctl refused");
          expect(vfs_read(o.file, 16) == g_drain_error, "read refused");
          expect(vfs_write(o.file, 16) == g_drain_error, "write refused");
          expect(vfs_mmap(o.file) == g_drain_error, "mmap refused");
          expect(vfs_poll(o.file) == (kPollHup | kPollErr), "poll: HUP|ERR");
          expect(g.ioctls == 1, "the driver saw none of the calls after disconnect");
          vfs_close(o.file);
          expect(g.releases == 1, "release still ran");
        });
      });
      BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
    }
  }
}

BOOST_AUTO_TEST_CASE(r2_remove_drains_calls_in_flight_in_every_schedule) {
  g_drain_error = -kENODEV;
  sim::ExploreResult r = sim::explore([](sim::World& w) { unplug_while_open(w, true); }, bus::test::exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, (r.failures.empty() ? std::string() : sim::render_text(r.failures[0].report)));
}

BOOST_AUTO_TEST_CASE(a_ures_group_frees_shared_data_at_the_last_release) {
  static int freed;
  freed = 0;
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        freed = 0;
        w.spawn("setup", [](sim::World& w) {
          static const FileOperations kNone{};
          sim::KPtr<int> shared = sim::kzalloc<int>();
          UresGroup* group = UresGroup::create([shared] {
            ++freed;
            sim::kfree(shared);
          });
          Cdev* a = cdev_alloc(&kNone);
          Cdev* b = cdev_alloc(&kNone);
          cdev_set_group(*a, group);
          cdev_set_group(*b, group);
          cdev_add(*a, "ctl");
          cdev_add(*b, "data");
          for (const char* node : {"ctl", "data"}) {
            w.spawn(node, [node, shared] {
              OpenResult o = vfs_open(node);
              if (o.file == nullptr) return;
              sim::yield();
              static_cast<void>(shared.read());  // the shared data is alive while a file of the group is open
              vfs_close(o.file);
            });
          }
          w.spawn("unbind", [a, b, group] {
            cdev_del(*a);
            cdev_del(*b);
            group->put();  // the driver's reference
          });
        });
      },
      bus::test::exhaustive(1));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, (r.failures.empty() ? std::string() : sim::render_text(r.failures[0].report)));
  BOOST_TEST(freed == 1);
}

BOOST_AUTO_TEST_CASE(a_misc_device_opens_until_deregistered_and_its_files_outlive_it) {
  static int releases;
  releases = 0;
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      static const FileOperations kMiscFops{
          nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, [](Cdev&, File&) { return ++releases, 0; }};
      MiscDevice misc{"watchdog", &kMiscFops, nullptr, nullptr};
      expect(misc_register(misc) == 0, "registered");
      MiscDevice twin{"watchdog", &kMiscFops, nullptr, nullptr};
      expect(misc_register(twin) == -kEEXIST, "name taken");
      OpenResult o = vfs_open("watchdog");
      misc_deregister(misc);
      expect(vfs_open("watchdog").error == -kENOENT, "no new opens");
      expect(vfs_ioctl(o.file, 1, 0) == -kENOTTY, "the open file still works (default ioctl)");
      vfs_close(o.file);
      expect(releases == 1, "released");
    });
  });
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
}

// BRIEF §2 item 8: waiting for the drain while holding a lock the call in flight needs is a deadlock. The
// simulator reports it with each task's wait and the locks it holds; draining before taking the lock is clean.
namespace {
struct LockedPriv {
  core::Mutex lock{"locked_priv"};
  Cdev* cdev = nullptr;
};
bool g_drain_under_lock = false;
LockedPriv* g_locked = nullptr;  // LIFETIME: allocated per execution, freed by remove after cdev_del
sim::KPtr<LockedPriv> g_locked_handle;

long locked_ioctl(File&, unsigned, unsigned long) {
  core::MutexGuard guard = g_locked->lock.guard();
  return 0;
}
const FileOperations kLockedFops{nullptr, nullptr, nullptr, locked_ioctl, nullptr, nullptr, nullptr};

void locked_model(sim::World& w) {
  w.spawn("setup", [](sim::World& w) {
    g_locked_handle = sim::kzalloc<LockedPriv>();
    g_locked = g_locked_handle.unchecked();
    g_locked->cdev = cdev_alloc(&kLockedFops);
    cdev_enable_drain(*g_locked->cdev, -kENODEV);
    cdev_add(*g_locked->cdev, "locked0");
    w.spawn("app", [] {
      OpenResult o = vfs_open("locked0");
      if (o.file == nullptr) return;
      vfs_ioctl(o.file, 1, 0);
      vfs_close(o.file);
    });
    w.spawn("remove", [] {
      if (g_drain_under_lock) {
        core::MutexGuard guard = g_locked->lock.guard();
        cdev_disconnect(*g_locked->cdev);
        cdev_drain(*g_locked->cdev);
      } else {
        cdev_disconnect(*g_locked->cdev);
        cdev_drain(*g_locked->cdev);
        core::MutexGuard guard = g_locked->lock.guard();
      }
      cdev_del(*g_locked->cdev);
      sim::kfree(g_locked_handle);  // drained: no call can reach it any more
    });
  });
}
}  // namespace

BOOST_AUTO_TEST_CASE(draining_under_a_lock_the_call_needs_deadlocks) {
  g_drain_under_lock = true;
  sim::ExploreResult bad = sim::explore(locked_model, bus::test::exhaustive());
  BOOST_TEST(bad.exhausted);
  BOOST_TEST_REQUIRE(bus::test::found_kind(bad, "deadlock"));
  std::string details;
  for (const sim::Failure& f : bad.failures)
    if (f.report.kind == "deadlock")
      for (const std::string& d : f.report.details)
        details += d + "\n";
  BOOST_TEST(details.find("cdev_drain(locked0)") != std::string::npos, details);
  BOOST_TEST(details.find("holding mutex locked_priv") != std::string::npos, details);

  g_drain_under_lock = false;
  sim::ExploreResult good = sim::explore(locked_model, bus::test::exhaustive());
  BOOST_TEST(good.exhausted);
  BOOST_TEST(good.failing_executions == 0u,
             (good.failures.empty() ? std::string() : sim::render_text(good.failures[0].report)));
}
