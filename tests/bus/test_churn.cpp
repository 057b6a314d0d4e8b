// Plug/unplug churn: 10,000 plug-probe-open-close-unplug cycles of one device in one execution leave nothing
// behind (Greg KH's "insert and remove a USB device a few zillion times", R7's fixed side).
#define BOOST_TEST_MODULE bus_churn
#include <boost/test/unit_test.hpp>

#include "bus/cdev.hpp"
#include "bus/devm.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "tests/bus/bus_test_support.hpp"

using namespace devsim;
using namespace devsim::bus;
using bus::test::expect;

namespace {
struct Priv {
  core::Kref kref;
  Cdev* cdev = nullptr;
};
void put(sim::KPtr<Priv> p) {
  p.write().kref.put([p] { sim::kfree(p); });
}
int churn_open(Cdev& cdev, File& file) {
  sim::KPtr<Priv> p = cdev.owner_ptr<Priv>();
  p.write().kref.get();
  file.set_private(p);
  return 0;
}
int churn_release(Cdev&, File& file) {
  put(file.private_data<Priv>());
  return 0;
}
const FileOperations kFops{churn_open, nullptr, nullptr, nullptr, nullptr, nullptr, churn_release};

int churn_probe(CoreContext& ctx) {
  sim::KPtr<Priv> priv = sim::kzalloc<Priv>();
  static_cast<void>(devm_kzalloc<int>(ctx));  // some managed state too
  Cdev* cdev = cdev_alloc(&kFops);
  cdev->set_owner(priv);
  priv.write().kref.get();
  cdev->on_release = [priv] { put(priv); };
  priv.store(&Priv::cdev, cdev);
  ctx->set_drvdata(priv.unchecked());
  return cdev_add(*cdev, "churn0", &ctx.device());
}
void churn_remove(CoreContext& ctx) {
  auto* raw = static_cast<Priv*>(ctx->drvdata());
  sim::KPtr<Priv> priv(raw, sim::world().memory().find(raw));
  cdev_del(*priv.load(&Priv::cdev));
  put(priv);
}
}  // namespace

BOOST_AUTO_TEST_CASE(ten_thousand_cycles_leave_no_leak_and_no_report) {
  constexpr int kCycles = 10'000;
  static int completed;
  completed = 0;
  sim::WorldOptions o;
  o.step_budget = 10'000'000;
  sim::Execution e = sim::run_once(
      [](sim::World& w) {
        w.spawn("hotplug", [] {
          platform_driver_register(DriverOps{"churn", "platform", {}, churn_probe, churn_remove});
          for (int i = 0; i < kCycles; ++i) {
            Device* dev = platform_device_register("churn");
            OpenResult f = vfs_open("churn0");
            expect(f.file != nullptr, "opened");
            vfs_close(f.file);
            platform_device_unregister(dev);
            ++completed;
          }
        });
      },
      o);
  BOOST_TEST(completed == kCycles);
  BOOST_TEST(e.outcome == sim::Outcome::Completed);
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));  // includes kmemleak at the end
}
