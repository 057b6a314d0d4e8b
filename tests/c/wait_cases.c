/* The wait-queue cases tests/c/test_c_wait.cpp runs in simulated tasks: kernel C against include/linux. */
#include <linux/compiler.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/wait.h>

struct waiting {
  wait_queue_head_t wq;
  struct mutex lock;
  int done;
  int error;
};

struct waiting *wait_case_new(void) {
  struct waiting *w = kzalloc(sizeof(*w), GFP_KERNEL);
  init_waitqueue_head(&w->wq);
  mutex_init(&w->lock);
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

void wait_case_complete(struct waiting *w) {
  mutex_lock(&w->lock);
  WRITE_ONCE(w->done, 1);
  mutex_unlock(&w->lock);
  wake_up(&w->wq);
}
