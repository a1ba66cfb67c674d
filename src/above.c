/*
 * above: watch the cgroup, attach above a mark, detach below another.
 * See include/above.h.
 */
#include "above.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"
#include "output.h"
#include "procfs.h"

/* Without pidfd_open (Linux before 5.3, valgrind): how often /proc says
 * whether a watched target is still there. */
#define GONE_CHECK_MS 1000

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

struct above_target {
    pid_t pid;
    int pidfd;                 /* readable once the process is gone; -1 without
                                  pidfd_open (then /proc is looked at) */
    struct cgroup_watch *watch;
    bool wants;                /* usage rose to the attach mark and has not fallen since
                                  (nor has --duration ended the session) */
    bool attached;             /* in the loop's tracing session */
    bool gone;                 /* its pidfd said so; dropped once not attached */
    uint64_t usage, limit;     /* at the last record */
    struct above_target *next;
};

struct above {
    const struct options *opts;
    int epoll_fd;              /* the loop polls this one fd */
    int wake_fd;               /* the cgroup watches' records */
    int check_fd;              /* GONE_CHECK_MS timer, armed for targets without pidfd */
    struct above_target *targets;
    size_t count;
};

struct above *above_new(const struct options *opts, bool *failed)
{
    *failed = false;
    if (!opts->has_attach_above)
        return NULL;
    struct above *a = calloc(1, sizeof *a);
    if (!a) {
        log_error("out of memory");
        *failed = true;
        return NULL;
    }
    a->opts = opts;
    a->check_fd = -1;
    a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    a->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = a->wake_fd};
    if (a->wake_fd < 0 || a->epoll_fd < 0 ||
        epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, a->wake_fd, &ev) < 0) {
        log_error("cannot set up the memory cgroup watch of --attach-above: %s",
                  strerror(errno));
        a->epoll_fd >= 0 ? close(a->epoll_fd) : 0;
        a->wake_fd >= 0 ? close(a->wake_fd) : 0;
        free(a);
        *failed = true;
        return NULL;
    }
    return a;
}

static void free_target(struct above_target *t)
{
    cgroup_watch_free(t->watch);
    if (t->pidfd >= 0)
        close(t->pidfd);
    free(t);
}

void above_free(struct above *a)
{
    if (!a)
        return;
    while (a->targets) {
        struct above_target *t = a->targets;
        a->targets = t->next;
        free_target(t);
    }
    close(a->epoll_fd);
    close(a->wake_fd);
    if (a->check_fd >= 0)
        close(a->check_fd);
    free(a);
}

/* A target without pidfd: /proc is looked at every GONE_CHECK_MS. */
static int start_gone_checks(struct above *a)
{
    if (a->check_fd >= 0)
        return 0;
    struct itimerspec every = {.it_interval = {.tv_nsec = GONE_CHECK_MS % 1000 * 1000000L,
                                               .tv_sec = GONE_CHECK_MS / 1000},
                               .it_value = {.tv_nsec = GONE_CHECK_MS % 1000 * 1000000L,
                                            .tv_sec = GONE_CHECK_MS / 1000}};
    struct epoll_event ev = {.events = EPOLLIN};
    if ((a->check_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0 ||
        timerfd_settime(a->check_fd, 0, &every, NULL) < 0 ||
        (ev.data.fd = a->check_fd, epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, a->check_fd, &ev)) < 0)
        return -1;
    return 0;
}

static struct above_target *find(const struct above *a, pid_t pid)
{
    for (struct above_target *t = a->targets; t; t = t->next)
        if (t->pid == pid)
            return t;
    return NULL;
}

int above_add(struct above *a, pid_t pid, bool required)
{
    if (!a || find(a, pid))
        return 0;
    struct above_target *t = calloc(1, sizeof *t);
    if (!t) {
        log_error("out of memory");
        return -1;
    }
    t->pid = pid;
    t->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (t->pidfd < 0 && (errno != ENOSYS || start_gone_checks(a) < 0)) {
        log_error("cannot watch process %d for its end: %s", (int)pid, strerror(errno));
        free(t);
        return required ? -1 : 0;
    }
    const struct mark *low = a->opts->has_detach_below ? &a->opts->detach_below : NULL;
    t->watch = cgroup_watch_new_marks(pid, &a->opts->attach_above, low, MARKS_LOW_PERCENT,
                                      "--attach-above");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = t->pidfd};
    if (!t->watch || cgroup_watch_start(t->watch, a->wake_fd) < 0) {
        free_target(t);
        return required ? -1 : 0;
    }
    if (t->pidfd >= 0 && epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, t->pidfd, &ev) < 0) {
        log_error("cannot watch process %d for --attach-above: epoll: %s", (int)pid,
                  strerror(errno));
        free_target(t);
        return required ? -1 : 0;
    }
    cgroup_watch_set_target(t->watch, pid);
    t->next = a->targets;
    a->targets = t;
    a->count++;
    char high[32], lowtext[32];
    log_note("process %d: tracing nothing until memory cgroup '%s' reaches %s; detaching "
             "below %s", (int)pid, cgroup_watch_path(t->watch),
             format_size(cgroup_watch_threshold(t->watch), high, sizeof high),
             format_size(cgroup_watch_low(t->watch), lowtext, sizeof lowtext));
    /* Usage above the mark already: the record is queued, the loop told. */
    uint64_t one = 1;
    if (write(a->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_warn("cannot wake the loop: %s", strerror(errno));
    return 0;
}

bool above_has(const struct above *a, pid_t pid)
{
    return a && find(a, pid);
}

size_t above_count(const struct above *a)
{
    return a ? a->count : 0;
}

int above_fd(const struct above *a)
{
    return a ? a->epoll_fd : -1;
}

static void mark_event(const struct above_target *t, const char *action, const char *reason)
{
    struct event_origin o;
    event_origin_fill(&o, t->pid, t->pid);
    struct mark_event e = {
        .cgroup = cgroup_watch_path(t->watch),
        .action = action,
        .reason = reason,
        .usage = t->usage,
        .limit = t->limit,
        .attach_mark = cgroup_watch_threshold(t->watch),
        .detach_mark = cgroup_watch_low(t->watch),
    };
    output_mark(&o, &e);
}

static void unlink_target(struct above *a, struct above_target *gone)
{
    for (struct above_target **p = &a->targets; *p; p = &(*p)->next) {
        if (*p == gone) {
            *p = gone->next;
            break;
        }
    }
    free_target(gone); /* closing the pidfd takes it out of the epoll set */
    a->count--;
}

/* Targets gone and not attached (an attached one's end is the source's
 * to report; it is dropped when the session ends). */
static void drop_gone(struct above *a)
{
    struct above_target *t = a->targets;
    while (t) {
        struct above_target *next = t->next;
        if (t->gone && !t->attached) {
            log_note("process %d is gone: its memory cgroup is no longer watched", (int)t->pid);
            unlink_target(a, t);
        }
        t = next;
    }
}

void above_process(struct above *a)
{
    if (!a)
        return;
    uint64_t value;
    if (read(a->wake_fd, &value, sizeof value) < 0 && errno != EAGAIN)
        log_warn("cannot read the memory cgroup watch's wake-up: %s", strerror(errno));
    struct epoll_event ready[16];
    int n = epoll_wait(a->epoll_fd, ready, 16, 0);
    for (int i = 0; i < n; i++) {
        uint64_t ticks;
        if (ready[i].data.fd == a->check_fd && read(a->check_fd, &ticks, sizeof ticks) > 0) {
            for (struct above_target *g = a->targets; g; g = g->next) {
                char state = g->pidfd < 0 ? procfs_state(g->pid) : 'R';
                g->gone = g->gone || state == 0 || state == 'Z' || state == 'X';
            }
        }
        for (struct above_target *g = a->targets; g; g = g->next) {
            if (g->pidfd == ready[i].data.fd && !g->gone) {
                g->gone = true; /* level-triggered: polled no more */
                epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, g->pidfd, NULL);
            }
        }
    }
    drop_gone(a);
    struct above_target *t = a->targets;
    while (t) {
        struct above_target *next = t->next;
        struct cgroup_record rec;
        while (cgroup_watch_take(t->watch, &rec)) {
            if (rec.kind == CGROUP_OOM)
                continue; /* --cgroup-threshold reports those, while attached */
            t->usage = rec.usage;
            t->limit = rec.limit;
            if (rec.kind == CGROUP_ABOVE) {
                t->wants = true;
            } else if (t->wants) {
                t->wants = false;
                if (t->attached)
                    mark_event(t, "detach", "below");
            }
        }
        t = next;
    }
}

pid_t above_next_to_attach(struct above *a)
{
    for (struct above_target *t = a ? a->targets : NULL; t; t = t->next) {
        if (t->wants && !t->attached) {
            t->attached = true;
            mark_event(t, "attach", "above");
            return t->pid;
        }
    }
    return 0;
}

void above_attach_failed(struct above *a, pid_t pid)
{
    struct above_target *t = a ? find(a, pid) : NULL;
    if (t) {
        t->attached = false;
        t->wants = false;
    }
}

bool above_wants_tracing(const struct above *a)
{
    for (const struct above_target *t = a ? a->targets : NULL; t; t = t->next)
        if (t->attached && t->wants)
            return true;
    return false;
}

void above_duration_over(struct above *a)
{
    for (struct above_target *t = a ? a->targets : NULL; t; t = t->next) {
        if (t->attached && t->wants) {
            t->wants = false;
            mark_event(t, "detach", "duration");
        }
    }
}

size_t above_session_ended(struct above *a, pid_t *pids, size_t max)
{
    size_t n = 0;
    for (struct above_target *t = a ? a->targets : NULL; t; t = t->next) {
        if (t->attached && n < max)
            pids[n++] = t->pid;
        t->attached = false;
    }
    drop_gone(a);
    return n;
}
