// Deferred probe (bus/driver.hpp), as drivers/base/dd.c has it: a probe that returns -EPROBE_DEFER puts its device on
// the pending list (driver_deferred_probe_add); every later successful bind triggers a retry on the system workqueue
// (driver_bound -> driver_deferred_probe_trigger -> deferred_probe_work_func -> bus_probe_device); a bind that
// triggers while a probe is still running makes that probe's deferral trigger again at once
// (driver_deferred_probe_add_trigger, its local_trigger_count); device_del takes the device off the lists
// (driver_deferred_probe_del); wait_for_device_probe flushes the work. A consumer whose probe needs a supplier's
// (the usual reason to defer) is the model: explored exhaustively, it ends bound in every schedule, and an unplug of
// the deferred consumer racing with the retry is no use-after-free.
#define BOOST_TEST_MODULE bus_deferred_probe
#include <boost/test/unit_test.hpp>

#include "bus/errno.hpp"
#include "bus/kernel.hpp"
#include "bus/platform.hpp"
#include "core/completion.hpp"
#include "sim/kmalloc.hpp"
#include "sim/machine.hpp"
#include "tests/bus/bus_test_support.hpp"
#include "tests/bus/deferred_probe_drivers.hpp"

using namespace devsim;
using namespace devsim::bus;
using bus::test::expect;

using bus::test::consumer_driver;
using bus::test::make_supplier;
using bus::test::supplier_driver;

BOOST_AUTO_TEST_CASE(a_deferred_device_is_probed_again_once_another_driver_binds) {
  sim::Execution e = sim::run_once([](sim::World& w) {
    w.spawn("t", [] {
      make_supplier();
      platform_driver_register(supplier_driver());
      platform_driver_register(consumer_driver());
      Device* consumer = platform_device_register("consumer");
      expect(!consumer->bound(), "the probe deferred");
      expect(deferred_probe_count() == 1, "on the pending list");
      Device* supplier = platform_device_register("supplier");  // binds: the trigger
      wait_for_device_probe();
      expect(consumer->bound(), "bound by the deferred-probe work");
      expect(deferred_probe_count() == 0, "off the lists once bound");
      platform_device_unregister(consumer);
      platform_device_unregister(supplier);
    });
  });
  BOOST_TEST(e.reports.empty(), bus::test::describe(e.reports));
}

BOOST_AUTO_TEST_CASE(a_bind_during_the_deferring_probe_is_not_missed) {
  // The consumer's probe and the supplier's bind race: whichever order, the consumer ends bound once both plugs
  // returned and the work was flushed (without the trigger-count check, a bind between the consumer's probe reading
  // "not ready" and its deferral would leave it pending for ever).
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        auto plugged = std::make_shared<core::Completion>();
        w.spawn("init", [plugged] {
          make_supplier();
          platform_driver_register(supplier_driver());
          platform_driver_register(consumer_driver());
          plugged->complete_all();
        });
        auto consumer_done = std::make_shared<core::Completion>();
        auto supplier_done = std::make_shared<core::Completion>();
        auto consumer = std::make_shared<Device*>(nullptr);
        auto supplier = std::make_shared<Device*>(nullptr);
        w.spawn("plug-consumer", [plugged, consumer_done, consumer] {
          plugged->wait_for_completion();
          *consumer = platform_device_register("consumer");
          consumer_done->complete_all();
        });
        w.spawn("plug-supplier", [plugged, supplier_done, supplier] {
          plugged->wait_for_completion();
          *supplier = platform_device_register("supplier");
          supplier_done->complete_all();
        });
        w.spawn("check", [consumer_done, supplier_done, consumer, supplier] {
          consumer_done->wait_for_completion();
          supplier_done->wait_for_completion();
          wait_for_device_probe();
          expect((*consumer)->bound(), "the consumer is bound");
          expect(deferred_probe_count() == 0, "nothing left deferred");
          platform_device_unregister(*consumer);
          platform_device_unregister(*supplier);
        });
      },
      bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u, (r.failures.empty() ? "" : sim::render_text(r.failures[0].report)));
}

BOOST_AUTO_TEST_CASE(unplugging_a_deferred_device_while_it_is_retried_is_no_use_after_free) {
  sim::ExploreResult r = sim::explore(
      [](sim::World& w) {
        auto deferred = std::make_shared<core::Completion>();
        auto consumer = std::make_shared<Device*>(nullptr);
        w.spawn("init", [deferred, consumer] {
          make_supplier();
          platform_driver_register(supplier_driver());
          platform_driver_register(consumer_driver());
          *consumer = platform_device_register("consumer");
          deferred->complete_all();
        });
        w.spawn("plug-supplier", [deferred] {
          deferred->wait_for_completion();
          Device* supplier = platform_device_register("supplier");  // queues the retry
          platform_device_unregister(supplier);
        });
        w.spawn("unplug-consumer", [deferred, consumer] {
          deferred->wait_for_completion();
          platform_device_unregister(*consumer);  // off the lists, then the last put frees it
        });
      },
      bus::test::exhaustive(2));
  BOOST_TEST(r.exhausted);
  BOOST_TEST(r.executions > 1u);
  BOOST_TEST(r.failing_executions == 0u, (r.failures.empty() ? "" : sim::render_text(r.failures[0].report)));
}
