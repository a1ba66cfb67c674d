/*
 * source: what the loop and the model need of an event source (ptrace
 * today, perf_event next), and what a source needs of them.
 *
 * A source turns what the kernel tells into struct event (event.h) and
 * hands each to its sink (the model, through the loop) as it happens. The
 * model replies with what it wants of a stopped thread (struct
 * model_reply): a source that can hold threads keeps the thread stopped
 * until the loop releases it (source_ops.release); one that cannot
 * declares so, and the model reports what it could therefore not do.
 *
 * The loop polls the source's fds (source_ops.fds) with everything else
 * and calls source_ops.ready for each that is readable; SIGCHLD, which
 * only the ptrace source needs, comes through the loop's signalfd
 * (source_ops.on_sigchld).
 *
 * Threads: everything here runs on the loop's thread (ptrace is per
 * tracer thread).
 */
#ifndef MMAPWATCH_SOURCE_H
#define MMAPWATCH_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "event.h"
#include "procfs.h"

/* What the model wants of the thread an event is about. */
struct model_reply {
    unsigned holds;  /* dumps to wait for before the thread may go on: hold it
                        until release() has been called this many times */
    bool want_done;  /* EVENT_CALL_ENTER: the call's result can be reported;
                        a source that stops at syscalls selectively should
                        stop at its exit */
};

/* Where a source sends its events (the model, through the loop). */
struct event_sink {
    void (*event)(void *ctx, const struct event *e, struct model_reply *reply);
    void *ctx;
};

struct source_caps {
    bool can_hold;   /* threads can be kept stopped (dumps before an unmap) */
    bool can_launch; /* can start a command traced from its first instruction */
    bool lossy;      /* may drop events (then says so with EVENT_LOST) */
};

#endif
