// The kernel's marked accesses (include/asm-generic/rwonce.h, include/asm-generic/barrier.h,
// include/linux/compiler.h): READ_ONCE, WRITE_ONCE, smp_load_acquire, smp_store_release, data_race(), and
// cpu_relax() for spin-waits.
#pragma once

#include <type_traits>

#include "sim/once.hpp"
#include "sim/shadow.hpp"
#include "sim/world.hpp"

#if defined(DEVSIM_TSAN_RUNTIME)
// The TSan runtime's dynamic annotations (compiler-rt tsan_interface_ann.cpp).
extern "C" {
void AnnotateIgnoreReadsBegin(const char* file, int line);
void AnnotateIgnoreReadsEnd(const char* file, int line);
void AnnotateIgnoreWritesBegin(const char* file, int line);
void AnnotateIgnoreWritesEnd(const char* file, int line);
}
#endif

namespace devsim::core {

// A marked access is an atomic access of the compiler (relaxed for READ_ONCE/WRITE_ONCE, acquire/release for
// the smp_ forms): the instrumentation sees it as atomic, so it never counts as a data race, it is still
// checked for use-after-free, and the smp_ forms order memory for the race detector as they do on hardware.
// READ_ONCE/WRITE_ONCE are sim/once.hpp's (the same as KPtr::load_once/store_once).
template <class T>
T read_once(const T& x) {
  return sim::read_once(&x);
}
template <class T, class V>
void write_once(T& x, V&& value) {
  sim::write_once(&x, static_cast<T>(value));
}
template <class T>
T load_acquire(const T& x) {
  static_assert(sim::kOnceSize<T>, "smp_load_acquire: a scalar or pointer of 1, 2, 4 or 8 bytes");
  T v;
  __atomic_load(&x, &v, __ATOMIC_ACQUIRE);
  return v;
}
template <class T, class V>
void store_release(T& x, V&& value) {
  static_assert(sim::kOnceSize<T>, "smp_store_release: a scalar or pointer of 1, 2, 4 or 8 bytes");
  T v = static_cast<T>(value);
  __atomic_store(&x, &v, __ATOMIC_RELEASE);
}

// data_race(expr): the accesses of `expr` are intentionally racy (statistics, heuristics): not reported.
// They are still checked for use-after-free. Natively under TSan (DEVSIM_TSAN_RUNTIME) the thread's accesses
// are ignored for the scope, TSan's own form of the same promise (KCSAN: include/linux/compiler.h data_race()).
class DataRaceScope {
 public:
  DataRaceScope() {
    ++sim::shadow::t_view.no_race_depth;
#if defined(DEVSIM_TSAN_RUNTIME)
    AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
    AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
#endif
    __asm__ __volatile__("" ::: "memory");  // keep the accesses inside the scope
  }
  ~DataRaceScope() {
    __asm__ __volatile__("" ::: "memory");
#if defined(DEVSIM_TSAN_RUNTIME)
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
    AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
#endif
    --sim::shadow::t_view.no_race_depth;
  }
  DataRaceScope(const DataRaceScope&) = delete;
  DataRaceScope& operator=(const DataRaceScope&) = delete;
};

// cpu_relax() in a spin-wait loop: in the simulator, the task waits until another task made progress (fair
// scheduling: a correct spin-wait terminates under every strategy); natively a pause instruction.
inline void cpu_relax(const sim::Site& site = sim::Site::current()) {
  if (sim::World* w = sim::World::current(); w != nullptr && w->in_task()) return w->spin_relax(site);
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace devsim::core

#define READ_ONCE(x) ::devsim::core::read_once(x)
#define WRITE_ONCE(x, v) ::devsim::core::write_once(x, v)
#define smp_load_acquire(p) ::devsim::core::load_acquire(*(p))
#define smp_store_release(p, v) ::devsim::core::store_release(*(p), v)
#define data_race(expr)                            \
  ([&]() -> auto{                                  \
    ::devsim::core::DataRaceScope devsim_scope_{}; \
    return (expr);                                 \
  }())
