// The C++ runtime's per-thread exception state, kept per task (fiber) instead of per thread.
#pragma once

namespace devsim::sim {

// What the Itanium C++ ABI (section 2.2.2, "Caught Exception Stack") keeps per thread in __cxa_eh_globals: the
// stack of exceptions being handled (what `throw;` rethrows and std::current_exception() returns) and the count
// of exceptions thrown and not yet caught (std::uncaught_exceptions()). The world's tasks are fibers on one
// thread, so without a copy per task a task suspended inside a catch block would leave its exception on top of
// the thread's stack for the next task to pop, and a cancellation (a forced unwind, World::cancel_current)
// reaching a catch (...) while any other task sits in a catch block would end the process (libsupc++'s
// __cxa_begin_catch does not stack a foreign exception on another).
// INVARIANT: the layout is the ABI's: a pointer to the innermost caught exception, then an unsigned count.
struct ExceptionState {
  void* caught = nullptr;
  unsigned int uncaught = 0;
};

// The running thread's state: what a switch saves and restores.
ExceptionState& thread_exception_state() noexcept;

}  // namespace devsim::sim
