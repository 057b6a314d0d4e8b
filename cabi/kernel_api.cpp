// The C ABI behind include/linux/: the kernel API a C driver calls, implemented on devsim's driver model.
// Every function here is called from instrumented C code in a module; the <linux/...> macros pass the caller's
// site, so reports name the driver's lines.
#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>

#include "bus/cdev.hpp"
#include "bus/errno.hpp"
#include "bus/host_lock.hpp"
#include "cabi/kernel_api.hpp"
#include "cabi/site.hpp"
#include "cabi/state.hpp"
#include "core/irqflags.hpp"
#include "core/refcount.hpp"
#include "sim/kmalloc.hpp"
#include "sim/machine.hpp"
#include "sim/memory.hpp"
#include "sim/native_kmalloc.hpp"
#include "sim/native_report.hpp"
#include "sim/report.hpp"
#include "sim/shadow.hpp"

#include "cabi/c_headers.hpp"

// The return address of the entry point that uses it: code in the C driver that called the kernel API. A macro, so
// that it is the entry point's own frame that is asked.
#define DEVSIM_C_CALLER_PC reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))

namespace devsim::cabi {

CApiState& state() {
  return sim::machine_state<CApiState>();
}

sim::World& world() {
  return *sim::World::current();
}

void check_primitive(const void* p, const sim::Site& site, std::uintptr_t pc) {
  if (sim::World* w = sim_world()) w->memory().check_primitive(p, site, pc);
}

void might_sleep(const char* what, const sim::Site& site) {
  if (sim::World* w = sim_world()) w->might_sleep(what, site);
}

bool should_fail_alloc(const sim::Site& site) {
  sim::World* w = sim_world();
  return w != nullptr && w->should_fail_alloc(site);
}

std::uint64_t now_ns() {
  if (sim::World* w = sim_world()) return w->now();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

void report_at(const char* kind, const std::string& headline, const std::string& detail, const sim::Site& site) {
  sim::World* w = sim_world();
  if (w == nullptr) {
    sim::native::report(kind,
                        headline + (detail.empty() ? "" : "\n  " + detail) + "\n  at " + sim::site_location(site));
    return;
  }
  sim::Report r;
  r.kind = kind;
  r.headline = headline;
  if (!detail.empty()) r.details.push_back(detail);
  r.fatal = false;
  r.accessed_by = w->task_site(w->current_task(), site);
  w->report(std::move(r));
}

constexpr unsigned kGfpKernelZero = static_cast<unsigned>(sim::GFP_KERNEL | sim::__GFP_ZERO);

// A zero-size kmalloc returns ZERO_SIZE_PTR (include/linux/slab.h), which kfree ignores.
void* const kZeroSizePtr = reinterpret_cast<void*>(16);

namespace {
// An untyped block of simulated memory (the quarantining heap natively), with no fault injection.
void* raw_alloc(std::size_t size, bool zero, const sim::Site& site) {
  sim::World* w = sim_world();
  if (w == nullptr) return sim::native::kmalloc(size, alignof(std::max_align_t), zero, site);
  sim::KernelMemory& mem = w->memory();
  const sim::AllocId id = mem.allocate(size, alignof(std::max_align_t), zero, nullptr, nullptr, site);
  return mem.record(id).base;
}
}  // namespace

void* c_kmalloc(std::size_t size, unsigned flags, const sim::Site& site) {
  const auto gfp = static_cast<sim::gfp_t>(flags);
  sim::might_alloc(gfp, site);
  if (should_fail_alloc(site)) return nullptr;
  if (size == 0) return kZeroSizePtr;
  return raw_alloc(size, sim::has(gfp, sim::__GFP_ZERO), site);
}

void* kernel_zalloc(std::size_t size, const sim::Site& site) {
  return raw_alloc(size, true, site);
}

void c_kfree(const void* p, const sim::Site& site) {
  if (p == nullptr || p == kZeroSizePtr) return;
  sim::kfree_raw(p, site);
}

core::Mutex& mutex_of(struct mutex* m, const sim::Site& site) {
  bus::HostGuard guard;
  // LIFETIME: the lock lives in the table (a unique_ptr, stable) until the machine ends.
  auto& slot = state().mutexes[m];
  if (!slot) {
    const char* name = __atomic_load_n(&m->name, __ATOMIC_RELAXED);
    slot = std::make_unique<core::Mutex>(name != nullptr ? name : "mutex", site);
    // What __mutex_unlock_slowpath touches after the hand-over is the driver's struct (its wait_lock).
    slot->set_memory(m, sizeof *m);
  }
  return *slot;
}

core::SpinLock& spinlock_of(struct spinlock* l, const sim::Site& site) {
  bus::HostGuard guard;
  auto& slot = state().spinlocks[l];
  if (!slot) {
    const char* name = __atomic_load_n(&l->name, __ATOMIC_RELAXED);
    slot = std::make_unique<core::SpinLock>(name != nullptr ? name : "spinlock", site);
  }
  return *slot;
}

core::Refcount* refcount_of(int* counter) {
  static_assert(sizeof(core::Refcount) == sizeof(int) && alignof(core::Refcount) == alignof(int),
                "refcount_t and core::Refcount must share one representation");
  // LIFETIME: the count is the C object's own storage (a std::atomic<int> has int's representation).
  return reinterpret_cast<core::Refcount*>(counter);
}

namespace {

// The user buffers of the calling task's system calls in progress: the simulator keeps them per task, a native
// task is its thread. Only the task itself reads or changes its own (no guard natively).
std::vector<std::pair<char*, std::size_t>>& user_buffers() {
  if (sim::World* w = sim_world()) return state().user_buffers[w->current_task()];
  thread_local std::vector<std::pair<char*, std::size_t>> mine;
  return mine;
}

// The user buffer of one read or write system call, registered for the task while the driver runs.
class UserBuffer {
 public:
  UserBuffer(std::size_t count) : bytes_(count == 0 ? 1 : count, '\0'), count_(count) {
    user_buffers().emplace_back(bytes_.data(), count_);
  }
  ~UserBuffer() {
    auto& v = user_buffers();
    if (!v.empty()) v.pop_back();
  }
  UserBuffer(const UserBuffer&) = delete;
  UserBuffer& operator=(const UserBuffer&) = delete;
  char* data() { return bytes_.data(); }

 private:
  std::string bytes_;
  std::size_t count_;
};

}  // namespace

void driver_access(const void* p, unsigned long n, bool write, std::uintptr_t pc) {
  // Natively ASan checks the copy itself. In the simulator host memory (a driver's stack buffer, a module global) is
  // not checked.
  sim::World* w = sim_world();
  if (w == nullptr || !sim::shadow::in_region(p)) return;
  w->memory().on_access(p, n, write ? sim::kAccessWrite : sim::kAccessRead, pc);
}

bool kernel_touch(const void* p, std::size_t n, bool write, const sim::Site& site) {
  sim::World* w = sim_world();
  if (w == nullptr) return true;  // the model's access that follows is ASan's to check natively
  sim::KernelMemory& mem = w->memory();
  const sim::AllocId id = mem.find(p);
  return id == 0 || mem.check(id, p, n, write, site);
}

int open_c_file(bus::File& f, const struct file_operations* fops, unsigned rdev, struct cdev* cdev, void* private_data,
                const sim::Site& site) {
  auto* inode = static_cast<struct inode*>(c_kmalloc(sizeof(struct inode), kGfpKernelZero, site));
  auto* file = static_cast<struct file*>(c_kmalloc(sizeof(struct file), kGfpKernelZero, site));
  if (inode == nullptr || file == nullptr) {
    c_kfree(inode, site);
    c_kfree(file, site);
    return -bus::kENOMEM;
  }
  inode->i_rdev = rdev;
  inode->i_cdev = cdev;
  file->f_op = fops;
  file->private_data = private_data;
  file->f_flags = f.f_flags();
  file->f_mode = FMODE_READ | FMODE_WRITE | FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
  file->f_inode = inode;
  f.set_private_raw(file);
  const int r = fops != nullptr && fops->open != nullptr ? fops->open(inode, file) : 0;
  if (r != 0) {
    // A failed open never reaches release: undo what the open took (fs/open.c do_dentry_open's cleanup).
    f.set_private_raw(nullptr);
    c_kfree(file, site);
    c_kfree(inode, site);
  }
  return r;
}

namespace {

bool user_range_ok(const void* p, unsigned long n) {
  const auto& buffers = user_buffers();
  if (buffers.empty()) return false;
  const auto [base, size] = buffers.back();
  const char* c = static_cast<const char*>(p);
  return c >= base && n <= size && c - base <= static_cast<std::ptrdiff_t>(size - n);
}

// ---- the VFS side of a C misc device: bus file operations that call the C driver's -------------------------

struct file* c_file(bus::File& f) {
  return static_cast<struct file*>(f.private_raw());
}

int c_open(bus::Cdev&, bus::File& f) {
  const sim::Site site = sim::Site::current();
  // misc_open set private_data to the misc device (bus/cdev.cpp), as drivers/char/misc.c does.
  CMisc* m = static_cast<CMisc*>(static_cast<bus::MiscDevice*>(f.private_raw()));
  struct miscdevice* cm = m->c;
  const struct file_operations* fops = cm->fops;
  struct module* owner = fops != nullptr ? fops->owner : nullptr;
  // fops_get(): a module that is going cannot be entered.
  if (owner != nullptr && !__devsim_try_module_get(owner)) return -bus::kENODEV;
  const int r = open_c_file(f, fops, MKDEV(static_cast<unsigned>(MISC_MAJOR), static_cast<unsigned>(cm->minor)),
                            nullptr, cm, site);  // misc_open: file->private_data = c
  if (r != 0 && owner != nullptr) __devsim_module_put(owner);
  return r;
}

long c_read(bus::File& f, std::size_t count) {
  struct file* file = c_file(f);
  const struct file_operations* fops = file->f_op;
  if (fops == nullptr || fops->read == nullptr) return -bus::kEINVAL;
  UserBuffer buf(count);
  const long r = fops->read(file, buf.data(), count, &file->f_pos);
  // What user space finds in its buffer, for the scenario's `=> N "BYTES"`.
  bus::note_user_copied_out(std::string_view(buf.data(), r > 0 ? std::min<std::size_t>(count, r) : 0));
  return r;
}

long c_write(bus::File& f, std::size_t count) {
  struct file* file = c_file(f);
  const struct file_operations* fops = file->f_op;
  if (fops == nullptr || fops->write == nullptr) return -bus::kEINVAL;
  UserBuffer buf(count);
  // The scenario's bytes (write fd "..."), if it gave some: what copy_from_user copies.
  const std::string_view data = bus::user_write_data();
  if (data.size() == count) std::memcpy(buf.data(), data.data(), count);
  return fops->write(file, buf.data(), count, &file->f_pos);
}

long c_ioctl(bus::File& f, unsigned cmd, unsigned long arg) {
  struct file* file = c_file(f);
  const struct file_operations* fops = file->f_op;
  if (fops == nullptr || fops->unlocked_ioctl == nullptr) return -bus::kENOTTY;
  // ioctl fd CMD "BYTES": the argument is a user buffer holding the bytes (a struct), copied back out after.
  const std::string_view data = bus::user_write_data();
  if (data.empty()) return fops->unlocked_ioctl(file, cmd, arg);
  UserBuffer buf(data.size());
  std::memcpy(buf.data(), data.data(), data.size());
  const long r = fops->unlocked_ioctl(file, cmd, reinterpret_cast<unsigned long>(buf.data()));
  bus::note_user_copied_out(std::string_view(buf.data(), data.size()));
  return r;
}

// The scenario's `poll FD`: poll(2) with a zero timeout for POLLIN|POLLOUT (fs/select.c do_pollfd, do_poll: the
// table's queueing function is NULL then, so poll_wait registers nothing; the result is filtered to what was asked
// plus EPOLLERR|EPOLLHUP; a file without a poll method is DEFAULT_POLLMASK, vfs_poll in include/linux/poll.h).
unsigned c_poll(bus::File& f) {
  struct file* file = c_file(f);
  const struct file_operations* fops = file->f_op;
  constexpr unsigned kAsked = bus::kPollIn | bus::kPollOut;
  if (fops == nullptr || fops->poll == nullptr) return kAsked;
  // poll.h's poll_table, laid out here: C++ code does not include poll.h, whose POLL* macros collide with the C
  // library's <poll.h>.
  struct CPollTable {
    void (*qproc)(struct file*, void*, void*);  // NULL: a zero-timeout poll queues nothing
    __poll_t key;                               // the events asked for (poll_requested_events)
  } table{nullptr, kAsked};
  const __poll_t mask = fops->poll(file, reinterpret_cast<struct poll_table_struct*>(&table));
  return mask & (kAsked | bus::kPollErr | bus::kPollHup);
}

int c_release(bus::Cdev&, bus::File& f) {
  const sim::Site site = sim::Site::current();
  struct file* file = c_file(f);
  const struct file_operations* fops = file->f_op;
  struct inode* inode = file->f_inode;
  // __fput(): release, then cdev_put() for a character device, then fops_put() drops the module reference, then
  // the file goes.
  if (fops != nullptr && fops->release != nullptr) fops->release(inode, file);
  if (inode->i_cdev != nullptr) cdev_put(inode->i_cdev, site);
  if (fops != nullptr && fops->owner != nullptr) __devsim_module_put(fops->owner);
  c_kfree(inode, site);
  c_kfree(file, site);
  return 0;
}

}  // namespace

const bus::FileOperations kCFops = [] {
  bus::FileOperations ops;
  ops.open = &c_open;
  ops.read = &c_read;
  ops.write = &c_write;
  ops.ioctl = &c_ioctl;
  ops.poll = &c_poll;
  ops.release = &c_release;
  return ops;
}();

namespace {

sim::WaitMode wait_mode(int task_state) {
  if (task_state == TASK_INTERRUPTIBLE) return sim::WaitMode::Interruptible;
  if (task_state == TASK_KILLABLE) return sim::WaitMode::Killable;
  return sim::WaitMode::Uninterruptible;
}

const char* wait_name(int task_state) {
  if (task_state == TASK_INTERRUPTIBLE) return "wait_event_interruptible";
  if (task_state == TASK_KILLABLE) return "wait_event_killable";
  if (task_state == TASK_IDLE) return "wait_event_idle";
  return "wait_event";
}

// A task's open-coded sleep: the queue it is on (prepare_to_wait or add_wait_queue, until finish_wait or
// remove_wait_queue; null: on none), the task state (set_current_state or prepare_to_wait, until schedule_timeout
// or set_current_state(TASK_RUNNING)) and the queue's wake-up count when the task was last both on it and set to
// sleep: a wake-up after that sets the task running (default_wake_function), so schedule_timeout does not sleep.
// An exclusive entry (prepare_to_wait_exclusive, add_wait_queue_exclusive, wait_event_*_exclusive) in the simulator
// is woken only when a wake-up selects it (`selected`: since it was last set to sleep) and sleeps on its entry, which
// only that selection wakes; natively it is woken like the others (a spurious wake-up the caller's loop allows).
struct PreparedWait {
  struct wait_queue_head* wq = nullptr;
  unsigned long token = 0;
  int state = TASK_RUNNING;
  struct wait_queue_entry* exclusive = nullptr;
  bool selected = false;
};
// The wake-ups of `wq` that wake a task in `task_state`: every one for TASK_INTERRUPTIBLE, only those of wake_up and
// wake_up_all for an uninterruptible or killable sleep (wake_up_interruptible passes them by: try_to_wake_up
// wakes a task only when its state matches the wake-up's mode).
unsigned long wakeups(const struct wait_queue_head* wq, int task_state) {
  return wait_mode(task_state) == sim::WaitMode::Interruptible
             ? __atomic_load_n(&wq->__devsim_wakeups, __ATOMIC_ACQUIRE)
             : __atomic_load_n(&wq->__devsim_wakeups_normal, __ATOMIC_ACQUIRE);
}
// The simulator's, per task of the machine; natively each task is a thread and has its own.
// The exclusive entries of each queue in the kernel's order (kernel/sched/wait.c: __add_wait_queue_entry_tail), the
// order in which __wake_up_common tries them.
// LIFETIME: a record and its queue entry go at finish_wait/remove_wait_queue, or with the machine; an entry of a task
// that ended without them is skipped (its record is gone), as a stack entry would be garbage in the kernel.
struct QueuedExclusive {
  sim::TaskId task;
  struct wait_queue_entry* entry;
  bool autoremove;  // autoremove_wake_function: off the queue once woken (prepare_to_wait_exclusive, wait_event)
};
struct PreparedWaits {
  std::unordered_map<sim::TaskId, PreparedWait> by_task;
  std::unordered_map<const struct wait_queue_head*, std::vector<QueuedExclusive>> exclusive;
};
thread_local PreparedWait t_native_prepared;

PreparedWait& prepared_wait() {
  if (sim::World* w = sim_world()) return sim::machine_state<PreparedWaits>().by_task[w->current_task()];
  return t_native_prepared;
}
// Takes the current task's exclusive entry off `wq`'s queue (finish_wait, remove_wait_queue, a signal in
// prepare_to_wait_event); in the simulator only.
void dequeue_exclusive(const struct wait_queue_head* wq) {
  sim::World* w = sim_world();
  if (w == nullptr || wq == nullptr) return;
  auto& queues = sim::machine_state<PreparedWaits>().exclusive;
  auto it = queues.find(wq);
  if (it == queues.end()) return;
  std::erase_if(it->second, [t = w->current_task()](const QueuedExclusive& e) { return e.task == t; });
}
// Queues the current task's exclusive `entry` at the tail of `wq`, unless it is queued (prepare_to_wait_exclusive:
// `if (list_empty(&wq_entry->entry))`), and marks its record exclusive and not yet selected.
void enqueue_exclusive(struct wait_queue_head* wq, struct wait_queue_entry* entry, bool autoremove) {
  PreparedWait& p = prepared_wait();
  p.exclusive = entry;
  p.selected = false;
  sim::World* w = sim_world();
  if (w == nullptr) return;
  auto& q = sim::machine_state<PreparedWaits>().exclusive[wq];
  const sim::TaskId t = w->current_task();
  if (std::none_of(q.begin(), q.end(), [t](const QueuedExclusive& e) { return e.task == t; }))
    q.push_back({t, entry, autoremove});
}
// Whether a wake-up reached the task prepared as `p` since it was set to sleep: for an exclusive entry in the
// simulator, whether one selected it (read from the live record: the waker writes it); otherwise whether the queue's
// count moved.
bool woken_since_prepared(const PreparedWait& p) {
  if (p.wq == nullptr) return false;
  if (p.exclusive != nullptr && sim_world() != nullptr) return prepared_wait().selected;
  return wakeups(p.wq, p.state) != p.token;
}
// Whether a signal the task state accepts is pending (an interruptible sleep: any; a killable one: a fatal one).
bool signal_accepted(int task_state) {
  const sim::WaitMode mode = wait_mode(task_state);
  return mode == sim::WaitMode::Interruptible ? devsim::core::signal_pending()
         : mode == sim::WaitMode::Killable    ? devsim::core::fatal_signal_pending()
                                              : false;
}

// kernel/time/sleep_timeout.c schedule_timeout for a task prepared as `p` says, with no signal pending: sleeps until a
// wake-up of p.wq since p.token or `timeout` jiffies of virtual time (MAX_SCHEDULE_TIMEOUT: no bound); returns the
// jiffies left, 0 when the time ran out. The caller checked might_sleep.
long sleep_timeout(const PreparedWait& p, long timeout, const char* what, const sim::Site& site) {
  constexpr long kMaxScheduleTimeout = __LONG_MAX__;  // MAX_SCHEDULE_TIMEOUT (LONG_MAX)
  constexpr sim::Nanos kJiffy = 1'000'000;            // HZ is 1000
  if (timeout < 0) return 0;                          // "schedule_timeout: wrong timeout value": no sleep
  sim::World* w = sim_world();
  // Others run between the caller's test of its condition and the sleep (a waker on another CPU): a wake-up there
  // is the one the token catches.
  if (w != nullptr) w->yield(sim::EventKind::Yield, nullptr, site);
  const auto woken = [&p] { return woken_since_prepared(p); };
  if (woken()) return timeout;
  const sim::WaitMode mode = wait_mode(p.state);
  // A sleep on no queue: nothing wakes this channel, only the time or a signal ends it. An exclusive entry sleeps on
  // itself: only a wake-up that selects it wakes it.
  static const char kNoQueue = 0;
  const void* channel = p.wq == nullptr               ? static_cast<const void*>(&kNoQueue)
                        : p.exclusive != nullptr && w ? static_cast<const void*>(p.exclusive)
                                                      : static_cast<const void*>(p.wq);
  if (w != nullptr) {
    const sim::Nanos start = w->now();
    std::optional<sim::Nanos> bound;
    if (timeout != kMaxScheduleTimeout) bound = static_cast<sim::Nanos>(timeout) * kJiffy;
    // TASK_IDLE: an uninterruptible sleep the hung-task detector passes by (it counts no load).
    std::optional<sim::World::NotHungScope> idle;
    if ((p.state & TASK_NOLOAD) != 0) idle.emplace(*w);
    const sim::WaitResult r = w->block_wait(channel, what, mode, bound, site);
    if (timeout == kMaxScheduleTimeout) return timeout;
    if (r == sim::WaitResult::TimedOut) return 0;
    const long left = timeout - static_cast<long>((w->now() - start) / kJiffy);
    return left > 0 ? left : 0;
  }
  // Natively: a wake-up of the queue (any wake-up notifies the guard's condition) or the time; an unbounded sleep
  // also ends on a signal the state accepts.
  if (timeout == kMaxScheduleTimeout) {
    bus::HostSignalWait wait(mode);
    wait.wait(woken);
    return timeout;
  }
  bus::HostGuard guard;
  const auto start = std::chrono::steady_clock::now();
  if (!guard.wait_for(std::chrono::milliseconds(timeout), woken)) return 0;
  const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  const long left = timeout - static_cast<long>(spent.count());
  return left > 0 ? left : 0;
}

// The C library's formatting of `fmt` with `ap` (consumed); nothing when the format is invalid.
std::optional<std::string> vformat(const char* fmt, va_list ap) {
  va_list again;
  va_copy(again, ap);
  const int len = std::vsnprintf(nullptr, 0, fmt, ap);
  std::optional<std::string> text;
  if (len >= 0) {
    text.emplace(static_cast<std::size_t>(len), '\0');
    std::vsnprintf(text->data(), text->size() + 1, fmt, again);
  }
  va_end(again);
  return text;
}

// What the task prepared; it is running again (schedule() returns, set_current_state(TASK_RUNNING)) and, when
// `leave_queue` (finish_wait, remove_wait_queue), off its queue.
PreparedWait take_prepared_wait(bool leave_queue) {
  PreparedWait p;
  if (sim::World* w = sim_world()) {
    auto& by_task = sim::machine_state<PreparedWaits>().by_task;
    if (auto it = by_task.find(w->current_task()); it != by_task.end()) {
      p = it->second;
      if (leave_queue || p.wq == nullptr) {
        if (p.exclusive != nullptr) dequeue_exclusive(p.wq);
        by_task.erase(it);
      } else {
        it->second.state = TASK_RUNNING;
      }
    }
    w->set_running();
    return p;
  }
  p = t_native_prepared;
  t_native_prepared = PreparedWait{};
  if (!leave_queue) t_native_prepared.wq = p.wq;
  return p;
}

}  // namespace
}  // namespace devsim::cabi

using devsim::cabi::c_site;
using devsim::cabi::state;
namespace bus = devsim::bus;
namespace sim = devsim::sim;
namespace cabi = devsim::cabi;

extern "C" {

void* __devsim_kmalloc(size_t size, gfp_t flags, const char* file, int line, const char* func) {
  return cabi::c_kmalloc(size, flags, c_site(file, line, func));
}

char* __devsim_kasprintf(gfp_t flags, const char* file, int line, const char* func, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const std::optional<std::string> text = cabi::vformat(fmt, ap);
  va_end(ap);
  if (!text) return nullptr;
  auto* out = static_cast<char*>(cabi::c_kmalloc(text->size() + 1, flags, c_site(file, line, func)));
  // The kernel's own write into the allocation it just made: nothing of the driver's to check.
  if (out != nullptr) std::memcpy(out, text->c_str(), text->size() + 1);
  return out;
}

void __devsim_kfree(const void* p, const char* file, int line, const char* func) {
  cabi::c_kfree(p, c_site(file, line, func));
}

void* __devsim_kmemdup(const void* src, size_t len, gfp_t flags, const char* file, int line, const char* func) {
  // mm/util.c kmemdup: a new allocation holding a copy of the len bytes at src (read as the driver's access).
  void* p = cabi::c_kmalloc(len, flags, c_site(file, line, func));
  if (p == nullptr || len == 0) return p;
  cabi::driver_access(src, len, false, DEVSIM_C_CALLER_PC);
  std::memcpy(p, src, len);
  return p;
}

void* __devsim_memdup_user(const void* src, size_t len, int nul, const char* file, int line, const char* func) {
  // mm/util.c memdup_user / memdup_user_nul: kmalloc(GFP_USER), then copy_from_user; the allocation is freed again
  // when the copy faults.
  const sim::Site site = c_site(file, line, func);
  cabi::might_sleep(nul ? "memdup_user_nul" : "memdup_user", site);
  // include/linux/err.h ERR_PTR: the negative errno as a pointer.
  auto err_ptr = [](int err) { return reinterpret_cast<void*>(static_cast<std::intptr_t>(-err)); };
  auto* p = static_cast<char*>(cabi::c_kmalloc(len + (nul ? 1 : 0), static_cast<unsigned>(sim::GFP_KERNEL), site));
  if (p == nullptr) return err_ptr(bus::kENOMEM);
  if (len > 0 && !cabi::user_range_ok(src, len)) {
    cabi::c_kfree(p, site);
    return err_ptr(bus::kEFAULT);
  }
  cabi::driver_access(p, len + (nul ? 1 : 0), true, DEVSIM_C_CALLER_PC);
  if (len > 0) std::memcpy(p, src, len);
  if (nul) p[len] = 0;
  return p;
}

void* __devsim_krealloc(const void* p, size_t new_size, gfp_t flags, const char* file, int line, const char* func) {
  // mm/slab_common.c krealloc: NULL is a kmalloc, a new size of 0 a kfree (ZERO_SIZE_PTR back). The kernel may keep
  // an object that still fits in place; devsim always moves it, so a caller that keeps using the old pointer (which
  // krealloc may free) is caught in every execution, not only when the object happened to move.
  const sim::Site site = c_site(file, line, func);
  if (p == nullptr || p == cabi::kZeroSizePtr) return cabi::c_kmalloc(new_size, flags, site);
  if (new_size == 0) {
    cabi::c_kfree(p, site);
    return cabi::kZeroSizePtr;
  }
  std::size_t old_size = 0;
  if (sim::World* w = cabi::sim_world()) {
    const sim::AllocId id = w->memory().find(p);
    old_size = id != 0 ? w->memory().record(id).size : 0;
  } else {
    old_size = sim::native::live_size(p);
  }
  void* q = cabi::c_kmalloc(new_size, flags, site);
  if (q == nullptr) return nullptr;  // the old object stays the caller's
  const std::size_t n = old_size < new_size ? old_size : new_size;
  if (n != 0) {
    cabi::driver_access(p, n, false, DEVSIM_C_CALLER_PC);
    std::memcpy(q, p, n);
  }
  cabi::c_kfree(p, site);
  return q;
}

int __devsim_printk(const char* fmt, ...) {
  static const bool print = [] {
    const char* v = std::getenv("DEVSIM_PRINTK");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  // A log level prefix ("<3>") is the kernel's KERN_* marker, not text.
  const char* body = text[0] == '<' && text[1] >= '0' && text[1] <= '7' && text[2] == '>' ? text + 3 : text;
  if (print) std::fprintf(stderr, "[printk] %s", body);
  return n;
}

void __devsim_warn(const char* cond, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::report_at("warning", "WARNING in " + sim::site_function(site) + ": " + std::string(cond), "", site);
}

bool __devsim_list_corruption(const char* headline, const char* detail, const char* file, int line, const char* func) {
  // The kind core/list_head.hpp reports for the same checks.
  cabi::report_at("list-corruption", headline, detail, c_site(file, line, func));
  return false;
}

void __devsim_might_sleep(const char* file, int line, const char* func) {
  cabi::might_sleep("might_sleep", c_site(file, line, func));
}

// ---- locks ----

void __devsim_mutex_init(struct mutex* m, const char* name, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  __atomic_store_n(&m->name, name, __ATOMIC_RELAXED);
  auto lock = std::make_unique<devsim::core::Mutex>(name, site);
  lock->set_memory(m, sizeof *m);
  bus::HostGuard guard;
  state().mutexes[m] = std::move(lock);
}

void __devsim_mutex_lock(struct mutex* m, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::check_primitive(m, site, DEVSIM_C_CALLER_PC);
  cabi::mutex_of(m, site).lock(site);
}

// Modelled as mutex_lock, which cannot fail. The kernel's task waits in TASK_INTERRUPTIBLE there, which its hung-task
// detector passes by (kernel/hung_task.c): so does devsim's.
int __devsim_mutex_lock_interruptible(struct mutex* m, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::check_primitive(m, site, DEVSIM_C_CALLER_PC);
  sim::World* w = cabi::sim_world();
  std::optional<sim::World::NotHungScope> not_hung;
  if (w != nullptr) not_hung.emplace(*w);
  cabi::mutex_of(m, site).lock(site);
  return 0;
}

int __devsim_mutex_trylock(struct mutex* m, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::check_primitive(m, site, DEVSIM_C_CALLER_PC);
  return cabi::mutex_of(m, site).try_lock(site) ? 1 : 0;
}

void __devsim_mutex_unlock(struct mutex* m, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::check_primitive(m, site, DEVSIM_C_CALLER_PC);
  cabi::mutex_of(m, site).unlock(site);
}

int __devsim_mutex_is_locked(struct mutex* m) {
  return cabi::mutex_of(m, sim::Site::current()).is_locked() ? 1 : 0;
}

void __devsim_spin_lock_init(struct spinlock* l, const char* name, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  __atomic_store_n(&l->name, name, __ATOMIC_RELAXED);
  auto lock = std::make_unique<devsim::core::SpinLock>(name, site);
  bus::HostGuard guard;
  state().spinlocks[l] = std::move(lock);
}

void __devsim_spin_lock(struct spinlock* l, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::check_primitive(l, site, DEVSIM_C_CALLER_PC);
  cabi::spinlock_of(l, site).lock(site);
}

void __devsim_spin_unlock(struct spinlock* l, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::check_primitive(l, site, DEVSIM_C_CALLER_PC);
  cabi::spinlock_of(l, site).unlock(site);
}

// ---- refcount_t ----

void __devsim_refcount_set(int* counter, int n) {
  cabi::refcount_of(counter)->set(n);
}

void __devsim_refcount_inc(int* counter, const char* file, int line, const char* func) {
  cabi::refcount_of(counter)->inc(c_site(file, line, func));
}

int __devsim_refcount_dec_and_test(int* counter, const char* file, int line, const char* func) {
  return cabi::refcount_of(counter)->dec_and_test(c_site(file, line, func)) ? 1 : 0;
}

int __devsim_refcount_inc_not_zero(int* counter, const char* file, int line, const char* func) {
  return cabi::refcount_of(counter)->inc_not_zero(c_site(file, line, func)) ? 1 : 0;
}

int __devsim_refcount_read(const int* counter) {
  return cabi::refcount_of(const_cast<int*>(counter))->read();
}

// ---- wait queues ----

void __devsim_init_waitqueue_head(struct wait_queue_head* wq, const char* file, int line, const char* func) {
  __devsim_spin_lock_init(&wq->lock, "wq->lock", file, line, func);
  __atomic_store_n(&wq->__devsim_wakeups, 0ul, __ATOMIC_RELAXED);
  __atomic_store_n(&wq->__devsim_wakeups_normal, 0ul, __ATOMIC_RELAXED);
}

unsigned long __devsim_prepare_to_wait(struct wait_queue_head* wq, int task_state, const char* file, int line,
                                       const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (sim::World* w = cabi::sim_world()) {
    w->might_sleep(cabi::wait_name(task_state), site);
    w->yield(sim::EventKind::Sync, wq, site);  // checks the queue (a wait on freed memory is a use-after-free)
    w->touch(wq, false);
    // The caller tests its condition next, not running until __devsim_wait_sleep or __devsim_finish_wait.
    w->set_not_running(site);
  }
  return cabi::wakeups(wq, task_state);
}

void __devsim_finish_wait(struct wait_queue_head*, const char* file, int line, const char* func) {
  if (sim::World* w = cabi::sim_world()) {
    w->set_running();
    // The wait_event loop ends here when its condition held (or on a signal or timeout, which a probe never gives):
    // a lost wake-up if only the end-of-execution probe woke the task.
    w->wait_condition_held(c_site(file, line, func));
  }
}

long __devsim_wait_sleep(struct wait_queue_head* wq, unsigned long token, int task_state, const char* file, int line,
                         const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (sim::World* w = cabi::sim_world()) w->set_running();  // the condition was tested
  const sim::WaitMode mode = cabi::wait_mode(task_state);
  // Signals after the condition, as ___wait_event checks them (prepare_to_wait_event: signal_pending_state).
  const bool signalled = mode == sim::WaitMode::Interruptible ? devsim::core::signal_pending()
                         : mode == sim::WaitMode::Killable    ? devsim::core::fatal_signal_pending()
                                                              : false;
  if (signalled) return -bus::kERESTARTSYS;
  // A wake-up since the prepare: the condition may hold now; test it again rather than sleep.
  const auto woken = [wq, token, task_state] { return cabi::wakeups(wq, task_state) != token; };
  if (woken()) return 0;
  if (sim::World* w = cabi::sim_world()) {
    std::optional<sim::World::NotHungScope> idle;  // TASK_IDLE: passed by the hung-task detector
    if ((task_state & TASK_NOLOAD) != 0) idle.emplace(*w);
    w->block_wait(wq, cabi::wait_name(task_state), mode, std::nullopt, site, /*retests=*/true);
    return 0;
  }
  // Natively every C wait queue sleeps on the driver model's condition, and every wake-up notifies it: a wake-up of
  // another queue is a spurious wake-up, which the caller's loop already allows. The token is read under the guard
  // and __devsim_wake_up notifies after changing it, so no wake-up is lost.
  // LIFETIME: `wq` is the driver's, alive while it sleeps on it (a wait on freed memory is ASan's report).
  bus::HostSignalWait wait(mode);
  return wait.wait(woken) ? 0 : -bus::kERESTARTSYS;
}

namespace {
// __wake_up (kernel/sched/wait.c) in mode TASK_NORMAL (`interruptible_only` false: every sleeper) or
// TASK_INTERRUPTIBLE (only those asleep in TASK_INTERRUPTIBLE; the others, and those about to sleep uninterruptibly
// or killably, are passed by).
// Of the exclusive entries, __wake_up_common wakes the first `nr_exclusive` (0: all) whose task try_to_wake_up wakes:
// one asleep in a state the mode matches, not already running (woken and not set to sleep again).
void wake_exclusive(sim::World& w, const struct wait_queue_head* wq, bool interruptible_only, int nr_exclusive,
                    const sim::Site& site) {
  cabi::PreparedWaits& st = sim::machine_state<cabi::PreparedWaits>();
  auto queue = st.exclusive.find(wq);
  if (queue == st.exclusive.end()) return;
  std::vector<cabi::QueuedExclusive>& q = queue->second;
  int woken = 0;
  for (std::size_t i = 0; i < q.size();) {
    const cabi::QueuedExclusive e = q[i];
    auto rec = st.by_task.find(e.task);
    const bool wakes = rec != st.by_task.end() && rec->second.wq == wq && rec->second.state != TASK_RUNNING &&
                       !rec->second.selected && (!interruptible_only || (rec->second.state & TASK_INTERRUPTIBLE));
    if (!wakes) {
      ++i;
      continue;
    }
    rec->second.selected = true;
    if (e.autoremove)
      q.erase(q.begin() + static_cast<std::ptrdiff_t>(i));
    else
      ++i;
    w.wake_all(e.entry, site);  // asleep on its entry: only this wakes it
    if (nr_exclusive > 0 && ++woken == nr_exclusive) break;
  }
}

void wake_queue(struct wait_queue_head* wq, bool interruptible_only, const sim::Site& site, int nr_exclusive = 1) {
  sim::World* w = cabi::sim_world();
  if (w != nullptr) {
    w->yield(sim::EventKind::Wake, wq, site);
    w->touch(wq, true);
  }
  __atomic_fetch_add(&wq->__devsim_wakeups, 1ul, __ATOMIC_RELEASE);
  if (!interruptible_only) __atomic_fetch_add(&wq->__devsim_wakeups_normal, 1ul, __ATOMIC_RELEASE);
  if (w == nullptr) {
    // Natively an uninterruptible sleeper notified by an interruptible wake-up re-tests its condition and sleeps
    // again: a spurious wake-up, not the kernel's missed one.
    bus::HostGuard::notify_all();
    return;
  }
  if (interruptible_only)
    w->wake_all_interruptible(wq, site);
  else
    w->wake_all(wq, site);
  wake_exclusive(*w, wq, interruptible_only, nr_exclusive, site);
}
}  // namespace

void __devsim_wake_up(struct wait_queue_head* wq, const char* file, int line, const char* func) {
  wake_queue(wq, /*interruptible_only=*/false, c_site(file, line, func));
}

void __devsim_wake_up_interruptible(struct wait_queue_head* wq, const char* file, int line, const char* func) {
  wake_queue(wq, /*interruptible_only=*/true, c_site(file, line, func));
}

void __devsim_wake_up_nr(struct wait_queue_head* wq, int interruptible_only, int nr_exclusive, const char* file,
                         int line, const char* func) {
  wake_queue(wq, interruptible_only != 0, c_site(file, line, func), nr_exclusive);
}

// wait_event_*_exclusive: ___wait_event with an exclusive entry (include/linux/wait.h), in three calls.
// prepare_to_wait_event (kernel/sched/wait.c): with a signal the state accepts pending, off the queue before the
// condition is tested (a wake-up after that selects another waiter) and -ERESTARTSYS; otherwise queued at the tail
// unless queued, and set to sleep.
long __devsim_prepare_to_wait_event_exclusive(struct wait_queue_head* wq, struct wait_queue_entry* entry,
                                              int task_state, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (sim::World* w = cabi::sim_world()) {
    w->might_sleep(cabi::wait_name(task_state), site);
    w->yield(sim::EventKind::Sync, wq, site);
    w->touch(wq, true);
  }
  cabi::PreparedWait& p = cabi::prepared_wait();
  if (cabi::signal_accepted(task_state)) {
    if (p.exclusive != nullptr) cabi::dequeue_exclusive(p.wq);
    p.exclusive = nullptr;
    p.state = TASK_RUNNING;
    return -bus::kERESTARTSYS;
  }
  p.wq = wq;
  p.token = cabi::wakeups(wq, task_state);
  p.state = task_state;
  cabi::enqueue_exclusive(wq, entry, /*autoremove=*/true);
  if (sim::World* w = cabi::sim_world()) w->set_not_running(site);  // the condition is tested next
  return 0;
}

// The loop's schedule(): returns at once if a wake-up selected the entry since the prepare, else sleeps on the entry
// until one does (or a signal, or the end-of-execution probe: the loop tests its condition again either way).
void __devsim_wait_sleep_exclusive(struct wait_queue_head* wq, struct wait_queue_entry* entry, int task_state,
                                   const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  sim::World* w = cabi::sim_world();
  if (w != nullptr) w->set_running();  // the condition was tested
  const cabi::PreparedWait p = cabi::prepared_wait();
  if (!cabi::woken_since_prepared(p)) {
    const sim::WaitMode mode = cabi::wait_mode(task_state);
    if (w != nullptr) {
      std::optional<sim::World::NotHungScope> idle;  // TASK_IDLE: passed by the hung-task detector
      if ((task_state & TASK_NOLOAD) != 0) idle.emplace(*w);
      w->block_wait(entry, cabi::wait_name(task_state), mode, std::nullopt, site, /*retests=*/true);
    } else {
      bus::HostSignalWait wait(mode);
      wait.wait([wq, &p] { return cabi::wakeups(wq, p.state) != p.token; });
    }
  }
  cabi::prepared_wait().state = TASK_RUNNING;
}

// finish_wait: running, off the queue. The loop ends here when its condition held (or on a signal): a lost wake-up
// if only the end-of-execution probe woke the task.
void __devsim_finish_wait_exclusive(struct wait_queue_head*, struct wait_queue_entry*, const char* file, int line,
                                    const char* func) {
  cabi::take_prepared_wait(/*leave_queue=*/true);
  if (sim::World* w = cabi::sim_world()) w->wait_condition_held(c_site(file, line, func));
}

// The open-coded wait (include/linux/wait.h prepare_to_wait/finish_wait, kernel/time/sleep_timeout.c
// schedule_timeout). Unlike wait_event's prepare, prepare_to_wait itself may be called in atomic context (it only
// queues the task under the queue's lock): the sleep is schedule_timeout's.
void __devsim_prepare_to_wait_entry(struct wait_queue_head* wq, struct wait_queue_entry*, int task_state,
                                    const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (sim::World* w = cabi::sim_world()) {
    w->yield(sim::EventKind::Sync, wq, site);  // checks the queue (freed: use-after-free)
    w->touch(wq, false);
    w->set_not_running(site);
  }
  cabi::prepared_wait() = cabi::PreparedWait{wq, cabi::wakeups(wq, task_state), task_state};
}

// prepare_to_wait_exclusive (kernel/sched/wait.c): at the queue's tail unless queued, set to sleep.
void __devsim_prepare_to_wait_exclusive_entry(struct wait_queue_head* wq, struct wait_queue_entry* entry,
                                              int task_state, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (sim::World* w = cabi::sim_world()) {
    w->yield(sim::EventKind::Sync, wq, site);
    w->touch(wq, true);  // changes the queue a wake-up walks
    w->set_not_running(site);
  }
  cabi::PreparedWait& p = cabi::prepared_wait();
  if (p.wq != nullptr && p.wq != wq && p.exclusive != nullptr) cabi::dequeue_exclusive(p.wq);
  p.wq = wq;
  p.token = cabi::wakeups(wq, task_state);
  p.state = task_state;
  cabi::enqueue_exclusive(wq, entry, /*autoremove=*/true);
}

void __devsim_finish_wait_entry(struct wait_queue_head*, struct wait_queue_entry*, const char*, int, const char*) {
  cabi::take_prepared_wait(/*leave_queue=*/true);
}

// add_wait_queue/remove_wait_queue (kernel/sched/wait.c): the entry stays on the queue across wake-ups
// (default_wake_function does not remove it), so a loop may set_current_state and schedule again without a new
// add. Adding does not change the task state: set before the add, a wake-up from now on wakes the task; set after
// it, set_current_state takes the count then.
void __devsim_add_wait_queue(struct wait_queue_head* wq, struct wait_queue_entry*, const char* file, int line,
                             const char* func) {
  if (sim::World* w = cabi::sim_world()) {
    w->yield(sim::EventKind::Sync, wq, c_site(file, line, func));  // takes the queue's lock: freed, use-after-free
    w->touch(wq, false);
  }
  cabi::PreparedWait& p = cabi::prepared_wait();
  p.wq = wq;
  p.token = cabi::wakeups(wq, p.state);
}

// add_wait_queue_exclusive: at the tail, woken with default_wake_function (stays queued until remove_wait_queue).
void __devsim_add_wait_queue_exclusive(struct wait_queue_head* wq, struct wait_queue_entry* entry, const char* file,
                                       int line, const char* func) {
  if (sim::World* w = cabi::sim_world()) {
    w->yield(sim::EventKind::Sync, wq, c_site(file, line, func));
    w->touch(wq, true);
  }
  cabi::PreparedWait& p = cabi::prepared_wait();
  p.wq = wq;
  p.token = cabi::wakeups(wq, p.state);
  cabi::enqueue_exclusive(wq, entry, /*autoremove=*/false);
}

void __devsim_remove_wait_queue(struct wait_queue_head* wq, struct wait_queue_entry*, const char* file, int line,
                                const char* func) {
  if (sim::World* w = cabi::sim_world()) {
    w->yield(sim::EventKind::Sync, wq, c_site(file, line, func));
    w->touch(wq, false);
  }
  cabi::PreparedWait& p = cabi::prepared_wait();
  const bool woken = cabi::woken_since_prepared(p);
  if (p.state != TASK_RUNNING && !woken) {  // off the queue, still set to sleep: only the time or a signal ends it
    if (p.exclusive != nullptr) cabi::dequeue_exclusive(p.wq);
    p.wq = nullptr;
    p.token = 0;
    p.exclusive = nullptr;
    return;
  }
  cabi::take_prepared_wait(/*leave_queue=*/true);  // running, or a wake-up while queued set it running
}

void __devsim_set_current_state(int task_state, const char* file, int line, const char* func) {
  if (task_state == TASK_RUNNING) {
    cabi::take_prepared_wait(/*leave_queue=*/false);
    return;
  }
  cabi::PreparedWait& p = cabi::prepared_wait();
  if (sim::World* w = cabi::sim_world()) {
    const sim::Site site = c_site(file, line, func);
    if (p.wq != nullptr) {
      // On a queue, a waker on another CPU may run just before: its wake-up set the task running, and this puts it
      // back to sleep (lost unless the caller tests its condition again).
      w->yield(sim::EventKind::Sync, p.wq, site);
      w->touch(p.wq, false);
    }
    w->set_not_running(site);
  }
  p.state = task_state;
  p.token = p.wq != nullptr ? cabi::wakeups(p.wq, task_state) : 0;
  p.selected = false;  // an exclusive entry set to sleep again may be selected again
}

int default_wake_function(struct wait_queue_entry*, unsigned, int, void*) {
  return 1;
}
int autoremove_wake_function(struct wait_queue_entry*, unsigned, int, void*) {
  return 1;
}

long __devsim_schedule_timeout(long timeout, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  // The task stays in its state while it sleeps (a wake-up selects an exclusive entry only then), and runs after.
  const cabi::PreparedWait p = cabi::prepared_wait();
  long left = timeout;
  if (p.state == TASK_RUNNING) {  // schedule() of a running task: others may run, no time passes
    cabi::take_prepared_wait(/*leave_queue=*/false);
    if (sim::World* w = cabi::sim_world()) w->yield(sim::EventKind::Yield, nullptr, site);
    return timeout;
  }
  // schedule() itself is where the task may sleep, not a blocking call made while it is set to sleep.
  if (sim::World* w = cabi::sim_world()) w->set_running();
  cabi::might_sleep("schedule_timeout", site);
  // A pending signal the state accepts keeps the task running (kernel/sched/core.c signal_pending_state).
  if (!cabi::signal_accepted(p.state)) left = cabi::sleep_timeout(p, timeout, "schedule_timeout", site);
  cabi::take_prepared_wait(/*leave_queue=*/false);
  return left;
}

long __devsim_wait_sleep_timeout(struct wait_queue_head* wq, unsigned long token, int task_state, long timeout,
                                 const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  if (sim::World* w = cabi::sim_world()) w->set_running();  // the condition was tested
  // Signals after the condition, as ___wait_event checks them (prepare_to_wait_event: signal_pending_state).
  if (cabi::signal_accepted(task_state)) return -bus::kERESTARTSYS;
  return cabi::sleep_timeout(cabi::PreparedWait{wq, token, task_state}, timeout, cabi::wait_name(task_state), site);
}

int __devsim_signal_pending(void) {
  return devsim::core::signal_pending() ? 1 : 0;
}

// ---- strings and memory (linux/string.h, sprintf in linux/kernel.h) ----
// The driver's own reads and writes, checked at its call site as its instrumented code's would be.

void* __devsim_memcpy(void* dst, const void* src, size_t n, int overlap, const char*, int, const char*) {
  if (n == 0) return dst;
  cabi::driver_access(src, n, false, DEVSIM_C_CALLER_PC);
  cabi::driver_access(dst, n, true, DEVSIM_C_CALLER_PC);
  return overlap ? std::memmove(dst, src, n) : std::memcpy(dst, src, n);
}

void* __devsim_memset(void* dst, int c, size_t n, const char*, int, const char*) {
  if (n == 0) return dst;
  cabi::driver_access(dst, n, true, DEVSIM_C_CALLER_PC);
  return std::memset(dst, c, n);
}

int __devsim_memcmp(const void* a, const void* b, size_t n, const char*, int, const char*) {
  if (n == 0) return 0;
  cabi::driver_access(a, n, false, DEVSIM_C_CALLER_PC);
  cabi::driver_access(b, n, false, DEVSIM_C_CALLER_PC);
  return std::memcmp(a, b, n);
}

size_t __devsim_strnlen(const char* s, size_t max, const char*, int, const char*) {
  const size_t n = ::strnlen(s, max);
  // The bytes read: the string and its terminator (all `max` when there was none within them).
  cabi::driver_access(s, n < max ? n + 1 : n, false, DEVSIM_C_CALLER_PC);
  return n;
}

int __devsim_strncmp(const char* a, const char* b, size_t n, const char*, int, const char*) {
  if (n == 0) return 0;
  size_t i = 0;
  while (i + 1 < n && a[i] != '\0' && a[i] == b[i])
    ++i;
  cabi::driver_access(a, i + 1, false, DEVSIM_C_CALLER_PC);
  cabi::driver_access(b, i + 1, false, DEVSIM_C_CALLER_PC);
  return static_cast<unsigned char>(a[i]) - static_cast<unsigned char>(b[i]);
}

char* __devsim_strchr(const char* s, int c, const char*, int, const char*) {
  const size_t n = std::strlen(s);
  cabi::driver_access(s, n + 1, false, DEVSIM_C_CALLER_PC);
  return const_cast<char*>(std::strchr(s, c));
}

ssize_t __devsim_strscpy(char* dst, const char* src, size_t size, const char*, int, const char*) {
  constexpr ssize_t kE2Big = -7;  // -E2BIG (include/uapi/asm-generic/errno-base.h)
  if (size == 0) return kE2Big;
  const size_t n = ::strnlen(src, size);
  const size_t copied = n < size ? n : size - 1;
  cabi::driver_access(src, n < size ? n + 1 : n, false, DEVSIM_C_CALLER_PC);
  cabi::driver_access(dst, copied + 1, true, DEVSIM_C_CALLER_PC);
  std::memcpy(dst, src, copied);
  dst[copied] = '\0';
  return n < size ? static_cast<ssize_t>(n) : kE2Big;
}

int __devsim_snprintf(char* buf, size_t size, int written, const char*, int, const char*, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const std::optional<std::string> formatted = cabi::vformat(fmt, ap);
  va_end(ap);
  if (!formatted) return 0;
  const std::string& text = *formatted;
  const int len = static_cast<int>(text.size());
  // sprintf: unbounded (size is SIZE_MAX); snprintf/scnprintf: at most size bytes, terminator included.
  const size_t out = size == 0 ? 0 : (text.size() < size - 1 ? text.size() : size - 1);
  if (size != 0) {
    cabi::driver_access(buf, out + 1, true, DEVSIM_C_CALLER_PC);
    std::memcpy(buf, text.data(), out);
    buf[out] = '\0';
  }
  // snprintf returns what it would have written; scnprintf what it wrote (lib/vsprintf.c).
  return written ? static_cast<int>(out) : len;
}

// ---- user memory ----

unsigned long __devsim_copy_to_user(void* to, const void* from, unsigned long n, const char* file, int line,
                                    const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::might_sleep("copy_to_user", site);  // might_fault()
  if (n == 0) return 0;
  if (!cabi::user_range_ok(to, n)) return n;  // a fault on every byte: nothing copied
  cabi::driver_access(from, n, false, DEVSIM_C_CALLER_PC);
  std::memcpy(to, from, n);
  return 0;
}

unsigned long __devsim_copy_from_user(void* to, const void* from, unsigned long n, const char* file, int line,
                                      const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::might_sleep("copy_from_user", site);
  if (n == 0) return 0;
  if (!cabi::user_range_ok(from, n)) {
    // copy_from_user zeroes what it could not copy (include/linux/uaccess.h _copy_from_user).
    cabi::driver_access(to, n, true, DEVSIM_C_CALLER_PC);
    std::memset(to, 0, n);
    return n;
  }
  cabi::driver_access(to, n, true, DEVSIM_C_CALLER_PC);
  std::memcpy(to, from, n);
  return 0;
}

// ---- misc devices ----

int __devsim_misc_register(struct miscdevice* misc, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::CApiState& st = state();
  {
    bus::HostGuard guard;
    if (st.miscs.count(misc) != 0) return -bus::kEBUSY;
  }
  auto m = std::make_unique<cabi::CMisc>();
  m->c = misc;
  const char* name = misc->name;
  m->name = name != nullptr ? name : "";
  m->fops = &cabi::kCFops;
  m->parent = nullptr;
  // A dynamic minor is numbered before the node appears (drivers/char/misc.c misc_register).
  const bool dynamic = misc->minor == MISC_DYNAMIC_MINOR;
  if (dynamic) {
    bus::HostGuard guard;
    misc->minor = st.next_minor++;
  }
  const int r = bus::misc_register(*m, site);
  if (r != 0) {
    if (dynamic) misc->minor = MISC_DYNAMIC_MINOR;
    return r;
  }
  bus::HostGuard guard;
  st.miscs[misc] = std::move(m);
  return 0;
}

void __devsim_misc_deregister(struct miscdevice* misc, const char* file, int line, const char* func) {
  const sim::Site site = c_site(file, line, func);
  cabi::CApiState& st = state();
  cabi::CMisc* m = nullptr;
  {
    bus::HostGuard guard;
    auto it = st.miscs.find(misc);
    if (it == st.miscs.end()) return;
    m = it->second.get();
  }
  // LIFETIME: the entry is only retired below, by this deregistration (the module's own exit, once).
  bus::misc_deregister(*m, site);
  // misc_deregister may have slept: look the entry up again.
  bus::HostGuard guard;
  auto it = st.miscs.find(misc);
  if (it == st.miscs.end()) return;
  st.retired_miscs.push_back(std::move(it->second));
  st.miscs.erase(it);
}

// ---- module references ----

bool __devsim_try_module_get(struct module* m) {
  if (m == nullptr) return true;
  bus::HostGuard guard;
  auto& mods = state().modules;
  auto it = mods.find(m);
  if (it == mods.end() || it->second.state == cabi::LoadedModule::State::Going) return false;
  ++it->second.refs;
  return true;
}

void __devsim_module_put(struct module* m) {
  if (m == nullptr) return;
  bus::HostGuard guard;
  auto& mods = state().modules;
  auto it = mods.find(m);
  if (it != mods.end() && it->second.refs > 0) --it->second.refs;
}

}  // extern "C"
