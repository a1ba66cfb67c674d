/*
 * ptrace_attach: seizing every thread of a running process, rescanning
 * /proc/PID/task until a pass finds nothing new. Part of the ptrace
 * source (see include/ptrace_internal.h).
 */
#include "ptrace_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "monotonic.h"
#include "procfs.h"

/* ---- attach ------------------------------------------------------------------ */

struct attach_scan {
    struct ptrace_source *s;
    pid_t pid;
    unsigned added;
    unsigned failed;        /* listed but not seized: exiting, most likely */
    unsigned threads;
    pid_t *interrupted;     /* seized in this pass: their first stop is awaited */
    size_t ninterrupted, cap;
};

/* A thread seized by an attach: known to us, then to the model. */
struct thread *ptrace_adopt(struct ptrace_source *s, pid_t pid, pid_t tid)
{
    struct thread *t = ptrace_add_thread(s, tid, pid);
    if (!t)
        return NULL;
    struct event e = ptrace_event_of(t, EVENT_SPAWN, monotonic_ns());
    e.stopped = false;
    ptrace_send(s, NULL, &e);
    return t;
}

/* Seizes one thread. 1 if it is traced by us now (newly or already), 0 if
 * it is gone, -1 with errno on failure. *interrupted tells whether we sent
 * it the PTRACE_INTERRUPT whose stop is still to come. */
static int seize_thread(struct ptrace_source *s, pid_t pid, pid_t tid, bool *interrupted)
{
    *interrupted = false;
    if (ptrace_find(s, tid))
        return 1;
    if (ptrace(PTRACE_SEIZE, tid, 0L, s->ptrace_options) < 0) {
        if (errno == ESRCH)
            return 0;
        /* A thread cloned by a thread we already seized was attached by the
         * kernel (PTRACE_O_TRACECLONE): seizing it again says EPERM. */
        if (errno == EPERM && procfs_status_number(tid, "TracerPid") == getpid()) {
            if (!ptrace_adopt(s, pid, tid))
                return errno = ENOMEM, -1;
            return 1;
        }
        return -1;
    }
    /* The interrupt stop is where we switch the thread to syscall tracing. */
    if (ptrace(PTRACE_INTERRUPT, tid, 0L, 0L) < 0 && errno != ESRCH)
        log_warn("PTRACE_INTERRUPT of thread %d: %s", (int)tid, strerror(errno));
    *interrupted = true;
    if (!ptrace_adopt(s, pid, tid)) {
        ptrace(PTRACE_DETACH, tid, 0L, 0L); /* may fail until it stops; the kernel's exit path covers it */
        return errno = ENOMEM, -1;
    }
    return 1;
}

static int scan_one(pid_t tid, void *ctx)
{
    struct attach_scan *scan = ctx;
    bool known = ptrace_find(scan->s, tid) != NULL, interrupted;
    int rc = seize_thread(scan->s, scan->pid, tid, &interrupted);
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

/* How many threads of process pid we trace. */
static unsigned long count_threads_of(const struct ptrace_source *s, pid_t pid)
{
    unsigned long n = 0;
    for (size_t i = 0; i < s->nbuckets; i++)
        for (struct thread *t = s->buckets[i]; t; t = t->next)
            n += t->pid == pid;
    return n;
}

/* Waits for the first stop of each thread seized in the last pass, and
 * handles it (which restarts it). Why: a thread that was inside clone()
 * when we seized it creates a thread the kernel does not attach for us,
 * and which /proc may list only once that clone() returns; the thread's
 * first stop comes after it returns. So once every seized thread has
 * stopped, a pass over /proc that finds nothing new has missed nothing.
 *
 * The threads are swept in turn, each stop taken as soon as it is there:
 * a thread stops only once it gets a CPU, and with many runnable threads
 * that takes about one round of the scheduler for all of them together,
 * not one per thread. */
static void await_first_stops(struct attach_scan *scan)
{
    /* A thread in uninterruptible sleep stops only when it wakes: don't
     * hold the attach of the others for long because of it. On a loaded
     * machine a runnable thread can wait a while for a CPU, hence seconds
     * without any thread stopping rather than milliseconds. */
    struct timespec progress;
    clock_gettime(CLOCK_MONOTONIC, &progress);
    size_t left = scan->ninterrupted;
    while (left > 0 && ptrace_seconds_since(&progress) < 5.0) {
        size_t still = 0;
        for (size_t i = 0; i < left; i++) {
            pid_t tid = scan->interrupted[i];
            int status;
            pid_t got = wait4(tid, &status, WNOHANG | __WALL, NULL);
            if (got == tid) {
                ptrace_handle_stop(scan->s, tid, status, monotonic_ns());
                continue;
            }
            if (got < 0 && errno != EINTR)
                continue; /* gone and reaped elsewhere: nothing to wait for */
            scan->interrupted[still++] = tid;
        }
        if (still < left)
            clock_gettime(CLOCK_MONOTONIC, &progress);
        left = still;
        if (left > 0) {
            struct timespec pause = {.tv_nsec = 50000};
            nanosleep(&pause, NULL);
        }
    }
    /* Any left stop later and are handled by the loop like any stop. */
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

int ptrace_source_attach(struct ptrace_source *s, pid_t pid)
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
    if (ptrace_find(s, pid))
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

    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    struct attach_scan scan = {.s = s, .pid = pid};
    unsigned passes = 0;
    bool interrupted;
    int rc = seize_thread(s, pid, pid, &interrupted);
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
        passes++;
        if (procfs_foreach_task(pid, scan_one, &scan) < 0)
            break; /* the process is exiting; its stops will tell */
        await_first_stops(&scan);
        if (scan.added > 0 || (scan.failed > 0 && ++retries < 50))
            continue;
        if (scan.failed > 0 || recounts++ >= 200)
            break;
        long threads = procfs_status_number(pid, "Threads");
        if (threads <= 0 || (unsigned long)threads <= count_threads_of(s, pid))
            break;
        log_info("process %d counts %ld threads, %lu traced: looking again", (int)pid, threads,
                 count_threads_of(s, pid));
    }
    free(scan.interrupted);

    struct event e = {.kind = EVENT_ATTACHED, .pid = pid, .tid = pid, .time_ns = monotonic_ns()};
    e.attached.threads = scan.threads;
    ptrace_send(s, NULL, &e);
    log_info("attached to process %d (%s), %u threads, in %.3f s (%u passes over its threads)",
             (int)pid, comm, scan.threads, ptrace_seconds_since(&started), passes);
    return 0;
}
