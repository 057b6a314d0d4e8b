// Task stacks: fixed-size, guard-paged, recycled across executions.
#pragma once

#include <csetjmp>
#include <cstddef>
#include <vector>

namespace devsim::sim {

// A stack for one simulated task. The lowest `guard` bytes are PROT_NONE: running off the end faults there
// instead of corrupting the neighbouring memory.
struct Stack {
  char* base = nullptr;                          // lowest address of the mapping (start of the guard)
  std::size_t guard = 0;                         // bytes of guard at base
  std::size_t size = 0;                          // usable bytes above the guard
  char* bottom() const { return base + guard; }  // lowest usable address
  char* top() const { return base + guard + size; }
};

// Hands out stacks of one size and takes them back. Mapping a stack and its guard costs two system calls,
// so executions reuse them: an explorer keeps one pool for all of its executions.
// Not thread-safe: one pool per explorer thread.
class StackPool {
 public:
  static constexpr std::size_t kDefaultStackSize = 64 * 1024;
  static constexpr std::size_t kGuardSize = 16 * 1024;  // a frame larger than this could skip the guard

  explicit StackPool(std::size_t stack_size = kDefaultStackSize);
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  Stack acquire();
  void release(const Stack& stack);
  std::size_t stack_size() const { return stack_size_; }
  // The size asked for at construction (stack_size() is it rounded up to pages).
  std::size_t requested_size() const { return requested_size_; }
  // Stacks mapped so far: the most that were in use at once.
  std::size_t mapped() const { return all_.size(); }

 private:
  std::size_t requested_size_;
  std::size_t stack_size_;
  std::vector<Stack> free_;
  std::vector<Stack> all_;
};

// Stack overflow detection. While a task runs, the running thread's guard range and an escape point are
// registered; a SIGSEGV inside the guard (handled on an alternate signal stack) jumps to the escape point,
// so the world reports the overflow and abandons the task instead of the process dying.
namespace overflow {
struct Escape {
  sigjmp_buf jump;
};
// Installs the SIGSEGV/SIGBUS handler (once per process) and this thread's alternate signal stack. With
// `recheck`, also re-installs whichever of them someone else replaced since (Boost.Test swaps the handler and
// the alternate stack around every test case); that costs two system calls, so not on every execution.
void prepare_thread(bool recheck = false);
// Arms detection for the task about to run on `stack`; `escape` is where a fault jumps to.
void arm(const Stack& stack, Escape* escape);
void disarm();
}  // namespace overflow

}  // namespace devsim::sim
