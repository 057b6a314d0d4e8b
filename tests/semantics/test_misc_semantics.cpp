// Misc devices as drivers/char/misc.c defines them (issue 11, items 4 and 14):
// - misc_open() looks the device up, sets file->private_data to the struct miscdevice, replaces the file's fops
//   and calls the driver's ->open, all under misc_mtx; misc_deregister() takes misc_mtx too. So an ->open that
//   takes references (kref_get on the driver data, get_device on misc.parent) is safe: remove() cannot finish
//   misc_deregister() meanwhile, and once it did no ->open runs again.
// - a misc file pins nothing of the driver: the node is the misc major's (register_chrdev in misc_init), and
//   misc.parent is held only by the class device between misc_register() (device_create) and
//   misc_deregister() (device_destroy). A driver that touches misc.parent, or data the parent owns, through
//   a file open across the unplug without its own reference is a use-after-free.
// - lockdep sees misc_mtx: a remove() that holds a driver lock across misc_deregister() while ->open takes that
//   lock is a circular dependency.
// Every test explores every schedule within 2 preemptions (sim::explore, StrategyKind::Exhaustive).
#define BOOST_TEST_MODULE semantics_misc
#include <boost/test/unit_test.hpp>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "core/kref.hpp"
#include "core/mutex.hpp"
#include "tests/bus/bus_test_support.hpp"

using namespace devsim;
using namespace devsim::bus;
using bus::test::expect;

namespace {

std::string first_failure(const sim::ExploreResult& r) {
  return r.failures.empty() ? std::string() : sim::render_text(r.failures.front().report);
}

// The driver data: the miscdevice first, so the driver gets back from file->private_data as container_of does.
// INVARIANT: freed at the last kref put: remove() holds one reference, every open file one more.
struct WdogPriv {
  MiscDevice misc;
  core::Kref ref;
  core::Mutex lock{"wdog_priv"};
  int reads = 0;
};

enum class Variant {
  PinsParent,             // correct: ->open takes the driver data and the parent, ->release drops them
  TouchesParentUnpinned,  // item 14's bug: read() uses misc.parent without a reference
  LockAcrossDeregister,   // remove() holds priv->lock across misc_deregister(); ->open takes priv->lock
};
Variant g_variant = Variant::PinsParent;
bool g_private_data_was_the_misc = false;

sim::KPtr<WdogPriv> priv_of(File& file) {
  // container_of(file->private_data, struct wdog_priv, misc): the MiscDevice is the first member.
  sim::KPtr<MiscDevice> misc = file.private_data<MiscDevice>();
  return sim::KPtr<WdogPriv>(reinterpret_cast<WdogPriv*>(misc.unchecked()), misc.id());
}

void free_priv(sim::KPtr<WdogPriv> priv) {
  priv.unchecked()->ref.put([priv] { sim::kfree(priv); });
}

int wdog_open(Cdev&, File& file) {
  sim::KPtr<WdogPriv> priv = priv_of(file);
  g_private_data_was_the_misc |= priv.unchecked() != nullptr;
  if (g_variant == Variant::LockAcrossDeregister) {
    core::MutexGuard guard = priv.unchecked()->lock.guard();
    priv.store(&WdogPriv::reads, 0);
  }
  // LIFETIME: under misc_mtx and registered: remove() has not dropped its reference yet.
  priv.unchecked()->ref.get();
  if (g_variant == Variant::PinsParent) get_device(priv.read().misc.parent);
  return 0;
}

long wdog_read(File& file, std::size_t) {
  sim::KPtr<WdogPriv> priv = priv_of(file);  // LIFETIME: the file holds a reference (taken in open)
  priv.store(&WdogPriv::reads, priv.load(&WdogPriv::reads) + 1);
  if (g_variant != Variant::LockAcrossDeregister) {
    Device* parent = priv.read().misc.parent;
    return static_cast<long>(parent->name().size());  // a checked read of the parent device
  }
  return 0;
}

int wdog_release(Cdev&, File& file) {
  sim::KPtr<WdogPriv> priv = priv_of(file);
  if (g_variant == Variant::PinsParent) put_device(priv.read().misc.parent);
  free_priv(priv);
  return 0;
}

const FileOperations kWdogFops{wdog_open, wdog_read, nullptr, nullptr, nullptr, nullptr, wdog_release};

int wdog_probe(CoreContext& ctx) {
  sim::KPtr<WdogPriv> priv = sim::kzalloc<WdogPriv>();
  WdogPriv& p = priv.write();
  p.misc.name = "watchdog";
  p.misc.fops = &kWdogFops;
  p.misc.parent = &ctx.device();
  int r = misc_register(p.misc);
  if (r != 0) {
    free_priv(priv);
    return r;
  }
  ctx->set_drvdata(priv.unchecked());
  return 0;
}

void wdog_remove(CoreContext& ctx) {
  auto* raw = static_cast<WdogPriv*>(ctx->drvdata());
  sim::KPtr<WdogPriv> priv(raw, sim::world().memory().find(raw));  // LIFETIME: remove() holds a reference
  if (g_variant == Variant::LockAcrossDeregister) {
    core::MutexGuard guard = raw->lock.guard();
    misc_deregister(raw->misc);
  } else {
    misc_deregister(raw->misc);
  }
  free_priv(priv);
}

void wdog_model(sim::World& w) {
  w.spawn("setup", [](sim::World& w) {
    platform_driver_register(DriverOps{"wdog", "platform", {}, wdog_probe, wdog_remove});
    Device* dev = platform_device_register("wdog");
    w.spawn("app", [] {
      OpenResult o = vfs_open("watchdog");
      if (o.file == nullptr) {
        expect(o.error == -kENOENT || o.error == -kENODEV, "an open after the unplug fails cleanly");
        return;
      }
      sim::yield();
      vfs_read(o.file, 1);
      vfs_close(o.file);
    });
    w.spawn("hub", [dev] { platform_device_unregister(dev); });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_open_that_pins_the_parent_is_clean_against_unplug) {
  g_variant = Variant::PinsParent;
  g_private_data_was_the_misc = false;
  sim::ExploreResult r = sim::explore(wdog_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 10u);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
  BOOST_TEST(g_private_data_was_the_misc);  // misc_open set file->private_data to the miscdevice
}

BOOST_AUTO_TEST_CASE(a_misc_file_does_not_pin_the_parent) {
  // Item 14: the file holds the driver data but not misc.parent; after the unplug the parent is gone.
  g_variant = Variant::TouchesParentUnpinned;
  sim::ExploreResult r = sim::explore(wdog_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  bool parent_uaf = false;
  for (const sim::Failure& f : r.failures)
    parent_uaf |= f.report.kind == "use-after-free" && f.report.access &&
                  f.report.access->type.find("Device") != std::string::npos;
  BOOST_TEST(parent_uaf, first_failure(r));
}

BOOST_AUTO_TEST_CASE(misc_deregister_takes_misc_mtx_which_open_holds) {
  // remove(): priv->lock -> misc_mtx; open: misc_mtx -> priv->lock.
  g_variant = Variant::LockAcrossDeregister;
  sim::ExploreResult r = sim::explore(wdog_model, bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(bus::test::found_kind(r, "lock-order-inversion"), first_failure(r));
}

BOOST_AUTO_TEST_CASE(an_open_racing_with_deregister_either_fails_or_completes_first) {
  // Directly: once misc_deregister() returned, the driver's ->open never runs again.
  static bool opened_after_deregister;
  opened_after_deregister = false;
  static bool deregistered;
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        deregistered = false;
        w.spawn("t", [](sim::World& w) {
          static const FileOperations kFops = [] {
            FileOperations ops;
            ops.open = [](Cdev&, File&) {
              opened_after_deregister |= deregistered;
              sim::yield();
              return 0;
            };
            return ops;
          }();
          static MiscDevice misc;  // a host object: its lifetime is not what this test is about
          misc = MiscDevice{"ctl", &kFops, nullptr, nullptr};
          misc_register(misc);
          w.spawn("app", [] {
            OpenResult o = vfs_open("ctl");
            if (o.file != nullptr) vfs_close(o.file);
          });
          misc_deregister(misc);
          deregistered = true;
        });
      },
      bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, first_failure(r));
  BOOST_TEST(!opened_after_deregister);
}
