// The C ABI of linux/workqueue.h: a C struct work_struct holds a devsim work item (bus/workqueue.hpp) in its storage,
// a struct workqueue_struct is a simulated allocation holding a bus::Workqueue, and the system workqueues are
// devsim's one system workqueue.
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <new>
#include <unordered_set>

#include "bus/workqueue.hpp"
#include "cabi/kernel_api.hpp"
#include "cabi/site.hpp"
#include "sim/kmalloc.hpp"
#include "sim/machine.hpp"
#include "sim/world.hpp"

extern "C" {
#include "include/linux/workqueue.h"
}
// The C macros would rewrite devsim's functions of the same names below.
#undef work_pending
#undef queue_work
#undef queue_work_on
#undef queue_delayed_work
#undef mod_delayed_work
#undef flush_work
#undef flush_delayed_work
#undef cancel_work
#undef cancel_work_sync
#undef alloc_workqueue
#undef flush_workqueue
#undef drain_workqueue
#undef destroy_workqueue

// The kernel's struct is opaque to drivers; devsim's holds its workqueue object, the flags and the name.
struct workqueue_struct {
  devsim::bus::Workqueue wq;
  unsigned int flags;
  char name[32];
};

namespace devsim::cabi {
namespace {

static_assert(sizeof(bus::WorkStruct) <= sizeof(static_cast<struct work_struct*>(nullptr)->__devsim_work) &&
                  alignof(bus::WorkStruct) <= alignof(unsigned long),
              "struct work_struct must hold devsim's work item");

// The system workqueues' shared struct: never queued on as such (wq_of maps it to devsim's system workqueue).
struct workqueue_struct g_system_wq {};

// The work items set up in this world (INIT_WORK, or at first use for a DECLARE_WORK global).
// INVARIANT: simulated addresses are not reused within an execution and module globals are restored before each
// load, so an address names one work item for the execution.
struct CWorkState {
  std::unordered_set<const void*> initialised;
};

// process_one_work() read the item through bus/workqueue.hpp (a freed one was reported there and this is not
// called); the C function is the struct work_struct's.
void c_work_trampoline(bus::WorkStruct& w) {
  auto* c =
      reinterpret_cast<struct work_struct*>(reinterpret_cast<char*>(&w) - offsetof(struct work_struct, __devsim_work));
  work_func_t fn = __atomic_load_n(&c->func, __ATOMIC_RELAXED);
  if (fn != nullptr) fn(c);
}

// Natively the table of set-up items is shared by the machine's threads: a check and the set-up it decides are one
// step under this lock (held across bus::init_work, which may take the HostGuard: never the other way round).
// In the simulator it is not taken: init_work may be a scheduling point, and the tasks are fibers of one thread.
std::unique_lock<std::mutex> setup_lock() {
  static std::mutex m;
  return sim_world() != nullptr ? std::unique_lock<std::mutex>() : std::unique_lock(m);
}

bus::WorkStruct& setup_locked(struct work_struct* w, const sim::Site& site) {
  // LIFETIME: constructed in place in the C struct's storage; never destroyed (trivial state).
  auto* item = new (w->__devsim_work) bus::WorkStruct();
  bus::init_work(*item, &c_work_trampoline, site);
  sim::machine_state<CWorkState>().initialised.insert(w);
  return *item;
}

bus::WorkStruct& setup(struct work_struct* w, const sim::Site& site) {
  const std::unique_lock lock = setup_lock();
  return setup_locked(w, site);
}

// The devsim item of a C work, set up at its first use in this world if INIT_WORK did not run (DECLARE_WORK).
bus::WorkStruct& work_of(struct work_struct* w, const sim::Site& site) {
  const std::unique_lock lock = setup_lock();
  if (sim::machine_state<CWorkState>().initialised.count(w) == 0) return setup_locked(w, site);
  return *std::launder(reinterpret_cast<bus::WorkStruct*>(w->__devsim_work));
}

bus::Workqueue* wq_of(struct workqueue_struct* wq) {
  // A NULL workqueue (a failed alloc_workqueue not checked) is taken as the system one: not modelled.
  return wq == nullptr || wq == &g_system_wq ? nullptr : &wq->wq;
}

// Jiffies (HZ = 1000) to nanoseconds of virtual time, saturating.
std::uint64_t delay_ns(unsigned long delay) {
  constexpr std::uint64_t kNsPerJiffy = 1'000'000;
  constexpr std::uint64_t kMax = UINT64_MAX / kNsPerJiffy;
  return (delay > kMax ? kMax : delay) * kNsPerJiffy;
}

}  // namespace
}  // namespace devsim::cabi

using devsim::cabi::c_site;
namespace bus = devsim::bus;
namespace cabi = devsim::cabi;

extern "C" {

struct workqueue_struct* system_wq = &cabi::g_system_wq;
struct workqueue_struct* system_highpri_wq = &cabi::g_system_wq;
struct workqueue_struct* system_long_wq = &cabi::g_system_wq;
struct workqueue_struct* system_unbound_wq = &cabi::g_system_wq;
struct workqueue_struct* system_freezable_wq = &cabi::g_system_wq;

void __devsim_init_work(struct work_struct* work, work_func_t func, const char* file, int line, const char* fn) {
  const devsim::sim::Site site = c_site(file, line, fn);
  if (!cabi::kernel_touch(work, sizeof *work, true, site)) return;
  __atomic_store_n(&work->func, func, __ATOMIC_RELAXED);
  cabi::setup(work, site);
}

bool __devsim_queue_work(struct workqueue_struct* wq, struct work_struct* work, const char* file, int line,
                         const char* fn) {
  const devsim::sim::Site site = c_site(file, line, fn);
  if (!cabi::kernel_touch(work, sizeof *work, false, site)) return false;
  return bus::queue_work(cabi::wq_of(wq), cabi::work_of(work, site), site);
}

bool __devsim_queue_delayed_work(struct workqueue_struct* wq, struct delayed_work* dwork, unsigned long delay, int mod,
                                 const char* file, int line, const char* fn) {
  const devsim::sim::Site site = c_site(file, line, fn);
  if (!cabi::kernel_touch(dwork, sizeof *dwork, false, site)) return false;
  bus::WorkStruct& w = cabi::work_of(&dwork->work, site);
  const bool r = mod != 0 ? bus::mod_delayed_work(cabi::wq_of(wq), w, cabi::delay_ns(delay), site)
                          : bus::queue_delayed_work(cabi::wq_of(wq), w, cabi::delay_ns(delay), site);
  // __queue_delayed_work(): the workqueue is recorded in the item (mod_delayed_work always queues).
  if ((r || mod != 0) && cabi::kernel_touch(&dwork->wq, sizeof dwork->wq, true, site))
    __atomic_store_n(&dwork->wq, wq, __ATOMIC_RELAXED);
  return r;
}

bool __devsim_flush_work(struct work_struct* work, const char* file, int line, const char* fn) {
  const devsim::sim::Site site = c_site(file, line, fn);
  if (!cabi::kernel_touch(work, sizeof *work, false, site)) return false;
  return bus::flush_work(cabi::work_of(work, site), site);
}

bool __devsim_flush_delayed_work(struct delayed_work* dwork, const char* file, int line, const char* fn) {
  const devsim::sim::Site site = c_site(file, line, fn);
  if (!cabi::kernel_touch(dwork, sizeof *dwork, false, site)) return false;
  return bus::flush_delayed_work(cabi::work_of(&dwork->work, site), site);
}

bool __devsim_cancel_work(struct work_struct* work, int sync, const char* file, int line, const char* fn) {
  const devsim::sim::Site site = c_site(file, line, fn);
  if (!cabi::kernel_touch(work, sizeof *work, false, site)) return false;
  bus::WorkStruct& w = cabi::work_of(work, site);
  return sync != 0 ? bus::cancel_work_sync(w, site) : bus::cancel_work(w, site);
}

bool __devsim_work_pending(struct work_struct* work, const char* file, int line, const char* fn) {
  const devsim::sim::Site site = c_site(file, line, fn);
  if (!cabi::kernel_touch(work, sizeof *work, false, site)) return false;
  return bus::work_pending(cabi::work_of(work, site));
}

struct workqueue_struct* __devsim_alloc_workqueue(unsigned int flags, int max_active, const char* file, int line,
                                                  const char* fn, const char* fmt, ...) {
  (void)max_active;  // only an ordered workqueue's limit is modelled (linux/workqueue.h)
  const devsim::sim::Site site = c_site(file, line, fn);
  auto* wq = static_cast<struct workqueue_struct*>(
      cabi::c_kmalloc(sizeof(struct workqueue_struct), static_cast<unsigned>(devsim::sim::GFP_KERNEL), site));
  if (wq == nullptr) return nullptr;
  // LIFETIME: constructed in place in the simulated allocation; destroy_workqueue frees it (trivial state).
  new (&wq->wq) bus::Workqueue();
  wq->flags = flags;
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(wq->name, sizeof wq->name, fmt, ap);
  va_end(ap);
  bus::alloc_workqueue(wq->wq, (flags & __WQ_ORDERED) != 0, site);
  return wq;
}

void __devsim_workqueue_op(struct workqueue_struct* wq, int mode, const char* file, int line, const char* fn) {
  const devsim::sim::Site site = c_site(file, line, fn);
  switch (mode) {
    case 0:
      bus::flush_workqueue(cabi::wq_of(wq), site);
      return;
    case 1:
      bus::drain_workqueue(cabi::wq_of(wq), site);
      return;
    default:
      // destroy_workqueue(): drains, then frees the struct (the system workqueues are never destroyed).
      if (cabi::wq_of(wq) == nullptr) return;
      bus::drain_workqueue(cabi::wq_of(wq), site);
      cabi::c_kfree(wq, site);
      return;
  }
}

}  // extern "C"
