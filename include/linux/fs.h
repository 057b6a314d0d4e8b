/*
 * linux/fs.h: files, inodes and file operations (devsim, C gnu11).
 *
 * struct file_operations has the kernel's signatures (include/linux/fs.h). devsim's VFS calls open, read, write,
 * unlocked_ioctl, poll (poll.h) and release (the scenario's open/read/write/ioctl/poll/close); llseek, mmap, flush,
 * compat_ioctl are declared for source compatibility and not called. A struct file and its inode live in
 * simulated memory from open until the last close, so a driver that keeps a pointer to them past release is
 * caught. f_pos is kept per file and passed as *ppos.
 */
#ifndef _DEVSIM_LINUX_FS_H
#define _DEVSIM_LINUX_FS_H

#include "compiler.h"
#include "devsim_abi.h"
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
#define FMODE_READ ((fmode_t)0x1)
#define FMODE_WRITE ((fmode_t)0x2)
#define FMODE_LSEEK ((fmode_t)0x4)
#define FMODE_PREAD ((fmode_t)0x8)
#define FMODE_PWRITE ((fmode_t)0x10)

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

#endif
