/*
 * perf_stack_watch: call stacks for the BPF reader (source layer, used by
 * perf_bpf only).
 *
 * Why: the BPF programs cannot copy a user stack (every helper that reads
 * user memory is for GPL-licensed programs only), and perf events in the
 * target's own context (per thread, or per CPU for its cgroup) are
 * switched in and out at each of its context switches: on a busy server
 * that costs more than the records themselves (docs/performance.md).
 *
 * How: one perf event per CPU on each tracepoint whose calls carry a
 * stack (the entries of mmap, mremap, mprotect, pkey_mprotect, brk),
 * opened for every process of the CPU (pid -1): CPU events are not
 * switched at context switches. Each one samples the user registers and a
 * copy of the top of the user stack (PERF_SAMPLE_REGS_USER,
 * PERF_SAMPLE_STACK_USER). The kernel takes a tracepoint's perf samples
 * only when every BPF program on that tracepoint answers non-zero, so the
 * BPF reader's entry programs answer 1 exactly for the calls they wrote a
 * record of (a followed process's, long enough) and 0 for all others:
 * these events sample nothing else. The price, said in the man page: while
 * mmapwatch -k runs this way, other tools' perf samples of those five
 * tracepoints are dropped for the calls mmapwatch does not follow (BPF
 * programs and ftrace are not affected), and another BPF program there
 * that answers 0 takes our samples away (perf_pair counts the entries
 * left without one).
 *
 * The events are perf_cpu_samples' (a ring per CPU); samples come
 * out as PERF_ITEM_STACK items (the thread, the sample's time, the
 * registers and stack), which perf_pair joins to the thread's waiting
 * entry. Times are CLOCK_MONOTONIC, the programs' clock. A sample the
 * ring had no room for is counted (stats.lost), never guessed.
 *
 * Closing the descriptors (perf_stack_watch_close, or mmapwatch's death)
 * removes everything. One thread (the loop's).
 */
#ifndef MMAPWATCH_PERF_STACK_WATCH_H
#define MMAPWATCH_PERF_STACK_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "perf_pair.h"

struct perf_stack_watch_options {
    const int *cpus;         /* the online CPUs */
    unsigned ncpus;
    const uint32_t *tp_ids;  /* the tracepoints sampled (their tracefs ids) */
    unsigned ntps;
    uint32_t stack_bytes;    /* copied per sample, a multiple of 8 */
    unsigned ring_pages;     /* data pages per CPU, a power of two */
};

struct perf_stack_watch_stats {
    uint64_t samples;     /* stack samples read */
    uint64_t lost;        /* samples the rings had no room for */
    uint64_t bad_records; /* records that did not decode */
};

struct perf_stack_watch;

/* Opens the events, disabled, and maps the rings. NULL with a one-line
 * reason in why. */
struct perf_stack_watch *perf_stack_watch_open(const struct perf_stack_watch_options *o,
                                               char *why, size_t why_size);

/* Enables the events: only once the gating programs are attached, since
 * until then they would sample every call of every process (and closed
 * before the programs are, for the same reason). 0, or -1 with a reason. */
int perf_stack_watch_enable(struct perf_stack_watch *w, char *why, size_t why_size);

/* The rings' descriptors (one per CPU), readable once a ring is half
 * full; *n is set to their number. Owned by the watch. */
const int *perf_stack_watch_fds(const struct perf_stack_watch *w, size_t *n);

/* Hands every sample in the rings to push as a PERF_ITEM_STACK (its stack
 * then push's to keep or free). */
typedef void (*perf_stack_push_fn)(const struct perf_item *item, void *ctx);
void perf_stack_watch_read(struct perf_stack_watch *w, perf_stack_push_fn push, void *ctx);

const struct perf_stack_watch_stats *perf_stack_watch_stats(const struct perf_stack_watch *w);

/* Closes the events and unmaps the rings. Accepts NULL. */
void perf_stack_watch_close(struct perf_stack_watch *w);

#endif
