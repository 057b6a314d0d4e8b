// The C ABI of linux/srcu.h: a C struct srcu_struct stands for a devsim Srcu domain (core/srcu.hpp), made at
// init_srcu_struct or at first use and keyed by the C object's address, as C semaphores are (rwsem.cpp). A C read
// section is a guard kept for the task until its srcu_read_unlock.
#include <atomic>
#include <memory>
#include <new>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "bus/host_lock.hpp"
#include "cabi/kernel_api.hpp"
#include "cabi/rcupdate_c.hpp"
#include "cabi/site.hpp"
#include "core/rcu_pointer.hpp"
#include "core/srcu.hpp"
#include "sim/machine.hpp"
#include "sim/memory.hpp"
#include "sim/world.hpp"

extern "C" {
#include "include/linux/srcu.h"
}
// The C macros would rewrite devsim's names below.
#undef init_srcu_struct
#undef cleanup_srcu_struct
#undef srcu_read_lock
#undef srcu_read_unlock
#undef synchronize_srcu
#undef srcu_read_lock_held
#undef srcu_dereference_check
#undef srcu_dereference

namespace devsim::cabi {
namespace {

// One C read section: the guard, kept in raw storage so that a section still open when the world is destroyed (a
// task that ended inside it, reported as held-at-exit) is never unlocked then, when no task can run.
// INVARIANT: `guard` holds a constructed SrcuReadGuard until srcu_read_unlock unlocks and destroys it; a guard that
// is never unlocked is dropped without its destructor (all its members are trivially destructible).
static_assert(std::is_trivially_destructible_v<sim::Site>);
struct CSection {
  const void* domain;
  std::uint64_t task;  // task_key() of the task that holds it
  alignas(core::SrcuReadGuard) unsigned char guard[sizeof(core::SrcuReadGuard)];
  core::SrcuReadGuard& get() { return *std::launder(reinterpret_cast<core::SrcuReadGuard*>(guard)); }
};

// The devsim domains behind the C ones and the open sections, per machine (per execution in the simulator); under
// the HostGuard natively.
// INVARIANT: as for C semaphores (rwsem.cpp): an address names one domain for the execution. Sections are declared
// after the domains, so they go first.
struct CSrcuState {
  std::unordered_map<const void*, std::unique_ptr<core::Srcu>> domains;
  std::vector<std::unique_ptr<CSection>> sections;
};

// Who holds a section: the simulator's task, or natively the thread (a number of its own, never reused).
std::uint64_t task_key() {
  if (sim::World* w = sim_world()) return w->current_task();
  static std::atomic<std::uint64_t> next{1ull << 32};
  thread_local const std::uint64_t mine = next.fetch_add(1);
  return mine;
}

core::Srcu& srcu_of(struct srcu_struct* s, const sim::Site& site) {
  bus::HostGuard guard;
  // LIFETIME: a unique_ptr in the table, kept until the machine ends.
  auto& slot = sim::machine_state<CSrcuState>().domains[s];
  if (!slot) {
    const char* name = __atomic_load_n(&s->name, __ATOMIC_RELAXED);
    slot = std::make_unique<core::Srcu>(name != nullptr ? name : "srcu_struct", site);
  }
  return *slot;
}

// The C caller's domain, checked first: one in freed simulated memory is a use-after-free at the caller.
core::Srcu& checked(struct srcu_struct* s, const sim::Site& site, std::uintptr_t pc) {
  check_primitive(s, site, pc);
  return srcu_of(s, site);
}

}  // namespace
}  // namespace devsim::cabi

using devsim::cabi::c_site;
namespace cabi = devsim::cabi;
namespace core = devsim::core;

#define DEVSIM_C_CALLER_PC reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))

extern "C" {

int __devsim_init_srcu_struct(struct srcu_struct* ssp, const char* name, const char* file, int line, const char* fn) {
  const devsim::sim::Site site = c_site(file, line, fn);
  if (!cabi::kernel_touch(ssp, sizeof *ssp, true, site)) return -EINVAL;
  __atomic_store_n(&ssp->name, name, __ATOMIC_RELAXED);
  auto made = std::make_unique<core::Srcu>(name, site);
  devsim::bus::HostGuard guard;
  devsim::sim::machine_state<cabi::CSrcuState>().domains[ssp] = std::move(made);
  return 0;
}

void __devsim_cleanup_srcu_struct(struct srcu_struct* ssp, const char* file, int line, const char* fn) {
  const devsim::sim::Site site = c_site(file, line, fn);
  core::Srcu& s = cabi::checked(ssp, site, DEVSIM_C_CALLER_PC);
  // kernel/rcu/srcutree.c cleanup_srcu_struct: WARN_ON(srcu_readers_active(ssp)).
  if (s.readers() > 0) __devsim_warn("srcu_readers_active(ssp)", file, line, fn);
}

int __devsim_srcu_read_lock(struct srcu_struct* ssp, const char* file, int line, const char* fn) {
  const devsim::sim::Site site = c_site(file, line, fn);
  core::Srcu& s = cabi::checked(ssp, site, DEVSIM_C_CALLER_PC);
  auto section = std::make_unique<cabi::CSection>();
  section->domain = ssp;
  section->task = cabi::task_key();
  core::SrcuReadGuard* g = new (section->guard) core::SrcuReadGuard(s.read_lock(site));
  const int idx = static_cast<int>(g->index());
  devsim::bus::HostGuard guard;
  devsim::sim::machine_state<cabi::CSrcuState>().sections.push_back(std::move(section));
  return idx;
}

void __devsim_srcu_read_unlock(struct srcu_struct* ssp, int idx, const char* file, int line, const char* fn) {
  const devsim::sim::Site site = c_site(file, line, fn);
  cabi::checked(ssp, site, DEVSIM_C_CALLER_PC);
  const std::uint64_t self = cabi::task_key();
  std::unique_ptr<cabi::CSection> section;
  {
    devsim::bus::HostGuard guard;
    auto& sections = devsim::sim::machine_state<cabi::CSrcuState>().sections;
    // The innermost section of this domain that this task holds (sections nest).
    for (auto it = sections.rbegin(); it != sections.rend(); ++it) {
      if ((*it)->domain != ssp || (*it)->task != self) continue;
      section = std::move(*it);
      sections.erase(std::next(it).base());
      break;
    }
  }
  if (section) {
    if (static_cast<int>(section->get().index()) != idx)
      __devsim_warn("srcu_read_unlock(): wrong index", file, line, fn);
    section->get().unlock(site);
    section->get().~SrcuReadGuard();
    return;
  }
  __devsim_warn("srcu_read_unlock() without srcu_read_lock() in this task", file, line, fn);
}

void __devsim_synchronize_srcu(struct srcu_struct* ssp, const char* file, int line, const char* fn) {
  const devsim::sim::Site site = c_site(file, line, fn);
  cabi::checked(ssp, site, DEVSIM_C_CALLER_PC).synchronize(site);
}

int __devsim_srcu_read_lock_held(struct srcu_struct* ssp) {
  return cabi::srcu_of(ssp, devsim::sim::Site::current()).read_lock_held() ? 1 : 0;
}

void __devsim_srcu_dereference_check(struct srcu_struct* ssp, int cond, const char* file, int line, const char* fn) {
  const devsim::sim::Site site = c_site(file, line, fn);
  core::Srcu& s = cabi::srcu_of(ssp, site);
  // PROVE_RCU's check is the simulator's (core/rcu_pointer.hpp); natively it is not made.
  if (cabi::sim_world() == nullptr) return;
  if (cond == 0 && !s.read_lock_held())
    core::detail::lockdep_rcu_suspicious(
        cabi::world(), "srcu_dereference_check()",
        "srcu_dereference() outside a read-side critical section of srcu_struct " + s.name(), site);
}

}  // extern "C"
