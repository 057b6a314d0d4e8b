// The C ABI of linux/rcupdate.h: devsim's RCU (core/rcu.hpp) and PROVE_RCU's checks (core/rcu_pointer.hpp) for C
// drivers. A C read section is the simulator's section of the calling task, taken and left by name (there is no
// guard in C).
#include "core/rcu.hpp"
#include "cabi/kernel_api.hpp"
#include "cabi/rcupdate_c.hpp"
#include "cabi/site.hpp"
#include "core/rcu_pointer.hpp"
#include "sim/world.hpp"

using devsim::cabi::c_site;
namespace cabi = devsim::cabi;
namespace core = devsim::core;

extern "C" {

void __devsim_rcu_read_lock(const char* file, int line, const char* func) {
  if (devsim::sim::World* w = cabi::sim_world()) {
    core::detail::sim_rcu_read_lock(*w, c_site(file, line, func));
    return;
  }
  core::detail::native_rcu_read_lock();
}

void __devsim_rcu_read_unlock(const char* file, int line, const char* func) {
  if (devsim::sim::World* w = cabi::sim_world()) {
    core::detail::sim_rcu_read_unlock(*w, c_site(file, line, func));
    return;
  }
  core::detail::native_rcu_read_unlock();
}

void __devsim_synchronize_rcu(const char* file, int line, const char* func) {
  core::synchronize_rcu(c_site(file, line, func));
}

// call_rcu(): the function is stored in the head, as the kernel does; after the grace period the callback reads it
// back from the head (kernel/rcu/tree.c rcu_do_batch), so a head freed meanwhile is a use-after-free there.
void __devsim_call_rcu(struct rcu_head* head, rcu_callback_t fn, const char* file, int line, const char* func) {
  const devsim::sim::Site site = c_site(file, line, func);
  if (!cabi::kernel_touch(head, sizeof *head, true, site)) return;
  __atomic_store_n(&head->func, fn, __ATOMIC_RELAXED);
  core::call_rcu(
      [head, site] {
        if (!cabi::kernel_touch(&head->func, sizeof head->func, false, site)) return;
        rcu_callback_t f = __atomic_load_n(&head->func, __ATOMIC_RELAXED);
        if (f != nullptr) f(head);
      },
      site);
}

// kfree_rcu(): kfree of the object after a grace period (the head is where the kernel queues it; touched now, as
// kvfree_call_rcu writes it).
void __devsim_kfree_rcu(const void* obj, struct rcu_head* head, const char* file, int line, const char* func) {
  const devsim::sim::Site site = c_site(file, line, func);
  if (!cabi::kernel_touch(head, sizeof *head, true, site)) return;
  core::call_rcu([obj, site] { cabi::c_kfree(obj, site); }, site);
}

// No scheduling point: the acquire follows the reader's load at once, the release precedes the updater's store.
// Natively the accesses are the C macros' own acquire load and release store, which TSan sees.
void __devsim_rcu_pointer_sync(const void* pp, int publish) {
  devsim::sim::World* sw = cabi::sim_world();
  if (sw == nullptr) return;
  devsim::sim::World& w = *sw;
  if (publish != 0)
    w.races().release(w.current_task(), pp);
  else
    w.races().acquire(w.current_task(), pp);
}

void __devsim_rcu_barrier(const char* file, int line, const char* func) {
  core::rcu_barrier(c_site(file, line, func));
}

void __devsim_rcu_dereference_check(int kind, int cond, const char* file, int line, const char* func) {
  const devsim::sim::Site site = c_site(file, line, func);
  // PROVE_RCU's checks are the simulator's (core/rcu_pointer.hpp); natively they are not made.
  devsim::sim::World* sw = cabi::sim_world();
  if (sw == nullptr) return;
  devsim::sim::World& w = *sw;
  switch (kind) {
    case 0:
      if (!core::rcu_read_lock_held())
        core::detail::lockdep_rcu_suspicious(w, "rcu_dereference_check()",
                                             "rcu_dereference() outside an RCU read-side critical section", site);
      return;
    case 1:
      if (cond == 0 && !core::rcu_read_lock_held())
        core::detail::lockdep_rcu_suspicious(
            w, "rcu_dereference_check()",
            "rcu_dereference_check() outside an RCU read-side critical section, and its condition is false", site);
      return;
    default:
      if (cond == 0)
        core::detail::lockdep_rcu_suspicious(
            w, "rcu_dereference_protected()",
            "rcu_dereference_protected() with its condition false (the update-side lock is not held)", site);
      return;
  }
}

}  // extern "C"
