// pl061_gpio: a PL061-like GPIO controller on the platform bus, written the Rust-for-Linux way.
//
// Wedson Almeida Filho's PL061 in Rust (Kernel Summit 2021, seed 002) answered Greg KH's "two lifecycles" with
// three abstractions, and this driver uses the same three:
//   1. the state created in probe() is reference counted (core::Arc): the driver, the character device, every
//      open file and the IRQ handler's cookie each own a reference, and the last one to let go frees it;
//   2. the hardware resources are revocable: the register mapping is a bus::Devres<IoMem*>, revoked when the
//      driver unbinds, so a file that outlives the device gets -ENODEV instead of touching a stale mapping;
//   3. revoking waits for the readers in flight (an RCU grace period) before the mapping goes (iounmap).
//
// What userspace sees (/dev/gpiochip0, 8 lines):
//   GET_LINEINFO line        -> kLineOutput | kLineIrq | kLineEvent flags of the line
//   SET_DIRECTION line|out<<3 -> 0 (out = 1: output, 0: input)
//   GET_VALUE line           -> 0 or 1, the level of the pin
//   SET_VALUE line|value<<3  -> 0, or -EPERM for an input line
//   WAIT_EVENT line          -> 0 once an edge was seen on the line (latched since probe), -EAGAIN after
//                               kEventTimeoutNs of virtual time without one, -ENODEV when the device goes away
// After unplug every call returns -ENODEV, a sleeping WAIT_EVENT is woken with -ENODEV, release() always runs
// and the state is freed by whoever drops the last reference. There is no remove()-side drain: nothing the
// driver does after removal can reach the hardware (the mapping is revoked) or freed memory (the state is
// refcounted), so calls in flight may simply finish.
//
// Lifetimes, from the longest:
//   Pl061 (Arc)      probe() ... last of {driver's drvdata, cdev, open files, IRQ cookie} dropped
//   Cdev (cdev_alloc) probe() ... cdev_del() in remove() or the last close, whichever is later
//   IRQ handler      devm_request_irq() ... free_irq() at unbind (devres, before the cookie goes)
//   register mapping devm_ioremap() ... iounmap() at unbind, after the Devres revoked it (devres is LIFO)
#include <atomic>
#include <cstdint>
#include <optional>

#include "bus/cdev.hpp"
#include "bus/devm.hpp"
#include "bus/devres_resource.hpp"
#include "bus/errno.hpp"
#include "bus/irq.hpp"
#include "bus/mmio.hpp"
#include "bus/timer.hpp"
#include "core/arc.hpp"
#include "core/foreign.hpp"
#include "core/irqflags.hpp"
#include "core/spinlock.hpp"
#include "core/waitqueue.hpp"
#include "drivers/registry.hpp"

namespace devsim::drivers {
namespace {

using bus::Cdev;
using bus::File;
using bus::IoMem;
using bus::Site;

// ---- the hardware ------------------------------------------------------------------------------------------
// The PL061's registers, packed into the 16-register window a platform device has (the real chip keeps
// GPIODATA address-masked at 0x000-0x3fc and the control block at 0x400). Only bits 7:0 exist; bits 31:8 of
// every register read as zero, so a read of all ones means the device is no longer there (surprise removal).
constexpr std::size_t kGpioData = 0x00;  // pin levels: outputs drive what is written, inputs read the pad
constexpr std::size_t kGpioDir = 0x04;   // 1 = output
constexpr std::size_t kGpioIs = 0x08;    // interrupt sense: 0 = edge
constexpr std::size_t kGpioIbe = 0x0c;   // 1 = both edges
constexpr std::size_t kGpioIev = 0x10;   // edge polarity when not both
constexpr std::size_t kGpioIe = 0x14;    // interrupt mask: 1 = enabled
[[maybe_unused]] constexpr std::size_t kGpioRis = 0x18;  // raw interrupt status
constexpr std::size_t kGpioMis = 0x1c;                   // masked interrupt status (RIS & IE)
constexpr std::size_t kGpioIc = 0x20;                    // interrupt clear: write 1s
constexpr unsigned kLines = 8;
constexpr std::uint32_t kAllLines = (1u << kLines) - 1;
constexpr std::uint32_t kGone = 0xffffffffu;
constexpr unsigned kIrqLine = 32;  // one controller per machine: its line is fixed

// ---- the userspace ABI -----------------------------------------------------------------------------------------
constexpr unsigned kGetLineInfo = 1;
constexpr unsigned kSetDirection = 2;
constexpr unsigned kGetValue = 3;
constexpr unsigned kSetValue = 4;
constexpr unsigned kWaitEvent = 5;
constexpr long kLineOutput = 1;  // GET_LINEINFO flags
constexpr long kLineIrq = 2;
constexpr long kLineEvent = 4;
constexpr std::uint64_t kEventTimeoutNs = 10'000'000;  // WAIT_EVENT gives up after 10 ms of virtual time

// ---- the driver's state ----------------------------------------------------------------------------------------
// Shared through core::Arc, so it is immutable through its handles except for what is explicitly synchronised:
// the lock, the wait queue and the atomics are `mutable`, C++'s spelling of Rust's interior mutability
// (SpinLock<T>, CondVar, AtomicU32 behind an Arc).
struct Pl061 {
  explicit Pl061(bus::Devres<IoMem*> mapping) : regs(std::move(mapping)) {}

  // INVARIANT: a guard from regs.try_access() is the only way to the registers; it is empty once the driver
  // unbound, and revoking waits for every guard in flight (an RCU read section: do not sleep holding one).
  bus::Devres<IoMem*> regs;
  // Serialises read-modify-write of the registers (spin_lock_irqsave in the kernel: the IRQ handler takes it).
  mutable core::SpinLock lock{"pl061.lock"};
  // WAIT_EVENT sleeps here; the IRQ handler, the timeout timer and remove() wake it.
  mutable core::WaitQueue events;
  // Lines with an edge that no WAIT_EVENT has consumed yet (gpio-cdev's event fifo, one bit per line).
  // Set by the IRQ handler, cleared under `lock` by the waiter that consumes it.
  mutable std::atomic<std::uint32_t> pending{0};
  // Set once by remove(): every waiter returns -ENODEV, no new open succeeds.
  mutable std::atomic<bool> removed{false};
  // LIFETIME: set in probe() before the state is shared; used only by remove() (the cdev is alive until
  // cdev_del() there drops the driver's reference), never dereferenced after.
  Cdev* cdev = nullptr;
};
using Pl061Ref = core::Arc<Pl061>;

// A borrow of the state behind a foreign pointer (the file's, the cdev's, the IRQ cookie). Taking it is a
// checked access: were the state freed, the simulator would report the use-after-free here.
// `site` is the caller's, so a report names the driver function that used the state.
const Pl061& borrow(void* foreign, const Site& site = Site::current()) {
  return core::borrow_foreign<Pl061Ref>(foreign, site).read(site);
}

// ---- register access through the revocable mapping ----------------------------------------------------------
// Runs f(IoMem&) with the mapping held and the lock taken; -ENODEV if the driver unbound (revoked). f returns
// a result or a negative errno, and returns -ENODEV itself when a register reads all ones.
template <class F>
long with_regs(const Pl061& gpio, F&& f, const Site& site = Site::current()) {
  auto regs = gpio.regs.try_access(site);  // RCU read section until the end of this scope
  if (!regs) return -bus::kENODEV;
  core::SpinLockIrqSaveGuard guard(gpio.lock);  // the IRQ handler takes it too
  // LIFETIME: the IoMem is mapped while the guard is active: revoke() (then iounmap) waits for us.
  return std::forward<F>(f)(**regs);
}

bool valid_line(unsigned long line) {
  return line < kLines;
}

// ---- WAIT_EVENT: sleep until an edge, the timeout or removal -----------------------------------------------------
// One call's timeout: a timer in its own allocation, deleted (synchronously) before the call returns.
struct EventWait {
  bus::TimerList timer;  // first member: the callback finds the EventWait from it (container_of)
  // LIFETIME: the waiting ioctl holds the file's Arc for as long as this timer can fire.
  const Pl061* gpio = nullptr;
  std::atomic<bool> expired{false};
};

void event_wait_timeout(bus::TimerList& timer) {
  // Softirq context. LIFETIME: the EventWait is freed only after timer_shutdown_sync(), which waits for us.
  auto* raw = reinterpret_cast<EventWait*>(&timer);
  sim::KPtr<EventWait> wait(raw);
  wait.write().expired.store(true);
  wait.load(&EventWait::gpio)->events.wake_up_all();
}

long wait_event(const Pl061& gpio, unsigned line) {
  const std::uint32_t bit = 1u << line;
  sim::KPtr<EventWait> wait = sim::kzalloc<EventWait>();
  if (!wait) return -bus::kENOMEM;
  wait.store(&EventWait::gpio, &gpio);
  bus::timer_setup(wait.write().timer, event_wait_timeout);
  bus::mod_timer(wait.write().timer, kEventTimeoutNs);
  long result = 0;
  for (;;) {
    // The condition is checked and the task put to sleep in one step: no wake-up is lost between them.
    // Not holding the mapping's guard or the lock here: both forbid sleeping.
    gpio.events.wait_event(
        [&] { return (gpio.pending.load() & bit) != 0 || gpio.removed.load() || wait.read().expired.load(); });
    core::SpinLockIrqSaveGuard guard(gpio.lock);  // the IRQ handler takes it too
    if (gpio.removed.load()) {
      result = -bus::kENODEV;  // removal wins over an event that raced it
      break;
    }
    if ((gpio.pending.load() & bit) != 0) {
      gpio.pending.fetch_and(~bit);  // consumed: another waiter on the same line sleeps on
      result = 0;
      break;
    }
    if (wait.read().expired.load()) {
      result = -bus::kEAGAIN;
      break;
    }
  }
  bus::timer_shutdown_sync(wait.write().timer);  // a callback running now finishes before the free
  sim::kfree(wait);
  return result;
}

// ---- file operations ---------------------------------------------------------------------------------------------
int pl061_open(Cdev& cdev, File& file) {
  // LIFETIME: the cdev owns a reference to the state until its own release, and this open holds the cdev, so
  // the borrow is valid; the file takes its own reference for as long as it is open.
  auto gpio = core::borrow_foreign<Pl061Ref>(cdev.owner_data());
  if (gpio->removed.load()) return -bus::kENODEV;  // found the node just before remove() deleted it
  file.set_private_raw(core::into_foreign(gpio.to_arc()));
  return 0;
}

int pl061_release(Cdev&, File& file) {
  // Always runs, possibly long after remove(): drops the file's reference. If it was the last one the state
  // is freed here, and with it the Devres handle (already revoked: the mapping went at unbind).
  Pl061Ref mine = core::from_foreign<Pl061Ref>(file.private_raw());
  mine.drop();
  return 0;
}

long pl061_ioctl(File& file, unsigned cmd, unsigned long arg) {
  // LIFETIME: the file's reference keeps the state alive for the whole call, even after remove().
  const Pl061& gpio = borrow(file.private_raw());
  if (gpio.removed.load()) return -bus::kENODEV;
  const unsigned line = static_cast<unsigned>(arg & 7);
  const std::uint32_t bit = 1u << line;
  const bool flag = (arg & 8) != 0;
  switch (cmd) {
    case kGetLineInfo:
      if (!valid_line(arg)) return -bus::kEINVAL;
      return with_regs(gpio, [&](IoMem& io) -> long {
        std::uint32_t dir = io.readl(kGpioDir);
        std::uint32_t ie = io.readl(kGpioIe);
        if (dir == kGone || ie == kGone) return -bus::kENODEV;
        return ((dir & bit) != 0 ? kLineOutput : 0) | ((ie & bit) != 0 ? kLineIrq : 0) |
               ((gpio.pending.load() & bit) != 0 ? kLineEvent : 0);
      });
    case kSetDirection:
      if (arg > 15) return -bus::kEINVAL;
      return with_regs(gpio, [&](IoMem& io) -> long {
        std::uint32_t dir = io.readl(kGpioDir);
        if (dir == kGone) return -bus::kENODEV;
        io.writel(flag ? dir | bit : dir & ~bit, kGpioDir);
        return 0;
      });
    case kGetValue:
      if (!valid_line(arg)) return -bus::kEINVAL;
      return with_regs(gpio, [&](IoMem& io) -> long {
        std::uint32_t data = io.readl(kGpioData);
        if (data == kGone) return -bus::kENODEV;
        return (data & bit) != 0 ? 1 : 0;
      });
    case kSetValue:
      if (arg > 15) return -bus::kEINVAL;
      return with_regs(gpio, [&](IoMem& io) -> long {
        std::uint32_t dir = io.readl(kGpioDir);
        std::uint32_t data = io.readl(kGpioData);
        if (dir == kGone || data == kGone) return -bus::kENODEV;
        if ((dir & bit) == 0) return -bus::kEPERM;  // gpiolib: an input line cannot be driven
        io.writel(flag ? data | bit : data & ~bit, kGpioData);
        return 0;
      });
    case kWaitEvent:
      if (!valid_line(arg)) return -bus::kEINVAL;
      return wait_event(gpio, line);
    default:
      return -bus::kENOTTY;
  }
}

const bus::FileOperations kPl061Fops{pl061_open, nullptr, nullptr, pl061_ioctl, nullptr, nullptr, pl061_release};

// ---- the interrupt handler -----------------------------------------------------------------------------------------
bus::IrqReturn pl061_irq(unsigned, void* cookie) {
  // Hardirq context: no sleeping. LIFETIME: the cookie owns a reference of its own, dropped by a devres action
  // that runs after free_irq() (which waits for this handler), so the state outlives every run.
  const Pl061& gpio = borrow(cookie);
  auto regs = gpio.regs.try_access();
  if (!regs) return bus::IrqReturn::None;  // unbound: nothing of ours to touch
  IoMem& io = **regs;
  core::SpinLockGuard guard = gpio.lock.guard();
  std::uint32_t status = io.readl(kGpioMis);
  if (status == kGone || (status & kAllLines) == 0) return bus::IrqReturn::None;  // gone, or not ours
  io.writel(status & kAllLines, kGpioIc);                                         // acknowledge
  gpio.pending.fetch_or(status & kAllLines);
  guard.unlock();
  gpio.events.wake_up_all();
  return bus::IrqReturn::Handled;
}

// ---- probe and remove ----------------------------------------------------------------------------------------------
int pl061_probe(bus::CoreContext& ctx) {
  // 1. The registers. devm_ioremap() unmaps at unbind; the Devres around it, registered after it, is revoked
  //    before that (devres runs newest first): readers drain, then the mapping goes.
  IoMem* io = bus::devm_ioremap(ctx);
  if (io == nullptr) return -bus::kENODEV;  // no register window
  std::optional<bus::Devres<IoMem*>> regs = bus::Devres<IoMem*>::create(ctx, io);
  if (!regs) return -bus::kENOMEM;

  // 2. Quiesce the controller, then latch edges on every line from now on (gpio-cdev queues line events, so
  //    an edge before WAIT_EVENT is not lost). access() needs the proof of binding: probe has it.
  {
    auto hw = regs->access(ctx);
    (*hw)->writel(0, kGpioIe);
    (*hw)->writel(0, kGpioIs);
    (*hw)->writel(kAllLines, kGpioIbe);
    (*hw)->writel(0, kGpioIev);
    (*hw)->writel(kAllLines, kGpioIc);
    (*hw)->writel(kAllLines, kGpioIe);
  }

  // 3. The state: mutable while unique, then shared.
  core::UniqueArc<Pl061> unique = core::UniqueArc<Pl061>::emplace(Site::current(), std::move(*regs));
  Cdev* cdev = bus::cdev_alloc(&kPl061Fops);
  unique->cdev = cdev;
  Pl061Ref gpio = std::move(unique).into_arc();

  // 4. The cdev owns a reference until its release (the last of cdev_del() and the last close), so an open
  //    that found the node while remove() runs still finds the state alive. From here on, cdev_del() is the
  //    undo of everything above on an error path.
  void* for_cdev = core::into_foreign(gpio.clone());
  cdev->owner = for_cdev;
  cdev->on_release = [for_cdev] {
    Pl061Ref ref = core::from_foreign<Pl061Ref>(for_cdev);
    ref.drop();
  };

  // 5. The IRQ: its cookie is a reference of its own. Registered before devm_request_irq, so at unbind the
  //    cookie is dropped only after free_irq() returned.
  void* cookie = core::into_foreign(gpio.clone());
  int r = bus::devm_add_action_or_reset(ctx, "pl061 irq cookie", [cookie] {
    Pl061Ref ref = core::from_foreign<Pl061Ref>(cookie);
    ref.drop();
  });
  if (r == 0) r = bus::devm_request_irq(ctx, kIrqLine, pl061_irq, "pl061", cookie);

  // 6. Userspace last: nothing can call in before everything it uses exists.
  if (r == 0) r = bus::cdev_add(*cdev, "gpiochip0", &ctx.device());
  if (r != 0) {
    bus::cdev_del(*cdev);  // drops the cdev's reference; devres undoes the rest
    return r;
  }
  // The driver's own reference, dropped by the driver core right after remove().
  ctx->set_drvdata_owned(std::move(gpio));
  return 0;
}

void pl061_remove(bus::CoreContext& ctx) {
  // LIFETIME: the drvdata reference is dropped only after remove() returns.
  auto gpio_ref = ctx->drvdata_borrow<Pl061Ref>();
  const Pl061& gpio = *gpio_ref;
  // 1. Mask the controller's interrupts (on a surprise removal the write goes nowhere: that is fine).
  if (auto hw = gpio.regs.access(ctx)) (*hw)->writel(0, kGpioIe);
  // 2. Everyone sleeping in WAIT_EVENT wakes up with -ENODEV; later calls see `removed` and fail at once.
  gpio.removed.store(true);
  gpio.events.wake_up_all();
  // 3. No new opens. Open files keep the state (not the mapping) until they are closed.
  bus::cdev_del(*gpio.cdev);
  // Then the driver core: drvdata reference dropped; devres: free_irq, cookie dropped, mapping revoked
  // (waiting for readers), iounmap.
}

DriverInfo pl061_gpio_info() {
  DriverInfo info;
  info.name = "pl061_gpio";
  info.bus = "platform";
  info.summary = "PL061-like GPIO controller, the Rust way: Arc state, revocable MMIO (Devres), IRQ, /dev/gpiochip0";
  info.race = "";
  info.buggy = false;
  info.node = "gpiochip0";
  info.ioctls = {
      {"GET_LINEINFO", kGetLineInfo, kLines - 1}, {"SET_DIRECTION", kSetDirection, 15},
      {"GET_VALUE", kGetValue, kLines - 1},       {"SET_VALUE", kSetValue, 15},
      {"WAIT_EVENT", kWaitEvent, kLines - 1},
  };
  info.ops = [] {
    return bus::DriverOps{"pl061_gpio", "platform", {"pl061_gpio", "arm,pl061"}, pl061_probe, pl061_remove};
  };
  return info;
}

}  // namespace

DEVSIM_REGISTER_DRIVER(pl061_gpio_info)

}  // namespace devsim::drivers
