// The fuzzer: every buggy driver's bug is found and shrunk to a reproducer that replays; the generator emits
// every operation of the language; munmap of an unmapped descriptor drops no reference; shrinking starts from
// the recorded schedule; findings are deduplicated by root cause; a campaign is deterministic; and the fixed
// drivers loaded together give no report.
#define BOOST_TEST_MODULE fuzz
#include <boost/test/unit_test.hpp>
#include <set>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "fuzz/designed_outcome.hpp"
#include "fuzz/fuzzer.hpp"
#include "scenarios/parser.hpp"
#include "scenarios/runner.hpp"
#include "scenarios/writer.hpp"

using namespace devsim;

namespace {

constexpr std::uint64_t kBudget = 40'000;  // executions per buggy driver

// A test driver whose node can be mapped (no shipped driver implements mmap): a platform device with a cdev
// whose file operations touch no driver memory, so any report in its scenarios is the VFS's own doing.
int mapper_mmap(bus::File&) {
  return 0;
}
const bus::FileOperations kMapperFops{nullptr, nullptr, nullptr, nullptr, nullptr, mapper_mmap, nullptr};
int mapper_probe(bus::CoreContext& ctx) {
  bus::Cdev* cdev = bus::cdev_alloc(&kMapperFops);
  int r = bus::cdev_add(*cdev, "fuzzmap0", &ctx.device());
  if (r != 0) {
    bus::cdev_del(*cdev);
    return r;
  }
  ctx->set_drvdata(cdev);
  return 0;
}
void mapper_remove(bus::CoreContext& ctx) {
  bus::cdev_del(*static_cast<bus::Cdev*>(ctx->drvdata()));
}
drivers::DriverInfo mapper_info() {
  drivers::DriverInfo info;
  info.name = "fuzz_test_mapper";
  info.bus = "platform";
  info.summary = "a test driver whose node can be mapped";
  info.node = "fuzzmap0";
  info.ops = [] { return bus::DriverOps{"fuzz_test_mapper", "platform", {}, mapper_probe, mapper_remove}; };
  return info;
}

bool replays_to(const std::string& reproducer, const std::string& key, const std::string& name) {
  scenarios::Scenario repro = scenarios::parse_scenario(reproducer, name);
  BOOST_TEST_REQUIRE(repro.schedule.has_value());
  scenarios::Verdict v = scenarios::run_scenario(repro);
  // Its schedule must fit: a replay that left it reports what default choices led to, not the recorded execution.
  BOOST_TEST(v.divergence.empty(), name << ": " << v.divergence);
  if (!v.divergence.empty()) return false;
  for (const sim::Failure& f : v.result.failures)
    if (fuzz::root_cause(f.report) == key) return true;
  return false;
}

std::vector<std::string> fixed_drivers() {
  std::vector<std::string> out;
  for (const drivers::DriverInfo& d : drivers::all_drivers())
    if (!d.buggy) out.push_back(d.name);
  return out;
}

using fuzz::designed_outcome;

}  // namespace

DEVSIM_REGISTER_DRIVER(mapper_info)

BOOST_AUTO_TEST_CASE(every_buggy_driver_is_found_and_shrunk) {
  int drivers_checked = 0;
  for (const drivers::DriverInfo& d : drivers::all_drivers()) {
    if (!d.buggy) continue;
    ++drivers_checked;
    BOOST_TEST_CONTEXT("driver " << d.name << " (" << d.race << ", " << d.bug_kind << ")") {
      fuzz::CampaignOptions o;
      o.driver = d.name;
      o.seed = 1;
      o.executions = kBudget;
      fuzz::CampaignResult r = fuzz::run_campaign(o);
      const fuzz::Finding* hit = nullptr;
      for (const fuzz::Finding& f : r.findings)
        if (f.report.kind == d.bug_kind && hit == nullptr) hit = &f;
      BOOST_TEST_REQUIRE(hit != nullptr, "no " << d.bug_kind << " in " << r.executions << " executions");
      BOOST_TEST(hit->shrunk, hit->note);
      BOOST_TEST(hit->ops_after <= 12u);
      BOOST_TEST(replays_to(hit->reproducer, hit->key, d.name + "-repro.scn"));
      // Every finding, not only the declared one, ends with a reproducer that replays.
      for (const fuzz::Finding& f : r.findings) {
        BOOST_TEST(!f.reproducer.empty());
        BOOST_TEST(replays_to(f.reproducer, f.key, d.name + "-repro.scn"), f.report.headline);
      }
      BOOST_TEST_MESSAGE(d.name << ": found after " << hit->first_execution << " executions, " << hit->ops_before
                                << " -> " << hit->ops_after << " operations");
    }
  }
  BOOST_TEST(drivers_checked > 0);
}

// Every operation of the language (every OpKind the parser names) appears in generated cases: an operation
// added to the language without generator support fails here.
BOOST_AUTO_TEST_CASE(generator_emits_every_operation) {
  std::set<std::string> language;
  for (int k = 0; k < 256; ++k) {
    std::string_view name = scenarios::to_string(static_cast<scenarios::OpKind>(k));
    if (name == "?") break;
    language.insert(std::string(name));
  }
  BOOST_TEST(language.size() >= 19u);
  std::vector<const drivers::DriverInfo*> pool;
  for (const drivers::DriverInfo& d : drivers::all_drivers())
    pool.push_back(&d);
  std::set<std::string> single, multi;
  std::size_t most_drivers = 0;
  for (std::uint64_t seed = 1; seed <= 3000; ++seed) {
    scenarios::Scenario s = fuzz::generate(*drivers::find_driver("r01_unplug_open_fixed"), seed);
    for (const scenarios::Task& t : s.tasks)
      for (const scenarios::Op& op : t.ops)
        single.insert(std::string(scenarios::to_string(op.kind)));
    scenarios::Scenario m = fuzz::generate_case(pool, seed);
    most_drivers = std::max(most_drivers, m.drivers.size());
    for (const scenarios::Task& t : m.tasks)
      for (const scenarios::Op& op : t.ops)
        multi.insert(std::string(scenarios::to_string(op.kind)));
  }
  for (const std::string& op : language) {
    BOOST_TEST(single.count(op) == 1u, "one-driver cases never emit '" << op << "'");
    BOOST_TEST(multi.count(op) == 1u, "multi-driver cases never emit '" << op << "'");
  }
  // Several drivers per case, and now and then the whole pool.
  BOOST_TEST(most_drivers == pool.size());

  // A C driver's ioctl and write get user bytes to copy (its struct argument, its input), not only numbers.
  std::size_t ioctls_with_bytes = 0, writes_with_bytes = 0;
  for (std::uint64_t seed = 1; seed <= 300; ++seed)
    for (const scenarios::Task& t : fuzz::generate(*drivers::find_driver("cmisc_mailbox_fixed"), seed).tasks)
      for (const scenarios::Op& op : t.ops) {
        if (op.kind == scenarios::OpKind::Ioctl && op.data && !op.data->empty()) ++ioctls_with_bytes;
        if (op.kind == scenarios::OpKind::Write && op.data && op.data->size() == op.number) ++writes_with_bytes;
      }
  BOOST_TEST(ioctls_with_bytes > 0u);
  BOOST_TEST(writes_with_bytes > 0u);
}

// A driver that names the ids its devices have (DriverInfo::modalias, devsim_add_c_driver's DEVICE_ID: a probe that
// checks the product, as usblcd.c's does) is plugged with them, in the case's devices and in its plug operations; one
// that does not is plugged with its name.
BOOST_AUTO_TEST_CASE(devices_are_plugged_with_the_drivers_ids) {
  drivers::DriverInfo with_ids = *drivers::find_driver("cusb_skel_fixed");
  BOOST_TEST_REQUIRE(with_ids.modalias.empty());
  with_ids.modalias = "usb:v10D2p0001";
  std::size_t plugs = 0;
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    const scenarios::Scenario s = fuzz::generate(with_ids, seed);
    BOOST_TEST_REQUIRE(s.devices.size() == 1u);
    BOOST_TEST(s.devices.front().modalias == "usb:v10D2p0001");
    for (const scenarios::Task& t : s.tasks)
      for (const scenarios::Op& op : t.ops)
        if (op.kind == scenarios::OpKind::Plug) {
          ++plugs;
          BOOST_TEST(op.c == "usb:v10D2p0001");
        }
    BOOST_TEST(fuzz::generate(*drivers::find_driver("cusb_skel_fixed"), seed).devices.front().modalias ==
               "cusb_skel_fixed");
  }
  BOOST_TEST(plugs > 0u);
}

// munmap of a descriptor with no mapping: the kernel finds no VMA and unmaps nothing, so no file reference
// goes (-EBADF when the unplug won and the open failed). Kernel: mm/nommu.c do_munmap (no VMA: -EINVAL); mm/mmap.c
// do_munmap and mm/vma.c do_vmi_munmap (the MAP_FAILED a program that never mapped holds is not page aligned: -EINVAL).
// Before the fix this sequence dropped the descriptor's reference and reported a use-after-free in the ioctl on a fixed
// driver.
BOOST_AUTO_TEST_CASE(munmap_without_a_mapping_is_einval_and_drops_nothing) {
  const char* text =
      "driver r01_unplug_open_fixed\n"
      "device usb 1-1 r01_unplug_open_fixed\n"
      "task app {\n"
      "  fd = open /dev/skel0\n"
      "  munmap fd => -EINVAL | -EBADF\n"
      "  munmap fd => -EINVAL | -EBADF\n"
      "  ioctl fd GET_VALUE 0\n"
      "  close fd => 0 | -EBADF\n"
      "}\n"
      "task hub {\n"
      "  unplug usb 1-1\n"
      "}\n"
      "explore exhaustive preemptions=2\n";
  scenarios::Verdict v = scenarios::run_scenario(scenarios::parse_scenario(text, "munmap.scn"));
  BOOST_TEST(v.passed, v.summary);
  BOOST_TEST(v.result.failures.empty());
  BOOST_TEST(v.result.exhausted);
}

// A mapping holds a file reference until its munmap (0); a second munmap finds none (-EINVAL); a mapping
// outlives the descriptor's close; and a process that exits with a mapping unmaps it (do_exit: exit_mm before
// exit_files), so nothing leaks.
BOOST_AUTO_TEST_CASE(mappings_hold_a_reference_until_unmapped_or_exit) {
  const char* text =
      "driver fuzz_test_mapper\n"
      "device platform fuzz_test_mapper0 fuzz_test_mapper\n"
      "task a {\n"
      "  fd = open /dev/fuzzmap0\n"
      "  mmap fd => 0\n"
      "  munmap fd => 0\n"
      "  munmap fd => -EINVAL\n"
      "  close fd => 0\n"
      "}\n"
      "task b {\n"
      "  fd = open /dev/fuzzmap0\n"
      "  mmap fd => 0\n"
      "  close fd => 0\n"
      "  munmap fd => 0\n"
      "}\n"
      "task c {\n"
      "  fd = open /dev/fuzzmap0\n"
      "  mmap fd => 0\n"
      "  mmap fd => 0\n"
      "}\n"
      "explore random executions=300 seed=1\n";
  scenarios::Verdict v = scenarios::run_scenario(scenarios::parse_scenario(text, "mapper.scn"));
  BOOST_TEST(v.passed, v.summary);
  BOOST_TEST(v.result.failures.empty());
  BOOST_TEST(v.result.executions == 300u);
}

// The seeds of the report in issue 12: the campaign used to end with "could not be reproduced". Shrinking now
// starts by replaying the recorded schedule, so every finding ends with a shrunk reproducer that replays.
BOOST_AUTO_TEST_CASE(shrinking_starts_from_the_recorded_schedule) {
  for (std::uint64_t seed : {9002, 9003}) {
    BOOST_TEST_CONTEXT("r10_lookup_table_buggy, seed " << seed) {
      fuzz::CampaignOptions o;
      o.driver = "r10_lookup_table_buggy";
      o.seed = seed;
      o.executions = 20'000;
      o.jobs = 2;
      fuzz::CampaignResult r = fuzz::run_campaign(o);
      BOOST_TEST_REQUIRE(!r.findings.empty());
      for (const fuzz::Finding& f : r.findings) {
        BOOST_TEST(f.shrunk, f.report.headline << ": " << f.note);
        BOOST_TEST(f.note.empty());
        BOOST_TEST(replays_to(f.reproducer, f.key, "r10.scn"), f.report.headline);
      }
    }
  }
}

// One root cause, one finding: keys are unique, each finding's access sites are listed under it, and a bug
// reached through several code paths is one finding with several access sites.
BOOST_AUTO_TEST_CASE(findings_are_deduplicated_by_root_cause) {
  std::size_t with_several_sites = 0, findings = 0;
  for (const char* driver : {"r13_multi_cdev_buggy", "r15_event_queue_buggy", "r09_rcu_config_buggy"}) {
    fuzz::CampaignOptions o;
    o.driver = driver;
    o.seed = 1;
    o.executions = 20'000;
    o.jobs = 2;
    fuzz::CampaignResult r = fuzz::run_campaign(o);
    std::set<std::string> keys, signatures;
    for (const fuzz::Finding& f : r.findings) {
      ++findings;
      BOOST_TEST(keys.insert(f.key).second, "two findings with root cause " << f.key);
      BOOST_TEST(f.key == fuzz::root_cause(f.report));
      BOOST_TEST((!f.access_sites.empty() || !f.report.accessed_by));
      with_several_sites += f.access_sites.size() > 1;
    }
  }
  BOOST_TEST(findings > 0u);
  BOOST_TEST(with_several_sites > 0u, "no finding merged two access sites");
}

// The same seed and budget give the same findings, numbered the same, with the same reproducers: whatever the
// number of jobs and however their threads interleave.
BOOST_AUTO_TEST_CASE(a_campaign_is_deterministic) {
  auto run = [](unsigned jobs) {
    fuzz::CampaignOptions o;
    o.drivers = {"r01_unplug_open_buggy", "r03_two_lifecycles_buggy", "r10_lookup_table_buggy"};
    o.seed = 7;
    o.executions = 6'000;
    o.jobs = jobs;
    return fuzz::run_campaign(o);
  };
  fuzz::CampaignResult a = run(2), b = run(2), c = run(1);
  BOOST_TEST_REQUIRE(a.findings.size() >= 2u);
  for (const fuzz::CampaignResult* other : {&b, &c}) {
    BOOST_TEST(other->executions == a.executions);
    BOOST_TEST(other->cases == a.cases);
    BOOST_TEST_REQUIRE(other->findings.size() == a.findings.size());
    for (std::size_t i = 0; i < a.findings.size(); ++i) {
      const fuzz::Finding &x = a.findings[i], &y = other->findings[i];
      BOOST_TEST(x.index == i + 1);
      BOOST_TEST(y.index == x.index);
      BOOST_TEST(y.key == x.key);
      BOOST_TEST(y.case_number == x.case_number);
      BOOST_TEST(y.first_execution == x.first_execution);
      BOOST_TEST(y.count == x.count);
      BOOST_TEST(y.access_sites == x.access_sites, "finding " << x.index);
      BOOST_TEST(y.reproducer == x.reproducer, "finding " << x.index);
    }
  }
}

// The fixed drivers loaded together (several per case, now and then all of them; operations on all their
// nodes): no report that is not a driver's designed outcome. The 10^6-execution run is in docs/fuzzing.md.
BOOST_AUTO_TEST_CASE(fixed_drivers_together_report_nothing) {
  fuzz::CampaignOptions o;
  o.drivers = fixed_drivers();
  o.seed = 1;
  o.executions = 30'000;
  o.jobs = 2;
  fuzz::CampaignResult r = fuzz::run_campaign(o);
  BOOST_TEST(r.executions >= 30'000u);
  for (const fuzz::Finding& f : r.findings)
    BOOST_TEST(designed_outcome(f), f.report.headline << "\n" << f.reproducer);
}

// A cancelled campaign ends soon and still gives every finding a reproducer.
BOOST_AUTO_TEST_CASE(a_cancelled_campaign_keeps_its_findings) {
  std::atomic<bool> cancel{false};
  fuzz::CampaignOptions o;
  o.driver = "r09_rcu_config_buggy";
  o.seed = 3;
  o.seconds = 600;
  o.jobs = 2;
  o.cancel = &cancel;
  std::size_t reported = 0;
  o.on_finding = [&](const fuzz::Finding& f) {
    BOOST_TEST(!f.reproducer.empty());
    ++reported;
    cancel = true;  // the first finding ends it
  };
  fuzz::CampaignResult r = fuzz::run_campaign(o);
  BOOST_TEST(r.cancelled);
  BOOST_TEST(r.seconds < 600);
  BOOST_TEST_REQUIRE(!r.findings.empty());
  BOOST_TEST(reported == r.findings.size());
  for (const fuzz::Finding& f : r.findings)
    BOOST_TEST(replays_to(f.reproducer, f.key, "cancelled.scn"), f.report.headline);
}

// Found by the multi-driver generator: loading a driver walks the bus's devices and probes the unbound ones; a
// probe sleeps on the device lock, and an unplug meanwhile deleted and freed the next device of the walk, which
// the walk then read (use-after-free in the driver core, reported against two fixed drivers). The kernel's walk
// (drivers/base/bus.c bus_for_each_dev, lib/klist.c klist_next) pins each device with a reference taken under
// the klist lock and skips deleted ones; driver_detach (drivers/base/dd.c) does the same on unload.
BOOST_AUTO_TEST_CASE(loading_a_driver_while_a_device_goes_is_safe) {
  const char* text =
      "driver r04_gpio_numbing_fixed\n"
      "driver r11_device_pointer_fixed\n"
      "device usb 1-2 r04_gpio_numbing_fixed\n"
      "device usb 1-4 r11_device_pointer_fixed\n"
      "task hub {\n"
      "  unplug usb 1-4\n"
      "}\n"
      "task modules {\n"
      "  unload r04_gpio_numbing_fixed\n"
      "  load r04_gpio_numbing_fixed\n"
      "}\n"
      "task admin {\n"
      "  sysfs-write /sys/bus/usb/drivers/r11_device_pointer_fixed/unbind 1-4\n"
      "  sysfs-write /sys/bus/usb/drivers/r11_device_pointer_fixed/bind 1-4\n"
      "}\n"
      "explore pct depth=3 executions=3000 seed=1\n";
  scenarios::Verdict v = scenarios::run_scenario(scenarios::parse_scenario(text, "load-vs-unplug.scn"));
  BOOST_TEST(v.passed, v.summary);
  BOOST_TEST(v.result.failures.empty());
}

// A driver whose node name is wrong (its probe makes /dev/fuzzmap0, it declares /dev/fuzzmap-wrong) would be
// fuzzed without one successful open and report nothing: the campaign warns before it starts. Every shipped fixed
// driver's nodes exist once its device is plugged: no warning for them.
BOOST_AUTO_TEST_CASE(a_node_that_never_appears_is_warned_about) {
  drivers::DriverInfo wrong = mapper_info();
  wrong.name = "fuzz_test_wrong_node";
  wrong.node = "fuzzmap-wrong";
  wrong.buggy = true;  // kept out of fixed_drivers(): the campaigns of the other test cases do not load it
  wrong.ops = [] { return bus::DriverOps{"fuzz_test_wrong_node", "platform", {}, mapper_probe, mapper_remove}; };
  drivers::register_driver(wrong);
  BOOST_TEST(fuzz::missing_nodes(fixed_drivers()).empty());
  const std::vector<std::string> w = fuzz::missing_nodes({"fuzz_test_mapper", "fuzz_test_wrong_node"});
  BOOST_REQUIRE_EQUAL(w.size(), 1u);
  BOOST_TEST(w[0].starts_with("fuzz_test_wrong_node: /dev/fuzzmap-wrong does not exist once its platform device "
                              "fuzz_test_wrong_node0"),
             w[0]);
  // A probe that refuses the device: the warning says so, with its error.
  drivers::DriverInfo refusing = mapper_info();
  refusing.name = "fuzz_test_refusing_probe";
  refusing.buggy = true;
  refusing.ops = [] {
    return bus::DriverOps{
        "fuzz_test_refusing_probe", "platform", {}, [](bus::CoreContext&) { return -bus::kEIO; }, mapper_remove};
  };
  drivers::register_driver(refusing);
  const std::vector<std::string> r = fuzz::missing_nodes({"fuzz_test_refusing_probe"});
  BOOST_REQUIRE_EQUAL(r.size(), 1u);
  BOOST_TEST(r[0].ends_with("The device stayed unbound: fuzz_test_refusing_probe's probe returned -EIO."), r[0]);
}

// A driver's device script (DriverInfo::device_script, devsim_add_c_driver's DEVICE_SCRIPT) follows its device line
// in every generated case, with the case's port, comments and indentation dropped; a script that does not parse is
// an error naming the driver (the campaign stops with it, exit 2).
BOOST_AUTO_TEST_CASE(a_device_script_follows_the_device_line_of_every_case) {
  drivers::DriverInfo scripted = *drivers::find_driver("r01_unplug_open_fixed");
  scripted.name = "fuzz_test_scripted";
  scripted.buggy = true;  // out of fixed_drivers(): the other campaigns do not load it
  scripted.device_script = "# the tower's version\nusb-data 0 \"\\x08\\x00\"\n  usb-error 0x81 -EPROTO\n";
  drivers::register_driver(scripted);
  const scenarios::Scenario s = fuzz::generate(*drivers::find_driver("fuzz_test_scripted"), 5);
  BOOST_REQUIRE_EQUAL(s.devices.size(), 1u);
  BOOST_REQUIRE_EQUAL(s.devices[0].script.size(), 2u);
  BOOST_TEST((s.devices[0].script[0].kind == scenarios::OpKind::UsbData));
  BOOST_TEST(s.devices[0].script[0].a == "1-1");
  BOOST_TEST(s.devices[0].script[1].number == 71u);  // EPROTO
  const std::string text = scenarios::to_text(s);
  BOOST_TEST(
      text.find("device usb 1-1 fuzz_test_scripted\nusb-data 1-1 0 \"\\x08\\x00\"\nusb-error 1-1 0x81 -EPROTO\n") !=
          std::string::npos,
      text);

  drivers::DriverInfo bad = scripted;
  bad.name = "fuzz_test_bad_script";
  bad.device_script = "usb-data 0 \"a\"\n# the next line sends data on an OUT endpoint\nusb-data 0x02 \"a\"\n";
  drivers::register_driver(bad);
  BOOST_CHECK_EXCEPTION(
      fuzz::generate(*drivers::find_driver("fuzz_test_bad_script"), 5), std::invalid_argument,
      [](const std::invalid_argument& e) {
        return std::string(e.what()).starts_with(
            "driver 'fuzz_test_bad_script': its device script does not parse: line 3: usb-data sends on an IN "
            "endpoint");
      });
}
