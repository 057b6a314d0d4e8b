/*
 * mailbox: a one-message mailbox behind a misc device, /dev/mailbox. write() leaves a message (up to 64 bytes,
 * replacing any unread one); read() sleeps until there is one and takes it; ioctl(MAILBOX_OPENS) returns how many
 * times the device was opened since the module was loaded, ioctl(MAILBOX_PEEK) the first byte of the unread message
 * (-ENODATA when there is none), ioctl(MAILBOX_PEEK_AT, struct mailbox_peek_at __user *) the byte at an offset;
 * poll() says readable while a message waits.
 *
 * Built twice. MAILBOX_FIXED unset: the buggy variant. Its file operations name no owner, so an open file does not
 * pin the module: rmmod runs mailbox_exit, which frees the mailbox, and the open file's next read or write (or a
 * reader asleep in read, once woken) uses the freed mailbox. MAILBOX_FIXED=1: the fixed variant. .owner =
 * THIS_MODULE makes every open file hold a module reference, so the module cannot be unloaded while a file is
 * open; and the mailbox is reference counted: open takes a reference, release drops it, so its lifetime no longer
 * depends on how the module's use of it ends.
 */
#define pr_fmt(fmt) "mailbox: " fmt

#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#define MAILBOX_SIZE 64
#define MAILBOX_OPENS 1   /* ioctl: opens since load */
#define MAILBOX_PEEK 2    /* ioctl: the first byte of the unread message */
#define MAILBOX_PEEK_AT 3 /* ioctl: fills in .byte, the unread message's byte at .offset */

struct mailbox_peek_at {
  __u8 offset; /* in */
  __u8 byte;   /* out */
};

struct mailbox {
  struct kref ref;
  struct mutex lock;      /* guards len and msg */
  wait_queue_head_t wait; /* readers waiting for a message */
  size_t len;             /* 0: empty */
  char msg[MAILBOX_SIZE];
};

static struct mailbox *mailbox; /* set by mailbox_init */
static DEFINE_MUTEX(opens_lock);
static unsigned long opens; /* guarded by opens_lock */

#ifdef MAILBOX_FIXED
static void mailbox_free(struct kref *ref) {
  struct mailbox *mb = container_of(ref, struct mailbox, ref);

  kfree(mb);
}
#endif

static int mailbox_open(struct inode *inode, struct file *file) {
  struct mailbox *mb = mailbox;

  (void)inode;
  /* misc_open set private_data to our miscdevice; we keep the mailbox there instead. */
  file->private_data = mb;
#ifdef MAILBOX_FIXED
  kref_get(&mb->ref);
#endif
  mutex_lock(&opens_lock);
  opens++;
  mutex_unlock(&opens_lock);
  return nonseekable_open(inode, file);
}

static int mailbox_release(struct inode *inode, struct file *file) {
  (void)inode;
#ifdef MAILBOX_FIXED
  kref_put(&((struct mailbox *)file->private_data)->ref, mailbox_free);
#else
  (void)file;
#endif
  return 0;
}

static ssize_t mailbox_read(struct file *file, char __user *buf, size_t count, loff_t *ppos) {
  struct mailbox *mb = file->private_data;
  ssize_t ret;
  size_t n;

  (void)ppos;
  if ((file->f_flags & O_NONBLOCK) && READ_ONCE(mb->len) == 0) return -EAGAIN;
  ret = wait_event_interruptible(mb->wait, READ_ONCE(mb->len) > 0);
  if (ret) return ret;

  mutex_lock(&mb->lock);
  if (mb->len == 0) { /* another reader took it first */
    ret = 0;
    goto out;
  }
  n = min(count, mb->len);
  if (copy_to_user(buf, mb->msg, n)) {
    ret = -EFAULT;
    goto out;
  }
  WRITE_ONCE(mb->len, 0);
  ret = n;
out:
  mutex_unlock(&mb->lock);
  return ret;
}

static ssize_t mailbox_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos) {
  struct mailbox *mb = file->private_data;
  size_t n = min_t(size_t, count, MAILBOX_SIZE);

  (void)ppos;
  if (n == 0) return 0;
  mutex_lock(&mb->lock);
  if (copy_from_user(mb->msg, buf, n)) {
    mutex_unlock(&mb->lock);
    return -EFAULT;
  }
  WRITE_ONCE(mb->len, n);
  mutex_unlock(&mb->lock);
  wake_up_interruptible(&mb->wait);
  return n;
}

static long mailbox_ioctl(struct file *file, unsigned int cmd, unsigned long arg) {
  struct mailbox *mb = file->private_data;
  long ret;

  if (cmd == MAILBOX_PEEK_AT) {
    struct mailbox_peek_at __user *uarg = (struct mailbox_peek_at __user *)arg;
    struct mailbox_peek_at p;

    if (copy_from_user(&p, uarg, sizeof(p))) return -EFAULT;
    mutex_lock(&mb->lock);
    ret = p.offset < mb->len ? 0 : -ENODATA;
    if (!ret) p.byte = (__u8)mb->msg[p.offset];
    mutex_unlock(&mb->lock);
    if (!ret && copy_to_user(uarg, &p, sizeof(p))) return -EFAULT;
    return ret;
  }
  if (cmd == MAILBOX_PEEK) {
    mutex_lock(&mb->lock);
    ret = mb->len ? (long)(unsigned char)mb->msg[0] : -ENODATA;
    mutex_unlock(&mb->lock);
    return ret;
  }
  if (cmd != MAILBOX_OPENS) return -ENOTTY;
  mutex_lock(&opens_lock);
  ret = (long)opens;
  mutex_unlock(&opens_lock);
  return ret;
}

/* Readable while a message waits; always writable (a write replaces an unread message). */
static __poll_t mailbox_poll(struct file *file, poll_table *wait) {
  struct mailbox *mb = file->private_data;
  __poll_t mask = EPOLLOUT | EPOLLWRNORM;

  poll_wait(file, &mb->wait, wait);
  if (READ_ONCE(mb->len) > 0) mask |= EPOLLIN | EPOLLRDNORM;
  return mask;
}

static const struct file_operations mailbox_fops = {
#ifdef MAILBOX_FIXED
    .owner = THIS_MODULE,
#endif
    .open = mailbox_open,
    .release = mailbox_release,
    .read = mailbox_read,
    .write = mailbox_write,
    .unlocked_ioctl = mailbox_ioctl,
    .poll = mailbox_poll,
    .llseek = noop_llseek,
};

static struct miscdevice mailbox_misc = {
    .minor = MISC_DYNAMIC_MINOR,
    .name = "mailbox",
    .fops = &mailbox_fops,
};

static int __init mailbox_init(void) {
  struct mailbox *mb;
  int ret;

  mb = kzalloc(sizeof(*mb), GFP_KERNEL);
  if (!mb) return -ENOMEM;
  kref_init(&mb->ref);
  mutex_init(&mb->lock);
  init_waitqueue_head(&mb->wait);
  mailbox = mb;
  ret = misc_register(&mailbox_misc);
  if (ret) {
    pr_err("cannot register /dev/mailbox: %d\n", ret);
    mailbox = NULL;
    kfree(mb);
    return ret;
  }
  pr_info("loaded\n");
  return 0;
}

static void __exit mailbox_exit(void) {
  misc_deregister(&mailbox_misc);
#ifdef MAILBOX_FIXED
  kref_put(&mailbox->ref, mailbox_free);
#else
  kfree(mailbox); /* BUG: an open file still points at it (nothing pinned the module) */
#endif
  mailbox = NULL;
}

module_init(mailbox_init);
module_exit(mailbox_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("a one-message mailbox misc device (devsim example)");
