// GFP flags: how an allocation may get its memory, and so whether it may sleep.
#pragma once

#include <string_view>

namespace devsim::sim {

// gfp_t (include/linux/gfp_types.h). The bits devsim looks at; the values are devsim's own.
enum class gfp_t : unsigned {};
constexpr gfp_t operator|(gfp_t a, gfp_t b) {
  return static_cast<gfp_t>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr bool has(gfp_t flags, gfp_t bit) {
  return (static_cast<unsigned>(flags) & static_cast<unsigned>(bit)) != 0;
}

// The modifiers.
inline constexpr gfp_t __GFP_DIRECT_RECLAIM = static_cast<gfp_t>(1u << 0);  // the caller may sleep to reclaim
inline constexpr gfp_t __GFP_KSWAPD_RECLAIM = static_cast<gfp_t>(1u << 1);  // may wake kswapd (never sleeps)
inline constexpr gfp_t __GFP_IO = static_cast<gfp_t>(1u << 2);
inline constexpr gfp_t __GFP_FS = static_cast<gfp_t>(1u << 3);
inline constexpr gfp_t __GFP_HIGH = static_cast<gfp_t>(1u << 4);  // may use the emergency reserves
inline constexpr gfp_t __GFP_ZERO = static_cast<gfp_t>(1u << 5);  // zero-filled
inline constexpr gfp_t __GFP_NOWARN = static_cast<gfp_t>(1u << 6);
inline constexpr gfp_t __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;

// The usual combinations, as include/linux/gfp_types.h composes them.
inline constexpr gfp_t GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;  // may sleep
inline constexpr gfp_t GFP_NOIO = __GFP_RECLAIM;                          // may sleep, no I/O
inline constexpr gfp_t GFP_NOFS = __GFP_RECLAIM | __GFP_IO;               // may sleep, no filesystem
inline constexpr gfp_t GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;    // never sleeps
inline constexpr gfp_t GFP_NOWAIT = __GFP_KSWAPD_RECLAIM | __GFP_NOWARN;  // never sleeps

// gfpflags_allow_blocking() (include/linux/gfp.h): whether an allocation with these flags may sleep.
constexpr bool gfpflags_allow_blocking(gfp_t flags) {
  return has(flags, __GFP_DIRECT_RECLAIM);
}

// "GFP_KERNEL", "GFP_ATOMIC", … for reports ("gfp flags" when it is another combination).
constexpr std::string_view gfp_name(gfp_t flags) {
  const auto base = static_cast<gfp_t>(static_cast<unsigned>(flags) & ~static_cast<unsigned>(__GFP_ZERO));
  if (base == GFP_KERNEL) return "GFP_KERNEL";
  if (base == GFP_NOIO) return "GFP_NOIO";
  if (base == GFP_NOFS) return "GFP_NOFS";
  if (base == GFP_ATOMIC) return "GFP_ATOMIC";
  if (base == GFP_NOWAIT) return "GFP_NOWAIT";
  return "gfp flags";
}

}  // namespace devsim::sim
