#include "sim/exception_state.hpp"

#include <cxxabi.h>

namespace devsim::sim {

ExceptionState& thread_exception_state() noexcept {
  // Every fiber switch swaps the state: the address is looked up in the C++ runtime (a call into libstdc++ and
  // its thread-local storage) once per thread, then kept in this library's own.
  // INVARIANT (exception_state.hpp): __cxa_eh_globals has ExceptionState's layout; libsupc++ and libc++abi both
  // follow the ABI here.
  thread_local ExceptionState* const state = reinterpret_cast<ExceptionState*>(abi::__cxa_get_globals());
  return *state;
}

}  // namespace devsim::sim
