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
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "options.h"
#include "xlat.h"

static FILE *out;
static bool out_json;
static bool out_failed;
static bool out_owned; /* a file we opened (closed at the end) */

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
        log_error("cannot write events: %s; detaching", strerror(errno));
    }
}

/* ---- text ---------------------------------------------------------------- */

static int text_prefix(char *buf, size_t size, const struct event_origin *o, bool with_tid)
{
    struct tm tm;
    time_t secs = o->ts.tv_sec;
    localtime_r(&secs, &tm);
    if (with_tid)
        return snprintf(buf, size, "%02d:%02d:%02d.%06ld [%d/%d %s] ", tm.tm_hour, tm.tm_min,
                        tm.tm_sec, o->ts.tv_nsec / 1000, (int)o->pid, (int)o->tid, o->comm);
    return snprintf(buf, size, "%02d:%02d:%02d.%06ld [%d %s] ", tm.tm_hour, tm.tm_min,
                    tm.tm_sec, o->ts.tv_nsec / 1000, (int)o->pid, o->comm);
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

static void text_map_call(const struct event_origin *o, const struct map_call *c)
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
    emit(line);
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

static void json_map_call(const struct event_origin *o, const struct map_call *c)
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
    json_emit(&j);
}

/* ---- events ---------------------------------------------------------------- */

void output_map_call(const struct event_origin *o, const struct map_call *call)
{
    if (out_json)
        json_map_call(o, call);
    else
        text_map_call(o, call);
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
