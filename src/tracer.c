/*
 * tracer: the event loop. See include/tracer.h for the contract and
 * DESIGN.md section 4 for the ptrace rules this file follows.
 *
 * One loop serves everything through one signalfd: SIGCHLD for tracee
 * stops, SIGINT/SIGTERM/SIGHUP from the user, SIGALRM from the --duration
 * timer. A blocking read of that one fd is the whole wait: every syscall
 * of ours per tracee stop is time the tracee spends stopped, so the loop
 * makes as few as it can (read, wait4 until empty, the ptrace calls).
 * On each wake-up every pending stop is collected with wait4(-1, WNOHANG | __WALL) before any is handled,
 * so a busy thread cannot starve the others, and each stopped tracee is
 * restarted as soon as its stop is handled.
 */
#include "tracer.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "decode.h"
#include "discover.h"
#include "dumper.h"
#include "filter.h"
#include "log.h"
#include "output.h"
#include "procfs.h"
#include "target.h"
#include "task.h"
#include "summary.h"
#include "track.h"
#include "unwind.h"

/* Once we ask every tracee to stop for the detach, how long we wait for
 * them before leaving the rest to the kernel (which detaches every tracee
 * of a tracer that exits, resuming it). A thread in uninterruptible sleep
 * can take this long to reach a stop. */
#define DETACH_GRACE_S 10

/* Stops collected per batch before they are handled. */
#define BATCH_MAX 512

struct stop_stats {
    unsigned long total, syscall, seccomp, signal, group, event, exited;
};

struct tracer {
    const struct options *opts;
    struct task_table *tasks;
    struct track_policy policy;
    unsigned long ptrace_options;
    bool launch_mode;
    pid_t launched_pid;
    int launched_status;      /* wait status of the launched command */
    bool launched_done;
    bool launched_execed;     /* the command started (a failed exec is not an event) */
    int signal_fd;
    timer_t duration_timer;
    bool has_timer;
    sigset_t original_mask;   /* restored in a launched command */
    bool detaching;
    struct timespec detach_started;
    struct dumper *dumper;    /* NULL with --no-dump */
    struct unwinder *unwinder; /* -k; NULL without */
    struct summary *summary;  /* -c; NULL without */
    bool mapped_counted;      /* the summary has the bytes still mapped */
    bool finishing;           /* shutting down: pending dumps first, then detach */
    struct timespec finish_started;
    struct stop_stats stats;
    struct cgroup_watch *cgroup; /* --cgroup-threshold; NULL without */
    pid_t cgroup_pid;            /* the target whose cgroup it is (events name it) */
    char cgroup_comm[PROCFS_COMM_MAX]; /* its name, for events after it is gone */
    /* Targets by name (--comm, --match); see "targets by name" below. */
    struct discover *discover; /* NULL without --comm/--match */
    timer_t rescan_timer;      /* --wait: rescans /proc */
    bool has_rescan_timer;
    long rescan_ms;            /* its period now; 0 = not armed yet */
};

struct stop {
    pid_t tid;
    int status;
};

static const unsigned long BASE_PTRACE_OPTIONS =
    PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
    PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT;

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- set-up ---------------------------------------------------------------- */

static bool region_extent(void *ctx, pid_t pid, uint64_t id, pid_t mapper, uint64_t *start,
                          uint64_t *end, int *prot, pid_t *reader);
static void release_held(void *ctx, pid_t tid);
static void before_syscall(struct tracer *t, struct task *task);
static int setup_targets_by_name(struct tracer *t, sigset_t *served);

static void count_dump(void *ctx, uint64_t id)
{
    struct tracer *t = ctx;
    summary_add_dump(t->summary, id);
}

struct tracer *tracer_new(const struct options *opts, int dump_dir_fd)
{
    struct tracer *t = calloc(1, sizeof *t);
    if (!t) {
        log_error("out of memory");
        return NULL;
    }
    t->opts = opts;
    t->policy.min_size = opts->min_size;
    t->policy.report_failed = opts->report_failed;
    t->launch_mode = opts->command != NULL;
    t->ptrace_options = BASE_PTRACE_OPTIONS;
    t->signal_fd = -1;
    t->tasks = task_table_new();
    if (!t->tasks) {
        log_error("out of memory");
        free(t);
        return NULL;
    }
    if ((opts->stack && !(t->unwinder = unwinder_new(opts->stack_depth))) ||
        (opts->summary && !(t->summary = summary_new()))) {
        log_error("out of memory");
        if (dump_dir_fd >= 0)
            close(dump_dir_fd);
        tracer_free(t);
        return NULL;
    }
    t->policy.unwinder = t->unwinder;
    t->policy.summary = t->summary;

    /* The signals we serve arrive through the signalfd only: handlers
     * would race with the loop. */
    sigset_t served;
    sigemptyset(&served);
    sigaddset(&served, SIGCHLD);
    sigaddset(&served, SIGINT);
    sigaddset(&served, SIGTERM);
    sigaddset(&served, SIGHUP);
    sigaddset(&served, SIGALRM);
    sigaddset(&served, SIGUSR1); /* the dump worker: a dump is done */
    sigaddset(&served, DUMPER_TIMER_SIGNAL);
    sigaddset(&served, CGROUP_WAKE_SIGNAL); /* the cgroup watch: something to report */
    if (setup_targets_by_name(t, &served) < 0) {
        if (dump_dir_fd >= 0)
            close(dump_dir_fd);
        tracer_free(t);
        return NULL;
    }
    if (sigprocmask(SIG_BLOCK, &served, &t->original_mask) < 0 ||
        (t->signal_fd = signalfd(-1, &served, SFD_CLOEXEC)) < 0) {
        log_error("cannot set up the event loop: %s", strerror(errno));
        if (dump_dir_fd >= 0)
            close(dump_dir_fd);
        tracer_free(t);
        return NULL;
    }
    if (dump_dir_fd >= 0) {
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
            .ctx = t,
        };
        if (!(t->dumper = dumper_new(&config))) {
            tracer_free(t);
            return NULL;
        }
        t->policy.dumper = t->dumper;
    }
    return t;
}

void tracer_free(struct tracer *t)
{
    if (!t)
        return;
    if (t->signal_fd >= 0)
        close(t->signal_fd);
    if (t->has_timer)
        timer_delete(t->duration_timer);
    cgroup_watch_free(t->cgroup);
    if (t->has_rescan_timer)
        timer_delete(t->rescan_timer);
    discover_free(t->discover);
    dumper_free(t->dumper);
    task_table_free(t->tasks);
    unwinder_free(t->unwinder);
    summary_free(t->summary);
    free(t);
}

/* ---- memory cgroup watch (cgroup.h) ----------------------------------------- */

/* Threshold events list this many of the largest reported regions. */
#define THRESHOLD_TOP 5

/* Before the first target is seized (or launched): its memory cgroup must
 * be found, and a percentage needs a limit; failing here leaves the target
 * untouched. */
static int cgroup_prepare(struct tracer *t, pid_t pid)
{
    if (!t->opts->has_cgroup_threshold || t->cgroup)
        return 0;
    t->cgroup = cgroup_watch_new(pid, t->opts->cgroup_threshold, t->opts->cgroup_threshold_pct);
    return t->cgroup ? 0 : -1;
}

static void on_cgroup_records(struct tracer *t);

/* Once the first target is attached or launched: watching starts. */
static int cgroup_begin(struct tracer *t, pid_t pid)
{
    if (!t->cgroup || t->cgroup_pid)
        return 0;
    t->cgroup_pid = pid;
    procfs_read_comm(pid, pid, t->cgroup_comm);
    if (cgroup_watch_start(t->cgroup) < 0)
        return -1;
    on_cgroup_records(t); /* usage may be above the threshold already */
    return 0;
}

static void cgroup_check_oom(struct tracer *t)
{
    if (!t->cgroup || !t->cgroup_pid)
        return;
    cgroup_watch_check_oom(t->cgroup);
    on_cgroup_records(t);
}

/* A reported region still mapped: what a dump of it needs, and how many
 * bytes of it are mapped (the pieces of a split region share its id). */
struct mapped {
    struct dump_target target;
    uint64_t bytes;
};

struct mapped_list {
    pid_t owner;
    struct mapped *v;
    size_t n, cap;
    bool short_of_memory;
};

static int add_mapped(const struct region *r, void *ctx)
{
    struct mapped_list *list = ctx;
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 64;
        struct mapped *grown = realloc(list->v, cap * sizeof *grown);
        if (!grown) {
            list->short_of_memory = true;
            return 1;
        }
        list->v = grown;
        list->cap = cap;
    }
    list->v[list->n++] = (struct mapped){
        .target = {.id = r->id, .pid = list->owner, .tid = r->tid, .addr = r->start,
                   .len = r->end - r->start, .prot = r->prot, .flags = r->flags,
                   .mapped_at = r->mapped_at},
        .bytes = r->end - r->start,
    };
    return 0;
}

static void add_space(struct addr_space *as, void *ctx)
{
    struct mapped_list *list = ctx;
    list->owner = as->owner;
    if (!list->short_of_memory)
        region_set_foreach(as->regions, add_mapped, list);
}

static int by_process_and_id(const void *a, const void *b)
{
    const struct dump_target *x = &((const struct mapped *)a)->target;
    const struct dump_target *y = &((const struct mapped *)b)->target;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int largest_first(const void *a, const void *b)
{
    const struct mapped *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return x->target.id < y->target.id ? -1 : x->target.id > y->target.id;
}

/* Every reported region still mapped in any traced process, one entry per
 * region (its pieces' hull), largest first, each with the name of the
 * thread that mapped it if it still runs. */
static void collect_mapped(struct tracer *t, struct mapped_list *list)
{
    *list = (struct mapped_list){0};
    addr_space_foreach(t->tasks, add_space, list);
    if (list->short_of_memory)
        log_warn("out of memory listing the regions still mapped: some are left out");
    if (list->n == 0)
        return;
    qsort(list->v, list->n, sizeof *list->v, by_process_and_id);
    size_t out = 0;
    for (size_t i = 0; i < list->n; i++) {
        struct mapped *m = &list->v[i];
        struct mapped *last = out ? &list->v[out - 1] : NULL;
        if (last && last->target.pid == m->target.pid && last->target.id == m->target.id) {
            uint64_t end = m->target.addr + m->target.len;
            last->target.len = end - last->target.addr; /* addresses ascend */
            last->bytes += m->bytes;
            continue;
        }
        list->v[out++] = *m;
    }
    list->n = out;
    qsort(list->v, list->n, sizeof *list->v, largest_first);
    for (size_t i = 0; i < list->n; i++) {
        struct dump_target *target = &list->v[i].target;
        struct task *mapper = task_find(t->tasks, target->tid);
        if (mapper && mapper->pid == target->pid)
            task_read_comm(mapper, target->comm);
        else
            snprintf(target->comm, sizeof target->comm, "?");
    }
}

static void cgroup_origin(struct tracer *t, const struct cgroup_record *r,
                          struct event_origin *o)
{
    event_origin_fill(o, t->cgroup_pid, t->cgroup_pid);
    o->ts = r->ts;
    if (strcmp(o->comm, "?") == 0)
        memcpy(o->comm, t->cgroup_comm, sizeof o->comm); /* gone (OOM-killed, say) */
    else
        memcpy(t->cgroup_comm, o->comm, sizeof t->cgroup_comm); /* launch mode: after exec */
}

/* A crossing upward: the event names the largest regions, and with
 * --dump-on-threshold every one still mapped is dumped now, largest
 * first, while the OOM killer has not acted yet. */
static void report_above(struct tracer *t, const struct event_origin *o,
                         struct cgroup_event *e)
{
    struct mapped_list list;
    collect_mapped(t, &list);
    struct threshold_region top[THRESHOLD_TOP];
    size_t ntop = list.n < THRESHOLD_TOP ? list.n : THRESHOLD_TOP;
    for (size_t i = 0; i < ntop; i++) {
        const struct dump_target *m = &list.v[i].target;
        top[i] = (struct threshold_region){.pid = m->pid, .tid = m->tid, .addr = m->addr,
                                           .len = m->len, .id = m->id};
        memcpy(top[i].comm, m->comm, sizeof top[i].comm);
    }
    e->regions = top;
    e->nregions = ntop;
    if (t->opts->dump_on_threshold && t->dumper) {
        struct dump_target *targets = list.n ? malloc(list.n * sizeof *targets) : NULL;
        for (size_t i = 0; targets && i < list.n; i++)
            targets[i] = list.v[i].target;
        if (list.n && !targets)
            log_warn("out of memory: regions not dumped at the threshold");
        e->dumps = (long)(targets && !t->detaching
                              ? dumper_dump_now(t->dumper, targets, list.n, "threshold")
                              : 0);
        free(targets);
    }
    output_threshold(o, e);
    free(list.v);
}

/* Writes the watch's records as events (after CGROUP_WAKE_SIGNAL). */
static void on_cgroup_records(struct tracer *t)
{
    struct cgroup_record r;
    while (t->cgroup && cgroup_watch_take(t->cgroup, &r)) {
        struct event_origin o;
        cgroup_origin(t, &r, &o);
        struct cgroup_event e = {
            .cgroup = cgroup_watch_path(t->cgroup),
            .above = r.kind == CGROUP_ABOVE,
            .usage = r.usage,
            .limit = r.limit,
            .threshold = cgroup_watch_threshold(t->cgroup),
            .pct = cgroup_watch_pct(t->cgroup),
            .dumps = -1,
            .oom_kills = r.oom_kills,
            .new_kills = r.new_kills,
        };
        if (r.kind == CGROUP_OOM)
            output_oom(&o, &e);
        else if (r.kind == CGROUP_ABOVE)
            report_above(t, &o, &e);
        else
            output_threshold(&o, &e);
    }
}

/* ---- attach ---------------------------------------------------------------- */

struct attach_scan {
    struct tracer *t;
    struct addr_space *as;
    pid_t pid;
    unsigned added;
    unsigned failed;        /* listed but not seized: exiting, most likely */
    unsigned threads;
    pid_t *interrupted;     /* seized in this pass: their first stop is awaited */
    size_t ninterrupted, cap;
};

static void handle_stop(struct tracer *t, pid_t tid, int status);

/* Seizes one thread. 1 if it is traced by us now (newly or already), 0 if
 * it is gone, -1 with errno on failure. *interrupted tells whether we sent
 * it the PTRACE_INTERRUPT whose stop is still to come. */
static int seize_thread(struct tracer *t, struct addr_space *as, pid_t pid, pid_t tid,
                        bool *interrupted)
{
    *interrupted = false;
    if (task_find(t->tasks, tid))
        return 1;
    if (ptrace(PTRACE_SEIZE, tid, 0L, t->ptrace_options) < 0) {
        if (errno == ESRCH)
            return 0;
        /* A thread cloned by a thread we already seized was attached by the
         * kernel (PTRACE_O_TRACECLONE): seizing it again says EPERM. */
        if (errno == EPERM && procfs_status_number(tid, "TracerPid") == getpid()) {
            if (!task_add(t->tasks, tid, pid, as))
                return errno = ENOMEM, -1;
            return 1;
        }
        return -1;
    }
    /* The interrupt stop is where we switch the thread to syscall tracing. */
    if (ptrace(PTRACE_INTERRUPT, tid, 0L, 0L) < 0 && errno != ESRCH)
        log_warn("PTRACE_INTERRUPT of thread %d: %s", (int)tid, strerror(errno));
    *interrupted = true;
    if (!task_add(t->tasks, tid, pid, as)) {
        ptrace(PTRACE_DETACH, tid, 0L, 0L); /* may fail until it stops; the kernel's exit path covers it */
        return errno = ENOMEM, -1;
    }
    return 1;
}

static int scan_one(pid_t tid, void *ctx)
{
    struct attach_scan *scan = ctx;
    bool known = task_find(scan->t->tasks, tid) != NULL, interrupted;
    int rc = seize_thread(scan->t, scan->as, scan->pid, tid, &interrupted);
    if (rc < 0) {
        /* An exiting thread cannot be seized (EPERM), but it may have
         * cloned a thread we have not listed yet: worth another pass. */
        log_info("cannot attach to thread %d of process %d: %s", (int)tid, (int)scan->pid,
                 strerror(errno));
        scan->failed++;
        return 0;
    }
    if (rc == 1) {
        scan->threads++;
        if (!known)
            scan->added++;
    } else {
        scan->failed++; /* gone meanwhile: same reasoning as above */
    }
    if (interrupted) {
        if (scan->ninterrupted == scan->cap) {
            size_t cap = scan->cap ? scan->cap * 2 : 64;
            pid_t *grown = realloc(scan->interrupted, cap * sizeof *grown);
            if (!grown)
                return 0; /* its stop comes through the loop all the same */
            scan->interrupted = grown;
            scan->cap = cap;
        }
        scan->interrupted[scan->ninterrupted++] = tid;
    }
    return 0;
}

struct thread_count {
    pid_t pid;
    unsigned long n;
};

static void count_one(struct task *task, void *ctx)
{
    struct thread_count *c = ctx;
    c->n += task->pid == c->pid;
}

/* How many threads of process pid we trace. */
static unsigned long count_threads_of(struct tracer *t, pid_t pid)
{
    struct thread_count c = {.pid = pid};
    task_foreach(t->tasks, count_one, &c);
    return c.n;
}

/* Waits for the first stop of each thread seized in the last pass, and
 * handles it (which restarts it). Why: a thread that was inside clone()
 * when we seized it creates a thread the kernel does not attach for us,
 * and which /proc may list only once that clone() returns; the thread's
 * first stop comes after it returns. So once every seized thread has
 * stopped, a pass over /proc that finds nothing new has missed nothing. */
static void await_first_stops(struct attach_scan *scan)
{
    for (size_t i = 0; i < scan->ninterrupted; i++) {
        pid_t tid = scan->interrupted[i];
        /* A thread in uninterruptible sleep stops only when it wakes:
         * don't hold the attach of the others for long because of it.
         * On a loaded machine a runnable thread can wait a while for a
         * CPU, hence seconds rather than milliseconds. */
        struct timespec started;
        clock_gettime(CLOCK_MONOTONIC, &started);
        while (seconds_since(&started) < 5.0) {
            int status;
            pid_t got = wait4(tid, &status, WNOHANG | __WALL, NULL);
            if (got == tid) {
                handle_stop(scan->t, tid, status);
                break;
            }
            if (got < 0 && errno != EINTR)
                break; /* gone and reaped elsewhere: nothing to wait for */
            struct timespec pause = {.tv_nsec = 50000};
            nanosleep(&pause, NULL);
        }
    }
    scan->ninterrupted = 0;
}

static void explain_attach_failure(pid_t pid, const char *comm, int err)
{
    if (err == EPERM || err == EACCES) {
        int scope = procfs_ptrace_scope();
        char yama[96] = "";
        if (scope > 0)
            snprintf(yama, sizeof yama, " (kernel.yama.ptrace_scope is %d: 0 lets same-uid tracers attach)",
                     scope);
        log_error("cannot attach to process %d (%s): %s; run as root or add CAP_SYS_PTRACE%s",
                  (int)pid, comm, strerror(err), yama);
    } else if (err == ESRCH) {
        log_error("cannot attach to process %d: no such process", (int)pid);
    } else {
        log_error("cannot attach to process %d (%s): %s", (int)pid, comm, strerror(err));
    }
}

int tracer_attach(struct tracer *t, pid_t pid)
{
    long tgid = procfs_status_number(pid, "Tgid");
    if (tgid < 0) {
        log_error("cannot attach to process %d: no such process; check the pid (ps -e)",
                  (int)pid);
        return -1;
    }
    char comm[PROCFS_COMM_MAX];
    procfs_read_comm(pid, pid, comm);
    if (tgid != pid) {
        log_error("%d is thread of process %ld, not a process; use -p %ld", (int)pid, tgid,
                  tgid);
        return -1;
    }
    if (addr_space_of_process(t->tasks, pid))
        return 0; /* the same -p twice */
    long tracer_pid = procfs_status_number(pid, "TracerPid");
    if (tracer_pid > 0 && tracer_pid != getpid()) {
        char tracer_comm[PROCFS_COMM_MAX];
        procfs_read_comm((pid_t)tracer_pid, (pid_t)tracer_pid, tracer_comm);
        log_error("cannot attach to process %d (%s): it is already traced by process %ld (%s); "
                  "a process can have one tracer only: stop that one first",
                  (int)pid, comm, tracer_pid, tracer_comm);
        return -1;
    }

    if (cgroup_prepare(t, pid) < 0)
        return -1; /* before any seize: the target stays untouched */
    struct attach_scan scan = {.t = t, .pid = pid};
    scan.as = addr_space_new(t->tasks, pid);
    if (!scan.as) {
        log_error("out of memory");
        return -1;
    }
    bool interrupted;
    int rc = seize_thread(t, scan.as, pid, pid, &interrupted);
    if (rc <= 0) {
        explain_attach_failure(pid, comm, rc == 0 ? ESRCH : errno);
        return -1;
    }
    if (interrupted && (scan.interrupted = malloc(64 * sizeof *scan.interrupted))) {
        scan.cap = 64;
        scan.interrupted[scan.ninterrupted++] = pid;
    }
    /* Threads can be created while we seize: threads cloned by a seized
     * thread are attached by the kernel, but one cloned by a thread not yet
     * seized is only found by reading the list again. Repeat until a pass
     * finds nothing new (see await_first_stops for why that suffices). */
    /* A thread that stays unseizable (a zombie leader) must not keep us
     * here: a bounded number of extra passes for failures.
     * And a pass can be cut short: the kernel lists /proc/PID/task by
     * walking the thread list from the thread it listed last, and stops
     * when that thread has died meanwhile, so threads further on are not
     * listed. A pass that found nothing new is therefore checked against
     * the process's own count of its threads (Threads: in its status,
     * which counts our unreaped tracees as we do): fewer known than that
     * means one is still untraced, and another pass looks again (bounded
     * too: a process that never stops making threads ends it). */
    unsigned retries = 0, recounts = 0;
    for (;;) {
        scan.added = 0;
        scan.failed = 0;
        scan.threads = 0;
        if (procfs_foreach_task(pid, scan_one, &scan) < 0)
            break; /* the process is exiting; its stops will tell */
        await_first_stops(&scan);
        if (scan.added > 0 || (scan.failed > 0 && ++retries < 50))
            continue;
        if (scan.failed > 0 || recounts++ >= 200)
            break;
        long threads = procfs_status_number(pid, "Threads");
        if (threads <= 0 || (unsigned long)threads <= count_threads_of(t, pid))
            break;
        log_info("process %d counts %ld threads, %lu traced: looking again", (int)pid, threads,
                 count_threads_of(t, pid));
    }
    free(scan.interrupted);

    struct event_origin origin;
    event_origin_fill(&origin, pid, pid);
    output_attach(&origin, scan.threads ? scan.threads : 1);
    log_info("attached to process %d (%s), %u threads", (int)pid, comm, scan.threads);
    return cgroup_begin(t, pid);
}

/* ---- launch ---------------------------------------------------------------- */

int tracer_launch(struct tracer *t)
{
    /* The command starts in our own cgroup: known before it runs. */
    if (cgroup_prepare(t, getpid()) < 0)
        return -1;
    struct map_filter *filter = filter_build(t->opts->min_size, t->dumper != NULL);
    if (!filter)
        return -1;
    /* EXITKILL: a launched tree carries a filter that would make its
     * memory-map syscalls fail with ENOSYS if it outlived us untraced. */
    t->ptrace_options |= PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL;
    pid_t pid = target_launch(t->opts->command, &t->original_mask, filter, t->ptrace_options);
    filter_free(filter);
    if (pid < 0)
        return -1;
    struct addr_space *as = addr_space_new(t->tasks, pid);
    if (!as || !task_add(t->tasks, pid, pid, as)) {
        log_error("out of memory");
        kill(pid, SIGKILL);
        return -1;
    }
    t->launched_pid = pid;
    if (cgroup_begin(t, pid) < 0) {
        kill(pid, SIGKILL); /* it has not run a single instruction of its own */
        return -1;
    }
    return 0;
}

/* ---- restarting and detaching ---------------------------------------------- */

static void emit_process_event(struct task *task, void (*emit)(const struct event_origin *))
{
    struct event_origin origin;
    event_origin_fill(&origin, task->pid, task->pid);
    if (strcmp(origin.comm, "?") == 0 && task->leader_comm[0])
        memcpy(origin.comm, task->leader_comm, sizeof origin.comm);
    emit(&origin);
}

static void detach_task(struct tracer *t, struct task *task, int sig)
{
    if (ptrace(PTRACE_DETACH, task->tid, 0L, (long)sig) < 0) {
        /* ESRCH: killed while stopped; its exit status is still ours to
         * collect, and that removes it. */
        if (errno != ESRCH)
            log_warn("cannot detach thread %d: %s", (int)task->tid, strerror(errno));
        return;
    }
    if (task->tid == task->pid)
        emit_process_event(task, output_detach);
    task_remove(t->tasks, task);
}

/* Restarts a tracee from any stop. sig is non-zero only for a
 * signal-delivery stop, where it is exactly the signal that stopped it:
 * anything else would add or drop a signal. */
static void resume(struct tracer *t, struct task *task, int sig)
{
    if (task->detaching) {
        detach_task(t, task, sig);
        return;
    }
    /* Launch mode: the filter decides where to stop; PTRACE_SYSCALL only to
     * see the result of a syscall the filter stopped at. */
    int request = (t->launch_mode && !task->want_exit_stop) ? PTRACE_CONT : PTRACE_SYSCALL;
    if (ptrace(request, task->tid, 0L, (long)sig) < 0 && errno != ESRCH)
        log_warn("cannot resume thread %d: %s", (int)task->tid, strerror(errno));
}

static void mark_detaching(struct task *task, void *ctx)
{
    (void)ctx;
    task->detaching = true;
    if (ptrace(PTRACE_INTERRUPT, task->tid, 0L, 0L) < 0 && errno != ESRCH)
        log_warn("PTRACE_INTERRUPT of thread %d: %s", (int)task->tid, strerror(errno));
}

static int count_mapped_region(const struct region *r, void *ctx)
{
    summary_add_mapped(ctx, r->id, r->end - r->start);
    return 0;
}

static void count_mapped_space(struct addr_space *as, void *ctx)
{
    region_set_foreach(as->regions, count_mapped_region, ctx);
}

/* -c: what is still mapped when tracing ends (before the detach forgets
 * it; a process that exited has nothing mapped). */
static void count_still_mapped(struct tracer *t)
{
    if (!t->summary || t->mapped_counted)
        return;
    t->mapped_counted = true;
    addr_space_foreach(t->tasks, count_mapped_space, t->summary);
}

static void begin_detach(struct tracer *t)
{
    if (t->detaching)
        return;
    count_still_mapped(t);
    t->detaching = true;
    clock_gettime(CLOCK_MONOTONIC, &t->detach_started);
    /* Interrupt everyone first, then detach each at whatever stop comes:
     * detaching one by one and waiting for each deadlocks around vfork. */
    task_foreach(t->tasks, mark_detaching, NULL);
}

void tracer_request_detach(struct tracer *t)
{
    if (t->detaching || t->finishing || t->launch_mode)
        return;
    if (t->dumper) {
        /* Pending dumps first, while the target runs and is traced (a
         * thread that unmaps a region meanwhile is still caught), within
         * --exit-dump-timeout; tracer_run detaches when they are done. */
        t->finishing = true;
        clock_gettime(CLOCK_MONOTONIC, &t->finish_started);
        if (!dumper_flush(t->dumper))
            return;
    }
    begin_detach(t);
}

/* Whether finishing dumps is over (then the detach begins). */
static void check_finishing(struct tracer *t)
{
    if (!t->finishing || t->detaching)
        return;
    if (!dumper_flush(t->dumper)) {
        double bound = (double)t->opts->exit_dump_timeout_ns / 1e9;
        if (seconds_since(&t->finish_started) < bound)
            return;
        /* Cancelled dumps leave no file; held threads are released when
         * the worker hands them back. */
        dumper_cancel(t->dumper);
        if (!dumper_flush(t->dumper))
            return;
    }
    begin_detach(t);
}

/* ---- new tasks ------------------------------------------------------------- */

static bool same_mm(pid_t a, pid_t b)
{
    return syscall(SYS_kcmp, a, b, KCMP_VM, 0L, 0L) == 0;
}

/* The address space of a new task whose creator (if known) is parent. */
static struct addr_space *space_for_new_task(struct tracer *t, struct task *parent, pid_t tid,
                                             pid_t tgid)
{
    if (parent && parent->pid == tgid)
        return parent->as;
    struct addr_space *as = addr_space_of_process(t->tasks, tgid);
    if (as)
        return as;
    struct addr_space *parent_as = parent ? parent->as : NULL;
    pid_t parent_tid = parent ? parent->tid : 0;
    if (!parent_as) {
        long ppid = procfs_status_number(tid, "PPid");
        if (ppid > 0 && (parent_as = addr_space_of_process(t->tasks, (pid_t)ppid)))
            parent_tid = (pid_t)ppid;
    }
    if (!parent_as)
        return addr_space_new(t->tasks, tgid);
    /* vfork (and clone with CLONE_VM) shares the parent's mm until exec. */
    if (same_mm(parent_tid, tid))
        return parent_as;
    return addr_space_clone(t->tasks, parent_as, tgid);
}

static struct task *add_new_task(struct tracer *t, struct task *parent, pid_t tid)
{
    long tgid = procfs_status_number(tid, "Tgid");
    if (tgid <= 0)
        tgid = parent ? parent->pid : tid; /* gone already: its exit will remove it */
    struct addr_space *as = space_for_new_task(t, parent, tid, (pid_t)tgid);
    struct task *task = as ? task_add(t->tasks, tid, (pid_t)tgid, as) : NULL;
    if (!task) {
        log_error("out of memory tracking thread %d", (int)tid);
        return NULL;
    }
    if (t->detaching)
        task->detaching = true; /* it stops by itself at its first stop */
    return task;
}

static void on_new_child(struct tracer *t, struct task *parent)
{
    unsigned long child = 0;
    if (ptrace(PTRACE_GETEVENTMSG, parent->tid, 0L, &child) < 0 || child == 0)
        return;
    /* The child's first stop may have been seen before this event. */
    if (!task_find(t->tasks, (pid_t)child))
        add_new_task(t, parent, (pid_t)child);
}

/* ---- syscalls -------------------------------------------------------------- */

static bool get_syscall_info(pid_t tid, struct __ptrace_syscall_info *info)
{
    /* The kernel fills only what the stop kind has; zeroing the rest keeps
     * every byte defined (and valgrind, which does not know this request,
     * quiet). */
    memset(info, 0, sizeof *info);
    long n = ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof *info, info);
    return n > 0;
}

static void remember_entry(struct task *task, const struct __ptrace_syscall_info *info,
                           const uint64_t *args, uint64_t nr)
{
    task->syscall = SYSCALL_INSIDE;
    task->arch = info->arch;
    task->nr = nr;
    memcpy(task->args, args, sizeof task->args);
}

static void on_syscall_exit(struct tracer *t, struct task *task,
                            const struct __ptrace_syscall_info *info)
{
    struct map_call call;
    if (decode_map_call(task->arch, task->nr, task->args, info->exit.rval, info->exit.is_error, &call) !=
        MAP_CALL_NONE)
        track_map_call(&t->policy, task, &call);
}

static void on_syscall_stop(struct tracer *t, struct task *task)
{
    struct __ptrace_syscall_info info;
    if (task->syscall == SYSCALL_INSIDE) {
        /* An exit. Most syscalls are of no interest: don't even ask. */
        task->syscall = SYSCALL_OUTSIDE;
        task->want_exit_stop = false;
        if (!decode_is_map_syscall(task->arch, task->nr))
            return;
        if (!get_syscall_info(task->tid, &info))
            return;
        if (info.op == PTRACE_SYSCALL_INFO_EXIT)
            on_syscall_exit(t, task, &info);
        else if (info.op == PTRACE_SYSCALL_INFO_ENTRY) /* out of step: resync */
            remember_entry(task, &info, info.entry.args, info.entry.nr);
        return;
    }
    if (!get_syscall_info(task->tid, &info))
        return;
    if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
        remember_entry(task, &info, info.entry.args, info.entry.nr);
        before_syscall(t, task);
    } else
        task->syscall = SYSCALL_OUTSIDE; /* seized inside a syscall: its exit */
}

static void on_seccomp_stop(struct tracer *t, struct task *task)
{
    struct __ptrace_syscall_info info;
    if (!get_syscall_info(task->tid, &info) || info.op != PTRACE_SYSCALL_INFO_SECCOMP)
        return;
    remember_entry(task, &info, info.seccomp.args, info.seccomp.nr);
    before_syscall(t, task);
    /* The second stop (syscall exit) costs the target as much as the first:
     * take it only if the result can be reported. */
    struct map_call call;
    decode_map_call(task->arch, task->nr, task->args, 0, false, &call);
    task->want_exit_stop = track_may_report(&t->policy, task, &call);
    if (!task->want_exit_stop)
        task->syscall = SYSCALL_OUTSIDE;
}

/* ---- dumps before regions go ------------------------------------------------ */

struct id_list {
    uint64_t *ids;
    size_t n, cap;
    uint64_t start, end; /* only regions overlapping this */
};

static int collect_id(const struct region *r, void *ctx)
{
    struct id_list *list = ctx;
    if (r->end <= list->start || r->start >= list->end)
        return 0;
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        uint64_t *grown = realloc(list->ids, cap * sizeof *grown);
        if (!grown)
            return 1; /* the ones collected still get their dump */
        list->ids = grown;
        list->cap = cap;
    }
    list->ids[list->n++] = r->id;
    return 0;
}

/* The reported regions of task's space within [start, end) are about to
 * go: have them dumped first, holding task (task->holds) meanwhile. */
static void hold_for_dumps(struct tracer *t, struct task *task, uint64_t start, uint64_t end,
                           const char *reason)
{
    if (!region_set_overlaps(task->as->regions, start, end))
        return;
    struct id_list list = {.start = start, .end = end};
    region_set_foreach_in(task->as->regions, start, end, collect_id, &list);
    task->holds += dumper_before_gone(t->dumper, task->as->owner, list.ids, list.n, reason,
                                      task->tid);
    free(list.ids);
}

static bool is_exec(uint32_t arch, uint64_t nr)
{
    if (arch == DECODE_ARCH_X86_64)
        return nr == SYS_execve || nr == SYS_execveat;
    return arch == DECODE_ARCH_I386 && (nr == 11 || nr == 358);
}

/* exit_group kills the other threads without letting them stop at
 * PTRACE_EVENT_EXIT, so its entry is the moment the whole process is
 * known to be ending, with every thread's memory still there. */
static bool is_exit_group(uint32_t arch, uint64_t nr)
{
    return (arch == DECODE_ARCH_X86_64 && nr == SYS_exit_group) ||
           (arch == DECODE_ARCH_I386 && nr == 252);
}

/* At a syscall's entry: munmap and mremap take regions away, exec the
 * whole address space (unless it is a vfork parent's). */
static void before_syscall(struct tracer *t, struct task *task)
{
    if (!t->dumper && !t->unwinder)
        return;
    struct map_call call;
    decode_map_call(task->arch, task->nr, task->args, 0, false, &call);
    /* The unwinder's caches of code and unwind tables must not outlive
     * the mappings they were read from. */
    unwind_space_note_map_call(task->as->unwind, &call);
    if (!t->dumper)
        return;
    /* A large MAP_FIXED replaces whatever it lands on, as an munmap would
     * (track makes it a region of its own). A small one inside a reported
     * region is a commit of reserved memory (JVMs do this) and stays part
     * of that region: no reason to dump it early. */
    bool replaces = call.kind == MAP_CALL_MMAP && (call.flags & MAP_FIXED) &&
                    call.len >= t->policy.min_size;
    if (call.kind == MAP_CALL_MUNMAP || call.kind == MAP_CALL_MREMAP || replaces) {
        uint64_t end = call.addr + decode_page_align(call.len);
        hold_for_dumps(t, task, call.addr, end < call.addr ? UINT64_MAX : end, "unmap");
    } else if (task->as->owner != task->pid) {
        return; /* a vfork child: the memory is its parent's */
    } else if (is_exec(task->arch, task->nr)) {
        hold_for_dumps(t, task, 0, UINT64_MAX, "exec");
    } else if (is_exit_group(task->arch, task->nr)) {
        hold_for_dumps(t, task, 0, UINT64_MAX, "exit");
    }
}

struct extent {
    uint64_t id, start, end;
    int prot;
    bool found;
};

static int add_to_hull(const struct region *r, void *ctx)
{
    struct extent *e = ctx;
    if (r->id != e->id)
        return 0;
    if (!e->found) {
        e->start = r->start;
        e->prot = r->prot;
        e->found = true;
    }
    e->end = r->end; /* regions come in address order */
    return 0;
}

/* The pieces of a split region share its id: a dump covers their hull,
 * and the unmapped middle becomes holes. */
struct live_search {
    struct addr_space *as;
    pid_t found;   /* a thread not exiting */
    pid_t exiting; /* a non-leader at its PTRACE_EVENT_EXIT: its mm is still there */
};

static void find_live(struct task *task, void *ctx)
{
    struct live_search *search = ctx;
    if (task->as != search->as)
        return;
    if (!task->exiting && !search->found)
        search->found = task->tid;
    else if (task->exiting && task->tid != task->pid && !search->exiting)
        search->exiting = task->tid;
}

static bool region_extent(void *ctx, pid_t pid, uint64_t id, pid_t mapper, uint64_t *start,
                          uint64_t *end, int *prot, pid_t *reader)
{
    struct tracer *t = ctx;
    struct addr_space *as = addr_space_of_process(t->tasks, pid);
    if (!as)
        return false;
    /* A thread still in the process reads its memory; at the very end
     * (all exiting) the one holding for the dump does, mm still there. */
    struct task *m = task_find(t->tasks, mapper);
    struct task *leader = task_find(t->tasks, pid);
    if (m && m->as == as && !m->exiting) {
        *reader = mapper;
    } else if (leader && leader->as == as && !leader->exiting) {
        *reader = pid;
    } else {
        struct live_search search = {.as = as};
        task_foreach(t->tasks, find_live, &search);
        *reader = search.found ? search.found : search.exiting ? search.exiting : pid;
    }
    struct extent e = {.id = id};
    region_set_foreach(as->regions, add_to_hull, &e);
    if (!e.found)
        return false;
    *start = e.start;
    *end = e.end;
    *prot = e.prot;
    return true;
}

static void release_held(void *ctx, pid_t tid)
{
    struct tracer *t = ctx;
    struct task *task = task_find(t->tasks, tid);
    if (task && task->holds > 0 && --task->holds == 0)
        resume(t, task, 0);
}

/* ---- exec and exit --------------------------------------------------------- */

/* Returns the task that now has tid (it may be another struct than the one
 * passed: a non-leader exec takes over the leader's tid). */
static struct task *on_exec(struct tracer *t, struct task *task)
{
    unsigned long former = (unsigned long)task->tid;
    ptrace(PTRACE_GETEVENTMSG, task->tid, 0L, &former);
    if ((pid_t)former != task->tid) {
        /* The old leader is gone without an exit report; the execing
         * thread, with its state, carries on under the leader's tid. */
        struct task *execing = task_find(t->tasks, (pid_t)former);
        if (execing) {
            pid_t tid = task->tid;
            task_remove(t->tasks, task);
            task_rekey(t->tasks, execing, tid);
            task = execing;
        }
    }
    struct addr_space *old = task->as;
    unsigned long ended = old->owner == task->pid ? region_set_count(old->regions) : 0;
    struct addr_space *fresh = addr_space_new(t->tasks, task->pid);
    if (fresh) {
        if (old->owner == task->pid)
            old->owner = 0; /* dying threads may still point here until reaped */
        task_set_addr_space(t->tasks, task, fresh);
    }
    struct event_origin origin = {.pid = task->pid, .tid = task->tid};
    clock_gettime(CLOCK_REALTIME, &origin.ts);
    task_read_comm(task, origin.comm); /* the new program's name */
    output_exec(&origin, ended);
    return task;
}

static void on_task_gone(struct tracer *t, struct task *task, int status)
{
    if (task->tid == task->pid) {
        /* A leader's death is reported after all its threads': the process
         * is gone. */
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            cgroup_check_oom(t); /* an OOM kill, maybe: its event first */
        struct event_origin origin = {.pid = task->pid, .tid = task->tid};
        clock_gettime(CLOCK_REALTIME, &origin.ts);
        snprintf(origin.comm, sizeof origin.comm, "%s", task->leader_comm[0] ? task->leader_comm : "?");
        if (task->tid != t->launched_pid || t->launched_execed)
            output_exit(&origin, status);
        if (task->tid == t->launched_pid) {
            t->launched_status = status;
            t->launched_done = true;
        }
    }
    task_remove(t->tasks, task);
}

/* ---- one stop -------------------------------------------------------------- */

/* At a thread's PTRACE_EVENT_EXIT: whether its process ends with it, while
 * its memory is still there for the last time. Either it is the last live
 * thread, or it dies of a signal: a fatal signal takes the whole group,
 * and the other threads, killed, never stop to tell us. (exit_group was
 * caught at its entry already.) */
static bool process_ending(struct task *task)
{
    if (task->as->live == 0)
        return true;
    unsigned long status = 0;
    if (ptrace(PTRACE_GETEVENTMSG, task->tid, 0L, &status) < 0)
        return false;
    return WIFSIGNALED((int)status);
}


static bool is_stop_signal(int sig)
{
    return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static void handle_stop(struct tracer *t, pid_t tid, int status)
{
    t->stats.total++;
    struct task *task = task_find(t->tasks, tid);
    if (!task && !(task = add_new_task(t, NULL, tid))) {
        /* Cannot track it: let it run untouched rather than hold it. */
        if (WIFSTOPPED(status))
            ptrace(PTRACE_DETACH, tid, 0L, 0L);
        return;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
        t->stats.exited++;
        on_task_gone(t, task, status);
        return;
    }
    if (!WIFSTOPPED(status))
        return;

    int sig = WSTOPSIG(status);
    unsigned event = (unsigned)status >> 16;
    if (sig == (SIGTRAP | 0x80)) {
        t->stats.syscall++;
        on_syscall_stop(t, task);
        if (task->holds == 0) /* else a dump releases it */
            resume(t, task, 0);
        return;
    }
    switch (event) {
    case 0: /* signal-delivery stop: pass the signal on, unchanged */
        t->stats.signal++;
        resume(t, task, sig);
        return;
    case PTRACE_EVENT_STOP:
        if (is_stop_signal(sig)) {
            /* Group-stop: stay stopped, as the process asked, but keep
             * reporting (SIGCONT, new signals) through PTRACE_LISTEN. */
            t->stats.group++;
            task->group_stopped = true;
            if (task->detaching)
                detach_task(t, task, 0); /* stays stopped, untraced */
            else if (ptrace(PTRACE_LISTEN, tid, 0L, 0L) < 0 && errno != ESRCH)
                log_warn("PTRACE_LISTEN of thread %d: %s", (int)tid, strerror(errno));
            return;
        }
        /* An interrupt, a new task's first stop, or the end of a group-stop. */
        t->stats.event++;
        task->group_stopped = false;
        resume(t, task, 0);
        return;
    case PTRACE_EVENT_CLONE:
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
        t->stats.event++;
        on_new_child(t, task);
        resume(t, task, 0);
        return;
    case PTRACE_EVENT_EXEC:
        t->stats.event++;
        task = on_exec(t, task);
        if (task->pid == t->launched_pid)
            t->launched_execed = true;
        resume(t, task, 0);
        return;
    case PTRACE_EVENT_EXIT:
        /* The last moment the thread's /proc entry is readable. */
        t->stats.event++;
        if (task->tid == task->pid)
            procfs_read_comm(task->pid, task->tid, task->leader_comm);
        task_mark_exiting(task);
        if (t->dumper && task->as->owner == task->pid && process_ending(task))
            hold_for_dumps(t, task, 0, UINT64_MAX, "exit");
        if (task->holds == 0)
            resume(t, task, 0);
        return;
    case PTRACE_EVENT_SECCOMP:
        t->stats.seccomp++;
        on_seccomp_stop(t, task);
        if (task->holds == 0)
            resume(t, task, 0);
        return;
    default:
        t->stats.event++;
        resume(t, task, 0);
        return;
    }
}

/* ---- targets by name (--comm, --match, --wait) ------------------------------- */

/* --wait rescans /proc on a timer whose signal is read on the signalfd,
 * like SIGALRM for --duration: nothing is added to the path of a stop,
 * and a scan runs between batches of stops, never inside one. SIGPROF
 * because it is a timer signal by convention that nothing else here uses
 * (SIGALRM is --duration's, SIGVTALRM the dump timer's, SIGUSR1/SIGUSR2
 * are wake-ups from our threads), and a classic signal does not queue: a
 * slow scan makes the next expiry an overrun, never a backlog of scans.
 * A kill -PROF from outside (not SI_TIMER) is ignored. */
#define RESCAN_SIGNAL SIGPROF
/* With nothing traced, a new process is found within this... */
#define RESCAN_IDLE_MS 250
/* ...and while tracing, a second one (or a restarted container's) within
 * this: each scan reads /proc/PID/stat of every process, on the thread
 * that the tracees' stops wait for. */
#define RESCAN_BUSY_MS 1000

static int setup_targets_by_name(struct tracer *t, sigset_t *served)
{
    const struct options *o = t->opts;
    if (o->ncomms == 0 && !o->match_regex)
        return 0;
    if (!(t->discover = discover_new(o->comms, o->ncomms, o->match_regex)))
        return -1;
    if (!o->wait_for_target)
        return 0;
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = RESCAN_SIGNAL};
    if (timer_create(CLOCK_MONOTONIC, &sev, &t->rescan_timer) < 0) {
        log_error("cannot create the --wait timer: %s", strerror(errno));
        return -1;
    }
    t->has_rescan_timer = true;
    sigaddset(served, RESCAN_SIGNAL);
    return 0;
}

static void set_rescan_interval(struct tracer *t, bool busy)
{
    long ms = busy ? RESCAN_BUSY_MS : RESCAN_IDLE_MS;
    if (!t->has_rescan_timer || ms == t->rescan_ms)
        return;
    t->rescan_ms = ms;
    struct timespec period = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    struct itimerspec its = {.it_interval = period, .it_value = period};
    if (timer_settime(t->rescan_timer, 0, &its, NULL) < 0)
        log_warn("cannot arm the --wait timer: %s", strerror(errno));
    if (!busy)
        log_info("waiting for a target (rescanning /proc every %ld ms)", ms);
}

/* No tracee left: with --wait, wait for the next target unless we are
 * shutting down. */
static bool wait_for_next_target(struct tracer *t)
{
    if (!t->has_rescan_timer || t->finishing || t->detaching)
        return false;
    set_rescan_interval(t, false);
    return true;
}

struct target_scan {
    struct tracer *t;
    int attached;
    int failed;
};

static bool already_ours(pid_t pid, void *ctx)
{
    struct target_scan *scan = ctx;
    if (task_find(scan->t->tasks, pid) || addr_space_of_process(scan->t->tasks, pid))
        return true;
    /* A child forked by a tracee is traced by the kernel's doing before its
     * first stop reaches us: ours already, followed, not a new target. */
    return procfs_status_number(pid, "TracerPid") == (long)getpid();
}

static void attach_found(const struct discover_match *m, void *ctx)
{
    struct target_scan *scan = ctx;
    struct tracer *t = scan->t;
    if (scan->failed && !t->opts->wait_for_target)
        return; /* all or nothing, as with -p: the detach is coming */
    struct event_origin origin = {.pid = m->pid, .tid = m->pid};
    clock_gettime(CLOCK_REALTIME, &origin.ts);
    memcpy(origin.comm, m->comm, sizeof origin.comm);
    output_target(&origin, m->cmdline, m->matched);
    if (tracer_attach(t, m->pid) == 0) {
        scan->attached++;
        return;
    }
    /* tracer_attach said why. With --wait, not again for this process:
     * once is information, every 250 ms is noise. */
    scan->failed++;
    discover_ignore(t->discover, m);
}

int tracer_attach_targets(struct tracer *t)
{
    if (!t->discover)
        return 0;
    struct target_scan scan = {.t = t};
    if (discover_scan(t->discover, already_ours, attach_found, &scan) < 0) {
        log_error("cannot list /proc: %s; --comm and --match need the /proc of the "
                  "target's pid namespace",
                  strerror(errno));
        return -1;
    }
    if (t->opts->wait_for_target)
        return scan.attached;
    if (scan.failed)
        return -1;
    if (scan.attached == 0) {
        discover_log_none(t->discover);
        return -1;
    }
    return scan.attached;
}

static void rescan(struct tracer *t)
{
    if (t->finishing || t->detaching)
        return; /* shutting down: no new targets */
    int n = tracer_attach_targets(t);
    if (n > 0)
        set_rescan_interval(t, true);
    else if (n < 0)
        tracer_request_detach(t); /* /proc is gone: waiting cannot work; said why */
}

/* ---- the loop -------------------------------------------------------------- */

/* Collects every pending stop (up to BATCH_MAX), then handles them.
 * Returns the number handled, or -1 when no tracee is left (ECHILD). */
static int drain_stops(struct tracer *t)
{
    struct stop batch[BATCH_MAX];
    int n = 0;
    bool none_left = false;
    while (n < BATCH_MAX) {
        int status;
        pid_t tid = wait4(-1, &status, WNOHANG | __WALL, NULL);
        if (tid > 0) {
            batch[n].tid = tid;
            batch[n].status = status;
            n++;
            continue;
        }
        if (tid < 0 && errno == EINTR)
            continue;
        none_left = tid < 0 && errno == ECHILD;
        break;
    }
    for (int i = 0; i < n; i++)
        handle_stop(t, batch[i].tid, batch[i].status);
    /* ECHILD after the last exit: no SIGCHLD will ever come again. */
    return none_left ? -1 : n;
}

static void on_signal(struct tracer *t, const struct signalfd_siginfo *si)
{
    if (si->ssi_signo == SIGCHLD)
        return;
    if (si->ssi_signo == SIGALRM && si->ssi_code == SI_TIMER) {
        log_info("--duration reached: detaching");
        tracer_request_detach(t);
        return;
    }
    if (t->has_rescan_timer && si->ssi_signo == RESCAN_SIGNAL) {
        if (si->ssi_code == SI_TIMER)
            rescan(t);
        return;
    }
    if (si->ssi_signo == DUMPER_TIMER_SIGNAL && si->ssi_code == SI_TIMER && t->dumper) {
        dumper_run_due(t->dumper);
        return;
    }
    if (si->ssi_signo == SIGUSR1 && (pid_t)si->ssi_pid == getpid() && t->dumper) {
        dumper_collect(t->dumper);
        check_finishing(t);
        return;
    }
    if (si->ssi_signo == CGROUP_WAKE_SIGNAL && (pid_t)si->ssi_pid == getpid() && t->cgroup) {
        on_cgroup_records(t);
        return;
    }
    if (!t->launch_mode) {
        log_info("got signal %u: detaching", si->ssi_signo);
        tracer_request_detach(t);
        return;
    }
    /* Launch mode: a signal typed at the terminal reached the command too;
     * one sent to us alone (kill) is passed on, so that `kill` of
     * mmapwatch means the same as `kill` of the command. */
    if ((si->ssi_code == SI_USER || si->ssi_code == SI_QUEUE) && !t->launched_done &&
        (pid_t)si->ssi_pid != t->launched_pid)
        kill(t->launched_pid, (int)si->ssi_signo);
}

static void read_signals(struct tracer *t)
{
    /* One read: if more were queued than fit, the next read returns at
     * once. SIGCHLD itself carries nothing: wait4 tells what happened. */
    struct signalfd_siginfo si[8];
    ssize_t n = read(t->signal_fd, si, sizeof si);
    for (ssize_t i = 0; i < n / (ssize_t)sizeof si[0]; i++)
        on_signal(t, &si[i]);
}

static void arm_duration(struct tracer *t)
{
    if (!t->opts->has_duration || t->launch_mode)
        return;
    if (t->opts->duration_ns == 0) {
        tracer_request_detach(t);
        return;
    }
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM};
    struct itimerspec its = {
        .it_value = {.tv_sec = (time_t)(t->opts->duration_ns / 1000000000ULL),
                     .tv_nsec = (long)(t->opts->duration_ns % 1000000000ULL)},
    };
    if (timer_create(CLOCK_MONOTONIC, &sev, &t->duration_timer) < 0) {
        log_warn("cannot set the --duration timer: %s; stop with Ctrl-C", strerror(errno));
        return;
    }
    t->has_timer = true;
    timer_settime(t->duration_timer, 0, &its, NULL);
}

static int exit_code(const struct tracer *t)
{
    if (t->launch_mode) {
        if (!t->launched_done)
            return 1;
        if (WIFSIGNALED(t->launched_status))
            return 128 + WTERMSIG(t->launched_status);
        return WEXITSTATUS(t->launched_status);
    }
    return output_failed() ? 1 : 0;
}

int tracer_run(struct tracer *t)
{
    arm_duration(t);
    set_rescan_interval(t, task_count(t->tasks) > 0);
    for (;;) {
        int handled = drain_stops(t);
        if (handled < 0 && !wait_for_next_target(t))
            break; /* no tracee left */
        if (output_failed() && !t->launch_mode)
            tracer_request_detach(t);
        if (handled == BATCH_MAX)
            continue; /* more were pending than one batch holds */
        /* Otherwise no re-drain: a stop that came while we handled this
         * batch has queued a SIGCHLD, so the read below returns at once. */
        if (t->finishing && !t->detaching) {
            /* Waiting for dumps, with an eye on --exit-dump-timeout. */
            check_finishing(t);
            struct pollfd fd = {.fd = t->signal_fd, .events = POLLIN};
            if (poll(&fd, 1, 100) <= 0)
                continue;
        } else if (t->detaching) {
            /* Bounded: a thread that never stops must not keep us here. */
            if (seconds_since(&t->detach_started) >= DETACH_GRACE_S) {
                log_warn("%zu thread(s) did not stop within %d s to be detached; exiting "
                         "lets the kernel detach them",
                         task_count(t->tasks), DETACH_GRACE_S);
                break;
            }
            struct pollfd fd = {.fd = t->signal_fd, .events = POLLIN};
            if (poll(&fd, 1, 200) <= 0)
                continue;
        }
        read_signals(t);
    }
    cgroup_check_oom(t); /* a kill that ended the last target */
    if (t->opts->verbose)
        log_error("stops: %lu total (syscall %lu, seccomp %lu, signal %lu, other %lu)",
                  t->stats.total, t->stats.syscall, t->stats.seccomp, t->stats.signal,
                  t->stats.group + t->stats.event + t->stats.exited);
    if (t->opts->verbose && t->unwinder) {
        struct unwind_stats us;
        unwinder_stats(t->unwinder, &us);
        log_error("stacks: %lu unwound, %lu frames (%lu by frame pointer), %lu symbol files, "
                  "%lu maps reads, %lu cache drops; %.1f ms unwinding (%.1f us per stack)",
                  us.stacks, us.frames, us.fp_steps, us.files_loaded, us.maps_reads,
                  us.cache_drops, us.ns / 1e6, us.stacks ? us.ns / 1e3 / us.stacks : 0.0);
    }
    if (t->summary) {
        count_still_mapped(t);
        output_summary(summary_view(t->summary));
    }
    return exit_code(t);
}
