// The kernel's error numbers, as negative return values of driver and file operations.
#pragma once

#include <string_view>

namespace devsim::bus {

// Only the ones the driver model and the races use; values are Linux's (asm-generic/errno-base.h).
inline constexpr int kEPERM = 1;
inline constexpr int kENOENT = 2;
inline constexpr int kEINTR = 4;
inline constexpr int kEIO = 5;
inline constexpr int kENXIO = 6;
inline constexpr int kEBADF = 9;
inline constexpr int kEAGAIN = 11;
inline constexpr int kENOMEM = 12;
inline constexpr int kEACCES = 13;
inline constexpr int kEFAULT = 14;
inline constexpr int kEBUSY = 16;
inline constexpr int kEEXIST = 17;
inline constexpr int kENODEV = 19;
inline constexpr int kEISDIR = 21;
inline constexpr int kEINVAL = 22;
inline constexpr int kENOTTY = 25;
inline constexpr int kENOSYS = 38;
inline constexpr int kESHUTDOWN = 108;
// Kernel-internal (include/linux/errno.h): an interrupted sleep; user space sees -EINTR or a restart.
inline constexpr int kERESTARTSYS = 512;
// Kernel-internal: a probe that cannot finish yet (a resource another driver provides is missing); the driver core
// tries it again later (drivers/base/dd.c, deferred probe).
inline constexpr int kEPROBE_DEFER = 517;

// "ENODEV" for 19 (and for -19); "E<n>" for numbers it does not name.
std::string_view errno_name(int error);
// The inverse, for the scenario language: 0 when unknown.
int errno_from_name(std::string_view name);

// poll() result bits (uapi/asm-generic/poll.h).
inline constexpr unsigned kPollIn = 0x0001;
inline constexpr unsigned kPollOut = 0x0004;
inline constexpr unsigned kPollErr = 0x0008;
inline constexpr unsigned kPollHup = 0x0010;

}  // namespace devsim::bus
