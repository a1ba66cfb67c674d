/*
 * dump_copy: the pagemap-guided copy of one region into its .bin, for
 * dump_region() (dump.h); not for other callers.
 *
 * Pages are listed with /proc/PID/pagemap first, in chunks, and only runs
 * of present or swapped pages are read (memread.h), so a dump never
 * faults a page in. Each run is read into a buffer and written at its own
 * offset; holes stay holes of a sparse file.
 *
 * With a dump_copier a second thread shares the work: each run of pages
 * is cut into chunks that the caller and the copier's thread take in
 * turn, each reading a chunk and writing it itself, so that one's reads
 * hide behind the other's writes (docs/performance.md, "Two copiers").
 * Without one, the calling thread reads and writes in turn.
 *
 * Threads: a dump_copier serves one dump at a time; its owner (a dump
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
struct dump_copier;
struct dump_ranges;

/* One copy in progress; dump_region() fills it in. */
struct dump_copy {
    const struct dump_request *req;
    const struct dump_source *src;
    const atomic_bool *cancel;  /* NULL: never */
    struct dump_result *res;    /* error, error_op, holes, unreadable, byte counts */
    pid_t rpid;                 /* the pid read through (may move to req->read_via) */
    int fd;                     /* the .bin temporary */
    char *buf;                  /* the buffer when this thread copies alone */
    size_t buf_size;            /* whole pages */
    uint64_t *flags;            /* DUMP_PAGEMAP_CHUNK entries */
    struct dump_copier *copier; /* NULL: read and write in turn on this thread */
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

/* A second copier: a thread and two buffers of buf_size bytes (whole
 * pages, at least one), one for each copier. NULL with errno when it
 * cannot be started. The thread inherits the caller's signal mask. */
struct dump_copier *dump_copier_new(size_t buf_size);
/* Stops the thread and frees everything; NULL ok. Not during a dump. */
void dump_copier_free(struct dump_copier *p);
/* The size of each of its buffers (a chunk). */
size_t dump_copier_buf_size(const struct dump_copier *p);

#endif
