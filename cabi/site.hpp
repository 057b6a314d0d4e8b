// Sites of C code: a report names the C driver's file, line and function, passed by the <linux/...> macros.
#pragma once

#include "sim/site.hpp"

namespace devsim::cabi {

// The Site of `file`:`line` in `function`, as the C caller gave them (__FILE__, __LINE__, __func__).
// LIFETIME: the strings are copied into process-wide storage that is never freed, so the Site stays valid after the
// module copy that passed them is gone, as Site's INVARIANT requires (static storage). Thread-safe.
sim::Site c_site(const char* file, int line, const char* function);

}  // namespace devsim::cabi
