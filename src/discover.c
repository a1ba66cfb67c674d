/*
 * discover: processes by name, command line or cgroup, from /proc. See
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

/* A cgroup selector and, for a container id prefix, the container it
 * names. */
struct selector {
    struct cgroup_sel sel;
    bool is_prefix;                     /* a container id of fewer than 64 digits */
    char bound[CGROUP_ID_DIGITS + 1];   /* the container it names; "" until known */
    char seen[CGROUP_ID_DIGITS + 1];    /* unbound: the first container this scan saw */
    char other[CGROUP_ID_DIGITS + 1];   /* ... and a second one: ambiguous */
    bool ambiguity_said, another_said;  /* each said once */
};

/* A process selected by a scan, before it is offered. */
struct candidate {
    pid_t pid;
    unsigned long long start_time;
    char comm[PROCFS_COMM_MAX];
    const char *matched;
    char cgroup[DISCOVER_CGROUP_SHOWN];
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
    struct selector *sels;
    unsigned nsels;
    char *cgroup_text;        /* DISCOVER_CGROUP_TEXT_MAX bytes, with selectors */
    /* Processes selected only by an unbound prefix: offered at the end of
     * the scan, once it is known that the prefix names one container. */
    struct candidate *pending;
    size_t npending, pending_cap;
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

struct discover *discover_new(const char *const *names, unsigned nnames, const char *regex,
                              const struct cgroup_sel *sels, unsigned nsels)
{
    struct discover *d = calloc(1, sizeof *d);
    if (!d || !(d->cmdline = malloc(DISCOVER_CMDLINE_MAX + 1)) ||
        (nsels && (!(d->sels = calloc(nsels, sizeof *d->sels)) ||
                   !(d->cgroup_text = malloc(DISCOVER_CGROUP_TEXT_MAX))))) {
        log_error("out of memory");
        discover_free(d);
        return NULL;
    }
    for (unsigned i = 0; i < nsels; i++) {
        d->sels[i].sel = sels[i];
        d->sels[i].is_prefix =
            sels[i].kind == CGROUP_SEL_CONTAINER && sels[i].ndigits < CGROUP_ID_DIGITS;
    }
    d->nsels = nsels;
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
            discover_free(d);
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
    free(d->sels);
    free(d->cgroup_text);
    free(d->pending);
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

enum verdict {
    NOT_SELECTED,
    SELECTED,
    PENDING, /* only by a container id prefix not bound yet */
};

/* The cgroup selectors' verdict on process pid: SELECTED (c->matched and
 * c->cgroup set), PENDING (the same, and *prefix and id say which prefix
 * and which container), or NOT_SELECTED. */
static enum verdict cgroup_verdict(struct discover *d, pid_t pid, struct candidate *c,
                                   struct selector **prefix, char *id)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
    if (procfs_read_file(path, d->cgroup_text, DISCOVER_CGROUP_TEXT_MAX) <= 0)
        return NOT_SELECTED; /* gone meanwhile */
    enum verdict v = NOT_SELECTED;
    for (unsigned i = 0; i < d->nsels; i++) {
        struct selector *s = &d->sels[i];
        char full[CGROUP_ID_DIGITS + 1] = "", line[DISCOVER_CGROUP_SHOWN];
        if (!cgroup_sel_match_proc(&s->sel, d->cgroup_text, line, sizeof line, full))
            continue;
        if (s->is_prefix && s->bound[0] && strcmp(full, s->bound) != 0) {
            if (!s->another_said)
                log_warn("--container '%s' also names container %s (process %d): only "
                         "container %s is selected; give more of the id's digits to choose",
                         s->sel.text, full, (int)pid, s->bound);
            s->another_said = true;
            continue;
        }
        if (s->is_prefix && !s->bound[0]) {
            if (v == NOT_SELECTED) {
                v = PENDING;
                c->matched = cgroup_sel_name(s->sel.kind);
                memcpy(c->cgroup, line, sizeof line);
                *prefix = s;
                memcpy(id, full, sizeof full);
            }
            continue;
        }
        c->matched = cgroup_sel_name(s->sel.kind);
        memcpy(c->cgroup, line, sizeof line);
        return SELECTED;
    }
    return v;
}

/* Whether the selectors take the process, with c->matched set (the name
 * selector when names are given, else the cgroup one) and c->cgroup.
 * Leaves its command line in d->cmdline when it was read. */
static enum verdict selects(struct discover *d, pid_t pid, const struct discover_stat *st,
                            struct candidate *c, bool *have_cmdline, struct selector **prefix,
                            char *id)
{
    *have_cmdline = false;
    c->cgroup[0] = '\0';
    bool by_names = d->nnames || d->has_regex;
    const char *by = NULL;
    for (unsigned i = 0; i < d->nnames && !by; i++)
        if (strcmp(st->comm, d->names[i]) == 0)
            by = "comm";
    if (by_names && !by && !d->has_regex)
        return NOT_SELECTED;
    /* The cgroup before the command line: a few hundred bytes, where a
     * command line can be 128 KiB. */
    enum verdict v = SELECTED;
    if (d->nsels && (v = cgroup_verdict(d, pid, c, prefix, id)) == NOT_SELECTED)
        return NOT_SELECTED;
    if (by_names && !by) {
        *have_cmdline = true;
        if (read_cmdline(d, pid) == 0 || regexec(&d->regex, d->cmdline, 0, NULL, 0) != 0)
            return NOT_SELECTED;
        by = "match";
    }
    if (by)
        c->matched = by;
    return v;
}

/* Offers candidate c: false if skip() turned it down. */
static bool offer(struct discover *d, const struct candidate *c, bool have_cmdline,
                  bool (*skip)(pid_t pid, void *ctx),
                  void (*found)(const struct discover_match *m, void *ctx), void *ctx)
{
    if (skip && skip(c->pid, ctx))
        return false;
    struct discover_match m = {.pid = c->pid, .start_time = c->start_time,
                               .matched = c->matched};
    memcpy(m.comm, c->comm, sizeof m.comm);
    memcpy(m.cgroup, c->cgroup, sizeof m.cgroup);
    size_t len = have_cmdline ? strlen(d->cmdline) : read_cmdline(d, c->pid);
    if (len > DISCOVER_CMDLINE_SHOWN) {
        memcpy(m.cmdline, d->cmdline, DISCOVER_CMDLINE_SHOWN);
        strcpy(m.cmdline + DISCOVER_CMDLINE_SHOWN, "...");
    } else {
        memcpy(m.cmdline, d->cmdline, len + 1);
    }
    found(&m, ctx);
    return true;
}

static void add_pending(struct discover *d, const struct candidate *c)
{
    if (d->npending == d->pending_cap) {
        size_t cap = d->pending_cap ? d->pending_cap * 2 : 8;
        struct candidate *grown = realloc(d->pending, cap * sizeof *grown);
        if (!grown)
            return; /* the prefix binds anyway; the process is offered at the next scan */
        d->pending = grown;
        d->pending_cap = cap;
    }
    d->pending[d->npending++] = *c;
}

/* An unbound prefix saw container id in this scan. */
static void note_prefix_seen(struct selector *s, const char *id)
{
    if (!s->seen[0])
        strcpy(s->seen, id);
    else if (strcmp(s->seen, id) != 0 && !s->other[0])
        strcpy(s->other, id);
}

/* At the end of a scan: each prefix that saw one container is bound to
 * it; one that saw two is said to be ambiguous (once). True if any was. */
static bool bind_prefixes(struct discover *d)
{
    bool ambiguous = false;
    for (unsigned i = 0; i < d->nsels; i++) {
        struct selector *s = &d->sels[i];
        if (!s->is_prefix || s->bound[0])
            continue;
        if (s->other[0]) {
            if (!s->ambiguity_said)
                log_error("--container '%s' names more than one container (%s and %s): "
                          "neither is selected; give more of the id's digits",
                          s->sel.text, s->seen, s->other);
            s->ambiguity_said = true;
            ambiguous = true;
        } else if (s->seen[0]) {
            strcpy(s->bound, s->seen);
        }
        s->seen[0] = s->other[0] = '\0';
    }
    return ambiguous;
}

int discover_scan(struct discover *d, bool (*skip)(pid_t pid, void *ctx),
                  void (*found)(const struct discover_match *m, void *ctx), void *ctx)
{
    DIR *dir = opendir("/proc");
    if (!dir)
        return -1;
    for (size_t i = 0; i < d->nignored; i++)
        d->ignored[i].seen = false;
    d->npending = 0;
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
        struct candidate c = {.pid = (pid_t)pid, .start_time = st.start_time};
        bool have_cmdline;
        struct selector *prefix = NULL;
        char id[CGROUP_ID_DIGITS + 1];
        enum verdict v = selects(d, (pid_t)pid, &st, &c, &have_cmdline, &prefix, id);
        if (v == NOT_SELECTED)
            continue;
        struct ignored *ign = find_ignored(d, (pid_t)pid, st.start_time);
        if (ign) {
            ign->seen = true;
            continue;
        }
        memcpy(c.comm, st.comm, sizeof c.comm);
        if (v == PENDING) {
            note_prefix_seen(prefix, id);
            add_pending(d, &c);
        } else if (offer(d, &c, have_cmdline, skip, found, ctx)) {
            offered++;
        }
    }
    closedir(dir);
    bool ambiguous = bind_prefixes(d);
    for (size_t i = 0; i < d->npending && !ambiguous; i++)
        offered += offer(d, &d->pending[i], false, skip, found, ctx);
    /* Processes no longer there (or no longer matching) are forgotten. */
    size_t kept = 0;
    for (size_t i = 0; i < d->nignored; i++)
        if (d->ignored[i].seen)
            d->ignored[kept++] = d->ignored[i];
    d->nignored = kept;
    return ambiguous ? -2 : offered;
}

/* discover_log_none with cgroup selectors: "no process in container 'X'
 * or pod 'Y' named 'java' is running". */
static void log_none_in_cgroups(const struct discover *d, const char *names)
{
    char where[1024];
    size_t used = 0;
    where[0] = '\0';
    for (unsigned i = 0; i < d->nsels && used < sizeof where; i++) {
        int n = snprintf(where + used, sizeof where - used, "%s%s '%s'", i ? " or " : "",
                         cgroup_sel_name(d->sels[i].sel.kind), d->sels[i].sel.text);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    char which[768] = "";
    if (d->nnames && d->has_regex)
        snprintf(which, sizeof which, " named %s or whose command line matches '%s'", names,
                 d->regex_text);
    else if (d->nnames)
        snprintf(which, sizeof which, " named %s", names);
    else if (d->has_regex)
        snprintf(which, sizeof which, " whose command line matches '%s'", d->regex_text);
    log_error("no process in %s%s is running (a process's cgroups are in /proc/PID/cgroup; "
              "full container ids: docker ps --no-trunc, crictl ps); add --wait to wait for "
              "one",
              where, which);
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
    if (d->nsels) {
        log_none_in_cgroups(d, names);
        return;
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
