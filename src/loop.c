/*
 * loop: one epoll set; sources, model and consumers wired together. See
 * include/loop.h.
 */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "above.h"
#include "cgroup_report.h"
#include "cpu_boost.h"
#include "dumper.h"
#include "filter.h"
#include "log.h"
#include "model.h"
#include "output.h"
#include "perf_events_source.h"
#include "perf_source.h"
#include "ptrace_source.h"
#include "summary.h"
#include "target.h"
#include "targets.h"
#include "unwind.h"

/* Once we ask every tracee to stop for the detach, how long we wait for
 * them before leaving the rest to the kernel (which detaches every tracee
 * of a tracer that exits, resuming it). A thread in uninterruptible sleep
 * can take this long to reach a stop. */
#define DETACH_GRACE_S 10

/* --attach-above: how long usage stays below the detach mark before the
 * detach. The cgroup is uncharged inside the munmap that makes it fall,
 * before the call returns: the perf source's record of that munmap is
 * written a moment later, and a detach at once would miss it. */
#define ABOVE_SETTLE_MS 200

struct loop {
    const struct options *opts;
    bool launch_mode;
    char source_note[640];     /* which source and why: said at the first attach; "" once said */
    pid_t launched_pid;
    struct model *model;
    struct source source;      /* the one event source (source.h) */
    struct dumper *dumper;     /* NULL with --no-dump */
    struct unwinder *unwinder; /* -k; NULL without */
    struct summary *summary;   /* -c; NULL without */
    struct cgroup_report *cgroup; /* --cgroup-threshold; NULL without */
    struct targets *targets;   /* --comm/--match; NULL without */
    struct above *above;       /* --attach-above; NULL without: then the source is
                                  opened only for a tracing session (source.src NULL
                                  between sessions) */
    bool above_begun;          /* --attach-above: a target is watched */
    bool stopping;             /* --attach-above: no new session (a signal) */
    int epoll_fd;
    int signal_fd;
    int duration_fd;           /* --duration (attach mode); -1 */
    int settle_fd;             /* --attach-above: ABOVE_SETTLE_MS below the mark; -1 */
    int cgroup_fd;             /* in the poll set once watching; -1 */
    sigset_t original_mask;    /* restored in a launched command */
    bool detaching;
    struct timespec detach_started;
    struct cpu_boost boost;    /* while attaching and detaching (cpu_boost.h) */
    bool finishing;            /* shutting down: pending dumps first, then detach */
    struct timespec finish_started;
    bool output_failure_said;
};

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- the wiring: who calls whom ----------------------------------------------- */

static void to_model(void *ctx, const struct event *e, struct model_reply *reply)
{
    struct loop *l = ctx;
    model_event(l->model, e, reply);
}

static void thread_name(void *ctx, pid_t pid, pid_t tid, char out[PROCFS_COMM_MAX])
{
    struct loop *l = ctx;
    l->source.ops->thread_name(l->source.src, pid, tid, out);
}

static bool capture_regs(void *ctx, pid_t tid, struct stack_regs *out)
{
    struct loop *l = ctx;
    return l->source.ops->capture_regs && l->source.ops->capture_regs(l->source.src, tid, out);
}

static int begin_cgroup(struct loop *l, pid_t pid);

static void process_execed(void *ctx, pid_t pid)
{
    struct loop *l = ctx;
    cgroup_report_exec(l->cgroup, pid, pid == l->launched_pid);
    begin_cgroup(l, pid);
}

static void process_gone(void *ctx, pid_t pid, int status)
{
    struct loop *l = ctx;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        cgroup_report_check_oom(l->cgroup); /* an OOM kill, maybe: its event first */
    cgroup_report_gone(l->cgroup, pid);
}

static void release_held(void *ctx, pid_t tid)
{
    struct loop *l = ctx;
    if (tid > 0 && l->source.ops->release)
        l->source.ops->release(l->source.src, tid);
}

static bool region_extent(void *ctx, pid_t pid, uint64_t id, pid_t mapper, uint64_t *start,
                          uint64_t *end, int *prot, pid_t *reader)
{
    struct loop *l = ctx;
    return model_region_extent(l->model, pid, id, mapper, start, end, prot, reader);
}

static void count_dump(void *ctx, uint64_t id)
{
    struct loop *l = ctx;
    summary_add_dump(l->summary, id);
}

static struct dump_target *mapped_now(void *ctx, size_t *n)
{
    struct loop *l = ctx;
    /* A threshold's regions are the model's: first every event the source
     * still holds back (at the attach, the target may have crossed it
     * before the watch began; two crossings may be read at once). */
    if (l->source.ops->catch_up)
        l->source.ops->catch_up(l->source.src);
    return model_mapped(l->model, n);
}

static struct dumper *threshold_dumper(void *ctx)
{
    struct loop *l = ctx;
    return l->detaching ? NULL : l->dumper;
}

static bool is_ours(void *ctx, pid_t pid)
{
    struct loop *l = ctx;
    if ((l->source.src && l->source.ops->follows(l->source.src, pid)) ||
        model_follows(l->model, pid) || above_has(l->above, pid))
        return true;
    /* A child forked by a tracee is traced by the kernel's doing before its
     * first stop reaches us: ours already, followed, not a new target. */
    return procfs_status_number(pid, "TracerPid") == (long)getpid();
}

static int attach_target(void *ctx, pid_t pid)
{
    return loop_attach(ctx, pid);
}

static int watch_fd(struct loop *l, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_error("cannot set up the event loop: epoll: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- set-up ------------------------------------------------------------------- */

static int setup_signals(struct loop *l)
{
    /* The user's signals arrive through this signalfd only: handlers
     * would race with the loop. Our own wake-ups are fds, and SIGCHLD is
     * the ptrace source's (its own signalfd). */
    sigset_t served;
    sigemptyset(&served);
    sigaddset(&served, SIGINT);
    sigaddset(&served, SIGTERM);
    sigaddset(&served, SIGHUP);
    if (l->opts->has_attach_above) {
        /* The ptrace source is opened later, at each session, when our
         * other threads exist: SIGCHLD must be blocked in them too, or it
         * could be taken by one of them and never reach its signalfd. */
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0) {
            log_error("cannot set up the event loop: %s", strerror(errno));
            return -1;
        }
    }
    if (sigprocmask(SIG_BLOCK, &served, &l->original_mask) < 0 ||
        (l->signal_fd = signalfd(-1, &served, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
        (l->epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        log_error("cannot set up the event loop: %s", strerror(errno));
        return -1;
    }
    return watch_fd(l, l->signal_fd);
}

static int setup_dumper(struct loop *l, int dump_dir_fd)
{
    const struct options *opts = l->opts;
    /* Created after the signals are blocked: the worker inherits that. */
    struct dumper_config config = {
        .dir_fd = dump_dir_fd,
        .dir_path = opts->dump_dir,
        .delay_ns = opts->dump_delay_ns,
        .redump_ns = opts->redump_ns,
        .on_unmap = opts->dump_on_unmap,
        .strings_min = opts->strings_min,
        .max_bytes = opts->max_dump_bytes,
        .max_dumps = opts->max_dumps,
        .region_extent = region_extent,
        .release = release_held,
        .dumped = count_dump,
        .ctx = l,
    };
    if (!(l->dumper = dumper_new(&config)))
        return -1;
    model_set_dumper(l->model, l->dumper);
    if (watch_fd(l, dumper_timer_fd(l->dumper)) < 0 || watch_fd(l, dumper_done_fd(l->dumper)) < 0)
        return -1;
    return 0;
}

/* --source: attach mode takes perf where it can (the target never
 * stops), ptrace otherwise (a sidecar with only SYS_PTRACE); launch mode
 * keeps ptrace and its seccomp filter unless told. The choice made is said
 * in one line, with how to make the other. */
/* Picks the event source. Which one and why (auto in attach mode) goes to
 * note, said once a target passes its checks: a pid that cannot be
 * traced at all gets its one error line, nothing before it. */
static const struct source_ops *choose_source(const struct options *opts, char *note,
                                              size_t note_size)
{
    if (opts->source == OPTIONS_SOURCE_PTRACE)
        return &PTRACE_SOURCE_OPS;
    if (opts->source == OPTIONS_SOURCE_PERF)
        return &PERF_EVENTS_SOURCE_OPS;
    if (opts->command) {
        log_info("following with ptrace and a seccomp filter (launch mode); --source perf "
                 "never stops the command but cannot hold threads for dumps");
        return &PTRACE_SOURCE_OPS;
    }
    char why[512] = "";
    pid_t probe_pid = opts->npids ? opts->pids[0] : getpid();
    struct perf_source_options po = {.calls = (enum perf_calls)opts->perf_calls,
                                     .stacks = opts->stack,
                                     .layout = (enum perf_layout)opts->perf_layout};
    if (perf_source_probe(probe_pid, &po, why, sizeof why) < 0) {
        snprintf(note, note_size,
                 "following with ptrace (perf_event tracepoints cannot be used: %s); every "
                 "map call stops its thread", why);
        return &PTRACE_SOURCE_OPS;
    }
    snprintf(note, note_size,
             "following with perf_event tracepoints (%s%s%s); --source ptrace to hold threads "
             "for dumps", geteuid() == 0 ? "root" : "allowed here", why[0] ? "; " : "", why);
    return &PERF_EVENTS_SOURCE_OPS;
}

/* Opens the event source chosen by loop_new and polls its fds: at the
 * start, or with --attach-above at each session's first attach. */
static int open_source(struct loop *l)
{
    const struct options *opts = l->opts;
    struct event_sink sink = {.event = to_model, .ctx = l};
    if (l->source.ops == &PERF_EVENTS_SOURCE_OPS) {
        struct perf_events_options po = {.min_size = opts->min_size, .stacks = opts->stack,
                                         .ring_pages = opts->perf_pages,
                                         .layout = opts->perf_layout,
                                         .calls = opts->perf_calls,
                                         .layout_noted = opts->source == OPTIONS_SOURCE_AUTO};
        l->source.src = perf_events_source_new(&sink, &po);
        summary_set_lossy(l->summary);
    } else {
        l->source.src = ptrace_source_new(&sink);
    }
    if (!l->source.src)
        return -1;
    int source_fds[4];
    size_t nsource = l->source.ops->fds(l->source.src, source_fds, 4);
    for (size_t i = 0; i < nsource; i++)
        if (watch_fd(l, source_fds[i]) < 0)
            return -1;
    return 0;
}

/* --attach-above: the session is over (every tracee detached or gone):
 * the source goes with all its fds, so nothing of ours stays on the
 * target. */
static void close_source(struct loop *l)
{
    if (!l->source.src)
        return;
    l->source.ops->free(l->source.src); /* closing its fds takes them out of the poll set */
    l->source.src = NULL;
}

/* Whether attaching and detaching run at a raised priority (cpu_boost.h):
 * with the ptrace source, which waits for every thread of the target to
 * reach a stop. Not with the perf source, which stops none: raised, a
 * test attaching it during a storm of new threads lost the mmaps of some
 * threads born during the attach, a race of that source not understood
 * yet, so it attaches at the priority it was started with. */
static bool boost_helps(const struct loop *l)
{
    return !l->launch_mode && l->source.ops == &PTRACE_SOURCE_OPS;
}

struct loop *loop_new(const struct options *opts, int dump_dir_fd)
{
    struct loop *l = calloc(1, sizeof *l);
    if (!l) {
        log_error("out of memory");
        if (dump_dir_fd >= 0)
            close(dump_dir_fd);
        return NULL;
    }
    l->opts = opts;
    l->launch_mode = opts->command != NULL;
    l->source.ops = choose_source(opts, l->source_note, sizeof l->source_note);
    if (boost_helps(l)) /* setting up to attach competes with the target too */
        cpu_boost_begin(&l->boost);
    l->epoll_fd = l->signal_fd = l->duration_fd = l->cgroup_fd = l->settle_fd = -1;
    bool failed = false;
    if ((opts->stack && !(l->unwinder = unwinder_new(opts->stack_depth))) ||
        (opts->summary && !(l->summary = summary_new())))
        goto fail;
    struct model_config mc = {
        .min_size = opts->min_size,
        .max_size = opts->max_size,
        .report_failed = opts->report_failed,
        .can_hold = l->source.ops->caps.can_hold,
        .unwinder = l->unwinder,
        .summary = l->summary,
        .adopt_at_attach = true, /* growth in what existed before (model_adopt_maps) */
        .adopt_regions = opts->adopt_existing,
        .thread_name = thread_name,
        .capture_regs = capture_regs,
        .process_execed = process_execed,
        .process_gone = process_gone,
        .ctx = l,
    };
    if (!(l->model = model_new(&mc)))
        goto fail;
    struct cgroup_report_hooks ch = {.mapped = mapped_now, .dumper = threshold_dumper, .ctx = l};
    struct targets_hooks th = {.ours = is_ours, .attach = attach_target, .ctx = l};
    l->cgroup = cgroup_report_new(opts, &ch, &failed);
    if (failed)
        goto fail;
    l->targets = targets_new(opts, &th, &failed);
    if (failed)
        goto fail;
    if (setup_signals(l) < 0 ||
        (targets_fd(l->targets) >= 0 && watch_fd(l, targets_fd(l->targets)) < 0))
        goto fail;
    /* The source before any thread of ours (the dump worker, the cgroup
     * watch) exists: the signals it reads must be blocked in all. With
     * --attach-above it is opened at each attach (setup_signals blocked
     * SIGCHLD for that). */
    l->above = above_new(opts, &failed);
    if (l->above && (l->settle_fd = timerfd_create(CLOCK_MONOTONIC,
                                                   TFD_CLOEXEC | TFD_NONBLOCK)) < 0) {
        log_error("cannot set up the event loop: timerfd: %s", strerror(errno));
        goto fail;
    }
    if (failed || (l->above && (watch_fd(l, above_fd(l->above)) < 0 ||
                                watch_fd(l, l->settle_fd) < 0)) ||
        (!l->above && open_source(l) < 0))
        goto fail;
    if (dump_dir_fd >= 0) {
        int fd = dump_dir_fd;
        dump_dir_fd = -1; /* the dumper's now, whatever happens */
        if (setup_dumper(l, fd) < 0)
            goto fail;
    }
    return l;
fail:
    if (!failed && !l->model)
        log_error("out of memory");
    if (dump_dir_fd >= 0)
        close(dump_dir_fd);
    loop_free(l);
    return NULL;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    int fds[] = {l->epoll_fd, l->signal_fd, l->duration_fd, l->settle_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    cgroup_report_free(l->cgroup);
    targets_free(l->targets);
    above_free(l->above);
    dumper_free(l->dumper);
    if (l->source.src)
        l->source.ops->free(l->source.src);
    model_free(l->model);
    unwinder_free(l->unwinder);
    summary_free(l->summary);
    free(l);
}

/* ---- targets ------------------------------------------------------------------ */

static int begin_cgroup(struct loop *l, pid_t pid)
{
    if (cgroup_report_begin(l->cgroup, pid) < 0)
        return -1;
    int fd = cgroup_report_fd(l->cgroup);
    if (fd >= 0 && l->cgroup_fd < 0) {
        if (watch_fd(l, fd) < 0)
            return -1;
        l->cgroup_fd = fd;
    }
    return 0;
}

static void arm_duration(struct loop *l);

/* Seizes process pid with the source (opened first with --attach-above). */
static int trace_target(struct loop *l, pid_t pid)
{
    if (target_check_attachable(pid) < 0) /* a kernel thread, a zombie, ourselves: said */
        return -1;
    if (!l->source.src) {
        if (open_source(l) < 0) {
            close_source(l);
            return -1;
        }
        arm_duration(l); /* --duration bounds each session */
    }
    if (l->source_note[0]) {
        log_note("%s", l->source_note);
        l->source_note[0] = '\0';
    }
    if (cgroup_report_prepare(l->cgroup, pid) < 0)
        return -1; /* before any seize: the target stays untouched */
    if (boost_helps(l))
        cpu_boost_begin(&l->boost); /* the target's busy threads must not hold us up */
    int rc = l->source.ops->attach(l->source.src, pid);
    cpu_boost_end(&l->boost);
    if (rc < 0) {
        cgroup_report_gone(l->cgroup, pid); /* not a target after all */
        return -1;
    }
    return begin_cgroup(l, pid);
}

int loop_attach(struct loop *l, pid_t pid)
{
    if (!l->above)
        return trace_target(l, pid);
    /* --attach-above: only watched now; traced when its cgroup's usage
     * reaches the mark (loop_run). */
    if (target_check_attachable(pid) < 0)
        return -1;
    if (above_add(l->above, pid, !l->above_begun) < 0)
        return -1;
    l->above_begun = true;
    return 0;
}

int loop_attach_targets(struct loop *l)
{
    return targets_attach(l->targets);
}

int loop_launch(struct loop *l)
{
    if (!l->source.ops->caps.can_launch) {
        log_error("the %s event source cannot launch a command; start it, then use -p PID",
                  l->source.ops->name);
        return -1;
    }
    /* Its memory cgroup is looked up at its exec (process_execed): a
     * wrapper may move it before. */
    struct map_filter *filter = filter_build(l->opts->min_size, l->opts->max_size, l->dumper != NULL);
    if (!filter)
        return -1;
    pid_t pid = l->source.ops->launch(l->source.src, l->opts->command, &l->original_mask, filter);
    filter_free(filter);
    if (pid < 0)
        return -1;
    l->launched_pid = pid;
    model_set_launched(l->model, pid);
    return 0;
}

/* ---- shutting down ------------------------------------------------------------ */

static void begin_detach(struct loop *l)
{
    if (l->detaching)
        return;
    model_count_still_mapped(l->model);
    l->detaching = true;
    clock_gettime(CLOCK_MONOTONIC, &l->detach_started);
    if (boost_helps(l))
        cpu_boost_begin(&l->boost); /* until we exit: threads let go compete with us */
    l->source.ops->detach_all(l->source.src);
}

/* Ends the tracing session (loop_request_detach without ending the
 * run: --attach-above watches on). */
static void request_detach(struct loop *l)
{
    if (l->detaching || l->finishing || l->launch_mode || !l->source.src)
        return;
    if (l->dumper) {
        /* Pending dumps first, while the target runs and is traced (a
         * thread that unmaps a region meanwhile is still caught), within
         * --exit-dump-timeout; loop_run detaches when they are done. */
        l->finishing = true;
        clock_gettime(CLOCK_MONOTONIC, &l->finish_started);
        if (!dumper_flush(l->dumper))
            return;
    }
    begin_detach(l);
}

void loop_request_detach(struct loop *l)
{
    l->stopping = true; /* --attach-above: no session after this one */
    request_detach(l);
}

/* Whether finishing dumps is over (then the detach begins). */
static void check_finishing(struct loop *l)
{
    if (!l->finishing || l->detaching)
        return;
    if (!dumper_flush(l->dumper)) {
        double bound = (double)l->opts->exit_dump_timeout_ns / 1e9;
        if (seconds_since(&l->finish_started) < bound)
            return;
        /* Cancelled dumps leave no file; held threads are released when
         * the worker hands them back. */
        dumper_cancel(l->dumper);
        if (!dumper_flush(l->dumper))
            return;
    }
    begin_detach(l);
}

/* No tracee left: with --wait, wait for the next target unless we are
 * shutting down. */
static bool wait_for_next_target(struct loop *l)
{
    if (targets_fd(l->targets) < 0 || l->finishing || l->detaching)
        return false;
    targets_set_busy(l->targets, false);
    return true;
}

static void rescan(struct loop *l)
{
    if (l->finishing || l->detaching) {
        uint64_t expirations; /* shutting down: no new targets */
        if (read(targets_fd(l->targets), &expirations, sizeof expirations) < 0)
            return;
        return;
    }
    int n = targets_rescan(l->targets);
    if (n > 0)
        targets_set_busy(l->targets, true);
    else if (n < 0)
        loop_request_detach(l); /* /proc is gone: waiting cannot work; said why */
}

/* The events cannot be written: in attach mode tracing that nobody can
 * read only costs the target, so we detach; in launch mode the command
 * carries the filter and cannot be let go, so it runs to its end traced,
 * and the exit status says the events are incomplete. */
static void on_output_failed(struct loop *l)
{
    if (!l->launch_mode) {
        if (!l->output_failure_said)
            log_error("cannot write events: %s; detaching", output_failure());
        l->output_failure_said = true;
        loop_request_detach(l);
        return;
    }
    if (!l->output_failure_said)
        log_error("cannot write events: %s; the command runs on to its end (a launched "
                  "command is never let go), and mmapwatch will exit 1",
                  output_failure());
    l->output_failure_said = true;
}

/* ---- the loop ---------------------------------------------------------------- */

static void on_signal(struct loop *l, const struct signalfd_siginfo *si)
{
    if (!l->launch_mode) {
        log_info("got signal %u: %s", si->ssi_signo, l->source.src ? "detaching" : "exiting");
        loop_request_detach(l);
        return;
    }
    /* Launch mode: a signal typed at the terminal reached the command too;
     * one sent to us alone (kill) is passed on, so that `kill` of
     * mmapwatch means the same as `kill` of the command. */
    int status;
    if ((si->ssi_code == SI_USER || si->ssi_code == SI_QUEUE) &&
        !l->source.ops->launched_status(l->source.src, &status) &&
        (pid_t)si->ssi_pid != l->launched_pid)
        kill(l->launched_pid, (int)si->ssi_signo);
}

static void read_signals(struct loop *l)
{
    /* One read: if more were queued than fit, the fd stays readable. */
    struct signalfd_siginfo si[8];
    ssize_t n = read(l->signal_fd, si, sizeof si);
    for (ssize_t i = 0; i < n / (ssize_t)sizeof si[0]; i++)
        on_signal(l, &si[i]);
}

static void arm_duration(struct loop *l)
{
    if (!l->opts->has_duration || l->launch_mode)
        return;
    if (l->opts->duration_ns == 0) {
        above_duration_over(l->above);
        request_detach(l);
        return;
    }
    struct itimerspec its = {
        .it_value = {.tv_sec = (time_t)(l->opts->duration_ns / 1000000000ULL),
                     .tv_nsec = (long)(l->opts->duration_ns % 1000000000ULL)},
    };
    if (l->duration_fd < 0 &&
        ((l->duration_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0 ||
         watch_fd(l, l->duration_fd) < 0)) {
        log_warn("cannot set the --duration timer: %s; stop with Ctrl-C", strerror(errno));
        return;
    }
    if (timerfd_settime(l->duration_fd, 0, &its, NULL) < 0) {
        log_warn("cannot set the --duration timer: %s; stop with Ctrl-C", strerror(errno));
        return;
    }
}

/* --attach-above: attaches the targets whose usage reached the mark, and
 * ends the session when none attached wants tracing any more. */
static void sync_above(struct loop *l)
{
    if (!l->above || l->stopping)
        return;
    if (!l->detaching && !l->finishing) {
        pid_t pid;
        while ((pid = above_next_to_attach(l->above)) > 0)
            if (trace_target(l, pid) < 0)
                above_attach_failed(l->above, pid);
    }
    if (l->source.src && !l->detaching && !l->finishing && !above_wants_tracing(l->above)) {
        struct itimerspec settle = {.it_value = {.tv_nsec = ABOVE_SETTLE_MS * 1000000L}};
        if (timerfd_settime(l->settle_fd, 0, &settle, NULL) < 0)
            request_detach(l);
    }
}

/* --attach-above: no tracee is left; the source goes, the watch goes on. */
static void end_session(struct loop *l)
{
    pid_t pids[64];
    size_t n = above_session_ended(l->above, pids, sizeof pids / sizeof pids[0]);
    for (size_t i = 0; i < n; i++)
        cgroup_report_gone(l->cgroup, pids[i]); /* its threshold watch is the session's */
    cgroup_report_records(l->cgroup);
    close_source(l);
    l->detaching = l->finishing = false;
    if (l->duration_fd >= 0) {
        struct itimerspec off = {0};
        timerfd_settime(l->duration_fd, 0, &off, NULL);
    }
    targets_set_busy(l->targets, above_count(l->above) > 0);
    sync_above(l); /* one that rose again meanwhile */
}

/* --attach-above: nothing left to do between sessions. */
static bool above_over(const struct loop *l)
{
    return l->stopping || output_failed() ||
           (above_count(l->above) == 0 && targets_fd(l->targets) < 0);
}

/* One readable fd. The source's own fds need nothing here: the loop
 * serves the source at the top of every pass. */
static void on_ready(struct loop *l, int fd)
{
    if (fd == l->signal_fd) {
        read_signals(l);
    } else if (fd == l->duration_fd) {
        uint64_t expirations;
        if (read(fd, &expirations, sizeof expirations) > 0) {
            log_info("--duration reached: detaching");
            above_duration_over(l->above); /* --attach-above: watching on */
            request_detach(l);
        }
    } else if (fd == targets_fd(l->targets)) {
        rescan(l);
    } else if (l->dumper && fd == dumper_timer_fd(l->dumper)) {
        dumper_run_due(l->dumper);
    } else if (l->dumper && fd == dumper_done_fd(l->dumper)) {
        dumper_collect(l->dumper);
        check_finishing(l);
    } else if (fd == l->cgroup_fd) {
        cgroup_report_records(l->cgroup);
    } else if (fd == l->settle_fd) {
        uint64_t expirations;
        if (read(fd, &expirations, sizeof expirations) > 0 && !above_wants_tracing(l->above))
            request_detach(l); /* below the mark all along (or rose and fell again) */
    } else if (fd == above_fd(l->above)) {
        above_process(l->above);
        sync_above(l);
    }
}

static int exit_code(const struct loop *l)
{
    if (output_failed())
        return 1;
    if (!l->launch_mode)
        return 0;
    int status;
    if (!l->source.ops->launched_status(l->source.src, &status))
        return 1;
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

static void print_stats(const struct loop *l)
{
    if (!l->opts->verbose)
        return;
    if (l->source.src)
        l->source.ops->log_stats(l->source.src);
    if (l->unwinder) {
        struct unwind_stats us;
        unwinder_stats(l->unwinder, &us);
        log_info("stacks: %lu unwound, %lu frames (%lu by frame pointer), %lu symbol files, "
                 "%lu maps reads, %lu cache drops; %.1f ms unwinding (%.1f us per stack)",
                 us.stacks, us.frames, us.fp_steps, us.files_loaded, us.maps_reads,
                 us.cache_drops, us.ns / 1e6, us.stacks ? us.ns / 1e3 / us.stacks : 0.0);
    }
}

/* The detach is bounded: a thread that never stops must not keep us
 * here. True once the grace has passed (said when threads are left). */
static bool detach_overdue(const struct loop *l)
{
    if (seconds_since(&l->detach_started) < DETACH_GRACE_S)
        return false;
    size_t left = l->source.src ? l->source.ops->count(l->source.src) : 0;
    if (left > 0)
        log_warn("%zu thread(s) did not stop within %d s to be detached; exiting lets the "
                 "kernel detach them",
                 left, DETACH_GRACE_S);
    return true;
}

int loop_run(struct loop *l)
{
    if (!l->detaching)
        cpu_boost_end(&l->boost); /* from loop_new: the first attaches are done */
    if (l->above) {
        targets_set_busy(l->targets, above_count(l->above) > 0);
        above_process(l->above); /* usage above the mark already */
        sync_above(l);
    } else {
        arm_duration(l);
        targets_set_busy(l->targets, l->source.ops->count(l->source.src) > 0);
    }
    for (;;) {
        if (l->above && !l->source.src && above_over(l))
            break; /* watching nothing more */
        int handled = l->source.src ? l->source.ops->serve(l->source.src) : 0;
        if (handled < 0 && l->above) {
            end_session(l);
            continue;
        }
        if (handled < 0 && !wait_for_next_target(l))
            break; /* no tracee left */
        if (output_failed())
            on_output_failed(l);
        if (l->detaching && detach_overdue(l))
            break; /* checked before a re-drain too: stops may never run out */
        if (handled == SOURCE_MORE)
            continue; /* more were pending than one batch holds */
        /* Otherwise no re-drain: a stop that came while we handled this
         * batch has queued a SIGCHLD, so the wait below returns at once. */
        int timeout_ms = -1;
        if (l->finishing && !l->detaching) {
            /* Waiting for dumps, with an eye on --exit-dump-timeout. */
            check_finishing(l);
            timeout_ms = 100;
        } else if (l->detaching) {
            /* Every thread let go: the next serve sees ECHILD at once. */
            timeout_ms = l->source.ops->count(l->source.src) > 0 ? 200 : 10;
        }
        struct epoll_event ready[8];
        int n = epoll_wait(l->epoll_fd, ready, 8, timeout_ms);
        for (int i = 0; i < n; i++)
            on_ready(l, ready[i].data.fd);
    }
    /* A boost begun by the detach stays until we exit: only letting go and
     * exiting are left for this thread (dumps are written by workers, which
     * keep their priority), and at the target's priority again exiting
     * would wait behind every thread just let go. */
    if (l->dumper) /* copies taken before an unmap may still be on their way to disk */
        dumper_drain(l->dumper, l->opts->exit_dump_timeout_ns);
    cgroup_report_check_oom(l->cgroup); /* a kill that ended the last target */
    print_stats(l);
    if (l->summary) {
        model_count_still_mapped(l->model);
        output_summary(summary_view(l->summary));
    }
    return exit_code(l);
}
