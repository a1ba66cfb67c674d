/*
 * perf_source_internal: what the two halves of the perf source share
 * (perf_source.c: tracepoints, events, layouts, attach; perf_source_read.c:
 * reading the rings). Not a contract for anyone else: use perf_source.h.
 */
#ifndef MMAPWATCH_PERF_SOURCE_INTERNAL_H
#define MMAPWATCH_PERF_SOURCE_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "perf_bpf.h"
#include "perf_cgroup.h"
#include "perf_follow.h"
#include "perf_rawsys.h"
#include "perf_ring.h"
#include "perf_source.h"
#include "tracefs.h"

#define MAX_CPUS 1024
#define MAX_CGROUPS 8

/* The registers a stack walk needs on x86_64 (perf_pair.h). */
#define STACK_REGS_MASK PERF_STACK_REGS_MASK

/* The tracepoints read, and what each is (the tables in perf_source.c). */
enum tp_role { TP_ENTER, TP_EXIT, TP_NEWTASK };
struct tp_spec {
    const char *path; /* under events/ */
    enum tp_role role;
    bool exec_call;   /* execve entries: only to name an exec's thread */
    bool size_filter; /* takes --min-size */
    bool stackless;   /* entries never reported with -k's stack: none copied */
    bool raw;         /* raw_syscalls: one event for several calls (perf_rawsys.h) */
    enum rawsys_set calls; /* raw: the calls its filter lets through */
};
#define NTP 16 /* the most tracepoints a table has (the per-call one) */

/* A tracepoint as this kernel has it: where its fields are. */
struct tp_info {
    const struct tp_spec *spec;
    struct tp_format fmt;
    const struct tp_field *nr;      /* __syscall_nr (raw: id) */
    const struct tp_field *args[6]; /* entries: the fields after nr, in order */
    struct tp_field raw_args[6];    /* raw entries: args[6] as six fields */
    unsigned nargs;
    const struct tp_field *ret;     /* exits */
    const struct tp_field *child, *clone_flags; /* task_newtask */
};

/* What an opened event's id tells a record's reader. */
struct event_info {
    uint64_t id; /* 0: free slot */
    uint32_t owner;
    uint16_t tp;  /* index into s->tps */
    bool regs;    /* samples carry the user registers (raw entries, -k) */
    bool stacks;  /* and a copy of the user stack */
};

struct perf_source {
    struct perf_source_options opt;
    struct perf_bpf *bpf;        /* the calls read by BPF programs: no events or rings below */
    bool per_call;               /* the per-call tracepoints (asked for, or the fallback) */
    const struct tp_spec *table; /* the layout of calls: raw or per call */
    unsigned table_size;
    struct tp_info tps[NTP];
    unsigned ntps;
    unsigned ncpus;
    int cpus[MAX_CPUS];
    int ring_fds[MAX_CPUS];   /* the event each CPU's ring belongs to */
    void *maps[MAX_CPUS];
    size_t map_len;
    struct perf_ring rings[MAX_CPUS];
    uint64_t ring_last_time[MAX_CPUS]; /* for a LOST record's window */
    int *fds;                 /* every event */
    uint16_t *fd_cpu;         /* parallel to fds: the CPU index of each */
    size_t nfds, capfds;
    /* Losses of each ring: reported (LOST records and counter finds), and
     * how much of that was found by the counters before the ring's own
     * LOST record came (that record is then not counted again). */
    uint64_t lost_reported[MAX_CPUS];
    uint64_t lost_credit[MAX_CPUS];
    struct event_info *events; /* open addressing on id */
    size_t capevents;
    pid_t *threads;           /* tids we opened events for, sorted */
    size_t nthreads, capthreads;
    struct perf_pair *pair;
    perf_emit_fn emit;        /* the caller's, behind the cgroup layout's filter */
    void *emit_ctx;
    enum perf_layout layout;  /* PERF_LAYOUT_AUTO until the first attach chose */
    struct perf_cgroup cgroups[MAX_CGROUPS]; /* the cgroup layout's scopes */
    unsigned ncgroups;
    struct perf_follow *follow; /* the cgroup layout's processes */
    struct perf_source_stats stats;
    uint64_t attach_time;
    bool attached;
    /* One of our events on each tracepoint (-1: none yet), to ask the
     * kernel now and then whether a BPF program sits there too: one that
     * answers 0 makes it drop our samples (perf_bpf_programs_on). */
    int tp_probe_fd[NTP];
    uint64_t programs_checked_at;
    bool programs_said;
};

/* The sample_type of an event: with regs, the user registers; with
 * stacks, those and the user stack. */
uint64_t perf_source_sample_type(bool regs, bool stacks);

/* perf_source_tp.c: the table of tracepoints of s->opt (raw or per call)
 * loaded into s->tps, their formats read; -1 with a reason. */
int perf_source_load_tracepoints(struct perf_source *s, bool *private_mount, char *why,
                                 size_t size);
/* Finds the fields a record of t is read with, from its format. 0 or -1. */
int perf_source_tp_resolve(struct tp_info *t);
/* The kernel filter of t into out: 1, 0 when it takes none, -1 when it
 * does not fit (a raw event is never opened unfiltered). */
int perf_source_tp_filter(const struct perf_source *s, const struct tp_info *t, char *out,
                          size_t size);

/* What an event's id says; NULL for an id never opened. */
const struct event_info *perf_source_find_event(const struct perf_source *s, uint64_t id);

#endif
