// The C ABI of linux/hw_random.h: drivers/char/hw_random/core.c's generator list, current generator and /dev/hwrng,
// on devsim's mutexes and completions. What is and is not modelled: include/linux/hw_random.h.
#include <algorithm>
#include <list>
#include <memory>
#include <string>
#include <string_view>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "bus/host_lock.hpp"
#include "cabi/kernel_api.hpp"
#include "cabi/site.hpp"
#include "core/completion.hpp"
#include "core/mutex.hpp"
#include "core/signal.hpp"
#include "sim/gfp.hpp"
#include "sim/machine.hpp"
#include "sim/world.hpp"

#include "cabi/c_headers.hpp"
extern "C" {
#include "include/linux/hw_random.h"
// linux/sched.h's entry points (the header itself is C only).
void __devsim_set_current_state(int task_state, const char* file, int line, const char* func);
long __devsim_schedule_timeout(long timeout, const char* file, int line, const char* func);
}

namespace devsim::cabi {
namespace {

// drivers/char/hw_random/core.c: rng_buffer_size() is SMP_CACHE_BYTES at least 32; early randomness reads 32.
constexpr std::size_t kRngBufferSize = 64;
constexpr std::size_t kEarlyRandomness = 32;

// A registered generator. The kernel keeps `ref` and `cleanup_done` in the driver's struct hwrng; here the core
// keeps them, so the driver's struct is only read (kernel_touch: freed while registered is a use-after-free).
// INVARIANT: refs > 0 exactly while the generator is current or a reader holds it; cleanup_done is done while
// refs == 0 (made so at registration, reinit when it becomes current, completed by the last put).
struct Generator {
  struct hwrng* rng = nullptr;
  int refs = 0;
  core::Completion cleanup_done;
};

// The core's state, one per machine. rng_mutex guards the list, `current` and every Generator's refs;
// reading_mutex serialises the reads of generators (and guards `buffer`).
// LIFETIME: generators are kept in a std::list (stable addresses) and erased only by hwrng_unregister after its
// wait for cleanup_done, when no reader holds them.
struct HwrngCore {
  core::Mutex rng_mutex{"rng_mutex"};
  core::Mutex reading_mutex{"reading_mutex"};
  std::list<Generator> generators;
  Generator* current = nullptr;
  void* buffer = nullptr;  // rng_buffer: kmalloc'd at the first registration, kept (the core is built in)
  std::unique_ptr<bus::MiscDevice> node;
};

HwrngCore& core_state() {
  return sim::machine_state<HwrngCore>();
}

// The driver's struct hwrng as the core reads it.
struct hwrng read_rng(struct hwrng* rng, const sim::Site& site) {
  kernel_touch(rng, sizeof *rng, false, site);
  return *rng;
}

// hwrng_init under rng_mutex: the driver's init, then the generator is referenced (kref_init) and not cleaned up.
int init_generator(Generator& g, const sim::Site& site) {
  const struct hwrng r = read_rng(g.rng, site);
  if (r.init != nullptr) {
    if (const int err = r.init(g.rng); err != 0) return err;
  }
  g.refs = 1;
  g.cleanup_done.reinit(site);
  return 0;
}

// kref_put under rng_mutex; the last one runs the driver's cleanup and completes cleanup_done (cleanup_rng).
void put_locked(Generator& g, const sim::Site& site) {
  if (--g.refs > 0) return;
  const struct hwrng r = read_rng(g.rng, site);
  if (r.cleanup != nullptr) r.cleanup(g.rng);
  g.cleanup_done.complete(site);
}

void put_generator(HwrngCore& c, Generator& g, const sim::Site& site) {
  c.rng_mutex.lock(site);
  put_locked(g, site);
  c.rng_mutex.unlock(site);
}

// get_current_rng: the current generator with a reference, or null.
Generator* get_current(HwrngCore& c, const sim::Site& site) {
  c.rng_mutex.lock(site);
  Generator* g = c.current;
  if (g != nullptr) ++g->refs;
  c.rng_mutex.unlock(site);
  return g;
}

// rng_get_data under reading_mutex: the driver's read into the core's buffer. A generator with only the old
// data_present/data_read interface gives nothing (not modelled).
int get_data(HwrngCore& c, Generator& g, std::size_t size, bool wait, const sim::Site& site) {
  const struct hwrng r = read_rng(g.rng, site);
  if (r.read == nullptr) return 0;
  return r.read(g.rng, c.buffer, size, wait);
}

// add_early_randomness: 32 bytes, not waiting, from a generator the caller holds a reference on.
void add_early_randomness(HwrngCore& c, Generator& g, const sim::Site& site) {
  c.reading_mutex.lock(site);
  (void)get_data(c, g, kEarlyRandomness, false, site);
  c.reading_mutex.unlock(site);
}

// The best generator left: the highest quality, the first registered among equals (enable_best_rng).
Generator* best(HwrngCore& c, const sim::Site& site) {
  Generator* pick = nullptr;
  unsigned pick_quality = 0;
  for (Generator& g : c.generators) {
    const unsigned q = read_rng(g.rng, site).quality;
    if (pick == nullptr || q > pick_quality) {
      pick = &g;
      pick_quality = q;
    }
  }
  return pick;
}

// /dev/hwrng's read (rng_dev_read).
long rng_dev_read(bus::File& f, std::size_t count) {
  const sim::Site site = sim::Site::current();
  HwrngCore& c = core_state();
  const bool nonblock = (f.f_flags() & bus::kO_NONBLOCK) != 0;
  std::string out;
  while (out.size() < count) {
    Generator* g = get_current(c, site);
    if (g == nullptr) {
      if (out.empty()) return -bus::kENODEV;
      break;
    }
    c.reading_mutex.lock(site);
    const int n = get_data(c, *g, std::min<std::size_t>(count - out.size(), kRngBufferSize), !nonblock, site);
    if (n > 0) {
      const std::size_t len = std::min<std::size_t>(static_cast<std::size_t>(n), count - out.size());
      kernel_touch(c.buffer, len, false, site);
      out.append(static_cast<const char*>(c.buffer), len);
    }
    c.reading_mutex.unlock(site);
    put_generator(c, *g, site);
    if (n < 0) {
      if (out.empty()) return n;
      break;
    }
    if (n == 0 && nonblock) {
      if (out.empty()) return -bus::kEAGAIN;
      break;
    }
    if (n == 0) {
      // The kernel's loop asks again, after `if (need_resched()) schedule_timeout_interruptible(1)`: a jiffy's sleep
      // here, so that a generator with nothing to give lets the other tasks run (an unplug among them).
      __devsim_set_current_state(TASK_INTERRUPTIBLE, __FILE__, __LINE__, "rng_dev_read");
      (void)__devsim_schedule_timeout(1, __FILE__, __LINE__, "rng_dev_read");
    }
    if (out.size() < count && core::signal_pending()) {
      if (out.empty()) return -bus::kEINTR;
      break;
    }
  }
  bus::note_user_copied_out(out);
  return static_cast<long>(out.size());
}

const bus::FileOperations kHwrngFops = [] {
  bus::FileOperations ops;
  ops.read = &rng_dev_read;
  return ops;
}();

}  // namespace
}  // namespace devsim::cabi

namespace bus = devsim::bus;
namespace sim = devsim::sim;
namespace cabi = devsim::cabi;

int __devsim_hwrng_register(struct hwrng* rng, const char* file, int line, const char* func) {
  const sim::Site site = cabi::c_site(file, line, func);
  if (rng == nullptr) return -bus::kEINVAL;
  const struct hwrng r = cabi::read_rng(rng, site);
  if (r.name == nullptr || (r.read == nullptr && r.data_read == nullptr)) return -bus::kEINVAL;
  cabi::might_sleep("hwrng_register", site);
  cabi::HwrngCore& c = cabi::core_state();
  if (c.node == nullptr) {
    // The core's module init (hwrng_modinit): its buffer and the /dev/hwrng misc device.
    c.buffer = cabi::c_kmalloc(cabi::kRngBufferSize, static_cast<unsigned>(sim::GFP_KERNEL), site);
    if (c.buffer == nullptr) return -bus::kENOMEM;
    // The core's own buffer, kept for the machine's life as a module's static (kmemleak finds it referenced there).
    if (sim::World* w = sim::World::current()) w->memory().mark_not_leak(w->memory().find(c.buffer));
    auto node = std::make_unique<bus::MiscDevice>();
    node->name = "hwrng";
    node->fops = &cabi::kHwrngFops;
    if (const int err = bus::misc_register(*node, site); err != 0) return err;
    // The node is the built-in core's: never deregistered, its cdev is not a leak of the execution.
    if (sim::World* w = sim::World::current(); w != nullptr && node->cdev != nullptr) {
      if (const sim::AllocId id = w->memory().find(node->cdev); id != 0) w->memory().mark_not_leak(id);
    }
    c.node = std::move(node);
  }
  const std::string name(r.name);
  c.rng_mutex.lock(site);
  for (cabi::Generator& g : c.generators) {
    if (g.rng == rng || name == cabi::read_rng(g.rng, site).name) {
      c.rng_mutex.unlock(site);
      return -bus::kEEXIST;
    }
  }
  cabi::Generator* added = nullptr;
  {
    bus::HostGuard guard;
    added = &c.generators.emplace_back();
  }
  added->rng = rng;
  added->cleanup_done.complete(site);  // never current yet: nothing to wait for
  bool is_new_current = false;
  if (c.current == nullptr || r.quality > cabi::read_rng(c.current->rng, site).quality) {
    if (const int err = cabi::init_generator(*added, site); err != 0) {
      bus::HostGuard guard;
      c.generators.pop_back();
      c.rng_mutex.unlock(site);
      return err;
    }
    if (c.current != nullptr) cabi::put_locked(*c.current, site);  // drop_current_rng
    c.current = added;
    ++added->refs;  // add_early_randomness's reference
    is_new_current = true;
  }
  c.rng_mutex.unlock(site);
  if (is_new_current || r.init == nullptr) {
    if (!is_new_current) {
      // A generator that needs no init is read even when it is not current; the kernel reads it without a
      // reference, under the caller's registration: nothing can unregister it meanwhile.
      c.reading_mutex.lock(site);
      (void)cabi::get_data(c, *added, cabi::kEarlyRandomness, false, site);
      c.reading_mutex.unlock(site);
    } else {
      cabi::add_early_randomness(c, *added, site);
    }
  }
  if (is_new_current) cabi::put_generator(c, *added, site);
  return 0;
}

void __devsim_hwrng_unregister(struct hwrng* rng, const char* file, int line, const char* func) {
  const sim::Site site = cabi::c_site(file, line, func);
  cabi::might_sleep("hwrng_unregister", site);
  cabi::HwrngCore& c = cabi::core_state();
  c.rng_mutex.lock(site);
  auto it =
      std::find_if(c.generators.begin(), c.generators.end(), [rng](const cabi::Generator& g) { return g.rng == rng; });
  if (it == c.generators.end()) {
    c.rng_mutex.unlock(site);
    return;
  }
  cabi::Generator& gone = *it;
  // list_del first, so that enable_best_rng below does not pick it again.
  std::list<cabi::Generator> taken;
  {
    bus::HostGuard guard;
    taken.splice(taken.begin(), c.generators, it);
  }
  if (c.current == &gone) {
    cabi::put_locked(gone, site);  // drop_current_rng
    c.current = nullptr;
    if (cabi::Generator* next = cabi::best(c, site); next != nullptr && cabi::init_generator(*next, site) == 0)
      c.current = next;
  }
  c.rng_mutex.unlock(site);
  // LIFETIME: `gone` lives in `taken` until this function returns, after the last reference was put.
  gone.cleanup_done.wait_for_completion(site);
}

int __devsim_devm_hwrng_register(struct device* dev, struct hwrng* rng, const char* file, int line, const char* func) {
  if (const int err = __devsim_hwrng_register(rng, file, line, func); err != 0) return err;
  return __devsim_devm_add_action(
      dev, [](void* r) { __devsim_hwrng_unregister(static_cast<struct hwrng*>(r), __FILE__, __LINE__, __func__); }, rng,
      1, file, line, func);
}
