/*
 * discover: processes by name or command line, from /proc. See
 * include/discover.h.
 */
#include "discover.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* include/linux/sched.h: the task is a kernel thread. */
#define PF_KTHREAD 0x00200000UL

/* Enough for a shell, a wrapper script, an init and a runtime above us. */
#define MAX_ANCESTORS 64

struct ignored {
    pid_t pid;
    unsigned long long start_time;
    bool seen; /* in the current scan */
};

struct discover {
    const char *const *names;
    unsigned nnames;
    const char *regex_text;
    regex_t regex;
    bool has_regex;
    pid_t self;
    pid_t ancestors[MAX_ANCESTORS];
    unsigned nancestors;
    char *cmdline;            /* DISCOVER_CMDLINE_MAX + 1 bytes, reused by every scan */
    struct ignored *ignored;
    size_t nignored, cap;
};

/* ---- pure parts ------------------------------------------------------------- */

int discover_parse_stat(const char *text, struct discover_stat *st)
{
    const char *open = strchr(text, '(');
    const char *close = strrchr(text, ')');
    if (!open || !close || close < open)
        return -1;
    size_t n = (size_t)(close - open - 1);
    if (n >= sizeof st->comm)
        n = sizeof st->comm - 1; /* the kernel never gives more than 15 */
    memcpy(st->comm, open + 1, n);
    st->comm[n] = '\0';
    /* After ") ": state (field 3), then numbers; flags is field 9 and
     * starttime field 22. */
    const char *p = close + 1;
    if (*p++ != ' ' || !*p)
        return -1;
    st->state = *p++;
    for (int field = 4; field <= 22; field++) {
        if (*p++ != ' ')
            return -1;
        char *end;
        errno = 0;
        if (field == 4 || field == 9 || field == 22) {
            unsigned long long v = strtoull(p, &end, 10);
            if (end == p || errno)
                return -1;
            if (field == 4)
                st->ppid = (pid_t)v;
            else if (field == 9)
                st->flags = (unsigned long)v;
            else
                st->start_time = v;
        } else {
            (void)strtoll(p, &end, 10); /* tty_nr and tpgid can be negative */
            if (end == p)
                return -1;
        }
        p = end;
    }
    return 0;
}

size_t discover_join_cmdline(char *buf, size_t len)
{
    while (len > 0 && buf[len - 1] == '\0')
        len--;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[len] = '\0';
    return len;
}

/* ---- set-up ----------------------------------------------------------------- */

static int read_stat(pid_t pid, struct discover_stat *st)
{
    char path[64], text[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (procfs_read_file(path, text, sizeof text) <= 0)
        return -1;
    return discover_parse_stat(text, st);
}

static void find_ancestors(struct discover *d)
{
    pid_t pid = getppid();
    while (pid > 0 && d->nancestors < MAX_ANCESTORS) {
        d->ancestors[d->nancestors++] = pid;
        struct discover_stat st;
        if (read_stat(pid, &st) < 0 || st.ppid == pid)
            break;
        pid = st.ppid; /* 0 above a namespace's init, or above pid 1 */
    }
}

struct discover *discover_new(const char *const *names, unsigned nnames, const char *regex)
{
    struct discover *d = calloc(1, sizeof *d);
    if (!d || !(d->cmdline = malloc(DISCOVER_CMDLINE_MAX + 1))) {
        log_error("out of memory");
        free(d);
        return NULL;
    }
    d->names = names;
    d->nnames = nnames;
    d->regex_text = regex;
    if (regex) {
        /* options.c checked it already: this cannot fail but for memory. */
        int err = regcomp(&d->regex, regex, REG_EXTENDED | REG_NOSUB);
        if (err != 0) {
            char why[128];
            regerror(err, &d->regex, why, sizeof why);
            log_error("cannot compile --match '%s': %s", regex, why);
            free(d->cmdline);
            free(d);
            return NULL;
        }
        d->has_regex = true;
    }
    d->self = getpid();
    find_ancestors(d);
    return d;
}

void discover_free(struct discover *d)
{
    if (!d)
        return;
    if (d->has_regex)
        regfree(&d->regex);
    free(d->cmdline);
    free(d->ignored);
    free(d);
}

/* ---- scanning --------------------------------------------------------------- */

static bool is_ours(const struct discover *d, pid_t pid)
{
    if (pid == d->self)
        return true;
    for (unsigned i = 0; i < d->nancestors; i++)
        if (d->ancestors[i] == pid)
            return true;
    return false;
}

/* The command line into d->cmdline, joined; its length (0 when gone or
 * empty: a zombie or a kernel thread has none). */
static size_t read_cmdline(struct discover *d, pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    ssize_t n = procfs_read_file(path, d->cmdline, DISCOVER_CMDLINE_MAX + 1);
    if (n <= 0) {
        d->cmdline[0] = '\0';
        return 0;
    }
    return discover_join_cmdline(d->cmdline, (size_t)n);
}

static struct ignored *find_ignored(struct discover *d, pid_t pid, unsigned long long start)
{
    for (size_t i = 0; i < d->nignored; i++)
        if (d->ignored[i].pid == pid && d->ignored[i].start_time == start)
            return &d->ignored[i];
    return NULL;
}

void discover_ignore(struct discover *d, const struct discover_match *m)
{
    if (find_ignored(d, m->pid, m->start_time))
        return;
    if (d->nignored == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct ignored *grown = realloc(d->ignored, cap * sizeof *grown);
        if (!grown)
            return; /* offered again at the next scan: noisy, not wrong */
        d->ignored = grown;
        d->cap = cap;
    }
    d->ignored[d->nignored++] = (struct ignored){m->pid, m->start_time, true};
}

/* Which selector takes the process, or NULL. Leaves its command line in
 * d->cmdline when it was read. */
static const char *selects(struct discover *d, pid_t pid, const struct discover_stat *st,
                           bool *have_cmdline)
{
    *have_cmdline = false;
    for (unsigned i = 0; i < d->nnames; i++)
        if (strcmp(st->comm, d->names[i]) == 0)
            return "comm";
    if (!d->has_regex)
        return NULL;
    *have_cmdline = true;
    if (read_cmdline(d, pid) == 0)
        return NULL;
    return regexec(&d->regex, d->cmdline, 0, NULL, 0) == 0 ? "match" : NULL;
}

int discover_scan(struct discover *d, bool (*skip)(pid_t pid, void *ctx),
                  void (*found)(const struct discover_match *m, void *ctx), void *ctx)
{
    DIR *dir = opendir("/proc");
    if (!dir)
        return -1;
    for (size_t i = 0; i < d->nignored; i++)
        d->ignored[i].seen = false;
    int offered = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char *end;
        errno = 0;
        long pid = strtol(de->d_name, &end, 10);
        if (errno || *end || pid <= 0 || is_ours(d, (pid_t)pid))
            continue;
        struct discover_stat st;
        if (read_stat((pid_t)pid, &st) < 0)
            continue; /* gone meanwhile */
        if ((st.flags & PF_KTHREAD) || st.state == 'Z' || st.state == 'X')
            continue;
        bool have_cmdline;
        const char *by = selects(d, (pid_t)pid, &st, &have_cmdline);
        if (!by)
            continue;
        struct ignored *ign = find_ignored(d, (pid_t)pid, st.start_time);
        if (ign) {
            ign->seen = true;
            continue;
        }
        if (skip && skip((pid_t)pid, ctx))
            continue;
        struct discover_match m = {.pid = (pid_t)pid, .start_time = st.start_time,
                                   .matched = by};
        memcpy(m.comm, st.comm, sizeof m.comm);
        size_t len = have_cmdline ? strlen(d->cmdline) : read_cmdline(d, (pid_t)pid);
        if (len > DISCOVER_CMDLINE_SHOWN) {
            memcpy(m.cmdline, d->cmdline, DISCOVER_CMDLINE_SHOWN);
            strcpy(m.cmdline + DISCOVER_CMDLINE_SHOWN, "...");
        } else {
            memcpy(m.cmdline, d->cmdline, len + 1);
        }
        offered++;
        found(&m, ctx);
    }
    closedir(dir);
    /* Processes no longer there (or no longer matching) are forgotten. */
    size_t kept = 0;
    for (size_t i = 0; i < d->nignored; i++)
        if (d->ignored[i].seen)
            d->ignored[kept++] = d->ignored[i];
    d->nignored = kept;
    return offered;
}

void discover_log_none(const struct discover *d)
{
    char names[512]; /* 16 quoted names of 15 bytes fit */
    size_t used = 0;
    names[0] = '\0';
    for (unsigned i = 0; i < d->nnames && used < sizeof names; i++) {
        int n = snprintf(names + used, sizeof names - used, "%s'%s'", i ? " or " : "",
                         d->names[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (d->nnames && d->has_regex)
        log_error("no process named %s, nor one whose command line matches '%s', is running "
                  "(see ps -e -o comm,args); add --wait to wait for one",
                  names, d->regex_text);
    else if (d->nnames)
        log_error("no process named %s is running (names as in /proc/PID/comm, at most 15 "
                  "characters: see ps -e -o comm); add --wait to wait for one",
                  names);
    else
        log_error("no process whose command line matches '%s' is running (see ps -e -o "
                  "args); add --wait to wait for one",
                  d->regex_text);
}
