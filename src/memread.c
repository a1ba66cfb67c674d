/*
 * memread: another process's memory, read without stopping it. See
 * include/memread.h.
 *
 * process_vm_readv does the bulk: one syscall per 1 MiB, no page faults
 * in our own address space beyond the buffer, no ptrace stop. It cannot
 * read what the target itself could not (PROT_NONE, some special
 * mappings), and stops at the first such page. From there the rest goes
 * through pread on /proc/PID/mem, which reads with FOLL_FORCE as a
 * debugger does; when that in turn stops at a page, process_vm_readv gets
 * that one page, and so on, until a page neither can read. Every step
 * either advances or ends the read, so it always terminates.
 */
#include "memread.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

/* The unit of the contract, and of /proc/PID/pagemap on x86-64. */
#define MEMREAD_PAGE 4096ULL

/* 1 MiB per syscall: large enough to run at memory speed (measured 4 GB/s
 * on the design's machine), small enough that a process that dies or
 * unmaps mid-read costs little. */
#define CHUNK (1u << 20)

/* pagemap entries per pread: 4096 entries = 32 KiB = 16 MiB of address. */
#define PAGEMAP_BATCH 4096u

struct reader {
    pid_t pid;
    int mem_fd;    /* /proc/PID/mem, opened on first need; -1 before */
    int mem_errno; /* why it could not be opened, once it could not */
};

static ssize_t via_vm_readv(struct reader *r, uint64_t addr, void *buf, size_t len)
{
    struct iovec local = {.iov_base = buf, .iov_len = len};
    struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
    ssize_t n;
    do
        n = process_vm_readv(r->pid, &local, 1, &remote, 1, 0);
    while (n < 0 && errno == EINTR);
    return n;
}

static ssize_t via_proc_mem(struct reader *r, uint64_t addr, void *buf, size_t len)
{
    if (r->mem_fd < 0) {
        if (r->mem_errno) {
            errno = r->mem_errno;
            return -1;
        }
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)r->pid);
        r->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->mem_fd < 0) {
            r->mem_errno = errno == ENOENT ? ESRCH : errno;
            errno = r->mem_errno;
            return -1;
        }
    }
    /* pread takes a signed offset: addresses from 2^63 up are the
     * kernel's and cannot be read this way anyway. */
    if (addr > (uint64_t)INT64_MAX) {
        errno = EIO;
        return -1;
    }
    ssize_t n;
    do
        n = pread(r->mem_fd, buf, len, (off_t)addr);
    while (n < 0 && errno == EINTR);
    if (n == 0) { /* the process's memory is gone (it exited) */
        errno = ESRCH;
        return -1;
    }
    return n;
}

typedef ssize_t (*read_fn)(struct reader *r, uint64_t addr, void *buf, size_t len);

/* Which errno explains a failed read best: a vanished process or a refusal
 * says more than "bad address" from the other method. */
static int worse_errno(int a, int b)
{
    if (a == ESRCH || b == ESRCH)
        return ESRCH;
    if (a == EPERM || a == EACCES || b == EPERM || b == EACCES)
        return EPERM;
    return a ? a : b;
}

ssize_t memread_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
    if (len == 0)
        return 0;
    if (len > (size_t)SSIZE_MAX)
        len = (size_t)SSIZE_MAX;
    /* The last byte of the address space can never be mapped: stopping one
     * short of a wrap keeps addr + done meaningful. */
    if (len > UINT64_MAX - addr)
        len = (size_t)(UINT64_MAX - addr);

    struct reader r = {.pid = pid, .mem_fd = -1, .mem_errno = 0};
    read_fn methods[2] = {via_vm_readv, via_proc_mem};
    int current = 0;
    size_t done = 0;
    int err = 0;

    while (done < len) {
        uint64_t at = addr + done;
        size_t want = len - done < CHUNK ? len - done : CHUNK;
        ssize_t n = methods[current](&r, at, (char *)buf + done, want);
        if (n == (ssize_t)want) {
            done += want;
            continue;
        }
        int first_errno = n < 0 ? errno : 0;
        if (n > 0) {
            done += (size_t)n;
            at += (uint64_t)n;
        }
        if (first_errno == ESRCH) {
            err = ESRCH;
            break;
        }
        /* The page at `at` stopped this method: the other one gets just
         * that page (or the part of it we want). */
        size_t in_page = (size_t)(MEMREAD_PAGE - (at & (MEMREAD_PAGE - 1)));
        size_t page_want = len - done < in_page ? len - done : in_page;
        int other = 1 - current;
        ssize_t m = methods[other](&r, at, (char *)buf + done, page_want);
        if (m <= 0) {
            err = worse_errno(first_errno, m < 0 ? errno : 0);
            break;
        }
        done += (size_t)m;
        current = other;
    }
    if (r.mem_fd >= 0)
        close(r.mem_fd);
    if (done == 0) {
        errno = err ? err : EFAULT;
        return -1;
    }
    return (ssize_t)done;
}

int memread_page_flags(pid_t pid, uint64_t addr, size_t npages, uint64_t *flags)
{
    if (addr & (MEMREAD_PAGE - 1)) {
        errno = EINVAL;
        return -1;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            errno = ESRCH;
        return -1;
    }
    uint64_t index = addr / MEMREAD_PAGE;
    size_t done = 0;
    int err = 0;
    while (done < npages) {
        size_t batch = npages - done < PAGEMAP_BATCH ? npages - done : PAGEMAP_BATCH;
        uint64_t offset = (index + done) * sizeof(uint64_t);
        if (offset > (uint64_t)INT64_MAX) {
            err = EINVAL;
            break;
        }
        ssize_t n = pread(fd, flags + done, batch * sizeof(uint64_t), (off_t)offset);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            break;
        }
        if (n == 0) {
            /* Past the end of user space: no page can be there. */
            for (size_t i = done; i < npages; i++)
                flags[i] = 0;
            break;
        }
        /* The kernel returns whole entries; a torn one would be a bug we
         * must not turn into a wrong "present" bit. */
        if ((size_t)n % sizeof(uint64_t)) {
            err = EIO;
            break;
        }
        done += (size_t)n / sizeof(uint64_t);
    }
    close(fd);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

void *memread_buf_new(size_t len)
{
    if (len == 0)
        len = 1;
    if (len > SIZE_MAX - (MEMREAD_PAGE - 1)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t whole = (len + MEMREAD_PAGE - 1) & ~(size_t)(MEMREAD_PAGE - 1);
    void *p = aligned_alloc(MEMREAD_PAGE, whole);
    if (!p)
        errno = ENOMEM;
    return p;
}
