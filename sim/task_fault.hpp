// A processor fault inside a simulated task: the kernel's oops, as a report instead of a dead process.
//
// Driver code dereferences what it was given. A null or stale pointer, a poisoned list entry, an address past
// the end of a mapping: on real hardware each is a page fault or a general-protection fault in kernel mode,
// which the kernel turns into an oops that kills the faulting task (arch/x86/mm/fault.c page_fault_oops,
// arch/x86/kernel/traps.c exc_general_protection). The simulator does the same: the SIGSEGV/SIGBUS handler
// (sim/stack_pool.cpp; SIGFPE too, for a division by zero) records what faulted and leaves the task's stack for the
// world's escape point, which reports it (null-ptr-deref, general-protection-fault or page-fault) and abandons the
// task.
#pragma once

#include <cstdint>
#include <optional>

#include "sim/stack_pool.hpp"
#include "sim/stacktrace.hpp"

namespace devsim::sim {

// What the signal handler saw. Plain data: written in the handler, read once by the world after the jump.
struct TaskFault {
  int signal = 0;              // SIGSEGV, SIGBUS or SIGFPE
  int code = 0;                // siginfo's si_code: SI_KERNEL for a general-protection fault
  std::uintptr_t address = 0;  // si_addr: the faulting data address (0 for a general-protection fault)
  std::uintptr_t pc = 0;       // the faulting instruction
  std::uintptr_t fp = 0;       // its frame pointer, where the call stack walk starts
  enum class Access { Unknown, Read, Write } access = Access::Unknown;  // from the page-fault error code (x86)
};

// The fault this thread's running task took, once: the world takes it right after the handler's jump.
// Empty when the jump was a stack overflow (a fault in the guard page).
std::optional<TaskFault> take_task_fault() noexcept;

// The call stack at the fault: the faulting instruction, then its callers by the frame-pointer chain, bounded by
// the task's stack as capture_stack is.
StackTrace fault_stack(const TaskFault& fault, const Stack& stack) noexcept;

// The report kind and what the kernel would print for it: "null-ptr-deref" for an address in the first page,
// "general-protection-fault" for a non-canonical address (such as LIST_POISON1), "divide-error" for a division by
// zero, "page-fault" otherwise.
const char* fault_kind(const TaskFault& fault) noexcept;

}  // namespace devsim::sim
