/*
 * perf_stack_watch: per-CPU stack samples of the calls the BPF reader's
 * programs let through. See include/perf_stack_watch.h.
 */
#include "perf_stack_watch.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "perf_ring.h"

#define SAMPLE_TYPE \
    (PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)

/* One CPU: its ring (owned by the first event) and every event on it. */
struct cpu_watch {
    int *fds; /* ntps; -1 where not opened */
    void *map;
    size_t map_len;
    struct perf_ring ring;
};

struct perf_stack_watch {
    struct perf_stack_watch_options opt;
    struct cpu_watch *cpus;
    int *ring_fds; /* ncpus: each CPU's first event, owning its ring */
    struct perf_stack_watch_stats stats;
};

static int open_sample_event(const struct perf_stack_watch *w, uint32_t tp_id, int cpu,
                             size_t ring_bytes)
{
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.type = PERF_TYPE_TRACEPOINT;
    attr.size = sizeof attr;
    attr.config = tp_id;
    attr.sample_period = 1;
    attr.sample_type = SAMPLE_TYPE;
    attr.sample_regs_user = PERF_STACK_REGS_MASK;
    attr.sample_stack_user = w->opt.stack_bytes;
    /* The syscall tracepoints fire with the caller's user registers. */
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    attr.use_clockid = 1;
    attr.clockid = CLOCK_MONOTONIC; /* bpf_ktime_get_ns's clock */
    attr.sample_id_all = 1;         /* a LOST record carries the trailer the decoder reads */
    /* A sample the ring can never hold leaves no LOST record (one is
     * written only before the next record that fits): the events' own
     * counts of lost samples are the ones read. */
    attr.read_format = PERF_FORMAT_LOST;
    attr.watermark = 1;
    attr.wakeup_watermark = (uint32_t)(ring_bytes / 2);
    /* Until the gating programs are attached, every call there would be
     * sampled, any process's: enabled only then (perf_stack_watch_enable). */
    attr.disabled = 1;
    return (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static int map_ring(struct cpu_watch *c, int fd, size_t page, size_t ring_bytes)
{
    c->map_len = page + ring_bytes;
    c->map = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (c->map == MAP_FAILED) {
        c->map = NULL;
        return -1;
    }
    return perf_ring_init(&c->ring, c->map, page, ring_bytes);
}

struct perf_stack_watch *perf_stack_watch_open(const struct perf_stack_watch_options *o,
                                               char *why, size_t why_size)
{
    struct perf_stack_watch *w = calloc(1, sizeof *w);
    if (!w || !o->ncpus || !o->ntps) {
        free(w);
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    w->opt = *o;
    w->cpus = calloc(o->ncpus, sizeof *w->cpus);
    w->ring_fds = calloc(o->ncpus, sizeof *w->ring_fds);
    if (!w->cpus || !w->ring_fds) {
        snprintf(why, why_size, "out of memory");
        goto fail;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t ring_bytes = (size_t)o->ring_pages * page;
    for (unsigned c = 0; c < o->ncpus; c++) {
        struct cpu_watch *cw = &w->cpus[c];
        w->ring_fds[c] = -1;
        if (!(cw->fds = malloc(o->ntps * sizeof *cw->fds))) {
            snprintf(why, why_size, "out of memory");
            goto fail;
        }
        for (unsigned t = 0; t < o->ntps; t++)
            cw->fds[t] = -1;
        for (unsigned t = 0; t < o->ntps; t++) {
            int fd = open_sample_event(w, o->tp_ids[t], o->cpus[c], ring_bytes);
            if (fd < 0) {
                snprintf(why, why_size, "cannot sample call stacks on CPU %d: %s", o->cpus[c],
                         strerror(errno));
                goto fail;
            }
            cw->fds[t] = fd;
            w->stats.fds++;
            if (t == 0) {
                w->ring_fds[c] = fd;
                if (map_ring(cw, fd, page, ring_bytes) < 0) {
                    snprintf(why, why_size, "cannot map a %zu KiB ring for call stacks: %s",
                             ring_bytes >> 10, strerror(errno));
                    goto fail;
                }
            } else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, w->ring_fds[c]) != 0) {
                snprintf(why, why_size, "cannot share the stack ring of CPU %d: %s",
                         o->cpus[c], strerror(errno));
                goto fail;
            }
        }
    }
    return w;
fail:
    perf_stack_watch_close(w);
    return NULL;
}

int perf_stack_watch_enable(struct perf_stack_watch *w, char *why, size_t why_size)
{
    for (unsigned c = 0; c < w->opt.ncpus; c++)
        for (unsigned t = 0; t < w->opt.ntps; t++)
            if (ioctl(w->cpus[c].fds[t], PERF_EVENT_IOC_ENABLE, 0) != 0) {
                snprintf(why, why_size, "cannot enable the call stack samples: %s",
                         strerror(errno));
                return -1;
            }
    return 0;
}

const int *perf_stack_watch_fds(const struct perf_stack_watch *w, size_t *n)
{
    *n = w->opt.ncpus;
    return w->ring_fds;
}

struct read_ctx {
    struct perf_stack_watch *w;
    perf_stack_push_fn push;
    void *ctx;
};

static int on_record(const void *rec, size_t size, void *ctx)
{
    struct read_ctx *x = ctx;
    struct perf_rec r;
    if (perf_rec_decode(SAMPLE_TYPE, (unsigned)__builtin_popcountll(PERF_STACK_REGS_MASK), rec,
                        size, &r) < 0) {
        x->w->stats.bad_records++;
        return 0;
    }
    if (r.kind == PERF_REC_LOST || r.kind == PERF_REC_LOST_SAMPLES)
        return 0; /* counted by the events (read_lost) */
    if (r.kind != PERF_REC_SAMPLE)
        return 0;
    x->w->stats.samples++;
    struct perf_item it = {.kind = PERF_ITEM_STACK, .time = r.time, .cpu = r.cpu,
                           .pid = (pid_t)r.pid, .tid = (pid_t)r.tid,
                           .stack = perf_rec_stack(&r)};
    if (!it.stack)
        return 0; /* no memory: the entry is reported stackless, and counted so */
    x->push(&it, x->ctx);
    return 0;
}

/* The samples the kernel could not write, counted by every event. */
static uint64_t read_lost(const struct perf_stack_watch *w)
{
    uint64_t sum = 0;
    for (unsigned c = 0; c < w->opt.ncpus; c++)
        for (unsigned t = 0; t < w->opt.ntps; t++) {
            uint64_t v[2]; /* the count (0: no samples are counted), lost */
            if (w->cpus[c].fds[t] >= 0 &&
                read(w->cpus[c].fds[t], v, sizeof v) == (ssize_t)sizeof v)
                sum += v[1];
        }
    return sum;
}

void perf_stack_watch_read(struct perf_stack_watch *w, perf_stack_push_fn push, void *ctx)
{
    struct read_ctx x = {w, push, ctx};
    for (unsigned c = 0; c < w->opt.ncpus; c++)
        if (w->cpus[c].map && perf_ring_drain(&w->cpus[c].ring, on_record, &x) < 0)
            w->stats.bad_records++;
    uint64_t lost = read_lost(w);
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
    for (unsigned c = 0; w->cpus && c < w->opt.ncpus; c++) {
        struct cpu_watch *cw = &w->cpus[c];
        perf_ring_release(&cw->ring);
        if (cw->map)
            munmap(cw->map, cw->map_len);
        for (unsigned t = 0; cw->fds && t < w->opt.ntps; t++)
            if (cw->fds[t] >= 0)
                close(cw->fds[t]);
        free(cw->fds);
    }
    free(w->cpus);
    free(w->ring_fds);
    free(w);
}
