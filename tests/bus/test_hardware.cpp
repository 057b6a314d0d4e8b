// The hardware side: USB hotplug from the hub (BRIEF §2 item 10), IRQ handlers as tasks that outlive remove()
// without free_irq (item 9), MMIO access after removal and after unmap, firmware requests that hold the device.
#define BOOST_TEST_MODULE bus_hardware
#include <boost/test/unit_test.hpp>

#include "bus/devm.hpp"
#include "bus/firmware.hpp"
#include "bus/irq.hpp"
#include "bus/kernel.hpp"
#include "bus/mmio.hpp"
#include "bus/platform.hpp"
#include "bus/usb.hpp"
#include "core/irqflags.hpp"
#include "tests/bus/bus_test_support.hpp"

using namespace devsim;
using namespace devsim::bus;
using bus::test::expect;

namespace {
int g_probes = 0, g_removes = 0;
int count_probe(CoreContext&) {
  return ++g_probes, 0;
}
void count_remove(CoreContext&) {
  ++g_removes;
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_hub_plugs_and_unplugs_while_the_driver_stays_loaded) {
  g_probes = g_removes = 0;
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("hub", [] {
      Driver* drv = usb_register_driver(DriverOps{"rtl", "", {"usb:0bda:8153"}, count_probe, count_remove});
      Device* a = usb_plug("1-1", "usb:0bda:8153");
      expect(a != nullptr && a->driver() == drv, "plugged and bound");
      expect(a->devpath() == "/sys/devices/usb/usb1/1-1", "under the root hub");
      expect(usb_plug("1-1", "x") == nullptr, "port taken");
      Device* behind = usb_plug("1-1.2", "usb:0bda:8153");
      expect(behind != nullptr && behind->parent() == a, "behind the first device");
      expect(usb_plug("1-3.1", "x") == nullptr, "no parent there");
      expect(usb_unplug("1-1"), "unplugged");
      expect(g_probes == 2 && g_removes == 2, "both unbound, the one behind first");
      expect(usb_bus().find_device("1-1.2") == nullptr && usb_bus().find_device("1-1") == nullptr, "gone");
      expect(drv->registered(), "the driver stays loaded");
      expect(usb_plug("1-1", "usb:0bda:8153") != nullptr && g_probes == 3, "plug again: probed again");
      expect(!usb_unplug("4-4"), "nothing there");
      usb_unplug("1-1");
    });
  });
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
}

namespace {
// A driver whose IRQ handler reads its devm data. The fixed one frees the IRQ (devm, released before the data
// because it was requested after it); the buggy one requests it with plain request_irq and forgets free_irq.
struct IrqPriv {
  int status = 0;
};
bool g_devm_irq = false;
IrqReturn irq_handler(unsigned, void* dev_id) {
  auto* p = static_cast<IrqPriv*>(dev_id);
  static_cast<void>(sim::KPtr<IrqPriv>(p, sim::world().memory().find(p)).load(&IrqPriv::status));
  return IrqReturn::Handled;
}
int irq_probe(CoreContext& ctx) {
  sim::KPtr<IrqPriv> p = devm_kzalloc<IrqPriv>(ctx);
  return g_devm_irq ? devm_request_irq(ctx, 5, irq_handler, "demo", p.unchecked())
                    : request_irq(5, irq_handler, "demo", p.unchecked());
}
void irq_model(sim::World& w) {
  w.spawn("setup", [](sim::World& w) {
    platform_driver_register(DriverOps{"irqdemo", "platform", {}, irq_probe, {}});
    Device* dev = platform_device_register("irqdemo");
    w.spawn("hardware", [] { raise_irq(5); });
    w.spawn("hub", [dev] { platform_device_unregister(dev); });
  });
}
}  // namespace

BOOST_AUTO_TEST_CASE(an_irq_handler_not_freed_outlives_remove) {
  g_devm_irq = false;
  sim::ExploreResult r = sim::explore(irq_model, bus::test::exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST_REQUIRE(bus::test::found_kind(r, "use-after-free"));
  BOOST_TEST(r.failures[0].report.headline == "use-after-free in irq_handler");
}

BOOST_AUTO_TEST_CASE(a_freed_irq_never_runs_after_remove) {
  g_devm_irq = true;
  sim::ExploreResult r = sim::explore(irq_model, bus::test::exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.failing_executions == 0u, (r.failures.empty() ? std::string() : sim::render_text(r.failures[0].report)));
}

namespace {
// A threaded interrupt (request_threaded_irq): the hard handler only wakes the thread; the thread function sleeps
// (process context) and then reads the driver data. The fixed remove() calls free_irq, which waits for the thread
// function, before the devm data is freed; the buggy one forgets it.
bool g_free_threaded = false;
IrqReturn threaded_hard(unsigned, void*) {
  expect(core::in_hardirq(), "the hard handler runs in hard-IRQ context");
  return IrqReturn::WakeThread;
}
IrqReturn threaded_thread_fn(unsigned, void* dev_id) {
  expect(!core::in_hardirq(), "the thread function runs in process context");
  sim::world().sleep_for(1'000);  // allowed: not atomic context
  auto* p = static_cast<IrqPriv*>(dev_id);
  static_cast<void>(sim::KPtr<IrqPriv>(p, sim::world().memory().find(p)).load(&IrqPriv::status));
  return IrqReturn::Handled;
}
int threaded_probe(CoreContext& ctx) {
  sim::KPtr<IrqPriv> p = devm_kzalloc<IrqPriv>(ctx);
  ctx->set_drvdata(p.unchecked());
  return request_threaded_irq(6, threaded_hard, threaded_thread_fn, "tdemo", p.unchecked());
}
void threaded_remove(CoreContext& ctx) {
  if (g_free_threaded) free_irq(6, ctx->drvdata());
}
void threaded_model(sim::World& w) {
  w.spawn("setup", [](sim::World& w) {
    platform_driver_register(DriverOps{"tirqdemo", "platform", {}, threaded_probe, threaded_remove});
    Device* dev = platform_device_register("tirqdemo");
    w.spawn("hardware", [] { raise_irq(6); });
    w.spawn("hub", [dev] { platform_device_unregister(dev); });
  });
}
}  // namespace

// kernel/irq/manage.c irq_thread: the thread function runs after the hard handler, in a task of its own that may
// sleep; not freed, it outlives remove() and reads freed driver data.
BOOST_AUTO_TEST_CASE(a_threaded_irq_not_freed_outlives_remove) {
  g_free_threaded = false;
  sim::ExploreResult r = sim::explore(threaded_model, bus::test::exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST_REQUIRE(bus::test::found_kind(r, "use-after-free"));
  for (const sim::Failure& f : r.failures)
    BOOST_TEST(f.report.kind == "use-after-free", sim::render_text(f.report));
  BOOST_TEST(r.failures[0].report.headline == "use-after-free in threaded_thread_fn");
}

// kernel/irq/manage.c __free_irq -> synchronize_irq waits for threads_active: free_irq in remove() returns only
// after a woken thread function returned, so the devm data freed after it is never read freed, in every schedule;
// and sleeping in the thread function is not sleeping in atomic context.
BOOST_AUTO_TEST_CASE(free_irq_waits_for_the_threaded_handler) {
  g_free_threaded = true;
  sim::ExploreResult r = sim::explore(threaded_model, bus::test::exhaustive());
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u, (r.failures.empty() ? std::string() : sim::render_text(r.failures[0].report)));
}

namespace {
// IRQF_ONESHOT: two interrupts on a threaded line whose thread function sleeps. The hard handler checks that the
// thread function is not running; at the end both interrupts must have been handled.
int g_thread_running = 0;
int g_thread_runs = 0;
IrqReturn oneshot_hard(unsigned, void*) {
  expect(g_thread_running == 0, "the hard handler ran while the thread function ran");
  return IrqReturn::WakeThread;
}
IrqReturn oneshot_thread_fn(unsigned, void*) {
  ++g_thread_running;
  sim::world().sleep_for(1'000);
  --g_thread_running;
  ++g_thread_runs;
  return IrqReturn::Handled;
}
sim::Model oneshot_model(unsigned long flags) {
  return [flags](sim::World& w) {
    g_thread_running = 0;
    g_thread_runs = 0;
    w.spawn("driver", [flags](sim::World& w) {
      expect(request_threaded_irq(7, oneshot_hard, oneshot_thread_fn, flags, "oneshot", nullptr) == 0, "requested");
      w.spawn("hardware", [] {
        raise_irq(7);
        raise_irq(7);
      });
      w.sleep_for(1'000'000);  // long after both interrupts and their thread functions
      expect(irq_handled(7) == 2u, "both interrupts reached the hard handler");
      free_irq(7, nullptr);
    });
  };
}
}  // namespace

// include/linux/interrupt.h IRQF_ONESHOT ("Interrupt is not reenabled after the hardirq handler finished"),
// kernel/irq/manage.c irq_finalize_oneshot (the thread unmasks the line when its function returned) and
// kernel/irq/chip.c (an interrupt arriving at a masked line is pending, delivered at the unmask): with the flag,
// the second interrupt never reaches the hard handler while the thread function runs, and is not lost. Without it
// the hard handler runs beside the thread function in some schedule.
BOOST_AUTO_TEST_CASE(a_oneshot_line_stays_masked_until_its_thread_function_returns) {
  sim::ExploreResult with = sim::explore(oneshot_model(kIrqfOneshot), bus::test::exhaustive());
  BOOST_TEST(with.exhausted);
  BOOST_TEST(with.executions > 1u);
  BOOST_TEST(with.failing_executions == 0u,
             (with.failures.empty() ? std::string() : sim::render_text(with.failures[0].report)));
  sim::ExploreResult without = sim::explore(oneshot_model(0), bus::test::exhaustive());
  BOOST_TEST(without.exhausted);
  BOOST_TEST_REQUIRE(bus::test::found_kind(without, "test-expectation"));
  BOOST_TEST(without.failures[0].report.headline == "the hard handler ran while the thread function ran");
}

// kernel/irq/manage.c __setup_irq: a threaded line with no hard handler must be IRQF_ONESHOT ("Threaded irq
// requested with handler=NULL and !ONESHOT" is -EINVAL); the C++ call without flags keeps accepting it.
BOOST_AUTO_TEST_CASE(a_threaded_line_without_a_hard_handler_needs_oneshot) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      expect(request_threaded_irq(8, nullptr, oneshot_thread_fn, 0, "t", nullptr) == -kEINVAL, "-EINVAL");
      expect(request_threaded_irq(8, nullptr, oneshot_thread_fn, kIrqfOneshot, "t", nullptr) == 0, "accepted");
      free_irq(8, nullptr);
    });
  });
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
}

BOOST_AUTO_TEST_CASE(mmio_after_removal_is_counted_and_after_unmap_reported) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      Device* dev = platform_device_register("regs");
      Device* held = get_device(dev);
      IoMem* io = ioremap(*dev);
      io->writel(0x1234, 4);
      expect(io->readl(4) == 0x1234, "a register holds what was written");
      platform_device_unregister(dev);  // the hardware is gone, the mapping is not
      expect(io->readl(4) == 0xffffffffu, "a removed device reads all ones");
      expect(held->mmio()->accesses_after_removal() == 1u, "observable");
      iounmap(io);
      static_cast<void>(io->readl(0));  // a driver that kept the pointer
      put_device(held);
    });
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u, bus::test::describe(e.reports));
  BOOST_TEST(e.reports[0].kind == "io-after-unmap");
}

namespace {
struct FwPriv {
  int loaded = 0;
};
bool g_fw_done = false;
void fw_done(sim::KPtr<Firmware> fw, void* context) {
  g_fw_done = true;  // called, after remove() returned
  auto* p = static_cast<FwPriv*>(context);
  sim::KPtr<FwPriv>(p, sim::world().memory().find(p)).store(&FwPriv::loaded, fw ? 1 : -1);
  release_firmware(fw);
}
int fw_probe(CoreContext& ctx) {
  sim::KPtr<FwPriv> p = devm_kzalloc<FwPriv>(ctx);
  return request_firmware_nowait("demo.bin", &ctx.device(), p.unchecked(), fw_done);
}
}  // namespace

BOOST_AUTO_TEST_CASE(an_async_firmware_request_holds_the_device_but_not_the_drivers_data) {
  g_fw_done = false;
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      kernel().firmware_files()["demo.bin"] = "blob";
      platform_driver_register(DriverOps{"fw", "platform", {}, fw_probe, {}});
      Device* dev = platform_device_register("fw");
      sim::AllocId id = dev->allocation();
      platform_device_unregister(dev);  // remove() while the request is in flight
      expect(!sim::world().memory().record(id).freed, "the request keeps the device");
    });
  });
  BOOST_TEST(g_fw_done);
  // The data was devm-allocated and freed at unbind: the completion writes freed memory (R16).
  BOOST_TEST_REQUIRE(e.reports.size() == 1u, bus::test::describe(e.reports));
  BOOST_TEST(e.reports[0].headline == "use-after-free in fw_done");
}
