/*
 * linux/mutex.h: sleeping locks (devsim, C gnu11). Backed by devsim's Mutex (core/mutex.hpp): every lock and
 * unlock is a scheduling point, contention blocks, lockdep checks the order (the class is the mutex's name, as
 * given to DEFINE_MUTEX or mutex_init), taking one under a spinlock is sleep-in-atomic, and locking a mutex in
 * freed memory is a use-after-free. mutex_lock_interruptible is modelled as mutex_lock that never fails (a
 * signal does not interrupt the wait).
 */
#ifndef _DEVSIM_LINUX_MUTEX_H
#define _DEVSIM_LINUX_MUTEX_H

#include "atomic.h" /* as the kernel's brings in linux/atomic.h */
#include "devsim_abi.h"
#include "types.h"

/* The lock state lives in devsim, keyed by the mutex's address; the C object carries the name. */
struct mutex {
  const char *name;
  unsigned long __devsim_pad;
};

#define __MUTEX_INITIALIZER(lockname) \
  { .name = #lockname, .__devsim_pad = 0 }
#define DEFINE_MUTEX(mutexname) struct mutex mutexname = __MUTEX_INITIALIZER(mutexname)

#define mutex_init(m) __devsim_mutex_init((m), #m, __DEVSIM_SITE)
#define mutex_lock(m) __devsim_mutex_lock((m), __DEVSIM_SITE)
#define mutex_lock_interruptible(m) __devsim_mutex_lock_interruptible((m), __DEVSIM_SITE)
#define mutex_trylock(m) __devsim_mutex_trylock((m), __DEVSIM_SITE)
#define mutex_unlock(m) __devsim_mutex_unlock((m), __DEVSIM_SITE)
#define mutex_is_locked(m) __devsim_mutex_is_locked(m)
#define mutex_destroy(m) ((void)(m))

#endif
