/*
 * perf_cpu_samples: sample events on tracepoints, one per CPU and
 * tracepoint, for every process of the machine (source layer; used by
 * perf_bpf's exec watch and by perf_stack_watch).
 *
 * Why per CPU and not per thread: an event opened for every process of a
 * CPU (pid -1) is never switched in and out at context switches, which on
 * a busy server costs more than the samples (docs/performance.md). Each
 * user then keeps the samples it wants: the BPF programs' answers gate
 * the stack watch's in the kernel, the exec watch looks the process up.
 *
 * A CPU's events share one ring (PERF_EVENT_IOC_SET_OUTPUT), owned by its
 * first event. Records are decoded with the options' sample type and
 * handed over in ring order, CPU after CPU. Samples the kernel could not
 * write are either LOST records in the ring or, with count_lost, read from
 * the events' own counters (a sample too large for the ring leaves no
 * LOST record): perf_cpu_samples_lost(). Closing the descriptors
 * (perf_cpu_samples_close, or mmapwatch's death) removes everything.
 * One thread.
 */
#ifndef MMAPWATCH_PERF_CPU_SAMPLES_H
#define MMAPWATCH_PERF_CPU_SAMPLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perf_ring.h"

struct perf_cpu_samples_options {
    const char *what;        /* for messages: "call stacks", "execs" */
    const int *cpus;         /* the CPUs, each opened once */
    unsigned ncpus;
    const uint32_t *tp_ids;  /* the tracepoints (their tracefs ids) */
    unsigned ntps;
    uint64_t sample_type;    /* PERF_SAMPLE_* */
    uint64_t regs_mask;      /* sample_regs_user (with PERF_SAMPLE_REGS_USER) */
    uint32_t stack_bytes;    /* sample_stack_user (with PERF_SAMPLE_STACK_USER) */
    unsigned ring_pages;     /* data pages per CPU, a power of two */
    bool user_only;          /* exclude_kernel and exclude_hv */
    bool start_disabled;     /* sample nothing before perf_cpu_samples_enable() */
    bool count_lost;         /* read the events' lost counts (PERF_FORMAT_LOST, 6.0+) */
    bool wake_half_full;     /* the rings' descriptors poll readable at half full */
};

struct perf_cpu_samples;

/* Opens the events and maps the rings. NULL with errno and a one-line
 * reason in why. */
struct perf_cpu_samples *perf_cpu_samples_open(const struct perf_cpu_samples_options *o,
                                               char *why, size_t why_size);

/* Enables events opened with start_disabled. 0, or -1 with a reason. */
int perf_cpu_samples_enable(struct perf_cpu_samples *s, char *why, size_t why_size);

/* The rings' descriptors (one per CPU); *n is set to their number. Owned
 * by s. */
const int *perf_cpu_samples_fds(const struct perf_cpu_samples *s, size_t *n);

/* Calls fn for every record in the rings, decoded (samples, and LOST
 * records with sample_id_all's trailer); fn's return value is ignored.
 * Returns how many records did not decode (skipped). */
typedef void (*perf_cpu_record_fn)(const struct perf_rec *r, void *ctx);
uint64_t perf_cpu_samples_drain(struct perf_cpu_samples *s, perf_cpu_record_fn fn, void *ctx);

/* With count_lost: the samples the kernel could not write so far, summed
 * over the events (0 without it). */
uint64_t perf_cpu_samples_lost(const struct perf_cpu_samples *s);

/* Closes the events and unmaps the rings. Accepts NULL. */
void perf_cpu_samples_close(struct perf_cpu_samples *s);

#endif
