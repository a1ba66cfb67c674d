/*
 * memread: reading another process's memory without stopping it, and
 * telling which of its pages exist.
 *
 * process_vm_readv first (fast, no stop, no ptrace needed beyond the
 * permission check); /proc/PID/mem for what it cannot read (PROT_NONE and
 * other pages the kernel lets a ptrace-capable reader see). Reading never
 * faults pages in: callers that must not grow the target's memory ask
 * memread_page_flags() first and read only present or swapped pages.
 *
 * Thread-safe: no global state; each call opens what it needs.
 */
#ifndef MMAPWATCH_MEMREAD_H
#define MMAPWATCH_MEMREAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* /proc/PID/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define MEMREAD_PAGE_PRESENT (1ULL << 63)
#define MEMREAD_PAGE_SWAPPED (1ULL << 62)

/* Reads up to len bytes at addr into buf. Returns the number of bytes
 * read: len, or fewer when an unreadable address was reached (the count
 * then tells where it is); -1 with errno when nothing could be read
 * (ESRCH: process gone; EFAULT/EIO: addr itself unreadable; EPERM). */
ssize_t memread_read(pid_t pid, uint64_t addr, void *buf, size_t len);

/* Fills flags[i] with the pagemap entry of page addr + i * 4096, for
 * npages pages (addr page-aligned). 0, or -1 with errno. Without
 * CAP_SYS_ADMIN the frame numbers read as 0 but bits 62/63 are valid. */
int memread_page_flags(pid_t pid, uint64_t addr, size_t npages, uint64_t *flags);

/* A buffer of len bytes (rounded up to whole pages) that starts on a page,
 * for copies of pages: what memread_read() reads into, and what dumps are
 * written from and read back through. The kernel copies with `rep movsb`,
 * which on the AMD EPYC this was measured on runs at a third of its speed
 * when the destination sits a few bytes past the source's offset in a page
 * (4K aliasing): a page read into a block 16 bytes off a page, where
 * malloc puts a large one, made process_vm_readv 2.2 GB/s instead of 7.1
 * (docs/performance.md, "Aligned buffers"). Free it with free(). NULL
 * with errno when it cannot be had. */
void *memread_buf_new(size_t len);

#endif
