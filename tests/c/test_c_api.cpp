// Drivers in kernel C: the module loader (globals per execution, a private copy per OS thread) and the kernel API
// of include/linux/ as drivers/c/mailbox.c uses it, through the scenario language.
#define BOOST_TEST_MODULE c_api
#include <boost/test/unit_test.hpp>

#include <string>
#include <thread>
#include <vector>

#include "drivers/registry.hpp"
#include "scenarios/parser.hpp"
#include "scenarios/runner.hpp"
#include "sim/report.hpp"
#include "tests/c/scenario_run.hpp"

using namespace devsim;

namespace {

using test::failures_text;
using test::run;

// mailbox.c counts opens in a static variable; ioctl 1 returns it. With globals restored at every module load,
// every execution (and every load within one) sees exactly its own opens.
const char *kGlobals = R"(driver cmisc_mailbox_fixed
task app {
  fd = open /dev/mailbox
  ioctl fd 1 => 1
  close fd
  unload cmisc_mailbox_fixed => 0
  load cmisc_mailbox_fixed => 0
  fd2 = open /dev/mailbox
  ioctl fd2 1 => 1
  close fd2
}
explore random executions=300 seed=7
)";

}  // namespace

BOOST_AUTO_TEST_CASE(c_drivers_are_registered_as_modules) {
  const drivers::DriverInfo *buggy = drivers::find_driver("cmisc_mailbox_buggy");
  const drivers::DriverInfo *fixed = drivers::find_driver("cmisc_mailbox_fixed");
  BOOST_TEST_REQUIRE(buggy != nullptr);
  BOOST_TEST_REQUIRE(fixed != nullptr);
  BOOST_TEST(buggy->is_module());
  BOOST_TEST(buggy->bus.empty());
  BOOST_TEST(buggy->buggy);
  BOOST_TEST(buggy->bug_kind == "use-after-free");
  BOOST_TEST(!fixed->buggy);
  BOOST_TEST(fixed->node == "mailbox");
}

// A module's writable segment is restored at each load: a static counter starts at 0 in every execution.
BOOST_AUTO_TEST_CASE(module_globals_start_pristine_in_every_execution_and_load) {
  scenarios::Verdict v = run(kGlobals, "globals.scn");
  BOOST_TEST(v.result.executions == 300u);
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
  BOOST_TEST(v.passed);
}

// Two OS threads (as two fuzz jobs) run executions at the same time: each has its own copy of the module, so one
// thread's restores and opens never show in the other's counter.
BOOST_AUTO_TEST_CASE(each_thread_has_its_own_module_copy) {
  constexpr int kThreads = 2;
  std::vector<std::string> problems(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([i, &problems] {
      try {
        scenarios::Verdict v = run(kGlobals, "globals-" + std::to_string(i) + ".scn");
        if (!v.result.failures.empty() || v.result.executions != 300u) problems[i] = failures_text(v) + v.summary;
      } catch (const std::exception &e) {
        problems[i] = e.what();
      }
    });
  }
  for (std::thread &t : threads)
    t.join();
  for (int i = 0; i < kThreads; ++i)
    BOOST_TEST(problems[i].empty(), "thread " << i << ": " << problems[i]);
}

// kernel/module/main.c delete_module -> try_stop_module: a module whose refcount is held (a file whose fops->owner
// is the module: fops_get in drivers/char/misc.c misc_open) is not unloaded: -EWOULDBLOCK (-EAGAIN); once the
// file is closed (__fput -> fops_put) it is.
BOOST_AUTO_TEST_CASE(an_open_file_pins_a_module_that_owns_its_fops) {
  scenarios::Verdict v = run(R"(driver cmisc_mailbox_fixed
task app {
  fd = open /dev/mailbox => 3
  unload cmisc_mailbox_fixed => -EAGAIN
  close fd
  unload cmisc_mailbox_fixed => 0
  unload cmisc_mailbox_fixed => -ENOENT
  fd2 = open /dev/mailbox => -ENOENT
  load cmisc_mailbox_fixed => 0
  load cmisc_mailbox_fixed => -EEXIST
}
)",
                             "pin.scn");
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// The buggy variant names no owner: the unload succeeds with the file open, module_exit frees the mailbox, and
// the next write is a use-after-free reported in the C driver's own function, with the kfree in mailbox_exit.
BOOST_AUTO_TEST_CASE(buggy_variant_use_after_free_names_the_c_source) {
  scenarios::Verdict v = run(R"(driver cmisc_mailbox_buggy
task app {
  fd = open /dev/mailbox => 3
  unload cmisc_mailbox_buggy => 0
  write fd 4
  close fd
}
)",
                             "uaf.scn");
  BOOST_TEST_REQUIRE(v.result.failures.size() >= 1u);
  const sim::Report &r = v.result.failures.front().report;
  BOOST_TEST(r.kind == "use-after-free");
  const std::string text = sim::render_text(r);
  BOOST_TEST(text.find("mailbox_write") != std::string::npos, text);
  BOOST_TEST(text.find("drivers/c/mailbox.c") != std::string::npos, text);
  BOOST_TEST(text.find("mailbox_exit") != std::string::npos, text);  // the free site
  BOOST_TEST(text.find("mailbox_init") != std::string::npos, text);  // the allocation site
}

// include/linux/wait.h ___wait_event: a reader asleep in wait_event_interruptible gets the message a writer
// leaves, whatever the order (no lost wake-up), and copy_to_user copies exactly what was written.
BOOST_AUTO_TEST_CASE(read_waits_for_write_in_every_schedule) {
  scenarios::Verdict v = run(R"(driver cmisc_mailbox_fixed
task reader {
  fd = open /dev/mailbox
  read fd 16 => 5
  close fd
}
task writer {
  fd = open /dev/mailbox
  write fd 5 => 5
  close fd
}
explore exhaustive preemptions=3
)",
                             "wait.scn");
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
  BOOST_TEST(v.result.executions > 10u);
}

// A signal ends the interruptible sleep: the reader's call returns -EINTR (-ERESTARTSYS in the driver).
BOOST_AUTO_TEST_CASE(signal_interrupts_wait_event_interruptible) {
  scenarios::Verdict v = run(R"(driver cmisc_mailbox_fixed
task reader {
  fd = open /dev/mailbox
  read fd 16 => -EINTR
  close fd
}
task killer {
  sleep 1ms
  signal reader
}
)",
                             "signal.scn");
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// ---- drivers/c/pulse.c: a platform driver with a character device, an interrupt and a timer ----------------------

BOOST_AUTO_TEST_CASE(platform_modules_name_their_bus_and_interrupt_lines) {
  const drivers::DriverInfo *buggy = drivers::find_driver("cplat_pulse_buggy");
  const drivers::DriverInfo *fixed = drivers::find_driver("cplat_pulse_fixed");
  BOOST_TEST_REQUIRE(buggy != nullptr);
  BOOST_TEST_REQUIRE(fixed != nullptr);
  BOOST_TEST(buggy->is_module());
  BOOST_TEST(buggy->bus == "platform");
  BOOST_TEST(buggy->irqs == std::vector<unsigned>{40});
  BOOST_TEST(buggy->buggy);
  BOOST_TEST(!fixed->buggy);
  BOOST_TEST(fixed->node == "pulse0");
}

// The character device as fs/char_dev.c has it: device_create makes the node, chrdev_open finds the cdev by number
// and pins the owner module (cdev_get: try_module_get(cdev->owner)); after remove() the node is gone (-ENOENT) and
// an open file gets the driver's -ENODEV; the module unloads once the file is closed. Interrupts reach the handler
// (line 40, platform_get_irq) and the settle timer publishes one event per burst after 5 jiffies (HZ=1000: 5 ms).
BOOST_AUTO_TEST_CASE(char_device_irq_and_timer_follow_the_kernel) {
  scenarios::Verdict v = run(R"(driver cplat_pulse_fixed
device platform pulse0 cplat_pulse_fixed
task app {
  fd = open /dev/pulse0 => 3
  ioctl fd 1 => 0
  irq 40
  irq 40
  sleep 1ms
  ioctl fd 2 => 2
  ioctl fd 1 => 0
  read fd 4 => 4
  ioctl fd 1 => 1
  read fd 2 => -EINVAL
  ioctl fd 9 => -ENOTTY
  unload cplat_pulse_fixed => -EAGAIN
  unplug platform pulse0 => 0
  fd2 = open /dev/pulse0 => -ENOENT
  read fd 4 => -ENODEV
  ioctl fd 1 => -ENODEV
  close fd
  unload cplat_pulse_fixed => 0
}
explore random executions=200 seed=3
)",
                             "pulse-api.scn");
  BOOST_TEST(v.result.executions == 200u);
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// spin_lock_irq/spin_lock_irqsave disable interrupts for lockdep (core/irqflags.hpp): the lock the handler takes
// with spin_lock is taken with interrupts off in process and timer context, so no inconsistent lock state is
// reported (kernel/locking/lockdep.c mark_lock: {IN-HARDIRQ-W} and {HARDIRQ-ON-W} never meet).
BOOST_AUTO_TEST_CASE(irqsave_spinlocks_are_irq_safe_for_lockdep) {
  scenarios::Verdict v = run(R"(driver cplat_pulse_fixed
device platform pulse0 cplat_pulse_fixed
task app {
  fd = open /dev/pulse0
  ioctl fd 2
  read fd 4
  close fd
}
task hardware {
  irq 40
  sleep 10ms
  irq 40
}
explore exhaustive preemptions=1
)",
                             "pulse-lockdep.scn");
  BOOST_TEST(v.result.exhausted);
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// The buggy variant: an interrupt during remove() re-arms the timer after del_timer_sync; devres frees the
// interrupt and drops the last reference (pulse_free), and the timer fires on the freed state. The report is the
// kernel's own read of the timer (call_timer_fn), allocated in pulse_probe, freed in pulse_free.
BOOST_AUTO_TEST_CASE(pulse_buggy_timer_fires_after_free) {
  scenarios::Verdict v = run(R"(driver cplat_pulse_buggy
device platform pulse0 cplat_pulse_buggy
task hardware {
  irq 40
}
task hub {
  unplug platform pulse0
}
expect use-after-free in call_timer_fn
explore exhaustive preemptions=2
)",
                             "pulse-buggy.scn");
  BOOST_TEST(v.passed, v.summary);
  BOOST_TEST_REQUIRE(!v.result.failures.empty());
  const sim::Report &r = v.result.failures.front().report;
  BOOST_TEST(sim::render_text(r).find("pulse_probe") != std::string::npos);
  BOOST_TEST(sim::render_text(r).find("pulse_free") != std::string::npos);
}

// Module unload racing with a probe of the module's driver: driver_unregister waits for a probe in progress and
// detaches the device it bound (drivers/base/bus.c bus_remove_driver: klist_remove waits for the bus iteration that
// runs the probe, lib/klist.c), so module_exit's teardown sees every device it bound. Before that, a device bound
// during the unload stayed bound to the dead driver, and after a reload its remove() ran with the new module
// instance's globals: the class device of the first instance leaked.
// The same tasks check the race detector's edges through the driver core's klists (lib/klist.c; drivers/base/bus.c
// bus_add_driver and bus_probe_device, drivers/base/dd.c __device_release_driver and driver_detach): pulse.c's
// global pulse_class, written by module_init before it registers the driver, read by probe, remove() and
// module_exit in other tasks, is no data race in any schedule. Without those edges it was reported.
BOOST_AUTO_TEST_CASE(driver_unregister_waits_for_a_probe_in_progress) {
  scenarios::Verdict v = run(R"(driver cplat_pulse_fixed
device platform pulse0 cplat_pulse_fixed
task hub {
  unplug platform pulse0
  plug platform pulse0 cplat_pulse_fixed
}
task admin {
  unload cplat_pulse_fixed
  load cplat_pulse_fixed
}
explore exhaustive preemptions=2
)",
                             "pulse-unload-probe.scn");
  BOOST_TEST(v.result.exhausted);
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// ioctl FD CMD "bytes": the argument is a user buffer holding the bytes, which copy_from_user reads and
// copy_to_user fills in; `=> N "bytes"` checks what a read or such an ioctl left there for user space
// (include/linux/uaccess.h copy_to_user; mailbox.c's ioctl 3 takes struct mailbox_peek_at { u8 offset; u8 byte; }).
// A mismatch is an unexpected-result report naming both byte strings.
BOOST_AUTO_TEST_CASE(ioctl_data_and_copied_out_bytes) {
  scenarios::Verdict v = run(R"(driver cmisc_mailbox_fixed
task app {
  fd = open /dev/mailbox
  ioctl fd 3 "\x00\x00" => -ENODATA
  write fd "hello" => 5
  ioctl fd 3 "\x01\x00" => 0 "\x01e"
  ioctl fd 3 "\x04\xff" => 0 "\x04o"
  ioctl fd 3 "\x05\x00" => -ENODATA
  ioctl fd 3 7 => -EFAULT
  read fd 64 => 5 "hello"
  close fd
}
)",
                             "ioctl-data.scn");
  BOOST_TEST(v.result.failures.empty(), failures_text(v));

  scenarios::Verdict wrong = run(R"(driver cmisc_mailbox_fixed
task app {
  fd = open /dev/mailbox
  write fd "hello" => 5
  read fd 64 => 5 "help!"
  close fd
}
)",
                                 "read-data.scn");
  BOOST_TEST_REQUIRE(wrong.result.failures.size() == 1u, failures_text(wrong));
  BOOST_TEST(wrong.result.failures[0].report.headline ==
                 "unexpected result: 'read fd 64 => 5 \"help!\"' returned 5 with \"hello\" in the user buffer "
                 "(expected \"help!\")",
             failures_text(wrong));
}

// Scenario data (write fd "bytes"): copy_from_user copies the scenario's bytes, escapes included, so the driver
// sees them (mailbox.c's ioctl 2 returns the first byte of the message, -ENODATA (-61) when there is none).
BOOST_AUTO_TEST_CASE(write_data_reaches_copy_from_user) {
  scenarios::Verdict v = run(R"(driver cmisc_mailbox_fixed
task app {
  fd = open /dev/mailbox
  ioctl fd 2 => -61
  write fd "hi there" => 8
  ioctl fd 2 => 104
  write fd "\xff\x00" => 2
  ioctl fd 2 => 255
  write fd "\\" => 1
  ioctl fd 2 => 92
  write fd "\x22q" => 2
  ioctl fd 2 => 34
  read fd 8 => 2
  ioctl fd 2 => -61
  write fd 3 => 3
  ioctl fd 2 => 0
  close fd
}
)",
                             "data.scn");
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// linux/poll.h: the scenario's poll is a zero-timeout poll(2) for POLLIN|POLLOUT (fs/select.c do_pollfd filters the
// driver's mask to what was asked plus EPOLLERR|EPOLLHUP, so mailbox_poll's EPOLLRDNORM/EPOLLWRNORM do not show);
// after unload the buggy mailbox's poll reads the freed mailbox, as its read and write do.
BOOST_AUTO_TEST_CASE(poll_calls_the_drivers_poll_method) {
  scenarios::Verdict v = run(R"(driver cmisc_mailbox_fixed
task app {
  fd = open /dev/mailbox
  poll fd => OUT
  write fd "hi" => 2
  poll fd => IN+OUT
  read fd 8 => 2
  poll fd => OUT
  close fd
}
)",
                             "poll.scn");
  BOOST_TEST(v.result.failures.empty(), failures_text(v));

  scenarios::Verdict buggy = run(R"(driver cmisc_mailbox_buggy
task app {
  fd = open /dev/mailbox
  unload cmisc_mailbox_buggy
  poll fd
  close fd
}
expect use-after-free in mailbox_poll
)",
                                 "poll-after-unload.scn");
  BOOST_TEST(buggy.result.failures.size() >= 1u, failures_text(buggy));
  BOOST_TEST(buggy.passed, failures_text(buggy));
}

// A C module that cannot be loaded (here: it calls a function devsim does not provide; a real driver that uses a
// kernel API devsim lacks looks the same) runs nothing: the verdict is a devsim limit naming the undefined symbol,
// not a bug of the driver in every execution.
BOOST_AUTO_TEST_CASE(a_module_that_cannot_be_loaded_is_a_devsim_limit) {
  const scenarios::Verdict v = run("driver ctest_unloadable\ntask app {\n  yield\n}\n", "unloadable.scn");
  BOOST_TEST(!v.passed);
  BOOST_TEST(v.result.executions == 0u);
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
  BOOST_TEST_REQUIRE(v.limits.size() == 1u);
  BOOST_TEST(v.limits[0].find("cannot be loaded") != std::string::npos, v.limits[0]);
  BOOST_TEST(v.limits[0].find("devsim_test_no_such_kernel_function") != std::string::npos, v.limits[0]);
}
