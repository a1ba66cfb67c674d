/*
 * cgroup_report: watch records -> threshold and oom events. See
 * include/cgroup_report.h.
 */
#include "cgroup_report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "log.h"
#include "output.h"
#include "procfs.h"

/* Threshold events list this many of the largest reported regions. */
#define THRESHOLD_TOP 5

struct cgroup_report {
    const struct options *opts;
    struct cgroup_report_hooks hooks;
    struct cgroup_watch *watch;
    pid_t pid;                        /* the target whose cgroup it is (events name it) */
    char comm[PROCFS_COMM_MAX];       /* its name, for events after it is gone */
};

struct cgroup_report *cgroup_report_new(const struct options *opts,
                                        const struct cgroup_report_hooks *hooks, bool *failed)
{
    *failed = false;
    if (!opts->has_cgroup_threshold)
        return NULL;
    struct cgroup_report *r = calloc(1, sizeof *r);
    if (!r) {
        log_error("out of memory");
        *failed = true;
        return NULL;
    }
    r->opts = opts;
    r->hooks = *hooks;
    return r;
}

void cgroup_report_free(struct cgroup_report *r)
{
    if (!r)
        return;
    cgroup_watch_free(r->watch);
    free(r);
}

int cgroup_report_prepare(struct cgroup_report *r, pid_t pid)
{
    if (!r || r->watch)
        return 0;
    r->watch = cgroup_watch_new(pid, r->opts->cgroup_threshold, r->opts->cgroup_threshold_pct);
    return r->watch ? 0 : -1;
}

int cgroup_report_begin(struct cgroup_report *r, pid_t pid)
{
    if (!r || !r->watch || r->pid)
        return 0;
    r->pid = pid;
    procfs_read_comm(pid, pid, r->comm);
    if (cgroup_watch_start(r->watch) < 0)
        return -1;
    cgroup_report_records(r); /* usage may be above the threshold already */
    return 0;
}

int cgroup_report_fd(const struct cgroup_report *r)
{
    return r && r->watch ? cgroup_watch_fd(r->watch) : -1;
}

void cgroup_report_check_oom(struct cgroup_report *r)
{
    if (!r || !r->watch || !r->pid)
        return;
    cgroup_watch_check_oom(r->watch);
    cgroup_report_records(r);
}

static void origin_of(struct cgroup_report *r, const struct cgroup_record *rec,
                      struct event_origin *o)
{
    event_origin_fill(o, r->pid, r->pid);
    o->ts = rec->ts;
    if (strcmp(o->comm, "?") == 0)
        memcpy(o->comm, r->comm, sizeof o->comm); /* gone (OOM-killed, say) */
    else
        memcpy(r->comm, o->comm, sizeof r->comm); /* launch mode: after exec */
}

/* A crossing upward: the event names the largest regions, and with
 * --dump-on-threshold every one still mapped is dumped now, largest
 * first, while the OOM killer has not acted yet. */
static void report_above(struct cgroup_report *r, const struct event_origin *o,
                         struct cgroup_event *e)
{
    size_t n = 0;
    struct dump_target *mapped = r->hooks.mapped(r->hooks.ctx, &n);
    struct threshold_region top[THRESHOLD_TOP];
    size_t ntop = n < THRESHOLD_TOP ? n : THRESHOLD_TOP;
    for (size_t i = 0; i < ntop; i++) {
        const struct dump_target *m = &mapped[i];
        top[i] = (struct threshold_region){.pid = m->pid, .tid = m->tid, .addr = m->addr,
                                           .len = m->len, .id = m->id};
        memcpy(top[i].comm, m->comm, sizeof top[i].comm);
    }
    e->regions = top;
    e->nregions = ntop;
    if (r->opts->dump_on_threshold && r->opts->dump) {
        struct dumper *dumper = r->hooks.dumper(r->hooks.ctx);
        e->dumps = (long)(dumper && n ? dumper_dump_now(dumper, mapped, n, "threshold") : 0);
    }
    output_threshold(o, e);
    free(mapped);
}

void cgroup_report_records(struct cgroup_report *r)
{
    struct cgroup_record rec;
    while (r && r->watch && cgroup_watch_take(r->watch, &rec)) {
        struct event_origin o;
        origin_of(r, &rec, &o);
        struct cgroup_event e = {
            .cgroup = cgroup_watch_path(r->watch),
            .above = rec.kind == CGROUP_ABOVE,
            .usage = rec.usage,
            .limit = rec.limit,
            .threshold = cgroup_watch_threshold(r->watch),
            .pct = cgroup_watch_pct(r->watch),
            .dumps = -1,
            .oom_kills = rec.oom_kills,
            .new_kills = rec.new_kills,
        };
        if (rec.kind == CGROUP_OOM)
            output_oom(&o, &e);
        else if (rec.kind == CGROUP_ABOVE)
            report_above(r, &o, &e);
        else
            output_threshold(&o, &e);
    }
}
