// The mock-driver registry: every driver in drivers/ registers itself by name, so scenarios, the devsim
// command and the fuzzer can pick it.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bus/driver.hpp"

namespace devsim::drivers {

// An ioctl a driver understands, by name, for the scenario language and the fuzzer.
struct IoctlSpec {
  std::string name;           // "GET_LINEINFO": what scenarios write
  unsigned cmd = 0;           // the number the driver's ioctl sees
  unsigned long max_arg = 0;  // arguments the fuzzer tries: 0..max_arg
};

// What one mock driver is. A driver module registers once (static initialisation, see
// DEVSIM_REGISTER_DRIVER); loading it in a world calls `ops()` and registers the result on `bus`.
struct DriverInfo {
  std::string name;                     // unique: "legacy_gpio"; scenarios say `driver legacy_gpio`
  std::string bus;                      // "platform" or "usb"
  std::string summary;                  // one line for `devsim list`
  std::string race;                     // "R1".."R16" for the race table's drivers, "" for the realistic ones
  bool buggy = false;                   // the variant that has the race's bug
  std::string bug_kind;                 // for buggy variants: the report kind it shows ("use-after-free", …)
  std::string node;                     // the /dev node its first device creates ("gpiochip0"), "" if none
  std::vector<std::string> more_nodes;  // further nodes of the first device (a driver with several cdevs)
  std::vector<IoctlSpec> ioctls;
  std::vector<std::string> firmware;  // firmware files it requests (scenarios provide them)
  // What its devices are plugged as by the fuzzer and `devsim list`'s hint ("usb:v10D2p0001": a driver whose probe
  // checks the ids); empty: its name, which binds it.
  std::string modalias;
  const std::string& device_modalias() const { return modalias.empty() ? name : modalias; }
  // What its USB device does first, before its probe (a probe that asks the device something): scenario lines
  // `usb-data [EP] "BYTES"` / `usb-error EP -ERRNO` without the port, one per line. The fuzzer puts them after the
  // device line of every case (docs/scenario-language.md, device scripts).
  std::string device_script;
  // Interrupt lines of its device (the machine description: what a C driver's platform_get_irq returns). The
  // fuzzer raises these besides its usual lines.
  std::vector<unsigned> irqs;
  // Report kinds that are this driver's designed outcome, not a bug (R12's fixed driver: the saturation
  // warning of refcount_t). The fuzzer's no-false-alarm checks skip them.
  std::vector<std::string> expected_warnings;
  std::function<bus::DriverOps()> ops;  // probe/remove and the id table (bus is filled in by the loader)
  // A module (a C driver built from kernel C, see cabi/module.hpp): `ops` is unset, and loading or unloading it runs
  // these (0 or a negative errno). `bus` is empty for a module that binds no device (a misc device); a module whose
  // init registers a platform driver has bus "platform", and its devices' modalias is the module's name.
  std::function<int()> module_load;
  std::function<int()> module_unload;
  bool is_module() const { return static_cast<bool>(module_load); }
  // A module: "" when its file can be loaded, else why not (the loader's message: an undefined symbol is a kernel
  // function devsim does not provide). Checked once per process before anything runs the module.
  std::function<std::string()> module_check;
};

// Registration (at static-initialisation time) and lookup. The registry is immutable once main() runs, so it is
// the one piece of process-wide state: executions only read it.
void register_driver(DriverInfo info);
const std::vector<DriverInfo>& all_drivers();
const DriverInfo* find_driver(std::string_view name);

// Loads `info` into the current world (module load): driver_register on its bus. Returns the bus driver (null for a
// module that binds no device: its module_init ran).
bus::Driver* load_driver(const DriverInfo& info, const sim::Site& site = sim::Site::current());
// Module load and unload as the scenario's `load`/`unload` do them: 0 or a negative errno for a module (a C driver);
// for a bus driver, driver_register / driver_unregister, always 0.
int load_module(const DriverInfo& info);
int unload_module(const DriverInfo& info);

struct Registrar {
  explicit Registrar(DriverInfo (*make)()) { register_driver(make()); }
};

}  // namespace devsim::drivers

// In one .cpp per driver:  DEVSIM_REGISTER_DRIVER(legacy_gpio_info);  where legacy_gpio_info() returns its
// DriverInfo. (The library is linked whole-archive so no registration is dropped by the linker.)
#define DEVSIM_REGISTER_DRIVER(make)                         \
  namespace {                                                \
  const ::devsim::drivers::Registrar registrar_##make{make}; \
  }
