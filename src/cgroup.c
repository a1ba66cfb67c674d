/*
 * cgroup: finding the target's memory cgroup and watching it. See
 * include/cgroup.h for the contract.
 */
#include "cgroup.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "marks.h"
#include "options.h"
#include "procfs.h"

/* After the kernel says the cgroup is out of memory (v1), the kill it
 * counts comes a moment later: read the counter again this often, this
 * many times. */
#define OOM_RECHECK_MS 10
#define OOM_RECHECKS 200

/* Records not yet taken by the loop; it takes them at each wake-up, so
 * only a loop stuck elsewhere for long could fill this. */
#define QUEUE_MAX 64

/* Any limit from here up is none (see CGROUP_NO_LIMIT). */
#define LIMIT_NONE_FROM (1ULL << 62)

/* ---- pure parsers ---------------------------------------------------------- */

/* Copies [s, s+n) into out (size bytes) NUL-terminated. 0, or -1 if too long. */
static int copy_span(const char *s, size_t n, char *out, size_t size)
{
    if (n >= size)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static bool list_has(const char *list, size_t len, const char *word)
{
    size_t wlen = strlen(word);
    const char *p = list, *end = list + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
        if (n == wlen && memcmp(p, word, n) == 0)
            return true;
        p += n + 1;
    }
    return false;
}

bool cgroup_proc_next(const char **cursor, struct cgroup_proc_line *out)
{
    while (*cursor && **cursor) {
        const char *line = *cursor;
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        *cursor = eol ? eol + 1 : NULL;
        const char *c1 = memchr(line, ':', len);
        const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
        if (!c2)
            continue;
        *out = (struct cgroup_proc_line){
            .id = line, .id_len = (size_t)(c1 - line),
            .controllers = c1 + 1, .controllers_len = (size_t)(c2 - c1 - 1),
            .path = c2 + 1, .path_len = len - (size_t)(c2 + 1 - line)};
        return true;
    }
    return false;
}

int cgroup_parse_proc(const char *text, char *path, size_t size, enum cgroup_version *version)
{
    bool have_v2 = false;
    char v2_path[CGROUP_PATH_MAX];
    struct cgroup_proc_line l;
    for (const char *cursor = text; cgroup_proc_next(&cursor, &l);) {
        bool rooted = l.path_len > 0 && l.path[0] == '/';
        bool v2 = l.id_len == 1 && l.id[0] == '0' && l.controllers_len == 0;
        if (!v2 && list_has(l.controllers, l.controllers_len, "memory")) {
            if (!rooted || copy_span(l.path, l.path_len, path, size) < 0)
                return -1;
            *version = CGROUP_V1;
            return 0;
        }
        if (v2 && rooted && copy_span(l.path, l.path_len, v2_path, sizeof v2_path) == 0)
            have_v2 = true;
    }
    if (!have_v2 || strlen(v2_path) >= size)
        return -1;
    strcpy(path, v2_path);
    *version = CGROUP_V2;
    return 0;
}

/* Copies one mountinfo field, undoing the kernel's \NNN escapes (space,
 * tab, newline, backslash in paths). 0, or -1 if it does not fit. */
static int unescape_field(const char *s, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
            s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            c = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        }
        if (o + 1 >= size)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

bool cgroup_parse_mountinfo_line(const char *line, enum cgroup_version version, char *root,
                                 size_t root_size, char *point, size_t point_size)
{
    /* ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
    const char *field[16];
    size_t flen[16];
    size_t nf = 0, dash = 0;
    const char *p = line;
    while (*p && *p != '\n' && nf < 16) {
        while (*p == ' ')
            p++;
        if (!*p || *p == '\n')
            break;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\n')
            p++;
        field[nf] = start;
        flen[nf] = (size_t)(p - start);
        if (!dash && nf >= 6 && flen[nf] == 1 && *start == '-')
            dash = nf;
        nf++;
    }
    if (!dash || nf < dash + 4)
        return false;
    const char *fstype = field[dash + 1], *super = field[dash + 3];
    size_t tlen = flen[dash + 1], slen = flen[dash + 3];
    if (version == CGROUP_V1) {
        if (tlen != 6 || memcmp(fstype, "cgroup", 6) != 0 || !list_has(super, slen, "memory"))
            return false;
    } else if (tlen != 7 || memcmp(fstype, "cgroup2", 7) != 0) {
        return false;
    }
    return unescape_field(field[3], flen[3], root, root_size) == 0 &&
           unescape_field(field[4], flen[4], point, point_size) == 0;
}

/* Whether a path has a ".." component. */
static bool has_dotdot(const char *path)
{
    for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2) {
        bool starts = p == path || p[-1] == '/';
        bool ends = p[2] == '\0' || p[2] == '/';
        if (starts && ends)
            return true;
    }
    return false;
}

int cgroup_dir_under(const char *prefix, const char *root, const char *point, const char *path,
                     char *dir, size_t size)
{
    const char *rest;
    size_t rlen = strlen(root);
    if (strcmp(root, "/") == 0)
        rest = path;
    else if (strncmp(path, root, rlen) == 0 && (path[rlen] == '\0' || path[rlen] == '/'))
        rest = path + rlen;
    else
        return -1;
    if (has_dotdot(rest))
        return -1;
    size_t plen = strlen(point);
    if (plen > 0 && point[plen - 1] == '/' && rest[0] == '/')
        rest++; /* point "/" */
    int n = snprintf(dir, size, "%s%s%s", prefix, point, rest);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* A decimal number from s, up to the end or a newline/space. */
static int parse_u64(const char *s, const char **end, uint64_t *value)
{
    if (!isdigit((unsigned char)*s))
        return -1;
    uint64_t v = 0;
    while (isdigit((unsigned char)*s)) {
        unsigned d = (unsigned)(*s++ - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *end = s;
    *value = v;
    return 0;
}

int cgroup_parse_number(const char *text, uint64_t *value)
{
    const char *end;
    if (parse_u64(text, &end, value) < 0)
        return -1;
    return *end == '\0' || *end == '\n' ? 0 : -1;
}

int cgroup_parse_limit(const char *text, uint64_t *limit)
{
    if (strncmp(text, "max", 3) == 0 && (text[3] == '\0' || text[3] == '\n')) {
        *limit = CGROUP_NO_LIMIT;
        return 0;
    }
    if (cgroup_parse_number(text, limit) < 0)
        return -1;
    if (*limit >= LIMIT_NONE_FROM)
        *limit = CGROUP_NO_LIMIT;
    return 0;
}

int cgroup_parse_key(const char *text, const char *key, uint64_t *value)
{
    size_t klen = strlen(key);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            const char *end;
            if (parse_u64(line + klen + 1, &end, value) < 0 || (*end != '\0' && *end != '\n'))
                return -1;
            return 0;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return -1;
}

/* ---- the watch ------------------------------------------------------------- */

struct cgroup_watch {
    enum cgroup_version version;
    pid_t pid;
    char path[CGROUP_PATH_MAX];  /* as /proc/PID/cgroup shows it */
    char dir[PATH_MAX];          /* where its files are, for messages */
    int dir_fd;                  /* O_PATH of that directory */
    uint64_t threshold;
    unsigned pct;
    uint64_t low;                /* re-armed below it (marks.h); threshold by default */
    const char *usage_name, *limit_name, *events_name;
    int usage_fd;                /* memory.usage_in_bytes / memory.current */
    int events_fd;               /* memory.oom_control / memory.events */
    int threshold_efd, oom_efd;  /* v1 notifications; -1 when polling */
    int low_efd;                 /* v1: at the low mark, when below the threshold */
    int stop_efd;                /* written by cgroup_watch_free */
    bool have_oom_count;         /* the kernel counts OOM kills (4.13+) */

    pthread_t thread;
    bool started;
    int wake_fd;            /* the owner's (not closed here): written when records are queued */

    /* The watching thread's own. */
    bool above;
    unsigned oom_rechecks;

    /* The watching thread writes no diagnostics (they could land inside
     * an event line on a shared stderr): the loop does, in take(). */
    pthread_mutex_t lock;
    uint64_t oom_kills;          /* guarded: last count reported (or seen at start) */
    struct cgroup_record queue[QUEUE_MAX]; /* guarded */
    size_t head, count;          /* guarded */
    unsigned long dropped;       /* guarded: records that did not fit */
    const char *ended;           /* guarded: why the watching thread stopped */
    int ended_errno;             /* guarded */
    bool ended_told;             /* the loop's */
    pid_t target;                /* guarded: the pid records name */
    char target_comm[CGROUP_COMM_MAX]; /* guarded */
    bool stopped;                /* the loop's: cgroup_watch_stop() ran */
    dev_t dir_dev;               /* the directory watched, to tell a new */
    ino_t dir_ino;               /* cgroup at the same path from it */
};

/* Reads a small cgroup file from the start through a kept fd. */
static int read_fd_text(int fd, char *buf, size_t size)
{
    ssize_t n;
    do
        n = pread(fd, buf, size - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

static int read_at_text(int dir_fd, const char *name, char *buf, size_t size)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = read_fd_text(fd, buf, size);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

static int read_limit(const struct cgroup_watch *w, uint64_t *limit)
{
    char buf[64];
    if (read_at_text(w->dir_fd, w->limit_name, buf, sizeof buf) < 0)
        return -1;
    if (cgroup_parse_limit(buf, limit) < 0)
        return errno = EINVAL, -1;
    return 0;
}

static int read_usage(const struct cgroup_watch *w, uint64_t *usage)
{
    char buf[64];
    if (read_fd_text(w->usage_fd, buf, sizeof buf) < 0)
        return -1;
    if (cgroup_parse_number(buf, usage) < 0)
        return errno = EINVAL, -1;
    return 0;
}

static int read_oom_kills_fd(int fd, uint64_t *kills)
{
    char buf[1024];
    if (read_fd_text(fd, buf, sizeof buf) < 0)
        return -1;
    if (cgroup_parse_key(buf, "oom_kill", kills) < 0)
        return errno = ENOENT, -1;
    return 0;
}

/* Whether the cgroup.procs in dir lists pid. The file may be long (every
 * process of a container): read it in pieces, a number at a time. */
static bool procs_lists(const char *dir, pid_t pid)
{
    char path[PATH_MAX + 16];
    if (snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= (int)sizeof path)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[4096];
    uint64_t value = 0;
    bool in_number = false, found = false;
    ssize_t n;
    while (!found && ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))) {
        for (ssize_t i = 0; i < n && !found; i++) {
            if (isdigit((unsigned char)buf[i])) {
                value = value < (1ULL << 40) ? value * 10 + (uint64_t)(buf[i] - '0') : value;
                in_number = true;
            } else {
                found = in_number && value == (uint64_t)pid;
                value = 0;
                in_number = false;
            }
        }
    }
    found = found || (in_number && value == (uint64_t)pid);
    close(fd);
    return found;
}

/* Looks through one mountinfo file for a mount holding the cgroup. */
static bool find_in_mounts(struct cgroup_watch *w, const char *mountinfo, const char *prefix)
{
    FILE *f = fopen(mountinfo, "re");
    if (!f)
        return false;
    char line[3 * PATH_MAX], root[PATH_MAX], point[PATH_MAX];
    bool found = false, skipping = false;
    while (!found && fgets(line, sizeof line, f)) {
        bool whole = strchr(line, '\n') != NULL;
        if (skipping || !whole) {
            skipping = !whole; /* the rest of a line too long to be ours */
            continue;
        }
        if (!cgroup_parse_mountinfo_line(line, w->version, root, sizeof root, point,
                                         sizeof point))
            continue;
        found = cgroup_dir_under(prefix, root, point, w->path, w->dir, sizeof w->dir) == 0 &&
                procs_lists(w->dir, w->pid);
    }
    fclose(f);
    return found;
}

static void fail_no_dir(const struct cgroup_watch *w)
{
    log_error("cannot find the memory cgroup '%s' of process %d: no cgroup%s mount of ours "
              "or of the target's shows it; mount the cgroup filesystem at /sys/fs/cgroup (see "
              "man mmapwatch, MEMORY CGROUP)",
              w->path, (int)w->pid, w->version == CGROUP_V2 ? "2" : " (memory)");
}

struct cgroup_watch *cgroup_watch_new(pid_t pid, uint64_t threshold, unsigned pct)
{
    struct mark high = {.bytes = threshold, .pct = pct};
    return cgroup_watch_new_marks(pid, &high, NULL, 100, "--cgroup-threshold");
}

struct cgroup_watch *cgroup_watch_new_marks(pid_t pid, const struct mark *high,
                                            const struct mark *low, unsigned low_pct,
                                            const char *option)
{
    uint64_t threshold = high->bytes;
    unsigned pct = high->pct;
    struct cgroup_watch *w = calloc(1, sizeof *w);
    if (!w) {
        log_error("out of memory");
        return NULL;
    }
    w->pid = pid;
    w->dir_fd = w->usage_fd = w->events_fd = -1;
    w->threshold_efd = w->oom_efd = w->low_efd = w->stop_efd = w->wake_fd = -1;
    pthread_mutex_init(&w->lock, NULL);

    char proc[64], text[16384];
    snprintf(proc, sizeof proc, "/proc/%d/cgroup", (int)pid);
    if (procfs_read_file(proc, text, sizeof text) < 0) {
        if (errno == ENOENT || errno == ESRCH)
            log_error("cannot watch the memory cgroup of process %d: no such process; check "
                      "the pid (ps -e)", (int)pid);
        else
            log_error("cannot read %s: %s", proc, strerror(errno));
        goto fail;
    }
    if (cgroup_parse_proc(text, w->path, sizeof w->path, &w->version) < 0) {
        log_error("process %d is in no memory cgroup (%s names none): %s needs the memory "
                  "controller", (int)pid, proc, option);
        goto fail;
    }
    bool v1 = w->version == CGROUP_V1;
    w->usage_name = v1 ? "memory.usage_in_bytes" : "memory.current";
    w->limit_name = v1 ? "memory.limit_in_bytes" : "memory.max";
    w->events_name = v1 ? "memory.oom_control" : "memory.events";

    /* Ours first; then the target's, seen through its root (a sidecar
     * whose own mount shows only its own container). */
    char mountinfo[64], prefix[64];
    snprintf(mountinfo, sizeof mountinfo, "/proc/%d/mountinfo", (int)pid);
    snprintf(prefix, sizeof prefix, "/proc/%d/root", (int)pid);
    if (!find_in_mounts(w, "/proc/self/mountinfo", "") && !find_in_mounts(w, mountinfo, prefix)) {
        fail_no_dir(w);
        goto fail;
    }
    w->dir_fd = open(w->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (w->dir_fd < 0 || (w->usage_fd = openat(w->dir_fd, w->usage_name, O_RDONLY | O_CLOEXEC)) < 0 ||
        (w->events_fd = openat(w->dir_fd, w->events_name, O_RDONLY | O_CLOEXEC)) < 0) {
        log_error("cannot open the memory cgroup of process %d ('%s'): %s; is the memory "
                  "controller enabled for it?", (int)pid, w->dir, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(w->dir_fd, &st) == 0) {
        w->dir_dev = st.st_dev;
        w->dir_ino = st.st_ino;
    }
    uint64_t limit;
    if (read_limit(w, &limit) < 0) {
        log_error("cannot read %s/%s: %s", w->dir, w->limit_name, strerror(errno));
        goto fail;
    }
    if (pct) {
        if (limit == CGROUP_NO_LIMIT) {
            log_error("cannot watch at %u%%: the memory cgroup '%s' of process %d has no "
                      "memory limit (%s); give the threshold as a SIZE, e.g. "
                      "%s 2G", pct, w->path, (int)pid, w->limit_name, option);
            goto fail;
        }
        threshold = mark_percent_of(limit, pct);
        if (threshold == 0) {
            log_error("cannot watch at %u%%: the memory cgroup '%s' of process %d has a limit "
                      "of %" PRIu64 " bytes; give the threshold as a SIZE", pct, w->path,
                      (int)pid, limit);
            goto fail;
        }
    } else if (limit != CGROUP_NO_LIMIT && threshold > limit) {
        char a[32], b[32];
        log_warn("%s %s is above the limit of memory cgroup '%s' (%s): the OOM killer acts "
                 "before it is reached", option, format_size(threshold, a, sizeof a), w->path,
                 format_size(limit, b, sizeof b));
    }
    w->threshold = threshold;
    w->pct = pct;
    w->low = mark_percent_of(threshold, low_pct);
    if (low && (!mark_resolve(low, limit, &w->low) || w->low > threshold)) {
        log_error("cannot use --detach-below for the memory cgroup '%s' of process %d: %s; "
                  "give it as a SIZE at or below the attach mark", w->path, (int)pid,
                  low->pct && limit == CGROUP_NO_LIMIT ? "a percentage needs a memory limit"
                                                       : "it is above the attach mark");
        goto fail;
    }
    /* The baseline: kills before we looked are not news. Kernels before
     * 4.13 do not count them: then OOM kills go unreported. */
    w->have_oom_count = read_oom_kills_fd(w->events_fd, &w->oom_kills) == 0;
    if (!w->have_oom_count)
        log_warn("the memory cgroup '%s' does not count OOM kills (no oom_kill in %s): they "
                 "will not be reported", w->path, w->events_name);
    return w;
fail:
    cgroup_watch_free(w);
    return NULL;
}

const char *cgroup_watch_path(const struct cgroup_watch *w) { return w->path; }
uint64_t cgroup_watch_threshold(const struct cgroup_watch *w) { return w->threshold; }
unsigned cgroup_watch_pct(const struct cgroup_watch *w) { return w->pct; }
uint64_t cgroup_watch_low(const struct cgroup_watch *w) { return w->low; }

static void wake_loop(struct cgroup_watch *w)
{
    uint64_t one = 1;
    if (write(w->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_warn("cannot wake the loop for a memory cgroup event: %s", strerror(errno));
}

/* Queues a record; from the watching thread (wake) the loop is told. */
static void queue_record(struct cgroup_watch *w, struct cgroup_record *r, bool wake)
{
    pthread_mutex_lock(&w->lock);
    r->pid = w->target ? w->target : w->pid;
    memcpy(r->comm, w->target_comm, sizeof r->comm);
    if (w->count < QUEUE_MAX)
        w->queue[(w->head + w->count++) % QUEUE_MAX] = *r;
    else
        w->dropped++;
    pthread_mutex_unlock(&w->lock);
    if (wake)
        wake_loop(w);
}

static void fill_record(struct cgroup_watch *w, struct cgroup_record *r,
                        enum cgroup_record_kind kind, uint64_t usage)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    clock_gettime(CLOCK_REALTIME, &r->ts);
    r->usage = usage;
    /* The limit now: it can be changed while the target runs. */
    if (read_limit(w, &r->limit) < 0)
        r->limit = CGROUP_NO_LIMIT;
}

/* Compares the OOM kill counter read through fd with the last one
 * reported. Returns whether it grew. */
static bool note_oom_kills(struct cgroup_watch *w, int fd, bool wake)
{
    uint64_t kills;
    if (!w->have_oom_count || read_oom_kills_fd(fd, &kills) < 0)
        return false;
    pthread_mutex_lock(&w->lock);
    uint64_t before = w->oom_kills;
    bool grew = kills > before;
    if (grew)
        w->oom_kills = kills;
    pthread_mutex_unlock(&w->lock);
    if (!grew)
        return false;
    struct cgroup_record r;
    uint64_t usage = 0;
    read_usage(w, &usage);
    fill_record(w, &r, CGROUP_OOM, usage);
    r.oom_kills = kills;
    r.new_kills = kills - before;
    queue_record(w, &r, wake);
    return true;
}

/* One look at the cgroup. crossings: how many times the kernel signalled
 * the threshold since the last look (v1), each a crossing in one
 * direction or the other. false when the cgroup is gone. */
static bool look(struct cgroup_watch *w, uint64_t crossings, bool oom_signalled)
{
    uint64_t usage;
    if (read_usage(w, &usage) < 0)
        return false;
    struct cgroup_record r;
    enum mark_change change = marks_step(&w->above, usage, w->threshold, w->low, crossings >= 2);
    if (change != MARK_SAME) {
        fill_record(w, &r, change == MARK_ROSE ? CGROUP_ABOVE : CGROUP_BELOW, usage);
        queue_record(w, &r, true);
    }
    bool counted = note_oom_kills(w, w->events_fd, true);
    if (oom_signalled && !counted)
        w->oom_rechecks = OOM_RECHECKS;
    else if (counted)
        w->oom_rechecks = 0;
    else if (w->oom_rechecks > 0)
        w->oom_rechecks--;
    return true;
}

/* The watching thread gives up (the cgroup was removed, most likely):
 * the loop says so. */
static void stop_watching(struct cgroup_watch *w, const char *what)
{
    int err = errno;
    pthread_mutex_lock(&w->lock);
    w->ended = what;
    w->ended_errno = err;
    pthread_mutex_unlock(&w->lock);
    wake_loop(w);
}

static uint64_t drain_eventfd(int fd)
{
    uint64_t value = 0;
    if (read(fd, &value, sizeof value) != (ssize_t)sizeof value)
        return 0;
    return value;
}

static void *watch_main(void *arg)
{
    struct cgroup_watch *w = arg;
    bool polling = w->threshold_efd < 0;
    for (;;) {
        struct pollfd fds[5] = {{.fd = w->stop_efd, .events = POLLIN}};
        nfds_t n = 1;
        int thr = -1, oom = -1, events = -1, low = -1;
        if (w->threshold_efd >= 0) {
            thr = (int)n;
            fds[n++] = (struct pollfd){.fd = w->threshold_efd, .events = POLLIN};
        }
        if (w->low_efd >= 0) {
            low = (int)n;
            fds[n++] = (struct pollfd){.fd = w->low_efd, .events = POLLIN};
        }
        if (w->oom_efd >= 0) {
            oom = (int)n;
            fds[n++] = (struct pollfd){.fd = w->oom_efd, .events = POLLIN};
        }
        if (w->version == CGROUP_V2) {
            /* kernfs raises POLLPRI (and POLLERR) when a counter changes. */
            events = (int)n;
            fds[n++] = (struct pollfd){.fd = w->events_fd, .events = POLLPRI};
        }
        int timeout = polling ? CGROUP_POLL_MS : w->oom_rechecks ? OOM_RECHECK_MS : -1;
        int rc = poll(fds, n, timeout);
        if (rc < 0 && errno != EINTR) {
            stop_watching(w, "poll");
            break;
        }
        if (fds[0].revents)
            break;
        uint64_t crossings = 0;
        bool oom_signalled = false;
        if (thr >= 0 && (fds[thr].revents & POLLIN))
            crossings = drain_eventfd(w->threshold_efd);
        if (low >= 0 && (fds[low].revents & POLLIN))
            drain_eventfd(w->low_efd); /* a wake-up: look() reads the usage */
        if (oom >= 0 && (fds[oom].revents & POLLIN))
            oom_signalled = drain_eventfd(w->oom_efd) > 0;
        if (events >= 0 && fds[events].revents && !w->have_oom_count) {
            /* Only a read clears the POLLPRI; look() reads the file only
             * when it counts OOM kills. */
            char buf[1024];
            read_fd_text(w->events_fd, buf, sizeof buf);
        }
        if (!look(w, crossings, oom_signalled)) {
            stop_watching(w, w->usage_name);
            break;
        }
    }
    return NULL;
}

/* The threshold to give v1 for a mark of `bytes`. The kernel takes it in
 * whole pages, rounded down, and compares it with usage, a whole number of
 * pages: a mark of 1 byte would be 0, passed by a cgroup with nothing
 * charged and never signalled, and a mark inside a page would be signalled
 * while usage is still under it and then not again. Usage (whole pages)
 * reaches `bytes` exactly when it reaches `bytes` rounded up to a page. */
static uint64_t v1_kernel_mark(uint64_t bytes)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t size = page > 0 ? (uint64_t)page : 4096;
    if (bytes > UINT64_MAX - (size - 1))
        return bytes;
    return (bytes + size - 1) / size * size;
}

/* v1: asks the kernel to signal an eventfd for us. -1 with errno when
 * cgroup.event_control cannot be written (a read-only mount). */
static int register_v1(struct cgroup_watch *w)
{
    int ctl = openat(w->dir_fd, "cgroup.event_control", O_WRONLY | O_CLOEXEC);
    if (ctl < 0)
        return -1;
    int rc = -1;
    char line[96];
    w->threshold_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    w->oom_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->threshold_efd < 0 || w->oom_efd < 0)
        goto out;
    int n = snprintf(line, sizeof line, "%d %d %" PRIu64, w->threshold_efd, w->usage_fd,
                     v1_kernel_mark(w->threshold));
    if (write(ctl, line, (size_t)n) != n)
        goto out;
    n = snprintf(line, sizeof line, "%d %d", w->oom_efd, w->events_fd);
    if (write(ctl, line, (size_t)n) != n)
        goto out;
    if (w->low < w->threshold) {
        /* The kernel takes one threshold per eventfd: the low mark has its own. */
        if ((w->low_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
            goto out;
        n = snprintf(line, sizeof line, "%d %d %" PRIu64, w->low_efd, w->usage_fd,
                     v1_kernel_mark(w->low));
        if (write(ctl, line, (size_t)n) != n)
            goto out;
    }
    rc = 0;
out:;
    int err = errno;
    close(ctl);
    if (rc < 0) {
        /* Closing an eventfd unregisters whatever was registered on it. */
        if (w->threshold_efd >= 0)
            close(w->threshold_efd);
        if (w->oom_efd >= 0)
            close(w->oom_efd);
        if (w->low_efd >= 0)
            close(w->low_efd);
        w->threshold_efd = w->oom_efd = w->low_efd = -1;
    }
    errno = err;
    return rc;
}

int cgroup_watch_start(struct cgroup_watch *w, int wake_fd)
{
    w->wake_fd = wake_fd;
    if ((w->stop_efd = eventfd(0, EFD_CLOEXEC)) < 0) {
        log_error("cannot watch the memory cgroup: eventfd: %s", strerror(errno));
        return -1;
    }
    if (w->version == CGROUP_V1 && register_v1(w) < 0)
        log_info("cannot register for memory cgroup events through %s/cgroup.event_control "
                 "(%s): reading its usage every %d ms instead", w->dir, strerror(errno),
                 CGROUP_POLL_MS);
    /* Registered first, then looked: a crossing in between is seen either
     * way. Usage already above the threshold is reported at once. */
    uint64_t usage;
    if (read_usage(w, &usage) < 0) {
        log_error("cannot read %s/%s: %s", w->dir, w->usage_name, strerror(errno));
        return -1;
    }
    if (usage >= w->threshold) {
        struct cgroup_record r;
        fill_record(w, &r, CGROUP_ABOVE, usage);
        queue_record(w, &r, false);
        w->above = true;
    }
    int rc = pthread_create(&w->thread, NULL, watch_main, w);
    if (rc != 0) {
        log_error("cannot start watching the memory cgroup: %s", strerror(rc));
        return -1;
    }
    w->started = true;
    char size[32];
    log_info("watching memory cgroup v%d '%s' (%s) for %s", (int)w->version, w->path, w->dir,
             format_size(w->threshold, size, sizeof size));
    return 0;
}

void cgroup_watch_check_oom(struct cgroup_watch *w)
{
    if (!w->have_oom_count || w->dir_fd < 0)
        return;
    /* An fd of our own: a read through the watcher's would clear the
     * POLLPRI it waits for (v2). */
    int fd = openat(w->dir_fd, w->events_name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    note_oom_kills(w, fd, false);
    close(fd);
}

bool cgroup_watch_take(struct cgroup_watch *w, struct cgroup_record *record)
{
    pthread_mutex_lock(&w->lock);
    bool any = w->count > 0;
    if (any) {
        *record = w->queue[w->head];
        w->head = (w->head + 1) % QUEUE_MAX;
        w->count--;
    }
    unsigned long dropped = w->dropped;
    w->dropped = 0;
    const char *ended = w->ended;
    int ended_errno = w->ended_errno;
    pthread_mutex_unlock(&w->lock);
    if (dropped)
        log_warn("memory cgroup '%s': %lu event(s) dropped, too many at once", w->path, dropped);
    /* After the records queued before it. A cgroup removed once the
     * target in it is gone is the normal end of a container: -v only. */
    if (!any && ended && !w->ended_told) {
        w->ended_told = true;
        pid_t target = w->target ? w->target : w->pid;
        char state = procfs_state(target);
        if (state == 0 || state == 'Z' || state == 'X')
            log_info("memory cgroup '%s' is no longer watched: its target %d is gone",
                     w->path, (int)target);
        else
            log_warn("memory cgroup '%s' is no longer watched: %s: %s (removed?)", w->path, ended,
                     strerror(ended_errno));
    }
    return any;
}

void cgroup_watch_set_target(struct cgroup_watch *w, pid_t pid)
{
    char comm[PROCFS_COMM_MAX];
    procfs_read_comm(pid, pid, comm);
    pthread_mutex_lock(&w->lock);
    w->target = pid;
    snprintf(w->target_comm, sizeof w->target_comm, "%s", comm);
    pthread_mutex_unlock(&w->lock);
}

bool cgroup_watch_holds(const struct cgroup_watch *w, pid_t pid)
{
    char proc[64], text[16384], path[CGROUP_PATH_MAX];
    enum cgroup_version version;
    snprintf(proc, sizeof proc, "/proc/%d/cgroup", (int)pid);
    if (procfs_read_file(proc, text, sizeof text) < 0 ||
        cgroup_parse_proc(text, path, sizeof path, &version) < 0 || version != w->version ||
        strcmp(path, w->path) != 0)
        return false;
    struct stat st;
    return stat(w->dir, &st) == 0 && st.st_dev == w->dir_dev && st.st_ino == w->dir_ino &&
           procs_lists(w->dir, pid);
}

void cgroup_watch_stop(struct cgroup_watch *w)
{
    if (w->stopped)
        return;
    w->stopped = true;
    if (w->started) {
        uint64_t one = 1;
        if (write(w->stop_efd, &one, sizeof one) != (ssize_t)sizeof one)
            log_warn("cannot stop the memory cgroup watch: %s", strerror(errno));
        pthread_join(w->thread, NULL);
        w->started = false;
    }
}

bool cgroup_watch_done(struct cgroup_watch *w)
{
    pthread_mutex_lock(&w->lock);
    bool empty = w->count == 0 && w->dropped == 0;
    bool ended = w->stopped || (w->ended && w->ended_told);
    pthread_mutex_unlock(&w->lock);
    return empty && ended;
}

void cgroup_watch_free(struct cgroup_watch *w)
{
    if (!w)
        return;
    cgroup_watch_stop(w);
    int fds[] = {w->stop_efd, w->threshold_efd, w->oom_efd, w->low_efd,
                 w->usage_fd, w->events_fd, w->dir_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
