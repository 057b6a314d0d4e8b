/* linux/errno.h: the errno values drivers return, negated (uapi/asm-generic/errno-base.h, errno.h, linux/errno.h). */
#ifndef _DEVSIM_LINUX_ERRNO_H
#define _DEVSIM_LINUX_ERRNO_H

#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EINTR 4
#define EIO 5
#define ENXIO 6
#define E2BIG 7
#define EBADF 9
#define EAGAIN 11
#define EWOULDBLOCK EAGAIN
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define ENODEV 19
#define EINVAL 22
#define ENOSPC 28
#define ESPIPE 29
#define EPIPE 32
#define ERANGE 34
#define ENOTTY 25
#define ENOSYS 38
#define ENODATA 61
#define ETIME 62
#define EPROTO 71
#define EOVERFLOW 75
#define EOPNOTSUPP 95
#define ERESTART 85
#define ESHUTDOWN 108
#define ETIMEDOUT 110
#define EPROBE_DEFER 517
#define ERESTARTSYS 512

#endif
