// The C ABI of linux/idr.h: an IDR's or IDA's contents live here, per world (per execution), under a key the C struct
// carries (0 until first use), so a zeroed struct is empty whatever lived at its address before (a module global
// restored for a new load, a fresh allocation). What the kernel's locking rules make of the C struct is checked as
// accesses at the driver's call site (include/linux/idr.h says which).
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>

#include "bus/errno.hpp"
#include "bus/host_lock.hpp"
#include "cabi/kernel_api.hpp"
#include "cabi/site.hpp"
#include "sim/host_watch.hpp"
#include "sim/kmalloc.hpp"
#include "sim/machine.hpp"
#include "sim/memory.hpp"
#include "sim/report.hpp"
#include "sim/shadow.hpp"
#include "sim/world.hpp"

extern "C" {
#include "include/linux/idr.h"
}

namespace devsim::cabi {
namespace {

constexpr int kIntMax = 0x7fffffff;
constexpr int kENOSPC = 28;  // include/uapi/asm-generic/errno-base.h

// INVARIANT: keys are handed out from 1 in each execution and never reused in it; a C struct whose key is 0 has
// not been used since it was zeroed.
struct CIdrState {
  unsigned long next_key = 1;
  std::unordered_map<unsigned long, std::map<int, void*>> idrs;
  std::unordered_map<unsigned long, std::set<unsigned>> idas;
};

CIdrState& idr_state() {
  return sim::machine_state<CIdrState>();
}

// An access of the caller's to the C struct's bytes [p, p + n): checked (freed memory is a use-after-free), a
// scheduling point, and a data race when plain and unserialised with another task's write.
void access(const void* p, std::size_t n, unsigned flags, std::uintptr_t pc) {
  sim::World* w = sim_world();
  if (w == nullptr) return;  // natively the model's tables are under the HostGuard; the C struct is not read
  if (sim::shadow::in_region(p))
    w->memory().on_access(p, n, flags, pc);
  else if (sim::host_watch::may_watch(p))
    sim::host_watch::on_access(p, n, flags, pc);  // a module global (DEFINE_IDR): footprinted and race-checked
}

// The contents behind a C struct's key, made on first use. The key itself is ours: reading and writing it is not the
// driver's access (that was checked by the caller).
template <typename Map>
typename Map::mapped_type& contents(Map& all, unsigned long* key) {
  unsigned long k = __atomic_load_n(key, __ATOMIC_RELAXED);
  if (k == 0) {
    k = idr_state().next_key++;
    __atomic_store_n(key, k, __ATOMIC_RELAXED);
  }
  return all[k];
}

std::map<int, void*>& idr_of(struct idr* idr) {
  return contents(idr_state().idrs, &idr->__devsim_key);
}
std::set<unsigned>& ida_of(struct ida* ida) {
  return contents(idr_state().idas, &ida->__devsim_key);
}

// A change to an IDR: the caller must serialise it with every other change (plain accesses of the byte only changes
// touch), and an RCU reader may run alongside (a marked write of the key the readers read).
void idr_change(struct idr* idr, std::uintptr_t pc) {
  // A read then a write, as the tree's updates read and rewrite nodes: two plain writes alone would not race
  // (KCSAN assumes aligned plain writes atomic, sim/race.hpp).
  access(&idr->__devsim_users, 1, sim::kAccessRead, pc);
  access(&idr->__devsim_users, 1, sim::kAccessWrite, pc);
  access(&idr->__devsim_key, sizeof idr->__devsim_key, sim::kAccessWrite | sim::kAccessMarked, pc);
}
void idr_lookup(struct idr* idr, std::uintptr_t pc) {
  access(&idr->__devsim_key, sizeof idr->__devsim_key, sim::kAccessRead | sim::kAccessMarked, pc);
}

// The lowest ID in [lo, hi] that `taken` does not hold, or -1.
template <typename Taken>
long lowest_free(const Taken& taken, long lo, long hi) {
  for (long id = lo; id <= hi; ++id)
    if (!taken(id)) return id;
  return -1;
}

void warn(const std::string& headline, const sim::Site& site) {
  report_at("warning", "WARNING in " + sim::site_function(site) + ": " + headline, "", site);
}

}  // namespace
}  // namespace devsim::cabi

using devsim::cabi::c_site;
namespace cabi = devsim::cabi;
namespace sim = devsim::sim;
namespace bus = devsim::bus;

#define DEVSIM_C_CALLER_PC reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))

extern "C" {

int __devsim_idr_alloc(struct idr* idr, void* ptr, int start, int end, int cyclic, gfp_t gfp, const char* file,
                       int line, const char* func) {
  // Natively: the tables are shared by the machine's threads (an IDA is its own lock; IDR lookups run beside changes
  // under RCU), so each call is one step under the HostGuard. Nothing here calls out.
  devsim::bus::HostGuard guard;
  const sim::Site site = c_site(file, line, func);
  const std::uintptr_t pc = DEVSIM_C_CALLER_PC;
  // lib/idr.c idr_alloc: WARN_ON_ONCE(start < 0) -> -EINVAL; an end <= 0 means no limit below INT_MAX.
  if (start < 0) {
    cabi::warn("idr_alloc with a negative start", site);
    return -bus::kEINVAL;
  }
  sim::might_alloc(static_cast<sim::gfp_t>(gfp), site);
  cabi::idr_change(idr, pc);
  if (cabi::should_fail_alloc(site)) return -bus::kENOMEM;
  std::map<int, void*>& ids = cabi::idr_of(idr);
  const long hi = end > 0 ? static_cast<long>(end) - 1 : cabi::kIntMax;
  auto taken = [&](long id) { return ids.count(static_cast<int>(id)) != 0; };
  long id = -1;
  if (cyclic) {
    // idr_alloc_cyclic: from the ID after the last one given, wrapping to start.
    const long from = std::max<long>(start, static_cast<long>(idr->idr_next));
    id = from <= hi ? cabi::lowest_free(taken, from, hi) : -1;
    if (id < 0) id = cabi::lowest_free(taken, start, std::min(hi, from - 1));
  } else {
    id = cabi::lowest_free(taken, start, hi);
  }
  if (id < 0) return -cabi::kENOSPC;
  ids[static_cast<int>(id)] = ptr;
  if (cyclic) idr->idr_next = static_cast<unsigned>(id) + 1;
  return static_cast<int>(id);
}

void* __devsim_idr_op(struct idr* idr, int op, void* ptr, int a, int, gfp_t, const char* file, int line,
                      const char* func) {
  devsim::bus::HostGuard guard;  // see __devsim_idr_alloc
  (void)file, (void)line, (void)func;
  const std::uintptr_t pc = DEVSIM_C_CALLER_PC;
  if (op == __DEVSIM_IDR_FIND || op == __DEVSIM_IDR_IS_EMPTY) {
    cabi::idr_lookup(idr, pc);
    std::map<int, void*>& ids = cabi::idr_of(idr);
    if (op == __DEVSIM_IDR_IS_EMPTY) return ids.empty() ? idr : nullptr;
    const auto it = ids.find(a);
    return it != ids.end() ? it->second : nullptr;
  }
  cabi::idr_change(idr, pc);
  std::map<int, void*>& ids = cabi::idr_of(idr);
  switch (op) {
    case __DEVSIM_IDR_REMOVE: {
      const auto it = ids.find(a);
      if (it == ids.end()) return nullptr;
      void* old = it->second;
      ids.erase(it);
      return old;
    }
    case __DEVSIM_IDR_REPLACE: {
      const auto it = ids.find(a);
      if (it == ids.end()) return reinterpret_cast<void*>(static_cast<long>(-bus::kENOENT));  // ERR_PTR(-ENOENT)
      void* old = it->second;
      it->second = ptr;
      return old;
    }
    case __DEVSIM_IDR_DESTROY:
      ids.clear();
      return nullptr;
    default:
      return nullptr;
  }
}

void* __devsim_idr_get_next(struct idr* idr, int* nextid, const char*, int, const char*) {
  devsim::bus::HostGuard guard;  // see __devsim_idr_alloc
  cabi::idr_lookup(idr, DEVSIM_C_CALLER_PC);
  std::map<int, void*>& ids = cabi::idr_of(idr);
  // Entries reserved with a NULL pointer are skipped, as the kernel's iteration skips them.
  for (auto it = ids.lower_bound(*nextid); it != ids.end(); ++it) {
    if (it->second == nullptr) continue;
    *nextid = it->first;
    return it->second;
  }
  return nullptr;
}

int __devsim_ida_alloc(struct ida* ida, unsigned int min, unsigned int max, gfp_t gfp, const char* file, int line,
                       const char* func) {
  devsim::bus::HostGuard guard;  // see __devsim_idr_alloc
  const sim::Site site = c_site(file, line, func);
  // lib/idr.c ida_alloc_range: a min above INT_MAX is -ENOSPC, a max above it is INT_MAX.
  if (min > static_cast<unsigned>(cabi::kIntMax)) return -cabi::kENOSPC;
  if (max > static_cast<unsigned>(cabi::kIntMax)) max = cabi::kIntMax;
  sim::might_alloc(static_cast<sim::gfp_t>(gfp), site);
  // The IDA's own lock serialises it: a marked write, never a data race, still checked for a freed IDA.
  cabi::access(&ida->__devsim_key, sizeof ida->__devsim_key, sim::kAccessWrite | sim::kAccessMarked,
               DEVSIM_C_CALLER_PC);
  if (cabi::should_fail_alloc(site)) return -bus::kENOMEM;
  std::set<unsigned>& ids = cabi::ida_of(ida);
  const long id = cabi::lowest_free([&](long i) { return ids.count(static_cast<unsigned>(i)) != 0; },
                                    static_cast<long>(min), static_cast<long>(max));
  if (id < 0) return -cabi::kENOSPC;
  ids.insert(static_cast<unsigned>(id));
  return static_cast<int>(id);
}

void __devsim_ida_op(struct ida* ida, int op, unsigned int id, const char* file, int line, const char* func) {
  devsim::bus::HostGuard guard;  // see __devsim_idr_alloc
  const sim::Site site = c_site(file, line, func);
  cabi::access(&ida->__devsim_key, sizeof ida->__devsim_key, sim::kAccessWrite | sim::kAccessMarked,
               DEVSIM_C_CALLER_PC);
  std::set<unsigned>& ids = cabi::ida_of(ida);
  if (op == __DEVSIM_IDA_DESTROY) {
    ids.clear();
    return;
  }
  // lib/idr.c ida_free: an ID that is not allocated warns ("ida_free called for id=%d which is not allocated.").
  if (ids.erase(id) == 0)
    cabi::warn("ida_free called for id=" + std::to_string(static_cast<int>(id)) + " which is not allocated", site);
}

int __devsim_ida_is_empty(struct ida* ida, const char*, int, const char*) {
  devsim::bus::HostGuard guard;  // see __devsim_idr_alloc
  cabi::access(&ida->__devsim_key, sizeof ida->__devsim_key, sim::kAccessRead | sim::kAccessMarked, DEVSIM_C_CALLER_PC);
  return cabi::ida_of(ida).empty() ? 1 : 0;
}

}  // extern "C"
