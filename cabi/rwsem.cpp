// The C ABI of linux/rwsem.h: a C struct rw_semaphore stands for a devsim RwSemaphore (core/rwsem.hpp), made at
// init_rwsem or at first use and keyed by the C object's address, as C mutexes are (kernel_api.cpp).
#include <memory>
#include <optional>
#include <unordered_map>

#include "bus/host_lock.hpp"
#include "cabi/kernel_api.hpp"
#include "cabi/site.hpp"
#include "core/rwsem.hpp"
#include "sim/machine.hpp"
#include "sim/memory.hpp"
#include "sim/world.hpp"

extern "C" {
#include "include/linux/rwsem.h"
}
// The C macros would rewrite RwSemaphore's member calls below.
#undef init_rwsem
#undef down_read
#undef down_read_interruptible
#undef down_read_killable
#undef down_read_trylock
#undef up_read
#undef down_write
#undef down_write_killable
#undef down_write_trylock
#undef up_write
#undef downgrade_write
#undef rwsem_is_locked

namespace devsim::cabi {
namespace {

// The devsim semaphores behind the C ones, per machine (per execution in the simulator); the table under the
// HostGuard natively.
// INVARIANT: as for C mutexes (state.hpp): simulated addresses are not reused within an execution and module
// globals are reset before each load, so an address names one semaphore for the execution.
struct CRwsemState {
  std::unordered_map<const void*, std::unique_ptr<core::RwSemaphore>> sems;
};

core::RwSemaphore& rwsem_of(struct rw_semaphore* s, const sim::Site& site) {
  bus::HostGuard guard;
  // LIFETIME: a unique_ptr in the table, kept until the machine ends.
  auto& slot = sim::machine_state<CRwsemState>().sems[s];
  if (!slot) {
    const char* name = __atomic_load_n(&s->name, __ATOMIC_RELAXED);
    slot = std::make_unique<core::RwSemaphore>(name != nullptr ? name : "rw_semaphore", site);
    slot->set_memory(s, sizeof *s);  // what rwsem_wake() touches after a release is the driver's struct
  }
  return *slot;
}

// The C caller's semaphore, checked first: one in freed simulated memory is a use-after-free at the caller.
core::RwSemaphore& checked(struct rw_semaphore* s, const sim::Site& site, std::uintptr_t pc) {
  check_primitive(s, site, pc);
  return rwsem_of(s, site);
}

}  // namespace
}  // namespace devsim::cabi

using devsim::cabi::c_site;
namespace cabi = devsim::cabi;

#define DEVSIM_C_CALLER_PC reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))

extern "C" {

void __devsim_init_rwsem(struct rw_semaphore* sem, const char* name, const char* file, int line, const char* func) {
  const devsim::sim::Site site = c_site(file, line, func);
  __atomic_store_n(&sem->name, name, __ATOMIC_RELAXED);
  auto made = std::make_unique<devsim::core::RwSemaphore>(name, site);
  made->set_memory(sem, sizeof *sem);
  devsim::bus::HostGuard guard;
  devsim::sim::machine_state<cabi::CRwsemState>().sems[sem] = std::move(made);
}

void __devsim_down_read(struct rw_semaphore* sem, const char* file, int line, const char* func) {
  const devsim::sim::Site site = c_site(file, line, func);
  cabi::checked(sem, site, DEVSIM_C_CALLER_PC).down_read(site);
}

// down_read_interruptible / down_read_killable: modelled as down_read, which cannot fail. The kernel's task waits in
// TASK_INTERRUPTIBLE or TASK_KILLABLE there, which its hung-task detector passes by: so does devsim's.
int __devsim_down_read_killable(struct rw_semaphore* sem, const char* file, int line, const char* func) {
  const devsim::sim::Site site = c_site(file, line, func);
  devsim::sim::World* w = devsim::sim::World::current();
  std::optional<devsim::sim::World::NotHungScope> not_hung;
  if (w != nullptr) not_hung.emplace(*w);
  cabi::checked(sem, site, DEVSIM_C_CALLER_PC).down_read(site);
  return 0;
}

int __devsim_down_read_trylock(struct rw_semaphore* sem, const char* file, int line, const char* func) {
  const devsim::sim::Site site = c_site(file, line, func);
  return cabi::checked(sem, site, DEVSIM_C_CALLER_PC).down_read_trylock(site) ? 1 : 0;
}

void __devsim_up_read(struct rw_semaphore* sem, const char* file, int line, const char* func) {
  const devsim::sim::Site site = c_site(file, line, func);
  cabi::checked(sem, site, DEVSIM_C_CALLER_PC).up_read(site);
}

void __devsim_down_write(struct rw_semaphore* sem, const char* file, int line, const char* func) {
  const devsim::sim::Site site = c_site(file, line, func);
  cabi::checked(sem, site, DEVSIM_C_CALLER_PC).down_write(site);
}

// down_write_killable, as __devsim_down_read_killable.
int __devsim_down_write_killable(struct rw_semaphore* sem, const char* file, int line, const char* func) {
  const devsim::sim::Site site = c_site(file, line, func);
  devsim::sim::World* w = devsim::sim::World::current();
  std::optional<devsim::sim::World::NotHungScope> not_hung;
  if (w != nullptr) not_hung.emplace(*w);
  cabi::checked(sem, site, DEVSIM_C_CALLER_PC).down_write(site);
  return 0;
}

int __devsim_down_write_trylock(struct rw_semaphore* sem, const char* file, int line, const char* func) {
  const devsim::sim::Site site = c_site(file, line, func);
  return cabi::checked(sem, site, DEVSIM_C_CALLER_PC).down_write_trylock(site) ? 1 : 0;
}

void __devsim_up_write(struct rw_semaphore* sem, const char* file, int line, const char* func) {
  const devsim::sim::Site site = c_site(file, line, func);
  cabi::checked(sem, site, DEVSIM_C_CALLER_PC).up_write(site);
}

void __devsim_downgrade_write(struct rw_semaphore* sem, const char* file, int line, const char* func) {
  const devsim::sim::Site site = c_site(file, line, func);
  cabi::checked(sem, site, DEVSIM_C_CALLER_PC).downgrade_write(site);
}

int __devsim_rwsem_is_locked(struct rw_semaphore* sem) {
  devsim::core::RwSemaphore& s = cabi::rwsem_of(sem, devsim::sim::Site::current());
  return s.is_write_locked() || s.read_holds() > 0 ? 1 : 0;
}

}  // extern "C"
