#include "bus/errno.hpp"

#include <array>
#include <utility>

namespace devsim::bus {

namespace {
constexpr std::array<std::pair<int, std::string_view>, 18> kNames{{
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
