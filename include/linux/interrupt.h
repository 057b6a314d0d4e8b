/*
 * linux/interrupt.h: interrupt handlers (devsim, C gnu11). Backed by devsim's IRQ lines (bus/irq.hpp): the
 * scenario's `irq N` (the hardware) raises line N and a task "irq/N" runs the handler in hard-IRQ context (atomic:
 * sleeping is reported; a spinlock it takes must be taken with interrupts off elsewhere, or lockdep reports it).
 * free_irq returns only once a running handler has returned; devm_request_irq frees the line when the driver
 * unbinds, after remove() (devres, last in, first out). disable_irq waits for a running handler, disable_irq_nosync
 * does not; an interrupt raised while disabled is delivered by enable_irq. request_threaded_irq: a handler that
 * returns IRQ_WAKE_THREAD wakes the line's thread, a task "irq/N-name" that runs thread_fn in process context (it may
 * sleep), once more if woken again while it ran; a NULL handler is the kernel's default primary handler, and needs
 * IRQF_ONESHOT (else -EINVAL). IRQF_ONESHOT keeps the line masked from the wake until thread_fn returned; an
 * interrupt meanwhile is delivered then. free_irq, disable_irq and synchronize_irq also wait for a woken thread_fn.
 * Not modelled: shared lines (IRQF_SHARED is accepted, but a second handler on a line gets -EBUSY), affinity, the
 * other flags (accepted and ignored).
 */
#ifndef _DEVSIM_LINUX_INTERRUPT_H
#define _DEVSIM_LINUX_INTERRUPT_H

#include "devsim_abi.h"
#include "types.h"

struct device;

enum irqreturn {
  IRQ_NONE = (0 << 0),
  IRQ_HANDLED = (1 << 0),
  IRQ_WAKE_THREAD = (1 << 1),
};
typedef enum irqreturn irqreturn_t;
#define IRQ_RETVAL(x) ((x) ? IRQ_HANDLED : IRQ_NONE)

typedef irqreturn_t (*irq_handler_t)(int, void *);

#define IRQF_TRIGGER_NONE 0x00000000
#define IRQF_TRIGGER_RISING 0x00000001
#define IRQF_TRIGGER_FALLING 0x00000002
#define IRQF_TRIGGER_HIGH 0x00000004
#define IRQF_TRIGGER_LOW 0x00000008
#define IRQF_SHARED 0x00000080
#define IRQF_ONESHOT 0x00002000
#define IRQF_NO_AUTOEN 0x00080000

#define request_irq(irq, handler, flags, name, dev) \
  __devsim_request_irq((irq), (__devsim_irq_handler_t)(handler), (flags), (name), (dev), __DEVSIM_SITE)
#define devm_request_irq(dev, irq, handler, irqflags, devname, dev_id)                                        \
  __devsim_devm_request_irq((dev), (irq), (__devsim_irq_handler_t)(handler), (irqflags), (devname), (dev_id), \
                            __DEVSIM_SITE)
#define request_threaded_irq(irq, handler, thread_fn, flags, name, dev)                                        \
  __devsim_request_threaded_irq((irq), (__devsim_irq_handler_t)(handler), (__devsim_irq_handler_t)(thread_fn), \
                                (flags), (name), (dev), __DEVSIM_SITE)
#define devm_request_threaded_irq(dev, irq, handler, thread_fn, irqflags, devname, dev_id)                 \
  __devsim_devm_request_threaded_irq((dev), (irq), (__devsim_irq_handler_t)(handler),                      \
                                     (__devsim_irq_handler_t)(thread_fn), (irqflags), (devname), (dev_id), \
                                     __DEVSIM_SITE)
#define free_irq(irq, dev_id) __devsim_free_irq((irq), (dev_id), __DEVSIM_SITE)
#define disable_irq(irq) __devsim_disable_irq((irq), 1, __DEVSIM_SITE)
#define disable_irq_nosync(irq) __devsim_disable_irq((irq), 0, __DEVSIM_SITE)
#define enable_irq(irq) __devsim_enable_irq((irq), __DEVSIM_SITE)
#define synchronize_irq(irq) __devsim_synchronize_irq((irq), __DEVSIM_SITE)

#endif
