/*
 * perf_stack_watch: per-CPU stack samples of the calls the BPF reader's
 * programs let through. See include/perf_stack_watch.h.
 */
#include "perf_stack_watch.h"

#include <stdio.h>
#include <stdlib.h>

#include "perf_cpu_samples.h"

#define SAMPLE_TYPE \
    (PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)

struct perf_stack_watch {
    struct perf_cpu_samples *events;
    struct perf_stack_watch_stats stats;
};

struct perf_stack_watch *perf_stack_watch_open(const struct perf_stack_watch_options *o,
                                               char *why, size_t why_size)
{
    struct perf_stack_watch *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    struct perf_cpu_samples_options so = {
        .what = "call stacks", .cpus = o->cpus, .ncpus = o->ncpus, .tp_ids = o->tp_ids,
        .ntps = o->ntps, .sample_type = SAMPLE_TYPE, .regs_mask = PERF_STACK_REGS_MASK,
        .stack_bytes = o->stack_bytes, .ring_pages = o->ring_pages,
        /* The syscall tracepoints fire with the caller's user registers. */
        .user_only = true,
        /* Until the gating programs are attached, every call there would
         * be sampled, any process's: enabled only then. */
        .start_disabled = true,
        /* A sample the ring can never hold leaves no LOST record (one is
         * written only before the next record that fits): the events'
         * own counts of lost samples are the ones read. */
        .count_lost = true,
        .wake_half_full = true};
    if (!(w->events = perf_cpu_samples_open(&so, why, why_size))) {
        free(w);
        return NULL;
    }
    return w;
}

int perf_stack_watch_enable(struct perf_stack_watch *w, char *why, size_t why_size)
{
    return perf_cpu_samples_enable(w->events, why, why_size);
}

const int *perf_stack_watch_fds(const struct perf_stack_watch *w, size_t *n)
{
    return perf_cpu_samples_fds(w->events, n);
}

struct read_ctx {
    struct perf_stack_watch *w;
    perf_stack_push_fn push;
    void *ctx;
};

static void on_record(const struct perf_rec *r, void *ctx)
{
    struct read_ctx *x = ctx;
    /* LOST records are not counted here: the events' counts are read. */
    if (r->kind != PERF_REC_SAMPLE)
        return;
    x->w->stats.samples++;
    struct perf_item it = {.kind = PERF_ITEM_STACK, .time = r->time, .cpu = r->cpu,
                           .pid = (pid_t)r->pid, .tid = (pid_t)r->tid,
                           .stack = perf_rec_stack(r)};
    if (!it.stack)
        return; /* no memory: the entry is reported stackless, and counted so */
    x->push(&it, x->ctx);
}

void perf_stack_watch_read(struct perf_stack_watch *w, perf_stack_push_fn push, void *ctx)
{
    struct read_ctx x = {w, push, ctx};
    w->stats.bad_records += perf_cpu_samples_drain(w->events, on_record, &x);
    uint64_t lost = perf_cpu_samples_lost(w->events);
    if (lost > w->stats.lost)
        w->stats.lost = lost;
}

const struct perf_stack_watch_stats *perf_stack_watch_stats(const struct perf_stack_watch *w)
{
    return &w->stats;
}

void perf_stack_watch_close(struct perf_stack_watch *w)
{
    if (!w)
        return;
    perf_cpu_samples_close(w->events);
    free(w);
}
