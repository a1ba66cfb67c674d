/*
 * output: events as strace-like text lines or JSON Lines. See
 * include/output.h.
 *
 * Each output_*() call fills one struct out_event (what happened, described
 * once) and hands it to the renderer of the chosen format: render_text()
 * or render_json(). Everything the traced program controls goes through
 * one escaping path per format (escape.h for text, json_add_untrusted for
 * JSON), so a new event cannot forget it.
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "escape.h"
#include "json.h"
#include "log.h"
#include "options.h"
#include "summary.h"
#include "stack.h"
#include "xlat.h"

static FILE *out;
static bool out_json;
static bool out_failed;
static int out_errno;  /* why, once out_failed */
static bool out_owned; /* a file we opened (closed at the end) */
static enum options_time_format out_time_format; /* text only: -t, -tt, -ttt */

void output_set_time_format(enum options_time_format format) { out_time_format = format; }

/* ---- the events ------------------------------------------------------------ */

enum out_kind {
    OUT_MAP_CALL, OUT_GROWTH, OUT_ATTACH, OUT_EXEC, OUT_EXIT, OUT_DETACH, OUT_LOST, OUT_TARGET,
    OUT_DUMP, OUT_SKIP, OUT_DUMP_ERROR, OUT_SUMMARY, OUT_THRESHOLD, OUT_OOM,
    OUT_SCHEMA, /* JSON only: the first line, saying which schema the rest follows */
};

/* One event, as both renderers see it. Pointers are borrowed from the
 * caller for the duration of the output_*() call. */
struct out_event {
    enum out_kind kind;
    const char *name; /* the JSON "event" */
    const struct event_origin *o;
    union {
        struct {
            const struct map_call *call;
            const struct stack *stack; /* NULL without -k */
            const char *stack_json;
            const char *path;          /* file-backed mmap: its file; NULL: none or unknown */
            bool file_backed;
        } map;
        unsigned threads;
        struct {
            const struct growth_view *g;
            const struct stack *stack; /* NULL without -k */
            const char *stack_json;
        } growth;
        unsigned long regions_ended;
        struct {
            uint64_t count, window_ns;
            size_t calls_voided, regions_uncertain;
        } lost;
        struct {
            int code;            /* exit status, or 128 + signal */
            const char *signal;  /* NULL: exited */
            bool core;
        } exit;
        struct {
            const char *cmdline, *matched;
        } target;
        struct {                 /* dump, skip, dump error */
            uint64_t addr, len;
            const char *path;    /* NULL for skip */
            uint64_t bytes, resident;
            const char *reason;  /* dump: why made; skip: why not; error: what failed */
            const struct top_string *top;
            size_t ntop;
        } dump;
        const struct summary_view *summary;
        const struct cgroup_event *cgroup;
    } u;
};

static void render_text(const struct out_event *e);
static void render_json(const struct out_event *e);

static bool schema_said;

static void output_event(const struct out_event *e)
{
    if (!out || out_failed)
        return;
    if (!out_json) {
        render_text(e);
        return;
    }
    /* Before the first event (a run that reports nothing prints nothing). */
    if (!schema_said) {
        schema_said = true;
        render_json(&(struct out_event){.kind = OUT_SCHEMA, .name = "schema"});
    }
    render_json(e);
}

/* -o FILE. A symbolic link there may have been planted by another user to
 * make us (root, often) truncate a file of theirs choosing: a link is
 * followed only when the effective user owns the link itself (the user's
 * own link, or /dev/fd/N of a shell's >(...)). The target is opened
 * without O_TRUNC, checked to be what the path leads to now (a link
 * switched meanwhile is refused), and only then emptied. */
static int open_events_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != ELOOP) {
        if (fd < 0)
            log_error("cannot open output file '%s': %s", path, strerror(errno));
        return fd;
    }
    struct stat link, now, opened;
    if (lstat(path, &link) < 0 || !S_ISLNK(link.st_mode) || link.st_uid != geteuid()) {
        log_error("refusing to write events to '%s': it is a symbolic link owned by uid %ld, "
                  "not by you (it may have been planted); give the real path, or - for "
                  "standard output",
                  path, (long)link.st_uid);
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error("cannot open output file '%s': %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &opened) < 0 || lstat(path, &link) < 0 || link.st_uid != geteuid() ||
        stat(path, &now) < 0 || now.st_dev != opened.st_dev || now.st_ino != opened.st_ino) {
        log_error("refusing to write events to '%s': the symbolic link changed while it was "
                  "opened; give the real path",
                  path);
        close(fd);
        return -1;
    }
    if (S_ISREG(opened.st_mode) && ftruncate(fd, 0) < 0) {
        log_error("cannot open output file '%s': %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int output_open(const char *path, bool json)
{
    out_json = json;
    if (!path) {
        out = stderr;
    } else if (strcmp(path, "-") == 0) {
        out = stdout;
    } else {
        int fd = open_events_file(path);
        if (fd < 0)
            return -1;
        if (!(out = fdopen(fd, "w"))) {
            log_error("cannot open output file '%s': %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        out_owned = true;
    }
    return 0;
}

static char *text_buf; /* the text renderer's line, reused */
static size_t text_cap;

void output_close(void)
{
    if (out && out_owned && fclose(out) != 0 && !out_failed)
        log_error("cannot write events: %s", strerror(errno));
    out = NULL;
    out_owned = false;
    free(text_buf);
    text_buf = NULL;
    text_cap = 0;
}

bool output_failed(void) { return out_failed; }

const char *output_failure(void) { return out_failed ? strerror(out_errno) : NULL; }

void event_origin_fill(struct event_origin *origin, pid_t pid, pid_t tid)
{
    origin->pid = pid;
    origin->tid = tid;
    clock_gettime(CLOCK_REALTIME, &origin->ts);
    procfs_read_comm(pid, tid, origin->comm);
}

/* Writes one whole line (it may hold the newlines of a stack) and flushes
 * it, so a reader never sees half an event. */
static void emit(const char *line)
{
    if (!out || out_failed)
        return;
    if (fputs(line, out) == EOF || fputc('\n', out) == EOF || fflush(out) == EOF) {
        out_failed = true;
        out_errno = errno; /* the loop says it, with what follows (output_failure) */
    }
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
        emit(text_buf);
    }
    text_start();
}

static void text_prefix(const struct event_origin *o, bool with_tid)
{
    struct tm tm;
    time_t secs = o->ts.tv_sec;
    char when[32];
    localtime_r(&secs, &tm);
    if (out_time_format == OPTIONS_TIME_EPOCH_US)
        snprintf(when, sizeof when, "%lld.%06ld", (long long)secs, o->ts.tv_nsec / 1000);
    else if (out_time_format == OPTIONS_TIME_CLOCK_S)
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

static uint64_t bucket_end(uint64_t low) { return low > UINT64_MAX / 2 ? UINT64_MAX : low * 2; }

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
                format_size(bucket_end(k->low), b, sizeof b), k->count, bar);
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

static void render_text(const struct out_event *e)
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
        tprintf("lost %" PRIu64 " events over %" PRIu64 " ms: %zu calls unpaired, %zu regions "
                "uncertain",
                e->u.lost.count, e->u.lost.window_ns / 1000000, e->u.lost.calls_voided,
                e->u.lost.regions_uncertain);
        break;
    case OUT_TARGET:
        text_prefix(e->o, false);
        tprintf("target (%s): ", e->u.target.matched);
        tuntrusted(e->u.target.cmdline);
        break;
    case OUT_DUMP:
        text_prefix(e->o, true);
        text_dump(e);
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

/* ---- JSON renderer --------------------------------------------------------- */

static void json_common(struct json_line *j, const char *event, const struct event_origin *o)
{
    struct tm tm;
    time_t secs = o->ts.tv_sec;
    char ts[96];
    gmtime_r(&secs, &tm);
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, o->ts.tv_nsec / 1000);
    json_begin(j);
    json_add_str(j, "event", event);
    json_add_str(j, "ts", ts);
    json_add_int(j, "pid", o->pid);
    json_add_int(j, "tid", o->tid);
    json_add_bytes(j, "comm", o->comm, strnlen(o->comm, PROCFS_COMM_MAX));
}

static void json_map_call(struct json_line *j, const struct out_event *e)
{
    const struct map_call *c = e->u.map.call;
    char prot[4], flags[256];
    switch (c->kind) {
    case MAP_CALL_MMAP:
        json_add_hex(j, "addr", c->failed ? c->addr : c->result);
        json_add_uint(j, "len", c->len);
        json_add_str(j, "prot", xlat_prot_short(c->prot, prot));
        json_add_str(j, "flags", xlat_map_flags(c->flags, flags, sizeof flags));
        json_add_int(j, "fd", c->fd);
        if (e->u.map.file_backed)
            json_add_untrusted(j, "path", e->u.map.path);
        json_add_uint(j, "offset", c->offset);
        break;
    case MAP_CALL_MUNMAP:
        json_add_hex(j, "addr", c->addr);
        json_add_uint(j, "len", c->len);
        break;
    case MAP_CALL_MREMAP:
        json_add_hex(j, "old_addr", c->addr);
        json_add_uint(j, "old_len", c->len);
        json_add_hex(j, "addr", c->failed ? c->new_addr_arg : c->result);
        json_add_uint(j, "len", c->new_len);
        json_add_str(j, "flags", xlat_mremap_flags(c->flags, flags, sizeof flags));
        break;
    case MAP_CALL_MPROTECT:
        json_add_hex(j, "addr", c->addr);
        json_add_uint(j, "len", c->len);
        json_add_str(j, "prot", xlat_prot_short(c->prot, prot));
        break;
    case MAP_CALL_BRK:
        json_add_hex(j, "addr", c->addr);
        json_add_hex(j, "result", c->result);
        break;
    case MAP_CALL_NONE:
        break;
    }
    if (c->failed) {
        const char *name = xlat_errno_name(c->error);
        char num[32];
        snprintf(num, sizeof num, "%d", c->error);
        json_add_str(j, "error", name ? name : num);
    }
    const struct stack *stack = e->u.map.stack;
    if (stack) {
        json_add_raw(j, "stack", e->u.map.stack_json ? e->u.map.stack_json : "null");
        if (stack->truncated || !e->u.map.stack_json)
            json_add_bool(j, "stack_truncated", true);
    }
}

static void json_growth(struct json_line *j, const struct out_event *e)
{
    const struct growth_view *g = e->u.growth.g;
    char kind[32];
    size_t i = 0;
    for (; g->kind[i] && i + 1 < sizeof kind; i++)
        kind[i] = g->kind[i] == ' ' ? '_' : g->kind[i];
    kind[i] = '\0';
    json_add_str(j, "kind", kind);
    json_add_str(j, "call", g->call);
    json_add_hex(j, "addr", g->start);
    json_add_uint(j, "reserved", g->reserved);
    json_add_uint(j, "committed", g->committed);
    json_add_uint(j, "gained", g->gained);
    json_add_hex(j, "new_addr", g->new_addr);
    json_add_uint(j, "new_len", g->new_len);
    if (e->u.growth.stack) {
        json_add_raw(j, "stack", e->u.growth.stack_json ? e->u.growth.stack_json : "null");
        if (e->u.growth.stack->truncated || !e->u.growth.stack_json)
            json_add_bool(j, "stack_truncated", true);
    }
}

static void json_summary(struct json_line *j, const struct summary_view *v)
{
    json_add_uint(j, "mmaps", v->count - v->growths);
    json_add_uint(j, "bytes", v->bytes - v->malloc_growth - v->other_growth);
    json_add_uint(j, "growths", v->growths);
    json_add_uint(j, "mapped", v->mapped);
    json_add_uint(j, "dumps", v->dumps);
    if (v->lossy)
        json_add_uint(j, "lost", v->lost);
    json_add_uint(j, "gained", v->gained);
    json_add_uint(j, "resident", v->resident);
    json_add_uint(j, "malloc_growth", v->malloc_growth);
    json_add_uint(j, "other_growth", v->other_growth);
    json_open(j, "sites", '[');
    for (size_t i = 0; i < v->nrows; i++) {
        const struct summary_row *r = &v->rows[i];
        json_open(j, NULL, '{');
        json_add_untrusted(j, "site", r->site);
        json_add_bytes(j, "comm", r->comm, strnlen(r->comm, PROCFS_COMM_MAX));
        json_add_uint(j, "count", r->count);
        json_add_uint(j, "bytes", r->bytes);
        json_add_uint(j, "mapped", r->mapped);
        json_add_uint(j, "dumps", r->dumps);
        json_add_uint(j, "gained", r->gained);
        json_add_uint(j, "resident", r->resident);
        json_add_uint(j, "growths", r->growths);
        json_close(j, '}');
    }
    json_close(j, ']');
    json_open(j, "sizes", '[');
    for (size_t i = 0; i < v->nsizes; i++) {
        json_open(j, NULL, '{');
        json_add_uint(j, "size", v->sizes[i].size);
        json_add_uint(j, "count", v->sizes[i].count);
        json_close(j, '}');
    }
    json_close(j, ']');
    json_open(j, "histogram", '[');
    for (size_t i = 0; i < v->nbuckets; i++) {
        json_open(j, NULL, '{');
        json_add_uint(j, "from", v->buckets[i].low);
        json_add_uint(j, "to", bucket_end(v->buckets[i].low));
        json_add_uint(j, "count", v->buckets[i].count);
        json_add_uint(j, "bytes", v->buckets[i].bytes);
        json_close(j, '}');
    }
    json_close(j, ']');
    if (v->suggested_min_size) {
        json_add_uint(j, "suggested_min_size", v->suggested_min_size);
        json_add_uint(j, "suggested_for_size", v->suggested_for_size);
    }
}

static void json_add_limit(struct json_line *j, uint64_t limit)
{
    if (limit == UINT64_MAX)
        json_add_raw(j, "limit", "null");
    else
        json_add_uint(j, "limit", limit);
}

static void json_threshold(struct json_line *j, const struct cgroup_event *c)
{
    json_add_untrusted(j, "cgroup", c->cgroup);
    json_add_str(j, "state", c->above ? "above" : "below");
    json_add_uint(j, "usage", c->usage);
    json_add_limit(j, c->limit);
    json_add_uint(j, "threshold", c->threshold);
    if (c->pct)
        json_add_uint(j, "percent", c->pct);
    if (!c->above)
        return;
    json_open(j, "regions", '[');
    for (size_t i = 0; i < c->nregions; i++) {
        const struct threshold_region *r = &c->regions[i];
        json_open(j, NULL, '{');
        json_add_int(j, "pid", r->pid);
        json_add_int(j, "tid", r->tid);
        json_add_bytes(j, "comm", r->comm, strnlen(r->comm, PROCFS_COMM_MAX));
        json_add_hex(j, "addr", r->addr);
        json_add_uint(j, "len", r->len);
        json_add_uint(j, "id", r->id);
        json_close(j, '}');
    }
    json_close(j, ']');
    if (c->dumps >= 0)
        json_add_uint(j, "dumps", (uint64_t)c->dumps);
}

static void render_json(const struct out_event *e)
{
    struct json_line j;
    struct event_origin now = {0}; /* the summary and schema are about no one process */
    if (e->kind == OUT_MAP_CALL && e->u.map.call->kind == MAP_CALL_NONE)
        return;
    if (!e->o)
        clock_gettime(CLOCK_REALTIME, &now.ts);
    json_common(&j, e->name, e->o ? e->o : &now);
    switch (e->kind) {
    case OUT_MAP_CALL:
        json_map_call(&j, e);
        break;
    case OUT_GROWTH:
        json_growth(&j, e);
        break;
    case OUT_ATTACH:
        json_add_uint(&j, "threads", e->u.threads);
        break;
    case OUT_EXEC:
        json_add_uint(&j, "regions_ended", e->u.regions_ended);
        break;
    case OUT_EXIT:
        json_add_int(&j, "status", e->u.exit.code);
        if (e->u.exit.signal)
            json_add_str(&j, "signal", e->u.exit.signal);
        break;
    case OUT_DETACH:
        break;
    case OUT_LOST:
        json_add_uint(&j, "count", e->u.lost.count);
        json_add_uint(&j, "window_ns", e->u.lost.window_ns);
        json_add_uint(&j, "calls_voided", e->u.lost.calls_voided);
        json_add_uint(&j, "regions_uncertain", e->u.lost.regions_uncertain);
        break;
    case OUT_TARGET:
        json_add_untrusted(&j, "cmdline", e->u.target.cmdline);
        json_add_str(&j, "matched", e->u.target.matched);
        break;
    case OUT_DUMP:
        json_add_hex(&j, "addr", e->u.dump.addr);
        json_add_uint(&j, "len", e->u.dump.len);
        json_add_untrusted(&j, "path", e->u.dump.path);
        /* The names of the dump's own metadata file (dump.h). */
        json_add_uint(&j, "bytes_read", e->u.dump.bytes);
        json_add_uint(&j, "resident_bytes", e->u.dump.resident);
        json_add_str(&j, "reason", e->u.dump.reason);
        if (e->u.dump.ntop) {
            json_open(&j, "strings", '[');
            for (size_t i = 0; i < e->u.dump.ntop; i++) {
                json_open(&j, NULL, '{');
                json_add_untrusted(&j, "text", e->u.dump.top[i].text);
                json_add_uint(&j, "count", e->u.dump.top[i].count);
                json_close(&j, '}');
            }
            json_close(&j, ']');
        }
        break;
    case OUT_SKIP:
        json_add_hex(&j, "addr", e->u.dump.addr);
        json_add_uint(&j, "len", e->u.dump.len);
        json_add_str(&j, "reason", e->u.dump.reason);
        break;
    case OUT_DUMP_ERROR:
        json_add_hex(&j, "addr", e->u.dump.addr);
        json_add_uint(&j, "len", e->u.dump.len);
        json_add_untrusted(&j, "path", e->u.dump.path);
        json_add_str(&j, "error", e->u.dump.reason);
        break;
    case OUT_SUMMARY:
        json_summary(&j, e->u.summary);
        break;
    case OUT_THRESHOLD:
        json_threshold(&j, e->u.cgroup);
        break;
    case OUT_SCHEMA:
        json_add_uint(&j, "schema", OUTPUT_SCHEMA_VERSION);
        json_add_str(&j, "program", "mmapwatch");
        break;
    case OUT_OOM:
        json_add_untrusted(&j, "cgroup", e->u.cgroup->cgroup);
        json_add_uint(&j, "oom_kill", e->u.cgroup->oom_kills);
        json_add_uint(&j, "new_kills", e->u.cgroup->new_kills);
        json_add_uint(&j, "usage", e->u.cgroup->usage);
        json_add_limit(&j, e->u.cgroup->limit);
        break;
    }
    const char *line = json_end(&j);
    if (line)
        emit(line);
    else
        log_warn("an event did not fit in %d bytes and was dropped", JSON_LINE_MAX);
}

/* ---- the entry points: describe, then render ------------------------------ */

static const char *const map_call_names[] = {
    [MAP_CALL_NONE] = "none", [MAP_CALL_MMAP] = "mmap", [MAP_CALL_MUNMAP] = "munmap",
    [MAP_CALL_MREMAP] = "mremap", [MAP_CALL_MPROTECT] = "mprotect", [MAP_CALL_BRK] = "brk"};

/* The file behind a successful file-backed mmap, read through the fd it
 * was given while that fd is still the caller's (the ptrace source reports
 * at the syscall-exit stop). NULL when it cannot be read (closed meanwhile,
 * a process gone): the JSON then says "path":null. */
static const char *mapped_file(const struct event_origin *o, const struct map_call *c,
                               char *buf, size_t size)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/%d/task/%d/fd/%d", (int)o->pid, (int)o->tid,
             (int)c->fd);
    ssize_t n = readlink(link, buf, size - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return buf;
}

void output_map_call(const struct event_origin *o, const struct map_call *call,
                     const struct stack *stack, const char *stack_json)
{
    struct out_event e = {.kind = OUT_MAP_CALL, .name = map_call_names[call->kind], .o = o};
    char path[4096];
    e.u.map.call = call;
    e.u.map.stack = stack;
    e.u.map.stack_json = stack_json;
    e.u.map.file_backed = call->kind == MAP_CALL_MMAP && !call->failed && call->fd >= 0 &&
                          !(call->flags & MAP_ANONYMOUS);
    if (e.u.map.file_backed && out && !out_failed)
        e.u.map.path = mapped_file(o, call, path, sizeof path);
    output_event(&e);
}

void output_growth(const struct event_origin *o, const struct growth_view *g,
                   const struct stack *stack, const char *stack_json)
{
    output_event(&(struct out_event){
        .kind = OUT_GROWTH, .name = "growth", .o = o,
        .u.growth = {.g = g, .stack = stack, .stack_json = stack_json}});
}

void output_attach(const struct event_origin *o, unsigned threads)
{
    output_event(&(struct out_event){.kind = OUT_ATTACH, .name = "attach", .o = o,
                                     .u.threads = threads});
}

void output_exec(const struct event_origin *o, unsigned long regions_ended)
{
    output_event(&(struct out_event){.kind = OUT_EXEC, .name = "exec", .o = o,
                                     .u.regions_ended = regions_ended});
}

void output_exit(const struct event_origin *o, int wait_status)
{
    struct out_event e = {.kind = OUT_EXIT, .name = "exit", .o = o};
    char signum[16];
    if (WIFSIGNALED(wait_status)) {
        int sig = WTERMSIG(wait_status);
        e.u.exit.code = 128 + sig;
        e.u.exit.signal = xlat_signal_name(sig);
        if (!e.u.exit.signal) {
            snprintf(signum, sizeof signum, "%d", sig);
            e.u.exit.signal = signum;
        }
        e.u.exit.core = WCOREDUMP(wait_status);
    } else {
        e.u.exit.code = WEXITSTATUS(wait_status);
    }
    output_event(&e);
}

void output_detach(const struct event_origin *o)
{
    output_event(&(struct out_event){.kind = OUT_DETACH, .name = "detach", .o = o});
}

void output_lost(const struct event_origin *o, uint64_t count, uint64_t window_ns,
                 size_t calls_voided, size_t regions_uncertain)
{
    output_event(&(struct out_event){
        .kind = OUT_LOST, .name = "lost", .o = o,
        .u.lost = {.count = count, .window_ns = window_ns, .calls_voided = calls_voided,
                   .regions_uncertain = regions_uncertain}});
}

void output_target(const struct event_origin *o, const char *cmdline, const char *matched)
{
    struct out_event e = {.kind = OUT_TARGET, .name = "target", .o = o};
    e.u.target.cmdline = cmdline;
    e.u.target.matched = matched;
    output_event(&e);
}

void output_dump(const struct event_origin *o, uint64_t addr, uint64_t len, const char *path,
                 uint64_t bytes, uint64_t resident, const char *reason,
                 const struct top_string *top, size_t ntop)
{
    struct out_event e = {.kind = OUT_DUMP, .name = "dump", .o = o};
    e.u.dump.addr = addr;
    e.u.dump.len = len;
    e.u.dump.path = path;
    e.u.dump.bytes = bytes;
    e.u.dump.resident = resident;
    e.u.dump.reason = reason;
    e.u.dump.top = top;
    e.u.dump.ntop = ntop;
    output_event(&e);
}

void output_dump_skip(const struct event_origin *o, uint64_t addr, uint64_t len,
                      const char *why)
{
    struct out_event e = {.kind = OUT_SKIP, .name = "skip", .o = o};
    e.u.dump.addr = addr;
    e.u.dump.len = len;
    e.u.dump.reason = why;
    output_event(&e);
}

void output_dump_error(const struct event_origin *o, uint64_t addr, uint64_t len,
                       const char *path, const char *message)
{
    struct out_event e = {.kind = OUT_DUMP_ERROR, .name = "error", .o = o};
    e.u.dump.addr = addr;
    e.u.dump.len = len;
    e.u.dump.path = path;
    e.u.dump.reason = message;
    output_event(&e);
}

void output_summary(const struct summary_view *view)
{
    output_event(&(struct out_event){.kind = OUT_SUMMARY, .name = "summary",
                                     .u.summary = view});
}

void output_threshold(const struct event_origin *o, const struct cgroup_event *e)
{
    output_event(&(struct out_event){.kind = OUT_THRESHOLD, .name = "threshold", .o = o,
                                     .u.cgroup = e});
}

void output_oom(const struct event_origin *o, const struct cgroup_event *e)
{
    output_event(&(struct out_event){.kind = OUT_OOM, .name = "oom", .o = o, .u.cgroup = e});
}
