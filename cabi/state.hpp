// What the C ABI keeps per world (per execution): the devsim objects behind C locks, the loaded modules and their
// reference counts, the registered misc devices, the user buffers of the system calls in progress.
#pragma once

#include <map>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bus/cdev.hpp"
#include "core/mutex.hpp"
#include "core/spinlock.hpp"
#include "sim/world.hpp"

struct miscdevice;
struct module;

namespace devsim::cabi {

struct CModuleSpec;

// A C misc device as the bus misc core sees it: the bus object, with the C struct it stands for.
struct CMisc : bus::MiscDevice {
  struct miscdevice* c = nullptr;
};

// A loaded module's state (kernel/module/main.c: MODULE_STATE_COMING while init runs, LIVE, GOING in exit).
struct LoadedModule {
  enum class State { Coming, Live, Going };
  const CModuleSpec* spec = nullptr;
  State state = State::Coming;
  int refs = 0;  // try_module_get references (files whose fops->owner is the module)
};

struct CApiState {
  // C locks are keyed by their address; the devsim lock is made at first use (or at mutex_init/spin_lock_init).
  // INVARIANT: simulated addresses are never reused within an execution, and module globals are reset before each
  // load, so an address names one lock for the execution.
  std::unordered_map<const void*, std::unique_ptr<core::Mutex>> mutexes;
  std::unordered_map<const void*, std::unique_ptr<core::SpinLock>> spinlocks;
  std::map<const struct module*, LoadedModule> modules;
  std::map<const struct miscdevice*, std::unique_ptr<CMisc>> miscs;
  // LIFETIME: a deregistered CMisc is kept until the execution ends: the bus misc core may still name it in a
  // deadlock or trace record, and a C struct may be registered again at the same address.
  std::vector<std::unique_ptr<CMisc>> retired_miscs;
  // The user buffers of each task's system call in progress (one per read/write).
  std::map<sim::TaskId, std::vector<std::pair<char*, std::size_t>>> user_buffers;
  int next_minor = 1;
};

CApiState& state();

}  // namespace devsim::cabi
