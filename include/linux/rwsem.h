/*
 * linux/rwsem.h: read/write semaphores (devsim, C gnu11). Backed by devsim's RwSemaphore (core/rwsem.hpp), one per
 * C semaphore, keyed by its address: any number of readers or one writer; every operation is a scheduling point;
 * taking it may sleep (reported in atomic context); a reader queues behind a waiting writer, as the kernel's does;
 * lockdep checks the order (the class is the semaphore's name, as given to DECLARE_RWSEM or init_rwsem; a second
 * down_read of one class in one task is recursive locking); releasing one not held is a bad unlock; a task that
 * ends holding one is reported; taking or releasing one in freed memory is a use-after-free.
 * down_read_interruptible/down_read_killable/down_write_killable are modelled as the plain forms (a signal does
 * not interrupt the wait: they return 0). Not modelled: reader lock stealing, optimistic spinning,
 * down_read_non_owner/up_read_non_owner, lockdep_assert_held (a no-op check here).
 * The entry points are declared here rather than in devsim_abi.h: they belong to this header alone.
 */
#ifndef _DEVSIM_LINUX_RWSEM_H
#define _DEVSIM_LINUX_RWSEM_H

#include "devsim_abi.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The lock state lives in devsim, keyed by the semaphore's address; the C object carries the name. */
struct rw_semaphore {
  const char *name;
  unsigned long __devsim_pad;
};

void __devsim_init_rwsem(struct rw_semaphore *sem, const char *name, __DEVSIM_SITE_PARAMS);
void __devsim_down_read(struct rw_semaphore *sem, __DEVSIM_SITE_PARAMS);
int __devsim_down_read_killable(struct rw_semaphore *sem, __DEVSIM_SITE_PARAMS);
int __devsim_down_read_trylock(struct rw_semaphore *sem, __DEVSIM_SITE_PARAMS);
void __devsim_up_read(struct rw_semaphore *sem, __DEVSIM_SITE_PARAMS);
void __devsim_down_write(struct rw_semaphore *sem, __DEVSIM_SITE_PARAMS);
int __devsim_down_write_killable(struct rw_semaphore *sem, __DEVSIM_SITE_PARAMS);
int __devsim_down_write_trylock(struct rw_semaphore *sem, __DEVSIM_SITE_PARAMS);
void __devsim_up_write(struct rw_semaphore *sem, __DEVSIM_SITE_PARAMS);
void __devsim_downgrade_write(struct rw_semaphore *sem, __DEVSIM_SITE_PARAMS);
int __devsim_rwsem_is_locked(struct rw_semaphore *sem);

#ifdef __cplusplus
}
#endif

#define __RWSEM_INITIALIZER(lockname) \
  { .name = #lockname, .__devsim_pad = 0 }
#define DECLARE_RWSEM(lockname) struct rw_semaphore lockname = __RWSEM_INITIALIZER(lockname)

#define init_rwsem(sem) __devsim_init_rwsem((sem), #sem, __DEVSIM_SITE)
#define down_read(sem) __devsim_down_read((sem), __DEVSIM_SITE)
#define down_read_interruptible(sem) __devsim_down_read_killable((sem), __DEVSIM_SITE)
#define down_read_killable(sem) __devsim_down_read_killable((sem), __DEVSIM_SITE)
#define down_read_trylock(sem) __devsim_down_read_trylock((sem), __DEVSIM_SITE)
#define up_read(sem) __devsim_up_read((sem), __DEVSIM_SITE)
#define down_write(sem) __devsim_down_write((sem), __DEVSIM_SITE)
#define down_write_killable(sem) __devsim_down_write_killable((sem), __DEVSIM_SITE)
#define down_write_trylock(sem) __devsim_down_write_trylock((sem), __DEVSIM_SITE)
#define up_write(sem) __devsim_up_write((sem), __DEVSIM_SITE)
#define downgrade_write(sem) __devsim_downgrade_write((sem), __DEVSIM_SITE)
#define rwsem_is_locked(sem) __devsim_rwsem_is_locked(sem)

#endif
