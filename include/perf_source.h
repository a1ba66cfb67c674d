/*
 * perf_source: the event source that never stops the target (source
 * layer). It reads the map calls (mmap, munmap, mremap, mprotect,
 * pkey_mprotect, brk: entries and exits; execve, execveat and exit_group:
 * entries), task:task_newtask (a new task's clone flags; left out where
 * kernel samples are not allowed) and the comm/fork/exit records through
 * perf_event_open. The calls come, by default, from BPF programs on the
 * per-call tracepoints (perf_bpf.h; with stacks, their registers and stack
 * copies from per-CPU sample events the programs gate,
 * perf_stack_watch.h); where those cannot be loaded, or a layout is asked
 * for, through raw_syscalls:sys_enter/sys_exit filtered in the kernel on
 * the syscall number (perf_rawsys.h: 3 events per context, 4 with
 * stacks), or with per_call through one syscalls:sys_enter_X/sys_exit_X
 * pair per call (16; also where the raw ones cannot be had: they need
 * kernel samples). The layouts below are those of the perf events.
 *
 * Layouts (docs/performance.md has the measured cost), either way all of a
 * CPU's events redirected (PERF_EVENT_IOC_SET_OUTPUT) into one ring
 * buffer per CPU:
 *   - per thread: one tracepoint event per (thread, CPU, tracepoint), pid =
 *     the thread, cpu = N, inherit = 1 so that threads and processes
 *     created later are covered by the kernel. threads x CPUs x
 *     tracepoints descriptors.
 *   - per CPU for the target's cgroup (PERF_FLAG_PID_CGROUP, perf_cgroup.h):
 *     CPUs x tracepoints descriptors whatever the thread count; the events
 *     see every process of the cgroup, and only the targets' records and
 *     those of processes they create after the attach are emitted
 *     (perf_follow.h). A process that leaves the cgroup is no longer seen
 *     (perf_source_in_scope says so). Never the root cgroup.
 * The layout is chosen at the first attach (struct perf_source_options)
 * and is every later target's; descriptors are counted in
 * perf_source_stats. Timestamps are CLOCK_MONOTONIC, so they
 * compare with clock_gettime. --min-size is applied to mmap entries as
 * they are read (raw), or is a kernel filter on sys_enter_mmap's length
 * (per call); MAP_FIXED mmaps pass it either way (they may replace part
 * of a reported region); the exits cannot be filtered.
 *
 * Events come out through the emit callback given to perf_source_new, in
 * kernel-timestamp order, from perf_source_drain and perf_source_finish
 * only (struct perf_ev, include/perf_pair.h). The target is never stopped:
 * a record the kernel could not write is reported as PERF_EV_LOST, never
 * hidden. i386 system calls are not followed: the per-call tracepoints do
 * not fire for them; the raw ones do, with i386 numbers, and such an entry
 * (told by its registers, perf_rawsys.h) comes out as PERF_EV_NOT_NATIVE,
 * never as the x86_64 call of its number.
 *
 * Use: perf_source_new, perf_source_attach (once per target), poll the
 * descriptors of perf_source_poll_fds for reading and call
 * perf_source_drain when one is readable and at least every
 * perf_source_drain_interval_ms while records are held for ordering;
 * perf_source_finish once the target is gone (or to stop), then
 * perf_source_free. All from one thread (the loop's).
 *
 * Detaching is closing: perf_source_free closes every event, and so does
 * the kernel if mmapwatch dies; the target keeps running either way.
 */
#ifndef MMAPWATCH_PERF_SOURCE_H
#define MMAPWATCH_PERF_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "perf_pair.h"

enum perf_layout {
    PERF_LAYOUT_AUTO,   /* options: choose; stats: nothing attached yet */
    PERF_LAYOUT_THREAD, /* events per thread, inherited */
    PERF_LAYOUT_CGROUP, /* events per CPU for the target's cgroup */
    PERF_LAYOUT_BPF,    /* stats only: BPF programs, one event per tracepoint (perf_bpf.h) */
};

/* How the map calls are read (--perf-calls). */
enum perf_calls {
    PERF_CALLS_AUTO,     /* BPF where it loads and no layout is asked for; RAW */
    PERF_CALLS_BPF,      /* BPF programs on the per-call tracepoints (perf_bpf.h) */
    PERF_CALLS_RAW,      /* raw_syscalls events filtered on the number (perf_rawsys.h) */
    PERF_CALLS_SYSCALLS, /* perf events on each call's pair of tracepoints */
};

struct perf_source_options {
    uint64_t min_size;      /* mmaps shorter are not handed on (MAP_FIXED ones are); 0: none */
    enum perf_calls calls;  /* how the calls are read (AUTO: BPF where it loads,
                             * without a layout asked for; RAW otherwise) */
    bool stacks;            /* registers and user stack at each entry (-k) */
    uint32_t stack_bytes;   /* copied per entry with stacks; 0: 16 KiB */
    unsigned ring_pages;    /* data pages per CPU ring, a power of two; 0: the default */
    uint64_t order_window_ns; /* records held this long for time order; 0: 10 ms */
    unsigned bpf_followed_max; /* processes the BPF reader follows at once; 0:
                                * 16,384 (fewer: tests of a full map) */
    enum perf_layout layout;  /* AUTO: per thread while that needs at most 4,096
                               * descriptors, fits the fd limit and the target
                               * does not have a cgroup to itself; per CPU for
                               * its cgroup otherwise (when it is not the root) */
};

struct perf_source_stats {
    unsigned cpus;
    unsigned tracepoints;     /* available on this kernel, of those asked for */
    unsigned threads;         /* threads we opened events for */
    unsigned event_fds;       /* = threads x cpus x tracepoints */
    unsigned attach_passes;   /* /proc/PID/task scans until one found nothing new */
    unsigned threads_behind;  /* the last attach gave up with threads unfollowed:
                               * how many more the process counted (at least 1
                               * when new ones kept coming); 0 when all followed */
    uint64_t attach_ns;       /* the time perf_source_attach took */
    uint64_t ring_bytes;      /* per CPU */
    uint64_t records;         /* records read from the rings */
    uint64_t bad_records;     /* records that did not decode (skipped, counted) */
    uint64_t left_out;        /* raw entries read and not handed on: mmaps shorter
                               * than --min-size, x86_64 calls the i386 numbers
                               * let through */
    bool tracefs_private;     /* tracefs was mounted in a private namespace */
    bool per_call;            /* the per-call tracepoints are read (asked for, or: */
    bool per_call_fallback;   /* the raw ones need kernel samples, not allowed here) */
    bool bpf;                 /* BPF programs read the calls (perf_bpf.h) */
    char bpf_refused[256];    /* AUTO: why BPF could not be used here ("" when it
                               * was, or was not asked for) */
    uint64_t bpf_unfollowed;  /* BPF: new processes its map had no room for */
    bool bpf_stacks;          /* BPF with -k: stacks from the stack watch's
                               * per-CPU samples (perf_stack_watch.h) */
    uint64_t stack_samples;   /* read from the stack watch */
    uint64_t stacks_lost;     /* stack samples its rings had no room for */
    bool clone_flags;         /* task_newtask is read: a new process's FORK is
                               * followed by its clone flags (PERF_EV_NEWTASK) */
    enum perf_layout layout;  /* the one chosen at the first attach */
    const char *cgroup;       /* the cgroup layout's first cgroup (owned by the source) */
    uint64_t filtered;        /* cgroup layout: other processes' events dropped */
};

struct perf_source;

/* Whether this source can follow pid here with options (calls, layout,
 * stacks): the BPF programs loaded and attached (then closed); or tracefs
 * reachable, the syscall tracepoints present, perf_event_open of one of
 * them on pid allowed, and the descriptors of the layout that would be
 * chosen within the limit.
 * Opens nothing that lasts. 0 with that layout described in why ("" when
 * pid is our own: no target yet), or -1 with a one-line reason in why
 * (what is missing and what to do), for --source auto's note. */
int perf_source_probe(pid_t pid, const struct perf_source_options *options, char *why,
                      size_t why_size);

/* One line on a layout: which events (with BPF and stacks, the stack
 * watch's too), how many descriptors. */
void perf_source_describe(enum perf_layout layout, const char *cgroup, bool stacks,
                          uint64_t fds, char *out, size_t size);

/* Whether the cgroup layout still sees process pid: 1 (or another
 * layout), 0 when it has left the cgroups the events are scoped to (its
 * records are not seen any more), -1 when it is gone. */
int perf_source_in_scope(const struct perf_source *s, pid_t pid);

/* Reads the tracepoint formats. NULL with a reason in why. */
struct perf_source *perf_source_new(const struct perf_source_options *options,
                                    perf_emit_fn emit, void *emit_ctx, char *why,
                                    size_t why_size);

/* Opens the events of every thread of pid, rescanning /proc/PID/task until
 * a pass finds no new thread; threads created after that are covered by
 * inheritance. Records start at once; nothing is emitted before the first
 * drain. May be called again for more targets (--comm, --match, a process
 * that is already covered by inheritance: its records are not doubled).
 * 0, or -1 with a reason in why (a thread whose events could not all be
 * opened keeps none). */
int perf_source_attach(struct perf_source *s, pid_t pid, char *why, size_t why_size);

/* The ring buffers' descriptors (one per CPU) to poll for reading; *n is
 * set to their number. Owned by the source. */
const int *perf_source_poll_fds(const struct perf_source *s, size_t *n);

/* How often to drain at least while records are held (ms). */
int perf_source_drain_interval_ms(const struct perf_source *s);

/* Reads every ring and emits the events old enough to be in order. 0, or
 * -1 when a ring is corrupt (errno EBADMSG; said in why). */
int perf_source_drain(struct perf_source *s, char *why, size_t why_size);

/* A drain that emits everything stamped before now, not only what is
 * older than the order window: for a report that must include what just
 * happened (a cgroup threshold). A record being written on another CPU at
 * this very moment may then come after later ones (a few microseconds out
 * of order). 0, or -1 as perf_source_drain. */
int perf_source_catch_up(struct perf_source *s, char *why, size_t why_size);

/* Last drain: everything read and emitted, then the events' own lost
 * counters read, and a loss no ring reported emitted as PERF_EV_LOST. */
void perf_source_finish(struct perf_source *s);

const struct perf_source_stats *perf_source_stats(const struct perf_source *s);
const struct perf_pair_stats *perf_source_pair_stats(const struct perf_source *s);

/* Closes every event and unmaps the rings. Accepts NULL. */
void perf_source_free(struct perf_source *s);

#endif
