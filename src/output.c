/*
 * output: events as strace-like text lines or JSON Lines. See
 * include/output.h.
 *
 * Each output_*() call fills one struct out_event (what happened, described
 * once, output_internal.h) and hands it to the renderer of the chosen
 * format: output_render_text() (output_text.c) or render_json() here. Everything the traced program controls goes through
 * one escaping path per format (escape.h for text, json_add_untrusted for
 * JSON), so a new event cannot forget it.
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include "output_internal.h"
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

enum options_time_format output_time_format(void) { return out_time_format; }

static void render_json(const struct out_event *e);

static bool schema_said;

static void output_event(const struct out_event *e)
{
    if (!out || out_failed)
        return;
    if (!out_json) {
        output_render_text(e);
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

void output_close(void)
{
    if (out && out_owned && fclose(out) != 0 && !out_failed)
        log_error("cannot write events: %s", strerror(errno));
    out = NULL;
    out_owned = false;
    output_text_release();
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
void output_emit(const char *line)
{
    if (!out || out_failed)
        return;
    if (fputs(line, out) == EOF || fputc('\n', out) == EOF || fflush(out) == EOF) {
        out_failed = true;
        out_errno = errno; /* the loop says it, with what follows (output_failure) */
    }
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
        json_add_uint(j, "to", output_bucket_end(v->buckets[i].low));
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
        if (e->u.target.cgroup) /* the container runtime's names: untrusted all the same */
            json_add_untrusted(&j, "cgroup", e->u.target.cgroup);
        break;
    case OUT_DUMP:
        json_add_hex(&j, "addr", e->u.dump.addr);
        json_add_uint(&j, "len", e->u.dump.len);
        json_add_untrusted(&j, "path", e->u.dump.path);
        /* The names of the dump's own metadata file (dump.h). */
        json_add_uint(&j, "bytes_read", e->u.dump.bytes);
        json_add_uint(&j, "resident_bytes", e->u.dump.resident);
        json_add_str(&j, "reason", e->u.dump.reason);
        break;
    case OUT_STRINGS:
        json_add_hex(&j, "addr", e->u.dump.addr);
        json_add_uint(&j, "len", e->u.dump.len);
        json_add_untrusted(&j, "path", e->u.dump.path);
        json_open(&j, "strings", '['); /* empty when no run was counted */
        for (size_t i = 0; i < e->u.dump.ntop; i++) {
            json_open(&j, NULL, '{');
            json_add_untrusted(&j, "text", e->u.dump.top[i].text);
            json_add_uint(&j, "count", e->u.dump.top[i].count);
            json_close(&j, '}');
        }
        json_close(&j, ']');
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
    case OUT_EXISTING: {
        char prot[4];
        json_add_hex(&j, "addr", e->u.existing->addr);
        json_add_uint(&j, "len", e->u.existing->len);
        json_add_str(&j, "prot", xlat_prot_short(e->u.existing->prot, prot));
        json_add_bool(&j, "shared", e->u.existing->shared);
        json_add_uint(&j, "id", e->u.existing->id);
        break;
    }
    case OUT_MARK:
        json_add_str(&j, "action", e->u.mark->action);
        json_add_str(&j, "reason", e->u.mark->reason);
        json_add_untrusted(&j, "cgroup", e->u.mark->cgroup);
        json_add_uint(&j, "usage", e->u.mark->usage);
        json_add_limit(&j, e->u.mark->limit);
        json_add_uint(&j, "attach_mark", e->u.mark->attach_mark);
        json_add_uint(&j, "detach_mark", e->u.mark->detach_mark);
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
        output_emit(line);
    else
        log_warn("an event did not fit in %d bytes and was dropped", JSON_LINE_MAX);
}

/* ---- the entry points: describe, then render ------------------------------ */

static const char *const map_call_names[] = {
    [MAP_CALL_NONE] = "none", [MAP_CALL_MMAP] = "mmap", [MAP_CALL_MUNMAP] = "munmap",
    [MAP_CALL_MREMAP] = "mremap", [MAP_CALL_MPROTECT] = "mprotect", [MAP_CALL_BRK] = "brk"};

/* The file behind a successful file-backed mmap. While the caller is
 * stopped at the call's result (the ptrace source), the descriptor it
 * passed is still that file. Otherwise (the perf source reads records
 * milliseconds later) the descriptor may be closed or another file's by
 * now: the name comes from the mapping itself (/proc/PID/map_files), and
 * when that is gone or merged into a larger mapping, there is none. NULL
 * when it cannot be read: the JSON then says "path":null. */
static const char *mapped_file(const struct event_origin *o, const struct map_call *c,
                               bool caller_stopped, char *buf, size_t size)
{
    char link[96];
    if (caller_stopped) {
        snprintf(link, sizeof link, "/proc/%d/task/%d/fd/%d", (int)o->pid, (int)o->tid,
                 (int)c->fd);
    } else {
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t end = c->result + ((c->len + page - 1) & ~(page - 1));
        snprintf(link, sizeof link, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)o->pid,
                 c->result, end);
    }
    ssize_t n = readlink(link, buf, size - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return buf;
}

void output_map_call(const struct event_origin *o, const struct map_call *call,
                     const struct stack *stack, const char *stack_json, bool caller_stopped)
{
    struct out_event e = {.kind = OUT_MAP_CALL, .name = map_call_names[call->kind], .o = o};
    char path[4096];
    e.u.map.call = call;
    e.u.map.stack = stack;
    e.u.map.stack_json = stack_json;
    e.u.map.file_backed = call->kind == MAP_CALL_MMAP && !call->failed && call->fd >= 0 &&
                          !(call->flags & MAP_ANONYMOUS);
    if (e.u.map.file_backed && out && !out_failed)
        e.u.map.path = mapped_file(o, call, caller_stopped, path, sizeof path);
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

void output_target(const struct event_origin *o, const char *cmdline, const char *matched,
                   const char *cgroup)
{
    struct out_event e = {.kind = OUT_TARGET, .name = "target", .o = o};
    e.u.target.cmdline = cmdline;
    e.u.target.matched = matched;
    e.u.target.cgroup = cgroup;
    output_event(&e);
}

void output_dump(const struct event_origin *o, uint64_t addr, uint64_t len, const char *path,
                 uint64_t bytes, uint64_t resident, const char *reason)
{
    struct out_event e = {.kind = OUT_DUMP, .name = "dump", .o = o};
    e.u.dump.addr = addr;
    e.u.dump.len = len;
    e.u.dump.path = path;
    e.u.dump.bytes = bytes;
    e.u.dump.resident = resident;
    e.u.dump.reason = reason;
    output_event(&e);
}

void output_strings(const struct event_origin *o, uint64_t addr, uint64_t len, const char *path,
                    const struct top_string *top, size_t ntop)
{
    struct out_event e = {.kind = OUT_STRINGS, .name = "strings", .o = o};
    e.u.dump.addr = addr;
    e.u.dump.len = len;
    e.u.dump.path = path;
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

void output_existing(const struct event_origin *o, const struct existing_view *x)
{
    output_event(&(struct out_event){.kind = OUT_EXISTING, .name = "existing", .o = o,
                                     .u.existing = x});
}

void output_mark(const struct event_origin *o, const struct mark_event *e)
{
    output_event(&(struct out_event){.kind = OUT_MARK, .name = "mark", .o = o, .u.mark = e});
}

void output_oom(const struct event_origin *o, const struct cgroup_event *e)
{
    output_event(&(struct out_event){.kind = OUT_OOM, .name = "oom", .o = o, .u.cgroup = e});
}
