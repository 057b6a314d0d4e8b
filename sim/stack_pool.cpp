#include "sim/stack_pool.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <utility>

#include "sim/sanitizers.hpp"
#include "sim/task_fault.hpp"

#if defined(DEVSIM_ASAN)
#include <sanitizer/asan_interface.h>
#endif

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

// Under ASan, a stack's shadow keeps the redzones of frames that never returned (an abandoned task, the
// entry frame of every task) and of a mapping that was unmapped at the same address; the next task on
// that memory would hit them as false stack-buffer-overflows. Every stack starts clean instead.
void clear_shadow([[maybe_unused]] const Stack& s) {
#if defined(DEVSIM_ASAN)
  __asan_unpoison_memory_region(s.bottom(), s.size);
#endif
}
}  // namespace

StackPool::StackPool(std::size_t stack_size) : requested_size_(stack_size), stack_size_(round_to_pages(stack_size)) {}

StackPool::~StackPool() {
  for (const Stack& s : all_) {
    // ASan does not clear the shadow of unmapped memory: whoever maps this address next (libbacktrace's
    // allocator does) would inherit the stale redzones.
    clear_shadow(s);
    munmap(s.base, s.guard + s.size);
  }
}

Stack StackPool::acquire() {
  if (!free_.empty()) {
    Stack s = free_.back();
    free_.pop_back();
    clear_shadow(s);
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
  clear_shadow(s);
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
// The last fault of this thread's running task, for take_task_fault(); written only by the handler.
thread_local TaskFault t_fault;
thread_local bool t_faulted = false;
thread_local void* t_altstack = nullptr;  // this thread's alternate signal stack, once mapped
thread_local bool t_altstack_ready = false;

struct sigaction g_previous_segv;
struct sigaction g_previous_bus;
struct sigaction g_previous_fpe;

void handler(int sig, siginfo_t* info, void* ucontext) {
  char* addr = static_cast<char*>(info->si_addr);
  Armed& armed = t_armed;
  if (armed.escape != nullptr) {
    // A task was running: in its guard page this is a stack overflow; anywhere else the task's code faulted (a
    // null, stale or poisoned pointer), which the kernel would turn into an oops of that task. Either way the
    // world reports it and abandons the task (sim/task_fault.hpp).
    Escape* escape = armed.escape;
    if (sig != SIGSEGV || addr < armed.guard_lo || addr >= armed.guard_hi) {
      const auto* uc = static_cast<const ucontext_t*>(ucontext);
      t_fault = TaskFault{};
      t_fault.signal = sig;
      t_fault.code = info->si_code;
      t_fault.address = reinterpret_cast<std::uintptr_t>(addr);
#if defined(__x86_64__)
      // The page-fault error code's bit 1 is set for a write (arch/x86/include/asm/trap_pf.h X86_PF_WRITE).
      if (sig == SIGSEGV && info->si_code != SI_KERNEL)
        t_fault.access = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0 ? TaskFault::Access::Write : TaskFault::Access::Read;
      t_fault.pc = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
      t_fault.fp = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RBP]);
#elif defined(__aarch64__)
      t_fault.pc = static_cast<std::uintptr_t>(uc->uc_mcontext.pc);
      t_fault.fp = static_cast<std::uintptr_t>(uc->uc_mcontext.regs[29]);
#endif
      t_faulted = true;
    }
    armed = Armed{};
    siglongjmp(escape->jump, 1);
  }
  // Not ours: hand it to whoever had it before (a sanitizer), or die the default way.
  const struct sigaction& prev = sig == SIGSEGV ? g_previous_segv : sig == SIGBUS ? g_previous_bus : g_previous_fpe;
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

bool is_ours(const struct sigaction& sa) {
  return (sa.sa_flags & SA_SIGINFO) != 0 && sa.sa_sigaction == handler;
}

}  // namespace

void prepare_thread(bool recheck) {
  static std::atomic<bool> installed{false};
  static std::mutex install_mutex;
  if (!installed.load(std::memory_order_acquire) || recheck) {
    std::lock_guard<std::mutex> lock(install_mutex);
    struct sigaction sa {};
    sa.sa_sigaction = handler;
    sigemptyset(&sa.sa_mask);
    // SA_NODEFER: we leave the handler with siglongjmp and do not restore the mask, so SIGSEGV must not
    // stay blocked afterwards.
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    for (auto [sig, previous] : {std::pair{SIGSEGV, &g_previous_segv}, std::pair{SIGBUS, &g_previous_bus},
                                 std::pair{SIGFPE, &g_previous_fpe}}) {
      struct sigaction current {};
      // Whoever replaced ours becomes the handler we chain to.
      if (sigaction(sig, nullptr, &current) == 0 && !is_ours(current)) sigaction(sig, &sa, previous);
    }
    installed.store(true, std::memory_order_release);
  }
  // LIFETIME: the alternate stack lives as long as the thread; it is never unmapped because the handler
  // may run on it until the thread exits. Mapped, not malloc'd: it is not a heap object.
  static constexpr std::size_t kAltStackSize = 64 * 1024;
  if (t_altstack == nullptr) {
    void* mem = mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return;
    t_altstack = mem;
  } else if (!recheck && t_altstack_ready) {
    return;
  } else {
    stack_t current{};
    if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE) && current.ss_sp == t_altstack) return;
  }
  stack_t ss{};
  ss.ss_sp = t_altstack;
  ss.ss_size = kAltStackSize;
  t_altstack_ready = sigaltstack(&ss, nullptr) == 0;
}

void arm(const Stack& stack, Escape* escape) {
  t_armed = Armed{stack.base, stack.base + stack.guard, escape};
}

void disarm() {
  t_armed = Armed{};
}

}  // namespace overflow

std::optional<TaskFault> take_task_fault() noexcept {
  if (!overflow::t_faulted) return std::nullopt;
  overflow::t_faulted = false;
  return overflow::t_fault;
}

const char* fault_kind(const TaskFault& fault) noexcept {
  // x86 reports a non-canonical address (LIST_POISON1 is 0xdead000000000100) as a general-protection fault,
  // which Linux delivers as SI_KERNEL with no address; the kernel calls a fault below PAGE_SIZE a NULL pointer
  // dereference (arch/x86/mm/fault.c show_fault_oops).
  if (fault.signal == SIGFPE) return "divide-error";  // arch/x86/kernel/traps.c exc_divide_error
  if (fault.signal == SIGSEGV && fault.code == SI_KERNEL) return "general-protection-fault";
  if (fault.address < 4096) return "null-ptr-deref";
  return "page-fault";
}

}  // namespace devsim::sim
