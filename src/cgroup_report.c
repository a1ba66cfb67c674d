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
#include "cgroup_set.h"
#include "log.h"
#include "output.h"
#include "procfs.h"

/* Threshold events list this many of the largest reported regions. */
#define THRESHOLD_TOP 5

struct cgroup_report {
    const struct options *opts;
    struct cgroup_report_hooks hooks;
    struct cgroup_set *set;           /* one watch per target's cgroup */
    bool begun;                       /* a target's watch has started */
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
    if (!(r->set = cgroup_set_new(opts->cgroup_threshold, opts->cgroup_threshold_pct))) {
        free(r);
        *failed = true;
        return NULL;
    }
    return r;
}

void cgroup_report_free(struct cgroup_report *r)
{
    if (!r)
        return;
    cgroup_set_free(r->set);
    free(r);
}

int cgroup_report_prepare(struct cgroup_report *r, pid_t pid)
{
    if (!r)
        return 0;
    /* Only the first target's cgroup must be found: later ones (a restart
     * found by --wait) are said and traced all the same. */
    return cgroup_set_add(r->set, pid, !r->begun);
}

int cgroup_report_begin(struct cgroup_report *r, pid_t pid)
{
    (void)pid;
    if (!r)
        return 0;
    if (cgroup_set_start(r->set) < 0)
        return -1;
    r->begun = true;
    cgroup_report_records(r); /* usage may be above the threshold already */
    return 0;
}

void cgroup_report_exec(struct cgroup_report *r, pid_t pid, bool launched)
{
    if (!r || (!launched && !cgroup_set_has(r->set, pid)))
        return;
    cgroup_set_add(r->set, pid, false); /* a wrapper may have moved it */
    cgroup_report_begin(r, pid);
}

void cgroup_report_gone(struct cgroup_report *r, pid_t pid)
{
    if (r)
        cgroup_set_remove(r->set, pid);
}

int cgroup_report_fd(const struct cgroup_report *r)
{
    return r ? cgroup_set_fd(r->set) : -1;
}

void cgroup_report_check_oom(struct cgroup_report *r)
{
    if (!r || !r->begun)
        return;
    cgroup_set_check_oom(r->set);
    cgroup_report_records(r);
}

/* The event names the target its watch named when the record was queued. */
static void origin_of(const struct cgroup_record *rec, struct event_origin *o)
{
    event_origin_fill(o, rec->pid, rec->pid);
    o->ts = rec->ts;
    if (strcmp(o->comm, "?") == 0) /* gone (OOM-killed, say) */
        snprintf(o->comm, sizeof o->comm, "%s", rec->comm);
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
    const struct cgroup_watch *w;
    while (r && cgroup_set_take(r->set, &rec, &w)) {
        struct event_origin o;
        origin_of(&rec, &o);
        struct cgroup_event e = {
            .cgroup = cgroup_watch_path(w),
            .above = rec.kind == CGROUP_ABOVE,
            .usage = rec.usage,
            .limit = rec.limit,
            .threshold = cgroup_watch_threshold(w),
            .pct = cgroup_watch_pct(w),
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
