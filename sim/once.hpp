// The kernel's marked plain accesses, READ_ONCE and WRITE_ONCE (include/asm-generic/rwonce.h), as one mechanism:
// core/compiler.hpp's macros and KPtr::load_once/store_once both come here.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sim/shadow.hpp"

namespace devsim::sim {

// What READ_ONCE/WRITE_ONCE take: a scalar, pointer or word-sized trivially copyable value (a KPtr).
template <class T>
constexpr bool kOnceSize = std::is_trivially_copyable_v<T> &&
                           (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);

namespace detail {
// The unsigned word of N bytes, allowed to alias any object: a volatile class object (a KPtr) cannot be copied,
// so a marked access to one goes through the word of its size.
template <std::size_t N>
struct OnceWord;
template <>
struct OnceWord<1> {
  using type [[gnu::may_alias]] = std::uint8_t;
};
template <>
struct OnceWord<2> {
  using type [[gnu::may_alias]] = std::uint16_t;
};
template <>
struct OnceWord<4> {
  using type [[gnu::may_alias]] = std::uint32_t;
};
template <>
struct OnceWord<8> {
  using type [[gnu::may_alias]] = std::uint64_t;
};
}  // namespace detail

// In the simulator's builds a volatile access (as the kernel's is) inside a no-race scope: g++'s instrumentation
// reports a relaxed atomic load or store of a plain object as a plain access. Under the real TSan
// (DEVSIM_TSAN_RUNTIME, natively) a relaxed atomic access of a naturally aligned value, the form TSan does not call
// a race (an under-aligned one stays volatile: TSan may report it, as the kernel's is not single-copy atomic).
template <class T>
T read_once(const T* p) {
  static_assert(kOnceSize<T>, "READ_ONCE: a scalar, pointer or trivially copyable value of 1, 2, 4 or 8 bytes");
  using W = typename detail::OnceWord<sizeof(T)>::type;
#if defined(DEVSIM_TSAN_RUNTIME)
  if constexpr (alignof(T) >= sizeof(T)) {
    T r;
    __atomic_load(p, &r, __ATOMIC_RELAXED);
    return r;
  }
#endif
  ++shadow::t_view.no_race_depth;
  __asm__ __volatile__("" ::: "memory");  // keep the scope around the access
  const W w = *reinterpret_cast<const volatile W*>(p);
  __asm__ __volatile__("" ::: "memory");
  --shadow::t_view.no_race_depth;
  return std::bit_cast<T>(w);
}
template <class T>
void write_once(T* p, const T& value) {
  static_assert(kOnceSize<T>, "WRITE_ONCE: a scalar, pointer or trivially copyable value of 1, 2, 4 or 8 bytes");
  using W = typename detail::OnceWord<sizeof(T)>::type;
#if defined(DEVSIM_TSAN_RUNTIME)
  if constexpr (alignof(T) >= sizeof(T)) {
    __atomic_store(p, const_cast<T*>(&value), __ATOMIC_RELAXED);
    return;
  }
#endif
  const W w = std::bit_cast<W>(value);
  ++shadow::t_view.no_race_depth;
  __asm__ __volatile__("" ::: "memory");  // keep the scope around the access
  *reinterpret_cast<volatile W*>(p) = w;
  __asm__ __volatile__("" ::: "memory");
  --shadow::t_view.no_race_depth;
}

}  // namespace devsim::sim
