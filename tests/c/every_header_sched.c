/* Uses linux/sched.h's sleeps, wait.h's open-coded wait, fs.h's fasync, llseek and simple_read_from_buffer,
 * kernel.h's string-to-number conversions, hid.h and signal.h once, for the compile check
 * (check_c_drivers_compile.sh). The wait's and schedule_timeout's behaviour is tested by tests/c/test_c_wait.cpp. */
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/hid.h>
#include <linux/input.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/types.h>
#include <linux/usb.h>
#include <linux/wait.h>

static int every_param = 3;
module_param(every_param, int, S_IRUGO | S_IWUSR);
MODULE_PARM_DESC(every_param, "a parameter that keeps its default");
static int every_named_value = 4;
module_param_named(every_named, every_named_value, int, S_IRUSR | S_IRGRP | S_IROTH | S_IWUGO | S_IXUGO);
static char every_string[8] = "x";
module_param_string(every_str, every_string, sizeof(every_string), S_IRWXUGO);

/* usb_string, USB_MAJOR, stream_open and the barriers. */
int every_sched_usb_string(struct usb_device *udev, struct inode *inode, struct file *file, char *buf) {
  int n = usb_string(udev, 1, buf, 32);

  stream_open(inode, file);
  mb();
  rmb();
  wmb();
  smp_mb();
  smp_rmb();
  smp_wmb();
  smp_mb__before_atomic();
  smp_mb__after_atomic();
  return n + USB_MAJOR + every_param + every_named_value + every_string[0];
}

struct notifier_state {
  wait_queue_head_t wait;
  struct fasync_struct *async_queue;
  int ready;
  char text[16];
};

static int every_fasync(int fd, struct file *file, int on) {
  struct notifier_state *s = file->private_data;

  return fasync_helper(fd, file, on, &s->async_queue);
}

static ssize_t every_read(struct file *file, char __user *buf, size_t count, loff_t *ppos) {
  struct notifier_state *s = file->private_data;
  unsigned long long big = simple_strtoull(s->text, NULL, 0);
  unsigned long ul = simple_strtoul(s->text, NULL, 16);
  long l = simple_strtol(s->text, NULL, 10);
  long long ll = simple_strtoll(s->text, NULL, 8);
  unsigned int ui = 0;
  int i = 0;
  long kl = 0;
  long long kll = 0;
  unsigned long kul = 0;
  unsigned long long kull = 0;

  if (kstrtoull(s->text, 0, &kull) || kstrtoul(s->text, 10, &kul) || kstrtouint(s->text, 10, &ui) ||
      kstrtoint(s->text, 10, &i) || kstrtol(s->text, 10, &kl) || kstrtoll(s->text, 10, &kll))
    return -EINVAL;
  if (big + ul + (unsigned long)l + (unsigned long long)ll + ui + (unsigned int)i > 0)
    kill_fasync(&s->async_queue, SIGIO, POLL_IN);
  return simple_read_from_buffer(buf, count, ppos, s->text, sizeof(s->text));
}

static ssize_t every_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos) {
  struct notifier_state *s = file->private_data;
  DEFINE_WAIT(wait);
  long left = HZ;

  (void)buf;
  (void)ppos;
  switch (count) {
    case 0:
      return 0;
    case 1:
      count++;
      fallthrough;
    default:
      break;
  }
  prepare_to_wait(&s->wait, &wait, TASK_INTERRUPTIBLE);
  if (!READ_ONCE(s->ready)) left = schedule_timeout(left);
  finish_wait(&s->wait, &wait);
  init_wait(&wait);
  prepare_to_wait_exclusive(&s->wait, &wait, TASK_UNINTERRUPTIBLE);
  finish_wait(&s->wait, &wait);
  set_current_state(TASK_KILLABLE);
  __set_current_state(TASK_RUNNING);
  if (schedule_timeout_interruptible(1) || schedule_timeout_killable(1) || schedule_timeout_uninterruptible(1))
    return -EINTR;
  if (left == MAX_SCHEDULE_TIMEOUT) schedule();
  if (wait_event_timeout(s->wait, READ_ONCE(s->ready), HZ) == 0 ||
      wait_event_interruptible_timeout(s->wait, READ_ONCE(s->ready), HZ) < 0 ||
      wait_event_killable_timeout(s->wait, READ_ONCE(s->ready), HZ) < 0)
    return -ETIMEDOUT;
  return left ? (ssize_t)count : -ETIMEDOUT;
}

/* A HID class request's setup fields, as a USB driver fills them by hand. */
static int every_hid_request(void) {
  return (HID_REQ_SET_REPORT << 8 | (HID_OUTPUT_REPORT + 1)) + HID_REQ_GET_REPORT + HID_REQ_GET_IDLE +
         HID_REQ_GET_PROTOCOL + HID_REQ_SET_IDLE + HID_REQ_SET_PROTOCOL + HID_INPUT_REPORT + HID_FEATURE_REPORT +
         SIGHUP + SIGINT + SIGKILL + SIGUSR1 + SIGUSR2 + SIGPIPE + SIGTERM + SIGPOLL + POLL_OUT + POLL_MSG + POLL_ERR +
         POLL_PRI + POLL_HUP;
}

const struct file_operations every_sched_fops = {
    .read = every_read,
    .write = every_write,
    .fasync = every_fasync,
    .llseek = default_llseek,
};

int every_sched_hid(void) {
  return every_hid_request();
}
