// The compiler-instrumentation callbacks: simulated-kernel code is compiled with -fsanitize=thread and linked
// without the TSan runtime (KCSAN's way); every load, store and atomic of that code calls one of these.
//
// This file is the engine's: it is never instrumented itself. Each callback first asks whether the address is
// simulated kernel memory of the current world (one subtraction and one comparison, sim/shadow.hpp); host
// memory (the engine's heap, host stacks, globals) returns at once. Simulated memory goes to
// KernelMemory::on_access: checks, scheduling points, the race detector.
//
// Not compiled in the TSan build (DEVSIM_TSAN_RUNTIME): there the real TSan runtime provides these symbols.
#include <cstddef>
#include <cstdint>

#include "sim/host_watch.hpp"
#include "sim/memory.hpp"
#include "sim/shadow.hpp"

#ifndef DEVSIM_TSAN_RUNTIME

namespace {

using devsim::sim::kAccessAcquire;
using devsim::sim::kAccessMarked;
using devsim::sim::kAccessNoPoint;
using devsim::sim::kAccessRead;
using devsim::sim::kAccessRelease;
using devsim::sim::kAccessWrite;
namespace shadow = devsim::sim::shadow;
namespace host_watch = devsim::sim::host_watch;

[[gnu::noinline]] void slow_access(const void* p, std::size_t size, unsigned flags, std::uintptr_t pc) noexcept {
  if (shadow::in_region(p))
    shadow::t_view.memory->on_access(p, size, flags, pc);
  else
    host_watch::on_access(p, size, flags, pc);
}

[[gnu::always_inline]] inline void access(const void* p, std::size_t size, unsigned flags, std::uintptr_t pc) noexcept {
  // One call site for both slow paths: the fast path stays a leaf without a frame of its own.
  if (!shadow::in_region(p) && !host_watch::may_watch(p)) [[likely]]
    return;
  slow_access(p, size, flags, pc);
}

// The C++ memory orders as the instrumentation passes them (the __ATOMIC_* values).
constexpr int kRelaxed = 0, kConsume = 1, kAcquire = 2, kRelease = 3, kAcqRel = 4, kSeqCst = 5;

unsigned order_flags(int mo) {
  mo &= 0xff;  // gcc may add target bits above the model
  unsigned f = kAccessMarked;
  if (mo == kConsume || mo == kAcquire || mo == kAcqRel || mo == kSeqCst) f |= kAccessAcquire;
  if (mo == kRelease || mo == kAcqRel || mo == kSeqCst) f |= kAccessRelease;
  (void)kRelaxed;
  return f;
}

}  // namespace

#define DEVSIM_PC reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))

extern "C" {

void __tsan_init() {}
// Annotations core/ makes for the real TSan runtime (happens-before through uninstrumented liburcu on native
// threads). The simulator orders RCU through its own scheduling points: nothing to do here.
void __tsan_acquire(void*) {}
void __tsan_release(void*) {}
// Function entry and exit: call stacks come from frame pointers instead (cheaper); these are turned off by
// devsim's flags and are no-ops for a build that leaves them on.
void __tsan_func_entry(void*) {}
void __tsan_func_exit() {}

#define DEVSIM_PLAIN(N)                              \
  void __tsan_read##N(void* p) {                     \
    access(p, N, kAccessRead, DEVSIM_PC);            \
  }                                                  \
  void __tsan_write##N(void* p) {                    \
    access(p, N, kAccessWrite, DEVSIM_PC);           \
  }                                                  \
  void __tsan_unaligned_read##N(void* p) {           \
    access(p, N, kAccessRead, DEVSIM_PC);            \
  }                                                  \
  void __tsan_unaligned_write##N(void* p) {          \
    access(p, N, kAccessWrite, DEVSIM_PC);           \
  }                                                  \
  void __tsan_volatile_read##N(void* p) {            \
    access(p, N, kAccessRead, DEVSIM_PC);            \
  }                                                  \
  void __tsan_volatile_write##N(void* p) {           \
    access(p, N, kAccessWrite, DEVSIM_PC);           \
  }                                                  \
  void __tsan_unaligned_volatile_read##N(void* p) {  \
    access(p, N, kAccessRead, DEVSIM_PC);            \
  }                                                  \
  void __tsan_unaligned_volatile_write##N(void* p) { \
    access(p, N, kAccessWrite, DEVSIM_PC);           \
  }                                                  \
  void __tsan_read##N##_pc(void* p, void* pc) {      \
    access(p, N, kAccessRead, (std::uintptr_t)pc);   \
  }                                                  \
  void __tsan_write##N##_pc(void* p, void* pc) {     \
    access(p, N, kAccessWrite, (std::uintptr_t)pc);  \
  }

DEVSIM_PLAIN(1)
DEVSIM_PLAIN(2)
DEVSIM_PLAIN(4)
DEVSIM_PLAIN(8)
DEVSIM_PLAIN(16)

void __tsan_read_range(void* p, unsigned long size) {
  if (size != 0) access(p, size, kAccessRead, DEVSIM_PC);
}
void __tsan_write_range(void* p, unsigned long size) {
  if (size != 0) access(p, size, kAccessWrite, DEVSIM_PC);
}

// A virtual call reads the object's vtable pointer: a call on a freed object is a use-after-free. Never a
// scheduling point of its own, never a race (the pointer is written once, by the constructor).
void __tsan_vptr_read(void** p) {
  access(p, sizeof(void*), kAccessRead | kAccessMarked | kAccessNoPoint, DEVSIM_PC);
}
void __tsan_vptr_update(void** p, void*) {
  access(p, sizeof(void*), kAccessWrite | kAccessMarked | kAccessNoPoint, DEVSIM_PC);
}

// clang turns memcpy/memset/memmove of instrumented code into these (gcc keeps plain calls for variable sizes:
// see docs/architecture.md).
void* __tsan_memcpy(void* dst, const void* src, unsigned long n) {
  if (n != 0) {
    access(src, n, kAccessRead, DEVSIM_PC);
    access(dst, n, kAccessWrite, DEVSIM_PC);
  }
  return __builtin_memcpy(dst, src, n);
}
void* __tsan_memmove(void* dst, const void* src, unsigned long n) {
  if (n != 0) {
    access(src, n, kAccessRead, DEVSIM_PC);
    access(dst, n, kAccessWrite, DEVSIM_PC);
  }
  return __builtin_memmove(dst, src, n);
}
void* __tsan_memset(void* dst, int c, unsigned long n) {
  if (n != 0) access(dst, n, kAccessWrite, DEVSIM_PC);
  return __builtin_memset(dst, c, n);
}

// Atomics: the callback replaces the operation, so it performs it (sequentially consistent: at least as strong
// as asked), after the checks and the scheduling point; the order given is what happens-before sees.
#define DEVSIM_ATOMIC(BITS, T)                                                               \
  T __tsan_atomic##BITS##_load(const volatile T* a, int mo) {                                \
    access(const_cast<const T*>(a), sizeof(T), order_flags(mo), DEVSIM_PC);                  \
    return __atomic_load_n(a, __ATOMIC_SEQ_CST);                                             \
  }                                                                                          \
  void __tsan_atomic##BITS##_store(volatile T* a, T v, int mo) {                             \
    access(const_cast<const T*>(a), sizeof(T), order_flags(mo) | kAccessWrite, DEVSIM_PC);   \
    __atomic_store_n(a, v, __ATOMIC_SEQ_CST);                                                \
  }                                                                                          \
  T __tsan_atomic##BITS##_exchange(volatile T* a, T v, int mo) {                             \
    access(const_cast<const T*>(a), sizeof(T), order_flags(mo) | kAccessWrite, DEVSIM_PC);   \
    return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST);                                      \
  }                                                                                          \
  T __tsan_atomic##BITS##_fetch_add(volatile T* a, T v, int mo) {                            \
    access(const_cast<const T*>(a), sizeof(T), order_flags(mo) | kAccessWrite, DEVSIM_PC);   \
    return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST);                                       \
  }                                                                                          \
  T __tsan_atomic##BITS##_fetch_sub(volatile T* a, T v, int mo) {                            \
    access(const_cast<const T*>(a), sizeof(T), order_flags(mo) | kAccessWrite, DEVSIM_PC);   \
    return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST);                                       \
  }                                                                                          \
  T __tsan_atomic##BITS##_fetch_and(volatile T* a, T v, int mo) {                            \
    access(const_cast<const T*>(a), sizeof(T), order_flags(mo) | kAccessWrite, DEVSIM_PC);   \
    return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST);                                       \
  }                                                                                          \
  T __tsan_atomic##BITS##_fetch_or(volatile T* a, T v, int mo) {                             \
    access(const_cast<const T*>(a), sizeof(T), order_flags(mo) | kAccessWrite, DEVSIM_PC);   \
    return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST);                                        \
  }                                                                                          \
  T __tsan_atomic##BITS##_fetch_xor(volatile T* a, T v, int mo) {                            \
    access(const_cast<const T*>(a), sizeof(T), order_flags(mo) | kAccessWrite, DEVSIM_PC);   \
    return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST);                                       \
  }                                                                                          \
  T __tsan_atomic##BITS##_fetch_nand(volatile T* a, T v, int mo) {                           \
    access(const_cast<const T*>(a), sizeof(T), order_flags(mo) | kAccessWrite, DEVSIM_PC);   \
    return __atomic_fetch_nand(a, v, __ATOMIC_SEQ_CST);                                      \
  }                                                                                          \
  int __tsan_atomic##BITS##_compare_exchange_strong(volatile T* a, T* c, T v, int mo, int) { \
    access(const_cast<const T*>(a), sizeof(T), order_flags(mo) | kAccessWrite, DEVSIM_PC);   \
    return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);  \
  }                                                                                          \
  int __tsan_atomic##BITS##_compare_exchange_weak(volatile T* a, T* c, T v, int mo, int) {   \
    access(const_cast<const T*>(a), sizeof(T), order_flags(mo) | kAccessWrite, DEVSIM_PC);   \
    return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);  \
  }                                                                                          \
  T __tsan_atomic##BITS##_compare_exchange_val(volatile T* a, T c, T v, int mo, int) {       \
    access(const_cast<const T*>(a), sizeof(T), order_flags(mo) | kAccessWrite, DEVSIM_PC);   \
    __atomic_compare_exchange_n(a, &c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);        \
    return c;                                                                                \
  }

DEVSIM_ATOMIC(8, unsigned char)
DEVSIM_ATOMIC(16, unsigned short)
DEVSIM_ATOMIC(32, unsigned int)
DEVSIM_ATOMIC(64, unsigned long)

void __tsan_atomic_thread_fence(int) {
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
void __tsan_atomic_signal_fence(int) {
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

}  // extern "C"

#endif  // DEVSIM_TSAN_RUNTIME
