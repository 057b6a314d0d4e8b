#include "sim/stack_pool.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <new>

namespace devsim::sim {

namespace {
std::size_t page_size() {
  static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return size;
}
std::size_t round_to_pages(std::size_t n) {
  std::size_t p = page_size();
  return (n + p - 1) / p * p;
}
}  // namespace

StackPool::StackPool(std::size_t stack_size) : stack_size_(round_to_pages(stack_size)) {}

StackPool::~StackPool() {
  for (const Stack& s : all_)
    munmap(s.base, s.guard + s.size);
}

Stack StackPool::acquire() {
  if (!free_.empty()) {
    Stack s = free_.back();
    free_.pop_back();
    return s;
  }
  Stack s;
  s.guard = kGuardSize;
  s.size = stack_size_;
  void* mem =
      mmap(nullptr, s.guard + s.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  s.base = static_cast<char*>(mem);
  if (mprotect(s.base, s.guard, PROT_NONE) != 0) {
    munmap(mem, s.guard + s.size);
    throw std::bad_alloc();
  }
  all_.push_back(s);
  return s;
}

void StackPool::release(const Stack& stack) {
  free_.push_back(stack);
}

namespace overflow {
namespace {

// LIFETIME: thread-local, written only by the thread that runs tasks, read by the signal handler on that
// same thread. `escape` points into the frame of World::run, which is live for as long as it is armed.
struct Armed {
  char* guard_lo = nullptr;
  char* guard_hi = nullptr;
  Escape* escape = nullptr;
};
thread_local Armed t_armed;
thread_local bool t_altstack_ready = false;

struct sigaction g_previous_segv;
struct sigaction g_previous_bus;

void handler(int sig, siginfo_t* info, void* ucontext) {
  char* addr = static_cast<char*>(info->si_addr);
  Armed& armed = t_armed;
  if (armed.escape != nullptr && addr >= armed.guard_lo && addr < armed.guard_hi) {
    Escape* escape = armed.escape;
    armed = Armed{};
    siglongjmp(escape->jump, 1);
  }
  // Not ours: hand it to whoever had it before (a sanitizer), or die the default way.
  const struct sigaction& prev = sig == SIGSEGV ? g_previous_segv : g_previous_bus;
  if ((prev.sa_flags & SA_SIGINFO) && prev.sa_sigaction != nullptr) {
    prev.sa_sigaction(sig, info, ucontext);
    return;
  }
  if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN && prev.sa_handler != nullptr) {
    prev.sa_handler(sig);
    return;
  }
  signal(sig, SIG_DFL);  // returning re-executes the faulting instruction, which now kills the process
}

}  // namespace

void prepare_thread() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    struct sigaction sa {};
    sa.sa_sigaction = handler;
    sigemptyset(&sa.sa_mask);
    // SA_NODEFER: we leave the handler with siglongjmp and do not restore the mask, so SIGSEGV must not
    // stay blocked afterwards.
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigaction(SIGSEGV, &sa, &g_previous_segv);
    sigaction(SIGBUS, &sa, &g_previous_bus);
  });
  if (!t_altstack_ready) {
    // LIFETIME: the alternate stack lives as long as the thread; it is never unmapped because the handler
    // may run on it until the thread exits. Mapped, not malloc'd: it is not a heap object.
    static constexpr std::size_t kAltStackSize = 64 * 1024;
    stack_t ss{};
    void* mem = mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ss.ss_sp = mem == MAP_FAILED ? nullptr : mem;
    ss.ss_size = kAltStackSize;
    if (ss.ss_sp != nullptr && sigaltstack(&ss, nullptr) == 0) t_altstack_ready = true;
  }
}

void arm(const Stack& stack, Escape* escape) {
  t_armed = Armed{stack.base, stack.base + stack.guard, escape};
}

void disarm() {
  t_armed = Armed{};
}

}  // namespace overflow
}  // namespace devsim::sim
