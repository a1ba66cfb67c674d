/*
 * output: events as strace-like text lines or JSON Lines. See
 * include/output.h.
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "options.h"
#include "summary.h"
#include "stack.h"
#include "xlat.h"

static FILE *out;
static bool out_json;
static bool out_failed;
static bool out_owned; /* a file we opened (closed at the end) */
static enum options_time_format out_time_format; /* text only: -t, -tt, -ttt */

void output_set_time_format(enum options_time_format format) { out_time_format = format; }

int output_open(const char *path, bool json)
{
    out_json = json;
    if (!path) {
        out = stderr;
    } else if (strcmp(path, "-") == 0) {
        out = stdout;
    } else {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || !(out = fdopen(fd, "w"))) {
            log_error("cannot open output file '%s': %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        out_owned = true;
    }
    return 0;
}

void output_close(void)
{
    if (out && out_owned && fclose(out) != 0 && !out_failed)
        log_error("cannot write events: %s", strerror(errno));
    out = NULL;
    out_owned = false;
}

bool output_failed(void) { return out_failed; }

void event_origin_fill(struct event_origin *origin, pid_t pid, pid_t tid)
{
    origin->pid = pid;
    origin->tid = tid;
    clock_gettime(CLOCK_REALTIME, &origin->ts);
    procfs_read_comm(pid, tid, origin->comm);
}

/* Writes one whole line and flushes it. */
static void emit(const char *line)
{
    if (!out || out_failed)
        return;
    if (fputs(line, out) == EOF || fputc('\n', out) == EOF || fflush(out) == EOF) {
        out_failed = true;
        log_error("cannot write events: %s", strerror(errno)); /* the loop says what follows */
    }
}

/* ---- text ---------------------------------------------------------------- */

static int text_prefix(char *buf, size_t size, const struct event_origin *o, bool with_tid)
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
    if (with_tid)
        return snprintf(buf, size, "%s [%d/%d %s] ", when, (int)o->pid, (int)o->tid, o->comm);
    return snprintf(buf, size, "%s [%d %s] ", when, (int)o->pid, o->comm);
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

/* The stack under its event line, one indented frame a line; written
 * with the line in one emit so no other event can come between. */
static void emit_with_stack(const char *line, const struct stack *stack)
{
    if (!stack || stack->depth == 0) {
        emit(line);
        return;
    }
    size_t cap = strlen(line) + 64;
    for (unsigned i = 0; i < stack->depth; i++) {
        const struct stack_frame *f = &stack->frames[i];
        cap += 48 + (f->symbol ? strlen(f->symbol) : 1) + (f->module ? strlen(f->module) : 6);
    }
    char *text = malloc(cap);
    if (!text) {
        emit(line);
        return;
    }
    size_t len = (size_t)snprintf(text, cap, "%s", line);
    for (unsigned i = 0; i < stack->depth && len < cap; i++) {
        const struct stack_frame *f = &stack->frames[i];
        len += (size_t)snprintf(text + len, cap - len, "\n    #%-2u 0x%016" PRIx64 " %s (%s)", i,
                                f->ip, f->symbol ? f->symbol : "?",
                                f->module ? f->module : "[anon]");
    }
    if (stack->truncated && len < cap)
        snprintf(text + len, cap - len, "\n    ... (--stack-depth reached)");
    emit(text);
    free(text);
}

static void text_map_call(const struct event_origin *o, const struct map_call *c,
                          const struct stack *stack)
{
    char line[1024], a[32], b[32], res[96], prot[128], flags[256], size[32];
    int n = text_prefix(line, sizeof line, o, true);
    char *p = line + n;
    size_t left = sizeof line - (size_t)n;

    if (c->failed)
        text_error(res, sizeof res, c->error);
    switch (c->kind) {
    case MAP_CALL_MMAP:
        text_address(a, sizeof a, c->addr);
        if (!c->failed)
            snprintf(res, sizeof res, "0x%" PRIx64 " (%s)", c->result,
                     format_size(c->len, size, sizeof size));
        snprintf(p, left, "mmap(%s, %" PRIu64 ", %s, %s, %" PRId64 ", %#" PRIx64 ") = %s", a,
                 c->len, xlat_prot(c->prot, prot, sizeof prot),
                 xlat_map_flags(c->flags, flags, sizeof flags), c->fd, c->offset, res);
        break;
    case MAP_CALL_MUNMAP:
        text_address(a, sizeof a, c->addr);
        snprintf(p, left, "munmap(%s, %" PRIu64 ") = %s", a, c->len, c->failed ? res : "0");
        break;
    case MAP_CALL_MREMAP:
        text_address(a, sizeof a, c->addr);
        if (!c->failed)
            snprintf(res, sizeof res, "0x%" PRIx64 " (%s)", c->result,
                     format_size(c->new_len, size, sizeof size));
        xlat_mremap_flags(c->flags, flags, sizeof flags);
        if (c->flags & 2 /* MREMAP_FIXED: the fifth argument matters */) {
            text_address(b, sizeof b, c->new_addr_arg);
            snprintf(p, left, "mremap(%s, %" PRIu64 ", %" PRIu64 ", %s, %s) = %s", a, c->len,
                     c->new_len, flags, b, res);
        } else {
            snprintf(p, left, "mremap(%s, %" PRIu64 ", %" PRIu64 ", %s) = %s", a, c->len,
                     c->new_len, flags, res);
        }
        break;
    case MAP_CALL_MPROTECT:
        text_address(a, sizeof a, c->addr);
        snprintf(p, left, "mprotect(%s, %" PRIu64 ", %s) = %s", a, c->len,
                 xlat_prot(c->prot, prot, sizeof prot), c->failed ? res : "0");
        break;
    case MAP_CALL_NONE:
        return;
    }
    emit_with_stack(line, stack);
}

/* ---- JSON ---------------------------------------------------------------- */

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
    json_add_str(j, "comm", o->comm);
}

static void json_emit(struct json_line *j)
{
    const char *line = json_end(j);
    if (line)
        emit(line);
    else
        log_warn("an event did not fit in %d bytes and was dropped", JSON_LINE_MAX);
}

static void json_map_call(const struct event_origin *o, const struct map_call *c,
                          const struct stack *stack, const char *stack_json)
{
    static const char *const names[] = {
        [MAP_CALL_MMAP] = "mmap", [MAP_CALL_MUNMAP] = "munmap",
        [MAP_CALL_MREMAP] = "mremap", [MAP_CALL_MPROTECT] = "mprotect"};
    if (c->kind == MAP_CALL_NONE)
        return;
    struct json_line j;
    char prot[4], flags[256];
    json_common(&j, names[c->kind], o);
    switch (c->kind) {
    case MAP_CALL_MMAP:
        json_add_hex(&j, "addr", c->failed ? c->addr : c->result);
        json_add_uint(&j, "len", c->len);
        json_add_str(&j, "prot", xlat_prot_short(c->prot, prot));
        json_add_str(&j, "flags", xlat_map_flags(c->flags, flags, sizeof flags));
        json_add_int(&j, "fd", c->fd);
        json_add_uint(&j, "offset", c->offset);
        break;
    case MAP_CALL_MUNMAP:
        json_add_hex(&j, "addr", c->addr);
        json_add_uint(&j, "len", c->len);
        break;
    case MAP_CALL_MREMAP:
        json_add_hex(&j, "old_addr", c->addr);
        json_add_uint(&j, "old_len", c->len);
        json_add_hex(&j, "addr", c->failed ? c->new_addr_arg : c->result);
        json_add_uint(&j, "len", c->new_len);
        json_add_str(&j, "flags", xlat_mremap_flags(c->flags, flags, sizeof flags));
        break;
    case MAP_CALL_MPROTECT:
        json_add_hex(&j, "addr", c->addr);
        json_add_uint(&j, "len", c->len);
        json_add_str(&j, "prot", xlat_prot_short(c->prot, prot));
        break;
    case MAP_CALL_NONE:
        break;
    }
    if (c->failed) {
        const char *name = xlat_errno_name(c->error);
        char num[32];
        snprintf(num, sizeof num, "%d", c->error);
        json_add_str(&j, "error", name ? name : num);
    }
    if (stack) {
        json_add_raw(&j, "stack", stack_json ? stack_json : "null");
        if (stack->truncated || !stack_json)
            json_add_bool(&j, "stack_truncated", true);
    }
    json_emit(&j);
}

/* ---- events ---------------------------------------------------------------- */

void output_map_call(const struct event_origin *o, const struct map_call *call,
                     const struct stack *stack, const char *stack_json)
{
    if (out_json)
        json_map_call(o, call, stack, stack_json);
    else
        text_map_call(o, call, stack);
}

void output_attach(const struct event_origin *o, unsigned threads)
{
    if (out_json) {
        struct json_line j;
        json_common(&j, "attach", o);
        json_add_uint(&j, "threads", threads);
        json_emit(&j);
        return;
    }
    char line[256];
    int n = text_prefix(line, sizeof line, o, false);
    snprintf(line + n, sizeof line - (size_t)n, "attached, %u thread%s", threads,
             threads == 1 ? "" : "s");
    emit(line);
}

void output_exec(const struct event_origin *o, unsigned long regions_ended)
{
    if (out_json) {
        struct json_line j;
        json_common(&j, "exec", o);
        json_add_uint(&j, "regions_ended", regions_ended);
        json_emit(&j);
        return;
    }
    char line[256];
    int n = text_prefix(line, sizeof line, o, false);
    snprintf(line + n, sizeof line - (size_t)n, "exec, %lu region%s ended", regions_ended,
             regions_ended == 1 ? "" : "s");
    emit(line);
}

void output_exit(const struct event_origin *o, int wait_status)
{
    bool signaled = WIFSIGNALED(wait_status);
    int code = signaled ? 128 + WTERMSIG(wait_status) : WEXITSTATUS(wait_status);
    const char *sig = signaled ? xlat_signal_name(WTERMSIG(wait_status)) : NULL;
    char signum[16];
    if (signaled && !sig) {
        snprintf(signum, sizeof signum, "%d", WTERMSIG(wait_status));
        sig = signum;
    }
    if (out_json) {
        struct json_line j;
        json_common(&j, "exit", o);
        json_add_int(&j, "status", code);
        if (signaled)
            json_add_str(&j, "signal", sig);
        json_emit(&j);
        return;
    }
    char line[256];
    int n = text_prefix(line, sizeof line, o, false);
    if (signaled)
        snprintf(line + n, sizeof line - (size_t)n, "killed by %s%s", sig,
                 WCOREDUMP(wait_status) ? " (core dumped)" : "");
    else
        snprintf(line + n, sizeof line - (size_t)n, "exited with status %d", code);
    emit(line);
}

void output_detach(const struct event_origin *o)
{
    if (out_json) {
        struct json_line j;
        json_common(&j, "detach", o);
        json_emit(&j);
        return;
    }
    char line[256];
    int n = text_prefix(line, sizeof line, o, false);
    snprintf(line + n, sizeof line - (size_t)n, "detached");
    emit(line);
}

void output_lost(const struct event_origin *o, uint64_t count, uint64_t window_ns,
                 size_t calls_voided, size_t regions_uncertain)
{
    if (out_json) {
        struct json_line j;
        json_common(&j, "lost", o);
        json_add_uint(&j, "count", count);
        json_add_uint(&j, "window_ns", window_ns);
        json_add_uint(&j, "calls_voided", calls_voided);
        json_add_uint(&j, "regions_uncertain", regions_uncertain);
        json_emit(&j);
        return;
    }
    char line[256];
    int n = text_prefix(line, sizeof line, o, false);
    snprintf(line + n, sizeof line - (size_t)n,
             "lost %" PRIu64 " events over %" PRIu64 " ms: %zu calls unpaired, %zu regions "
             "uncertain",
             count, window_ns / 1000000, calls_voided, regions_uncertain);
    emit(line);
}

void output_target(const struct event_origin *o, const char *cmdline, const char *matched)
{
    if (out_json) {
        struct json_line j;
        json_common(&j, "target", o);
        json_add_str(&j, "cmdline", cmdline);
        json_add_str(&j, "matched", matched);
        json_emit(&j);
        return;
    }
    /* An argument may hold a newline or an escape sequence: the text line
     * stays one line and shows no control characters. */
    char line[2048];
    int n = text_prefix(line, sizeof line, o, false);
    n += snprintf(line + n, sizeof line - (size_t)n, "target (%s): ", matched);
    size_t at = (size_t)n;
    for (const char *c = cmdline; *c && at < sizeof line - 1; c++)
        line[at++] = ((unsigned char)*c < 0x20 || *c == 0x7f) ? '?' : *c;
    line[at] = '\0';
    emit(line);
}

/* ---- dumps ----------------------------------------------------------------- */

void output_dump(const struct event_origin *o, uint64_t addr, uint64_t len, const char *path,
                 uint64_t bytes, uint64_t resident, const char *reason,
                 const struct top_string *top, size_t ntop)
{
    if (out_json) {
        /* The strings array is built with the same escaping as the rest. */
        char strings[4096];
        size_t used = 0;
        strings[used++] = '[';
        for (size_t i = 0; i < ntop; i++) {
            char escaped[1600];
            if (json_escape(top[i].text, strlen(top[i].text), escaped, sizeof escaped) ==
                (size_t)-1)
                continue;
            int n = snprintf(strings + used, sizeof strings - used,
                             "%s{\"text\":\"%s\",\"count\":%" PRIu64 "}", i ? "," : "",
                             escaped, top[i].count);
            if (n < 0 || (size_t)n >= sizeof strings - used - 2)
                break;
            used += (size_t)n;
        }
        strings[used++] = ']';
        strings[used] = '\0';
        struct json_line j;
        json_common(&j, "dump", o);
        json_add_hex(&j, "addr", addr);
        json_add_uint(&j, "len", len);
        json_add_str(&j, "path", path);
        json_add_uint(&j, "bytes", bytes);
        json_add_uint(&j, "resident", resident);
        json_add_str(&j, "reason", reason);
        if (ntop)
            json_add_raw(&j, "strings", strings);
        json_emit(&j);
        return;
    }
    char line[1024], a[32], b[32];
    int n = text_prefix(line, sizeof line, o, true);
    snprintf(line + n, sizeof line - (size_t)n,
             "dump 0x%" PRIx64 " %" PRIu64 " -> %s (%s read of %s resident, %s)", addr, len,
             path, format_size(bytes, a, sizeof a), format_size(resident, b, sizeof b), reason);
    emit(line);
    for (size_t i = 0; i < ntop; i++) {
        snprintf(line, sizeof line, "    %8" PRIu64 "  %.900s", top[i].count, top[i].text);
        emit(line);
    }
}

void output_dump_skip(const struct event_origin *o, uint64_t addr, uint64_t len,
                      const char *why)
{
    if (out_json) {
        struct json_line j;
        json_common(&j, "skip", o);
        json_add_hex(&j, "addr", addr);
        json_add_uint(&j, "len", len);
        json_add_str(&j, "reason", why);
        json_emit(&j);
        return;
    }
    char line[512];
    int n = text_prefix(line, sizeof line, o, true);
    snprintf(line + n, sizeof line - (size_t)n, "dump 0x%" PRIx64 " %" PRIu64 " skipped: %s",
             addr, len, why);
    emit(line);
}

void output_dump_error(const struct event_origin *o, uint64_t addr, uint64_t len,
                       const char *path, const char *message)
{
    if (out_json) {
        struct json_line j;
        json_common(&j, "error", o);
        json_add_hex(&j, "addr", addr);
        json_add_uint(&j, "len", len);
        json_add_str(&j, "path", path);
        json_add_str(&j, "error", message);
        json_emit(&j);
        return;
    }
    char line[1024];
    int n = text_prefix(line, sizeof line, o, true);
    snprintf(line + n, sizeof line - (size_t)n, "dump 0x%" PRIx64 " %" PRIu64 " failed: %s (%s)",
             addr, len, message, path);
    emit(line);
}

/* ---- summary (-c) ------------------------------------------------------------ */

static void json_summary(const struct summary_view *v)
{
    struct json_line j;
    struct event_origin o = {0};
    clock_gettime(CLOCK_REALTIME, &o.ts);
    json_common(&j, "summary", &o);
    json_add_uint(&j, "mmaps", v->count);
    json_add_uint(&j, "bytes", v->bytes);
    json_add_uint(&j, "mapped", v->mapped);
    json_add_uint(&j, "dumps", v->dumps);
    if (v->lossy)
        json_add_uint(&j, "lost", v->lost);
    /* Arrays are built here as raw JSON, each element bounded. */
    size_t cap = 256 + v->nrows * 700 + v->nsizes * 64 + v->nbuckets * 96;
    char *raw = malloc(cap), esc_site[512], esc_comm[96];
    if (!raw) {
        log_warn("out of memory: summary event dropped");
        return;
    }
    size_t len = 0;
    len += (size_t)snprintf(raw + len, cap - len, "[");
    for (size_t i = 0; i < v->nrows; i++) {
        const struct summary_row *r = &v->rows[i];
        if (!r->site || json_escape(r->site, strlen(r->site), esc_site, sizeof esc_site) ==
                            (size_t)-1)
            snprintf(esc_site, sizeof esc_site, "%s", r->site ? "?" : "");
        if (json_escape(r->comm, strlen(r->comm), esc_comm, sizeof esc_comm) == (size_t)-1)
            snprintf(esc_comm, sizeof esc_comm, "?");
        char site[sizeof esc_site + 2];
        if (r->site)
            snprintf(site, sizeof site, "\"%s\"", esc_site);
        else
            snprintf(site, sizeof site, "null");
        len += (size_t)snprintf(raw + len, cap - len,
                                "%s{\"site\":%s,\"comm\":\"%s\",\"count\":%" PRIu64
                                ",\"bytes\":%" PRIu64 ",\"mapped\":%" PRIu64
                                ",\"dumps\":%" PRIu64 "}",
                                i ? "," : "", site, esc_comm, r->count, r->bytes, r->mapped,
                                r->dumps);
    }
    len += (size_t)snprintf(raw + len, cap - len, "]");
    json_add_raw(&j, "sites", raw);
    len = 0;
    len += (size_t)snprintf(raw + len, cap - len, "[");
    for (size_t i = 0; i < v->nsizes; i++)
        len += (size_t)snprintf(raw + len, cap - len, "%s{\"size\":%" PRIu64 ",\"count\":%" PRIu64 "}",
                                i ? "," : "", v->sizes[i].size, v->sizes[i].count);
    len += (size_t)snprintf(raw + len, cap - len, "]");
    json_add_raw(&j, "sizes", raw);
    len = 0;
    len += (size_t)snprintf(raw + len, cap - len, "[");
    for (size_t i = 0; i < v->nbuckets; i++)
        len += (size_t)snprintf(raw + len, cap - len,
                                "%s{\"from\":%" PRIu64 ",\"to\":%" PRIu64 ",\"count\":%" PRIu64
                                ",\"bytes\":%" PRIu64 "}",
                                i ? "," : "", v->buckets[i].low,
                                v->buckets[i].low > UINT64_MAX / 2 ? UINT64_MAX
                                                                   : v->buckets[i].low * 2,
                                v->buckets[i].count, v->buckets[i].bytes);
    snprintf(raw + len, cap - len, "]");
    json_add_raw(&j, "histogram", raw);
    free(raw);
    if (v->suggested_min_size) {
        json_add_uint(&j, "suggested_min_size", v->suggested_min_size);
        json_add_uint(&j, "suggested_for_size", v->suggested_for_size);
    }
    json_emit(&j);
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
    char line[1024], a[32], b[32], c[32];
    snprintf(line, sizeof line,
             "summary: %" PRIu64 " reported mmap%s, %s, %s still mapped, %" PRIu64 " dump%s",
             v->count, v->count == 1 ? "" : "s", format_size(v->bytes, a, sizeof a),
             format_size(v->mapped, b, sizeof b), v->dumps, v->dumps == 1 ? "" : "s");
    if (v->lossy) {
        size_t used = strlen(line);
        snprintf(line + used, sizeof line - used, ", %" PRIu64 " event%s lost", v->lost,
                 v->lost == 1 ? "" : "s");
    }
    emit(line);
    if (v->nrows == 0)
        return;
    snprintf(line, sizeof line, "  %7s %11s %11s %6s  %-15s  %s", "count", "bytes", "mapped",
             "dumps", "thread", v->have_stacks ? "call site" : "call site (use -k)");
    emit(line);
    for (size_t i = 0; i < v->nrows; i++) {
        const struct summary_row *r = &v->rows[i];
        snprintf(line, sizeof line, "  %7" PRIu64 " %11s %11s %6" PRIu64 "  %-15s  %.700s",
                 r->count, format_size(r->bytes, a, sizeof a),
                 format_size(r->mapped, b, sizeof b), r->dumps, r->comm,
                 r->site ? r->site : "-");
        emit(line);
    }
    emit("  sizes seen most often:");
    for (size_t i = 0; i < v->nsizes; i++) {
        snprintf(line, sizeof line, "  %7" PRIu64 " x %" PRIu64 " bytes (%s)", v->sizes[i].count,
                 v->sizes[i].size, format_size(v->sizes[i].size, a, sizeof a));
        emit(line);
    }
    emit("  histogram of sizes:");
    uint64_t most = 0;
    for (size_t i = 0; i < v->nbuckets; i++)
        most = v->buckets[i].count > most ? v->buckets[i].count : most;
    for (size_t i = 0; i < v->nbuckets; i++) {
        const struct summary_bucket *k = &v->buckets[i];
        char bar[41];
        size_t width = most ? (size_t)((k->count * 40 + most - 1) / most) : 0;
        memset(bar, '#', width);
        bar[width] = '\0';
        snprintf(line, sizeof line, "  %10s .. < %-10s %7" PRIu64 "  %s",
                 format_size(k->low, a, sizeof a),
                 format_size(k->low > UINT64_MAX / 2 ? UINT64_MAX : k->low * 2, b, sizeof b),
                 k->count, bar);
        emit(line);
    }
    if (v->suggested_min_size) {
        snprintf(line, sizeof line,
                 "  most bytes came in mmaps of %" PRIu64 " bytes (%s): --min-size %s reports "
                 "those and larger ones only",
                 v->suggested_for_size, format_size(v->suggested_for_size, a, sizeof a),
                 min_size_word(v->suggested_min_size, c, sizeof c));
        emit(line);
    }
}

void output_summary(const struct summary_view *view)
{
    if (out_json)
        json_summary(view);
    else
        text_summary(view);
}

/* ---- memory cgroup --------------------------------------------------------- */

static void json_add_limit(struct json_line *j, uint64_t limit)
{
    if (limit == UINT64_MAX)
        json_add_raw(j, "limit", "null");
    else
        json_add_uint(j, "limit", limit);
}

/* "[{...},...]" of the regions, escaped like the rest; stops at what fits. */
static void json_regions(char *buf, size_t size, const struct threshold_region *r, size_t n)
{
    size_t used = 0;
    buf[used++] = '[';
    for (size_t i = 0; i < n; i++) {
        char comm[6 * PROCFS_COMM_MAX + 1];
        if (json_escape(r[i].comm, strnlen(r[i].comm, PROCFS_COMM_MAX), comm, sizeof comm) ==
            (size_t)-1)
            snprintf(comm, sizeof comm, "?");
        int len = snprintf(buf + used, size - used,
                           "%s{\"pid\":%d,\"tid\":%d,\"comm\":\"%s\",\"addr\":\"0x%" PRIx64
                           "\",\"len\":%" PRIu64 ",\"id\":%" PRIu64 "}",
                           i ? "," : "", (int)r[i].pid, (int)r[i].tid, comm, r[i].addr,
                           r[i].len, r[i].id);
        if (len < 0 || (size_t)len >= size - used - 2)
            break;
        used += (size_t)len;
    }
    buf[used++] = ']';
    buf[used] = '\0';
}

/* "16.0 MiB used of 64.0 MiB limit" / "16.0 MiB used (no limit)" */
static void text_usage(char *buf, size_t size, uint64_t usage, uint64_t limit)
{
    char u[32], l[32];
    if (limit == UINT64_MAX)
        snprintf(buf, size, "%s used (no limit)", format_size(usage, u, sizeof u));
    else
        snprintf(buf, size, "%s used of %s limit", format_size(usage, u, sizeof u),
                 format_size(limit, l, sizeof l));
}

void output_threshold(const struct event_origin *o, const struct cgroup_event *e)
{
    if (out_json) {
        char regions[2048];
        struct json_line j;
        json_common(&j, "threshold", o);
        json_add_str(&j, "cgroup", e->cgroup);
        json_add_str(&j, "state", e->above ? "above" : "below");
        json_add_uint(&j, "usage", e->usage);
        json_add_limit(&j, e->limit);
        json_add_uint(&j, "threshold", e->threshold);
        if (e->pct)
            json_add_uint(&j, "percent", e->pct);
        if (e->above) {
            json_regions(regions, sizeof regions, e->regions, e->nregions);
            json_add_raw(&j, "regions", regions);
            if (e->dumps >= 0)
                json_add_uint(&j, "dumps", (uint64_t)e->dumps);
        }
        json_emit(&j);
        return;
    }
    char line[1024], usage[96], thr[32], pct[32] = "", dumps[48] = "";
    int n = text_prefix(line, sizeof line, o, false);
    text_usage(usage, sizeof usage, e->usage, e->limit);
    format_size(e->threshold, thr, sizeof thr);
    if (e->pct)
        snprintf(pct, sizeof pct, " (%u%% of the limit)", e->pct);
    if (!e->above) {
        snprintf(line + n, sizeof line - (size_t)n,
                 "memory cgroup %s back below threshold %s%s: %s; re-armed", e->cgroup, thr,
                 pct, usage);
        emit(line);
        return;
    }
    if (e->dumps >= 0)
        snprintf(dumps, sizeof dumps, "; dumping %ld region%s", e->dumps,
                 e->dumps == 1 ? "" : "s");
    snprintf(line + n, sizeof line - (size_t)n, "memory cgroup %s above threshold %s%s: %s%s%s",
             e->cgroup, thr, pct, usage, dumps,
             e->nregions ? "; largest reported regions:" : "; no reported region is mapped");
    emit(line);
    for (size_t i = 0; i < e->nregions; i++) {
        const struct threshold_region *r = &e->regions[i];
        char size[32];
        snprintf(line, sizeof line, "    0x%" PRIx64 " %" PRIu64 " (%s) [%d/%d %s]", r->addr,
                 r->len, format_size(r->len, size, sizeof size), (int)r->pid, (int)r->tid,
                 r->comm);
        emit(line);
    }
}

void output_oom(const struct event_origin *o, const struct cgroup_event *e)
{
    if (out_json) {
        struct json_line j;
        json_common(&j, "oom", o);
        json_add_str(&j, "cgroup", e->cgroup);
        json_add_uint(&j, "oom_kill", e->oom_kills);
        json_add_uint(&j, "new_kills", e->new_kills);
        json_add_uint(&j, "usage", e->usage);
        json_add_limit(&j, e->limit);
        json_emit(&j);
        return;
    }
    char line[1024], usage[96];
    int n = text_prefix(line, sizeof line, o, false);
    text_usage(usage, sizeof usage, e->usage, e->limit);
    snprintf(line + n, sizeof line - (size_t)n,
             "memory cgroup %s: OOM kill%s (%" PRIu64 " new, %" PRIu64 " in all); %s", e->cgroup,
             e->new_kills == 1 ? "" : "s", e->new_kills, e->oom_kills, usage);
    emit(line);
}
