// A place in the simulated code: where a yield point, an allocation, a free or an access happened.
#pragma once

#include <source_location>
#include <string>

namespace devsim::sim {

// A source site, captured with std::source_location at the call of a sim API.
// INVARIANT: file_name() and function_name() point at static storage, so a Site can be copied freely and
// kept in reports long after the code that produced it has returned.
using Site = std::source_location;

// "file.cpp:42", with the project root stripped so reports are the same on every machine.
std::string site_location(const Site& site);
// The bare function name ("legacy_ioctl"), without return type, namespaces or parameters.
std::string site_function(const Site& site);
// "legacy_ioctl (drivers/legacy.cpp:42)": how reports name a site.
std::string describe(const Site& site);

}  // namespace devsim::sim
