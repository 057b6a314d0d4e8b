// Helpers shared by the suites of races R9-R16 (tests/drivers/test_r09.cpp ... test_r16.cpp): loading a
// registered mock driver and plugging its device the way a scenario does, exploring exhaustively, and reading
// the failures.
#pragma once

#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bus/cdev.hpp"
#include "bus/kernel.hpp"
#include "bus/usb.hpp"
#include "drivers/registry.hpp"
#include "sim/explorer.hpp"
#include "tests/bus/bus_test_support.hpp"

namespace devsim::drivers::test {

using bus::test::exhaustive;

// What a scenario's prologue does: load the driver (module load), provide firmware files, plug its device
// into port 1-1 of the hub with the driver's name as modalias. Then the tasks run. Call from a task.
inline bus::Device* load_and_plug(const std::string& driver,
                                  const std::vector<std::pair<std::string, std::string>>& firmware = {}) {
  for (const auto& [name, contents] : firmware)
    bus::kernel().firmware_files()[name] = contents;
  const DriverInfo* info = find_driver(driver);
  BOOST_TEST_REQUIRE(info != nullptr, "driver " << driver << " registered");
  load_driver(*info);
  return bus::usb_plug("1-1", driver);
}

// A model: a setup task loads and plugs, then spawns the scenario's tasks (each a body with no arguments).
inline sim::Model scenario(std::string driver, std::vector<std::pair<std::string, std::function<void()>>> tasks,
                           std::vector<std::pair<std::string, std::string>> firmware = {}) {
  return [driver = std::move(driver), tasks = std::move(tasks), firmware = std::move(firmware)](sim::World& w) {
    w.spawn("setup", [&driver, &tasks, &firmware](sim::World& w) {
      load_and_plug(driver, firmware);
      for (const auto& [name, body] : tasks)
        w.spawn(name, body);
    });
  };
}

// The hub's task: unplug usb 1-1.
inline void unplug_task() {
  bus::usb_unplug("1-1");
}

inline std::string first_failure(const sim::ExploreResult& r) {
  return r.failures.empty() ? std::string() : sim::render_text(r.failures.front().report);
}

inline std::string all_headlines(const sim::ExploreResult& r) {
  std::string out;
  for (const sim::Failure& f : r.failures)
    out += f.report.kind + ": " + f.report.headline + "\n";
  return out;
}

// The first failure of kind `kind` whose headline is `headline` (any headline if empty), or null.
inline const sim::Report* find_failure(const sim::ExploreResult& r, std::string_view kind,
                                       std::string_view headline = {}) {
  for (const sim::Failure& f : r.failures)
    if (f.report.kind == kind && (headline.empty() || f.report.headline == headline)) return &f.report;
  return nullptr;
}

// Opens /dev/`node`, runs `body` with the file if the open worked, closes. Returns the open's error (0: opened).
inline int with_open(const std::string& node, const std::function<void(bus::File*)>& body) {
  bus::OpenResult o = bus::vfs_open(node);
  if (o.file == nullptr) return o.error;
  body(o.file);
  bus::vfs_close(o.file);
  return 0;
}

}  // namespace devsim::drivers::test
