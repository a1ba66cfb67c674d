/*
 * perf_bpf_prog: the BPF programs of the perf source's BPF reader
 * (perf_bpf.h), assembled from a tracepoint's format (source layer, used
 * by perf_bpf.c; pure: builds instructions, makes no system call,
 * unit-tested).
 *
 * One program per tracepoint (PERF_BPF_PLANS). Each one:
 *   r6 = the tracepoint's context; r7 = the caller's pid_tgid; the
 *   followed map asked for its tgid, out when absent; then (sys_enter_mmap)
 *   the --min-size filter, or (task_newtask) a new process added to the
 *   followed map; a record reserved in the ring (or the drop counters,
 *   the total and the thread's bucket, bumped when there is no room), its
 *   header, zeroed words, the thread's drop mark, the body read from the
 *   context at the offsets of this kernel's format, the time;
 *   submitted, waking the reader only once the ring is half full. Every
 *   program answers 1: the kernel then gives the perf events on its
 *   tracepoint their samples as if it were not there (a 0 from any
 *   program on a tracepoint drops them: another tool's, and our exec
 *   watch's). With stack_gate, the stacked entries' programs answer 1
 *   only after writing a record and 0 otherwise: the stack watch's
 *   per-CPU events then sample exactly the calls that were written.
 * Context loads are aligned to their size (the verifier wants it), and no
 * GPL-only helper is called.
 *
 * Any thread may call.
 */
#ifndef MMAPWATCH_PERF_BPF_PROG_H
#define MMAPWATCH_PERF_BPF_PROG_H

#include <linux/bpf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tracefs.h"

/* What each program writes: one record per hit. */
enum perf_bpf_rec_kind {
    PERF_BPF_ENTER = 1, /* nr, word[0..5] = arguments */
    PERF_BPF_EXIT,      /* nr, word[0] = result */
    PERF_BPF_NEWTASK,   /* nr = the new task's tid, word[0] = clone flags, word[1..2] =
                         * name, word[3] = the followed map's answer (0: followed) */
    PERF_BPF_TASK_EXIT, /* nr = group_dead (1: the process is over; -1: not known) */
    PERF_BPF_EXEC,      /* nr = the tid that called execve, word[1..2] = new name */
    PERF_BPF_RENAME,    /* nr = the renamed thread, word[1..2] = its new name */
};
/* Or'ed into an ENTER's kind by a gated program (stack_gate): the stack
 * watch took a sample of this call. */
#define PERF_BPF_REC_STACKED 0x100u
struct perf_bpf_rec {
    uint32_t kind;     /* enum perf_bpf_rec_kind, | PERF_BPF_REC_STACKED */
    int32_t nr;
    uint64_t time;     /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
    uint64_t pid_tgid; /* tgid << 32 | tid of the thread the tracepoint ran in */
    uint64_t word[6];
    uint64_t drop_mark; /* the drop count of the writer's bucket (PERF_BPF_DROP_BUCKETS) */
};

/* The drop counts (the drops map, an array): entry 0 counts every record
 * the ring had no room for; entry 1 + (tid % PERF_BPF_DROP_BUCKETS) those of
 * the threads of that bucket. A record carries its writer's bucket count:
 * a thread's entry and exit with the same mark had no record of that
 * thread dropped between them (a thread's own drop is seen by its next
 * record, on whatever CPU), so a loss elsewhere cannot have split them. */
#define PERF_BPF_DROP_BUCKETS 4096
#define PERF_BPF_DROP_ENTRIES (1 + PERF_BPF_DROP_BUCKETS)

/* A tracepoint, and what its program writes. */
struct perf_bpf_plan {
    const char *path; /* "GROUP/NAME" under tracefs events/ */
    enum perf_bpf_rec_kind kind;
    bool size_filter; /* sys_enter_mmap: --min-size */
    bool stacked;     /* an entry whose report can carry a stack (-k) */
};
#define PERF_BPF_PLANS_MAX 24
extern const struct perf_bpf_plan PERF_BPF_PLANS[];
extern const size_t PERF_BPF_NPLANS;

/* What the programs refer to. */
struct perf_bpf_refs {
    int followed_fd, ring_fd, drops_fd; /* the maps (drops: PERF_BPF_DROP_ENTRIES) */
    uint64_t ring_bytes;
    uint64_t min_size;                  /* 0: no filter */
    bool stack_gate;                    /* -k: the stacked entries' programs answer
                                         * 1 only for a record written, 0 otherwise
                                         * (perf_stack_watch.h) */
};

#define PERF_BPF_MAX_INSNS 160
struct perf_bpf_insns {
    struct bpf_insn insn[PERF_BPF_MAX_INSNS];
    unsigned n;
};

/* Assembles the program of plan over a tracepoint of format fmt into out.
 * 0, or -1 when fmt lacks a field the program reads (or has it with
 * another size). */
int perf_bpf_assemble(const struct perf_bpf_plan *plan, const struct tp_format *fmt,
                      const struct perf_bpf_refs *refs, struct perf_bpf_insns *out);

#endif
