/*
 * targets: --comm/--match/--cgroup/--container/--pod selection and --wait
 * rescans. See include/targets.h.
 */
#include "targets.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "discover.h"
#include "log.h"
#include "output.h"

/* With nothing traced, a new process is found within this... */
#define RESCAN_IDLE_MS 250
/* ...and while tracing, a second one (or a restarted container's) within
 * this. */
#define RESCAN_BUSY_MS 1000

struct targets {
    const struct options *opts;
    struct targets_hooks hooks;
    struct discover *discover;
    int timer_fd;   /* --wait; -1 without */
    long period_ms; /* 0: not armed yet */
};

struct targets *targets_new(const struct options *opts, const struct targets_hooks *hooks,
                            bool *failed)
{
    *failed = false;
    if (!OPTIONS_SELECTS(opts))
        return NULL;
    struct targets *t = calloc(1, sizeof *t);
    if (!t) {
        log_error("out of memory");
        *failed = true;
        return NULL;
    }
    t->opts = opts;
    t->hooks = *hooks;
    t->timer_fd = -1;
    if (!(t->discover = discover_new(opts->comms, opts->ncomms, opts->match_regex,
                                     opts->cgroup_sels, opts->ncgroup_sels))) {
        *failed = true;
        targets_free(t);
        return NULL;
    }
    if (opts->wait_for_target &&
        (t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0) {
        log_error("cannot create the --wait timer: %s", strerror(errno));
        *failed = true;
        targets_free(t);
        return NULL;
    }
    return t;
}

void targets_free(struct targets *t)
{
    if (!t)
        return;
    if (t->timer_fd >= 0)
        close(t->timer_fd);
    discover_free(t->discover);
    free(t);
}

int targets_fd(const struct targets *t)
{
    return t ? t->timer_fd : -1;
}

void targets_set_busy(struct targets *t, bool busy)
{
    long ms = busy ? RESCAN_BUSY_MS : RESCAN_IDLE_MS;
    if (!t || t->timer_fd < 0 || ms == t->period_ms)
        return;
    t->period_ms = ms;
    struct timespec period = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    struct itimerspec its = {.it_interval = period, .it_value = period};
    if (timerfd_settime(t->timer_fd, 0, &its, NULL) < 0)
        log_warn("cannot arm the --wait timer: %s", strerror(errno));
    if (!busy)
        log_info("waiting for a target (rescanning /proc every %ld ms)", ms);
}

struct scan {
    struct targets *t;
    int attached;
    int failed;
};

static bool already_ours(pid_t pid, void *ctx)
{
    struct scan *scan = ctx;
    return scan->t->hooks.ours(scan->t->hooks.ctx, pid);
}

static void attach_found(const struct discover_match *m, void *ctx)
{
    struct scan *scan = ctx;
    struct targets *t = scan->t;
    if (scan->failed && !t->opts->wait_for_target)
        return; /* all or nothing, as with -p: the detach is coming */
    struct event_origin origin = {.pid = m->pid, .tid = m->pid};
    clock_gettime(CLOCK_REALTIME, &origin.ts);
    memcpy(origin.comm, m->comm, sizeof origin.comm);
    output_target(&origin, m->cmdline, m->matched, m->cgroup[0] ? m->cgroup : NULL);
    if (t->hooks.attach(t->hooks.ctx, m->pid) == 0) {
        scan->attached++;
        return;
    }
    /* The attach said why. With --wait, not again for this process:
     * once is information, every 250 ms is noise. */
    scan->failed++;
    discover_ignore(t->discover, m);
}

int targets_attach(struct targets *t)
{
    if (!t)
        return 0;
    struct scan scan = {.t = t};
    int rc = discover_scan(t->discover, already_ours, attach_found, &scan);
    if (rc == -1) {
        log_error("cannot list /proc: %s; --comm, --match, --container, --pod and --cgroup "
                  "need the /proc of the targets' pid namespace (hostPID for a whole node)",
                  strerror(errno));
        return -1;
    }
    /* An ambiguous container id prefix was said once; --wait waits on
     * for the containers that are not ambiguous, the others stop. */
    if (t->opts->wait_for_target)
        return scan.attached;
    if (rc == -2)
        return -1;
    if (scan.failed)
        return -1;
    if (scan.attached == 0) {
        discover_log_none(t->discover);
        return -1;
    }
    return scan.attached;
}

int targets_rescan(struct targets *t)
{
    uint64_t expirations;
    if (read(t->timer_fd, &expirations, sizeof expirations) < 0)
        return 0; /* EAGAIN: not due after all */
    return targets_attach(t);
}
