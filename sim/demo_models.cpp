#include "sim/demo_models.hpp"

#include "sim/kmalloc.hpp"

namespace devsim::sim::demo {

namespace {
void put_driver_data(KPtr<DriverData> data) {
  // One step: nothing can run between the decrement and the test (a refcount_dec_and_test).
  int refs = data.load(&DriverData::refs) - 1;
  data.store(&DriverData::refs, refs);
  if (refs == 0) kfree(data);
}

void app_ioctl(KPtr<DriverData> data, bool fixed) {
  yield();  // the file is open; the ioctl comes in later
  int value = data.load(&DriverData::value);
  static_cast<void>(value);
  // LIFETIME (fixed): the reference taken at open keeps `data` alive until this put, the file's release.
  if (fixed) put_driver_data(data);
}

void hub_unplug(KPtr<DriverData> data, bool fixed) {
  if (fixed)
    put_driver_data(data);  // remove(): drop the driver's reference
  else
    kfree(data);  // remove(): devres frees the data, the open file still points at it
}
}  // namespace

void unplug_while_open(World& world, bool fixed) {
  DriverData initial;
  initial.refs = fixed ? 2 : 1;  // fixed: one reference for the driver, one for the open file
  KPtr<DriverData> data = kmalloc(initial);
  world.spawn("app", [data, fixed] { app_ioctl(data, fixed); });
  world.spawn("hub", [data, fixed] { hub_unplug(data, fixed); });
}

}  // namespace devsim::sim::demo
