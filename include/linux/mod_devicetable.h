/* linux/mod_devicetable.h: device id tables (devsim, C gnu11). Declared for source compatibility: devsim matches a
 * platform device to a driver by name (the scenario's modalias), not by these tables. */
#ifndef _DEVSIM_LINUX_MOD_DEVICETABLE_H
#define _DEVSIM_LINUX_MOD_DEVICETABLE_H

#include "types.h"

#define PLATFORM_NAME_SIZE 20
struct platform_device_id {
  char name[PLATFORM_NAME_SIZE];
  unsigned long driver_data;
};

struct of_device_id {
  char name[32];
  char type[32];
  char compatible[128];
  const void *data;
};

#endif
