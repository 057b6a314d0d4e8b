/* linux/stringify.h: a macro argument as a string literal, after expansion (devsim, C gnu11). */
#ifndef _DEVSIM_LINUX_STRINGIFY_H
#define _DEVSIM_LINUX_STRINGIFY_H

#define __stringify_1(x...) #x
#define __stringify(x...) __stringify_1(x)

#endif
