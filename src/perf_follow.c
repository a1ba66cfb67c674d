/*
 * perf_follow: the followed processes of a cgroup-scoped perf source. See
 * include/perf_follow.h.
 */
#include "perf_follow.h"

#include <stdlib.h>
#include <string.h>

struct perf_follow {
    pid_t *pids; /* sorted */
    size_t n, cap;
};

struct perf_follow *perf_follow_new(void)
{
    return calloc(1, sizeof(struct perf_follow));
}

/* Where pid is or would go. */
static size_t position(const struct perf_follow *f, pid_t pid)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (f->pids[mid] < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool perf_follow_has(const struct perf_follow *f, pid_t pid)
{
    size_t i = position(f, pid);
    return i < f->n && f->pids[i] == pid;
}

int perf_follow_add(struct perf_follow *f, pid_t pid)
{
    size_t i = position(f, pid);
    if (i < f->n && f->pids[i] == pid)
        return 0;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        pid_t *grown = realloc(f->pids, cap * sizeof *grown);
        if (!grown)
            return -1;
        f->pids = grown;
        f->cap = cap;
    }
    memmove(f->pids + i + 1, f->pids + i, (f->n - i) * sizeof *f->pids);
    f->pids[i] = pid;
    f->n++;
    return 0;
}

static void forget(struct perf_follow *f, pid_t pid)
{
    size_t i = position(f, pid);
    if (i < f->n && f->pids[i] == pid) {
        memmove(f->pids + i, f->pids + i + 1, (f->n - i - 1) * sizeof *f->pids);
        f->n--;
    }
}

bool perf_follow_pass(struct perf_follow *f, const struct perf_ev *ev)
{
    switch (ev->kind) {
    case PERF_EV_LOST:
        return true;
    case PERF_EV_SPAWN:
        if (ev->pid == ev->parent_pid)
            return perf_follow_has(f, ev->pid); /* a thread */
        if (perf_follow_has(f, ev->parent_pid)) {
            /* Out of memory: the child is not followed, and its records
             * are dropped like a stranger's; nothing better to do. */
            return perf_follow_add(f, ev->pid) == 0;
        }
        forget(f, ev->pid);
        return false;
    default:
        return perf_follow_has(f, ev->pid);
    }
}

const pid_t *perf_follow_pids(const struct perf_follow *f, size_t *n)
{
    *n = f->n;
    return f->pids;
}

void perf_follow_free(struct perf_follow *f)
{
    if (!f)
        return;
    free(f->pids);
    free(f);
}
