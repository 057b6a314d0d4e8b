/* asm/page.h: the page size (devsim, C gnu11): x86-64's 4 KiB, the size of a sysfs attribute's buffer. */
#ifndef _DEVSIM_ASM_PAGE_H
#define _DEVSIM_ASM_PAGE_H

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))

#endif
