/*
 * linux/signal.h: signal numbers and the si_code bands of SIGIO (devsim, C gnu11), for kill_fasync(). devsim
 * delivers no signal to user space from the kernel side (see fs.h, fasync).
 */
#ifndef _DEVSIM_LINUX_SIGNAL_H
#define _DEVSIM_LINUX_SIGNAL_H

/* arch/x86/include/uapi/asm/signal.h */
#define SIGHUP 1
#define SIGINT 2
#define SIGKILL 9
#define SIGUSR1 10
#define SIGUSR2 12
#define SIGPIPE 13
#define SIGTERM 15
#define SIGIO 29
#define SIGPOLL SIGIO

/* include/uapi/asm-generic/siginfo.h: SIGPOLL si_codes */
#define POLL_IN 1
#define POLL_OUT 2
#define POLL_MSG 3
#define POLL_ERR 4
#define POLL_PRI 5
#define POLL_HUP 6

#endif
