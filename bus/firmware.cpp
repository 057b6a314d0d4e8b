#include "bus/firmware.hpp"

#include "bus/errno.hpp"
#include "bus/kernel.hpp"

namespace devsim::bus {

namespace {
constexpr sim::Nanos kLoadTime = 1'000'000;  // 1 ms of virtual time per load

sim::KPtr<Firmware> load(const std::string& name, const Site& site) {
  sim::world().sleep_for(kLoadTime, site);
  auto& files = kernel().firmware_files();
  auto it = files.find(name);
  if (it == files.end()) return nullptr;
  return sim::kmalloc(Firmware{it->second}, site);
}
}  // namespace

int request_firmware(sim::KPtr<Firmware>* fw, const std::string& name, Device* dev, const Site& site) {
  get_device(dev, site);
  *fw = load(name, site);
  put_device(dev, site);
  return *fw ? 0 : -kENOENT;
}

void release_firmware(sim::KPtr<Firmware> fw, const Site& site) {
  if (fw) sim::kfree(fw, site);
}

int request_firmware_nowait(const std::string& name, Device* dev, void* context, FirmwareCont cont, const Site& site) {
  // LIFETIME: the reference taken here is the request's; it is dropped after the callback returns.
  get_device(dev, site);
  sim::world().spawn(
      "firmware",
      [name, dev, context, cont, site] {
        sim::KPtr<Firmware> fw = load(name, site);
        cont(fw, context);
        put_device(dev, site);
      },
      site);
  return 0;
}

}  // namespace devsim::bus
