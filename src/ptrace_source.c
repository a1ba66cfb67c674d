/*
 * ptrace_source: stops -> events, restarts, detach, launch. See
 * include/ptrace_source.h for the contract; seizing a running process is
 * in ptrace_attach.c. The ptrace rules followed here: the kernel's
 * ptrace(2) (seize with the options, __WALL, stop kinds, signal
 * injection only at signal-delivery stops, interrupt-all-then-detach).
 *
 * Every syscall of ours per tracee stop is time the tracee spends
 * stopped, so a stop costs what it must and no more: wait4, the
 * PTRACE_GET_SYSCALL_INFO that tells what it is (skipped at the exit of a
 * syscall that is no map call), the model's decision (no syscall), the
 * restart. On each drain every pending stop is collected with
 * wait4(-1, WNOHANG | __WALL) before any is handled, so a busy thread
 * cannot starve the others, and each stopped tracee is restarted as soon
 * as its stop is handled.
 */
#include "ptrace_internal.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"
#include "filter.h"
#include "log.h"
#include "monotonic.h"
#include "syscalls.h"
#include "target.h"

static const unsigned long BASE_PTRACE_OPTIONS =
    PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
    PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT;

double ptrace_seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- the thread table ------------------------------------------------------- */

static size_t bucket_of(const struct ptrace_source *s, pid_t tid)
{
    /* Fibonacci hashing spreads consecutive tids across buckets. */
    return (size_t)(((uint64_t)(uint32_t)tid * 0x9E3779B97F4A7C15ULL) >> 32) & (s->nbuckets - 1);
}

struct thread *ptrace_find(const struct ptrace_source *s, pid_t tid)
{
    for (struct thread *t = s->buckets[bucket_of(s, tid)]; t; t = t->next)
        if (t->tid == tid)
            return t;
    return NULL;
}

static void link_thread(struct ptrace_source *s, struct thread *t)
{
    size_t b = bucket_of(s, t->tid);
    t->next = s->buckets[b];
    s->buckets[b] = t;
}

static void unlink_thread(struct ptrace_source *s, struct thread *t)
{
    for (struct thread **p = &s->buckets[bucket_of(s, t->tid)]; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            return;
        }
    }
}

static void grow(struct ptrace_source *s)
{
    size_t old_n = s->nbuckets;
    struct thread **old = s->buckets;
    struct thread **fresh = calloc(old_n * 2, sizeof *fresh);
    if (!fresh)
        return; /* longer chains, still correct */
    s->buckets = fresh;
    s->nbuckets = old_n * 2;
    for (size_t i = 0; i < old_n; i++) {
        struct thread *t = old[i];
        while (t) {
            struct thread *next = t->next;
            link_thread(s, t);
            t = next;
        }
    }
    free(old);
}

struct thread *ptrace_add_thread(struct ptrace_source *s, pid_t tid, pid_t pid)
{
    struct thread *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->tid = tid;
    t->pid = pid;
    t->detaching = s->detaching; /* it stops by itself at its first stop */
    link_thread(s, t);
    if (++s->count > s->nbuckets)
        grow(s);
    return t;
}

/* Whether a thread of process pid is still ours. */
static bool process_traced(const struct ptrace_source *s, pid_t pid)
{
    for (size_t i = 0; i < s->nbuckets; i++)
        for (const struct thread *t = s->buckets[i]; t; t = t->next)
            if (t->pid == pid)
                return true;
    return false;
}

static void say_unsaid_detaches(struct ptrace_source *s, bool all)
{
    for (size_t i = 0; i < s->nunsaid;) {
        struct event e = s->unsaid_detaches[i];
        if (!all && process_traced(s, e.pid)) {
            i++;
            continue;
        }
        s->unsaid_detaches[i] = s->unsaid_detaches[--s->nunsaid];
        struct model_reply reply = {0};
        s->sink.event(s->sink.ctx, &e, &reply);
    }
}

static void remove_thread(struct ptrace_source *s, struct thread *t)
{
    unlink_thread(s, t);
    s->count--;
    free(t);
    if (s->nunsaid)
        say_unsaid_detaches(s, s->count == 0);
}

static void rekey_thread(struct ptrace_source *s, struct thread *t, pid_t tid)
{
    unlink_thread(s, t);
    t->tid = tid;
    link_thread(s, t);
}

struct ptrace_source *ptrace_source_new(const struct event_sink *sink)
{
    struct ptrace_source *s = calloc(1, sizeof *s);
    if (s) {
        s->nbuckets = 64;
        s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
    }
    if (!s || !s->buckets) {
        free(s);
        log_error("out of memory");
        return NULL;
    }
    s->sink = *sink;
    s->ptrace_options = BASE_PTRACE_OPTIONS;
    /* Stops are told by SIGCHLD, read on a signalfd the loop polls: a
     * handler would race with the loop. Blocked by the caller's thread
     * before any other thread of ours exists, so no thread takes it. */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0 ||
        (s->sigchld_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
        log_error("cannot set up the event loop: signalfd: %s", strerror(errno));
        free(s->buckets);
        free(s);
        return NULL;
    }
    return s;
}

void ptrace_source_free(struct ptrace_source *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct thread *t = s->buckets[i];
        while (t) {
            struct thread *next = t->next;
            free(t);
            t = next;
        }
    }
    free(s->buckets);
    free(s->unsaid_detaches);
    free(s->batch);
    close(s->sigchld_fd);
    free(s);
}

size_t ptrace_source_count(const struct ptrace_source *s) { return s->count; }

bool ptrace_source_launched_status(const struct ptrace_source *s, int *status)
{
    if (s->launched_done)
        *status = s->launched_status;
    return s->launched_done;
}

void ptrace_source_thread_name(struct ptrace_source *s, pid_t pid, pid_t tid,
                               char out[PROCFS_COMM_MAX])
{
    (void)s;
    /* By path each time: a descriptor kept per thread ran a 1,000-thread
     * JVM out of descriptors, and then everything else failed. */
    procfs_read_comm(pid, tid, out);
}

bool ptrace_source_capture_regs(struct ptrace_source *s, pid_t tid, struct stack_regs *out)
{
    (void)s;
    struct user_regs_struct r;
    if (ptrace(PTRACE_GETREGS, tid, NULL, &r) < 0)
        return false;
    *out = (struct stack_regs){
        .ip = r.rip, .sp = r.rsp, .bp = r.rbp, .bx = r.rbx, .r12 = r.r12, .r13 = r.r13,
        .r14 = r.r14, .r15 = r.r15, .ax = r.rax, .cx = r.rcx, .dx = r.rdx, .si = r.rsi,
        .di = r.rdi, .r8 = r.r8, .r9 = r.r9, .r10 = r.r10, .r11 = r.r11,
    };
    return true;
}

/* ---- events out, decisions in ------------------------------------------------ */

struct event ptrace_event_of(const struct thread *t, enum event_kind kind, uint64_t time_ns)
{
    return (struct event){.kind = kind, .pid = t->pid, .tid = t->tid, .arch = t->arch,
                          .time_ns = time_ns, .stopped = true};
}

/* Hands e to the sink; the holds it asks for are taken. */
struct model_reply ptrace_send(struct ptrace_source *s, struct thread *t, const struct event *e)
{
    struct model_reply reply = {0};
    s->sink.event(s->sink.ctx, e, &reply);
    if (t)
        t->holds += reply.holds;
    return reply;
}

/* ---- restarting and detaching ------------------------------------------------ */

static void detach_thread(struct ptrace_source *s, struct thread *t, int sig)
{
    if (ptrace(PTRACE_DETACH, t->tid, 0L, (long)sig) < 0) {
        /* ESRCH: killed while stopped; its exit status is still ours to
         * collect, and that removes it. */
        if (errno != ESRCH)
            log_warn("cannot detach thread %d: %s", (int)t->tid, strerror(errno));
        return;
    }
    struct event e = ptrace_event_of(t, EVENT_DETACHED, monotonic_ns());
    e.stopped = false;
    pid_t pid = t->pid;
    bool leader = t->tid == t->pid;
    if (leader) {
        remove_thread(s, t);
        if (process_traced(s, pid)) {
            /* its threads are still being let go: said with the last */
            if (s->nunsaid == s->capunsaid) {
                size_t cap = s->capunsaid ? 2 * s->capunsaid : 8;
                struct event *more = realloc(s->unsaid_detaches, cap * sizeof *more);
                if (more) {
                    s->unsaid_detaches = more;
                    s->capunsaid = cap;
                }
            }
            if (s->nunsaid < s->capunsaid) {
                s->unsaid_detaches[s->nunsaid++] = e;
                return;
            }
        }
        ptrace_send(s, NULL, &e); /* the last, or no memory to wait: said now */
        return;
    }
    ptrace_send(s, NULL, &e);
    remove_thread(s, t);
}

/* Restarts a tracee from any stop. sig is non-zero only for a
 * signal-delivery stop, where it is exactly the signal that stopped it:
 * anything else would add or drop a signal. */
static void resume(struct ptrace_source *s, struct thread *t, int sig)
{
    if (t->detaching) {
        detach_thread(s, t, sig);
        return;
    }
    /* Launch mode: the filter decides where to stop; PTRACE_SYSCALL only to
     * see the result of a syscall the filter stopped at. */
    int request = (s->launch_mode && !t->want_exit_stop) ? PTRACE_CONT : PTRACE_SYSCALL;
    if (ptrace(request, t->tid, 0L, (long)sig) < 0 && errno != ESRCH)
        log_warn("cannot resume thread %d: %s", (int)t->tid, strerror(errno));
}

void ptrace_source_release(struct ptrace_source *s, pid_t tid)
{
    struct thread *t = ptrace_find(s, tid);
    if (t && t->holds > 0 && --t->holds == 0)
        resume(s, t, 0);
}

void ptrace_source_detach_all(struct ptrace_source *s)
{
    if (!s->detaching) {
        clock_gettime(CLOCK_MONOTONIC, &s->detach_started);
        log_info("detaching from %zu threads", s->count);
    }
    s->detaching = true;
    /* Interrupt everyone first, then detach each at whatever stop comes:
     * detaching one by one and waiting for each deadlocks around vfork. */
    for (size_t i = 0; i < s->nbuckets; i++) {
        for (struct thread *t = s->buckets[i]; t; t = t->next) {
            t->detaching = true;
            if (ptrace(PTRACE_INTERRUPT, t->tid, 0L, 0L) < 0 && errno != ESRCH)
                log_warn("PTRACE_INTERRUPT of thread %d: %s", (int)t->tid, strerror(errno));
        }
    }
}

/* ---- new threads ----------------------------------------------------------------- */

static bool same_mm(pid_t a, pid_t b)
{
    return syscall(SYS_kcmp, a, b, KCMP_VM, 0L, 0L) == 0;
}

/* A thread or process we had not seen: its state here, and EVENT_SPAWN.
 * parent: the thread that created it, if known. */
static struct thread *new_thread(struct ptrace_source *s, struct thread *parent, pid_t tid,
                                 uint64_t time_ns)
{
    long tgid = procfs_status_number(tid, "Tgid");
    if (tgid <= 0)
        tgid = parent ? parent->pid : tid; /* gone already: its exit will remove it */
    struct thread *t = ptrace_add_thread(s, tid, (pid_t)tgid);
    if (!t) {
        log_error("out of memory tracking thread %d", (int)tid);
        return NULL;
    }
    struct event e = ptrace_event_of(t, EVENT_SPAWN, time_ns);
    pid_t parent_tid = parent ? parent->tid : 0;
    if (!parent && tgid == tid) {
        /* Its first stop came before its parent's fork event. */
        long ppid = procfs_status_number(tid, "PPid");
        if (ppid > 0 && ptrace_source_follows(s, (pid_t)ppid))
            parent_tid = (pid_t)ppid;
    }
    e.spawn.parent = parent_tid;
    if (parent_tid && (!parent || parent->pid != tgid))
        e.spawn.shares_vm = same_mm(parent_tid, tid); /* vfork, CLONE_VM */
    ptrace_send(s, NULL, &e);
    return t;
}

static void on_new_child(struct ptrace_source *s, struct thread *parent, uint64_t time_ns)
{
    unsigned long child = 0;
    if (ptrace(PTRACE_GETEVENTMSG, parent->tid, 0L, &child) < 0 || child == 0)
        return;
    /* The child's first stop may have been seen before this event. */
    if (!ptrace_find(s, (pid_t)child))
        new_thread(s, parent, (pid_t)child, time_ns);
}

bool ptrace_source_follows(const struct ptrace_source *s, pid_t pid)
{
    return ptrace_find(s, pid) != NULL;
}

/* ---- syscalls ---------------------------------------------------------------- */

static bool get_syscall_info(pid_t tid, struct __ptrace_syscall_info *info)
{
    /* The kernel fills only what the stop kind has; zeroing the rest keeps
     * every byte defined (and valgrind, which does not know this request,
     * quiet). */
    memset(info, 0, sizeof *info);
    long n = ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof *info, info);
    return n > 0;
}

/* Whether a syscall is one the model hears about at all. */
static bool is_ours(uint32_t arch, uint64_t nr)
{
    return syscall_lookup(arch, nr) != SC_NONE;
}

/* A syscall's entry (a syscall-enter stop, or the seccomp stop). Returns
 * the model's reply (what it wants of the result). */
static struct model_reply on_entry(struct ptrace_source *s, struct thread *t,
                                   const struct __ptrace_syscall_info *info, uint64_t nr,
                                   const uint64_t *args, uint64_t time_ns)
{
    t->syscall = SYSCALL_INSIDE;
    t->arch = info->arch;
    t->nr = nr;
    if (!is_ours(t->arch, nr))
        return (struct model_reply){0};
    struct event e = ptrace_event_of(t, EVENT_CALL_ENTER, time_ns);
    e.call.nr = nr;
    memcpy(e.call.args, args, sizeof e.call.args);
    return ptrace_send(s, t, &e);
}

static void on_syscall_stop(struct ptrace_source *s, struct thread *t, uint64_t time_ns)
{
    struct __ptrace_syscall_info info;
    if (t->syscall == SYSCALL_INSIDE) {
        /* An exit. Most syscalls are of no interest: don't even ask. */
        t->syscall = SYSCALL_OUTSIDE;
        t->want_exit_stop = false;
        if (!decode_is_map_syscall(t->arch, t->nr))
            return;
        if (!get_syscall_info(t->tid, &info))
            return;
        if (info.op == PTRACE_SYSCALL_INFO_EXIT) {
            struct event e = ptrace_event_of(t, EVENT_CALL_DONE, time_ns);
            e.result.rval = info.exit.rval;
            e.result.is_error = info.exit.is_error;
            ptrace_send(s, t, &e);
        } else if (info.op == PTRACE_SYSCALL_INFO_ENTRY) { /* out of step: resync */
            on_entry(s, t, &info, info.entry.nr, info.entry.args, time_ns);
        }
        return;
    }
    if (!get_syscall_info(t->tid, &info))
        return;
    if (info.op == PTRACE_SYSCALL_INFO_ENTRY)
        on_entry(s, t, &info, info.entry.nr, info.entry.args, time_ns);
    else
        t->syscall = SYSCALL_OUTSIDE; /* seized inside a syscall: its exit */
}

static void on_seccomp_stop(struct ptrace_source *s, struct thread *t, uint64_t time_ns)
{
    struct __ptrace_syscall_info info;
    if (!get_syscall_info(t->tid, &info) || info.op != PTRACE_SYSCALL_INFO_SECCOMP)
        return;
    struct model_reply reply =
        on_entry(s, t, &info, info.seccomp.nr, info.seccomp.args, time_ns);
    /* The second stop (syscall exit) costs the target as much as the first:
     * taken only if the model can report the result. */
    t->want_exit_stop = reply.want_done;
    if (!t->want_exit_stop)
        t->syscall = SYSCALL_OUTSIDE;
}

/* ---- one stop ---------------------------------------------------------------- */

static bool is_stop_signal(int sig)
{
    return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static void on_exec(struct ptrace_source *s, struct thread *t, uint64_t time_ns)
{
    unsigned long former = (unsigned long)t->tid;
    ptrace(PTRACE_GETEVENTMSG, t->tid, 0L, &former);
    if ((pid_t)former != t->tid) {
        /* A non-leader exec'd: it carries on under the leader's tid, and
         * the old leader is gone without an exit report. */
        struct thread *execing = ptrace_find(s, (pid_t)former);
        if (execing) {
            pid_t tid = t->tid;
            remove_thread(s, t);
            rekey_thread(s, execing, tid);
            t = execing;
        }
    }
    struct event e = ptrace_event_of(t, EVENT_EXEC, time_ns);
    e.exec.former_tid = (pid_t)former;
    ptrace_send(s, t, &e);
    if (t->holds == 0)
        resume(s, t, 0);
}

/* PTRACE_EVENT_EXIT: the last moment the thread's /proc entry is
 * readable, and its memory is still there. */
static void on_exit_stop(struct ptrace_source *s, struct thread *t, uint64_t time_ns)
{
    struct event e = ptrace_event_of(t, EVENT_THREAD_EXIT, time_ns);
    char comm[PROCFS_COMM_MAX];
    if (t->tid == t->pid) {
        procfs_read_comm(t->pid, t->tid, comm);
        e.comm = comm;
    }
    unsigned long status = 0;
    if (ptrace(PTRACE_GETEVENTMSG, t->tid, 0L, &status) == 0)
        e.exit.killed = WIFSIGNALED((int)status);
    ptrace_send(s, t, &e);
    if (t->holds == 0)
        resume(s, t, 0);
}

static void on_gone(struct ptrace_source *s, struct thread *t, int status, uint64_t time_ns)
{
    if (t->tid == s->launched_pid) {
        s->launched_status = status;
        s->launched_done = true;
    }
    struct event e = ptrace_event_of(t, EVENT_GONE, time_ns);
    e.stopped = false;
    e.gone.status = status;
    ptrace_send(s, NULL, &e);
    remove_thread(s, t);
}

void ptrace_handle_stop(struct ptrace_source *s, pid_t tid, int status, uint64_t time_ns)
{
    s->stats.total++;
    struct thread *t = ptrace_find(s, tid);
    if (!t && !(t = new_thread(s, NULL, tid, time_ns))) {
        /* Cannot track it: let it run untouched rather than hold it. */
        if (WIFSTOPPED(status))
            ptrace(PTRACE_DETACH, tid, 0L, 0L);
        return;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
        s->stats.exited++;
        on_gone(s, t, status, time_ns);
        return;
    }
    if (!WIFSTOPPED(status))
        return;

    int sig = WSTOPSIG(status);
    unsigned event = (unsigned)status >> 16;
    if (sig == (SIGTRAP | 0x80)) {
        s->stats.syscall++;
        on_syscall_stop(s, t, time_ns);
        if (t->holds == 0) /* else a dump releases it */
            resume(s, t, 0);
        return;
    }
    switch (event) {
    case 0: /* signal-delivery stop: pass the signal on, unchanged */
        s->stats.signal++;
        resume(s, t, sig);
        return;
    case PTRACE_EVENT_STOP:
        if (is_stop_signal(sig)) {
            /* Group-stop: stay stopped, as the process asked, but keep
             * reporting (SIGCONT, new signals) through PTRACE_LISTEN. */
            s->stats.group++;
            if (t->detaching)
                detach_thread(s, t, 0); /* stays stopped, untraced */
            else if (ptrace(PTRACE_LISTEN, tid, 0L, 0L) < 0 && errno != ESRCH)
                log_warn("PTRACE_LISTEN of thread %d: %s", (int)tid, strerror(errno));
            return;
        }
        /* An interrupt, a new task's first stop, or the end of a group-stop. */
        s->stats.event++;
        resume(s, t, 0);
        return;
    case PTRACE_EVENT_CLONE:
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
        s->stats.event++;
        on_new_child(s, t, time_ns);
        resume(s, t, 0);
        return;
    case PTRACE_EVENT_EXEC:
        s->stats.event++;
        on_exec(s, t, time_ns);
        return;
    case PTRACE_EVENT_EXIT:
        s->stats.event++;
        on_exit_stop(s, t, time_ns);
        return;
    case PTRACE_EVENT_SECCOMP:
        s->stats.seccomp++;
        on_seccomp_stop(s, t, time_ns);
        if (t->holds == 0)
            resume(s, t, 0);
        return;
    default:
        s->stats.event++;
        resume(s, t, 0);
        return;
    }
}

/* Room for one pending stop per tracee (each reports at most one until it
 * is restarted), so that one drain collects every pending stop. false when
 * it cannot grow: the batch is then served in parts. */
static bool batch_room(struct ptrace_source *s, size_t n)
{
    if (n < s->batch_cap)
        return true;
    size_t cap = s->batch_cap ? s->batch_cap * 2 : 64;
    if (cap < s->count + 16)
        cap = s->count + 16;
    struct ptrace_stop *grown = realloc(s->batch, cap * sizeof *grown);
    if (!grown)
        return false;
    s->batch = grown;
    s->batch_cap = cap;
    return true;
}

int ptrace_source_drain(struct ptrace_source *s)
{
    /* SIGCHLD carries nothing (wait4 tells what happened): the signalfd
     * is emptied first, so a stop that comes while the batch is handled
     * makes it readable again. */
    struct signalfd_siginfo si[8];
    while (read(s->sigchld_fd, si, sizeof si) == (ssize_t)sizeof si)
        ;
    /* Every pending stop is collected before any is handled: wait4 finds
     * the tracees in the order they were attached, newest first, and a
     * thread restarted from its stop stops again at once if it is busy, so
     * a batch cut short would be filled by the same threads at every
     * drain, and the others would never be served. */
    size_t n = 0;
    bool none_left = false, cut_short = false;
    for (;;) {
        if (!batch_room(s, n)) {
            cut_short = true;
            break;
        }
        int status;
        pid_t tid = wait4(-1, &status, WNOHANG | __WALL, NULL);
        if (tid > 0) {
            /* Stamped when collected: the order the kernel reported. */
            s->batch[n++] = (struct ptrace_stop){.tid = tid, .status = status,
                                                 .time_ns = monotonic_ns()};
            continue;
        }
        if (tid < 0 && errno == EINTR)
            continue;
        none_left = tid < 0 && errno == ECHILD;
        break;
    }
    size_t before = s->count;
    for (size_t i = 0; i < n; i++)
        ptrace_handle_stop(s, s->batch[i].tid, s->batch[i].status, s->batch[i].time_ns);
    if (s->detaching && before > 0 && s->count == 0)
        log_info("every thread let go in %.3f s", ptrace_seconds_since(&s->detach_started));
    /* ECHILD after the last exit: no SIGCHLD will ever come again. The
     * kernel has no tracee of ours left, whatever the table still holds (a
     * thread whose end was never reported to us): every leader's detach
     * is said now. */
    if (none_left) {
        if (s->nunsaid)
            say_unsaid_detaches(s, true);
        return -1;
    }
    if (cut_short)
        return PTRACE_SOURCE_BATCH;
    return n < PTRACE_SOURCE_BATCH ? (int)n : PTRACE_SOURCE_BATCH - 1;
}

/* ---- launch ------------------------------------------------------------------ */

pid_t ptrace_source_launch(struct ptrace_source *s, char *const argv[], const sigset_t *mask,
                           struct map_filter *filter)
{
    /* EXITKILL: a launched tree carries a filter that would make its
     * memory-map syscalls fail with ENOSYS if it outlived us untraced. */
    s->launch_mode = true;
    s->ptrace_options |= PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL;
    pid_t pid = target_launch(argv, mask, filter, s->ptrace_options);
    if (pid < 0)
        return -1;
    s->launched_pid = pid;
    if (!ptrace_adopt(s, pid, pid)) {
        log_error("out of memory");
        kill(pid, SIGKILL); /* it has not run a single instruction of its own */
        return -1;
    }
    return pid;
}

/* ---- the source as the loop sees it (source.h) ------------------------------- */

static size_t ops_fds(const void *src, int *fds, size_t max)
{
    const struct ptrace_source *s = src;
    if (max < 1)
        return 0;
    fds[0] = s->sigchld_fd;
    return 1;
}

static int ops_serve(void *src) { return ptrace_source_drain(src); }
static int ops_attach(void *src, pid_t pid) { return ptrace_source_attach(src, pid); }

static pid_t ops_launch(void *src, char *const argv[], const sigset_t *mask,
                        struct map_filter *filter)
{
    return ptrace_source_launch(src, argv, mask, filter);
}

static bool ops_launched_status(const void *src, int *status)
{
    return ptrace_source_launched_status(src, status);
}

static void ops_release(void *src, pid_t tid) { ptrace_source_release(src, tid); }

static void ops_thread_name(void *src, pid_t pid, pid_t tid, char out[PROCFS_COMM_MAX])
{
    ptrace_source_thread_name(src, pid, tid, out);
}

static bool ops_capture_regs(void *src, pid_t tid, struct stack_regs *out)
{
    return ptrace_source_capture_regs(src, tid, out);
}

static void ops_detach_all(void *src) { ptrace_source_detach_all(src); }
static size_t ops_count(const void *src) { return ptrace_source_count(src); }
static bool ops_follows(const void *src, pid_t pid) { return ptrace_source_follows(src, pid); }

static void ops_log_stats(const void *src)
{
    const struct ptrace_source *s = src;
    log_info("stops: %lu total (syscall %lu, seccomp %lu, signal %lu, other %lu)",
             s->stats.total, s->stats.syscall, s->stats.seccomp, s->stats.signal,
             s->stats.group + s->stats.event + s->stats.exited);
}

static void ops_free(void *src) { ptrace_source_free(src); }

const struct source_ops PTRACE_SOURCE_OPS = {
    .name = "ptrace",
    .caps = {.can_hold = true, .can_launch = true, .lossy = false},
    .fds = ops_fds,
    .serve = ops_serve,
    .attach = ops_attach,
    .launch = ops_launch,
    .launched_status = ops_launched_status,
    .release = ops_release,
    .thread_name = ops_thread_name,
    .capture_regs = ops_capture_regs,
    .detach_all = ops_detach_all,
    .count = ops_count,
    .follows = ops_follows,
    .log_stats = ops_log_stats,
    .free = ops_free,
};
