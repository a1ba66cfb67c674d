/*
 * dumper: scheduling of region dumps, holds and quotas, on the loop's
 * side (the worker threads that make the dumps: dumper_worker.c). See
 * include/dumper.h for the rules.
 *
 * Jobs live in an array sorted by region id: ids only grow, so a new job
 * is appended, and lookups at munmap time are a binary search. Finding the
 * next deadline is a linear scan; there are as many jobs as regions waiting
 * for a dump, and the scan runs only when jobs change, not per stop.
 */
#include "dumper.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "dump.h"
#include "monotonic.h"
#include "prio_queue.h"
#include "dump_copy.h"
#include "log.h"
#include "memread.h"
#include "output.h"

enum job_state {
    JOB_WAITING, /* until its deadline */
    JOB_RUNNING, /* handed to the worker */
};

struct work;

struct job {
    struct dump_target target;
    enum job_state state;
    uint64_t deadline_ns;  /* CLOCK_MONOTONIC */
    const char *reason;    /* of the next dump */
    unsigned seq;          /* dumps made so far */
    bool dumped;           /* at least one dump made */
    const char *later_reason; /* a dump that dumper_dump_now came before: */
    uint64_t later_deadline_ns; /* it is still due then */
    pid_t *waiters;        /* threads held until the running dump is done */
    size_t nwaiters;
    char *stack_json;      /* -k: the mapping call's stack, for the metadata; NULL */
    bool snapshotted;      /* the running dump reads a copy: nobody needs holding */
};

/* A region about to go that is at most this large is copied into our
 * memory at once and the thread let go (dump_snapshot_take): the held
 * thread pays tens of microseconds instead of the whole dump, files
 * included. Larger ones, or when the copies waiting for a worker already
 * hold DUMPER_SNAPSHOT_BUDGET bytes, hold the thread for the dump. */
#define DUMPER_SNAPSHOT_MAX (1u << 20)
#define DUMPER_SNAPSHOT_BUDGET (64u << 20)
/* Without --max-dumps, at most this many dumps of regions of
 * DUMPER_SNAPSHOT_MAX or less: a program that maps thousands of small
 * regions would get thousands of files that nobody reads, and their
 * creation would cost it more than the tracing (docs/performance.md,
 * "Many small regions"). The rest get skip events saying how to have them. */
#define DUMPER_SMALL_DUMPS 100u
static const char small_why[] =
    "100 regions of 1 MiB or less dumped already (the limit for them without --max-dumps): "
    "--max-dumps N sets a limit of your own, --min-size SIZE leaves them out";
#define DUMPER_WAKE_DELAY_NS 1000000ULL

#include "dumper_internal.h"

/* ---- jobs ------------------------------------------------------------------ */

static void free_work(struct work *w);

static struct job *find_job(struct dumper *d, uint64_t id, size_t *index)
{
    size_t lo = 0, hi = d->njobs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->jobs[mid]->target.id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (index)
        *index = lo;
    return lo < d->njobs && d->jobs[lo]->target.id == id ? d->jobs[lo] : NULL;
}

static void remove_job(struct dumper *d, struct job *job)
{
    size_t i;
    if (find_job(d, job->target.id, &i) != job)
        return;
    memmove(&d->jobs[i], &d->jobs[i + 1], (d->njobs - i - 1) * sizeof *d->jobs);
    d->njobs--;
    free(job->waiters);
    free(job->stack_json);
    free(job);
}

static void defer_wake(struct dumper *d)
{
    if (d->wake_deferred)
        return; /* the first copy's time stands: a stream of unmaps must not
                   keep pushing it back */
    d->wake_deferred = true;
    d->wake_at_ns = monotonic_ns() + DUMPER_WAKE_DELAY_NS;
}

static void arm_timer(struct dumper *d)
{
    /* A copy waits for a worker: wake one once the loop is back, that is
     * after the thread that unmapped has been let go (the timer fires at
     * once, and is read after the current stops). Waking it
     * here would let the worker's file work take the CPU from the loop
     * while that thread still waits for it. */
    uint64_t next = d->wake_deferred ? d->wake_at_ns : 0;
    for (size_t i = 0; i < d->njobs; i++) {
        struct job *job = d->jobs[i];
        if (job->state == JOB_WAITING && (next == 0 || job->deadline_ns < next))
            next = job->deadline_ns;
    }
    struct itimerspec its = {0};
    if (next) {
        /* An absolute time already passed fires at once. */
        its.it_value.tv_sec = (time_t)(next / 1000000000ULL);
        its.it_value.tv_nsec = (long)(next % 1000000000ULL);
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1; /* zero would disarm it */
    }
    if (timerfd_settime(d->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        log_warn("cannot arm the dump timer: %s; dumps wait for the next event",
                 strerror(errno));
}

static void origin_of(const struct job *job, struct event_origin *o)
{
    o->pid = job->target.pid;
    o->tid = job->target.tid;
    memcpy(o->comm, job->target.comm, sizeof o->comm);
    o->comm[sizeof o->comm - 1] = '\0';
    clock_gettime(CLOCK_REALTIME, &o->ts);
}

static bool over_quota(struct dumper *d, uint64_t len, const char **why)
{
    if (d->cfg.max_dumps && d->dumps_started >= d->cfg.max_dumps) {
        *why = "--max-dumps reached";
        return true;
    }
    if (!d->cfg.max_dumps && len <= DUMPER_SNAPSHOT_MAX && d->small_started >= DUMPER_SMALL_DUMPS) {
        *why = small_why;
        return true;
    }
    pthread_mutex_lock(&d->lock);
    bool full = d->bytes_used >= d->cfg.max_bytes;
    pthread_mutex_unlock(&d->lock);
    if (full) {
        *why = "--max-dump-bytes reached";
        return true;
    }
    return false;
}

static void skip_event(struct dumper *d, const struct event_origin *o, uint64_t addr,
                       uint64_t len, const char *why, const char *warning)
{
    if (warning == small_why && !d->small_warned) {
        log_warn("%s; larger regions are still dumped", small_why);
        d->small_warned = true;
    } else if (warning != small_why && !d->quota_warned) {
        log_warn("%s: regions are no longer dumped; tracing goes on", warning);
        d->quota_warned = true;
    }
    output_dump_skip(o, addr, len, why);
}

static bool is_timed(const char *reason)
{
    return strcmp(reason, "delay") == 0 || strcmp(reason, "redump") == 0;
}

/* Nothing in the region is readable (a PROT_NONE reservation, as JVMs and
 * allocators make): there is nothing to save yet. A timed dump waits for
 * a commit (an mprotect or a MAP_FIXED that makes part of it readable),
 * looked for every --delay (at least every second); a dump before the
 * region goes has nothing to save. Returns false: no dump started. */
static bool wait_for_commit(struct dumper *d, struct job *job)
{
    if (job->later_reason) { /* dumper_dump_now came first: the timed one stands */
        job->reason = job->later_reason;
        job->deadline_ns = job->later_deadline_ns;
        job->later_reason = NULL;
    }
    if (d->flushing || !is_timed(job->reason)) {
        remove_job(d, job);
        return false;
    }
    uint64_t recheck = d->cfg.delay_ns > 1000000000ULL ? d->cfg.delay_ns : 1000000000ULL;
    job->state = JOB_WAITING;
    job->deadline_ns = monotonic_ns() + recheck;
    return false;
}

/* Hands job to the worker now. Returns false (and drops the job, or
 * keeps it waiting for a commit) when it cannot be dumped: region gone,
 * nothing readable, the file has it, quota, out of memory. */
static bool start_job(struct dumper *d, struct job *job, bool snapshot)
{
    uint64_t start, end;
    int prot;
    pid_t reader;
    if (!d->cfg.region_extent(d->cfg.ctx, job->target.pid, job->target.id, job->target.tid,
                              &start, &end, &prot, &reader)) {
        remove_job(d, job);
        return false;
    }
    if (!(prot & PROT_READ))
        return wait_for_commit(d, job);
    /* A read-only mapping of a file: the file has the same bytes (a
     * private mapping differs only where written, which needs write
     * permission first). */
    if (!(job->target.flags & MAP_ANONYMOUS) && !(prot & PROT_WRITE)) {
        remove_job(d, job);
        return false;
    }
    const char *why = NULL;
    if (atomic_load(&d->cancel) || over_quota(d, end - start, &why)) {
        if (atomic_load(&d->cancel))
            why = "--exit-dump-timeout reached";
        struct event_origin o;
        origin_of(job, &o);
        skip_event(d, &o, start, end - start, why, why);
        remove_job(d, job);
        return false;
    }
    struct work *w = calloc(1, sizeof *w);
    if (!w) {
        log_warn("out of memory: region 0x%" PRIx64 " not dumped", start);
        remove_job(d, job);
        return false;
    }
    w->dumper = d;
    w->region_id = job->target.id;
    w->owner = job->target.pid;
    w->mapper = job->target.tid;
    w->urgent = !is_timed(job->reason) && strcmp(job->reason, "threshold") != 0;
    snprintf(w->reason, sizeof w->reason, "%s", job->reason);
    w->req = (struct dump_request){
        /* dump.c reads through pid, then read_via: a thread that still
         * has the memory (see region_extent). */
        .pid = job->target.pid,
        .tid = job->target.tid,
        .read_via = reader,
        .addr = start,
        .len = end - start,
        .prot = prot,
        .flags = job->target.flags,
        .mapped_at = job->target.mapped_at,
        .reason = w->reason,
        .seq = job->seq + 1,
    };
    memcpy(w->req.comm, job->target.comm, sizeof w->req.comm);
    if (job->stack_json && (w->stack_json = strdup(job->stack_json)))
        w->req.stack_json = w->stack_json;
    job->snapshotted = false;
    if (snapshot && w->req.len <= DUMPER_SNAPSHOT_MAX &&
        d->snap_bytes + w->req.len <= DUMPER_SNAPSHOT_BUDGET) {
        void *buf = d->nsnap_bufs ? d->snap_bufs[--d->nsnap_bufs] : NULL;
        w->snap = dump_snapshot_take(&w->req, NULL, buf, buf ? DUMPER_SNAPSHOT_MAX : 0);
        if (w->snap)
            w->snap_buf = buf;
        else if (buf)
            d->snap_bufs[d->nsnap_bufs++] = buf;
    }
    if (w->snap) {
        w->req.snapshot = w->snap;
        w->snap_bytes = w->req.len;
        d->snap_bytes += w->snap_bytes;
        job->snapshotted = true;
    }
    bool queued;
    if (d->batching) {
        queued = d->nbatch < d->batch_cap;
        if (!queued) {
            size_t cap = d->batch_cap ? d->batch_cap * 2 : 64;
            struct work **grown = realloc(d->batch, cap * sizeof *grown);
            if ((queued = grown != NULL)) {
                d->batch = grown;
                d->batch_cap = cap;
            }
        }
        if (queued)
            d->batch[d->nbatch++] = w;
    } else {
        pthread_mutex_lock(&d->lock);
        queued = prio_queue_push(&d->todo, w);
        if (queued && !w->snap)
            pthread_cond_signal(&d->wake);
        pthread_mutex_unlock(&d->lock);
        if (queued && w->snap)
            defer_wake(d);
    }
    if (!queued) {
        log_warn("out of memory: region 0x%" PRIx64 " not dumped", start);
        free_work(w);
        remove_job(d, job);
        return false;
    }
    job->state = JOB_RUNNING;
    d->dumps_started++;
    d->small_started += w->req.len <= DUMPER_SNAPSHOT_MAX;
    d->running++;
    return true;
}

static void begin_batch(struct dumper *d)
{
    d->batching = true;
}

static void end_batch(struct dumper *d)
{
    d->batching = false;
    if (!d->nbatch)
        return;
    pthread_mutex_lock(&d->lock);
    size_t i = 0;
    bool copies = false;
    for (; i < d->nbatch && prio_queue_push(&d->todo, d->batch[i]); i++)
        copies |= d->batch[i]->snap != NULL;
    if (copies)
        defer_wake(d); /* see arm_timer */
    else
        pthread_cond_broadcast(&d->wake);
    size_t pushed = i;
    /* Out of memory: these come back as failed dumps through the usual
     * path (an error event, held threads released). */
    for (; i < d->nbatch; i++) {
        struct work *w = d->batch[i];
        w->rc = -1;
        w->res.error = ENOMEM;
        w->res.error_op = "queue dump";
        w->next = d->done;
        d->done = w;
    }
    pthread_mutex_unlock(&d->lock);
    if (pushed < d->nbatch)
        dumper_wake_loop(d);
    d->nbatch = 0;
}

/* ---- the interface --------------------------------------------------------- */

struct dumper *dumper_new(const struct dumper_config *config)
{
    struct dumper *d = calloc(1, sizeof *d);
    if (!d) {
        log_error("out of memory");
        if (config->dir_fd >= 0)
            close(config->dir_fd); /* ours from the call on, whatever happens */
        return NULL;
    }
    d->cfg = *config;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    pthread_cond_init(&d->finished, NULL);
    pthread_cond_init(&d->strings_wake, NULL);
    d->strings_tail = &d->strings_head;
    prio_queue_init(&d->todo, dumper_work_before);
    d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    d->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int rc = d->timer_fd < 0 || d->done_fd < 0 ? errno : 0;
    /* The workers (and their writers) inherit the loop's blocked signals:
     * every signal we serve stays on the loop's signalfd. */
    for (unsigned i = 0; i < DUMPER_WORKERS && rc == 0; i++) {
        struct worker *wk = &d->workers[i];
        wk->d = d;
        if (!(wk->buf = memread_buf_new(DUMP_BUF_DEFAULT)) ||
            !(wk->copier = dump_copier_new(DUMP_BUF_DEFAULT)))
            rc = errno ? errno : ENOMEM;
        else if ((rc = pthread_create(&wk->thread, NULL, dumper_worker_main, wk)) == 0)
            wk->started = true;
    }
    /* One snapshot buffer faulted in now, so that the first unmap of a
     * small region does not pay for it while its thread waits (not with
     * zeros: malloc and a memset of 0 may become calloc, which touches
     * nothing). */
    void *buf = d->cfg.on_unmap ? memread_buf_new(DUMPER_SNAPSHOT_MAX) : NULL;
    if (buf) {
        memset(buf, 0xa5, DUMPER_SNAPSHOT_MAX);
        d->snap_bufs[d->nsnap_bufs++] = buf;
    }
    if (rc == 0 && d->cfg.strings_min &&
        (rc = pthread_create(&d->strings_thread, NULL, dumper_strings_main, d)) == 0)
        d->strings_started = true;
    if (rc != 0) {
        log_error("cannot start the dump workers: %s", strerror(rc));
        dumper_free(d);
        return NULL;
    }
    return d;
}

/* A snapshot buffer back into the pool, or freed when the pool is full. */
static void give_back_snap_buf(struct dumper *d, void *buf)
{
    if (d->nsnap_bufs < DUMPER_SNAP_BUFS)
        d->snap_bufs[d->nsnap_bufs++] = buf;
    else
        free(buf);
}

static void free_work(struct work *w)
{
    while (w) {
        struct work *next = w->next;
        dump_result_release(&w->res);
        dump_snapshot_free(w->snap);
        if (w->snap_buf)
            give_back_snap_buf(w->dumper, w->snap_buf);
        free(w->stack_json);
        free(w);
        w = next;
    }
}

void dumper_free(struct dumper *d)
{
    if (!d)
        return;
    atomic_store(&d->cancel, true);
    pthread_mutex_lock(&d->lock);
    d->stop = true;
    struct work *left;
    while ((left = prio_queue_pop(&d->todo)))
        free_work(left);
    free_work(d->strings_head);
    d->strings_head = NULL;
    d->strings_tail = &d->strings_head;
    pthread_cond_broadcast(&d->wake);
    pthread_cond_broadcast(&d->strings_wake);
    pthread_mutex_unlock(&d->lock);
    for (unsigned i = 0; i < DUMPER_WORKERS; i++) {
        struct worker *wk = &d->workers[i];
        if (wk->started)
            pthread_join(wk->thread, NULL);
        dump_copier_free(wk->copier);
        free(wk->buf);
    }
    if (d->strings_started)
        pthread_join(d->strings_thread, NULL);
    prio_queue_release(&d->todo);
    for (size_t i = 0; i < d->nbatch; i++)
        free_work(d->batch[i]);
    free(d->batch);
    free_work(d->done);
    if (d->timer_fd >= 0)
        close(d->timer_fd);
    if (d->done_fd >= 0)
        close(d->done_fd);
    for (size_t i = 0; i < d->njobs; i++) {
        free(d->jobs[i]->waiters);
        free(d->jobs[i]->stack_json);
        free(d->jobs[i]);
    }
    free(d->jobs);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->wake);
    pthread_cond_destroy(&d->finished);
    pthread_cond_destroy(&d->strings_wake);
    for (size_t i = 0; i < d->nsnap_bufs; i++)
        free(d->snap_bufs[i]);
    if (d->cfg.dir_fd >= 0)
        close(d->cfg.dir_fd);
    free(d);
}

/* A new waiting job for target (whose id has none), in id order. NULL
 * after a warning when out of memory. */
static struct job *add_job(struct dumper *d, const struct dump_target *target,
                           const char *reason, uint64_t deadline_ns)
{
    struct job *job = calloc(1, sizeof *job);
    if (!job) {
        log_warn("out of memory: region 0x%" PRIx64 " will not be dumped", target->addr);
        return NULL;
    }
    if (d->njobs == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        struct job **grown = realloc(d->jobs, cap * sizeof *grown);
        if (!grown) {
            free(job);
            log_warn("out of memory: region 0x%" PRIx64 " will not be dumped", target->addr);
            return NULL;
        }
        d->jobs = grown;
        d->cap = cap;
    }
    job->target = *target;
    job->target.stack_json = NULL; /* the caller's; ours is the copy */
    if (target->stack_json && !(job->stack_json = strdup(target->stack_json)))
        log_warn("out of memory: the dump of 0x%" PRIx64 " will have no stack", target->addr);
    job->reason = reason;
    job->deadline_ns = deadline_ns;
    size_t i;
    find_job(d, target->id, &i);
    memmove(&d->jobs[i + 1], &d->jobs[i], (d->njobs - i) * sizeof *d->jobs);
    d->jobs[i] = job;
    d->njobs++;
    return job;
}

void dumper_schedule(struct dumper *d, const struct dump_target *target)
{
    /* Shutting down: what was pending is being finished; a busy target
     * mapping on would otherwise keep us from ever detaching. */
    if (d->flushing || find_job(d, target->id, NULL))
        return;
    struct job *job = add_job(d, target, "delay", monotonic_ns() + d->cfg.delay_ns);
    if (!job)
        return;
    if (d->cfg.delay_ns == 0)
        start_job(d, job, false);
    else
        arm_timer(d);
}

unsigned dumper_before_gone(struct dumper *d, pid_t pid, const uint64_t *ids, size_t n,
                            const char *reason, pid_t tid)
{
    unsigned holds = 0;
    begin_batch(d);
    for (size_t i = 0; i < n; i++) {
        struct job *job = find_job(d, ids[i], NULL);
        if (!job || job->target.pid != pid)
            continue;
        if (job->state == JOB_WAITING) {
            /* Already dumped, or unmap dumps are off: the job stays, and
             * when it is due the region may be gone (then it is dropped)
             * or still partly there (an unmapped middle, say). */
            if (job->dumped || !d->cfg.on_unmap)
                continue;
            job->reason = reason;
            /* Only at an unmap: at an exit or an exec the whole process
             * stops for its dumps anyway, and its events come in order. */
            if (!start_job(d, job, strcmp(reason, "unmap") == 0))
                continue;
        }
        if (job->snapshotted)
            continue; /* the dump reads a copy: the thread may go on */
        /* Running now: hold the thread until it is done. */
        pid_t *grown = realloc(job->waiters, (job->nwaiters + 1) * sizeof *grown);
        if (!grown)
            continue; /* cannot hold it: let it go rather than hold forever */
        job->waiters = grown;
        job->waiters[job->nwaiters++] = tid;
        holds++;
    }
    end_batch(d);
    arm_timer(d);
    return holds;
}

void dumper_unheld_gone(struct dumper *d, pid_t pid, const uint64_t *ids, size_t n,
                        const char *reason)
{
    for (size_t i = 0; i < n; i++) {
        struct job *job = find_job(d, ids[i], NULL);
        if (!job || job->target.pid != pid || job->state != JOB_WAITING)
            continue; /* dumped already, or its dump is running */
        if (job->dumped || !d->cfg.on_unmap)
            continue; /* as with a holding source: nothing more was promised */
        /* The memory is most likely gone already (the source tells after
         * the fact), and reading the address now could copy whatever was
         * mapped there since: no read, a skip that says why. */
        uint64_t start = job->target.addr, end = job->target.addr + job->target.len;
        int prot;
        pid_t reader;
        d->cfg.region_extent(d->cfg.ctx, pid, job->target.id, job->target.tid, &start, &end,
                             &prot, &reader);
        char why[160];
        snprintf(why, sizeof why,
                 "%s before its dump: this source cannot hold the thread; --source ptrace "
                 "can",
                 strcmp(reason, "unmap") == 0 ? "unmapped"
                 : strcmp(reason, "exec") == 0 ? "ended by exec"
                                               : "ended by exit");
        struct event_origin o;
        origin_of(job, &o);
        output_dump_skip(&o, start, end - start, why);
        remove_job(d, job);
    }
    arm_timer(d);
}

size_t dumper_dump_now(struct dumper *d, const struct dump_target *targets, size_t n,
                       const char *reason)
{
    if (d->flushing)
        return 0; /* what is pending is being finished already */
    size_t started = 0;
    begin_batch(d);
    for (size_t i = 0; i < n; i++) {
        struct job *job = find_job(d, targets[i].id, NULL);
        if (job && job->state == JOB_RUNNING)
            continue; /* a dump of this moment is on its way */
        if (job) {
            job->later_reason = job->reason;
            job->later_deadline_ns = job->deadline_ns;
        }
        if (!job && !(job = add_job(d, &targets[i], reason, monotonic_ns())))
            continue;
        job->reason = reason;
        if (start_job(d, job, false))
            started++;
    }
    end_batch(d);
    arm_timer(d);
    return started;
}

static void wake_workers(struct dumper *d)
{
    if (!d->wake_deferred)
        return;
    d->wake_deferred = false;
    pthread_mutex_lock(&d->lock);
    pthread_cond_broadcast(&d->wake);
    pthread_mutex_unlock(&d->lock);
}

int dumper_timer_fd(const struct dumper *d) { return d->timer_fd; }
int dumper_done_fd(const struct dumper *d) { return d->done_fd; }

void dumper_run_due(struct dumper *d)
{
    uint64_t expirations;
    if (read(d->timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        log_warn("dump timer: %s", strerror(errno));
    if (d->wake_deferred && d->wake_at_ns <= monotonic_ns())
        wake_workers(d);
    uint64_t now = monotonic_ns();
    begin_batch(d);
    /* start_job may remove jobs: walk by id, not by index. */
    for (size_t i = 0; i < d->njobs;) {
        struct job *job = d->jobs[i];
        uint64_t id = job->target.id;
        if (job->state == JOB_WAITING && job->deadline_ns <= now)
            start_job(d, job, false);
        size_t next;
        find_job(d, id, &next);
        i = next < d->njobs && d->jobs[next]->target.id == id ? next + 1 : next;
    }
    end_batch(d);
    arm_timer(d);
}

/* --strings: the pass over the dump w just wrote, queued for the strings
 * thread (counted as running, so that a drain waits for it too). */
static void queue_strings(struct dumper *d, const struct work *w)
{
    struct work *s = calloc(1, sizeof *s);
    if (!s) {
        log_warn("out of memory: no .strings for %s", w->res.name);
        return;
    }
    s->dumper = d;
    s->strings_pass = true;
    s->region_id = w->region_id;
    s->owner = w->owner;
    s->mapper = w->mapper;
    s->req = w->req;
    s->req.reason = NULL;
    s->req.stack_json = NULL;
    s->req.snapshot = NULL;
    memcpy(s->res.name, w->res.name, sizeof s->res.name);
    memcpy(s->res.strings_name, w->res.strings_name, sizeof s->res.strings_name);
    pthread_mutex_lock(&d->lock);
    *d->strings_tail = s;
    d->strings_tail = &s->next;
    pthread_cond_signal(&d->strings_wake);
    pthread_mutex_unlock(&d->lock);
    d->running++;
}

/* A strings pass is done: its event, or what kept the .strings from
 * being written. */
static void finish_strings(struct dumper *d, struct work *w, const struct event_origin *o)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", d->cfg.dir_path, w->res.strings_name);
    if (w->rc == 0) {
        struct top_string top[DUMP_STRINGS_TOP];
        for (size_t i = 0; i < w->ntop; i++) {
            top[i].text = w->top[i].text;
            top[i].count = w->top[i].count;
        }
        output_strings(o, w->req.addr, w->req.len, path, top, w->ntop);
        return;
    }
    char message[256];
    if (w->res.error == ECANCELED)
        snprintf(message, sizeof message,
                 "strings: --exit-dump-timeout reached: no .strings file left (the .bin is "
                 "complete: strings(1) lists its runs)");
    else
        snprintf(message, sizeof message, "strings: %s", strerror(w->res.error));
    output_dump_error(o, w->req.addr, w->req.len, path, message);
}

static void finish(struct dumper *d, struct work *w)
{
    struct event_origin o = {.pid = w->owner, .tid = w->mapper};
    memcpy(o.comm, w->req.comm, sizeof o.comm);
    o.comm[sizeof o.comm - 1] = '\0';
    clock_gettime(CLOCK_REALTIME, &o.ts);
    if (w->strings_pass) {
        finish_strings(d, w, &o); /* no job waits for it */
        return;
    }
    struct job *job = find_job(d, w->region_id, NULL);

    char path[4096];
    snprintf(path, sizeof path, "%s/%s", d->cfg.dir_path, w->res.name);
    d->snap_bytes -= w->snap_bytes;
    /* What the dump really wrote replaces what it reserved. */
    pthread_mutex_lock(&d->lock);
    d->bytes_used -= w->reserved;
    if (w->rc == 0)
        d->bytes_used += w->res.bytes_read;
    pthread_mutex_unlock(&d->lock);
    if (w->rc == 0) {
        output_dump(&o, w->req.addr, w->req.len, path, w->res.bytes_read,
                    w->res.resident_bytes, w->req.reason);
        if (d->cfg.dumped)
            d->cfg.dumped(d->cfg.ctx, w->region_id);
        if (d->cfg.strings_min && w->res.strings_name[0])
            queue_strings(d, w);
    } else if (w->res.error == EDQUOT) {
        d->dumps_started--; /* not made: --max-dumps counts dumps made */
        d->small_started -= w->req.len <= DUMPER_SNAPSHOT_MAX;
        skip_event(d, &o, w->req.addr, w->req.len, w->res.refused, "--max-dump-bytes reached");
    } else if (w->res.error == ECANCELED) {
        skip_event(d, &o, w->req.addr, w->req.len,
                   "--exit-dump-timeout reached: dump cancelled, no file left",
                   "--exit-dump-timeout reached");
    } else {
        char message[256];
        snprintf(message, sizeof message, "%s: %s", w->res.error_op ? w->res.error_op : "dump",
                 strerror(w->res.error));
        output_dump_error(&o, w->req.addr, w->req.len, path, message);
    }
    if (!job)
        return;
    if (w->rc == 0)
        job->seq = w->res.seq;
    for (size_t i = 0; i < job->nwaiters; i++)
        d->cfg.release(d->cfg.ctx, job->waiters[i]);
    free(job->waiters);
    job->waiters = NULL;
    job->nwaiters = 0;
    job->dumped = true;
    if (job->later_reason && !d->flushing) {
        /* dumper_dump_now came first; the scheduled dump stands. */
        job->state = JOB_WAITING;
        job->reason = job->later_reason;
        job->deadline_ns = job->later_deadline_ns;
        job->later_reason = NULL;
        return;
    }
    if (d->cfg.redump_ns == 0 || d->flushing) {
        remove_job(d, job);
        return;
    }
    job->state = JOB_WAITING;
    job->reason = "redump";
    job->deadline_ns = monotonic_ns() + d->cfg.redump_ns;
}

void dumper_collect(struct dumper *d)
{
    /* Cleared before the list is taken: a dump finished after this wakes
     * the loop again. */
    uint64_t finished;
    if (read(d->done_fd, &finished, sizeof finished) < 0 && errno != EAGAIN)
        log_warn("dump worker: %s", strerror(errno));
    pthread_mutex_lock(&d->lock);
    struct work *done = d->done;
    d->done = NULL;
    pthread_mutex_unlock(&d->lock);
    /* The list is newest first: finish in the order they were made. */
    struct work *ordered = NULL;
    while (done) {
        struct work *next = done->next;
        done->next = ordered;
        ordered = done;
        done = next;
    }
    while (ordered) {
        struct work *next = ordered->next;
        ordered->next = NULL;
        d->running--;
        finish(d, ordered);
        free_work(ordered);
        ordered = next;
    }
    arm_timer(d);
}

bool dumper_flush(struct dumper *d)
{
    d->flushing = true;
    wake_workers(d);
    begin_batch(d);
    for (size_t i = 0; i < d->njobs;) {
        struct job *job = d->jobs[i];
        uint64_t id = job->target.id;
        if (job->state == JOB_WAITING) {
            if (job->dumped) { /* a redump: the last dump stands */
                remove_job(d, job);
                continue;
            }
            start_job(d, job, false);
        }
        size_t next;
        find_job(d, id, &next);
        i = next < d->njobs && d->jobs[next]->target.id == id ? next + 1 : next;
    }
    end_batch(d);
    return d->running == 0 && d->njobs == 0;
}

void dumper_drain(struct dumper *d, uint64_t timeout_ns)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* pthread_cond_timedwait's clock */
    uint64_t ns = (uint64_t)until.tv_nsec + timeout_ns % 1000000000ULL;
    until.tv_sec += (time_t)(timeout_ns / 1000000000ULL + ns / 1000000000ULL);
    until.tv_nsec = (long)(ns % 1000000000ULL);
    wake_workers(d);
    for (;;) {
        dumper_collect(d);
        if (d->running == 0)
            return;
        pthread_mutex_lock(&d->lock);
        int rc = 0;
        while (!d->done && rc == 0)
            rc = atomic_load(&d->cancel) ? pthread_cond_wait(&d->finished, &d->lock)
                                         : pthread_cond_timedwait(&d->finished, &d->lock, &until);
        pthread_mutex_unlock(&d->lock);
        if (rc == ETIMEDOUT)
            atomic_store(&d->cancel, true); /* the rest come back cancelled, at once */
    }
}

void dumper_cancel(struct dumper *d)
{
    atomic_store(&d->cancel, true);
}
