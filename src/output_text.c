/*
 * output_text: the text renderer of output.c's events, strace-like lines.
 * See include/output_internal.h.
 */
#include "output_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "escape.h"
#include "log.h"
#include "summary.h"
#include "stack.h"
#include "units.h"
#include "xlat.h"

static char *text_buf; /* the line being built, reused */
static size_t text_cap;

void output_text_release(void)
{
    free(text_buf);
    text_buf = NULL;
    text_cap = 0;
}

/* ---- text renderer --------------------------------------------------------- */

/* The line being built: text_buf[0..text_len). Growth failure drops the
 * event with a warning rather than printing part of it. */
static size_t text_len;
static bool text_oom;

static bool text_reserve(size_t more)
{
    if (text_oom)
        return false;
    if (text_len + more + 1 <= text_cap)
        return true;
    size_t cap = text_cap ? text_cap : 1024;
    while (cap < text_len + more + 1)
        cap *= 2;
    char *grown = realloc(text_buf, cap);
    if (!grown) {
        text_oom = true;
        return false;
    }
    text_buf = grown;
    text_cap = cap;
    return true;
}

__attribute__((format(printf, 1, 2))) static void tprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !text_reserve((size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(text_buf + text_len, text_cap - text_len, fmt, ap);
    va_end(ap);
    text_len += (size_t)n;
}

/* Bytes the traced program controls, at most max of them, escaped. */
static void tuntrusted_n(const char *s, size_t max)
{
    size_t len = strnlen(s, max);
    size_t need = escape_text_size(s, len);
    if (!text_reserve(need))
        return;
    text_len += escape_text(s, len, text_buf + text_len, text_cap - text_len);
}

static void tuntrusted(const char *s) { tuntrusted_n(s, SIZE_MAX); }

/* The untrusted s escaped and left-aligned in width columns (bytes). */
static void tuntrusted_pad(const char *s, size_t width)
{
    size_t start = text_len;
    tuntrusted(s);
    if (!text_oom && text_len - start < width)
        tprintf("%*s", (int)(width - (text_len - start)), "");
}

static void text_start(void)
{
    text_len = 0;
    text_oom = false;
    if (text_reserve(0))
        text_buf[0] = '\0';
}

static void text_emit(void)
{
    if (text_oom) {
        log_warn("out of memory: an event was dropped");
    } else {
        text_buf[text_len] = '\0';
        output_emit(text_buf);
    }
    text_start();
}

static void text_prefix(const struct event_origin *o, bool with_tid)
{
    struct tm tm;
    time_t secs = o->ts.tv_sec;
    char when[32];
    localtime_r(&secs, &tm);
    if (output_time_format() == OPTIONS_TIME_EPOCH_US)
        snprintf(when, sizeof when, "%lld.%06ld", (long long)secs, o->ts.tv_nsec / 1000);
    else if (output_time_format() == OPTIONS_TIME_CLOCK_S)
        snprintf(when, sizeof when, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        snprintf(when, sizeof when, "%02d:%02d:%02d.%06ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 o->ts.tv_nsec / 1000);
    tprintf("%s ", when);
    if (with_tid)
        tprintf("[%d/%d ", (int)o->pid, (int)o->tid);
    else
        tprintf("[%d ", (int)o->pid);
    tuntrusted_n(o->comm, PROCFS_COMM_MAX);
    tprintf("] ");
}

static void text_error(char *buf, size_t size, int err)
{
    const char *name = xlat_errno_name(err);
    if (name)
        snprintf(buf, size, "-1 %s (%s)", name, strerror(err));
    else
        snprintf(buf, size, "-1 errno %d", err);
}

static void text_address(char *buf, size_t size, uint64_t addr)
{
    if (addr == 0)
        snprintf(buf, size, "NULL");
    else
        snprintf(buf, size, "0x%" PRIx64, addr);
}

/* The stack under its event line, one indented frame a line, in the same
 * emit so no other event can come between. */
static void text_stack(const struct stack *stack)
{
    if (!stack)
        return;
    for (unsigned i = 0; i < stack->depth; i++) {
        const struct stack_frame *f = &stack->frames[i];
        tprintf("\n    #%-2u 0x%016" PRIx64 " ", i, f->ip);
        tuntrusted(f->symbol ? f->symbol : "?");
        tprintf(" (");
        tuntrusted(stack_frame_where(f));
        tprintf(")");
    }
    if (stack->depth > 0 && stack->truncated)
        tprintf("\n    ... (--stack-depth reached)");
}

static void text_map_call(const struct out_event *e)
{
    const struct map_call *c = e->u.map.call;
    char a[32], b[32], res[96], prot[128], flags[256], size[32];

    if (c->failed)
        text_error(res, sizeof res, c->error);
    text_address(a, sizeof a, c->addr);
    switch (c->kind) {
    case MAP_CALL_MMAP:
        if (!c->failed)
            snprintf(res, sizeof res, "0x%" PRIx64 " (%s)", c->result,
                     format_size(c->len, size, sizeof size));
        tprintf("mmap(%s, %" PRIu64 ", %s, %s, %" PRId64, a, c->len,
                xlat_prot(c->prot, prot, sizeof prot),
                xlat_map_flags(c->flags, flags, sizeof flags), c->fd);
        if (e->u.map.path) { /* strace -y's form: 3</usr/lib/libc.so.6> */
            tprintf("<");
            tuntrusted(e->u.map.path);
            tprintf(">");
        }
        tprintf(", %#" PRIx64 ") = %s", c->offset, res);
        break;
    case MAP_CALL_MUNMAP:
        tprintf("munmap(%s, %" PRIu64 ") = %s", a, c->len, c->failed ? res : "0");
        break;
    case MAP_CALL_MREMAP:
        if (!c->failed)
            snprintf(res, sizeof res, "0x%" PRIx64 " (%s)", c->result,
                     format_size(c->new_len, size, sizeof size));
        xlat_mremap_flags(c->flags, flags, sizeof flags);
        tprintf("mremap(%s, %" PRIu64 ", %" PRIu64 ", %s", a, c->len, c->new_len, flags);
        if (c->flags & 2 /* MREMAP_FIXED: the fifth argument matters */) {
            text_address(b, sizeof b, c->new_addr_arg);
            tprintf(", %s", b);
        }
        tprintf(") = %s", res);
        break;
    case MAP_CALL_MPROTECT:
        tprintf("mprotect(%s, %" PRIu64 ", %s) = %s", a, c->len,
                xlat_prot(c->prot, prot, sizeof prot), c->failed ? res : "0");
        break;
    case MAP_CALL_BRK:
        tprintf("brk(%s) = 0x%" PRIx64, a, c->result);
        break;
    case MAP_CALL_NONE:
        break;
    }
    text_stack(e->u.map.stack);
}

static void text_growth(const struct out_event *e)
{
    const struct growth_view *g = e->u.growth.g;
    char a[32], b[32], c[32], d[32];
    tprintf("growth: %s 0x%" PRIx64 " grew by %s since tracing began (%s): %s committed of %s "
            "reserved; new 0x%" PRIx64 "-0x%" PRIx64 " (%s)",
            g->kind, g->start, format_size(g->gained, a, sizeof a), g->call,
            format_size(g->committed, b, sizeof b), format_size(g->reserved, c, sizeof c),
            g->new_addr, g->new_addr + g->new_len, format_size(g->new_len, d, sizeof d));
    text_stack(e->u.growth.stack);
}

static void text_dump(const struct out_event *e)
{
    char a[32], b[32];
    tprintf("dump 0x%" PRIx64 " %" PRIu64 " -> ", e->u.dump.addr, e->u.dump.len);
    tuntrusted(e->u.dump.path);
    tprintf(" (%s read of %s resident, %s)", format_size(e->u.dump.bytes, a, sizeof a),
            format_size(e->u.dump.resident, b, sizeof b), e->u.dump.reason);
    text_emit();
}

/* The .strings of a dump, then its most frequent runs, one per line. */
static void text_strings(const struct out_event *e)
{
    tprintf("strings 0x%" PRIx64 " %" PRIu64 " -> ", e->u.dump.addr, e->u.dump.len);
    tuntrusted(e->u.dump.path);
    if (!e->u.dump.ntop)
        tprintf(" (no run counted)");
    text_emit();
    for (size_t i = 0; i < e->u.dump.ntop; i++) {
        tprintf("    %8" PRIu64 "  ", e->u.dump.top[i].count);
        tuntrusted_n(e->u.dump.top[i].text, 900);
        text_emit();
    }
}

/* "16M" for a power of two: what the user types after --min-size. */
static const char *min_size_word(uint64_t bytes, char *buf, size_t size)
{
    static const char units[] = "kMGT";
    unsigned u = 0;
    uint64_t v = bytes;
    while (u < 4 && v >= 1024 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%" PRIu64, v);
    else
        snprintf(buf, size, "%" PRIu64 "%c", v, units[u - 1]);
    return buf;
}


static void text_summary(const struct summary_view *v)
{
    char a[32], b[32], c[32];
    uint64_t grown = v->malloc_growth + v->other_growth, mmaps = v->count - v->growths;
    tprintf("summary: %" PRIu64 " reported mmap%s, %s, %s still mapped, %" PRIu64 " dump%s",
            mmaps, mmaps == 1 ? "" : "s", format_size(v->bytes - grown, a, sizeof a),
            format_size(v->mapped, b, sizeof b), v->dumps, v->dumps == 1 ? "" : "s");
    if (v->lossy)
        tprintf(", %" PRIu64 " event%s lost", v->lost, v->lost == 1 ? "" : "s");
    text_emit();
    if (v->growths) {
        tprintf("  growth in place: %" PRIu64 " step%s, malloc heaps grew by %s, other "
                "reservations by %s; direct mmaps gained %s",
                v->growths, v->growths == 1 ? "" : "s",
                format_size(v->malloc_growth, a, sizeof a),
                format_size(v->other_growth, b, sizeof b),
                format_size(v->gained > grown ? v->gained - grown : 0, c, sizeof c));
        text_emit();
    }
    if (v->nrows == 0)
        return;
    /* Sorted by memory gained, then resident now: what grows the process,
     * not what reserves address space. */
    tprintf("  %7s %11s %11s %11s %11s %6s  %-15s  %s", "count", "gained", "resident", "bytes",
            "mapped", "dumps", "thread", v->have_stacks ? "call site" : "call site (use -k)");
    text_emit();
    for (size_t i = 0; i < v->nrows; i++) {
        const struct summary_row *r = &v->rows[i];
        char g[32], res[32];
        tprintf("  %7" PRIu64 " %11s %11s %11s %11s %6" PRIu64 "  ", r->count,
                format_size(r->gained, g, sizeof g), format_size(r->resident, res, sizeof res),
                format_size(r->bytes, a, sizeof a), format_size(r->mapped, b, sizeof b),
                r->dumps);
        tuntrusted_pad(r->comm, 15);
        tprintf("  ");
        tuntrusted_n(r->site ? r->site : "-", 700);
        text_emit();
    }
    tprintf("  sizes seen most often:");
    text_emit();
    for (size_t i = 0; i < v->nsizes; i++) {
        tprintf("  %7" PRIu64 " x %" PRIu64 " bytes (%s)", v->sizes[i].count, v->sizes[i].size,
                format_size(v->sizes[i].size, a, sizeof a));
        text_emit();
    }
    tprintf("  histogram of sizes:");
    text_emit();
    uint64_t most = 0;
    for (size_t i = 0; i < v->nbuckets; i++)
        most = v->buckets[i].count > most ? v->buckets[i].count : most;
    for (size_t i = 0; i < v->nbuckets; i++) {
        const struct summary_bucket *k = &v->buckets[i];
        char bar[41];
        size_t width = most ? (size_t)((k->count * 40 + most - 1) / most) : 0;
        memset(bar, '#', width);
        bar[width] = '\0';
        tprintf("  %10s .. < %-10s %7" PRIu64 "  %s", format_size(k->low, a, sizeof a),
                format_size(output_bucket_end(k->low), b, sizeof b), k->count, bar);
        text_emit();
    }
    if (v->suggested_min_size) {
        tprintf("  most bytes came in mmaps of %" PRIu64 " bytes (%s): --min-size %s reports "
                "those and larger ones only",
                v->suggested_for_size, format_size(v->suggested_for_size, a, sizeof a),
                min_size_word(v->suggested_min_size, c, sizeof c));
        text_emit();
    }
}

/* "16.0 MiB used of 64.0 MiB limit" / "16.0 MiB used (no limit)" */
static void text_usage(uint64_t usage, uint64_t limit)
{
    char u[32], l[32];
    if (limit == UINT64_MAX)
        tprintf("%s used (no limit)", format_size(usage, u, sizeof u));
    else
        tprintf("%s used of %s limit", format_size(usage, u, sizeof u),
                format_size(limit, l, sizeof l));
}

static void text_threshold(const struct cgroup_event *c)
{
    char thr[32], pct[32] = "";
    format_size(c->threshold, thr, sizeof thr);
    if (c->pct)
        snprintf(pct, sizeof pct, " (%u%% of the limit)", c->pct);
    tprintf("memory cgroup ");
    tuntrusted(c->cgroup);
    if (!c->above) {
        tprintf(" back below threshold %s%s: ", thr, pct);
        text_usage(c->usage, c->limit);
        tprintf("; re-armed");
        text_emit();
        return;
    }
    tprintf(" above threshold %s%s: ", thr, pct);
    text_usage(c->usage, c->limit);
    if (c->dumps >= 0)
        tprintf("; dumping %ld region%s", c->dumps, c->dumps == 1 ? "" : "s");
    tprintf("%s", c->nregions ? "; largest reported regions:" : "; no reported region is mapped");
    text_emit();
    for (size_t i = 0; i < c->nregions; i++) {
        const struct threshold_region *r = &c->regions[i];
        char size[32];
        tprintf("    0x%" PRIx64 " %" PRIu64 " (%s) [%d/%d ", r->addr, r->len,
                format_size(r->len, size, sizeof size), (int)r->pid, (int)r->tid);
        tuntrusted_n(r->comm, PROCFS_COMM_MAX);
        tprintf("]");
        text_emit();
    }
}

void output_render_text(const struct out_event *e)
{
    text_start();
    switch (e->kind) {
    case OUT_MAP_CALL:
        if (e->u.map.call->kind == MAP_CALL_NONE)
            return;
        text_prefix(e->o, true);
        text_map_call(e);
        break;
    case OUT_GROWTH:
        text_prefix(e->o, true);
        text_growth(e);
        break;
    case OUT_ATTACH:
        text_prefix(e->o, false);
        tprintf("attached, %u thread%s", e->u.threads, e->u.threads == 1 ? "" : "s");
        break;
    case OUT_EXEC:
        text_prefix(e->o, false);
        tprintf("exec, %lu region%s ended", e->u.regions_ended,
                e->u.regions_ended == 1 ? "" : "s");
        break;
    case OUT_EXIT:
        text_prefix(e->o, false);
        if (e->u.exit.signal)
            tprintf("killed by %s%s", e->u.exit.signal, e->u.exit.core ? " (core dumped)" : "");
        else
            tprintf("exited with status %d", e->u.exit.code);
        break;
    case OUT_DETACH:
        text_prefix(e->o, false);
        tprintf("detached");
        break;
    case OUT_LOST:
        text_prefix(e->o, false);
        if (e->u.lost.count)
            tprintf("lost %" PRIu64 " events", e->u.lost.count);
        else /* a ring's late record of a loss its counters told already */
            tprintf("lost events (counted above)");
        tprintf(" over %" PRIu64 " ms: %zu calls unpaired, %zu regions uncertain",
                e->u.lost.window_ns / 1000000, e->u.lost.calls_voided, e->u.lost.regions_uncertain);
        break;
    case OUT_TARGET:
        text_prefix(e->o, false);
        tprintf("target (%s", e->u.target.matched);
        if (e->u.target.cgroup) {
            tprintf(" in ");
            tuntrusted(e->u.target.cgroup);
        }
        tprintf("): ");
        tuntrusted(e->u.target.cmdline);
        break;
    case OUT_DUMP:
        text_prefix(e->o, true);
        text_dump(e);
        return;
    case OUT_STRINGS:
        text_prefix(e->o, true);
        text_strings(e);
        return;
    case OUT_SKIP:
        text_prefix(e->o, true);
        tprintf("dump 0x%" PRIx64 " %" PRIu64 " skipped: %s", e->u.dump.addr, e->u.dump.len,
                e->u.dump.reason);
        break;
    case OUT_DUMP_ERROR:
        text_prefix(e->o, true);
        tprintf("dump 0x%" PRIx64 " %" PRIu64 " failed: %s (", e->u.dump.addr, e->u.dump.len,
                e->u.dump.reason);
        tuntrusted(e->u.dump.path);
        tprintf(")");
        break;
    case OUT_SUMMARY:
        text_summary(e->u.summary);
        return;
    case OUT_THRESHOLD:
        text_prefix(e->o, false);
        text_threshold(e->u.cgroup);
        return;
    case OUT_SCHEMA:
        return;
    case OUT_EXISTING: {
        char prot[128], size[32];
        const struct existing_view *x = e->u.existing;
        text_prefix(e->o, false);
        tprintf("existing 0x%" PRIx64 " %" PRIu64 " (%s) %s %s, mapped before the attach",
                x->addr, x->len, format_size(x->len, size, sizeof size),
                xlat_prot(x->prot, prot, sizeof prot), x->shared ? "shared" : "private");
        break;
    }
    case OUT_MARK: {
        const struct mark_event *k = e->u.mark;
        char mark[32];
        bool attach = strcmp(k->action, "attach") == 0;
        text_prefix(e->o, false);
        tprintf("memory cgroup ");
        tuntrusted(k->cgroup);
        tprintf(" ");
        text_usage(k->usage, k->limit);
        if (attach)
            tprintf(", at or above the attach mark %s: attaching",
                    format_size(k->attach_mark, mark, sizeof mark));
        else if (strcmp(k->reason, "below") == 0)
            tprintf(", below the detach mark %s: detaching, watching on",
                    format_size(k->detach_mark, mark, sizeof mark));
        else
            tprintf(", --duration over: detaching, watching on (attach again at the next "
                    "crossing of %s)", format_size(k->attach_mark, mark, sizeof mark));
        break;
    }
    case OUT_OOM:
        text_prefix(e->o, false);
        tprintf("memory cgroup ");
        tuntrusted(e->u.cgroup->cgroup);
        tprintf(": OOM kill%s (%" PRIu64 " new, %" PRIu64 " in all); ",
                e->u.cgroup->new_kills == 1 ? "" : "s", e->u.cgroup->new_kills,
                e->u.cgroup->oom_kills);
        text_usage(e->u.cgroup->usage, e->u.cgroup->limit);
        break;
    }
    text_emit();
}
