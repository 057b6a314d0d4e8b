/*
 * linux/fs.h: files, inodes and file operations (devsim, C gnu11).
 *
 * struct file_operations has the kernel's signatures (include/linux/fs.h). devsim's VFS calls open, read, write,
 * unlocked_ioctl, poll (poll.h) and release (the scenario's open/read/write/ioctl/poll/close); llseek, mmap, flush,
 * compat_ioctl and fasync are declared for source compatibility and not called (the scenario language has no
 * lseek, mmap or fcntl). A struct file and its inode live in
 * simulated memory from open until the last close, so a driver that keeps a pointer to them past release is
 * caught. f_pos is kept per file and passed as *ppos.
 */
#ifndef _DEVSIM_LINUX_FS_H
#define _DEVSIM_LINUX_FS_H

#include "compiler.h"
#include "devsim_abi.h"
#include "ioctl.h" /* as the kernel's fs.h brings in the _IO* macros (uapi/linux/fs.h) */
#include "types.h"

struct module;
struct poll_table_struct;
struct vm_area_struct;
struct file;

#define MINORBITS 20
#define MINORMASK ((1U << MINORBITS) - 1)
#define MAJOR(dev) ((unsigned int)((dev) >> MINORBITS))
#define MINOR(dev) ((unsigned int)((dev)&MINORMASK))
#define MKDEV(ma, mi) (((ma) << MINORBITS) | (mi))

#define O_NONBLOCK 00004000
#define FASYNC 00020000
#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2
#define FMODE_READ ((fmode_t)0x1)
#define FMODE_WRITE ((fmode_t)0x2)
#define FMODE_LSEEK ((fmode_t)0x4)
#define FMODE_PREAD ((fmode_t)0x8)
#define FMODE_PWRITE ((fmode_t)0x10)
#define FMODE_ATOMIC_POS ((fmode_t)0x8000)
#define FMODE_STREAM ((fmode_t)0x200000)

struct cdev;

struct inode {
  dev_t i_rdev;
  void *i_private;
  struct cdev *i_cdev; /* the character device chrdev_open found (cdev.h); NULL for a misc device */
};

struct file {
  const struct file_operations *f_op;
  void *private_data;
  unsigned int f_flags;
  fmode_t f_mode;
  loff_t f_pos;
  struct inode *f_inode;
};

typedef void *fl_owner_t;

struct file_operations {
  struct module *owner;
  loff_t (*llseek)(struct file *, loff_t, int);
  ssize_t (*read)(struct file *, char __user *, size_t, loff_t *);
  ssize_t (*write)(struct file *, const char __user *, size_t, loff_t *);
  __poll_t (*poll)(struct file *, struct poll_table_struct *);
  long (*unlocked_ioctl)(struct file *, unsigned int, unsigned long);
  long (*compat_ioctl)(struct file *, unsigned int, unsigned long);
  int (*mmap)(struct file *, struct vm_area_struct *);
  int (*open)(struct inode *, struct file *);
  int (*flush)(struct file *, fl_owner_t id);
  int (*release)(struct inode *, struct file *);
  int (*fasync)(int, struct file *, int);
};

static inline unsigned int iminor(const struct inode *inode) {
  return MINOR(inode->i_rdev);
}
static inline unsigned int imajor(const struct inode *inode) {
  return MAJOR(inode->i_rdev);
}
static inline struct inode *file_inode(const struct file *f) {
  return f->f_inode;
}
/* nonseekable_open: the file has no position to seek (fs/open.c). */
static inline int nonseekable_open(struct inode *inode, struct file *filp) {
  (void)inode;
  filp->f_mode &= ~(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE);
  return 0;
}
/* stream_open: a stream, not seekable and with no file position (fs/open.c). */
static inline int stream_open(struct inode *inode, struct file *filp) {
  (void)inode;
  filp->f_mode &= ~(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE | FMODE_ATOMIC_POS);
  filp->f_mode |= FMODE_STREAM;
  return 0;
}
static inline loff_t noop_llseek(struct file *file, loff_t offset, int whence) {
  (void)offset;
  (void)whence;
  return file->f_pos;
}

/*
 * Character device numbers (fs/char_dev.c): a region of minors under one major. A dynamic major is given from 254
 * downwards, as the kernel's first dynamic range; regions are per execution.
 */
#define alloc_chrdev_region(dev, baseminor, count, name) \
  __devsim_alloc_chrdev_region((dev), (baseminor), (count), (name), __DEVSIM_SITE)
#define register_chrdev_region(from, count, name) \
  __devsim_register_chrdev_region((from), (count), (name), __DEVSIM_SITE)
#define unregister_chrdev_region(from, count) __devsim_unregister_chrdev_region((from), (count), __DEVSIM_SITE)

#ifndef __cplusplus /* the C++ side of the ABI needs none of what follows, and slab.h's macros would rewrite its code \
                     */
#include "errno.h"
#include "rcupdate.h"
#include "signal.h"
#include "slab.h"
#include "spinlock.h"
#include "uaccess.h"

/* default_llseek (fs/read_write.c) without an inode size: SEEK_SET and SEEK_CUR move f_pos, SEEK_END is -EINVAL. */
static inline loff_t default_llseek(struct file *file, loff_t offset, int whence) {
  if (whence == SEEK_CUR) offset += file->f_pos;
  if (whence != SEEK_SET && whence != SEEK_CUR) return -EINVAL;
  if (offset < 0) return -EINVAL;
  file->f_pos = offset;
  return offset;
}

/* no_llseek (fs/read_write.c until Linux 6.12, when drivers stopped naming it): seeking is -ESPIPE. */
static inline loff_t no_llseek(struct file *file, loff_t offset, int whence) {
  (void)file;
  (void)offset;
  (void)whence;
  return -ESPIPE;
}

/* simple_read_from_buffer (fs/libfs.c): copies from `from` (`available` bytes) at *ppos to the user buffer and
 * advances *ppos; 0 at the end, -EFAULT when nothing could be copied. Its reads of `from` are the driver's. */
static inline ssize_t simple_read_from_buffer(void __user *to, size_t count, loff_t *ppos, const void *from,
                                              size_t available) {
  loff_t pos = *ppos;
  size_t ret;

  if (pos < 0) return -EINVAL;
  if ((size_t)pos >= available || !count) return 0;
  if (count > available - (size_t)pos) count = available - (size_t)pos;
  ret = copy_to_user(to, (const char *)from + pos, count);
  if (ret == count) return -EFAULT;
  count -= ret;
  *ppos = pos + (loff_t)count;
  return (ssize_t)count;
}

/*
 * Asynchronous notification (fs/fcntl.c): a driver's fasync() keeps a list of the files that asked for SIGIO with
 * fasync_helper(), and kill_fasync() signals them. Inline here, as the kernel's code is: the reads and writes of the
 * driver's list head are its accesses (a kill_fasync on freed driver state is a use-after-free), an entry is freed
 * after an RCU grace period as the kernel's (kfree_rcu), and list changes are serialised by one lock. Not modelled:
 * the signal itself (no owner is recorded: the scenario language has no fcntl, so F_SETOWN and FASYNC are never set
 * by user space) and __fput's fasync(-1, file, 0) call for a file with FASYNC set (only the driver's own calls set it).
 */
#define FASYNC_MAGIC 0x4601
struct fasync_struct {
  int magic;
  int fa_fd;
  struct fasync_struct *fa_next;
  struct file *fa_file;
  struct rcu_head fa_rcu;
};

static __maybe_unused DEFINE_SPINLOCK(fasync_lock);

static inline int fasync_helper(int fd, struct file *filp, int on, struct fasync_struct **fapp) {
  struct fasync_struct *fa, **fp, *new;

  if (!on) { /* fasync_remove_entry */
    int removed = 0;

    spin_lock(&fasync_lock);
    for (fp = fapp; (fa = *fp) != NULL; fp = &fa->fa_next) {
      if (fa->fa_file != filp) continue;
      WRITE_ONCE(*fp, fa->fa_next);
      kfree_rcu(fa, fa_rcu);
      filp->f_flags &= ~FASYNC;
      removed = 1;
      break;
    }
    spin_unlock(&fasync_lock);
    return removed;
  }
  new = kzalloc(sizeof(*new), GFP_KERNEL); /* fasync_add_entry */
  if (!new) return -ENOMEM;
  spin_lock(&fasync_lock);
  for (fp = fapp; (fa = *fp) != NULL; fp = &fa->fa_next) {
    if (fa->fa_file != filp) continue;
    fa->fa_fd = fd;
    spin_unlock(&fasync_lock);
    kfree(new);
    return 0;
  }
  new->magic = FASYNC_MAGIC;
  new->fa_file = filp;
  new->fa_fd = fd;
  new->fa_next = *fapp;
  rcu_assign_pointer(*fapp, new);
  filp->f_flags |= FASYNC;
  spin_unlock(&fasync_lock);
  return 1;
}

static inline void kill_fasync(struct fasync_struct **fp, int sig, int band) {
  struct fasync_struct *fa;

  (void)sig;
  (void)band;
  /* "First a quick test without locking: usually the list is empty." Marked here: a list head changed under
   * fasync_lock while this reads it is the kernel's design, not a data race of the driver. */
  if (!READ_ONCE(*fp)) return;
  rcu_read_lock();
  for (fa = rcu_dereference(*fp); fa; fa = rcu_dereference(fa->fa_next))
    (void)READ_ONCE(fa->fa_file); /* send_sigio() to the file's owner: not modelled */
  rcu_read_unlock();
}
#endif /* !__cplusplus */

#endif
