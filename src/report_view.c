/*
 * report_view: the second half of the report model (see
 * include/report_model.h): at the end of the input, the totals per call
 * site, thread and stack, the regions largest first, and the timeline,
 * from a time-ordered replay of the change log that report_model.c wrote.
 */
#include <stdlib.h>
#include <string.h>

#include "report_model_impl.h"

void report_series_free(struct report_series *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].mapped);
        free(s[i].resident);
    }
    free(s);
}

static int by_time(const void *a, const void *b)
{
    const struct change *x = a, *y = b;
    if (x->us != y->us)
        return x->us < y->us ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int by_ever(const void *a, const void *b)
{
    const struct report_group *x = a, *y = b;
    if (x->ever != y->ever)
        return x->ever > y->ever ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int by_size(const void *a, const void *b)
{
    const struct report_region *x = a, *y = b;
    if (x->ever != y->ever)
        return x->ever > y->ever ? -1 : 1;
    return x->born_us < y->born_us ? -1 : x->born_us > y->born_us;
}

static int by_marker_time(const void *a, const void *b)
{
    const struct report_marker *x = a, *y = b;
    return x->us < y->us ? -1 : x->us > y->us;
}

/* qsort with n of 0 or 1 has nothing to do, and base may then be NULL,
 * which qsort's declaration forbids. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

static int by_group_ever(const void *a, const void *b, void *groups)
{
    const struct report_group *g = groups;
    return by_ever(&g[*(const size_t *)a], &g[*(const size_t *)b]);
}

/* Groups sorted by bytes ever, and for each original index its rank. */
static struct report_group *sorted_groups(const struct report_group *g, size_t n, size_t **rank)
{
    struct report_group *out = malloc((n ? n : 1) * sizeof *out);
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    *rank = malloc((n ? n : 1) * sizeof **rank);
    if (!out || !order || !*rank) {
        free(out);
        free(order);
        free(*rank);
        *rank = NULL;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (n > 1)
        qsort_r(order, n, sizeof *order, by_group_ever, (void *)g);
    for (size_t j = 0; j < n; j++) {
        out[j] = g[order[j]];
        (*rank)[order[j]] = j;
    }
    free(order);
    return out;
}

static struct report_series *new_series(const struct report_group *sorted, size_t n, size_t top,
                                        size_t npoints, size_t *nseries)
{
    size_t k = n <= top ? n : top + 1;
    struct report_series *s = calloc(k ? k : 1, sizeof *s);
    if (!s)
        return NULL;
    for (size_t i = 0; i < k; i++) {
        s[i].name = i < top || n <= top ? sorted[i].name : "other";
        s[i].mapped = calloc(npoints, sizeof *s[i].mapped);
        s[i].resident = calloc(npoints, sizeof *s[i].resident);
        if (!s[i].mapped || !s[i].resident) {
            report_series_free(s, i + 1);
            return NULL;
        }
    }
    *nseries = k;
    return s;
}

static void apply(int64_t *now, uint64_t *peak, size_t i, int64_t delta)
{
    now[i] += delta;
    if (now[i] > 0 && (uint64_t)now[i] > peak[i])
        peak[i] = (uint64_t)now[i];
}

static int build_timeline(struct report_model *m, const size_t *site_rank,
                          const size_t *thread_rank, size_t npoints, size_t top)
{
    struct report_view *v = &m->view;
    size_t ns = m->sites.n, nt = m->threads.n, nk = m->stacks.n;
    v->npoints = npoints;
    v->times = calloc(npoints, sizeof *v->times);
    v->total_mapped = calloc(npoints, sizeof *v->total_mapped);
    v->total_resident = calloc(npoints, sizeof *v->total_resident);
    v->by_site = new_series(v->sites, ns, top, npoints, &v->nby_site);
    v->by_thread = new_series(v->threads, nt, top, npoints, &v->nby_thread);
    int64_t *now = calloc(ns + nt + nk + 1, sizeof *now);
    int64_t *res = calloc(ns + nt + 1, sizeof *res);
    uint64_t *peak = calloc(ns + nt + nk + 1, sizeof *peak);
    int rc = -1;
    if (!v->times || !v->total_mapped || !v->total_resident || !v->by_site || !v->by_thread ||
        !now || !res || !peak)
        goto out;
    sort(m->log, m->nlog, sizeof *m->log, by_time);
    int64_t t0 = m->nlog ? m->first_us : 0, t1 = m->nlog ? m->last_us : 0;
    size_t next = 0;
    for (size_t p = 0; p < npoints; p++) {
        v->times[p] = t0 + (int64_t)((double)(t1 - t0) * (double)p / (double)(npoints - 1));
        if (p == npoints - 1)
            v->times[p] = t1;
        for (; next < m->nlog && m->log[next].us <= v->times[p]; next++) {
            const struct change *c = &m->log[next];
            const struct region_rec *r = &m->regions[c->region];
            size_t site = site_rank[r->pub.site], thread = thread_rank[r->thread];
            apply(now, peak, site, c->mapped);
            apply(now, peak, ns + thread, c->mapped);
            apply(now, peak, ns + nt + r->pub.stack, c->mapped);
            apply(now, peak, ns + nt + nk, c->mapped);
            res[site] += c->resident;
            res[ns + thread] += c->resident;
            res[ns + nt] += c->resident;
        }
        for (size_t i = 0; i < ns; i++) {
            size_t band = i < v->nby_site ? i : v->nby_site - 1;
            v->by_site[band].mapped[p] += (uint64_t)now[i];
            v->by_site[band].resident[p] += (uint64_t)res[i];
        }
        for (size_t i = 0; i < nt; i++) {
            size_t band = i < v->nby_thread ? i : v->nby_thread - 1;
            v->by_thread[band].mapped[p] += (uint64_t)now[ns + i];
            v->by_thread[band].resident[p] += (uint64_t)res[ns + i];
        }
        v->total_mapped[p] = (uint64_t)now[ns + nt + nk];
        v->total_resident[p] = (uint64_t)res[ns + nt];
    }
    for (size_t i = 0; i < ns; i++)
        v->sites[i].peak = peak[i];
    for (size_t i = 0; i < nt; i++)
        v->threads[i].peak = peak[ns + i];
    for (size_t i = 0; i < nk; i++)
        m->stack_g[i].peak = peak[ns + nt + i];
    v->peak = peak[ns + nt + nk];
    rc = 0;
out:
    free(now);
    free(res);
    free(peak);
    return rc;
}

static int build_stacks(struct report_model *m)
{
    struct report_view *v = &m->view;
    m->stack_v = calloc(m->stacks.n ? m->stacks.n : 1, sizeof *m->stack_v);
    if (!m->stack_v)
        return -1;
    v->stacks = m->stack_v;
    v->nstacks = m->stacks.n;
    for (size_t i = 0; i < m->stacks.n; i++) {
        struct report_stack *s = &m->stack_v[i];
        char *copy = strdup(m->stacks.strs[i]);
        size_t depth = 1;
        for (const char *c = copy; c && *c; c++)
            depth += *c == ';';
        s->frames = copy ? malloc(depth * sizeof *s->frames) : NULL;
        if (!s->frames) {
            free(copy);
            return -1;
        }
        for (char *tok = copy, *semi; tok; tok = semi) {
            semi = strchr(tok, ';');
            if (semi)
                *semi++ = '\0';
            s->frames[s->depth++] = tok;
        }
        s->count = m->stack_g[i].count;
        s->ever = m->stack_g[i].ever;
        s->held = m->stack_g[i].held;
    }
    return 0;
}

const struct report_view *report_model_finish(struct report_model *m, size_t npoints, size_t top)
{
    if (m->finished || m->failed || npoints < 2 || top < 1)
        return m->finished && !m->failed ? &m->view : NULL;
    m->finished = true;
    struct report_view *v = &m->view;
    for (size_t i = 0; i < m->nregions; i++) {
        struct region_rec *r = &m->regions[i];
        if (!r->ended)
            r->pub.held = r->live; /* mapped at the end of the file */
        m->site_g[r->pub.site].ever += r->pub.ever;
        m->site_g[r->pub.site].held += r->pub.held;
        m->thread_g[r->thread].ever += r->pub.ever;
        m->thread_g[r->thread].held += r->pub.held;
        m->stack_g[r->pub.stack].ever += r->pub.ever;
        m->stack_g[r->pub.stack].held += r->pub.held;
        v->count++;
        v->ever += r->pub.ever;
        v->held += r->pub.held;
    }
    size_t *site_rank = NULL, *thread_rank = NULL;
    v->sites = sorted_groups(m->site_g, m->sites.n, &site_rank);
    v->threads = sorted_groups(m->thread_g, m->threads.n, &thread_rank);
    v->nsites = m->sites.n;
    v->nthreads = m->threads.n;
    v->regions = malloc((m->nregions ? m->nregions : 1) * sizeof *v->regions);
    v->notes = malloc((m->nnotes ? m->nnotes : 1) * sizeof *v->notes);
    if (!v->sites || !v->threads || !v->regions || !v->notes ||
        build_timeline(m, site_rank, thread_rank, npoints, top) < 0 || build_stacks(m) < 0) {
        free(site_rank);
        free(thread_rank);
        m->failed = true;
        return NULL;
    }
    for (size_t i = 0; i < m->nregions; i++) {
        v->regions[i] = m->regions[i].pub;
        v->regions[i].site = site_rank[v->regions[i].site];
    }
    v->nregions = m->nregions;
    sort(v->regions, v->nregions, sizeof *v->regions, by_size);
    free(site_rank);
    free(thread_rank);
    for (size_t i = 0; i < m->nnotes; i++)
        v->notes[i] = (struct report_note){m->texts.strs[m->notes[i].text], m->notes[i].count};
    v->nnotes = m->nnotes;
    sort(m->markers, m->nmarkers, sizeof *m->markers, by_marker_time);
    v->markers = m->markers;
    v->nmarkers = m->nmarkers;
    v->targets = m->targets;
    v->ntargets = m->ntargets;
    v->run_info = m->run_info;
    v->nrun_info = m->nrun_info;
    v->first_us = m->events ? m->first_us : 0;
    v->last_us = m->events ? m->last_us : 0;
    v->lines = m->lines;
    v->events = m->events;
    v->have_stacks = m->have_stacks;
    return v;
}
