/* The linux/notifier.h cases tests/c/test_c_notifier.cpp runs in simulated tasks: kernel C against include/linux. */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/notifier.h>
#include <linux/slab.h>

struct listener {
  struct notifier_block nb;
  int tag;
  long *log; /* the calls, as decimal digits of tags */
  int answer;
};

static int listener_call(struct notifier_block *nb, unsigned long action, void *data) {
  struct listener *l = container_of(nb, struct listener, nb);
  (void)data;
  *l->log = *l->log * 10 + l->tag;
  return l->answer | (int)action;
}

static void listener_init(struct listener *l, int tag, int priority, long *log) {
  l->nb.notifier_call = listener_call;
  l->nb.priority = priority;
  l->tag = tag;
  l->log = log;
  l->answer = NOTIFY_OK;
}

int notifier_case_semantics(long *out) {
  BLOCKING_NOTIFIER_HEAD(chain);
  struct listener a, b, c;
  long log = 0;
  int n = 0;
  listener_init(&a, 1, 0, &log);
  listener_init(&b, 2, 10, &log);
  listener_init(&c, 3, 0, &log);
  out[n++] = blocking_notifier_call_chain(&chain, 0, NULL); /* NOTIFY_DONE on an empty chain */
  out[n++] = blocking_notifier_chain_register(&chain, &a.nb);
  out[n++] = blocking_notifier_chain_register(&chain, &b.nb);
  out[n++] = blocking_notifier_chain_register(&chain, &c.nb);
  out[n++] = blocking_notifier_call_chain(&chain, 0, NULL); /* NOTIFY_OK from the last */
  out[n++] = log; /* 213: priority 10 first, then equal priorities in registration order */
  log = 0;
  b.answer = NOTIFY_STOP;
  out[n++] = blocking_notifier_call_chain(&chain, 0, NULL);     /* NOTIFY_STOP */
  out[n++] = log;                                               /* 2: the walk stopped */
  out[n++] = blocking_notifier_chain_register(&chain, &a.nb);   /* -EEXIST, and a warning */
  out[n++] = blocking_notifier_chain_unregister(&chain, &b.nb); /* 0 */
  out[n++] = blocking_notifier_chain_unregister(&chain, &b.nb); /* -ENOENT */
  out[n++] = notifier_to_errno(notifier_from_errno(-EINVAL));   /* -EINVAL */
  out[n++] = notifier_to_errno(NOTIFY_OK);                      /* 0 */
  return n;
}

/* A listener freed while still registered: the next call of the chain reads it. */
void notifier_case_freed_while_registered(void) {
  RAW_NOTIFIER_HEAD(chain);
  long log = 0;
  struct listener *l = kzalloc(sizeof(*l), GFP_KERNEL);
  listener_init(l, 1, 0, &log);
  raw_notifier_chain_register(&chain, &l->nb);
  kfree(l);
  raw_notifier_call_chain(&chain, 0, NULL);
}

/* A chain shared by two tasks: one calls it, the other unregisters its listener and frees it. `blocking`: 0 a raw
 * chain, 1 a blocking one, 2 an atomic one. */
struct shared_chain {
  struct atomic_notifier_head atomic;
  struct blocking_notifier_head blocking;
  struct raw_notifier_head raw;
  struct listener *l;
  long log;
};

struct shared_chain *notifier_case_shared(int blocking) {
  struct shared_chain *s = kzalloc(sizeof(*s), GFP_KERNEL);
  ATOMIC_INIT_NOTIFIER_HEAD(&s->atomic);
  BLOCKING_INIT_NOTIFIER_HEAD(&s->blocking);
  RAW_INIT_NOTIFIER_HEAD(&s->raw);
  s->l = kzalloc(sizeof(*s->l), GFP_KERNEL);
  listener_init(s->l, 1, 0, &s->log);
  if (blocking == 2)
    atomic_notifier_chain_register(&s->atomic, &s->l->nb);
  else if (blocking)
    blocking_notifier_chain_register(&s->blocking, &s->l->nb);
  else
    raw_notifier_chain_register(&s->raw, &s->l->nb);
  return s;
}
void notifier_case_call(struct shared_chain *s, int blocking) {
  if (blocking == 2)
    atomic_notifier_call_chain(&s->atomic, 0, NULL);
  else if (blocking)
    blocking_notifier_call_chain(&s->blocking, 0, NULL);
  else
    raw_notifier_call_chain(&s->raw, 0, NULL);
}
void notifier_case_remove(struct shared_chain *s, int blocking) {
  if (blocking == 2)
    atomic_notifier_chain_unregister(&s->atomic, &s->l->nb);
  else if (blocking)
    blocking_notifier_chain_unregister(&s->blocking, &s->l->nb);
  else
    raw_notifier_chain_unregister(&s->raw, &s->l->nb);
  kfree(s->l);
}
