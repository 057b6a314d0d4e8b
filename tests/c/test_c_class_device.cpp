// Class devices in sysfs (linux/device.h): drivers/base/core.c device_add places a class device where
// get_device_parent says (/sys/devices/virtual/CLASS/NAME without a parent, inside a parent class device's own
// directory), links it from /sys/class/CLASS/NAME (device_add_class_symlinks), gives a device with a number its
// "dev" attribute (dev_show) and creates its class's dev_groups and its own groups (device_add_attrs);
// device_destroy -> device_del removes them, and kernfs_drain (fs/kernfs/dir.c) waits for a show in flight.
// drivers/base/class.c class_register makes /sys/class/NAME. tests/c/class_device_cases.c is the kernel C.
#define BOOST_TEST_MODULE c_class_device
#include <boost/test/unit_test.hpp>

#include <string>

#include "bus/errno.hpp"
#include "bus/kernel.hpp"
#include "bus/sysfs.hpp"
#include "tests/c/case_run.hpp"

extern "C" {
struct widget;
struct widget *class_case_make(void);
void class_case_destroy(struct widget *w, int state_first);
int class_case_nested(void);
void class_case_nested_destroy(void);
}

namespace bus = devsim::bus;
namespace sim = devsim::sim;
namespace test = devsim::test;

namespace {

std::string read_text(const std::string &path) {
  const bus::SysfsRead r = bus::kernel().sysfs().read(path);
  return r.error != 0 ? "error " + std::to_string(r.error) : r.text;
}

// A reader of the level attribute against the teardown, in every schedule.
sim::ExploreResult read_against_teardown(bool state_first) {
  const sim::Model model = [state_first](sim::World &w) {
    w.spawn("setup", [&w, state_first] {
      struct widget *wd = class_case_make();
      if (wd == nullptr) throw std::runtime_error("class_case_make failed");
      w.spawn("reader", [] {
        const bus::SysfsRead r = bus::kernel().sysfs().read("/sys/class/widget/widget3/level");
        if (r.error == 0 && r.text != "7\n") throw std::runtime_error("level read " + r.text);
      });
      w.spawn("remover", [wd, state_first] { class_case_destroy(wd, state_first ? 1 : 0); });
    });
  };
  return test::explore_every_schedule(model);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_class_device_has_a_directory_with_its_class_and_own_attributes) {
  std::string level, kind, serial, dev, after;
  bool linked = false, class_dir = false, class_dir_after = true;
  const sim::Execution e = test::run_in_task([&] {
    struct widget *wd = class_case_make();
    BOOST_TEST_REQUIRE(wd != nullptr);
    bus::Sysfs &sysfs = bus::kernel().sysfs();
    class_dir = sysfs.exists("/sys/class/widget");
    linked = sysfs.link_target("/sys/class/widget/widget3") == "/sys/devices/virtual/widget/widget3";
    level = read_text("/sys/class/widget/widget3/level");              // device_create_file
    kind = read_text("/sys/devices/virtual/widget/widget3/kind");      // the class's dev_groups
    serial = read_text("/sys/devices/virtual/widget/widget3/serial");  // device_create_with_groups
    dev = read_text("/sys/class/widget/widget3/dev");                  // the device's number
    class_case_destroy(wd, 0);
    after = read_text("/sys/class/widget/widget3/level");
    class_dir_after = sysfs.exists("/sys/class/widget");
  });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(class_dir);
  BOOST_TEST(linked);
  BOOST_TEST(level == "7\n");
  BOOST_TEST(kind == "widget\n");
  BOOST_TEST(serial == "widget3-serial\n");
  BOOST_TEST(dev == "250:3\n");
  BOOST_TEST(after == "error " + std::to_string(-bus::kENOENT));
  BOOST_TEST(!class_dir_after);
}

BOOST_AUTO_TEST_CASE(a_class_device_under_another_is_in_its_directory) {
  int made = -9;
  bool inner = false, inner_link = false, gone = true;
  const sim::Execution e = test::run_in_task([&] {
    made = class_case_nested();
    bus::Sysfs &sysfs = bus::kernel().sysfs();
    inner = sysfs.exists("/sys/devices/virtual/gadget/gadget0/gadget0.1/dev");
    inner_link = sysfs.link_target("/sys/class/gadget/gadget0.1") == "/sys/devices/virtual/gadget/gadget0/gadget0.1";
    class_case_nested_destroy();
    gone = sysfs.exists("/sys/devices/virtual/gadget/gadget0") || sysfs.exists("/sys/class/gadget");
  });
  BOOST_TEST(e.reports.empty());
  BOOST_TEST(made == 0);
  BOOST_TEST(inner);
  BOOST_TEST(inner_link);
  BOOST_TEST(!gone);
}

// Freeing what a show reads before device_destroy is a use-after-free some schedule reaches; destroying the device
// first never is, because the removal waits for a show in flight and refuses one after it began.
BOOST_AUTO_TEST_CASE(a_show_racing_device_destroy_reaches_freed_state_only_in_the_buggy_order) {
  const sim::ExploreResult fixed = read_against_teardown(false);
  BOOST_TEST(fixed.exhausted);
  BOOST_TEST(fixed.executions > 1u);
  BOOST_TEST(fixed.failing_executions == 0u);

  const sim::ExploreResult buggy = read_against_teardown(true);
  BOOST_TEST(buggy.exhausted);
  BOOST_TEST(test::any_report(buggy, sim::bug::kUseAfterFree));
  BOOST_TEST(buggy.failing_executions < buggy.executions);
}
