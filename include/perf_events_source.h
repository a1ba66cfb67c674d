/*
 * perf_events_source: the perf_event tracepoint reader (perf_source.h) as
 * an event source of the loop (source.h): the source that never stops the
 * target.
 *
 * It turns the reader's time-ordered records (struct perf_ev) into
 * source-neutral events (event.h): entries and results of map calls, with
 * the kernel's registers and stack copy as the stack snapshot (-k);
 * threads and processes born, execs (with the tid that called exec),
 * thread exits (a thread's "gone" follows its exit at once: the kernel
 * writes the exit record after its memory is gone; a process is gone when
 * its last thread is), and losses. Thread names come from the comm records
 * (and /proc at the attach). A new process's spawn waits for its clone
 * flags (the task_newtask record right after its FORK record) to say
 * whether it shares its parent's memory (vfork); kcmp answers when they
 * cannot come. In the cgroup layout (perf_source.h), a process found
 * outside the cgroup at a liveness look is said in a warning, once.
 *
 * Capabilities: cannot hold a thread (the model reports a region ended
 * before its dump as a skip), can launch a command (started paused on a
 * pipe, followed, then let go to exec: nothing it does is missed), lossy
 * (EVENT_LOST with the count and the time window).
 *
 * Polling: one fd, an epoll set of its own holding the per-CPU rings and a
 * timerfd at the reader's drain interval (records are held that long to be
 * put in time order; a thread whose exit record was lost is found gone in
 * /proc at a later tick).
 *
 * Threads: the loop's thread only. Ownership: the source owns the reader;
 * the sink's ctx is the caller's.
 */
#ifndef MMAPWATCH_PERF_EVENTS_SOURCE_H
#define MMAPWATCH_PERF_EVENTS_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "source.h"

struct perf_events_source;

extern const struct source_ops PERF_EVENTS_SOURCE_OPS;

struct perf_events_options {
    uint64_t min_size;   /* --min-size: filtered in the kernel (per call) or as
                          * the records are read (raw, perf_rawsys.h) */
    unsigned calls;      /* --perf-calls: enum perf_calls (perf_source.h) */
    bool stacks;         /* -k: registers and stack copy at each entry */
    unsigned ring_pages; /* --perf-pages; 0: the reader's default */
    unsigned layout;     /* --perf-layout: enum perf_layout (perf_source.h) */
    bool layout_noted;   /* the start note said the layout already */
};

/* NULL after saying why (one line: what is missing, --source ptrace). */
struct perf_events_source *perf_events_source_new(const struct event_sink *sink,
                                                  const struct perf_events_options *opt);

#endif
