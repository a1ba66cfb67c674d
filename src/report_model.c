/*
 * report_model: events in; totals per call site, thread, stack and time
 * step out. See include/report_model.h for the rules.
 *
 * One pass over the events keeps each process's live regions in a
 * region_set (regions.c, the tracer's own model of an address space) and
 * appends every change of a region's mapped or resident bytes to a log.
 * report_model_finish() sorts the log by time and replays it once: that
 * gives the peaks and the timeline's samples, whatever the order in which
 * the dump worker's events were interleaved with the tracer's.
 */
#include "report_model_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "options.h"
#include "summary.h"
#include "unwind.h"

#define PAGE 4096u

/* ---- the model ------------------------------------------------------------- */

struct report_model *report_model_new(void)
{
    struct report_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    jsonread_init(&m->doc);
    m->first_us = INT64_MAX;
    m->last_us = INT64_MIN;
    return m;
}

void report_model_free(struct report_model *m)
{
    if (!m)
        return;
    jsonread_release(&m->doc);
    rindex_strings_free(&m->texts);
    rindex_strings_free(&m->sites);
    rindex_strings_free(&m->threads);
    rindex_strings_free(&m->stacks);
    rindex_strings_free(&m->files);
    rindex_strings_free(&m->raw_stacks);
    free(m->raw_class);
    free(m->key);
    free(m->site_g);
    free(m->thread_g);
    free(m->stack_g);
    free(m->file_region);
    free(m->regions);
    free(m->log);
    for (size_t i = 0; i < m->nspaces; i++)
        region_set_free(m->spaces[i].set);
    free(m->spaces);
    free(m->starts.slots);
    free(m->markers);
    free(m->targets);
    free(m->run_info);
    free(m->notes);
    free(m->view.sites);
    free(m->view.threads);
    free(m->view.regions);
    free(m->view.notes);
    free(m->view.times);
    free(m->view.total_mapped);
    free(m->view.total_resident);
    report_series_free(m->view.by_site, m->view.nby_site);
    report_series_free(m->view.by_thread, m->view.nby_thread);
    if (m->stack_v)
        for (size_t i = 0; i < m->view.nstacks; i++)
        {
            free(m->stack_v[i].frames ? (void *)m->stack_v[i].frames[0] : NULL);
            free(m->stack_v[i].frames);
        }
    free(m->stack_v);
    free(m);
}

/* ---- helpers ----------------------------------------------------------------- */

/* A string the view keeps, or NULL (and the model marked failed). */
static const char *keep(struct report_model *m, const char *s)
{
    if (!s)
        return NULL;
    long i = rindex_intern(&m->texts, s);
    if (i < 0) {
        m->failed = true;
        return NULL;
    }
    return m->texts.strs[i];
}

int report_model_note(struct report_model *m, const char *text, uint64_t count)
{
    long t = rindex_intern(&m->texts, text);
    if (t < 0)
        return -1;
    for (size_t i = 0; i < m->nnotes; i++) {
        if (m->notes[i].text == (size_t)t) {
            m->notes[i].count += count;
            return 0;
        }
    }
    if (rindex_grow(&m->notes, &m->notes_cap, m->nnotes, sizeof *m->notes) < 0)
        return -1;
    m->notes[m->nnotes++] = (struct note_rec){(size_t)t, count};
    return 0;
}

static void note(struct report_model *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(struct report_model *m, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (report_model_note(m, text, 1) < 0)
        m->failed = true;
}

static int add_text(struct report_model *m, const char ***arr, size_t *n, size_t *cap,
                    const char *text)
{
    const char *k = keep(m, text);
    if (!k || rindex_grow(arr, cap, *n, sizeof **arr) < 0)
        return -1;
    (*arr)[(*n)++] = k;
    return 0;
}

/* "2026-12-02T00:42:55.777259Z" -> microseconds since the epoch. */
static bool parse_ts(const char *s, int64_t *us)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return false;
#define NUM2(o) ((s[o] - '0') * 10 + (s[o + 1] - '0'))
    struct tm tm = {.tm_year = NUM2(0) * 100 + NUM2(2) - 1900, .tm_mon = NUM2(5) - 1,
                    .tm_mday = NUM2(8), .tm_hour = NUM2(11), .tm_min = NUM2(14),
                    .tm_sec = NUM2(17)};
#undef NUM2
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    const char *p = s + sizeof shape - 1;
    int64_t frac = 0;
    int digits = 0;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 6)
                frac = frac * 10 + (*p - '0');
        if (digits == 0)
            return false;
    }
    for (int d = digits; d < 6; d++)
        frac *= 10;
    if (p[0] != 'Z' || p[1] != '\0')
        return false;
    *us = (int64_t)timegm(&tm) * 1000000 + frac;
    return true;
}

/* "0x7f..." -> value. */
static bool parse_hex(const char *s, uint64_t *out)
{
    if (!s || s[0] != '0' || s[1] != 'x' || !s[2] || strlen(s) > 18)
        return false;
    uint64_t v = 0;
    for (const char *p = s + 2; *p; p++) {
        int d = (*p >= '0' && *p <= '9') ? *p - '0'
                : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
                : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10
                                           : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

static uint64_t page_end(uint64_t addr, uint64_t len)
{
    uint64_t end = addr + len;
    if (end < addr)
        return UINT64_MAX & ~(uint64_t)(PAGE - 1);
    if (end % PAGE)
        end += PAGE - end % PAGE;
    return end < addr ? UINT64_MAX & ~(uint64_t)(PAGE - 1) : end;
}

static struct space *space_of(struct report_model *m, pid_t pid)
{
    for (size_t i = 0; i < m->nspaces; i++)
        if (m->spaces[i].pid == pid)
            return &m->spaces[i];
    struct region_set *set = region_set_new();
    if (!set || rindex_grow(&m->spaces, &m->spaces_cap, m->nspaces, sizeof *m->spaces) < 0) {
        region_set_free(set);
        m->failed = true;
        return NULL;
    }
    m->spaces[m->nspaces] = (struct space){pid, set};
    return &m->spaces[m->nspaces++];
}

static void drop_space(struct report_model *m, struct space *sp)
{
    region_set_free(sp->set);
    *sp = m->spaces[--m->nspaces];
}

static void log_change(struct report_model *m, int64_t us, size_t region, int64_t mapped,
                       int64_t resident)
{
    if (rindex_grow(&m->log, &m->log_cap, m->nlog, sizeof *m->log) < 0) {
        m->failed = true;
        return;
    }
    m->log[m->nlog] = (struct change){us, m->nlog, region, mapped, resident};
    m->nlog++;
}

/* The region's mapped bytes change by delta (its resident bytes follow
 * when it shrinks below them). */
static void change_mapped(struct report_model *m, size_t idx, int64_t us, int64_t delta)
{
    struct region_rec *r = &m->regions[idx];
    r->live = (uint64_t)((int64_t)r->live + delta);
    int64_t dres = 0;
    if (r->resident_now > (int64_t)r->live) {
        dres = (int64_t)r->live - r->resident_now;
        r->resident_now = (int64_t)r->live;
    }
    log_change(m, us, idx, delta, dres);
}

static void end_region(struct report_model *m, size_t idx, int64_t us, const char *why,
                       bool held)
{
    struct region_rec *r = &m->regions[idx];
    r->ended = true;
    r->pub.ended_us = us;
    r->pub.end = why;
    r->pub.held = held ? r->live : 0;
}

/* ---- stacks ------------------------------------------------------------------ */

struct event_ctx {
    const struct jsonread_value *ev;
    const char *line;     /* the text ev was parsed from */
    const char *kind;
    int64_t us;
    pid_t pid, tid;
    const char *comm;
};

/* The stack of an event as a struct stack over the doc's strings (frames
 * malloc'd, strings not owned); depth 0 without one. */
static int event_stack(const struct jsonread_value *ev, struct stack *st)
{
    memset(st, 0, sizeof *st);
    const struct jsonread_value *arr = jsonread_get(ev, "stack");
    if (!arr || jsonread_type(arr) != JSONREAD_ARRAY)
        return 0;
    size_t n = 0;
    for (const struct jsonread_value *f = jsonread_first(arr); f; f = jsonread_next(f))
        n++;
    if (n == 0)
        return 0;
    st->frames = calloc(n, sizeof *st->frames);
    if (!st->frames)
        return -1;
    for (const struct jsonread_value *f = jsonread_first(arr); f; f = jsonread_next(f)) {
        struct stack_frame *sf = &st->frames[st->depth++];
        parse_hex(jsonread_str(jsonread_get(f, "ip")), &sf->ip);
        sf->symbol = (char *)jsonread_str(jsonread_get(f, "symbol"));
        sf->module = (char *)jsonread_str(jsonread_get(f, "module"));
    }
    return 0;
}

/* One frame's name as the call site column shows it. */
static char *frame_name(const struct stack_frame *f)
{
    if (!f->symbol && !f->module)
        return strdup("[unknown]");
    struct stack one = {.frames = (struct stack_frame *)f, .depth = 1};
    return summary_call_site(&one);
}

/* The group index of a name in one of the intern tables, its group
 * record created (zeroed) when new. */
static long group_of(struct report_model *m, struct rindex_strings *t, struct report_group **g,
                     size_t *cap, const char *name)
{
    size_t before = t->n;
    long i = rindex_intern(t, name);
    if (i < 0 || (t->n > before && rindex_grow(g, cap, before, sizeof **g) < 0)) {
        m->failed = true;
        return -1;
    }
    if (t->n > before)
        (*g)[i] = (struct report_group){.name = t->strs[i]};
    return i;
}

/* Site and stack group of an event: frames joined outermost first by ';'
 * (the collapsed-stack form), names cleaned of ';' and line breaks. */
static int classify_stack(struct report_model *m, const struct jsonread_value *ev, long *site,
                          long *stack)
{
    struct stack st;
    if (event_stack(ev, &st) < 0)
        return -1;
    /* -k with a stack that could not be captured is not the same as no -k */
    const char *none = jsonread_get(ev, "stack") ? REPORT_NO_CAPTURE : REPORT_NO_STACK;
    char *site_name = st.depth ? summary_call_site(&st) : strdup(none);
    char *joined = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&joined, &len);
    if (!site_name || !f) {
        if (f)
            fclose(f);
        free(joined);
        free(site_name);
        free(st.frames);
        return -1;
    }
    if (st.depth == 0)
        fputs(none, f);
    for (size_t i = st.depth; i-- > 0;) {
        char *name = frame_name(&st.frames[i]);
        for (char *c = name; c && *c; c++)
            if (*c == ';' || *c == '\n' || *c == '\r')
                *c = *c == ';' ? ':' : ' ';
        fprintf(f, "%s%s", i + 1 == st.depth ? "" : ";", name ? name : "?");
        free(name);
    }
    fclose(f);
    if (st.depth)
        m->have_stacks = true;
    *site = group_of(m, &m->sites, &m->site_g, &m->site_cap, site_name);
    *stack = group_of(m, &m->stacks, &m->stack_g, &m->stack_cap, joined);
    free(site_name);
    free(joined);
    free(st.frames);
    return *site < 0 || *stack < 0 ? -1 : 0;
}

/* The same, cached by the stack's JSON text: a busy process maps from a
 * few stacks many times, and naming 40 frames is the slow part. */
static int classify(struct report_model *m, const struct event_ctx *e, long *site, long *stack)
{
    const struct jsonread_value *arr = jsonread_get(e->ev, "stack");
    size_t from = 0, len = arr ? jsonread_span(arr, &from) : 0;
    if (rindex_grow(&m->key, &m->key_cap, len, 1) < 0)
        return -1;
    memcpy(m->key, e->line + from, len);
    m->key[len] = '\0';
    size_t before = m->raw_stacks.n;
    long k = rindex_intern(&m->raw_stacks, m->key);
    if (k < 0)
        return -1;
    if ((size_t)k < before) {
        *site = (long)m->raw_class[k].site;
        *stack = (long)m->raw_class[k].stack;
        return 0;
    }
    if (rindex_grow(&m->raw_class, &m->raw_class_cap, before, sizeof *m->raw_class) < 0 ||
        classify_stack(m, e->ev, site, stack) < 0)
        return -1;
    m->raw_class[k].site = (size_t)*site;
    m->raw_class[k].stack = (size_t)*stack;
    return 0;
}

/* ---- regions ----------------------------------------------------------------- */


struct pieces {
    struct piece {
        size_t region;
        uint64_t bytes;
    } *v;
    size_t n, cap;
    uint64_t start, end;
    bool failed;
};

static int collect_piece(const struct region *r, void *ctx)
{
    struct pieces *p = ctx;
    uint64_t lo = r->start > p->start ? r->start : p->start;
    uint64_t hi = r->end < p->end ? r->end : p->end;
    if (rindex_grow(&p->v, &p->cap, p->n, sizeof *p->v) < 0) {
        p->failed = true;
        return 1;
    }
    p->v[p->n++] = (struct piece){(size_t)r->id, hi - lo};
    return 0;
}

/* Takes [start, end) out of the regions of sp; a region left with nothing
 * ends (why). Returns the bytes taken from region `of` (or all when of is
 * SIZE_MAX). */
static uint64_t remove_range(struct report_model *m, struct space *sp, uint64_t start,
                             uint64_t end, int64_t us, const char *why, size_t of)
{
    struct pieces p = {.start = start, .end = end};
    region_set_foreach_in(sp->set, start, end, collect_piece, &p);
    uint64_t taken = 0;
    if (p.failed || region_set_remove(sp->set, start, end, NULL) < 0) {
        m->failed = true;
        free(p.v);
        return 0;
    }
    for (size_t i = 0; i < p.n; i++) {
        size_t idx = p.v[i].region;
        change_mapped(m, idx, us, -(int64_t)p.v[i].bytes);
        if (of == SIZE_MAX || of == idx)
            taken += p.v[i].bytes;
        if (m->regions[idx].live == 0)
            end_region(m, idx, us, why, false);
    }
    free(p.v);
    return taken;
}

/* A new region [addr, end) born of this event. */
static int new_region(struct report_model *m, const struct event_ctx *e, struct space *sp,
                      uint64_t addr, uint64_t len)
{
    uint64_t end = page_end(addr, len);
    long site, stack;
    if (classify(m, e, &site, &stack) < 0)
        return -1;
    long thread = group_of(m, &m->threads, &m->thread_g, &m->thread_cap, e->comm);
    if (thread < 0 || rindex_grow(&m->regions, &m->regions_cap, m->nregions, sizeof *m->regions) < 0)
        return -1;
    size_t idx = m->nregions;
    struct region r = {.start = addr, .end = end, .tid = e->tid, .id = idx, .fd = -1};
    remove_range(m, sp, addr, end, e->us, "munmap", SIZE_MAX); /* MAP_FIXED over it */
    if (region_set_insert(sp->set, &r) < 0 || rindex_pairs_put(&m->starts, (uint64_t)e->pid, addr, idx) < 0)
        return -1;
    m->nregions++;
    m->regions[idx] = (struct region_rec){
        .pub = {.pid = e->pid, .tid = e->tid, .comm = keep(m, e->comm), .site = (size_t)site,
                .stack = (size_t)stack, .addr = addr, .len = end - addr, .ever = end - addr,
                .born_us = e->us, .ended_us = -1, .resident = -1},
        .thread = (size_t)thread};
    change_mapped(m, idx, e->us, (int64_t)(end - addr));
    m->site_g[site].count++;
    m->thread_g[thread].count++;
    m->stack_g[stack].count++;
    bool truncated = false;
    if (jsonread_bool(jsonread_get(e->ev, "stack_truncated"), &truncated) && truncated)
        note(m, "stacks cut short (--stack-depth reached or too long for one line)");
    return 0;
}

static int on_mremap(struct report_model *m, const struct event_ctx *e, struct space *sp,
                     uint64_t old_addr, uint64_t old_len, uint64_t addr, uint64_t len)
{
    const struct region *found = region_set_find(sp->set, old_addr);
    if (!found) {
        note(m, "mremap events of regions not in the file (born before it, or below "
                "--min-size): counted as new regions");
        return new_region(m, e, sp, addr, len);
    }
    size_t idx = (size_t)found->id;
    struct region_rec *r = &m->regions[idx];
    int64_t resident = r->resident_now; /* a move keeps the pages */
    uint64_t old_end = page_end(old_addr, old_len ? old_len : PAGE);
    uint64_t end = page_end(addr, len);
    uint64_t taken = remove_range(m, sp, old_addr, old_end, e->us, "mremap", idx);
    remove_range(m, sp, addr, end, e->us, "munmap", SIZE_MAX);
    r = &m->regions[idx];
    struct region piece = {.start = addr, .end = end, .tid = r->pub.tid, .id = idx, .fd = -1};
    if (region_set_insert(sp->set, &piece) < 0 ||
        rindex_pairs_put(&m->starts, (uint64_t)e->pid, addr, idx) < 0)
        return -1;
    r->ended = false;
    r->pub.ended_us = -1;
    r->pub.end = NULL;
    r->pub.addr = addr;
    r->pub.len = end - addr;
    if (end - addr > taken)
        r->pub.ever += end - addr - taken;
    change_mapped(m, idx, e->us, (int64_t)(end - addr));
    if (resident > r->resident_now) {
        int64_t now = resident < (int64_t)r->live ? resident : (int64_t)r->live;
        log_change(m, e->us, idx, 0, now - r->resident_now);
        r->resident_now = now;
    }
    return 0;
}

static int end_each(const struct region *r, void *ctx)
{
    struct pieces *p = ctx;
    return collect_piece(r, p);
}

/* exec, exit, detach: every region of the pid stops being watched. */
static void end_space(struct report_model *m, const struct event_ctx *e, const char *why,
                      bool released, bool held)
{
    struct space *sp = NULL;
    for (size_t i = 0; i < m->nspaces; i++)
        if (m->spaces[i].pid == e->pid)
            sp = &m->spaces[i];
    if (!sp)
        return;
    struct pieces p = {.start = 0, .end = UINT64_MAX};
    region_set_foreach(sp->set, end_each, &p);
    if (p.failed)
        m->failed = true;
    for (size_t i = 0; i < p.n; i++) {
        size_t idx = p.v[i].region;
        if (m->regions[idx].ended)
            continue;
        end_region(m, idx, e->us, why, held);
        if (released)
            change_mapped(m, idx, e->us, -(int64_t)m->regions[idx].live);
    }
    free(p.v);
    drop_space(m, sp);
}

/* ---- dumps ------------------------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void set_resident(struct report_model *m, size_t idx, int64_t us, uint64_t resident,
                         bool timeline)
{
    struct region_rec *r = &m->regions[idx];
    r->pub.resident = resident > INT64_MAX ? INT64_MAX : (int64_t)resident;
    if (!timeline || r->ended)
        return;
    int64_t now = r->pub.resident < (int64_t)r->live ? r->pub.resident : (int64_t)r->live;
    log_change(m, us, idx, 0, now - r->resident_now);
    r->resident_now = now;
}

/* A region's most frequent strings, from the "strings" array of an event. */
static void take_strings(struct report_model *m, struct region_rec *r,
                         const struct jsonread_value *ev)
{
    const struct jsonread_value *strings = jsonread_get(ev, "strings");
    if (!strings || jsonread_type(strings) != JSONREAD_ARRAY)
        return;
    r->pub.nstrings = 0;
    for (const struct jsonread_value *s = jsonread_first(strings);
         s && r->pub.nstrings < REPORT_MAX_STRINGS; s = jsonread_next(s)) {
        const char *text = jsonread_str(jsonread_get(s, "text"));
        uint64_t count = 0;
        if (!text || !jsonread_u64(jsonread_get(s, "count"), &count))
            continue;
        r->pub.strings[r->pub.nstrings++] = (struct report_string){keep(m, text), count};
    }
}

static int on_dump(struct report_model *m, const struct event_ctx *e, uint64_t addr)
{
    long idx = rindex_pairs_get(&m->starts, (uint64_t)e->pid, addr);
    if (idx < 0) {
        note(m, "dumps of regions not in the file");
        return 0;
    }
    struct region_rec *r = &m->regions[idx];
    uint64_t resident;
    if (jsonread_u64(jsonread_get(e->ev, "resident"), &resident) ||
        jsonread_u64(jsonread_get(e->ev, "resident_bytes"), &resident))
        set_resident(m, (size_t)idx, e->us, resident, true);
    r = &m->regions[idx];
    r->pub.dumps++;
    const char *path = jsonread_str(jsonread_get(e->ev, "path"));
    if (path) {
        r->pub.dump_path = keep(m, path);
        size_t before = m->files.n;
        long f = rindex_intern(&m->files, base_name(path));
        if (f < 0 || (m->files.n > before &&
                      rindex_grow(&m->file_region, &m->file_cap, before, sizeof *m->file_region) < 0))
            return -1;
        m->file_region[f] = (size_t)idx;
    }
    take_strings(m, r, e->ev); /* schema 2 put them here */
    return 0;
}

/* --strings after a dump (schema 3): the region's top strings. */
static int on_strings(struct report_model *m, const struct event_ctx *e, uint64_t addr)
{
    long idx = rindex_pairs_get(&m->starts, (uint64_t)e->pid, addr);
    if (idx < 0) {
        note(m, "strings of regions not in the file");
        return 0;
    }
    take_strings(m, &m->regions[idx], e->ev);
    return 0;
}

int report_model_add_dump_meta(struct report_model *m, const char *text, size_t len, char *err,
                               size_t err_size)
{
    const char *why;
    size_t at;
    const struct jsonread_value *v = jsonread_parse(&m->doc, text, len, &why, &at);
    if (!v) {
        snprintf(err, err_size, "not JSON: %s at byte %zu", why, at);
        return -1;
    }
    const char *file = jsonread_str(jsonread_get(v, "file"));
    uint64_t addr, resident, pid;
    if (!file || !parse_hex(jsonread_str(jsonread_get(v, "addr")), &addr) ||
        !jsonread_u64(jsonread_get(v, "pid"), &pid)) {
        snprintf(err, err_size, "not a dump's metadata (no \"file\", \"addr\" or \"pid\")");
        return -1;
    }
    size_t before = m->files.n;
    long f = rindex_intern(&m->files, file);
    if (f < 0) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (m->files.n > before && rindex_grow(&m->file_region, &m->file_cap, before,
                                    sizeof *m->file_region) == 0)
        m->file_region[f] = SIZE_MAX; /* a name no dump event gave */
    long idx = m->file_region[f] != SIZE_MAX ? (long)m->file_region[f]
                                             : rindex_pairs_get(&m->starts, pid, addr);
    if (idx < 0) {
        note(m, "dump metadata files of regions not in the events file");
        return 0;
    }
    struct region_rec *r = &m->regions[idx];
    r->pub.dump_file = keep(m, file);
    if (r->pub.resident < 0 && jsonread_u64(jsonread_get(v, "resident_bytes"), &resident))
        set_resident(m, (size_t)idx, 0, resident, false);
    return 0;
}

/* ---- events ------------------------------------------------------------------ */

static void add_marker(struct report_model *m, const struct event_ctx *e, const char *text)
{
    const char *k = keep(m, e->kind), *t = keep(m, text);
    if (!k || !t || rindex_grow(&m->markers, &m->markers_cap, m->nmarkers, sizeof *m->markers) < 0) {
        m->failed = true;
        return;
    }
    m->markers[m->nmarkers++] = (struct report_marker){e->us, k, t};
}

static const char *size_text(const struct jsonread_value *v, char *buf, unsigned size)
{
    uint64_t n;
    if (!jsonread_u64(v, &n))
        return "?";
    return format_size(n, buf, size);
}

static void on_cgroup(struct report_model *m, const struct event_ctx *e)
{
    char text[600], a[32], b[32], c[32];
    const char *cg = jsonread_str(jsonread_get(e->ev, "cgroup"));
    const struct jsonread_value *limit = jsonread_get(e->ev, "limit");
    const char *lim = limit && jsonread_type(limit) == JSONREAD_NULL ? "no"
                                                                      : size_text(limit, b, sizeof b);
    if (strcmp(e->kind, "oom") == 0) {
        uint64_t kills = 0;
        jsonread_u64(jsonread_get(e->ev, "new_kills"), &kills);
        snprintf(text, sizeof text, "OOM kill (%" PRIu64 " new) in %.300s: %s used, %s limit",
                 kills, cg ? cg : "?", size_text(jsonread_get(e->ev, "usage"), a, sizeof a), lim);
    } else {
        const char *state = jsonread_str(jsonread_get(e->ev, "state"));
        snprintf(text, sizeof text, "%s threshold %s in %.300s: %s used, %s limit",
                 state ? state : "?", size_text(jsonread_get(e->ev, "threshold"), c, sizeof c),
                 cg ? cg : "?", size_text(jsonread_get(e->ev, "usage"), a, sizeof a), lim);
    }
    add_marker(m, e, text);
}

/* A line whose fields we need and do not find is not an mmapwatch event. */
#define NEED(cond, what)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            snprintf(err, err_size, "%s event without a valid \"%s\"", e.kind, what);      \
            return -1;                                                                     \
        }                                                                                  \
    } while (0)

/* A header line (a "start" or "header" event, or a first line with a
 * schema version): its plain fields become the report's run information. */
static void on_header(struct report_model *m, const struct jsonread_value *ev)
{
    for (const struct jsonread_value *f = jsonread_first(ev); f; f = jsonread_next(f)) {
        char text[600];
        const char *key = jsonread_key(f);
        uint64_t u;
        if (strcmp(key, "event") == 0 || strcmp(key, "ts") == 0)
            continue;
        if (jsonread_str(f))
            snprintf(text, sizeof text, "%.80s: %.500s", key, jsonread_str(f));
        else if (jsonread_u64(f, &u))
            snprintf(text, sizeof text, "%.80s: %" PRIu64, key, u);
        else
            continue;
        if (add_text(m, &m->run_info, &m->nrun_info, &m->run_info_cap, text) < 0)
            m->failed = true;
    }
}

int report_model_add_line(struct report_model *m, const char *line, size_t len, char *err,
                          size_t err_size)
{
    const char *why;
    size_t at;
    m->lines++;
    const struct jsonread_value *ev = jsonread_parse(&m->doc, line, len, &why, &at);
    if (!ev) {
        snprintf(err, err_size, "not JSON: %s at byte %zu", why, at + 1);
        return -1;
    }
    struct event_ctx e = {.ev = ev, .line = line, .kind = jsonread_str(jsonread_get(ev, "event"))};
    int64_t pid = 0, tid = 0;
    const char *ts = jsonread_str(jsonread_get(ev, "ts"));
    if (!e.kind) {
        snprintf(err, err_size, "not an mmapwatch event: no \"event\" field");
        return -1;
    }
    if (strcmp(e.kind, "start") == 0 || strcmp(e.kind, "header") == 0) {
        on_header(m, ev);
        return 0;
    }
    NEED(ts && parse_ts(ts, &e.us), "ts");
    if (strcmp(e.kind, "summary") == 0)
        return 0; /* -c's totals: the report computes its own */
    NEED(jsonread_i64(jsonread_get(ev, "pid"), &pid) && pid >= 0 && pid <= INT32_MAX, "pid");
    if (!jsonread_i64(jsonread_get(ev, "tid"), &tid))
        tid = pid;
    e.pid = (pid_t)pid;
    e.tid = (pid_t)tid;
    e.comm = jsonread_str(jsonread_get(ev, "comm"));
    if (!e.comm)
        e.comm = "?";
    m->events++;
    if (m->lines == 1 && (jsonread_get(ev, "version") || jsonread_get(ev, "schema")))
        on_header(m, ev);
    if (e.us < m->first_us)
        m->first_us = e.us;
    if (e.us > m->last_us)
        m->last_us = e.us;

    char text[700];
    uint64_t addr = 0, len64 = 0, old_addr = 0, old_len = 0;
    bool is = false;
    int rc = 0;
    if ((is = strcmp(e.kind, "mmap") == 0) || strcmp(e.kind, "munmap") == 0 ||
        strcmp(e.kind, "mprotect") == 0) {
        NEED(parse_hex(jsonread_str(jsonread_get(ev, "addr")), &addr), "addr");
        NEED(jsonread_u64(jsonread_get(ev, "len"), &len64), "len");
        if (jsonread_get(ev, "error")) {
            note(m, "failed calls (with \"error\"), not counted");
            return 0;
        }
        if (strcmp(e.kind, "mprotect") == 0)
            return 0;
        struct space *sp = space_of(m, e.pid);
        if (!sp)
            goto nomem;
        if (is)
            rc = new_region(m, &e, sp, addr, len64);
        else if (!region_set_overlaps(sp->set, addr, page_end(addr, len64)))
            note(m, "munmap events of regions not in the file");
        else
            remove_range(m, sp, addr, page_end(addr, len64), e.us, "munmap", SIZE_MAX);
    } else if (strcmp(e.kind, "mremap") == 0) {
        NEED(parse_hex(jsonread_str(jsonread_get(ev, "old_addr")), &old_addr), "old_addr");
        NEED(jsonread_u64(jsonread_get(ev, "old_len"), &old_len), "old_len");
        NEED(parse_hex(jsonread_str(jsonread_get(ev, "addr")), &addr), "addr");
        NEED(jsonread_u64(jsonread_get(ev, "len"), &len64), "len");
        if (jsonread_get(ev, "error")) {
            note(m, "failed calls (with \"error\"), not counted");
            return 0;
        }
        struct space *sp = space_of(m, e.pid);
        if (!sp)
            goto nomem;
        rc = on_mremap(m, &e, sp, old_addr, old_len, addr, len64);
    } else if (strcmp(e.kind, "dump") == 0) {
        NEED(parse_hex(jsonread_str(jsonread_get(ev, "addr")), &addr), "addr");
        rc = on_dump(m, &e, addr);
    } else if (strcmp(e.kind, "strings") == 0) {
        NEED(parse_hex(jsonread_str(jsonread_get(ev, "addr")), &addr), "addr");
        rc = on_strings(m, &e, addr);
    } else if (strcmp(e.kind, "exec") == 0) {
        end_space(m, &e, "exec", true, false);
        snprintf(text, sizeof text, "exec: pid %d is now %.200s", e.pid, e.comm);
        add_marker(m, &e, text);
        rc = add_text(m, &m->targets, &m->ntargets, &m->targets_cap, text);
    } else if (strcmp(e.kind, "exit") == 0) {
        end_space(m, &e, "exit", true, true);
        int64_t status = 0;
        const char *sig = jsonread_str(jsonread_get(ev, "signal"));
        jsonread_i64(jsonread_get(ev, "status"), &status);
        if (sig)
            snprintf(text, sizeof text, "pid %d (%.200s) killed by %.40s", e.pid, e.comm, sig);
        else
            snprintf(text, sizeof text, "pid %d (%.200s) exited with status %" PRId64, e.pid,
                     e.comm, status);
        add_marker(m, &e, text);
    } else if (strcmp(e.kind, "detach") == 0) {
        end_space(m, &e, "detach", false, true);
        snprintf(text, sizeof text, "detached from pid %d (%.200s)", e.pid, e.comm);
        add_marker(m, &e, text);
    } else if (strcmp(e.kind, "attach") == 0) {
        uint64_t threads = 0;
        jsonread_u64(jsonread_get(ev, "threads"), &threads);
        snprintf(text, sizeof text, "attached to pid %d (%.200s), %" PRIu64 " threads", e.pid,
                 e.comm, threads);
        add_marker(m, &e, text);
        rc = add_text(m, &m->targets, &m->ntargets, &m->targets_cap, text);
    } else if (strcmp(e.kind, "target") == 0) {
        const char *cmdline = jsonread_str(jsonread_get(ev, "cmdline"));
        snprintf(text, sizeof text, "pid %d matched by --%.20s: %.500s", e.pid,
                 jsonread_str(jsonread_get(ev, "matched")) ? jsonread_str(jsonread_get(ev, "matched")) : "?",
                 cmdline ? cmdline : "?");
        rc = add_text(m, &m->targets, &m->ntargets, &m->targets_cap, text);
    } else if (strcmp(e.kind, "threshold") == 0 || strcmp(e.kind, "oom") == 0) {
        on_cgroup(m, &e);
    } else if (strcmp(e.kind, "skip") == 0) {
        const char *reason = jsonread_str(jsonread_get(ev, "reason"));
        note(m, "dumps skipped: %.300s", reason ? reason : "?");
    } else if (strcmp(e.kind, "error") == 0) {
        const char *what = jsonread_str(jsonread_get(ev, "error"));
        note(m, "dumps failed: %.300s", what ? what : "?");
    } else if (strcmp(e.kind, "lost") == 0) {
        note(m, "\"lost\" events: the kernel dropped events (see their windows in the file)");
    } else {
        note(m, "events of a kind this report does not show: %.60s", e.kind);
    }
    if (rc < 0)
        goto nomem;
    return m->failed ? (snprintf(err, err_size, "out of memory"), -1) : 0;
nomem:
    snprintf(err, err_size, "out of memory");
    return -1;
}
#undef NEED

