/*
 * linux/poll.h: a driver's poll method and poll_wait (devsim, C gnu11).
 *
 * The scenario's `poll FD` is a poll(2) with a zero timeout asking for input and output (fs/select.c do_pollfd):
 * the driver's poll runs once, with a poll table whose queueing function is NULL, as fs/select.c do_poll makes it
 * for a zero timeout, so poll_wait registers nothing; the mask user space sees is what the driver returned,
 * filtered to EPOLLIN, EPOLLOUT, EPOLLERR and EPOLLHUP (what was asked, plus the two always reported). A file with
 * no poll method is DEFAULT_POLLMASK. Not modelled: a poll that sleeps (no waiter is ever added to the driver's wait
 * queue, so a wait queue freed under a sleeping poller is not exercised), select and epoll.
 */
#ifndef _DEVSIM_LINUX_POLL_H
#define _DEVSIM_LINUX_POLL_H

#include "fs.h"
#include "types.h"
#include "wait.h"

/* include/uapi/linux/eventpoll.h */
#define EPOLLIN ((__poll_t)0x00000001)
#define EPOLLPRI ((__poll_t)0x00000002)
#define EPOLLOUT ((__poll_t)0x00000004)
#define EPOLLERR ((__poll_t)0x00000008)
#define EPOLLHUP ((__poll_t)0x00000010)
#define EPOLLNVAL ((__poll_t)0x00000020)
#define EPOLLRDNORM ((__poll_t)0x00000040)
#define EPOLLRDBAND ((__poll_t)0x00000080)
#define EPOLLWRNORM ((__poll_t)0x00000100)
#define EPOLLWRBAND ((__poll_t)0x00000200)
#define EPOLLMSG ((__poll_t)0x00000400)
#define EPOLLRDHUP ((__poll_t)0x00002000)
/* include/uapi/asm-generic/poll.h: the same bits under poll(2)'s names */
#define POLLIN 0x0001
#define POLLPRI 0x0002
#define POLLOUT 0x0004
#define POLLERR 0x0008
#define POLLHUP 0x0010
#define POLLNVAL 0x0020
#define POLLRDNORM 0x0040
#define POLLRDBAND 0x0080
#define POLLWRNORM 0x0100
#define POLLWRBAND 0x0200

#define DEFAULT_POLLMASK (EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLWRNORM)

struct poll_table_struct;
typedef void (*poll_queue_proc)(struct file *, wait_queue_head_t *, struct poll_table_struct *);

typedef struct poll_table_struct {
  poll_queue_proc _qproc;
  __poll_t _key;
} poll_table;

static inline void poll_wait(struct file *filp, wait_queue_head_t *wait_address, poll_table *p) {
  if (p && p->_qproc && wait_address) p->_qproc(filp, wait_address, p);
}
static inline bool poll_does_not_wait(const poll_table *p) {
  return p == NULL || p->_qproc == NULL;
}
static inline __poll_t poll_requested_events(const poll_table *p) {
  return p ? p->_key : ~(__poll_t)0;
}

#endif
