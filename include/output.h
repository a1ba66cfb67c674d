/*
 * output: the only writer of events (text lines or JSON Lines).
 *
 * Each line is flushed as soon as it is complete, so that a log collector
 * or a `tail -f` sees each event as it happens and a crash loses none
 * already reported. A line is not one atomic write: stdio may hand a long
 * one (a JSON stack) to the kernel in pieces, so a reader of a pipe can
 * see part of it before the rest, and a failed write can leave a partial
 * last line. A text event of several lines (a stack, a dump's strings,
 * the summary table) is written line after line with nothing between,
 * since only the loop's thread writes. Destinations: stderr (default,
 * like strace, so a launched command's stdout stays its own), stdout
 * ("-"), or a file.
 *
 * Threads: every function here is for the loop's thread only (the
 * renderers share one line buffer).
 *
 * A write error (disk full, reader gone) makes output_failed() true and
 * output_failure() say why; the loop then says so once and detaches
 * (tracing that nobody can read only costs the target), or in launch mode
 * lets the command run to its end and exits 1.
 */
#ifndef MMAPWATCH_OUTPUT_H
#define MMAPWATCH_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "decode.h"
#include "options.h"
#include "procfs.h"

/* The JSON schema: the first line of every JSON events stream (written
 * just before the first event) is
 * {"event":"schema",...,"schema":N,"program":"mmapwatch"}; N grows when a
 * field changes meaning or name (docs/mmapwatch.1, JSON OUTPUT). 2: the
 * dump event's bytes_read/resident_bytes (were bytes/resident), mmap's
 * "path", comm_hex and the other *_hex twins. */
#define OUTPUT_SCHEMA_VERSION 3

/* Who and when an event is about. */
struct event_origin {
    pid_t pid;
    pid_t tid;
    char comm[PROCFS_COMM_MAX];
    struct timespec ts; /* CLOCK_REALTIME */
};

/* Opens the destination (path NULL = stderr, "-" = stdout, else a file
 * created 0644 / truncated). A symbolic link at path is followed only if
 * the effective user owns the link (so one planted by another user is
 * refused). 0, or -1 after logging why. */
int output_open(const char *path, bool json);
void output_close(void);
bool output_failed(void);

/* Why the events could not be written (strerror), or NULL while they can. */
const char *output_failure(void);
/* How text lines show their time (options.h; the default is -tt's).
 * JSON's ts is always RFC 3339 UTC. Call before the first event. */
void output_set_time_format(enum options_time_format format);

/* Fills origin->ts with now and origin->comm from /proc. */
void event_origin_fill(struct event_origin *origin, pid_t pid, pid_t tid);

struct stack;

/* A map call's event. With -k, stack is the caller's stack (text: one
 * indented line a frame) and stack_json its JSON array (unwind.h
 * stack_to_json; NULL if it could not be made); both NULL without -k.
 * caller_stopped: the caller is still stopped at the call's result, so the
 * descriptor it mapped is still the mapped file's (else the file is named
 * from the mapping itself, or not at all). */
void output_map_call(const struct event_origin *o, const struct map_call *call,
                     const struct stack *stack, const char *stack_json, bool caller_stopped);
/* An area that grows in place (growth.h) crossed a --min-size step. */
struct growth_view {
    const char *kind;        /* "brk heap", "malloc heap", "reservation" */
    const char *call;        /* the call that crossed it: "brk", "mprotect", "mmap", "mremap" */
    uint64_t start;          /* the area: its start, */
    uint64_t reserved;       /* reserved bytes (brk heap: up to its end), */
    uint64_t committed;      /* bytes accessible now, */
    uint64_t gained;         /* and its growth since tracing began */
    uint64_t new_addr, new_len; /* committed since its last report: the part dumped */
};
/* With -k, stack and stack_json as for output_map_call. */
void output_growth(const struct event_origin *o, const struct growth_view *g,
                   const struct stack *stack, const char *stack_json);
void output_attach(const struct event_origin *o, unsigned threads);
void output_exec(const struct event_origin *o, unsigned long regions_ended);
/* wait_status as returned by wait4 for the process's leader. */
void output_exit(const struct event_origin *o, int wait_status);
void output_detach(const struct event_origin *o);
/* The event source dropped events (count, 0 if unknown) over window_ns:
 * calls_voided calls in flight lost their pairing, regions_uncertain
 * regions may have ended unseen. */
void output_lost(const struct event_origin *o, uint64_t count, uint64_t window_ns,
                 size_t calls_voided, size_t regions_uncertain);
/* A process selected by --comm, --match, --container, --pod or --cgroup
 * (before its "attach"): its command line (arguments joined by spaces,
 * possibly cut), which selector took it ("comm", "match", "container",
 * "pod", "cgroup") and, with cgroup selectors, the cgroup path that
 * matched (NULL without). */
void output_target(const struct event_origin *o, const char *cmdline, const char *matched,
                   const char *cgroup);

/* One of --strings' most frequent runs. */
struct top_string {
    const char *text;
    uint64_t count;
};

/* A finished dump: path of the .bin, bytes read and written, resident
 * bytes of the region, why it was dumped. */
void output_dump(const struct event_origin *o, uint64_t addr, uint64_t len, const char *path,
                 uint64_t bytes, uint64_t resident, const char *reason);
/* --strings, after a dump: path of the .strings written from its .bin and
 * the most frequent runs, most frequent first. */
void output_strings(const struct event_origin *o, uint64_t addr, uint64_t len, const char *path,
                    const struct top_string *top, size_t ntop);
/* A dump not made (quota). */
void output_dump_skip(const struct event_origin *o, uint64_t addr, uint64_t len,
                      const char *why);
/* A dump that failed (disk full, process gone): what failed and why. */
void output_dump_error(const struct event_origin *o, uint64_t addr, uint64_t len,
                       const char *path, const char *message);

struct summary_view;

/* -c: the summary at the end (text: a table; JSON: one "summary" event). */
void output_summary(const struct summary_view *view);

/* One of the largest reported regions still mapped, in a threshold event. */
struct threshold_region {
    pid_t pid, tid;             /* its process, the thread that mapped it */
    char comm[PROCFS_COMM_MAX]; /* that thread's name now ("?" if gone) */
    uint64_t addr, len, id;
};

/* What a memory cgroup event says (cgroup.h). */
struct cgroup_event {
    const char *cgroup;        /* the path, as /proc/PID/cgroup shows it */
    bool above;                /* threshold: crossed upward, else fell back below */
    uint64_t usage;
    uint64_t limit;            /* UINT64_MAX: none */
    uint64_t threshold;
    unsigned pct;              /* the threshold's percentage of the limit; 0 for a SIZE */
    const struct threshold_region *regions; /* above: the largest, largest first */
    size_t nregions;
    long dumps;                /* above: dumps started for --dump-on-threshold; -1 without */
    uint64_t oom_kills;        /* oom: the cgroup's oom_kill counter */
    uint64_t new_kills;        /* oom: kills since the last oom event */
};

/* --adopt: a region that was mapped before the attach (/proc/PID/maps),
 * taken in as a reported region: followed and dumped from now on. Who
 * mapped it is not known: the origin names the process's leader. */
struct existing_view {
    uint64_t addr, len, id;
    int prot;                  /* PROT_* now */
    bool shared;               /* MAP_SHARED anonymous memory */
};
void output_existing(const struct event_origin *o, const struct existing_view *x);

/* --attach-above: tracing begins or ends (above.h). */
struct mark_event {
    const char *cgroup;        /* the path, as /proc/PID/cgroup shows it */
    const char *action;        /* "attach" or "detach" */
    const char *reason;        /* "above" (attach), "below" or "duration" (detach) */
    uint64_t usage;
    uint64_t limit;            /* UINT64_MAX: none */
    uint64_t attach_mark, detach_mark; /* bytes */
};
void output_mark(const struct event_origin *o, const struct mark_event *e);

/* The cgroup's usage crossed --cgroup-threshold (either way). */
void output_threshold(const struct event_origin *o, const struct cgroup_event *e);
/* The cgroup OOM-killed a process (new_kills of them). */
void output_oom(const struct event_origin *o, const struct cgroup_event *e);

#endif
