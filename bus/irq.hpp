// Interrupt lines: handlers the "hardware" triggers, run as their own task in hardirq context; threaded lines'
// thread functions run after them in process context.
// With no simulated world (core::sim_world() null) every function runs natively on real threads
// (bus/native_runtime.hpp): a handler runs on one of a fixed set of CPU threads, never beside itself, a thread
// function on the system workqueue's pool, one run per line at a time, and free_irq/disable_irq/synchronize_irq
// wait for the line's interrupt in flight and its thread function. devm_request_irq's free_irq is a devres action
// of the bound device, run at unbind in both runtimes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "bus/device.hpp"

namespace devsim::bus {

// IRQ_NONE, IRQ_HANDLED, IRQ_WAKE_THREAD (a threaded line's hard handler asks for its thread function).
enum class IrqReturn : std::uint8_t { None, Handled, WakeThread };
// irq_handler_t: hard handlers and thread functions alike.
using IrqHandler = IrqReturn (*)(unsigned irq, void* dev_id);

// request_irq(): installs `handler` on line `irq` with its cookie `dev_id` (usually the driver data). -EBUSY if
// the line is taken.
// INVARIANT: a handler runs only between request_irq() and free_irq(); free_irq() returns only after a handler
// already running on the line has returned (synchronize_irq()). What a handler must not outlive is the
// driver's job: a driver that frees its data before free_irq() (or never calls it) hands the handler a
// dangling dev_id — the use-after-free is reported in the handler.
// Does not handle: shared lines, affinity (the CPU an interrupt arrives on is the explorer's choice:
// core/irqflags.hpp).
int request_irq(unsigned irq, IrqHandler handler, std::string name, void* dev_id, const Site& site = Site::current());
// request_threaded_irq(): as request_irq, with a thread function. When the hard handler returns
// IrqReturn::WakeThread, the line's irq thread runs `thread_fn` in process context (it may sleep): in the simulator
// a task "irq/<n>-<name>", natively a run on the system workqueue's pool. One run per line at a time: a wake while
// it runs makes it run once more after (kernel/irq/manage.c irq_wake_thread, IRQTF_RUNTHREAD; irq_thread).
// synchronize_irq(), disable_irq() and free_irq() wait for it too (synchronize_irq waits for threads_active).
// A null `handler` is the kernel's irq_default_primary_handler (wakes the thread); both null: -EINVAL.
// Without flags the line is not kept masked while the thread function runs: a raise meanwhile runs the hard
// handler, whose wake makes the thread function run again.
// Does not handle: the thread's scheduling policy and CPU affinity, IRQ_WAKE_THREAD from a line with no thread
// function (the kernel warns; here nothing happens).
int request_threaded_irq(unsigned irq, IrqHandler handler, IrqHandler thread_fn, std::string name, void* dev_id,
                         const Site& site = Site::current());
// IRQF_ONESHOT (include/linux/interrupt.h): the line stays masked from a hard handler's IRQ_WAKE_THREAD until the
// thread function has returned (kernel/irq/manage.c irq_finalize_oneshot unmasks it); an interrupt raised
// meanwhile is remembered once and delivered at the unmask, as one raised while disabled is.
inline constexpr unsigned long kIrqfOneshot = 0x00002000;
// request_threaded_irq() with the kernel's flags: as above, and as the kernel's __setup_irq a null `handler`
// without IRQF_ONESHOT is -EINVAL (the default primary handler would leave a level-triggered line asserted).
// Other flags are accepted and ignored. Natively the same, under the line's lock.
int request_threaded_irq(unsigned irq, IrqHandler handler, IrqHandler thread_fn, unsigned long flags, std::string name,
                         void* dev_id, const Site& site = Site::current());
// free_irq(): removes it and waits for a running handler and a running thread function.
void free_irq(unsigned irq, void* dev_id, const Site& site = Site::current());
// devm_request_irq(): request_irq + free_irq at unbind.
int devm_request_irq(const BoundContext& dev, unsigned irq, IrqHandler handler, std::string name, void* dev_id,
                     const Site& site = Site::current());
// disable_irq(): masks the line and waits for a running handler and thread function (synchronize_irq);
// disable_irq_nosync() does not wait. An interrupt raised while masked is remembered and delivered by the enable_irq()
// that unmasks it (the kernel's IRQS_PENDING resend, kernel/irq/manage.c __enable_irq / check_irq_resend). Calls nest.
void disable_irq(unsigned irq, const Site& site = Site::current());
void disable_irq_nosync(unsigned irq, const Site& site = Site::current());
void enable_irq(unsigned irq, const Site& site = Site::current());
// synchronize_irq(): returns once no handler of the line is running and its thread function, if woken, has returned
// (kernel/irq/manage.c synchronize_irq: threads_active). Sleeps.
void synchronize_irq(unsigned irq, const Site& site = Site::current());
// The hardware raises the line: a task "irq/<n>" runs the handler (if one is installed when it gets to run) in
// hard-IRQ context. Returns at once. The interrupt arrives when that task first runs, on an idle CPU or on the CPU
// of a running task, which it then preempts until the handler returns; a CPU with interrupts disabled holds it
// back until they are enabled (core/irqflags.hpp describes the model of CPUs).
void raise_irq(unsigned irq, const Site& site = Site::current());
// Raises that found no handler installed (spurious interrupts), and handler runs, for tests.
std::uint64_t irq_spurious(unsigned irq);
std::uint64_t irq_handled(unsigned irq);

// Natively: runs `fn` on one of the interrupt CPUs, in hard-IRQ context, as an interrupt of a device the driver model
// stands for (a USB host controller giving back an URB, cabi/usb.cpp). Not for the simulator, where the caller
// spawns the interrupt's task itself.
void run_in_native_hardirq(std::function<void()> fn);

}  // namespace devsim::bus
