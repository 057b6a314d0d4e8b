// The C ABI of linux/firmware.h on devsim's firmware loader (bus/firmware.hpp): a C driver gets a struct firmware in
// simulated memory, its data in the same allocation, so a use after release_firmware is a use-after-free.
#include <cstring>
#include <list>
#include <string>

#include "bus/errno.hpp"
#include "bus/firmware.hpp"
#include "bus/host_lock.hpp"
#include "cabi/kernel_api.hpp"
#include "cabi/site.hpp"
#include "sim/gfp.hpp"
#include "sim/machine.hpp"

#include "cabi/c_headers.hpp"
extern "C" {
#include "include/linux/firmware.h"
}

namespace devsim::cabi {
namespace {

// A request_firmware_nowait() in flight: what the continuation gets.
struct CFirmwareRequest {
  struct module* module = nullptr;
  void (*cont)(const struct firmware*, void*) = nullptr;
  void* context = nullptr;
};
// LIFETIME: records live until the machine ends (a list: the address handed to bus::request_firmware_nowait as the
// context never moves), so a request whose task is stopped before its continuation leaves no dangling pointer.
// INVARIANT: changed under the HostGuard.
struct CFirmwareRequests {
  std::list<CFirmwareRequest> requests;
};

// The C struct for a loaded blob: one kmalloc'd allocation, the struct and then the bytes; null when it fails.
const struct firmware* c_firmware(const bus::Firmware& loaded, const sim::Site& site) {
  const std::size_t size = loaded.data.size();
  auto* mem =
      static_cast<char*>(c_kmalloc(sizeof(struct firmware) + size, static_cast<unsigned>(sim::GFP_KERNEL), site));
  if (mem == nullptr) return nullptr;
  auto* fw = reinterpret_cast<struct firmware*>(mem);
  std::memcpy(mem + sizeof(struct firmware), loaded.data.data(), size);
  fw->size = size;
  fw->data = reinterpret_cast<const u8*>(mem + sizeof(struct firmware));
  fw->priv = nullptr;
  return fw;
}

void run_continuation(sim::KPtr<bus::Firmware> loaded, void* context) {
  const sim::Site site = sim::Site::current();
  const CFirmwareRequest request = *static_cast<const CFirmwareRequest*>(context);
  // LIFETIME: the loader's blob is alive until release_firmware below.
  const struct firmware* fw = loaded ? c_firmware(*loaded.unchecked(), site) : nullptr;
  bus::release_firmware(loaded, site);
  request.cont(fw, request.context);
  // _request_firmware_nowait's work item: the module reference goes after the continuation returned.
  if (request.module != nullptr) __devsim_module_put(request.module);
}

}  // namespace
}  // namespace devsim::cabi

namespace bus = devsim::bus;
namespace sim = devsim::sim;
namespace cabi = devsim::cabi;

int __devsim_request_firmware(const struct firmware** fw, const char* name, struct device* dev, const char* file,
                              int line, const char* func) {
  const sim::Site site = cabi::c_site(file, line, func);
  if (fw == nullptr) return -bus::kEINVAL;
  cabi::kernel_touch(fw, sizeof *fw, true, site);
  *fw = nullptr;
  if (name == nullptr) return -bus::kEINVAL;
  cabi::might_sleep("request_firmware", site);
  sim::KPtr<bus::Firmware> loaded;
  // The device is referenced while the request runs; a class device has no bus device to hold.
  if (const int r = bus::request_firmware(&loaded, name, cabi::bus_device_of(dev, site), site); r != 0) return r;
  // LIFETIME: the loader's blob is alive until release_firmware below.
  const struct firmware* c = cabi::c_firmware(*loaded.unchecked(), site);
  bus::release_firmware(loaded, site);
  if (c == nullptr) return -bus::kENOMEM;
  *fw = c;
  return 0;
}

int __devsim_request_firmware_nowait(struct module* module, const char* name, struct device* dev, void* context,
                                     void (*cont)(const struct firmware*, void*), const char* file, int line,
                                     const char* func) {
  const sim::Site site = cabi::c_site(file, line, func);
  if (name == nullptr || cont == nullptr) return -bus::kEINVAL;
  // _request_firmware_nowait (drivers/base/firmware_loader/main.c): the module is pinned until the continuation ran.
  if (module != nullptr && !__devsim_try_module_get(module)) return -bus::kEFAULT;
  cabi::CFirmwareRequest* request = nullptr;
  {
    bus::HostGuard guard;
    request = &sim::machine_state<cabi::CFirmwareRequests>().requests.emplace_back(
        cabi::CFirmwareRequest{module, cont, context});
  }
  const int r =
      bus::request_firmware_nowait(name, cabi::bus_device_of(dev, site), request, &cabi::run_continuation, site);
  if (r != 0 && module != nullptr) __devsim_module_put(module);
  return r;
}

void __devsim_release_firmware(const struct firmware* fw, const char* file, int line, const char* func) {
  if (fw == nullptr) return;
  cabi::c_kfree(fw, cabi::c_site(file, line, func));
}
