/*
 * dumper_internal: what dumper.c (the loop's side: jobs, holds, quotas)
 * and dumper_worker.c (the dump worker threads) share. Not for other
 * modules: include/dumper.h is the interface.
 *
 * Threads: fields marked "loop only" belong to the tracer loop; "guarded
 * by lock" ones to whoever holds d->lock; a struct work belongs to the
 * loop until it is queued, to a worker until it is on the done list.
 */
#ifndef MMAPWATCH_DUMPER_INTERNAL_H
#define MMAPWATCH_DUMPER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dump.h"
#include "dump_strings.h"
#include "dumper.h"
#include "prio_queue.h"

struct job;

/* One dump on its way through a worker, or (strings_pass) the --strings
 * pass over a finished dump on its way through the strings thread. The
 * thread owns it from submission until it is put on the done list. */
struct work {
    struct dumper *dumper;
    uint64_t region_id;
    pid_t owner, mapper;       /* the process and the thread that mapped it */
    struct dump_request req;
    char reason[16];
    struct dump_result res;
    int rc;
    char *stack_json;          /* req.stack_json points here */
    bool urgent;               /* a thread is held for it: before any other */
    struct dump_snapshot *snap; /* the region copied at the held moment, or NULL */
    void *snap_buf;            /* the pool buffer snap borrows (dumper.c), or NULL */
    uint64_t snap_bytes;       /* its share of DUMPER_SNAPSHOT_BUDGET */
    uint64_t reserved;         /* bytes counted against --max-dump-bytes */
    struct work *next;         /* on the done list or the strings queue */
    /* strings_pass: req names the region; res.name the .bin, res.strings_name
     * the .strings to write; rc/res.error the outcome, top[0..ntop) the runs. */
    bool strings_pass;
    struct string_count top[DUMP_STRINGS_TOP];
    size_t ntop;
};

/* Dump workers: each reads one region at a time, with a writer thread of
 * its own (dump_copy.h), so two cores serve one large dump, and two small
 * dumps go at once. */
#define DUMPER_WORKERS 2

/* Snapshot buffers kept for reuse (each DUMPER_SNAPSHOT_MAX bytes). */
#define DUMPER_SNAP_BUFS 4

struct worker {
    struct dumper *d;
    pthread_t thread;
    bool started;
    void *buf;                  /* read buffer for regions too small for the copier */
    struct dump_copier *copier; /* the second copier (dump_copy.h) */
};

struct dumper {
    struct dumper_config cfg;
    struct job **jobs;
    size_t njobs, cap;

    uint64_t dumps_started;
    uint64_t small_started;        /* of them, of DUMPER_SNAPSHOT_MAX or less */
    uint64_t snap_bytes;           /* snapshots not yet written (loop only) */
    /* Buffers for snapshots, kept once their pages are faulted in: a copy
     * into one costs the held thread no page fault (loop only). */
    void *snap_bufs[DUMPER_SNAP_BUFS];
    size_t nsnap_bufs;
    bool wake_deferred;            /* queued copies, no worker woken yet (loop only) */
    uint64_t wake_at_ns;           /* when to wake one for them (loop only) */
    bool quota_warned, small_warned, flushing;

    int timer_fd;                  /* the next dump deadline (timerfd), in the loop's poll set */
    int done_fd;                   /* eventfd: a worker finished a dump */

    struct worker workers[DUMPER_WORKERS];
    /* --strings: the pass over each finished dump, one at a time, oldest
     * first, on a thread of its own at a lower priority (nice +10): the
     * next dumps' reads of the target come first. */
    pthread_t strings_thread;
    bool strings_started;
    pthread_cond_t strings_wake;   /* the strings thread waits for work */
    struct work *strings_head;     /* guarded by lock: FIFO, next to scan first */
    struct work **strings_tail;    /* guarded by lock */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t finished;       /* a dump went on the done list (dumper_drain) */
    struct prio_queue todo;        /* guarded by lock: best first (work_before) */
    uint64_t bytes_used;           /* guarded by lock: --max-dump-bytes, reserved included */
    unsigned max_seq;              /* guarded by lock: the highest seq written so far */
    struct work *done;             /* guarded by lock */
    bool stop;                     /* guarded by lock */
    /* Dumps that start together (an exit, a flush, a threshold) are handed
     * over at once, so that the workers take them in order (work_before)
     * rather than the first one to arrive (loop only). */
    struct work **batch;
    size_t nbatch, batch_cap;
    bool batching;
    size_t running;                /* submitted and not collected (loop only) */
    atomic_bool cancel;
};

/* The worker threads' body (arg: its struct worker). */
void *dumper_worker_main(void *arg);
/* The strings thread's body (arg: the dumper). */
void *dumper_strings_main(void *arg);
/* The order of d->todo: which dump goes first. */
bool dumper_work_before(const void *a, const void *b);
/* Wakes the loop (done_fd): a dump is on the done list. Any thread. */
void dumper_wake_loop(struct dumper *d);

#endif
