/* linux/init.h: __init, __exit and the initcall types (devsim, C gnu11). Section placement is not modelled: __init
 * code stays callable after init, as if CONFIG_MODULES kept it. */
#ifndef _DEVSIM_LINUX_INIT_H
#define _DEVSIM_LINUX_INIT_H

#include "compiler.h"

#define __initdata
#define __exitdata
#define __initconst
#define __devinit
#define __devexit

#endif
