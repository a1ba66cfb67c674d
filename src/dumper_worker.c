/*
 * dumper_worker: the dump worker threads and the strings thread. Each
 * worker takes the best dump from the queue (dumper_work_before), makes it
 * (dump_region, with a second copier of its own: dump_copy.h) and puts it
 * on the done list for the loop; with --strings the strings thread then
 * runs dump_strings() over each finished dump. See
 * include/dumper_internal.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dumper_internal.h"
#include "log.h"

/* Which dump goes first: one a thread waits for, then the newest region
 * (the highest id). At an exit or a threshold that is the order that
 * saves the most evidence if time or the quota runs out: the regions
 * mapped last are the growth being chased, and the ones the user has no
 * dump of yet (older ones had their --delay). */
bool dumper_work_before(const void *pa, const void *pb)
{
    const struct work *a = pa, *b = pb;
    if (a->urgent != b->urgent)
        return a->urgent;
    return a->region_id > b->region_id;
}

/* --max-dump-bytes, decided when a dump's resident size is known and
 * before it writes anything: dumps that start together (at an exit, a
 * flush, a threshold) cannot all pass. Called by a worker (dump.h). */
static bool reserve_bytes(void *ctx, uint64_t resident, char *why, size_t why_size)
{
    struct work *w = ctx;
    struct dumper *d = w->dumper;
    pthread_mutex_lock(&d->lock);
    uint64_t left = d->bytes_used < d->cfg.max_bytes ? d->cfg.max_bytes - d->bytes_used : 0;
    bool ok = resident <= left;
    if (ok) {
        d->bytes_used += resident;
        w->reserved = resident;
    }
    pthread_mutex_unlock(&d->lock);
    if (!ok)
        snprintf(why, why_size,
                 "--max-dump-bytes reached: %" PRIu64 " bytes resident, %" PRIu64 " of %" PRIu64
                 " left",
                 resident, left, d->cfg.max_bytes);
    return ok;
}

/* The loop polls done_fd: a finished dump (or one that could not be
 * queued) is waiting on the done list. */
void dumper_wake_loop(struct dumper *d)
{
    uint64_t one = 1;
    if (write(d->done_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_warn("dump worker: cannot wake the loop: %s", strerror(errno));
}

/* w is done: onto the done list for the loop, which is woken (d->lock
 * held). */
static void hand_back(struct dumper *d, struct work *w)
{
    w->next = d->done;
    d->done = w;
    pthread_cond_broadcast(&d->finished);
    dumper_wake_loop(d);
}

void *dumper_worker_main(void *arg)
{
    struct worker *me = arg;
    struct dumper *d = me->d;
    struct dump_options opt = {.buf = me->buf, .buf_size = DUMP_BUF_DEFAULT,
                               .cancel = &d->cancel, .reserve = reserve_bytes,
                               .strings = d->cfg.strings_min != 0, .copier = me->copier};
    pthread_mutex_lock(&d->lock);
    for (;;) {
        while (!d->todo.n && !d->stop)
            pthread_cond_wait(&d->wake, &d->lock);
        if (!d->todo.n)
            break; /* stop, nothing left */
        struct work *w = prio_queue_pop(&d->todo);
        /* A region mapped where an earlier one of the same length was has
         * its files too: start above every seq used so far rather than
         * step up from 1 (that made a program that reuses two addresses
         * quadratic); dump.c takes the next free name from there. */
        char name[DUMP_NAME_MAX];
        if (dump_file_name(name, sizeof name, w->req.pid, w->req.addr, w->req.len, w->req.seq,
                           ".bin") == 0 &&
            !dump_file_name_free(d->cfg.dir_fd, name) && w->req.seq <= d->max_seq)
            w->req.seq = d->max_seq + 1;
        pthread_mutex_unlock(&d->lock);

        opt.reserve_ctx = w;
        w->rc = dump_region(d->cfg.dir_fd, &w->req, &opt, &w->res);

        pthread_mutex_lock(&d->lock);
        if (w->res.seq > d->max_seq)
            d->max_seq = w->res.seq;
        hand_back(d, w);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

/* Below the workers: a strings pass over a dump already on disk never
 * delays the reading of a target that may be about to be killed. A larger
 * nice value needs no privilege; counted from 0 when the loop was boosted
 * (cpu_boost.h) as the thread was created. */
#define STRINGS_NICE 10

void *dumper_strings_main(void *arg)
{
    struct dumper *d = arg;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, (id_t)tid);
    if (errno == 0) {
        int lower = (nice > 0 ? nice : 0) + STRINGS_NICE;
        if (setpriority(PRIO_PROCESS, (id_t)tid, lower > 19 ? 19 : lower) < 0)
            log_info("strings thread: nice %d: %s", lower, strerror(errno));
    }
    pthread_mutex_lock(&d->lock);
    for (;;) {
        while (!d->strings_head && !d->stop)
            pthread_cond_wait(&d->strings_wake, &d->lock);
        struct work *w = d->strings_head;
        if (!w)
            break; /* stop, nothing left */
        if (!(d->strings_head = w->next))
            d->strings_tail = &d->strings_head;
        w->next = NULL;
        pthread_mutex_unlock(&d->lock);

        w->rc = dump_strings(d->cfg.dir_fd, w->res.name, d->cfg.strings_min, &d->cancel, w->top,
                             &w->ntop);
        if (w->rc < 0) {
            w->res.error = errno ? errno : EIO;
            w->res.error_op = "strings";
        }

        pthread_mutex_lock(&d->lock);
        hand_back(d, w);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}
