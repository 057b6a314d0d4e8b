/* Uses every name of linux/poll.h and linux/dev_printk.h once, so the compile check covers them. dev_printk.h is
 * included first and alone: it must stand on its own. */
#include <linux/dev_printk.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/poll.h>

static DECLARE_WAIT_QUEUE_HEAD(every_poll_wait);
static const __poll_t every_poll_bits[] = {
    EPOLLIN,     EPOLLPRI,    EPOLLOUT,   EPOLLERR,   EPOLLHUP,   EPOLLNVAL,  EPOLLRDNORM,     EPOLLRDBAND,
    EPOLLWRNORM, EPOLLWRBAND, EPOLLMSG,   EPOLLRDHUP, POLLIN,     POLLPRI,    POLLOUT,         POLLERR,
    POLLHUP,     POLLNVAL,    POLLRDNORM, POLLRDBAND, POLLWRNORM, POLLWRBAND, DEFAULT_POLLMASK};

static void every_poll_queue(struct file *file, wait_queue_head_t *head, poll_table *pt) {
  (void)file;
  (void)head;
  (void)pt;
}

static __poll_t every_poll(struct file *file, struct poll_table_struct *wait) {
  poll_table pt = {._qproc = every_poll_queue, ._key = EPOLLIN};
  poll_wait(file, &every_poll_wait, wait);
  poll_wait(file, &every_poll_wait, &pt);
  if (poll_does_not_wait(wait)) return every_poll_bits[0] & poll_requested_events(&pt);
  return every_poll_bits[ARRAY_SIZE(every_poll_bits) - 1];
}

static const struct file_operations every_poll_fops = {.poll = every_poll};

static int __init every_poll_init(void) {
  struct device *dev = NULL;
  dev_printk(KERN_INFO, dev, "%p\n", (const void *)&every_poll_fops);
  dev_emerg(dev, "x");
  dev_crit(dev, "x");
  dev_alert(dev, "x");
  dev_err(dev, "x");
  dev_warn(dev, "x");
  dev_notice(dev, "x");
  dev_info(dev, "x");
  dev_dbg(dev, "x");
  return dev_err_probe(dev, -5, "x");
}
module_init(every_poll_init);
MODULE_LICENSE("GPL");
