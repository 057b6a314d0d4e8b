/* The wait-queue cases tests/c/test_c_wait.cpp runs in simulated tasks: kernel C against include/linux. */
#include <linux/compiler.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/wait.h>

struct waiting {
  wait_queue_head_t wq;
  struct mutex lock;
  spinlock_t items_lock; /* the item count (`done`) of the consumer cases */
  int done;
  int error;
};

struct waiting *wait_case_new(void) {
  struct waiting *w = kzalloc(sizeof(*w), GFP_KERNEL);
  init_waitqueue_head(&w->wq);
  mutex_init(&w->lock);
  spin_lock_init(&w->items_lock);
  return w;
}

/* A condition that reads two fields: the second read can be a scheduling point. */
void wait_case_two_reads(struct waiting *w) {
  wait_event(w->wq, READ_ONCE(w->done) || READ_ONCE(w->error));
}

static int done_locked(struct waiting *w) {
  int done;
  mutex_lock(&w->lock); /* BUG: may sleep while the task is not TASK_RUNNING */
  done = w->done;
  mutex_unlock(&w->lock);
  return done;
}

/* A condition that takes a mutex: the kernel warns "do not call blocking ops when !TASK_RUNNING". */
void wait_case_locked_condition(struct waiting *w) {
  wait_event(w->wq, done_locked(w));
}

/* The same lock taken after the wait, where the task runs again. */
void wait_case_lock_after(struct waiting *w) {
  wait_event(w->wq, READ_ONCE(w->done));
  mutex_lock(&w->lock);
  w->error = w->done;
  mutex_unlock(&w->lock);
}

/* Sets `done` and wakes the queue, every sleeper or (interruptible) only those in TASK_INTERRUPTIBLE. */
static void complete_waiting(struct waiting *w, bool interruptible) {
  mutex_lock(&w->lock);
  WRITE_ONCE(w->done, 1);
  mutex_unlock(&w->lock);
  if (interruptible)
    wake_up_interruptible(&w->wq);
  else
    wake_up(&w->wq);
}

void wait_case_complete(struct waiting *w) {
  complete_waiting(w, false);
}

/* The open-coded wait (include/linux/wait.h DEFINE_WAIT, prepare_to_wait, finish_wait; kernel/time/sleep_timeout.c
 * schedule_timeout) for the completer, 100 jiffies at most: it must not time out (WARN_ON otherwise), whichever
 * comes first, the completer's wake-up or the waiter's prepare. */
void wait_case_open_coded(struct waiting *w) {
  DEFINE_WAIT(wait);
  long left = 100;

  for (;;) {
    prepare_to_wait(&w->wq, &wait, TASK_UNINTERRUPTIBLE);
    if (READ_ONCE(w->done) || !left) break;
    left = schedule_timeout(left);
  }
  finish_wait(&w->wq, &wait);
  WARN_ON(!left);
}

/* Nobody wakes it: schedule_timeout returns 0 after exactly `timeout` jiffies of virtual time. */
void wait_case_times_out(struct waiting *w) {
  DEFINE_WAIT(wait);
  unsigned long start = jiffies;
  long left;

  prepare_to_wait(&w->wq, &wait, TASK_INTERRUPTIBLE);
  left = schedule_timeout(25);
  finish_wait(&w->wq, &wait);
  WARN_ON(left != 0);
  WARN_ON(jiffies - start != 25);
  /* Running again: schedule_timeout returns at once, with the whole timeout. */
  WARN_ON(schedule_timeout(7) != 7);
  /* A plain sleep on no queue. */
  start = jiffies;
  WARN_ON(schedule_timeout_uninterruptible(5) != 0);
  WARN_ON(jiffies - start != 5);
}

/* What yurex_write did before "USB: yurex: Fix bad gfp argument": a GFP_KERNEL allocation between prepare_to_wait
 * and schedule_timeout (the kernel's __might_sleep warns, the allocation may set the task running and the wake-up is
 * lost). With `atomic` GFP_ATOMIC, which is the fix. */
void wait_case_alloc_while_prepared(struct waiting *w, int atomic) {
  DEFINE_WAIT(wait);
  void *p;

  prepare_to_wait(&w->wq, &wait, TASK_INTERRUPTIBLE);
  p = kmalloc(8, atomic ? GFP_ATOMIC : GFP_KERNEL);
  if (!READ_ONCE(w->done)) schedule_timeout(50);
  finish_wait(&w->wq, &wait);
  kfree(p);
}
void wait_case_alloc_kernel(struct waiting *w) {
  wait_case_alloc_while_prepared(w, 0);
}
void wait_case_alloc_atomic(struct waiting *w) {
  wait_case_alloc_while_prepared(w, 1);
}

/* wait_event_interruptible_timeout for the completer (include/linux/wait.h ___wait_cond_timeout): the jiffies left,
 * at least 1, in every schedule (WARN_ON otherwise). */
void wait_case_event_timeout(struct waiting *w) {
  long left = wait_event_interruptible_timeout(w->wq, READ_ONCE(w->done), 100);

  WARN_ON(left < 1 || left > 100);
}

/* Nobody completes: wait_event_timeout returns 0 once its 30 jiffies passed; with the condition already true it
 * returns at least 1 without sleeping. */
void wait_case_event_times_out(struct waiting *w) {
  unsigned long start = jiffies;

  WARN_ON(wait_event_timeout(w->wq, READ_ONCE(w->done), 30) != 0);
  WARN_ON(jiffies - start != 30);
  WRITE_ONCE(w->done, 1);
  WARN_ON(wait_event_killable_timeout(w->wq, READ_ONCE(w->done), 0) != 1);
  WARN_ON(jiffies - start != 30);
}

/* The older open-coded wait (kernel/sched/wait.c add_wait_queue/remove_wait_queue with DECLARE_WAITQUEUE, whose
 * default_wake_function leaves the entry queued): queued first, then set to sleep and the condition tested in a
 * loop. Woken in every schedule (WARN_ON when its 100 jiffies ran out). */
void wait_case_queue_then_state(struct waiting *w) {
  DECLARE_WAITQUEUE(wait, current);
  long left = 100;

  add_wait_queue(&w->wq, &wait);
  for (;;) {
    set_current_state(TASK_UNINTERRUPTIBLE);
    if (READ_ONCE(w->done) || !left) break;
    left = schedule_timeout(left);
  }
  __set_current_state(TASK_RUNNING);
  remove_wait_queue(&w->wq, &wait);
  WARN_ON(!left);
}

/* The other order, as drivers/usb/misc/adutux.c's read: set to sleep, then queued, then the condition. */
void wait_case_state_then_queue(struct waiting *w) {
  DECLARE_WAITQUEUE(wait, current);
  long left = 100;

  set_current_state(TASK_UNINTERRUPTIBLE);
  add_wait_queue(&w->wq, &wait);
  if (!READ_ONCE(w->done))
    left = schedule_timeout(left);
  else
    set_current_state(TASK_RUNNING);
  remove_wait_queue(&w->wq, &wait);
  WARN_ON(!left);
}

/* BUG: the condition tested before the task is set to sleep, and not again: a wake-up between the test and
 * set_current_state finds the task running and is lost (the set puts it back to sleep); it sleeps its 100 jiffies. */
void wait_case_state_after_test(struct waiting *w) {
  DECLARE_WAITQUEUE(wait, current);
  long left = 100;

  add_wait_queue(&w->wq, &wait);
  if (!READ_ONCE(w->done)) {
    set_current_state(TASK_UNINTERRUPTIBLE);
    left = schedule_timeout(left);
  }
  remove_wait_queue(&w->wq, &wait);
  WARN_ON(!left);
}

/* The completer with the _interruptible wake-up: it wakes only tasks asleep in TASK_INTERRUPTIBLE. */
void wait_case_complete_interruptible(struct waiting *w) {
  complete_waiting(w, true);
}

/* An interruptible waiter, which that wake-up does wake. */
void wait_case_interruptible(struct waiting *w) {
  if (wait_event_interruptible(w->wq, READ_ONCE(w->done))) w->error = 1;
}

/* A killable waiter (TASK_KILLABLE is TASK_WAKEKILL | TASK_UNINTERRUPTIBLE): not woken by it either. */
void wait_case_killable(struct waiting *w) {
  if (wait_event_killable(w->wq, READ_ONCE(w->done))) w->error = 1;
}

/* ---- lost wake-ups and exclusive waiters ---- */

/* BUG: the condition made true with no wake-up after it. */
void wait_case_complete_without_wake_up(struct waiting *w) {
  WRITE_ONCE(w->done, 1);
}

/* A reader whose condition is read with a signal in mind: a signal makes it true (a common driver pattern). */
void wait_case_interruptible_or_signal(struct waiting *w) {
  if (wait_event_interruptible(w->wq, READ_ONCE(w->done) || signal_pending(current))) w->error = 1;
}

/* A consumer of one item (`done` counts the items), the way drivers/usb/misc readers take a buffer: under the lock if
 * there is one, else an exclusive wait for the next. A signal ends it without an item. */
static void take_item(struct waiting *w, bool exclusive) {
  for (;;) {
    int err;

    spin_lock(&w->items_lock);
    if (w->done > 0) {
      w->done--;
      spin_unlock(&w->items_lock);
      return;
    }
    spin_unlock(&w->items_lock);
    if (exclusive)
      err = wait_event_interruptible_exclusive(w->wq, READ_ONCE(w->done) > 0);
    else
      err = wait_event_interruptible(w->wq, READ_ONCE(w->done) > 0);
    if (err) return;
  }
}
void wait_case_take_exclusive(struct waiting *w) {
  take_item(w, true);
}
void wait_case_take(struct waiting *w) {
  take_item(w, false);
}

/* Two items, then a wake-up: wake_up wakes one exclusive waiter (BUG with two of them waiting), wake_up_all and one
 * wake_up per item wake both. */
static void put_two(struct waiting *w) {
  spin_lock(&w->items_lock);
  w->done += 2;
  spin_unlock(&w->items_lock);
}
void wait_case_put_two_wake_one(struct waiting *w) {
  put_two(w);
  wake_up_interruptible(&w->wq);
}
void wait_case_put_two_wake_all(struct waiting *w) {
  put_two(w);
  wake_up_interruptible_all(&w->wq);
}
void wait_case_put_two_wake_two(struct waiting *w) {
  put_two(w);
  wake_up_interruptible(&w->wq);
  wake_up_interruptible(&w->wq);
}
/* One item, one wake-up. */
void wait_case_put_one(struct waiting *w) {
  spin_lock(&w->items_lock);
  w->done += 1;
  spin_unlock(&w->items_lock);
  wake_up_interruptible(&w->wq);
}

/* The open-coded exclusive wait (prepare_to_wait_exclusive, schedule, finish_wait) for one item. */
void wait_case_take_open_coded_exclusive(struct waiting *w) {
  DEFINE_WAIT(wait);

  for (;;) {
    spin_lock(&w->items_lock);
    if (w->done > 0) {
      w->done--;
      spin_unlock(&w->items_lock);
      break;
    }
    spin_unlock(&w->items_lock);
    prepare_to_wait_exclusive(&w->wq, &wait, TASK_INTERRUPTIBLE);
    if (!READ_ONCE(w->done) && !signal_pending(current)) schedule();
    finish_wait(&w->wq, &wait);
    if (signal_pending(current)) break;
  }
}

/* A read that sleeps holding the device's mutex (drivers/usb/misc/ldusb.c and iowarrior.c read this way) and a
 * disconnect that needs the mutex to say the device is gone: once the reader sleeps, nothing can wake it. */
void wait_case_read_holding_lock(struct waiting *w) {
  mutex_lock(&w->lock);
  (void)wait_event_interruptible(w->wq, READ_ONCE(w->done));
  mutex_unlock(&w->lock);
}
void wait_case_read_then_lock(struct waiting *w) {
  (void)wait_event_interruptible(w->wq, READ_ONCE(w->done));
  mutex_lock(&w->lock);
  mutex_unlock(&w->lock);
}
void wait_case_disconnect_interruptible(struct waiting *w) {
  if (mutex_lock_interruptible(&w->lock)) return;
  WRITE_ONCE(w->done, 1);
  mutex_unlock(&w->lock);
  wake_up_interruptible(&w->wq);
}
void wait_case_disconnect(struct waiting *w) {
  mutex_lock(&w->lock);
  WRITE_ONCE(w->done, 1);
  mutex_unlock(&w->lock);
  wake_up_interruptible(&w->wq);
}
/* A reader whose signal (the kill at the end) sets `error` and wakes the queue; a kernel task waiting for it. */
void wait_case_read_until_killed(struct waiting *w) {
  if (wait_event_interruptible(w->wq, READ_ONCE(w->done))) {
    WRITE_ONCE(w->error, 1);
    wake_up(&w->wq);
  }
}
void wait_case_wait_error_idle(struct waiting *w) {
  wait_event_idle(w->wq, READ_ONCE(w->error));
}
void wait_case_wait_error(struct waiting *w) {
  wait_event(w->wq, READ_ONCE(w->error));
}
