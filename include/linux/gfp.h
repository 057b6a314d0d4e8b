/* linux/gfp.h: allocation flags (devsim, C gnu11). The values are devsim's own (sim/gfp.hpp), the names and
 * meanings the kernel's (include/linux/gfp_types.h): GFP_KERNEL may sleep, GFP_ATOMIC and GFP_NOWAIT never do. */
#ifndef _DEVSIM_LINUX_GFP_H
#define _DEVSIM_LINUX_GFP_H

#include "types.h"

#define __GFP_DIRECT_RECLAIM ((gfp_t)(1u << 0))
#define __GFP_KSWAPD_RECLAIM ((gfp_t)(1u << 1))
#define __GFP_IO ((gfp_t)(1u << 2))
#define __GFP_FS ((gfp_t)(1u << 3))
#define __GFP_HIGH ((gfp_t)(1u << 4))
#define __GFP_ZERO ((gfp_t)(1u << 5))
#define __GFP_NOWARN ((gfp_t)(1u << 6))
#define __GFP_RECLAIM (__GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM)

#define GFP_KERNEL (__GFP_RECLAIM | __GFP_IO | __GFP_FS)
#define GFP_NOIO (__GFP_RECLAIM)
#define GFP_USER GFP_KERNEL /* the kernel adds __GFP_HARDWALL, a cpuset rule devsim has no use for */
#define GFP_NOFS (__GFP_RECLAIM | __GFP_IO)
#define GFP_ATOMIC (__GFP_HIGH | __GFP_KSWAPD_RECLAIM)
#define GFP_NOWAIT (__GFP_KSWAPD_RECLAIM | __GFP_NOWARN)

#endif
