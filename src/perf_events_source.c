/*
 * perf_events_source: the perf_event reader behind source_ops. See
 * include/perf_events_source.h.
 */
#include "perf_events_source.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "monotonic.h"
#include "perf_source.h"
#include "procfs.h"
#include "syscalls.h"
#include "target.h"

#define KCMP_VM_TYPE 1 /* linux/kcmp.h KCMP_VM */

/* PIDFD_GET_INFO (Linux 6.15): the exit status of a reaped process to
 * anyone holding its pidfd. Declared here: older headers lack it. */
struct pidfd_exit_info {
    uint64_t mask, cgroupid;
    uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
    int32_t exit_code;
};
#define PIDFD_INFO_EXIT_BIT (1ULL << 3)
#define PIDFD_GET_INFO_CMD _IOWR(0xFF, 11, struct pidfd_exit_info)

/* Ticks of the drain timer between looks in /proc for threads whose exit
 * record a loss took (ticks of the busy period: a slow tick counts more). */
#define LIVENESS_TICKS 50
/* The rings wake the loop only when a quarter full; the drain timer bounds
 * how long a record waits otherwise. Once that many drains in a row found
 * nothing, it ticks at the idle period, until a drain finds records again:
 * a quiet target costs 10 wake-ups a second, not 100. */
#define IDLE_DRAINS 10
#define IDLE_PERIOD_MS 100

/* The longest wait for a process whose last thread has exited to become
 * a zombie (its exit status readable). */
#define EXIT_WAIT_MS 1000

struct pe_thread {
    pid_t tid, pid;
    char comm[PROCFS_COMM_MAX];
    bool missing; /* not in /proc at the last look */
    /* A new process whose spawn waits for its clone flags (the
     * task_newtask record that follows its FORK record). */
    bool spawn_pending;
    pid_t spawn_parent;
    uint64_t spawn_time;
};

struct pe_proc {
    pid_t pid;
    int pidfd;    /* for the exit status once reaped; -1 */
    bool left_scope;  /* said to have left the cgroup the events see */
    bool i386_said;   /* said to make i386 system calls */
    bool exit_called; /* exit_group seen: */
    int exit_status;  /* its wait status, should no better source be left */
};

struct perf_events_source {
    struct event_sink sink;
    struct perf_events_options opt;
    struct perf_source *reader;  /* NULL until the first attach */
    bool rings_polled;
    int epoll_fd, timer_fd;
    struct pe_thread *threads;
    size_t nthreads, threads_cap;
    struct pe_proc *procs;
    size_t nprocs, procs_cap;
    pid_t launched;
    bool launched_reaped;
    int launched_status;
    unsigned ticks;
    bool layout_said;
    unsigned calls_said;         /* -v said how the calls are read */
    uint64_t stacks_missing_said; /* calls reported without their stack, as last said */
    /* The reader's counters as it was closed (a detach frees it before -v
     * prints them). */
    bool reader_closed;
    struct perf_source_stats closed_stats;
    struct perf_pair_stats closed_pair_stats;
    bool clone_flags_read;       /* task_newtask is among the tracepoints */
    bool handing_on;             /* inside the reader's emit: no catch-up then */
    unsigned empty_drains; /* drains in a row that found no record */
    bool idle_period;      /* the timer ticks at IDLE_PERIOD_MS */
    unsigned tick_weight;  /* busy-period ticks one tick stands for: 1, or more when idle */
    unsigned served;             /* events handed on in this serve */
    uint64_t events, lost, exits_found_in_proc, unknown_status;
    uint64_t not_native;         /* i386 calls of processes not followed (said once) */
};

static void send(struct perf_events_source *s, const struct event *e)
{
    struct model_reply reply;
    s->sink.event(s->sink.ctx, e, &reply); /* holds cannot be kept: caps say so */
    s->served++;
    s->events++;
}

/* ---- threads and processes ---------------------------------------------------- */

static struct pe_thread *thread_of(struct perf_events_source *s, pid_t tid)
{
    for (size_t i = 0; i < s->nthreads; i++)
        if (s->threads[i].tid == tid)
            return &s->threads[i];
    return NULL;
}

static struct pe_thread *add_thread(struct perf_events_source *s, pid_t tid, pid_t pid,
                                    const char *comm)
{
    char name[PROCFS_COMM_MAX]; /* comm may point into the table, which may move */
    snprintf(name, sizeof name, "%s", comm ? comm : "?");
    if (s->nthreads == s->threads_cap) {
        size_t cap = s->threads_cap ? s->threads_cap * 2 : 64;
        struct pe_thread *grown = realloc(s->threads, cap * sizeof *grown);
        if (!grown) {
            log_error("out of memory following thread %d", (int)tid);
            return NULL;
        }
        s->threads = grown;
        s->threads_cap = cap;
    }
    struct pe_thread *t = &s->threads[s->nthreads++];
    *t = (struct pe_thread){.tid = tid, .pid = pid};
    memcpy(t->comm, name, sizeof t->comm);
    return t;
}

static void remove_thread(struct perf_events_source *s, struct pe_thread *t)
{
    *t = s->threads[--s->nthreads];
}

static size_t threads_of(const struct perf_events_source *s, pid_t pid)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nthreads; i++)
        n += s->threads[i].pid == pid;
    return n;
}

static struct pe_proc *proc_of(struct perf_events_source *s, pid_t pid)
{
    for (size_t i = 0; i < s->nprocs; i++)
        if (s->procs[i].pid == pid)
            return &s->procs[i];
    return NULL;
}

static void add_proc(struct perf_events_source *s, pid_t pid)
{
    if (proc_of(s, pid))
        return;
    if (s->nprocs == s->procs_cap) {
        size_t cap = s->procs_cap ? s->procs_cap * 2 : 8;
        struct pe_proc *grown = realloc(s->procs, cap * sizeof *grown);
        if (!grown) {
            log_error("out of memory following process %d", (int)pid);
            return;
        }
        s->procs = grown;
        s->procs_cap = cap;
    }
    /* Opened while it lives: its exit status can be asked for after it is
     * reaped (by its parent, not us). */
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    s->procs[s->nprocs++] = (struct pe_proc){.pid = pid, .pidfd = fd};
}

/* The wait status of process pid, which has no thread left: ours to reap
 * when we launched it; otherwise read while it is a zombie (the field
 * /proc/PID/stat ends with), or through its pidfd once reaped. */
static int exit_status_of(struct perf_events_source *s, const struct pe_proc *p)
{
    if (p->pid == s->launched && !s->launched_reaped) {
        int status = 0;
        pid_t r;
        while ((r = waitpid(p->pid, &status, 0)) < 0 && errno == EINTR)
            ;
        if (r == p->pid) {
            s->launched_reaped = true;
            s->launched_status = status;
            return status;
        }
    }
    /* The last thread's exit record is written before the process is a
     * zombie (a fatal signal's status is not readable yet): its pidfd is
     * readable once it is, and that takes no longer than its exit. */
    if (p->pidfd >= 0) {
        struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
        while (poll(&pfd, 1, EXIT_WAIT_MS) < 0 && errno == EINTR)
            ;
    }
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)p->pid);
    ssize_t n = procfs_read_file(path, buf, sizeof buf);
    const char *close_paren = n > 0 ? strrchr(buf, ')') : NULL;
    if (close_paren && (close_paren[2] == 'Z' || close_paren[2] == 'X')) {
        const char *last = strrchr(buf, ' ');
        if (last)
            return (int)strtol(last + 1, NULL, 10);
    }
    if (p->pidfd >= 0) {
        struct pidfd_exit_info info = {.mask = PIDFD_INFO_EXIT_BIT};
        if (ioctl(p->pidfd, PIDFD_GET_INFO_CMD, &info) == 0 && (info.mask & PIDFD_INFO_EXIT_BIT))
            return info.exit_code;
    }
    if (p->exit_called)
        return p->exit_status; /* a fatal signal after it would not show */
    s->unknown_status++;
    log_warn("the exit status of process %d cannot be read (reaped before it could be): "
             "reported as 0", (int)p->pid);
    return 0;
}

static void flush_spawn(struct perf_events_source *s, struct pe_thread *t);

/* Thread t is gone: its exit and gone events; its process's gone when it
 * was the last thread (a leader that ended first waits for that). */
static void thread_ended(struct perf_events_source *s, struct pe_thread *t, uint64_t time)
{
    if (t->spawn_pending)
        flush_spawn(s, t);
    pid_t tid = t->tid, pid = t->pid;
    struct event e = {.kind = EVENT_THREAD_EXIT, .pid = pid, .tid = tid, .time_ns = time,
                      .comm = t->comm};
    send(s, &e);
    remove_thread(s, t);
    if (tid != pid) {
        e = (struct event){.kind = EVENT_GONE, .pid = pid, .tid = tid, .time_ns = time};
        send(s, &e);
    }
    struct pe_proc *p = proc_of(s, pid);
    if (threads_of(s, pid) > 0 || !p)
        return;
    e = (struct event){.kind = EVENT_GONE, .pid = pid, .tid = pid, .time_ns = time};
    e.gone.status = exit_status_of(s, p);
    if (p->pidfd >= 0)
        close(p->pidfd);
    *p = s->procs[--s->nprocs];
    send(s, &e);
}

/* ---- records -> events --------------------------------------------------------- */

static bool snapshot_of(const struct perf_stack *ps, struct stack_snapshot *out)
{
    if (!ps || ps->abi != PERF_SAMPLE_REGS_ABI_64 || ps->regs_mask != PERF_STACK_REGS_MASK ||
        ps->nregs != PERF_STACK_NREGS)
        return false;
    const uint64_t *r = ps->regs;
    out->regs = (struct stack_regs){
        .ip = r[PERF_STACK_IP], .sp = r[PERF_STACK_SP], .bp = r[PERF_STACK_BP],
        .bx = r[PERF_STACK_BX], .r12 = r[PERF_STACK_R12], .r13 = r[PERF_STACK_R13],
        .r14 = r[PERF_STACK_R14], .r15 = r[PERF_STACK_R15], .ax = r[PERF_STACK_AX],
        .cx = r[PERF_STACK_CX], .dx = r[PERF_STACK_DX], .si = r[PERF_STACK_SI],
        .di = r[PERF_STACK_DI], .r8 = r[PERF_STACK_R8], .r9 = r[PERF_STACK_R9],
        .r10 = r[PERF_STACK_R10], .r11 = r[PERF_STACK_R11],
    };
    out->bytes = ps->data;
    out->len = ps->size;
    return true;
}

/* Whether a new process shares its creator's memory (vfork, CLONE_VM):
 * records do not say, the kernel's kcmp does while both live. A child
 * gone or exec'd by now is taken as a copy: its own regions end with it. */
static bool shares_vm(pid_t parent, pid_t child)
{
    return parent > 0 && syscall(SYS_kcmp, parent, child, KCMP_VM_TYPE, 0, 0) == 0;
}

static void send_spawn(struct perf_events_source *s, struct pe_thread *t, pid_t parent,
                       uint64_t time, bool shared)
{
    struct event e = {.kind = EVENT_SPAWN, .pid = t->pid, .tid = t->tid, .time_ns = time};
    e.spawn.parent = parent;
    e.spawn.shares_vm = shared;
    t->spawn_pending = false;
    send(s, &e);
}

/* A pending spawn whose clone flags did not come (lost, or the child
 * already does something): the kernel's kcmp, while both live, says
 * whether it shares its parent's memory. */
static void flush_spawn(struct perf_events_source *s, struct pe_thread *t)
{
    send_spawn(s, t, t->spawn_parent, t->spawn_time, shares_vm(t->spawn_parent, t->pid));
}

static void flush_spawns(struct perf_events_source *s)
{
    for (size_t i = 0; i < s->nthreads; i++)
        if (s->threads[i].spawn_pending)
            flush_spawn(s, &s->threads[i]);
}

static void on_spawn(struct perf_events_source *s, const struct perf_ev *ev)
{
    if (thread_of(s, ev->tid))
        return; /* seen at the attach already */
    struct pe_thread *creator = thread_of(s, ev->parent_tid);
    struct pe_thread *t = add_thread(s, ev->tid, ev->pid, creator ? creator->comm : NULL);
    if (!t)
        return;
    if (ev->pid == ev->parent_pid) {
        send_spawn(s, t, ev->parent_tid, ev->time, false);
        return;
    }
    add_proc(s, ev->pid);
    /* The process is followed from now on; its spawn is said with its
     * clone flags, which come in the next record of its creator (before
     * any of its own). */
    t->spawn_pending = true;
    t->spawn_parent = ev->parent_tid;
    t->spawn_time = ev->time;
    if (!s->clone_flags_read)
        flush_spawn(s, t);
}

/* task_newtask: whether the new process shares its creator's memory
 * (vfork, CLONE_VM), said with its spawn. */
static void on_newtask(struct perf_events_source *s, const struct perf_ev *ev)
{
    struct pe_thread *t = thread_of(s, ev->child);
    if (t && t->spawn_pending)
        send_spawn(s, t, t->spawn_parent, t->spawn_time, (ev->clone_flags & CLONE_VM) != 0);
}

static void on_exec(struct perf_events_source *s, const struct perf_ev *ev)
{
    /* A non-leader's exec takes over the leader's tid: the thread under
     * the former tid is the one that goes on. */
    struct pe_thread *leader = thread_of(s, ev->pid);
    struct pe_thread *former = ev->former_tid && ev->former_tid != ev->pid
                                   ? thread_of(s, ev->former_tid)
                                   : NULL;
    if (former) {
        if (leader)
            remove_thread(s, former);
        else
            former->tid = ev->pid;
    }
    if (!(leader = thread_of(s, ev->pid)) && !(leader = add_thread(s, ev->pid, ev->pid, NULL)))
        return;
    snprintf(leader->comm, sizeof leader->comm, "%s", ev->comm);
    add_proc(s, ev->pid);
    struct event e = {.kind = EVENT_EXEC, .pid = ev->pid, .tid = ev->pid, .time_ns = ev->time,
                      .comm = leader->comm};
    e.exec.former_tid = ev->former_tid;
    send(s, &e);
}

/* An i386 system call (a 32-bit program, or int $0x80): not followed,
 * said once per process. */
static void on_not_native(struct perf_events_source *s, const struct perf_ev *ev)
{
    struct pe_proc *p = proc_of(s, ev->pid);
    if (p ? p->i386_said : s->not_native++ > 0)
        return;
    if (p)
        p->i386_said = true;
    if (ev->nr < 0) { /* the BPF reader, from the program's ELF class */
        log_warn("process %d runs a 32-bit program: its system calls are i386 ones, which "
                 "the perf source's BPF programs do not see; --source ptrace follows them",
                 (int)ev->pid);
        return;
    }
    enum syscall_id id = syscall_lookup(SYSCALL_ARCH_I386, (uint64_t)ev->nr);
    log_warn("process %d makes i386 system calls (a 32-bit program, or int $0x80)%s, such as "
             "%s (number %d): the perf source does not follow them; --source ptrace does",
             (int)ev->pid, ev->abi_unsure ? ", or x86_64 ones its registers cannot tell from them" : "",
             id != SC_NONE ? syscall_desc(id)->name : "one", ev->nr);
}

static void emit(const struct perf_ev *ev, void *ctx)
{
    struct perf_events_source *s = ctx;
    struct pe_thread *t = thread_of(s, ev->tid);
    if (ev->kind == PERF_EV_LOST)
        flush_spawns(s); /* the clone flags may be among the lost */
    else if (t && t->spawn_pending && ev->kind != PERF_EV_NEWTASK)
        flush_spawn(s, t);
    if (ev->kind == PERF_EV_SPAWN) {
        struct pe_thread *creator = thread_of(s, ev->parent_tid);
        if (creator && creator->spawn_pending)
            flush_spawn(s, creator);
    }
    struct event e = {.pid = ev->pid, .tid = ev->tid, .time_ns = ev->time,
                      .arch = SYSCALL_ARCH_X86_64, .comm = t ? t->comm : NULL};
    struct stack_snapshot snap;
    switch (ev->kind) {
    case PERF_EV_CALL_ENTER:
        if (!t)
            return;
        if (syscall_lookup(SYSCALL_ARCH_X86_64, (uint64_t)ev->nr) == SC_EXIT_GROUP) {
            struct pe_proc *p = proc_of(s, ev->pid);
            if (p) {
                p->exit_called = true;
                p->exit_status = (int)(ev->args[0] & 0xff) << 8;
            }
        }
        e.kind = EVENT_CALL_ENTER;
        e.call.nr = (uint64_t)ev->nr;
        memcpy(e.call.args, ev->args, sizeof e.call.args);
        send(s, &e);
        return;
    case PERF_EV_MAP_CALL:
        if (!t)
            return;
        e.kind = EVENT_CALL_DONE;
        e.result.rval = ev->ret;
        e.result.is_error = ev->ret < 0 && ev->ret >= -4095;
        if (snapshot_of(ev->stack, &snap))
            e.stack = &snap;
        send(s, &e);
        return;
    case PERF_EV_MAP_UNFINISHED:
        /* The loss that voided it is its own event, which counts it. */
        if (!t)
            return;
        e.kind = EVENT_CALL_VOIDED;
        send(s, &e);
        return;
    case PERF_EV_NOT_NATIVE:
        on_not_native(s, ev);
        return;
    case PERF_EV_COMM:
        if (t)
            snprintf(t->comm, sizeof t->comm, "%s", ev->comm);
        return;
    case PERF_EV_EXEC:
        on_exec(s, ev);
        return;
    case PERF_EV_SPAWN:
        on_spawn(s, ev);
        return;
    case PERF_EV_NEWTASK:
        on_newtask(s, ev);
        return;
    case PERF_EV_THREAD_EXIT:
        if (t)
            thread_ended(s, t, ev->time);
        return;
    case PERF_EV_LOST:
        s->lost += ev->lost;
        e = (struct event){.kind = EVENT_LOST, .time_ns = ev->time};
        e.lost.count = ev->lost;
        e.lost.from_ns = ev->lost_from;
        e.lost.to_ns = ev->lost_to >= ev->lost_from ? ev->lost_to : ev->lost_from;
        e.lost.calls_voided = ev->calls_voided;
        send(s, &e);
        return;
    }
}

/* A loss may take a thread's exit record: a thread that was missing from
 * /proc at the last look too (so every record it wrote has been drained
 * and put in order since) has ended unseen. */
static void find_ended_threads(struct perf_events_source *s)
{
    char path[64];
    for (size_t i = 0; i < s->nthreads;) {
        struct pe_thread *t = &s->threads[i];
        snprintf(path, sizeof path, "/proc/%d/task/%d", (int)t->pid, (int)t->tid);
        /* A zombie (our launched command, not reaped until its end is
         * seen) is still listed, and ended all the same. */
        char state = access(path, F_OK) == 0 ? procfs_state(t->tid) : 0;
        bool present = state != 0 && state != 'Z' && state != 'X';
        if (present || !t->missing) {
            t->missing = !present;
            i++;
            continue;
        }
        s->exits_found_in_proc++;
        thread_ended(s, t, monotonic_ns()); /* moves another thread into slot i */
    }
}

/* The cgroup layout sees a process only while it is in the cgroup: one
 * that moved out is said, once (its map calls from then on are missed). */
static void find_processes_out_of_scope(struct perf_events_source *s)
{
    for (size_t i = 0; i < s->nprocs; i++) {
        struct pe_proc *p = &s->procs[i];
        if (p->left_scope || perf_source_in_scope(s->reader, p->pid) != 0)
            continue;
        p->left_scope = true;
        log_warn("process %d left cgroup '%s': the perf events scoped to that cgroup no "
                 "longer see it, and its map calls from now on are missed; follow it again "
                 "with --perf-layout thread or --source ptrace",
                 (int)p->pid, perf_source_stats(s->reader)->cgroup);
    }
}

/* ---- source_ops ------------------------------------------------------------------ */

struct perf_events_source *perf_events_source_new(const struct event_sink *sink,
                                                  const struct perf_events_options *opt)
{
    struct perf_events_source *s = calloc(1, sizeof *s);
    if (!s) {
        log_error("out of memory");
        return NULL;
    }
    s->sink = *sink;
    s->opt = *opt;
    s->timer_fd = -1;
    if ((s->epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0) {
        log_error("cannot set up the perf event source: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = s->timer_fd};
    if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->timer_fd, &ev) < 0) {
        log_error("cannot set up the perf event source: epoll: %s", strerror(errno));
        goto fail;
    }
    struct perf_source_options po = {.min_size = opt->min_size, .stacks = opt->stacks,
                                     .calls = (enum perf_calls)opt->calls,
                                     .ring_pages = opt->ring_pages,
                                     .layout = (enum perf_layout)opt->layout};
    char why[512] = "";
    if (!(s->reader = perf_source_new(&po, emit, s, why, sizeof why))) {
        log_error("cannot use perf_event tracepoints: %s; use --source ptrace", why);
        goto fail;
    }
    s->clone_flags_read = perf_source_stats(s->reader)->clone_flags;
    return s;
fail:
    if (s->epoll_fd >= 0)
        close(s->epoll_fd);
    if (s->timer_fd >= 0)
        close(s->timer_fd);
    free(s);
    return NULL;
}

static size_t ops_fds(const void *src, int *fds, size_t max)
{
    const struct perf_events_source *s = src;
    if (max < 1)
        return 0;
    fds[0] = s->epoll_fd;
    return 1;
}

static int arm_drain_timer(struct perf_events_source *s, long ms)
{
    struct itimerspec its = {
        .it_interval = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L},
        .it_value = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L},
    };
    return timerfd_settime(s->timer_fd, 0, &its, NULL);
}

/* After a drain: the idle period after IDLE_DRAINS empty ones, the busy
 * one as soon as records come. A timer that cannot be re-armed keeps its
 * period: the latency or the wake-ups change, never what is read. */
static void pace_drain_timer(struct perf_events_source *s, bool found_records)
{
    long busy_ms = perf_source_drain_interval_ms(s->reader);
    if (found_records) {
        s->empty_drains = 0;
        if (s->idle_period && arm_drain_timer(s, busy_ms) == 0) {
            s->idle_period = false;
            s->tick_weight = 1;
        }
    } else if (++s->empty_drains >= IDLE_DRAINS && !s->idle_period && busy_ms < IDLE_PERIOD_MS &&
               arm_drain_timer(s, IDLE_PERIOD_MS) == 0) {
        s->idle_period = true;
        s->tick_weight = (unsigned)(IDLE_PERIOD_MS / busy_ms);
    }
}

/* The rings exist once the reader has followed something. */
static int poll_rings(struct perf_events_source *s)
{
    if (s->rings_polled)
        return 0;
    size_t n;
    const int *rings = perf_source_poll_fds(s->reader, &n);
    for (size_t i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = rings[i]};
        if (rings[i] >= 0 && epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, rings[i], &ev) < 0) {
            log_error("cannot poll the perf ring buffers: %s", strerror(errno));
            return -1;
        }
    }
    if (arm_drain_timer(s, perf_source_drain_interval_ms(s->reader)) < 0) {
        log_error("cannot arm the perf drain timer: %s", strerror(errno));
        return -1;
    }
    s->idle_period = false;
    s->tick_weight = 1;
    s->empty_drains = 0;
    s->rings_polled = true;
    log_info("while attached, every system call of every process on this machine takes the "
             "kernel's tracing slow path (about 30 to 100 ns more each): detach when done");
    return 0;
}

/* Calls reported without the stack -k asked for (the BPF reader's stack
 * samples, perf_stack_watch.h): said the first time, with the likely
 * cause, and at the end (at_end) in all when more came after that. */
static void say_missing_stacks(struct perf_events_source *s, bool at_end)
{
    if (!s->reader)
        return;
    uint64_t missing = perf_source_pair_stats(s->reader)->stacks_missing;
    if (missing == s->stacks_missing_said)
        return;
    const struct perf_source_stats *st = perf_source_stats(s->reader);
    if (s->stacks_missing_said == 0) {
        if (st->stacks_lost)
            log_warn("%" PRIu64 " calls are reported without their stack: the stack samples' "
                     "ring was full (%" PRIu64 " samples lost); --perf-pages gives it more room",
                     missing, st->stacks_lost);
        else
            log_warn("%" PRIu64 " calls are reported without their stack: the kernel took no "
                     "sample of them: another BPF program on the syscall tracepoints (another "
                     "mmapwatch -k, say) answers 0, which drops the samples; --perf-calls raw "
                     "takes stacks without BPF", missing);
    } else if (at_end) {
        log_warn("in all, %" PRIu64 " calls were reported without their stack", missing);
    } else {
        return; /* said once; the total comes at the end */
    }
    s->stacks_missing_said = missing;
}

static void drain(struct perf_events_source *s)
{
    char why[256] = "";
    s->handing_on = true;
    if (perf_source_drain(s->reader, why, sizeof why) < 0)
        log_warn("perf ring buffer: %s; its records are counted as lost", why);
    s->handing_on = false;
    say_missing_stacks(s, false);
}

static int ops_serve(void *src)
{
    struct perf_events_source *s = src;
    s->served = 0;
    /* Empty the inner set's readiness: the rings are read below anyway. */
    struct epoll_event ready[16];
    int n = epoll_wait(s->epoll_fd, ready, 16, 0);
    for (int i = 0; i < n; i++) {
        uint64_t expirations;
        if (ready[i].data.fd == s->timer_fd) {
            if (read(s->timer_fd, &expirations, sizeof expirations) > 0)
                s->ticks += s->tick_weight; /* no reader needed: it may be gone */
        } else if (ready[i].events & EPOLLHUP) {
            /* The ring's event has ended with its thread and every
             * inherited copy: HUP stays set, and would wake us in a loop.
             * The timer drains what is left. */
            epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, ready[i].data.fd, NULL);
        }
    }
    if (s->reader && s->rings_polled) {
        uint64_t before = perf_source_stats(s->reader)->records;
        drain(s);
        pace_drain_timer(s, perf_source_stats(s->reader)->records != before);
        if (s->ticks >= LIVENESS_TICKS) {
            s->ticks = 0;
            find_ended_threads(s);
            find_processes_out_of_scope(s);
        }
    }
    if (s->nprocs == 0)
        return -1;
    return s->served >= SOURCE_MORE ? SOURCE_MORE - 1 : (int)s->served;
}

static int scan_thread(pid_t tid, void *ctx)
{
    struct perf_events_source *s = ((void **)ctx)[0];
    pid_t pid = *(pid_t *)((void **)ctx)[1];
    unsigned *count = ((void **)ctx)[2];
    if (thread_of(s, tid))
        return 0;
    char comm[PROCFS_COMM_MAX];
    procfs_read_comm(pid, tid, comm);
    struct pe_thread *t = add_thread(s, tid, pid, comm);
    if (!t)
        return 1;
    struct event e = {.kind = EVENT_SPAWN, .pid = pid, .tid = tid, .time_ns = monotonic_ns(),
                      .comm = t->comm};
    e.spawn.parent = tid == pid ? 0 : pid;
    send(s, &e);
    (*count)++;
    return 0;
}

/* announce: an "attach" event (not for a command we launch). */
static int follow(struct perf_events_source *s, pid_t pid, bool announce)
{
    if (proc_of(s, pid))
        return 0;
    if (!s->reader) {
        log_error("cannot follow process %d: the perf event source is detaching", (int)pid);
        return -1;
    }
    char why[512] = "";
    if (perf_source_attach(s->reader, pid, why, sizeof why) < 0) {
        log_error("cannot follow process %d with perf_event tracepoints: %s%s", (int)pid, why,
                  strstr(why, "--source ptrace") ? "" : "; try --source ptrace");
        return -1;
    }
    const struct perf_source_stats *st = perf_source_stats(s->reader);
    if (st->threads_behind)
        log_warn("process %d makes threads faster than perf events can be opened for them: "
                 "after %u passes over its threads, %u or more are not followed and their "
                 "maps are not reported; --source ptrace follows each new thread from its "
                 "birth, --perf-layout cgroup covers a process alone in its cgroup",
                 (int)pid, st->attach_passes, st->threads_behind);
    if (poll_rings(s) < 0)
        return -1;
    add_proc(s, pid);
    /* The leader first: its process's address space comes with it. */
    unsigned threads = 0;
    void *ctx[3] = {s, &pid, &threads};
    if (scan_thread(pid, ctx) != 0 || procfs_foreach_task(pid, scan_thread, ctx) < 0) {
        if (threads == 0) {
            struct pe_proc *p = proc_of(s, pid);
            if (p->pidfd >= 0)
                close(p->pidfd);
            *p = s->procs[--s->nprocs];
            log_error("process %d is gone", (int)pid);
            return -1;
        }
    }
    if (announce) {
        struct event e = {.kind = EVENT_ATTACHED, .pid = pid, .tid = pid, .time_ns = monotonic_ns()};
        e.attached.threads = threads;
        send(s, &e);
    }
    char layout[PATH_MAX + 160];
    perf_source_describe(st->layout, st->cgroup, st->bpf_stacks, st->event_fds, layout,
                         sizeof layout);
    /* The cgroup layout reads other processes' records too: said at start
     * (by the source note with --source auto). */
    if (st->layout == PERF_LAYOUT_CGROUP && !s->opt.layout_noted && !s->layout_said)
        log_note("following with perf_event tracepoints: %s", layout);
    s->layout_said = true;
    log_info("following process %d with perf_event tracepoints: %u threads, %s", (int)pid,
             threads, layout);
    if (s->calls_said++)
        return 0;
    if (st->bpf)
        log_info("the calls are read by BPF programs on %u tracepoints, in every process of "
                 "the machine (each of their map calls pays a map lookup, about 0.1 us)%s",
                 st->tracepoints, st->bpf_stacks ? "; -k stacks from per-CPU samples of the "
                 "entries the programs let through: meanwhile other tools' perf samples of "
                 "those entries (mmap, mremap, mprotect, pkey_mprotect, brk) get only the "
                 "followed processes' (--perf-calls raw leaves them alone)" : "");
    else
        log_info("the calls are read through %s (%u events per thread or CPU)%s%s%s",
                 st->per_call ? "one tracepoint pair per call" : "raw_syscalls, filtered on "
                 "the number", st->tracepoints, st->per_call_fallback ? ": raw_syscalls needs "
                 "kernel samples, not allowed here (CAP_PERFMON allows them)" : "",
                 st->bpf_refused[0] ? "; BPF programs cannot be used here: " : "",
                 st->bpf_refused);
    return 0;
}

static int ops_attach(void *src, pid_t pid)
{
    return follow(src, pid, true);
}

static pid_t ops_launch(void *src, char *const argv[], const sigset_t *mask,
                        struct map_filter *filter)
{
    struct perf_events_source *s = src;
    (void)filter; /* no seccomp filter: the tracepoints see every call */
    int go;
    /* Paused until every event follows it, so nothing it does is missed. */
    pid_t pid = target_fork_paused(argv, mask, NULL, &go);
    if (pid < 0)
        return -1;
    s->launched = pid;
    if (follow(s, pid, false) < 0) {
        target_abandon(pid, go);
        s->launched_reaped = true;
        return -1;
    }
    if (target_release(pid, go, argv[0]) < 0)
        return -1; /* killed before it ran: its end is reaped as any */
    return pid;
}

static bool ops_launched_status(const void *src, int *status)
{
    const struct perf_events_source *s = src;
    if (!s->launched_reaped)
        return false;
    *status = s->launched_status;
    return true;
}

static void ops_thread_name(void *src, pid_t pid, pid_t tid, char out[PROCFS_COMM_MAX])
{
    struct perf_events_source *s = src;
    struct pe_thread *t = thread_of(s, tid);
    if (t)
        snprintf(out, PROCFS_COMM_MAX, "%s", t->comm);
    else
        procfs_read_comm(pid, tid, out);
}

/* Closing is detaching: every record written so far is handed on first,
 * then each thread is let go (a "detach" for each process). */
static void ops_detach_all(void *src)
{
    struct perf_events_source *s = src;
    s->handing_on = true;
    if (s->reader && s->rings_polled)
        perf_source_finish(s->reader);
    flush_spawns(s);
    s->handing_on = false;
    say_missing_stacks(s, true);
    if (s->reader) {
        s->closed_stats = *perf_source_stats(s->reader);
        s->closed_stats.cgroup = NULL; /* owned by the reader */
        s->closed_pair_stats = *perf_source_pair_stats(s->reader);
        s->reader_closed = true;
    }
    perf_source_free(s->reader);
    s->reader = NULL;
    s->rings_polled = false;
    uint64_t now = monotonic_ns();
    /* Threads first, then their leaders: a leader's detach closes its
     * process in the model. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < s->nthreads;) {
            struct pe_thread *t = &s->threads[i];
            if ((t->tid == t->pid) != (pass == 1)) {
                i++;
                continue;
            }
            struct event e = {.kind = EVENT_DETACHED, .pid = t->pid, .tid = t->tid,
                              .time_ns = now, .comm = t->comm};
            send(s, &e);
            remove_thread(s, t);
        }
    }
    for (size_t i = 0; i < s->nprocs; i++)
        if (s->procs[i].pidfd >= 0)
            close(s->procs[i].pidfd);
    s->nprocs = 0;
}

static size_t ops_count(const void *src)
{
    const struct perf_events_source *s = src;
    return s->nthreads;
}

static bool ops_follows(const void *src, pid_t pid)
{
    struct perf_events_source *s = (struct perf_events_source *)src;
    return thread_of(s, pid) || proc_of(s, pid);
}

static void ops_log_stats(const void *src)
{
    const struct perf_events_source *s = src;
    log_info("perf source: %" PRIu64 " events, %" PRIu64 " records lost, %" PRIu64
             " thread exits found in /proc (their record lost), %" PRIu64
             " exit statuses unknown",
             s->events, s->lost, s->exits_found_in_proc, s->unknown_status);
    if (s->reader || s->reader_closed) {
        const struct perf_source_stats *st =
            s->reader ? perf_source_stats(s->reader) : &s->closed_stats;
        const struct perf_pair_stats *ps =
            s->reader ? perf_source_pair_stats(s->reader) : &s->closed_pair_stats;
        log_info("perf source: %u cpus, %u tracepoints, %u threads opened, %u event fds, "
                 "%" PRIu64 " records (%" PRIu64 " bad), %" PRIu64 " duplicates, %" PRIu64
                 " unpaired exits, %" PRIu64 " voided, %" PRIu64
                 " events of processes not followed dropped, %" PRIu64 " entries left out "
                 "(mmaps under --min-size, calls not ours), %" PRIu64 " i386 calls",
                 st->cpus, st->tracepoints, st->threads, st->event_fds, st->records,
                 st->bad_records, ps->duplicates, ps->unpaired_exits, ps->voided,
                 st->filtered, st->left_out, ps->not_native);
        if (st->bpf_stacks)
            log_info("perf source: %" PRIu64 " stack samples (%" PRIu64 " lost, %" PRIu64
                     " taken by no call), %" PRIu64 " calls without their stack",
                     st->stack_samples, st->stacks_lost, ps->stray_stacks,
                     ps->stacks_missing);
    }
}

static void ops_catch_up(void *src)
{
    struct perf_events_source *s = src;
    char why[256] = "";
    /* Asked while handing events on (a threshold reported as a process
     * ends): those events are in order already, and the reader must not
     * be entered again. */
    if (s->handing_on || !s->reader || !s->rings_polled)
        return;
    s->handing_on = true;
    if (perf_source_catch_up(s->reader, why, sizeof why) < 0)
        log_warn("perf ring buffer: %s; its records are counted as lost", why);
    s->handing_on = false;
}

static void ops_free(void *src)
{
    struct perf_events_source *s = src;
    if (!s)
        return;
    say_missing_stacks(s, true); /* a launch ends here, with no detach */
    perf_source_free(s->reader);
    for (size_t i = 0; i < s->nprocs; i++)
        if (s->procs[i].pidfd >= 0)
            close(s->procs[i].pidfd);
    if (s->launched > 0 && !s->launched_reaped)
        waitpid(s->launched, NULL, WNOHANG);
    close(s->epoll_fd);
    close(s->timer_fd);
    free(s->threads);
    free(s->procs);
    free(s);
}

const struct source_ops PERF_EVENTS_SOURCE_OPS = {
    .name = "perf",
    .caps = {.can_hold = false, .can_launch = true, .lossy = true},
    .fds = ops_fds,
    .serve = ops_serve,
    .attach = ops_attach,
    .launch = ops_launch,
    .launched_status = ops_launched_status,
    .release = NULL,
    .thread_name = ops_thread_name,
    .capture_regs = NULL,
    .detach_all = ops_detach_all,
    .count = ops_count,
    .follows = ops_follows,
    .log_stats = ops_log_stats,
    .catch_up = ops_catch_up,
    .free = ops_free,
};
