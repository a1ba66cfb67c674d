/*
 * dumper: scheduling of region dumps, holds, quotas, and the worker thread
 * that writes them. See include/dumper.h for the rules.
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
#include <sys/timerfd.h>
#include <unistd.h>

#include "dump.h"
#include "log.h"
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
};

/* One dump on its way through the worker. The worker owns it from
 * submission until it is put on the done list. */
struct work {
    uint64_t region_id;
    pid_t owner, mapper;       /* the process and the thread that mapped it */
    struct dump_request req;
    char reason[16];
    struct dump_result res;
    int rc;
    struct string_count *top;
    size_t ntop;
    char *stack_json;          /* req.stack_json points here */
    struct work *next;
};

struct dumper {
    struct dumper_config cfg;
    struct job **jobs;
    size_t njobs, cap;

    uint64_t dumps_started, bytes_written;
    bool quota_warned, flushing;

    int timer_fd;                  /* the next dump deadline (timerfd), in the loop's poll set */
    int done_fd;                   /* eventfd: the worker finished a dump */

    pthread_t worker;
    bool worker_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct work *todo, *todo_tail; /* guarded by lock */
    struct work *done;             /* guarded by lock */
    bool stop;                     /* guarded by lock */
    size_t running;                /* submitted and not collected (loop only) */
    atomic_bool cancel;
    void *buf;                     /* the worker's read buffer */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- the worker ------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    struct dumper *d = arg;
    struct dump_options opt = {.buf = d->buf, .buf_size = DUMP_BUF_DEFAULT,
                               .cancel = &d->cancel};
    unsigned max_seq = 0; /* the highest seq this run has written */
    pthread_mutex_lock(&d->lock);
    for (;;) {
        while (!d->todo && !d->stop)
            pthread_cond_wait(&d->wake, &d->lock);
        if (!d->todo)
            break; /* stop, nothing left */
        struct work *w = d->todo;
        d->todo = w->next;
        if (!d->todo)
            d->todo_tail = NULL;
        pthread_mutex_unlock(&d->lock);

        /* A region mapped where an earlier one of the same length was has
         * its files too: take a seq above every one used so far rather
         * than fail (stepping up one by one from 1 made a program that
         * reuses two addresses quadratic). Only this thread writes here,
         * so the probe cannot race with us. */
        char name[DUMP_NAME_MAX];
        while (w->req.seq < UINT32_MAX &&
               dump_file_name(name, sizeof name, w->req.pid, w->req.addr, w->req.len,
                              w->req.seq, ".bin") == 0 &&
               faccessat(d->cfg.dir_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
            w->req.seq = w->req.seq > max_seq ? w->req.seq + 1 : max_seq + 1;
        if (w->req.seq > max_seq)
            max_seq = w->req.seq;
        w->rc = dump_region(d->cfg.dir_fd, &w->req, &opt, &w->res);
        if (w->rc == 0 && d->cfg.strings_min &&
            (w->top = calloc(DUMP_STRINGS_TOP, sizeof *w->top)) != NULL &&
            dump_strings(d->cfg.dir_fd, w->res.name, d->cfg.strings_min, w->top, &w->ntop) < 0)
            w->ntop = 0; /* the dump stands; the strings are a bonus */

        pthread_mutex_lock(&d->lock);
        w->next = d->done;
        d->done = w;
        /* The loop polls this eventfd. */
        uint64_t one = 1;
        if (write(d->done_fd, &one, sizeof one) < 0 && errno != EAGAIN)
            log_warn("dump worker: cannot wake the loop: %s", strerror(errno));
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

/* ---- jobs ------------------------------------------------------------------ */

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

static void arm_timer(struct dumper *d)
{
    uint64_t next = 0;
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

static bool over_quota(struct dumper *d, const char **why)
{
    if (d->cfg.max_dumps && d->dumps_started >= d->cfg.max_dumps) {
        *why = "--max-dumps reached";
        return true;
    }
    if (d->bytes_written >= d->cfg.max_bytes) {
        *why = "--max-dump-bytes reached";
        return true;
    }
    return false;
}

/* Hands job to the worker now. Returns false (and drops the job) when it
 * cannot be dumped: region gone, quota, out of memory. */
static bool start_job(struct dumper *d, struct job *job)
{
    uint64_t start, end;
    int prot;
    pid_t reader;
    if (!d->cfg.region_extent(d->cfg.ctx, job->target.pid, job->target.id, job->target.tid,
                              &start, &end, &prot, &reader)) {
        remove_job(d, job);
        return false;
    }
    const char *why = NULL;
    if (over_quota(d, &why) || atomic_load(&d->cancel)) {
        if (atomic_load(&d->cancel))
            why = "--exit-dump-timeout reached";
        if (!d->quota_warned) {
            log_warn("%s: regions are no longer dumped; tracing goes on", why);
            d->quota_warned = true;
        }
        struct event_origin o;
        origin_of(job, &o);
        output_dump_skip(&o, start, end - start, why);
        remove_job(d, job);
        return false;
    }
    struct work *w = calloc(1, sizeof *w);
    if (!w) {
        log_warn("out of memory: region 0x%" PRIx64 " not dumped", start);
        remove_job(d, job);
        return false;
    }
    w->region_id = job->target.id;
    w->owner = job->target.pid;
    w->mapper = job->target.tid;
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
    job->state = JOB_RUNNING;
    d->dumps_started++;
    d->running++;
    pthread_mutex_lock(&d->lock);
    if (d->todo_tail)
        d->todo_tail->next = w;
    else
        d->todo = w;
    d->todo_tail = w;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    return true;
}

/* ---- the interface --------------------------------------------------------- */

struct dumper *dumper_new(const struct dumper_config *config)
{
    struct dumper *d = calloc(1, sizeof *d);
    if (!d || !(d->buf = malloc(DUMP_BUF_DEFAULT))) {
        log_error("out of memory");
        free(d);
        if (config->dir_fd >= 0)
            close(config->dir_fd); /* ours from the call on, whatever happens */
        return NULL;
    }
    d->cfg = *config;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    d->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->timer_fd < 0 || d->done_fd < 0) {
        log_error("cannot start the dump worker: %s", strerror(errno));
        dumper_free(d);
        return NULL;
    }
    /* The worker inherits the loop's blocked signals: every signal we
     * serve stays on the loop's signalfd. */
    int rc = pthread_create(&d->worker, NULL, worker_main, d);
    if (rc != 0) {
        log_error("cannot start the dump worker: %s", strerror(rc));
        dumper_free(d);
        return NULL;
    }
    d->worker_started = true;
    return d;
}

static void free_work(struct work *w)
{
    while (w) {
        struct work *next = w->next;
        dump_result_release(&w->res);
        free(w->top);
        free(w->stack_json);
        free(w);
        w = next;
    }
}

void dumper_free(struct dumper *d)
{
    if (!d)
        return;
    if (d->worker_started) {
        atomic_store(&d->cancel, true);
        pthread_mutex_lock(&d->lock);
        d->stop = true;
        free_work(d->todo);
        d->todo = d->todo_tail = NULL;
        pthread_cond_signal(&d->wake);
        pthread_mutex_unlock(&d->lock);
        pthread_join(d->worker, NULL);
    }
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
    if (d->cfg.dir_fd >= 0)
        close(d->cfg.dir_fd);
    free(d->buf);
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
    struct job *job = add_job(d, target, "delay", now_ns() + d->cfg.delay_ns);
    if (!job)
        return;
    if (d->cfg.delay_ns == 0)
        start_job(d, job);
    else
        arm_timer(d);
}

unsigned dumper_before_gone(struct dumper *d, pid_t pid, const uint64_t *ids, size_t n,
                            const char *reason, pid_t tid)
{
    unsigned holds = 0;
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
            if (!start_job(d, job))
                continue;
        }
        /* Running now: hold the thread until it is done. */
        pid_t *grown = realloc(job->waiters, (job->nwaiters + 1) * sizeof *grown);
        if (!grown)
            continue; /* cannot hold it: let it go rather than hold forever */
        job->waiters = grown;
        job->waiters[job->nwaiters++] = tid;
        holds++;
    }
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
    for (size_t i = 0; i < n; i++) {
        struct job *job = find_job(d, targets[i].id, NULL);
        if (job && job->state == JOB_RUNNING)
            continue; /* a dump of this moment is on its way */
        if (job) {
            job->later_reason = job->reason;
            job->later_deadline_ns = job->deadline_ns;
        }
        if (!job && !(job = add_job(d, &targets[i], reason, now_ns())))
            continue;
        job->reason = reason;
        if (start_job(d, job))
            started++;
    }
    arm_timer(d);
    return started;
}

int dumper_timer_fd(const struct dumper *d) { return d->timer_fd; }
int dumper_done_fd(const struct dumper *d) { return d->done_fd; }

void dumper_run_due(struct dumper *d)
{
    uint64_t expirations;
    if (read(d->timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        log_warn("dump timer: %s", strerror(errno));
    uint64_t now = now_ns();
    /* start_job may remove jobs: walk by id, not by index. */
    for (size_t i = 0; i < d->njobs;) {
        struct job *job = d->jobs[i];
        uint64_t id = job->target.id;
        if (job->state == JOB_WAITING && job->deadline_ns <= now)
            start_job(d, job);
        size_t next;
        find_job(d, id, &next);
        i = next < d->njobs && d->jobs[next]->target.id == id ? next + 1 : next;
    }
    arm_timer(d);
}

static void finish(struct dumper *d, struct work *w)
{
    struct job *job = find_job(d, w->region_id, NULL);
    struct event_origin o = {.pid = w->owner, .tid = w->mapper};
    memcpy(o.comm, w->req.comm, sizeof o.comm);
    o.comm[sizeof o.comm - 1] = '\0';
    clock_gettime(CLOCK_REALTIME, &o.ts);

    char path[4096];
    snprintf(path, sizeof path, "%s/%s", d->cfg.dir_path, w->res.name);
    if (w->rc == 0) {
        d->bytes_written += w->res.bytes_read + w->res.meta_bytes;
        struct top_string top[DUMP_STRINGS_TOP];
        for (size_t i = 0; i < w->ntop; i++) {
            top[i].text = w->top[i].text;
            top[i].count = w->top[i].count;
        }
        output_dump(&o, w->req.addr, w->req.len, path, w->res.bytes_read,
                    w->res.resident_bytes, w->req.reason, top, w->ntop);
        if (d->cfg.dumped)
            d->cfg.dumped(d->cfg.ctx, w->region_id);
    } else {
        char message[256];
        snprintf(message, sizeof message, "%s: %s", w->res.error_op ? w->res.error_op : "dump",
                 strerror(w->res.error));
        output_dump_error(&o, w->req.addr, w->req.len, path, message);
    }
    if (!job)
        return;
    job->seq = w->req.seq;
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
    job->deadline_ns = now_ns() + d->cfg.redump_ns;
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
    for (size_t i = 0; i < d->njobs;) {
        struct job *job = d->jobs[i];
        uint64_t id = job->target.id;
        if (job->state == JOB_WAITING) {
            if (job->dumped) { /* a redump: the last dump stands */
                remove_job(d, job);
                continue;
            }
            start_job(d, job);
        }
        size_t next;
        find_job(d, id, &next);
        i = next < d->njobs && d->jobs[next]->target.id == id ? next + 1 : next;
    }
    return d->running == 0 && d->njobs == 0;
}

void dumper_cancel(struct dumper *d)
{
    atomic_store(&d->cancel, true);
}
