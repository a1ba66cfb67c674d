/*
 * dump_copy: the pagemap-guided copy of one region into its .bin, for
 * dump_region() (dump.h); not for other callers.
 *
 * Pages are listed with /proc/PID/pagemap first, in chunks, and only runs
 * of present or swapped pages are read (memread.h), so a dump never
 * faults a page in. Each run is read into a buffer and written at its own
 * offset; holes stay holes of a sparse file.
 *
 * With a dump_pipe the reading (this thread) and the writing (the pipe's
 * writer thread) overlap, through a ring of buffers: a dump then costs
 * about the slower of the two copies instead of their sum, on two cores.
 * With --strings the pipe's scanner thread scans each buffer after it is
 * written (the scan never runs on the thread that reads the target, nor
 * holds up the writes); a buffer is read into again once both are done.
 * Without a pipe, one thread reads, writes and scans in turn.
 *
 * Threads: a dump_pipe serves one dump at a time; its owner (a dump
 * worker) passes it to each dump_region() it makes.
 */
#ifndef MMAPWATCH_DUMP_COPY_H
#define MMAPWATCH_DUMP_COPY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct dump_request;
struct dump_result;
struct dump_source;
struct dump_scanner;
struct dump_pipe;
struct dump_ranges;

/* One copy in progress; dump_region() fills it in. */
struct dump_copy {
    const struct dump_request *req;
    const struct dump_source *src;
    const atomic_bool *cancel;  /* NULL: never */
    struct dump_result *res;    /* error, error_op, holes, unreadable, byte counts */
    pid_t rpid;                 /* the pid read through (may move to req->read_via) */
    int fd;                     /* the .bin temporary */
    char *buf;                  /* the synchronous path's buffer */
    size_t buf_size;            /* whole pages */
    uint64_t *flags;            /* DUMP_PAGEMAP_CHUNK entries */
    struct dump_pipe *pipe;     /* NULL: read and write in turn on this thread */
    struct dump_scanner *scanner; /* --strings: fed every byte written, in order
                                     (by the pipe's scanner thread when there is one) */
    uint64_t scanned_to;        /* the end of the last bytes fed to the scanner */
    uint64_t counted;           /* dump_copy_count()'s running total */
    /* dump_copy_count()'s runs of existing pages: the copy reads these
     * instead of walking pagemap again (one pass; a page touched after
     * the count is not in this dump, so it writes no more than it
     * reserved). Unused when the list was cut (DUMP_MAX_RANGES). */
    struct dump_ranges *runs;
};

/* Pass 1: the bytes of the region that exist (present or swapped), from
 * pagemap alone, and their runs into c->runs (caller-owned, may be NULL).
 * 0, or -1 with c->res->error set. */
int dump_copy_count(struct dump_copy *c, uint64_t *resident);

/* Pass 2: the copy. 0, or -1 with c->res->error/error_op set. */
int dump_copy_region(struct dump_copy *c);

/* A second copier, a scanner thread and a ring of buffers of buf_size
 * bytes each (whole pages, at least one). Without a scanner, a dump's runs
 * are copied by the caller and the pipe's thread together, each reading
 * and writing chunks of buf_size in turn (no order is needed); with one,
 * the caller reads into the ring, the thread writes it in order and the
 * scanner scans after it. NULL with errno when they cannot be started.
 * The threads inherit the caller's signal mask. */
struct dump_pipe *dump_pipe_new(size_t buf_size);
/* Stops the writer and frees everything; NULL ok. Not during a dump. */
void dump_pipe_free(struct dump_pipe *p);
/* The size of each of its buffers. */
size_t dump_pipe_buf_size(const struct dump_pipe *p);

#endif
