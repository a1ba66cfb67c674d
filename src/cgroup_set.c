/*
 * cgroup_set: one watch per memory cgroup of the targets. See
 * include/cgroup_set.h for the contract.
 */
#include "cgroup_set.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

struct member {
    struct cgroup_watch *w;
    pid_t *pids;      /* its targets, oldest first; the last one is named */
    size_t n, cap;
    bool started;
};

struct cgroup_set {
    uint64_t threshold;
    unsigned pct;
    struct member *m;
    size_t n, cap;
    int wake_fd;      /* every watch's records wake the loop through this one */
};

struct cgroup_set *cgroup_set_new(uint64_t threshold, unsigned pct)
{
    struct cgroup_set *s = calloc(1, sizeof *s);
    if (!s) {
        log_error("out of memory");
        return NULL;
    }
    s->threshold = threshold;
    s->pct = pct;
    if ((s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        log_error("cannot watch memory cgroups: eventfd: %s", strerror(errno));
        free(s);
        return NULL;
    }
    return s;
}

static void member_release(struct member *m)
{
    cgroup_watch_free(m->w);
    free(m->pids);
}

void cgroup_set_free(struct cgroup_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        member_release(&s->m[i]);
    free(s->m);
    close(s->wake_fd); /* after the watching threads are joined */
    free(s);
}

static struct member *member_of(const struct cgroup_set *s, pid_t pid, size_t *index)
{
    for (size_t i = 0; i < s->n; i++)
        for (size_t k = 0; k < s->m[i].n; k++)
            if (s->m[i].pids[k] == pid) {
                if (index)
                    *index = k;
                return &s->m[i];
            }
    return NULL;
}

bool cgroup_set_has(const struct cgroup_set *s, pid_t pid)
{
    return s && member_of(s, pid, NULL) != NULL;
}

static int member_push(struct member *m, pid_t pid)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4;
        pid_t *pids = realloc(m->pids, cap * sizeof *pids);
        if (!pids)
            return -1;
        m->pids = pids;
        m->cap = cap;
    }
    m->pids[m->n++] = pid;
    cgroup_watch_set_target(m->w, pid);
    return 0;
}

/* Takes pid off its member; the watch names the previous target, or
 * stops when none is left. */
static void member_drop(struct member *m, size_t k)
{
    memmove(&m->pids[k], &m->pids[k + 1], (m->n - k - 1) * sizeof *m->pids);
    if (--m->n > 0)
        cgroup_watch_set_target(m->w, m->pids[m->n - 1]);
    else
        cgroup_watch_stop(m->w);
}

void cgroup_set_remove(struct cgroup_set *s, pid_t pid)
{
    size_t k;
    struct member *m = s ? member_of(s, pid, &k) : NULL;
    if (m)
        member_drop(m, k);
}

int cgroup_set_add(struct cgroup_set *s, pid_t pid, bool required)
{
    size_t k;
    struct member *m = member_of(s, pid, &k);
    if (m && cgroup_watch_holds(m->w, pid)) {
        cgroup_watch_set_target(m->w, pid); /* the name after an exec */
        return 0;
    }
    if (m)
        member_drop(m, k); /* it moved */
    for (size_t i = 0; i < s->n; i++) {
        if (s->m[i].n > 0 && cgroup_watch_holds(s->m[i].w, pid)) {
            if (member_push(&s->m[i], pid) < 0)
                goto oom;
            return 0;
        }
    }
    struct cgroup_watch *w = cgroup_watch_new(pid, s->threshold, s->pct);
    if (!w) {
        if (required)
            return -1;
        log_warn("the memory cgroup of process %d is not watched (it is looked up again if it "
                 "execs)", (int)pid);
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        struct member *more = realloc(s->m, cap * sizeof *more);
        if (!more) {
            cgroup_watch_free(w);
            goto oom;
        }
        s->m = more;
        s->cap = cap;
    }
    s->m[s->n] = (struct member){.w = w};
    if (member_push(&s->m[s->n], pid) < 0) {
        cgroup_watch_free(w);
        goto oom;
    }
    s->n++;
    return 0;
oom:
    log_error("out of memory: the memory cgroup of process %d is not watched", (int)pid);
    return required ? -1 : 0;
}

int cgroup_set_start(struct cgroup_set *s)
{
    int rc = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct member *m = &s->m[i];
        if (m->started || m->n == 0)
            continue;
        m->started = true;
        if (cgroup_watch_start(m->w, s->wake_fd) < 0) {
            cgroup_watch_stop(m->w);
            rc = -1;
        }
    }
    return rc;
}

void cgroup_set_check_oom(struct cgroup_set *s)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (s->m[i].started)
            cgroup_watch_check_oom(s->m[i].w);
}

int cgroup_set_fd(const struct cgroup_set *s)
{
    return s ? s->wake_fd : -1;
}

bool cgroup_set_take(struct cgroup_set *s, struct cgroup_record *record,
                     const struct cgroup_watch **from)
{
    /* Cleared before the queues are looked at: a record queued after this
     * wakes the loop again. */
    uint64_t pending;
    if (read(s->wake_fd, &pending, sizeof pending) < 0 && errno != EAGAIN)
        log_warn("memory cgroup watch: %s", strerror(errno));
    /* Watches drained and ended go (the caller is done with what the
     * last call gave it). */
    for (size_t i = 0; i < s->n;) {
        struct member *m = &s->m[i];
        if (m->started && m->n == 0 && cgroup_watch_done(m->w)) {
            member_release(m);
            s->m[i] = s->m[--s->n];
        } else {
            i++;
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        struct member *m = &s->m[i];
        if (m->started && cgroup_watch_take(m->w, record)) {
            *from = m->w;
            return true;
        }
    }
    return false;
}
