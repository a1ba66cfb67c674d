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
#include "dumper.h"
#include "prio_queue.h"

struct job;

/* One dump on its way through the worker. The worker owns it from
 * submission until it is put on the done list. */
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
    uint64_t snap_bytes;       /* its share of DUMPER_SNAPSHOT_BUDGET */
    uint64_t reserved;         /* bytes counted against --max-dump-bytes */
    struct work *next;         /* on the done list */
};

/* Dump workers: each reads one region at a time, with a writer thread of
 * its own (dump_copy.h), so two cores serve one large dump, and two small
 * dumps go at once. */
#define DUMPER_WORKERS 2

struct worker {
    struct dumper *d;
    pthread_t thread;
    bool started;
    void *buf;              /* read buffer for regions too small for the pipe */
    struct dump_pipe *pipe; /* the writer thread */
};

struct dumper {
    struct dumper_config cfg;
    struct job **jobs;
    size_t njobs, cap;

    uint64_t dumps_started;
    uint64_t small_started;        /* of them, of DUMPER_SNAPSHOT_MAX or less */
    uint64_t snap_bytes;           /* snapshots not yet written (loop only) */
    bool wake_deferred;            /* queued copies, no worker woken yet (loop only) */
    uint64_t wake_at_ns;           /* when to wake one for them (loop only) */
    bool quota_warned, small_warned, flushing;

    int timer_fd;                  /* the next dump deadline (timerfd), in the loop's poll set */
    int done_fd;                   /* eventfd: a worker finished a dump */

    struct worker workers[DUMPER_WORKERS];
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
/* The order of d->todo: which dump goes first. */
bool dumper_work_before(const void *a, const void *b);
/* Wakes the loop (done_fd): a dump is on the done list. Any thread. */
void dumper_wake_loop(struct dumper *d);

#endif
