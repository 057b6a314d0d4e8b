/* Locks handed over to a task that frees them (tests/c/test_c_api.cpp): kernel C against include/linux. */
#include <linux/kernel.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/slab.h>

struct handoff {
  struct mutex lock;
  struct rw_semaphore sem;
  struct kref kref;
  int present;
};

struct handoff *handoff_new(void) {
  struct handoff *h = kzalloc(sizeof(*h), GFP_KERNEL);

  mutex_init(&h->lock);
  init_rwsem(&h->sem);
  kref_init(&h->kref);
  kref_get(&h->kref); /* one for disconnect, one for release */
  h->present = 1;
  return h;
}

static void handoff_free(struct kref *kref) {
  kfree(container_of(kref, struct handoff, kref));
}

/* drivers/usb/misc/idmouse.c before "fix use-after-free on disconnect race": disconnect marks the device gone
 * under the mutex; release, finding it gone under the same mutex, frees it. BUG: when release waited for the mutex,
 * disconnect's mutex_unlock may still touch it after handing it over. */
void handoff_disconnect(struct handoff *h) {
  mutex_lock(&h->lock);
  h->present = 0;
  mutex_unlock(&h->lock);
}
void handoff_release(struct handoff *h) {
  mutex_lock(&h->lock);
  if (!h->present) {
    mutex_unlock(&h->lock);
    kfree(h);
    return;
  }
  mutex_unlock(&h->lock);
}

/* The fix: each side drops a reference after its unlock returned; the last one frees. */
void handoff_disconnect_fixed(struct handoff *h) {
  handoff_disconnect(h);
  kref_put(&h->kref, handoff_free);
}
void handoff_release_fixed(struct handoff *h) {
  mutex_lock(&h->lock);
  mutex_unlock(&h->lock);
  kref_put(&h->kref, handoff_free);
}

/* The same with an rw_semaphore: up_write hands it to a waiting reader that frees it (rwsem_wake runs after). */
void handoff_disconnect_rwsem(struct handoff *h) {
  down_write(&h->sem);
  h->present = 0;
  up_write(&h->sem);
}
void handoff_release_rwsem(struct handoff *h) {
  down_read(&h->sem);
  if (!h->present) {
    up_read(&h->sem);
    kfree(h);
    return;
  }
  up_read(&h->sem);
}
