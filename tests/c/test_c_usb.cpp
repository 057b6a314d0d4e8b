// linux/usb.h beyond what drivers/c/usbskel.c uses, through the scenario language: the test module cusb_api
// (tests/c/every_header_usb.c) has one ioctl per piece of the API and returns what the API returned; the scenarios
// script the mock device with `usb-data` and `usb-error` and expect the kernel's results.
#define BOOST_TEST_MODULE c_usb
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>

#include "cabi/module.hpp"
#include "drivers/registry.hpp"
#include "fuzz/fuzzer.hpp"
#include "scenarios/parser.hpp"
#include "scenarios/runner.hpp"
#include "scenarios/writer.hpp"
#include "sim/report.hpp"
#include "sim/stacktrace.hpp"
#include "tests/c/scenario_run.hpp"

using namespace devsim;

namespace {

using test::failures_text;
using test::run;

// The test module is not in the registry (TEST_ONLY in tests/c/CMakeLists.txt): registered here.
const bool kRegistered = [] {
  cabi::CModuleSpec s;
  s.name = "cusb_api";
  s.path = DEVSIM_CUSB_API_MODULE;
  s.node = "usb/usbapi0";
  s.bus = "usb";
  s.summary = "the USB API's test module (tests/c/every_header_usb.c)";
  drivers::register_driver(cabi::c_module_info(s));
  return true;
}();

const std::string kHead = "driver cusb_api\ndevice usb 1-1 cusb_api\n";

// Runs `tasks` on the test module's device: every expectation of the scenario must hold in every execution.
void expect_clean(const std::string &tasks, const std::string &name, std::uint64_t executions = 200,
                  const std::string &strategy = "random seed=3") {
  BOOST_TEST_REQUIRE(kRegistered);
  scenarios::Verdict v =
      run(kHead + tasks + "explore " + strategy + " executions=" + std::to_string(executions) + "\n", name);
  BOOST_TEST(v.result.executions == executions, name);
  BOOST_TEST(v.result.failures.empty(), name << ":\n" << failures_text(v));
  BOOST_TEST(v.passed, name << ": " << v.summary);
}

std::string error_of(const std::string &text) {
  try {
    scenarios::parse_scenario(text, "t.scn");
  } catch (const scenarios::ParseError &e) {
    return e.what();
  }
  return "(parsed)";
}

}  // namespace

// drivers/usb/core/usb.c usb_find_common_endpoints (and _reverse, and the usb_find_*_endpoint wrappers in
// include/linux/usb.h): the first (last) endpoint of each kind asked for, -ENXIO with the pointer cleared when the
// interface has none (the mock device has interrupt-in 0x81, bulk-in 0x82, bulk-out 0x02 and interrupt-out 0x01;
// the test module asks a copy of its setting without the fourth for the -ENXIO case).
BOOST_AUTO_TEST_CASE(find_common_endpoints_over_the_interface_descriptors) {
  expect_clean(R"(task app {
  fd = open /dev/usb/usbapi0
  ioctl fd 1 => 8520321
  close fd
}
)",
               "endpoints.scn", 20);
}

// drivers/usb/core/urb.c usb_poison_urb: the URB in flight is given back with -ENOENT and waited for, and every
// later submission fails with -EPERM (usb_hcd_link_urb_to_ep checks urb->reject) until usb_unpoison_urb; then it
// is submitted again and completes with what the device sends. `sleep` lets the completion's interrupt run (virtual
// time passes only when no task can run).
BOOST_AUTO_TEST_CASE(poisoned_urb_is_killed_and_rejected_until_unpoisoned) {
  expect_clean(R"(task app {
  fd = open /dev/usb/usbapi0
  ioctl fd 2 => -EPERM
  ioctl fd 3 => -ENOENT
  ioctl fd 4 => 0
  usb-data 1-1 "abc"
  sleep 1ms
  ioctl fd 3 => 0
  ioctl fd 5 => 3
  close fd
}
)",
               "poison.scn");
}

// drivers/usb/core/hcd.c __usb_hcd_giveback_urb: an URB leaves its anchor before its completion handler runs, but
// the anchor's waiters (usb_wait_anchor_empty_timeout, drivers/usb/core/urb.c) see it empty only once the handler
// returned (usb_anchor_suspend_wakeups/usb_anchor_resume_wakeups): every completion has counted when the wait
// returns, in every schedule explored. The coherent buffers are freed by the completions.
BOOST_AUTO_TEST_CASE(anchor_is_empty_once_every_completion_returned) {
  expect_clean(R"(task app {
  fd = open /dev/usb/usbapi0
  ioctl fd 6 3 => 3
  close fd
}
)",
               "anchor-out.scn", 300);
}

// usb_wait_anchor_empty_timeout returns 0 when the time runs out (nothing came from the device in 10 ms);
// usb_kill_anchored_urbs (drivers/usb/core/urb.c) kills every anchored URB, each given back with -ENOENT, and returns
// with the anchor empty.
BOOST_AUTO_TEST_CASE(kill_anchored_urbs_empties_the_anchor) {
  expect_clean(R"(task app {
  fd = open /dev/usb/usbapi0
  ioctl fd 7 2 => 2
  close fd
}
)",
               "anchor-in.scn");
}

// usb_poison_anchored_urbs marks the anchor poisoned: an URB anchored on it afterwards is poisoned too (usb_anchor_urb
// increments urb->reject), so its submission fails with -EPERM; usb_unpoison_anchored_urbs lifts it
// (drivers/usb/core/urb.c).
BOOST_AUTO_TEST_CASE(poisoned_anchor_poisons_urbs_anchored_later) {
  expect_clean(R"(task app {
  fd = open /dev/usb/usbapi0
  ioctl fd 8 => -EPERM
  close fd
}
)",
               "anchor-poison.scn");
}

// An URB anchored but never submitted never leaves its anchor: the kernel's usb_kill_anchored_urbs loops until the
// anchor is empty, so it spins forever. devsim reports the spin as the kernel's watchdog would.
BOOST_AUTO_TEST_CASE(kill_anchored_urbs_spins_on_an_urb_never_submitted) {
  BOOST_TEST_REQUIRE(kRegistered);
  scenarios::Verdict v = run(kHead + R"(task app {
  fd = open /dev/usb/usbapi0
  ioctl fd 16
  close fd
}
explore random seed=1 executions=5
)",
                             "forgotten.scn");
  BOOST_TEST_REQUIRE(!v.result.failures.empty());
  BOOST_TEST(v.result.failures.front().report.kind == std::string(sim::bug::kSoftLockup), failures_text(v));
}

// Synchronous messages (drivers/usb/core/message.c usb_bulk_msg, usb_interrupt_msg, usb_control_msg,
// usb_start_wait_urb): a bulk-in read gets the bytes the device sends on 0x82, times out with -ETIMEDOUT (the URB
// killed) when nothing comes, and fails with the status the device ends it with; an interrupt read of more than
// wMaxPacketSize bytes is -EOVERFLOW (babble); a control IN message gets 0 bytes unless scripted, an OUT one sends
// its data stage; a stalled endpoint is -EPIPE; usb_clear_halt is a CLEAR_FEATURE control message; a control URB
// submitted asynchronously (usb_fill_control_urb) completes with the control endpoint's scripted status.
BOOST_AUTO_TEST_CASE(synchronous_messages_are_answered_by_the_scripted_device) {
  expect_clean(R"(task app {
  fd = open /dev/usb/usbapi0
  usb-data 1-1 0x82 "hello"
  ioctl fd 9 "\x00\x00\x00\x00\x00\x00\x00\x00" => 5 "hello\x00\x00\x00"
  ioctl fd 9 "\x00\x00\x00\x00\x00\x00\x00\x00" => -ETIMEDOUT
  usb-error 1-1 0x82 -EPROTO
  ioctl fd 9 "\x00\x00\x00\x00\x00\x00\x00\x00" => -EPROTO
  usb-data 1-1 "0123456789"
  ioctl fd 10 "\x00\x00\x00\x00\x00\x00\x00\x00" => -EOVERFLOW
  usb-error 1-1 0x81 -EPIPE
  ioctl fd 10 "\x00\x00\x00\x00\x00\x00\x00\x00" => -EPIPE
  ioctl fd 14 => 0
  ioctl fd 11 "\x00\x00\x00\x00\x00\x00\x00\x00" => 0 "\x00\x00\x00\x00\x00\x00\x00\x00"
  usb-data 1-1 0 "\x01\x02"
  ioctl fd 11 "\x00\x00\x00\x00\x00\x00\x00\x00" => 2 "\x01\x02\x00\x00\x00\x00\x00\x00"
  ioctl fd 12 => 4
  usb-error 1-1 0 -EPIPE
  ioctl fd 12 => -EPIPE
  ioctl fd 13 => 8
  usb-error 1-1 0x02 -EILSEQ
  ioctl fd 13 => -EILSEQ
  usb-error 1-1 0 -EPROTO
  ioctl fd 17 => -EPROTO
  ioctl fd 17 => 0
  close fd
}
)",
               "messages.scn", 50);
}

// A synchronous message in flight when the device goes fails with -ESHUTDOWN: usb_disable_interface flushes the
// endpoint before disconnect (drivers/usb/core/hcd.c usb_hcd_flush_endpoint). The hub task waits 10 ms of virtual
// time, which passes only once the reader sleeps in usb_bulk_msg. Afterwards the driver's ioctl says -ENODEV.
BOOST_AUTO_TEST_CASE(synchronous_message_in_flight_at_unplug_fails_with_eshutdown) {
  expect_clean(R"(task app {
  fd = open /dev/usb/usbapi0
  ioctl fd 15 "\x00\x00\x00\x00\x00\x00\x00\x00" => -ESHUTDOWN
  ioctl fd 9 "\x00\x00\x00\x00\x00\x00\x00\x00" => -ENODEV
  close fd
}
task hub {
  sleep 10ms
  unplug usb 1-1
}
)",
               "unplug-msg.scn");
}

// kernel/hung_task.c: a task in TASK_UNINTERRUPTIBLE that does not run for 120 s is reported. Ioctl 31 sleeps
// interruptibly holding io_mutex for a wake-up nothing sends (the shape of drivers/usb/misc/ldusb.c's and
// legousbtower.c's reads before "fix deadlock on disconnect"-style fixes: the read waits holding the mutex, and the
// interrupt-in URB that would wake it was given back by the unplug). The unplug's disconnect then sleeps in
// mutex_lock (TASK_UNINTERRUPTIBLE, drivers/usb/core/hub.c usb_disconnect -> ... -> usb_unbind_interface) until the
// process is killed: a hung-task report in every execution (the hub waits 10 ms of virtual time, which passes only
// once the ioctl sleeps), named after the hub's task. Ioctl 15 waits for its URB in the same place and the unplug gives
// it back (test above, clean): only a removal that cannot finish on its own is reported.
BOOST_AUTO_TEST_CASE(a_disconnect_waiting_for_a_mutex_a_sleeping_process_holds_is_a_hung_task) {
  BOOST_TEST_REQUIRE(kRegistered);
  const std::string tasks = R"(task app {
  fd = open /dev/usb/usbapi0
  ioctl fd 31 0 => -EINTR
  close fd
}
task hub {
  sleep 10ms
  unplug usb 1-1
}
)";
  scenarios::Verdict v = run(kHead + tasks + "explore random seed=3 executions=20\n", "hung.scn");
  BOOST_TEST(v.result.executions == 20u);
  BOOST_TEST(v.result.failing_executions == 20u, failures_text(v));
  BOOST_TEST_REQUIRE(v.result.failures.size() == 1u, failures_text(v));
  const sim::Report &r = v.result.failures.front().report;
  BOOST_TEST(r.kind == "hung-task");
  BOOST_TEST(!r.fatal);
  BOOST_TEST(r.headline.find("task hub") != std::string::npos, r.headline);
  BOOST_TEST(r.headline.find("while removing a device or driver") != std::string::npos, r.headline);
  BOOST_REQUIRE(r.accessed_by.has_value());
  BOOST_TEST(sim::stack_has_function(r.accessed_by->stack, "usbapi_disconnect"));
  scenarios::Verdict expected =
      run(kHead + tasks + "expect hung-task in usbapi_disconnect\nexplore random seed=3 executions=20\n", "hung.scn");
  BOOST_TEST(expected.passed, expected.summary);
}

// Two unbinds (sysfs `unbind`, drivers/base/bus.c unbind_store -> device_release_driver): the first sleeps in
// disconnect behind the sleeping ioctl, the second behind the first's device_lock. Both are hung removals; the report
// names the one the other waits behind (the holder of its lock) and lists the other.
BOOST_AUTO_TEST_CASE(a_removal_blocked_behind_a_hung_one_is_listed_behind_it) {
  BOOST_TEST_REQUIRE(kRegistered);
  const std::string tasks = R"(task app {
  fd = open /dev/usb/usbapi0
  ioctl fd 31 0 => -EINTR
  close fd
}
task first {
  sleep 10ms
  unbind cusb_api 1-1
}
task second {
  sleep 10ms
  unbind cusb_api 1-1
}
)";
  scenarios::Verdict v = run(kHead + tasks + "explore random seed=5 executions=20\n", "hung2.scn");
  BOOST_TEST(v.result.failing_executions == 20u, failures_text(v));
  BOOST_TEST_REQUIRE(!v.result.failures.empty());
  for (const sim::Failure &f : v.result.failures) {
    BOOST_TEST(f.report.kind == "hung-task");
    BOOST_REQUIRE(f.report.accessed_by.has_value());
    BOOST_TEST(sim::stack_has_function(f.report.accessed_by->stack, "usbapi_disconnect"), f.report.headline);
    const bool listed = std::any_of(f.report.details.begin(), f.report.details.end(), [](const std::string &d) {
      return d.find("removing too, is blocked behind it in mutex device_lock") != std::string::npos;
    });
    BOOST_TEST(listed, failures_text(v));
  }
}

// Anchored URBs racing an unplug, explored with PCT (random scheduling almost never lets the ioctls finish first):
// usb_disable_interface flushes them with -ESHUTDOWN before disconnect, disconnect kills what is left anchored
// (usb_kill_anchored_urbs) and the completions free their coherent buffers. Each ioctl sees its completions, or a
// submission refused once the device is gone (-ENODEV), or (ioctl 7) the flush emptying the anchor during its 10 ms
// wait (-EBUSY); the open may come too late (then -EBADF). Nothing is reported: no URB reference of the anchor or
// the host controller is dropped twice or kept (drivers/usb/core/urb.c usb_anchor_urb/__usb_unanchor_urb, hcd.c
// __usb_hcd_giveback_urb).
BOOST_AUTO_TEST_CASE(anchored_urbs_racing_an_unplug_are_clean) {
  expect_clean(R"(task app {
  fd = open /dev/usb/usbapi0
  ioctl fd 6 3 => 3 | -ENODEV | -EBADF
  ioctl fd 7 1 => 1 | -ENODEV | -EBADF | -EBUSY
  close fd
}
task hub {
  unplug usb 1-1
}
)",
               "anchor-unplug.scn", 2000, "pct seed=3 depth=3");
}

namespace {
// The reports of kind io-after-disconnect among a verdict's failures.
std::size_t io_after_disconnect(const scenarios::Verdict &v) {
  std::size_t n = 0;
  for (const sim::Failure &f : v.result.failures)
    if (f.report.kind == "io-after-disconnect") ++n;
  return n;
}

// Runs `tasks` (20 random executions) and expects one distinct report: the io-after-disconnect one.
scenarios::Verdict expect_io_after_disconnect(const std::string &tasks, const std::string &name) {
  scenarios::Verdict v = run(kHead + tasks + "explore random seed=1 executions=20\n", name);
  BOOST_TEST(v.result.failures.size() == 1u, name << ":\n" << failures_text(v));
  BOOST_TEST(io_after_disconnect(v) == 1u, name << ":\n" << failures_text(v));
  return v;
}
}  // namespace

// Documentation/driver-api/usb/callbacks.rst, disconnect: "You are not allowed any IO to a device after returning
// from this callback." drivers/usb/core/driver.c usb_unbind_interface disables the interface's endpoints before
// disconnect (usb_disable_interface: a submission during it fails) and re-enables them after it (usb_enable_interface,
// or usb_set_interface to setting 0), so I/O a driver starts after an unbind is not refused: it reaches the device.
// Ioctl 113 is ioctl 13 (a bulk-out usb_bulk_msg) without the `disconnected` check, the bug "USB: usblcd: fix I/O
// after disconnect" fixed: reported after an unbind (the message goes through: 8 bytes sent) and after an unplug (it
// fails with -ENODEV, usb_submit_urb on a NOTATTACHED device, but the driver cannot tell the two apart). The checked
// ioctl says -ENODEV and is never reported; a driver bound again afterwards finds the endpoints enabled.
BOOST_AUTO_TEST_CASE(io_after_disconnect_is_reported_and_goes_through_after_an_unbind) {
  BOOST_TEST_REQUIRE(kRegistered);
  scenarios::Verdict unbound = expect_io_after_disconnect(R"(task app {
  fd = open /dev/usb/usbapi0
  unbind cusb_api 1-1 => 3
  ioctl fd 113 => 8
  close fd => 0
}
)",
                                                          "unbind-io.scn");
  if (!unbound.result.failures.empty()) {
    const sim::Report &r = unbound.result.failures.front().report;
    BOOST_TEST(r.headline.find("driver usbapi submitted an URB after its disconnect() returned") != std::string::npos,
               r.headline);
    BOOST_TEST(!r.fatal);
  }

  expect_io_after_disconnect(R"(task app {
  fd = open /dev/usb/usbapi0
  unplug usb 1-1 => 0
  ioctl fd 113 => -ENODEV
  close fd => 0
}
)",
                             "unplug-io.scn");

  expect_clean(R"(task app {
  fd = open /dev/usb/usbapi0
  unbind cusb_api 1-1 => 3
  ioctl fd 13 => -ENODEV
  close fd => 0
  bind cusb_api 1-1 => 3
  fd2 = open /dev/usb/usbapi0
  ioctl fd2 13 => 8
  close fd2 => 0
}
)",
               "unbind-checked.scn", 20);
}

// An URB a driver submitted after its unbind is still queued when the device is unplugged: drivers/usb/core/hub.c
// usb_disconnect -> usb_disable_device disables every endpoint of the device, bound or not, so it is given back with
// -ESHUTDOWN (usb_hcd_flush_endpoint) before the hub's reference goes. Ioctl 104 submits the interrupt-in URB without
// the check (the device sends nothing, so it waits); 103 reads its last status once the completion returned (the
// flush need not wait for a completion under way, see below; virtual time passes only when no task can run). Only
// the submission is reported.
BOOST_AUTO_TEST_CASE(an_urb_submitted_after_an_unbind_is_flushed_when_the_device_goes) {
  BOOST_TEST_REQUIRE(kRegistered);
  expect_io_after_disconnect(R"(task app {
  fd = open /dev/usb/usbapi0
  unbind cusb_api 1-1 => 3
  ioctl fd 104 => 0
  unplug usb 1-1 => 0
  sleep 1ms
  ioctl fd 103 => -ESHUTDOWN
  close fd => 0
}
)",
                             "unbind-unplug.scn");
}

// The same two ioctls racing an unbind, every schedule within the bound: the unchecked one is reported in some
// schedule (its message sent after disconnect returned), the checked one in none. During disconnect the endpoints are
// disabled (-ENOENT) or the message is flushed (-ESHUTDOWN); that is allowed.
BOOST_AUTO_TEST_CASE(io_racing_an_unbind_is_reported_only_without_the_disconnected_check) {
  BOOST_TEST_REQUIRE(kRegistered);
  auto scenario = [](int ioctl) {
    return kHead + "task app {\n  fd = open /dev/usb/usbapi0\n  ioctl fd " + std::to_string(ioctl) +
           " => 8 | -ENODEV | -ENOENT | -ESHUTDOWN | -EBADF\n  close fd\n}\ntask hub {\n  unbind cusb_api 1-1 => "
           "3\n}\nexplore exhaustive preemptions=2\n";
  };
  scenarios::Verdict unchecked = run(scenario(113), "race-unchecked.scn");
  BOOST_TEST(io_after_disconnect(unchecked) >= 1u, unchecked.summary);
  BOOST_TEST(io_after_disconnect(unchecked) == unchecked.result.failures.size(), failures_text(unchecked));
  scenarios::Verdict checked = run(scenario(13), "race-checked.scn");
  BOOST_TEST(checked.result.failures.empty(), failures_text(checked));
  BOOST_TEST(checked.passed, checked.summary);
  BOOST_TEST(checked.result.executions > 1u);
}

// The USB core's flush before disconnect waits only for the URBs still on an endpoint's queue (drivers/usb/core/hcd.c
// usb_hcd_flush_endpoint: usb_kill_urb on the last URB of ep->urb_list until the list is empty). A host controller
// driver takes an URB off the queue (usb_hcd_unlink_urb_from_ep) before usb_hcd_giveback_urb, which with HCD_BH
// only queues the completion for a tasklet: a completion under way is not waited for and may run after disconnect()
// dropped the last reference. Here the interrupt-in URB completes with an error (usb-error) while the device is
// unplugged: after ioctl 18 disconnect leaves the URB to the core (the bug the 2019 fixes across drivers/usb/misc
// removed, "setting it to NULL before making sure all completion handlers had run"), and in some schedule the
// completion writes the freed state; with usb_kill_urb in disconnect (which waits for use_count, drivers/usb/core/
// urb.c) no schedule does.
BOOST_AUTO_TEST_CASE(a_completion_under_way_is_not_waited_for_by_the_flush_before_disconnect) {
  BOOST_TEST_REQUIRE(kRegistered);
  auto scenario = [](bool no_kill) {
    return kHead + "task app {\n  fd = open /dev/usb/usbapi0\n" + (no_kill ? "  ioctl fd 18\n" : "") +
           "  ioctl fd 4\n  close fd\n}\ntask device {\n  usb-error 1-1 0x81 -EPROTO\n}\ntask hub {\n  unplug "
           "usb 1-1 => 0\n}\nexplore exhaustive preemptions=2\n";
  };
  scenarios::Verdict lazy = run(scenario(true), "flush-no-kill.scn");
  BOOST_TEST_REQUIRE(!lazy.result.failures.empty(), lazy.summary);
  bool use_after_free_in_callback = false;
  for (const auto &f : lazy.result.failures)
    if (f.report.kind == "use-after-free" && f.report.headline.find("usbapi_int_callback") != std::string::npos)
      use_after_free_in_callback = true;
  BOOST_TEST(use_after_free_in_callback, failures_text(lazy));
  scenarios::Verdict killed = run(scenario(false), "flush-kill.scn");
  BOOST_TEST(killed.result.failures.empty(), failures_text(killed));
  BOOST_TEST(killed.passed, killed.summary);
  BOOST_TEST(killed.result.executions > 100u);
}

// The mock device's descriptor is a plausible USB 2.0 device's (USB 2.0 section 9.6.1): ep0's maximum packet 64,
// bcdUSB 0x0200, bcdDevice 0x0100. Ioctl 19 packs them: 64 | 0x0200 << 8 | 0x0100 << 24.
BOOST_AUTO_TEST_CASE(the_mock_device_descriptor_is_a_usb_2_device) {
  BOOST_TEST_REQUIRE(kRegistered);
  expect_clean("task app {\n  fd = open /dev/usb/usbapi0\n  ioctl fd 19 => " +
                   std::to_string(64LL | 0x0200LL << 8 | 0x0100LL << 24) + "\n  close fd => 0\n}\n",
               "descriptor.scn", 5);
}

// Standard requests the mock device answers from its descriptors when nothing is scripted on endpoint 0 (USB 2.0
// section 9.4.3 GET_DESCRIPTOR, 9.6.1-9.6.7 the device, configuration, interface, endpoint and string descriptors),
// read with drivers/usb/core/message.c usb_get_descriptor (three tries: an answer of the wrong type, scripted here
// once, is -ENODATA and asked again) and the strings the USB core cached at enumeration (hub.c usb_enumerate_device
// -> usb_cache_string: udev->serial).
BOOST_AUTO_TEST_CASE(standard_requests_are_answered_from_the_mock_descriptors) {
  BOOST_TEST_REQUIRE(kRegistered);
  const std::string device = R"(\x12\x01\x00\x02\x00\x00\x00\x40\xf1\xff\xf1\xff\x00\x01\x01\x02\x03\x01)";
  const std::string config = R"(\x09\x02\x2e\x00\x01\x01\x00\x80\x32\x09\x04\x00\x00\x04\xff\x00\x00\x00)"
                             R"(\x07\x05\x81\x03\x08\x00\x0a\x07\x05\x82\x02\x40\x00\x00)"
                             R"(\x07\x05\x02\x02\x40\x00\x00\x07\x05\x01\x03\x08\x00\x0a)";
  std::string zeros18, zeros64;
  for (int i = 0; i < 18; ++i)
    zeros18 += R"(\x00)";
  for (int i = 0; i < 64; ++i)
    zeros64 += R"(\x00)";
  std::string config_out = config;
  for (int i = 46; i < 64; ++i)
    config_out += R"(\x00)";
  expect_clean("task app {\n  fd = open /dev/usb/usbapi0\n  ioctl fd 20 \"" + zeros18 + "\" => 18 \"" + device +
                   "\"\n  usb-data 1-1 0 \"\\x12\\x02\"\n  ioctl fd 20 \"" + zeros18 + "\" => 18 \"" + device +
                   "\"\n  ioctl fd 21 \"" + zeros64 + "\" => 46 \"" + config_out +
                   "\"\n  ioctl fd 22 \"ZZZZZZZZZZZZ\" => 10 \"devsim-1-1ZZ\"\n  close fd => 0\n}\n",
               "standard.scn", 5);
}

// The configuration the USB core made active (drivers/usb/core/message.c usb_set_configuration: udev->actconfig,
// its interfaces) and the speed the hub saw (a high-speed device: USB_SPEED_HIGH, include/uapi/linux/usb/ch9.h);
// memdup_user and memdup_user_nul as mm/util.c makes them (-EFAULT when the user range does not hold the bytes).
BOOST_AUTO_TEST_CASE(the_active_configuration_and_memdup_user) {
  BOOST_TEST_REQUIRE(kRegistered);
  expect_clean("task app {\n  fd = open /dev/usb/usbapi0\n  ioctl fd 23 => " +
                   std::to_string(3 | 50 << 8 | 1 << 16 | 1 << 17) +
                   "\n  ioctl fd 24 \"abcdefgh\" => 8\n  ioctl fd 24 \"ab\\x00defgh\" => 2\n"
                   "  ioctl fd 24 \"abc\" => -EFAULT\n  close fd => 0\n}\n",
               "config.scn", 5);
}

// A class devnode callback of before Linux 6.2 (`struct device *`, not const): cusb_script is the test module
// built with one (USBAPI_OLD_DEVNODE); its node is where the callback says.
BOOST_AUTO_TEST_CASE(a_devnode_callback_of_before_6_2_names_the_node) {
  const scenarios::Verdict v =
      run("driver cusb_script\ndevice usb 1-1 cusb_script\ntask app {\n"
          "  fd = open /dev/usb/usbapi0 => 3\n  close fd => 0\n}\n"
          "explore random seed=1 executions=5\n",
          "old-devnode.scn");
  BOOST_TEST(v.passed, failures_text(v));
  BOOST_TEST(v.result.executions == 5u);
}

// drivers/usb/core/urb.c usb_submit_urb: a control URB whose pipe direction is not its request's (an IN request with
// a data stage sent on an OUT pipe) is the kernel's dev_WARN_ONCE "BOGUS control dir"; a request without a data
// stage counts as OUT whatever its direction bit (trancevibrator.c's set-speed request, USB_DIR_IN with wLength 0 on
// an OUT pipe, is not warned about).
BOOST_AUTO_TEST_CASE(a_control_request_on_a_pipe_of_the_other_direction_is_warned_about) {
  BOOST_TEST_REQUIRE(kRegistered);
  const scenarios::Verdict v = run(kHead +
                                       "task app {\n  fd = open /dev/usb/usbapi0\n  ioctl fd 25 => 4\n"
                                       "  close fd => 0\n}\nexplore random seed=1 executions=3\n",
                                   "bogus-dir.scn");
  BOOST_TEST(v.result.failing_executions == 3u);
  BOOST_TEST_REQUIRE(v.result.failures.size() == 1u);
  BOOST_TEST(v.result.failures.front().report.kind == "warning");
  BOOST_TEST(v.result.failures.front().report.headline.find("BOGUS control dir") != std::string::npos,
             v.result.failures.front().report.headline);
}

// drivers/usb/core/hcd.c usb_hcd_map_urb_for_dma: a transfer buffer or a setup packet on the calling task's stack
// (object_is_on_stack; a vmalloc'd stack, CONFIG_VMAP_STACK, cannot be mapped for DMA) is refused with -EAGAIN and
// a WARN_ONCE, for a synchronous message (usb_control_msg, usb_bulk_msg) as for an URB the driver submits.
BOOST_AUTO_TEST_CASE(a_transfer_buffer_or_setup_packet_on_the_stack_is_refused) {
  BOOST_TEST_REQUIRE(kRegistered);
  const std::pair<int, std::string_view> cases[] = {
      {26, "transfer buffer is on stack"}, {27, "transfer buffer is on stack"}, {28, "setup packet is on stack"}};
  for (const auto &[command, warning] : cases) {
    const scenarios::Verdict v =
        run(kHead + "task app {\n  fd = open /dev/usb/usbapi0\n  ioctl fd " + std::to_string(command) +
                " => -EAGAIN\n  close fd => 0\n}\nexplore random seed=1 executions=3\n",
            "stack-buffer.scn");
    BOOST_TEST(v.result.failing_executions == 3u, command);
    BOOST_TEST_REQUIRE(v.result.failures.size() == 1u, command);
    BOOST_TEST(v.result.failures.front().report.kind == "warning");
    BOOST_TEST(v.result.failures.front().report.headline.find(warning) != std::string::npos,
               v.result.failures.front().report.headline);
  }
}

// drivers/usb/core/message.c usb_control_msg_send/usb_control_msg_recv (Linux 5.10): the data goes through a kmalloc'd
// buffer, so a caller's on its stack is fine; a short answer to a receive is -EREMOTEIO.
BOOST_AUTO_TEST_CASE(control_messages_through_a_buffer_of_their_own) {
  expect_clean(R"(task app {
  fd = open /dev/usb/usbapi0
  usb-data 1-1 0 "\x34\x12"
  ioctl fd 29 => 4660
  usb-data 1-1 0 "\x01"
  ioctl fd 29 => -EREMOTEIO
  ioctl fd 30 => 0
  close fd => 0
}
)",
               "control-messages.scn", 3);
}

// Device attributes (drivers/base/core.c device_create_file, dev_attr_show/store; fs/sysfs/file.c sysfs_kf_seq_show,
// kernfs_fop_write_iter) of the interface, in its directory 1-1:1.0 inside its device's (drivers/usb/core/message.c
// usb_set_configuration names it "%d-%s:%d.%d", bus, devpath, configuration, interface), not in the device's own:
// the test module's `level` comes from its usb_driver's dev_groups (drivers/base/dd.c
// really_probe adds them after probe), `reads` from device_create_file in probe. show fills a page, store gets the
// value with a NUL after it; a read-only attribute refuses a write (fs/kernfs/file.c kernfs_fop_open: -EACCES); an
// attribute its group's is_visible says 0 for is not created (fs/sysfs/group.c create_files); a named group is a
// subdirectory (sysfs_create_group). Of alternatives with the same result, the one whose bytes match accepts it. The
// class device usb_register_dev makes (drivers/usb/core/file.c: device_create in usb_class, "usbmisc", with
// MKDEV(USB_MAJOR, minor)) has its directory in the interface's, its "dev" attribute, and `minor`, which the module
// adds to it (intf->usb_dev).
BOOST_AUTO_TEST_CASE(device_attributes_and_dev_groups_are_files_of_the_device) {
  BOOST_TEST_REQUIRE(kRegistered);
  expect_clean(R"(task app {
  sysfs-read /sys/bus/usb/devices/1-1:1.0/level => 2 "0\n"
  sysfs-read /sys/bus/usb/devices/1-1/level => -ENOENT
  sysfs-read /sys/bus/usb/devices/1-1/1-1:1.0/level => 2 "0\n"
  sysfs-write /sys/bus/usb/devices/1-1:1.0/level 42 => 2
  sysfs-read /sys/bus/usb/devices/1-1:1.0/level => 3 "42\n"
  sysfs-read /sys/bus/usb/devices/1-1:1.0/level => 3 "41\n" | 3 "42\n" | -ENODEV
  sysfs-write /sys/bus/usb/devices/1-1:1.0/level x => -EINVAL
  sysfs-read /sys/bus/usb/devices/1-1:1.0/reads => 2 "1\n"
  sysfs-read /sys/bus/usb/devices/1-1:1.0/reads => 2 "2\n"
  sysfs-write /sys/bus/usb/devices/1-1:1.0/reads 1 => -EACCES
  sysfs-read /sys/bus/usb/devices/1-1:1.0/nothing => -ENOENT
  sysfs-read /sys/bus/usb/devices/1-1:1.0/hidden => -ENOENT
  sysfs-read /sys/bus/usb/devices/1-1:1.0/more/reads => 2 "3\n"
  sysfs-read /sys/bus/usb/devices/1-1:1.0/usbmisc/usbapi0/dev => 8 "180:200\n"
  sysfs-read /sys/class/usbmisc/usbapi0/dev => 8 "180:200\n"
  sysfs-read /sys/class/usbmisc/usbapi0/minor => 4 "200\n"
}
)",
               "attributes.scn", 5);
}

// An attribute's show racing the device's removal (kernfs's active protection, fs/kernfs/dir.c kernfs_drain): the
// driver removes `reads` in disconnect before it drops its state, the core removes dev_groups before disconnect;
// removal waits for a show in flight and refuses one after it began, so no schedule reaches freed memory.
BOOST_AUTO_TEST_CASE(an_attribute_read_racing_an_unplug_never_reaches_freed_state) {
  BOOST_TEST_REQUIRE(kRegistered);
  const scenarios::Verdict v = run(kHead + R"(task reader {
  sysfs-read /sys/bus/usb/devices/1-1:1.0/reads => 2 "1\n" | -ENOENT | -ENODEV
  sysfs-read /sys/bus/usb/devices/1-1:1.0/level => 2 "0\n" | -ENOENT | -ENODEV
}
task hub {
  unplug usb 1-1 => 0
}
explore exhaustive preemptions=2
)",
                                   "attribute-unplug.scn");
  BOOST_TEST(v.result.exhausted);
  BOOST_TEST(v.result.executions > 10u);
  BOOST_TEST(v.result.failures.empty(), failures_text(v));
  BOOST_TEST(v.passed, v.summary);
}

// The fuzzer reads and writes a driver's own attributes, which a C driver makes at run time (dev_groups, probe): it
// finds them by plugging the driver's device once (fuzz::device_attributes), is_visible's choice and named groups
// included, in the interface's directory (named from the device's), and its cases then use them.
BOOST_AUTO_TEST_CASE(the_fuzzer_reads_and_writes_the_attributes_a_driver_made) {
  BOOST_TEST_REQUIRE(kRegistered);
  const std::vector<std::string> want{"1-1:1.0/level", "1-1:1.0/more/reads", "1-1:1.0/reads"};
  BOOST_TEST(fuzz::device_attributes("cusb_api") == want);
  const drivers::DriverInfo *d = drivers::find_driver("cusb_api");
  BOOST_TEST_REQUIRE(d != nullptr);
  bool read = false, wrote = false;
  for (std::uint64_t seed = 1; seed <= 300 && !(read && wrote); ++seed) {
    const std::string text = scenarios::to_text(fuzz::generate(*d, seed));
    read = read || text.find("sysfs-read /sys/bus/usb/devices/1-1/1-1:1.0/more/reads") != std::string::npos;
    wrote = wrote || text.find("sysfs-write /sys/bus/usb/devices/1-1/1-1:1.0/level ") != std::string::npos;
  }
  BOOST_TEST(read);
  BOOST_TEST(wrote);
}

// usb_string (drivers/usb/core/message.c usb_string, usb_get_langid, usb_string_sub, usb_get_string; fs/nls/nls_base.c
// utf16s_to_utf8s): the first call asks string descriptor 0 for the language; a descriptor the device does not have
// stalls, asked three times at 255 bytes and three at 2 (-EPIPE); text is UTF-8, cut to the buffer; a scripted answer
// (after the language is known) is what the driver reads: U+00E9 and U+1F600, a surrogate pair.
BOOST_AUTO_TEST_CASE(usb_string_asks_the_language_first_and_converts_utf16) {
  BOOST_TEST_REQUIRE(kRegistered);
  const std::string z = "\"ZZZZZZZZZZZZZZZZ\"";
  expect_clean(
      "task app {\n  fd = open /dev/usb/usbapi0\n"
      "  ioctl fd 43 " +
          z +
          " => 10 \"devsim-1-1\\x00ZZZZZ\"\n"
          "  ioctl fd 42 " +
          z +
          " => 15 \"devsim mock USB\\x00\"\n"
          "  ioctl fd 45 " +
          z +
          " => -EPIPE\n"
          "  usb-data 1-1 0 \"\\x0a\\x03h\\x00\\xe9\\x00\\x3d\\xd8\\x00\\xde\"\n"
          "  ioctl fd 41 " +
          z +
          " => 7 \"h\\xc3\\xa9\\xf0\\x9f\\x98\\x80\\x00ZZZZZZZZ\"\n"
          "  close fd => 0\n}\n",
      "strings.scn", 5);
  // A device that stalls string descriptor 0 has no strings: usb_get_langid asks it six times, then never again
  // (the data scripted after is left for the next control transfer, the vendor request of ioctl 11).
  std::string errors;
  for (int i = 0; i < 6; ++i)
    errors += "  usb-error 1-1 0 -EPIPE\n";
  expect_clean("task app {\n  fd = open /dev/usb/usbapi0\n" + errors + "  ioctl fd 43 " + z +
                   " => -EPIPE\n  usb-data 1-1 0 \"\\x01\\x02\"\n  ioctl fd 43 " + z +
                   " => -EPIPE\n  ioctl fd 11 \"\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\" => 2 "
                   "\"\\x01\\x02\\x00\\x00\\x00\\x00\\x00\\x00\"\n  close fd => 0\n}\n",
               "no-strings.scn", 5);
}

// Shrinking a finding that needs a rare interleaving (the completion above, preempted inside its handler by the whole
// unplug: 1 execution in hundreds of random ones): once an operation is dropped the recorded schedule no longer fits
// (tasks are renumbered) and a few random schedules of the candidate miss the bug, so the shrinker also searches every
// schedule of the candidate within two preemptions (fuzz/fuzzer.cpp rediscover). The task that only opens and
// closes the node goes; what the bug needs stays.
BOOST_AUTO_TEST_CASE(shrinking_keeps_going_when_the_bug_needs_a_rare_schedule) {
  BOOST_TEST_REQUIRE(kRegistered);
  const std::string body = R"(task other {
  fd = open /dev/usb/usbapi0
  close fd
}
task app {
  fd = open /dev/usb/usbapi0
  ioctl fd 18
  ioctl fd 4
  close fd
}
task device {
  usb-error 1-1 0x81 -EPROTO
}
task hub {
  unplug usb 1-1
}
)";
  const scenarios::Scenario failing = scenarios::parse_scenario(kHead + body, "rare.scn");
  scenarios::Overrides o;
  o.strategy = sim::StrategyKind::Exhaustive;
  o.preemptions = 2;
  const scenarios::Verdict v = scenarios::run_scenario(failing, o);
  const sim::Failure *uaf = nullptr;
  for (const auto &f : v.result.failures)
    if (f.report.kind == "use-after-free" && uaf == nullptr) uaf = &f;
  BOOST_TEST_REQUIRE(uaf != nullptr, failures_text(v));
  const fuzz::ShrinkResult r = fuzz::shrink(failing, uaf->report, fuzz::CaseSettings{});
  BOOST_TEST(r.shrunk, r.note);
  BOOST_TEST(r.ops_after < fuzz::count_ops(failing), r.reproducer);
  BOOST_TEST(r.reproducer.find("task other") == std::string::npos, r.reproducer);
  const scenarios::Verdict again = run(r.reproducer, "rare-repro.scn");
  BOOST_TEST(!again.result.failures.empty(), again.summary);
}

// The device side of the language: usb-data takes an optional endpoint, usb-error an endpoint and a status; bad
// input is a FILE:LINE:COL error; the writer writes both back to the same text (the fuzzer's reproducers).
BOOST_AUTO_TEST_CASE(usb_error_and_usb_data_endpoints_parse_and_write_back) {
  const std::string text = kHead + R"(task dev {
  usb-data 1-1 "ab"
  usb-data 1-1 0x82 "cd"
  usb-data 1-1 0 "e"
  usb-error 1-1 0x81 -EPROTO
  usb-error 1-1 2 -EPIPE
  usb-error 1-1 0 -ETIME
}
)";
  scenarios::Scenario s = scenarios::parse_scenario(text, "t.scn");
  const auto &ops = s.tasks.at(0).ops;
  BOOST_TEST_REQUIRE(ops.size() == 6u);
  BOOST_TEST(ops[0].arg == 0x81u);
  BOOST_TEST(ops[1].arg == 0x82u);
  BOOST_TEST(ops[2].arg == 0u);
  BOOST_TEST((ops[3].kind == scenarios::OpKind::UsbError));
  BOOST_TEST(ops[3].number == 71u);
  BOOST_TEST(ops[4].arg == 0x02u);
  const std::string written = scenarios::to_text(s);
  BOOST_TEST(written.find("usb-data 1-1 \"ab\"") != std::string::npos, written);
  BOOST_TEST(written.find("usb-data 1-1 0x82 \"cd\"") != std::string::npos, written);
  BOOST_TEST(written.find("usb-error 1-1 0x02 -EPIPE") != std::string::npos, written);
  BOOST_TEST(written.find("usb-error 1-1 0 -ETIME") != std::string::npos, written);
  BOOST_TEST(scenarios::to_text(scenarios::parse_scenario(written, "w.scn")) == written);

  const std::string head = kHead + "task dev {\n";
  BOOST_TEST(error_of(head + "  usb-error 1-1 0x83 -EPROTO\n}\n") ==
             "t.scn:4:17: the mock USB device has no endpoint '0x83': its endpoints are 0 (control), 0x81 "
             "(interrupt-in), 0x82 (bulk-in), 0x02 (bulk-out) and 0x01 (interrupt-out)");
  BOOST_TEST(error_of(head + "  usb-error 1-1 0x81 -EBADF\n}\n").starts_with("t.scn:4:22: expected an URB status"));
  BOOST_TEST(error_of(head + "  usb-error 1-1 0x81\n}\n") == "t.scn:4:21: expected an URB status like -EPROTO");
  BOOST_TEST(error_of(head + "  usb-error 1-1\n}\n") ==
             "t.scn:4:16: expected an endpoint (0, 0x81, 0x82, 0x02 or 0x01)");
  BOOST_TEST(error_of(head + "  usb-error 1-1 0x81 -EPROTO x\n}\n") == "t.scn:4:30: unexpected 'x'");
  BOOST_TEST(error_of(head + "  usb-data 1-1 0x02 \"a\"\n}\n") ==
             "t.scn:4:16: usb-data sends on an IN endpoint (0x81, 0x82) or the control endpoint (0); 0x02 is an "
             "OUT endpoint");
  BOOST_TEST(error_of(head + "  usb-data 1-1 1 \"a\"\n}\n") ==
             "t.scn:4:16: usb-data sends on an IN endpoint (0x81, 0x82) or the control endpoint (0); 1 is an OUT "
             "endpoint");
  BOOST_TEST(error_of(head + "  usb-data 1-1 0x82\n}\n") ==
             "t.scn:4:20: expected the bytes the device sends, quoted (\"...\")");
}

// A device plugged as "usb:vVVVVpPPPP" has those ids in its descriptor and binds the driver whose id table matches
// them (drivers/usb/core/driver.c usb_match_device: only the fields match_flags names count, so a vendor-only entry
// takes every product of that vendor; scripts/mod/file2alias.c writes such an entry's alias as "usb:vVVVVp*").
BOOST_AUTO_TEST_CASE(a_device_binds_the_driver_whose_id_table_matches_its_ids) {
  BOOST_TEST_REQUIRE(kRegistered);
  const std::string tasks = "task app {\n  fd = open /dev/usb/usbapi0\n  close fd\n}\n";
  for (const char *alias : {"usb:vFFF1pFFF1", "usb:vFFF2p0042", "usb:vfff2p0001"}) {
    scenarios::Verdict v = run(std::string("driver cusb_api\ndevice usb 1-1 ") + alias + "\n" + tasks, alias);
    BOOST_TEST(v.passed, alias << ": " << v.summary << "\n" << failures_text(v));
  }
  // Nothing matches vendor 0xfff3: no driver binds, so there is no node to open.
  scenarios::Verdict unbound =
      run("driver cusb_api\ndevice usb 1-1 usb:vFFF3pFFF1\ntask app {\n  open /dev/usb/usbapi0 => -ENOENT\n}\n",
          "unbound.scn");
  BOOST_TEST(unbound.passed, unbound.summary << "\n" << failures_text(unbound));
  // Entries with interface fields (include/linux/usb.h USB_DEVICE_AND_INTERFACE_INFO, USB_INTERFACE_INFO) match the
  // class, subclass and protocol of the device's interface, which the modalias sets in the kernel's notation
  // (drivers/usb/core/message.c usb_if_uevent: "icXXiscXXipXX"; without them the interface is vendor-specific, 0xff);
  // drivers/usb/core/driver.c usb_match_one_id_intf compares them.
  for (const char *alias : {"usb:vFFF4p0001ic0Aisc00ip00", "usb:vFFF4p0001ic0A", "usb:v1234p5678ic07isc01ip02"}) {
    scenarios::Verdict v = run(std::string("driver cusb_api\ndevice usb 1-1 ") + alias + "\n" + tasks, alias);
    BOOST_TEST(v.passed, alias << ": " << v.summary << "\n" << failures_text(v));
  }
  for (const char *alias : {"usb:vFFF4p0001", "usb:vFFF4p0001ic0Aisc01", "usb:v1234p5678ic07", "usb:vFFF5p0001ic0A"}) {
    scenarios::Verdict v = run(std::string("driver cusb_api\ndevice usb 1-1 ") + alias +
                                   "\ntask app {\n  open /dev/usb/usbapi0 => -ENOENT\n}\n",
                               alias);
    BOOST_TEST(v.passed, alias << ": " << v.summary << "\n" << failures_text(v));
  }
  BOOST_TEST(error_of("device usb 1-1 usb:vFFF1pFFF1ic0\ntask a {\n  yield\n}\n").find("unknown driver") !=
             std::string::npos);
  BOOST_TEST(error_of("device usb 1-1 usb:vFFF1pFFF1ip02\ntask a {\n  yield\n}\n").find("unknown driver") !=
             std::string::npos);
  // A USB id alias on a platform device is an input error, at its position.
  BOOST_TEST(error_of("device platform p0 usb:vFFF1pFFF1\ntask a {\n  yield\n}\n") ==
             "t.scn:1:20: a usb:vVVVVpPPPP modalias is a USB device's; this device is on the platform bus");
  // Not a USB id alias: still an unknown driver.
  BOOST_TEST(error_of("device usb 1-1 usb:vFFF1pFFF\ntask a {\n  yield\n}\n").find("unknown driver") !=
             std::string::npos);
}

// What a device does first (usb-data/usb-error lines after its `device` line): scripted when set-up plugs it, before
// its probe runs, so a probe's control transfers find their answers (legousbtower.c asks the tower's firmware
// version and refuses the device on a short answer); what the probe does not take waits for the tasks. Written back
// after the device line. A script for a port no device line above declares, or one with an expected result, is an
// error.
BOOST_AUTO_TEST_CASE(a_device_script_is_there_before_the_probe) {
  BOOST_TEST_REQUIRE(kRegistered);
  const std::string script = "usb-data 1-1 0 \"\\x01\\x02\"\nusb-error 1-1 0x82 -EPROTO\n";
  const std::string text = kHead + script + R"(
task app {
  fd = open /dev/usb/usbapi0
  ioctl fd 11 "\x00\x00\x00\x00\x00\x00\x00\x00" => 2 "\x01\x02\x00\x00\x00\x00\x00\x00"
  ioctl fd 9 "\x00\x00\x00\x00\x00\x00\x00\x00" => -EPROTO
  ioctl fd 11 "\x00\x00\x00\x00\x00\x00\x00\x00" => 0 "\x00\x00\x00\x00\x00\x00\x00\x00"
  close fd
}
)";
  const scenarios::Verdict v = run(text + "explore random seed=3 executions=50\n", "script.scn");
  BOOST_TEST(v.result.executions == 50u);
  BOOST_TEST(v.passed, failures_text(v));
  const std::string written = scenarios::to_text(scenarios::parse_scenario(text, "t.scn"));
  BOOST_TEST(written.find("device usb 1-1 cusb_api\n" + script) != std::string::npos, written);
  BOOST_TEST(scenarios::to_text(scenarios::parse_scenario(written, "w.scn")) == written);
  BOOST_TEST(error_of("driver cusb_api\nusb-data 1-1 \"a\"\n") ==
             "t.scn:2:10: no usb device '1-1' is declared above (`device usb 1-1 MODALIAS`)");
  BOOST_TEST(error_of(kHead + "usb-error 1-1 0 -EPIPE => 0\n") ==
             "t.scn:3:1: a device's script has no expected result ('=>'): it runs at set-up");
  // The device holds 16 transfers per endpoint (bus::kUsbDeviceQueueDepth): a 17th for one endpoint is refused where
  // it is written, not dropped at plug; other endpoints count apart.
  std::string full = kHead;
  for (int i = 0; i < 16; ++i)
    full += "usb-data 1-1 0 \"x\"\nusb-error 1-1 0x82 -EPROTO\n";
  BOOST_TEST(error_of(full + "task a {\n  yield\n}\n") == "(parsed)");
  BOOST_TEST(error_of(full + "usb-error 1-1 0x82 -EPIPE\n") ==
             "t.scn:35:1: a device script holds at most 16 transfers for one endpoint (the mock device's queue); "
             "endpoint 0x82 of 1-1 has more: send the rest from a task");
}

// devsim_add_c_driver's DEVICE_SCRIPT (cmake/DevsimCDriver.cmake) embeds the file byte for byte: its comments hold a
// raw string's end, a generator expression and a CMake variable reference, none of which may reach the generated
// registration as syntax.
BOOST_AUTO_TEST_CASE(a_device_script_file_is_embedded_byte_for_byte) {
  std::ifstream in(DEVSIM_HOSTILE_SCRIPT, std::ios::binary);
  const std::string file{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  BOOST_TEST_REQUIRE(file.find(")devsim_script\"") != std::string::npos);
  const drivers::DriverInfo *d = drivers::find_driver("cusb_script");
  BOOST_TEST_REQUIRE(d != nullptr);
  BOOST_TEST(d->device_script == file);
}
