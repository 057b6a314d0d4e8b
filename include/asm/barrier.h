/*
 * asm/barrier.h: memory barriers (devsim, C gnu11). Compiled as C11 fences; devsim runs tasks sequentially
 * consistent, so a barrier orders nothing more for the simulator's race detector (it does not turn plain accesses
 * into marked ones: a data race stays one, as KCSAN reports it).
 */
#ifndef _DEVSIM_ASM_BARRIER_H
#define _DEVSIM_ASM_BARRIER_H

#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define smp_mb() mb()
#define smp_rmb() rmb()
#define smp_wmb() wmb()
#define smp_mb__before_atomic() mb()
#define smp_mb__after_atomic() mb()

#endif
