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
 * The loop polls the source's fds (source_ops.fds: a signalfd for SIGCHLD
 * for the ptrace source, ring buffers for a perf source) with everything
 * else, and calls source_ops.serve when one is readable.
 *
 * Threads: everything here runs on the loop's thread (ptrace is per
 * tracer thread).
 */
#ifndef MMAPWATCH_SOURCE_H
#define MMAPWATCH_SOURCE_H

#include <signal.h>
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
    bool lossy;      /* may drop events (then says so: EVENT_CALL_VOIDED, EVENT_LOST) */
};

struct map_filter;

/* A source as the loop sees it: its state and what can be done with it.
 * Every function gets the state as src. Optional ones are NULL when the
 * capabilities say the source cannot (launch without can_launch). */
struct source_ops {
    const char *name;
    struct source_caps caps;
    /* The fds to poll: up to max into fds; returns how many. */
    size_t (*fds)(const void *src, int *fds, size_t max);
    /* Serves what is pending (after one of its fds was readable, and once
     * before the first wait). Returns how many events it served,
     * SOURCE_MORE when more may be pending (serve again before waiting),
     * or -1 when nothing is left to follow. */
    int (*serve)(void *src);
    /* Follows process pid and its threads: 0, or -1 after saying why. */
    int (*attach)(void *src, pid_t pid);
    /* Starts argv with signal mask mask, followed from its first
     * instruction (filter: the seccomp filter, when the source uses one).
     * Its pid, or -1 after saying why. */
    pid_t (*launch)(void *src, char *const argv[], const sigset_t *mask,
                    struct map_filter *filter);
    /* The launched command's wait status, once it is gone. */
    bool (*launched_status)(const void *src, int *status);
    /* The model lets a held thread go (one hold). NULL: cannot hold. */
    void (*release)(void *src, pid_t tid);
    /* The thread's name now ("?" when unknown). */
    void (*thread_name)(void *src, pid_t pid, pid_t tid, char out[PROCFS_COMM_MAX]);
    /* The registers of a thread held stopped (stack capture); NULL or
     * false: none (a source whose events carry snapshots). */
    bool (*capture_regs)(void *src, pid_t tid, struct stack_regs *out);
    /* Stops following everything (detach; safe at any time). */
    void (*detach_all)(void *src);
    /* Threads followed now. */
    size_t (*count)(const void *src);
    /* Whether process or thread pid is followed (or about to be). */
    bool (*follows)(const void *src, pid_t pid);
    /* -v: its counters as info lines. */
    void (*log_stats)(const void *src);
    /* Hands on now every event it holds back that happened before now
     * (the perf source keeps records a while to put them in time order),
     * for a report that must include what just happened (a cgroup
     * threshold's regions). Called from the sink too (the source then
     * hands on nothing more: it is doing so already). NULL: a source that
     * holds nothing back. */
    void (*catch_up)(void *src);
    void (*free)(void *src);
};

#define SOURCE_MORE 512

struct source {
    const struct source_ops *ops;
    void *src;
};

#endif
