// my_sensor: a USB temperature sensor with a character device, written the way many C drivers were —
// and with their bug: the driver data is devm-allocated, so it is freed when the device is unplugged, while an
// open file still points at it.
#include "bus/cdev.hpp"
#include "bus/devm.hpp"
#include "drivers/registry.hpp"

namespace {

using namespace devsim;

constexpr unsigned kReadTemp = 1;

struct SensorData {
  bus::Cdev* cdev = nullptr;
  int millicelsius = 21500;
};

int my_sensor_open(bus::Cdev& cdev, bus::File& file) {
  // LIFETIME (the bug): nothing keeps the data alive for as long as this file is open.
  file.set_private(cdev.owner_ptr<SensorData>());
  return 0;
}

long my_sensor_ioctl(bus::File& file, unsigned cmd, unsigned long) {
  if (cmd != kReadTemp) return -bus::kENOTTY;
  return file.private_data<SensorData>().load(&SensorData::millicelsius);  // use-after-free after unplug
}

const bus::FileOperations kFops{my_sensor_open, nullptr, nullptr, my_sensor_ioctl, nullptr, nullptr, nullptr};

int my_sensor_probe(bus::CoreContext& ctx) {
  sim::KPtr<SensorData> data = bus::devm_kzalloc<SensorData>(ctx);  // freed by devres at unbind
  if (!data) return -bus::kENOMEM;
  data.store(&SensorData::millicelsius, 21500);
  bus::Cdev* cdev = bus::cdev_alloc(&kFops);
  cdev->set_owner(data);
  data.store(&SensorData::cdev, cdev);
  ctx->set_drvdata(data.unchecked());
  return bus::cdev_add(*cdev, "sensor0", &ctx.device());
}

void my_sensor_remove(bus::CoreContext& ctx) {
  auto* data = static_cast<SensorData*>(ctx->drvdata());
  bus::cdev_del(*data->cdev);  // LIFETIME: still bound: devres frees `data` only after remove() returns
}

drivers::DriverInfo my_sensor_info() {
  drivers::DriverInfo info;
  info.name = "my_sensor";
  info.bus = "usb";
  info.summary = "a USB temperature sensor whose data is devm-allocated (buggy)";
  info.buggy = true;
  info.bug_kind = "use-after-free";
  info.node = "sensor0";
  info.ioctls = {{"READ_TEMP", kReadTemp, 0}};
  info.ops = [] { return bus::DriverOps{"my_sensor", "usb", {}, my_sensor_probe, my_sensor_remove}; };
  return info;
}

}  // namespace

DEVSIM_REGISTER_DRIVER(my_sensor_info)
