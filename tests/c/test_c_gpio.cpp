// drivers/c/gpiochip.c: a GPIO chip character device in kernel C, shaped like gpiolib's (drivers/gpio/gpiolib.c
// splits struct gpio_chip, the driver's, from struct gpio_device, reference counted, behind /dev/gpiochipN; on
// removal gpiochip_remove() clears gdev->chip and drivers/gpio/gpiolib-cdev.c's file operations return -ENODEV
// once it is NULL). Its rwsem is linux/rwsem.h on core::RwSemaphore (kernel/locking/rwsem.c).
#define BOOST_TEST_MODULE c_gpio
#include <boost/test/unit_test.hpp>

#include <string>

#include "drivers/registry.hpp"
#include "scenarios/parser.hpp"
#include "scenarios/runner.hpp"
#include "sim/report.hpp"
#include "tests/c/scenario_run.hpp"

using namespace devsim;

namespace {

using test::failures_text;
using test::run;

}  // namespace

BOOST_AUTO_TEST_CASE(gpio_modules_are_platform_drivers_with_a_chip_node) {
  const drivers::DriverInfo *buggy = drivers::find_driver("cgpio_chip_buggy");
  const drivers::DriverInfo *fixed = drivers::find_driver("cgpio_chip_fixed");
  BOOST_TEST_REQUIRE(buggy != nullptr);
  BOOST_TEST_REQUIRE(fixed != nullptr);
  BOOST_TEST(buggy->is_module());
  BOOST_TEST(buggy->bus == "platform");
  BOOST_TEST(buggy->buggy);
  BOOST_TEST(buggy->bug_kind == "use-after-free");
  BOOST_TEST(!fixed->buggy);
  BOOST_TEST(fixed->node == "gpiochip0");
}

// The chip file's API: a line handle is requested before its line is read or driven (gpiolib-cdev's
// linehandle_create: a line held by another requester is -EBUSY); values are kept in the chip. After remove() the
// node is gone (-ENOENT), the open file's operations get -ENODEV (the numbed gdev->chip), its release still runs, and
// the module unloads once the file is closed (the cdev's owner pins it).
BOOST_AUTO_TEST_CASE(chip_file_requests_lines_and_is_numbed_by_remove) {
  scenarios::Verdict v = run(R"(driver cgpio_chip_fixed
device platform gpiochip0 cgpio_chip_fixed
task app {
  fd = open /dev/gpiochip0 => 3
  ioctl fd 0 => 8
  ioctl fd 2 0 => -EPERM
  ioctl fd 1 0 => 0
  ioctl fd 1 0 => -EBUSY
  fd2 = open /dev/gpiochip0
  ioctl fd2 1 0 => -EBUSY
  ioctl fd2 1 1 => 0
  ioctl fd2 2 1 => 1
  ioctl fd 2 0 => 0
  ioctl fd 3 256 => 0
  ioctl fd 2 0 => 1
  read fd 1 => 1
  ioctl fd 1 8 => -EINVAL
  ioctl fd 7 => -ENOTTY
  close fd2
  unload cgpio_chip_fixed => -EAGAIN
  unplug platform gpiochip0 => 0
  fd3 = open /dev/gpiochip0 => -ENOENT
  ioctl fd 2 0 => -ENODEV
  ioctl fd 0 => -ENODEV
  read fd 1 => -ENODEV
  close fd
  unload cgpio_chip_fixed => 0
}
explore random executions=100 seed=5
)",
                             "gpio-api.scn");
  BOOST_TEST(v.result.executions == 100u);
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// A line handle is given back at the last close: the line can be requested again through another file.
BOOST_AUTO_TEST_CASE(release_gives_the_lines_back) {
  scenarios::Verdict v = run(R"(driver cgpio_chip_fixed
device platform gpiochip0 cgpio_chip_fixed
task app {
  fd = open /dev/gpiochip0
  ioctl fd 1 3 => 0
  fd2 = open /dev/gpiochip0
  ioctl fd2 1 3 => -EBUSY
  close fd
  ioctl fd2 1 3 => 0
  close fd2
}
)",
                             "gpio-release.scn");
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// The fixed variant: the unplug comes while the ioctl sleeps in its bus transfer (1 ms, from 0) holding gdev->sem
// for reading; remove()'s down_write waits for it (kernel/locking/rwsem.c: a writer waits for the readers), so the
// ioctl completes on a live chip and the next one sees the numbed device. No schedule reports anything.
BOOST_AUTO_TEST_CASE(fixed_remove_waits_for_the_call_in_flight) {
  scenarios::Verdict v = run(R"(driver cgpio_chip_fixed
device platform gpiochip0 cgpio_chip_fixed
task app {
  fd = open /dev/gpiochip0
  ioctl fd 1 0 => 0
  ioctl fd 2 0 => -ENODEV
  close fd
}
task hub {
  sleep 100us
  unplug platform gpiochip0
}
explore exhaustive preemptions=2
)",
                             "gpio-fixed-wait.scn");
  BOOST_TEST(v.result.exhausted);
  BOOST_TEST(v.result.executions > 10u);
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}

// The buggy variant, same timing: the ioctl checked the chip pointer before remove() cleared it and is asleep in the
// transfer when devres frees the chip (after remove()); it wakes up and writes the freed chip. The report names the
// access in the chip's direction register write, the allocation in gpiosim_probe (devm_kzalloc) and the free by
// devres at the unbind.
BOOST_AUTO_TEST_CASE(buggy_call_in_flight_uses_the_freed_chip) {
  scenarios::Verdict v = run(R"(driver cgpio_chip_buggy
device platform gpiochip0 cgpio_chip_buggy
task app {
  fd = open /dev/gpiochip0
  ioctl fd 1 0
  close fd
}
task hub {
  sleep 100us
  unplug platform gpiochip0
}
expect use-after-free in gpiosim_chip_direction
)",
                             "gpio-buggy.scn");
  BOOST_TEST(v.passed, v.summary);
  BOOST_TEST_REQUIRE(!v.result.failures.empty());
  const std::string text = sim::render_text(v.result.failures.front().report);
  BOOST_TEST(v.result.failures.front().report.kind == "use-after-free");
  BOOST_TEST(text.find("drivers/c/gpiochip.c") != std::string::npos, text);
  BOOST_TEST(text.find("gpiosim_ioctl") != std::string::npos, text);
  BOOST_TEST(text.find("gpiosim_probe") != std::string::npos, text);
  BOOST_TEST(text.find("devres_release_all") != std::string::npos, text);
}

// Without the race the buggy variant is not wrong: a call after remove() sees the numbed pointer (-ENODEV), since
// the device itself is reference counted by the open file. Only the check-then-use window is the bug.
BOOST_AUTO_TEST_CASE(buggy_call_after_remove_is_numbed) {
  scenarios::Verdict v = run(R"(driver cgpio_chip_buggy
device platform gpiochip0 cgpio_chip_buggy
task app {
  fd = open /dev/gpiochip0
  ioctl fd 1 0 => 0
  unplug platform gpiochip0 => 0
  ioctl fd 2 0 => -ENODEV
  close fd
}
)",
                             "gpio-buggy-serial.scn");
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
}
