/*
 * Unit tests for memread.c against a real process: a forked child, which
 * shares our layout and (copy-on-write) contents, so every byte read from
 * it can be compared with our own copy. Covers the 1 MiB chunking, the
 * fallback to /proc/PID/mem for PROT_NONE pages and back, stopping at the
 * first unmapped page, errors, and pagemap's present bits across batches.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memread.h"
#include "unit.h"

#define PG 4096UL

struct child {
    pid_t pid;
    int go; /* write end: closing it ends the child */
};

/* A child that sits in read() until the pipe closes. */
static int start_child(struct child *c)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    c->pid = fork();
    if (c->pid < 0)
        return -1;
    if (c->pid == 0) {
        char b;
        close(fds[1]);
        while (read(fds[0], &b, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(fds[0]);
    c->go = fds[1];
    return 0;
}

static void end_child(struct child *c)
{
    close(c->go);
    int status;
    waitpid(c->pid, &status, 0);
}

/* len bytes between two unmapped pages, filled with a pattern of seed. */
static unsigned char *isolated(size_t len, unsigned seed)
{
    unsigned char *p = mmap(NULL, len + 2 * PG, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    munmap(p, PG);
    munmap(p + PG + len, PG);
    p += PG;
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(i * 13 + seed + (i >> 12));
    return p;
}

TEST(reads_across_chunks_and_prot_none)
{
    /* 3 MiB with one PROT_NONE page in the middle of the second chunk:
     * process_vm_readv, then /proc/PID/mem for that page and the rest. */
    size_t len = 3UL << 20;
    unsigned char *p = isolated(len, 1);
    CHECK(p != NULL);
    size_t hole = (3UL << 19) & ~(PG - 1);
    CHECK(mprotect(p + hole, PG, PROT_NONE) == 0);
    struct child c;
    CHECK(start_child(&c) == 0);
    unsigned char *buf = malloc(len);
    ssize_t n = buf ? memread_read(c.pid, (uint64_t)(uintptr_t)p, buf, len) : -2;
    CHECK(mprotect(p + hole, PG, PROT_READ) == 0); /* to compare with our copy */
    int same = n == (ssize_t)len && memcmp(buf, p, len) == 0;
    /* Starting inside the PROT_NONE page. */
    ssize_t m = buf ? memread_read(c.pid, (uint64_t)(uintptr_t)(p + hole + 100), buf, 2 * PG) : -2;
    int same2 = m == (ssize_t)(2 * PG) && memcmp(buf, p + hole + 100, 2 * PG) == 0;
    end_child(&c);
    free(buf);
    munmap(p, len);
    CHECK(n == (ssize_t)len);
    CHECK(same);
    CHECK(same2);
}

TEST(stops_at_unmapped)
{
    size_t len = 5 * PG;
    unsigned char *p = isolated(len, 2);
    CHECK(p != NULL);
    struct child c;
    CHECK(start_child(&c) == 0);
    unsigned char buf[8 * PG];
    /* From 10 bytes in, 6 pages asked: the read stops at the guard page. */
    ssize_t n = memread_read(c.pid, (uint64_t)(uintptr_t)(p + 10), buf, 6 * PG);
    int same = n == (ssize_t)(len - 10) && memcmp(buf, p + 10, len - 10) == 0;
    /* Nothing readable at the start: -1, and errno says unreadable. */
    errno = 0;
    ssize_t bad = memread_read(c.pid, (uint64_t)(uintptr_t)(p - PG), buf, 16);
    int bad_errno = errno;
    ssize_t zero = memread_read(c.pid, (uint64_t)(uintptr_t)p, buf, 0);
    end_child(&c);
    munmap(p, len);
    CHECK(n == (ssize_t)(len - 10));
    CHECK(same);
    CHECK(bad == -1);
    CHECK(bad_errno == EFAULT || bad_errno == EIO);
    CHECK(zero == 0);
}

TEST(no_such_process)
{
    struct child c;
    CHECK(start_child(&c) == 0);
    pid_t gone = c.pid;
    end_child(&c); /* reaped: the pid is free */
    unsigned char buf[16];
    uint64_t flags[1];
    errno = 0;
    CHECK(memread_read(gone, (uint64_t)(uintptr_t)buf, buf, sizeof buf) == -1);
    CHECK(errno == ESRCH);
    errno = 0;
    CHECK(memread_page_flags(gone, 0x400000, 1, flags) == -1);
    CHECK(errno == ESRCH);
}

TEST(page_flags)
{
    /* 5000 pages, more than one pagemap batch; a few touched, in and
     * across batch boundaries. */
    size_t pages = 5000;
    unsigned char *p = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    madvise(p, pages * PG, MADV_NOHUGEPAGE);
    static const size_t touched[] = {0, 7, 4095, 4096, 4999};
    for (size_t k = 0; k < sizeof touched / sizeof touched[0]; k++)
        p[touched[k] * PG] = 1;
    struct child c;
    CHECK(start_child(&c) == 0);
    uint64_t *flags = calloc(pages, sizeof *flags);
    int rc = flags ? memread_page_flags(c.pid, (uint64_t)(uintptr_t)p, pages, flags) : -2;
    errno = 0;
    int unaligned = memread_page_flags(c.pid, (uint64_t)(uintptr_t)p + 1, 1, flags);
    int unaligned_errno = errno;
    end_child(&c);
    size_t present = 0, wrong = 0;
    for (size_t i = 0; flags && rc == 0 && i < pages; i++) {
        int want = 0;
        for (size_t k = 0; k < sizeof touched / sizeof touched[0]; k++)
            want |= touched[k] == i;
        int got = (flags[i] & MEMREAD_PAGE_PRESENT) != 0;
        present += (size_t)got;
        wrong += (size_t)(got != want);
    }
    free(flags);
    munmap(p, pages * PG);
    CHECK(rc == 0);
    CHECK(present == 5);
    CHECK(wrong == 0);
    CHECK(unaligned == -1 && unaligned_errno == EINVAL);
}

/* Copy buffers start on a page, whatever their size, and hold all of it. */
TEST(buffers_start_on_a_page)
{
    static const size_t sizes[] = {1, 100, PG, PG + 1, 64 * 1024, 1024 * 1024};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        unsigned char *b = memread_buf_new(sizes[k]);
        CHECK(b != NULL);
        int aligned = ((uintptr_t)b & (PG - 1)) == 0;
        memset(b, 0x5a, sizes[k]); /* ASan: all of it is ours */
        free(b);
        CHECK(aligned);
    }
    void *none = memread_buf_new(0);
    int none_aligned = ((uintptr_t)none & (PG - 1)) == 0;
    free(none);
    CHECK(none != NULL && none_aligned);
    errno = 0;
    CHECK(memread_buf_new(SIZE_MAX) == NULL && errno == ENOMEM);
}

UNIT_MAIN(UNIT_CASE(reads_across_chunks_and_prot_none), UNIT_CASE(stops_at_unmapped),
          UNIT_CASE(no_such_process), UNIT_CASE(page_flags), UNIT_CASE(buffers_start_on_a_page))
