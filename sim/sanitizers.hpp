// Which sanitizer this translation unit is built with, the same way under g++ and clang.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define DEVSIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEVSIM_ASAN 1
#endif
#endif
