/*
 * perf_cpu_samples: per-CPU sample events on tracepoints, a ring per CPU.
 * See include/perf_cpu_samples.h.
 */
#include "perf_cpu_samples.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* One CPU: its ring (owned by the first event) and every event on it. */
struct cpu_events {
    int *fds; /* ntps; -1 where not opened */
    void *map;
    size_t map_len;
    struct perf_ring ring;
};

struct perf_cpu_samples {
    struct perf_cpu_samples_options opt;
    struct cpu_events *cpus;
    int *ring_fds; /* ncpus: each CPU's first event, owning its ring */
};

static int open_event(const struct perf_cpu_samples_options *o, uint32_t tp_id, int cpu,
                      size_t ring_bytes)
{
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.type = PERF_TYPE_TRACEPOINT;
    attr.size = sizeof attr;
    attr.config = tp_id;
    attr.sample_period = 1;
    attr.sample_type = o->sample_type;
    attr.sample_regs_user = o->regs_mask;
    attr.sample_stack_user = o->stack_bytes;
    attr.exclude_kernel = o->user_only;
    attr.exclude_hv = o->user_only;
    attr.use_clockid = 1;
    attr.clockid = CLOCK_MONOTONIC; /* the BPF programs' clock (bpf_ktime_get_ns) */
    attr.sample_id_all = 1;         /* a LOST record then has the trailer the decoder reads */
    if (o->count_lost)
        attr.read_format = PERF_FORMAT_LOST;
    if (o->wake_half_full) {
        attr.watermark = 1;
        attr.wakeup_watermark = (uint32_t)(ring_bytes / 2);
    }
    attr.disabled = o->start_disabled;
    return (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static int map_ring(struct cpu_events *c, int fd, size_t page, size_t ring_bytes)
{
    c->map_len = page + ring_bytes;
    c->map = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (c->map == MAP_FAILED) {
        c->map = NULL;
        return -1;
    }
    return perf_ring_init(&c->ring, c->map, page, ring_bytes);
}

struct perf_cpu_samples *perf_cpu_samples_open(const struct perf_cpu_samples_options *o,
                                               char *why, size_t why_size)
{
    struct perf_cpu_samples *s = calloc(1, sizeof *s);
    if (!s || !o->ncpus || !o->ntps) {
        free(s);
        snprintf(why, why_size, "out of memory");
        errno = ENOMEM;
        return NULL;
    }
    s->opt = *o;
    s->cpus = calloc(o->ncpus, sizeof *s->cpus);
    s->ring_fds = calloc(o->ncpus, sizeof *s->ring_fds);
    if (!s->cpus || !s->ring_fds) {
        snprintf(why, why_size, "out of memory");
        errno = ENOMEM;
        goto fail;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t ring_bytes = (size_t)o->ring_pages * page;
    for (unsigned c = 0; c < o->ncpus; c++) {
        struct cpu_events *ce = &s->cpus[c];
        s->ring_fds[c] = -1;
        if (!(ce->fds = malloc(o->ntps * sizeof *ce->fds))) {
            snprintf(why, why_size, "out of memory");
            errno = ENOMEM;
            goto fail;
        }
        for (unsigned t = 0; t < o->ntps; t++)
            ce->fds[t] = -1;
        for (unsigned t = 0; t < o->ntps; t++) {
            int fd = open_event(o, o->tp_ids[t], o->cpus[c], ring_bytes);
            if (fd < 0) {
                snprintf(why, why_size, "cannot sample %s on CPU %d: %s", o->what, o->cpus[c],
                         strerror(errno));
                goto fail;
            }
            ce->fds[t] = fd;
            if (t == 0) {
                s->ring_fds[c] = fd;
                if (map_ring(ce, fd, page, ring_bytes) < 0) {
                    snprintf(why, why_size, "cannot map a %zu KiB ring for %s: %s",
                             ring_bytes >> 10, o->what, strerror(errno));
                    goto fail;
                }
            } else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, s->ring_fds[c]) != 0) {
                snprintf(why, why_size, "cannot share the ring for %s of CPU %d: %s", o->what,
                         o->cpus[c], strerror(errno));
                goto fail;
            }
        }
    }
    return s;
fail:;
    int err = errno;
    perf_cpu_samples_close(s);
    errno = err;
    return NULL;
}

int perf_cpu_samples_enable(struct perf_cpu_samples *s, char *why, size_t why_size)
{
    for (unsigned c = 0; c < s->opt.ncpus; c++)
        for (unsigned t = 0; t < s->opt.ntps; t++)
            if (ioctl(s->cpus[c].fds[t], PERF_EVENT_IOC_ENABLE, 0) != 0) {
                snprintf(why, why_size, "cannot enable the samples of %s: %s", s->opt.what,
                         strerror(errno));
                return -1;
            }
    return 0;
}

const int *perf_cpu_samples_fds(const struct perf_cpu_samples *s, size_t *n)
{
    *n = s->opt.ncpus;
    return s->ring_fds;
}

struct drain_ctx {
    const struct perf_cpu_samples *s;
    perf_cpu_record_fn fn;
    void *ctx;
    uint64_t bad;
};

static int on_record(const void *rec, size_t size, void *ctx)
{
    struct drain_ctx *x = ctx;
    unsigned nregs = (x->s->opt.sample_type & PERF_SAMPLE_REGS_USER)
                         ? (unsigned)__builtin_popcountll(x->s->opt.regs_mask)
                         : 0;
    struct perf_rec r;
    if (perf_rec_decode(x->s->opt.sample_type, nregs, rec, size, &r) < 0) {
        x->bad++;
        return 0;
    }
    x->fn(&r, x->ctx);
    return 0;
}

uint64_t perf_cpu_samples_drain(struct perf_cpu_samples *s, perf_cpu_record_fn fn, void *ctx)
{
    struct drain_ctx x = {s, fn, ctx, 0};
    for (unsigned c = 0; c < s->opt.ncpus; c++)
        if (s->cpus[c].map && perf_ring_drain(&s->cpus[c].ring, on_record, &x) < 0)
            x.bad++;
    return x.bad;
}

uint64_t perf_cpu_samples_lost(const struct perf_cpu_samples *s)
{
    if (!s->opt.count_lost)
        return 0;
    uint64_t sum = 0;
    for (unsigned c = 0; c < s->opt.ncpus; c++)
        for (unsigned t = 0; t < s->opt.ntps; t++) {
            uint64_t v[2]; /* the count (0: no samples are counted), lost */
            if (s->cpus[c].fds[t] >= 0 &&
                read(s->cpus[c].fds[t], v, sizeof v) == (ssize_t)sizeof v)
                sum += v[1];
        }
    return sum;
}

void perf_cpu_samples_close(struct perf_cpu_samples *s)
{
    if (!s)
        return;
    for (unsigned c = 0; s->cpus && c < s->opt.ncpus; c++) {
        struct cpu_events *ce = &s->cpus[c];
        perf_ring_release(&ce->ring);
        if (ce->map)
            munmap(ce->map, ce->map_len);
        for (unsigned t = 0; ce->fds && t < s->opt.ntps; t++)
            if (ce->fds[t] >= 0)
                close(ce->fds[t]);
        free(ce->fds);
    }
    free(s->cpus);
    free(s->ring_fds);
    free(s);
}
