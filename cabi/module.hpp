// C drivers as loadable modules: a driver built from kernel C is a shared object; loading it into a world runs its
// init_module, unloading its cleanup_module. Module globals are per execution and per fuzz job.
#pragma once

#include <string>
#include <vector>

#include "drivers/registry.hpp"

namespace devsim::cabi {

// One C driver, as the build describes it (drivers/c/CMakeLists.txt, devsim_add_c_driver).
struct CModuleSpec {
  std::string name;     // the driver's registry name: "cmisc_mailbox_buggy"
  std::string path;     // the built module (.so)
  std::string node;     // the /dev node its init creates ("mailbox")
  std::string summary;  // for devsim list
  bool buggy = false;
  std::string bug_kind;  // for buggy variants: the report kind it shows
  // A module that registers a bus driver (platform_driver_register): its bus ("platform"), and the interrupt
  // lines of the devices it binds as the machine describes them (what platform_get_irq returns).
  std::string bus;
  std::vector<unsigned> irqs;
  // What the fuzzer plugs its devices as (DriverInfo::modalias): devsim_add_c_driver's DEVICE_ID.
  std::string modalias;
  // DriverInfo::device_script: the contents of devsim_add_c_driver's DEVICE_SCRIPT file.
  std::string device_script;
};

// The registry entry of a C driver: no bus; `load`/`unload` run its module_init/module_exit.
// LIFETIME: `spec` is kept by the registry entry (captured by value) for the process's lifetime.
drivers::DriverInfo c_module_info(const CModuleSpec& spec);

// Module load in the current world: 0, -EEXIST when loaded, or what module_init returned.
// Before init runs, the module's writable segments (its .data and .bss) are restored from their load-time image,
// so every load starts from the module's pristine globals. In the simulator the module is one private copy per OS
// thread (each fuzz job is a thread), so jobs never share globals; natively it is one copy per process, shared by the
// threads of its one machine, as the kernel has one copy of a loaded module.
// "" when the module's file loads (every symbol it uses resolves), else the loader's message. Loaded and unloaded
// once per process and file; the answer is kept.
std::string module_check(const CModuleSpec& spec);

int module_load(const CModuleSpec& spec);
// Module unload (delete_module): 0; -ENOENT when not loaded; -EBUSY while its init runs or when it has no exit;
// -EAGAIN while a file holds a reference (kernel/module/main.c try_stop_module returns -EWOULDBLOCK).
int module_unload(const CModuleSpec& spec);

}  // namespace devsim::cabi
