#include "bus/errno.hpp"

#include <array>
#include <utility>

namespace devsim::bus {

namespace {
// Every name include/linux/errno.h (and linux/usb.h) defines, so a scenario can expect what a C driver returns.
constexpr std::array<std::pair<int, std::string_view>, 42> kNames{{
    {kEISDIR, "EISDIR"},
    {kEPERM, "EPERM"},
    {kENOENT, "ENOENT"},
    {kEINTR, "EINTR"},
    {kEIO, "EIO"},
    {kENXIO, "ENXIO"},
    {kEBADF, "EBADF"},
    {kEAGAIN, "EAGAIN"},
    {kENOMEM, "ENOMEM"},
    {kEFAULT, "EFAULT"},
    {kEBUSY, "EBUSY"},
    {kEEXIST, "EEXIST"},
    {kENODEV, "ENODEV"},
    {kEINVAL, "EINVAL"},
    {kENOTTY, "ENOTTY"},
    {kENOSYS, "ENOSYS"},
    {kESHUTDOWN, "ESHUTDOWN"},
    {kERESTARTSYS, "ERESTARTSYS"},
    {kEPROBE_DEFER, "EPROBE_DEFER"},
    {3, "ESRCH"},
    {7, "E2BIG"},
    {13, "EACCES"},
    {28, "ENOSPC"},
    {29, "ESPIPE"},
    {32, "EPIPE"},
    {34, "ERANGE"},
    {61, "ENODATA"},
    {62, "ETIME"},
    {71, "EPROTO"},
    {75, "EOVERFLOW"},
    {95, "EOPNOTSUPP"},
    {110, "ETIMEDOUT"},
    // The URB status codes linux/usb.h adds (Documentation/driver-api/usb/error-codes.rst).
    {54, "EXFULL"},
    {63, "ENOSR"},
    {70, "ECOMM"},
    {84, "EILSEQ"},
    {98, "EADDRINUSE"},
    {104, "ECONNRESET"},
    {115, "EINPROGRESS"},
    {121, "EREMOTEIO"},
    {517, "EPROBE_DEFER"},
    {kEAGAIN, "EWOULDBLOCK"},  // last: errno_name(11) is EAGAIN
}};
}  // namespace

std::string_view errno_name(int error) {
  if (error < 0) error = -error;
  for (const auto& [n, name] : kNames)
    if (n == error) return name;
  return "E?";
}

int errno_from_name(std::string_view name) {
  for (const auto& [n, known] : kNames)
    if (known == name) return n;
  return 0;
}

}  // namespace devsim::bus
