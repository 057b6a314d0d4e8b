// A place in the simulated code: where a yield point, an allocation, a free or an access happened.
#pragma once

#include <cstdint>
#include <source_location>
#include <string>
#include <string_view>

namespace devsim::sim {

// A source site, captured with std::source_location at the call of a sim API.
// INVARIANT: file_name() and function_name() point at static storage, so a Site can be copied freely and
// kept in reports long after the code that produced it has returned.
#ifdef __cpp_lib_source_location
using Site = std::source_location;
#else
// Compilers whose standard library lacks std::source_location (clang 14 with libstdc++ 12, used for the
// libFuzzer build): the same interface from the compiler builtins, with the bare function name.
class Site {
 public:
  static constexpr Site current(const char* file = __builtin_FILE(), const char* function = __builtin_FUNCTION(),
                                std::uint_least32_t line = __builtin_LINE()) noexcept {
    Site s;
    s.file_ = file;
    s.function_ = function;
    s.line_ = line;
    return s;
  }
  constexpr const char* file_name() const noexcept { return file_; }
  constexpr const char* function_name() const noexcept { return function_; }
  constexpr std::uint_least32_t line() const noexcept { return line_; }
  constexpr std::uint_least32_t column() const noexcept { return 0; }

 private:
  const char* file_ = "";
  const char* function_ = "";
  std::uint_least32_t line_ = 0;
};
#endif

// "file.cpp:42", with the project root stripped so reports are the same on every machine.
std::string site_location(const Site& site);
// The bare function name ("legacy_ioctl"), without return type, namespaces or parameters.
std::string site_function(const Site& site);
// The bare name in a function signature (pretty or demangled): "void ns::Cls::fn(int) const" -> "fn"; a
// lambda is named after its enclosing function.
std::string bare_function_name(std::string_view signature);
// "legacy_ioctl (drivers/legacy.cpp:42)": how reports name a site.
std::string describe(const Site& site);

}  // namespace devsim::sim
