/*
 * linux/input.h (devsim, C gnu11): the input core is not modelled. The header exists for drivers that include it
 * without using it (drivers/usb/misc/ldusb.c); a driver that registers an input device does not compile.
 */
#ifndef _DEVSIM_LINUX_INPUT_H
#define _DEVSIM_LINUX_INPUT_H

#include "types.h"

#endif
