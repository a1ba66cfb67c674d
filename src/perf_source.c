/*
 * perf_source: syscall tracepoints through perf_event_open, one ring per
 * CPU. See include/perf_source.h; the layout's reasons are in
 * docs/performance.md ("perf source (standalone)").
 */

#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "monotonic.h"
#include "perf_source_internal.h"
#include "procfs.h"

#define DEFAULT_RING_PAGES 128        /* 512 KiB per CPU */
#define DEFAULT_STACK_RING_PAGES 1024 /* 4 MiB per CPU: a 16 KiB stack per entry */
#define DEFAULT_STACK_BYTES 16384
#define DEFAULT_ORDER_WINDOW_NS 10000000ULL
#define MAX_ATTACH_PASSES 100
/* --perf-layout auto: per thread up to this many descriptors (each is
 * kernel memory, an open at the attach and a copy at every thread the
 * target creates), per CPU for the target's cgroup beyond. */
#define THREAD_LAYOUT_MAX_FDS 4096
/* The owner of a cgroup's events (perf_pair's duplicate check): apart
 * from every tid. */
#define CGROUP_OWNER(i) (UINT32_MAX - (uint32_t)(i))

static int sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group,
                               unsigned long flags)
{
    return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group, flags);
}

/* ---- tracepoints ------------------------------------------------------------------ */

/* The online CPUs, from "0-3,5" in /sys/devices/system/cpu/online. */
static int read_cpus(struct perf_source *s)
{
    char buf[4096];
    if (procfs_read_file("/sys/devices/system/cpu/online", buf, sizeof buf) < 0)
        return -1;
    s->ncpus = 0;
    for (char *p = buf; *p && *p != '\n';) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p)
            return -1;
        if (*end == '-') {
            p = end + 1;
            b = strtol(p, &end, 10);
            if (end == p)
                return -1;
        }
        for (long c = a; c <= b && s->ncpus < MAX_CPUS; c++)
            s->cpus[s->ncpus++] = (int)c;
        p = *end == ',' ? end + 1 : end;
    }
    return s->ncpus ? 0 : -1;
}

/* ---- events -------------------------------------------------------------------------- */

uint64_t perf_source_sample_type(bool regs, bool stacks)
{
    uint64_t st = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
                  PERF_SAMPLE_CPU | PERF_SAMPLE_RAW;
    if (regs || stacks)
        st |= PERF_SAMPLE_REGS_USER;
    if (stacks)
        st |= PERF_SAMPLE_STACK_USER;
    return st;
}

static void make_attr(const struct perf_source *s, const struct tp_info *t, bool side_band,
                      struct perf_event_attr *attr)
{
    memset(attr, 0, sizeof *attr);
    attr->type = PERF_TYPE_TRACEPOINT;
    attr->size = sizeof *attr;
    attr->config = t->fmt.id;
    attr->sample_period = 1;
    /* A 16 KiB stack copy costs the target microseconds: only for the
     * calls whose report can carry a stack (a new region, a growth step). */
    bool stacks = s->opt.stacks && t->spec->role == TP_ENTER && !t->spec->exec_call &&
                  !t->spec->stackless;
    /* A raw entry's registers tell an i386 call from an x86_64 one
     * (perf_rawsys_abi): a few dozen bytes, for the filtered calls only. */
    bool regs = t->spec->raw && t->spec->role == TP_ENTER;
    attr->sample_type = perf_source_sample_type(regs, stacks);
    if (regs || stacks)
        attr->sample_regs_user = STACK_REGS_MASK;
    if (stacks)
        attr->sample_stack_user = s->opt.stack_bytes;
    attr->read_format = PERF_FORMAT_LOST;
    attr->inherit = 1;
    /* The per-call syscall tracepoints fire with the user's registers:
     * excluding the kernel loses nothing, and lets perf_event_paranoid 2
     * allow it. raw_syscalls and task_newtask fire with the kernel's: they
     * need kernel samples (load_usable_tracepoints). */
    attr->exclude_kernel = t->spec->role != TP_NEWTASK && !t->spec->raw;
    attr->exclude_hv = 1;
    attr->use_clockid = 1;
    attr->clockid = CLOCK_MONOTONIC;
    attr->sample_id_all = 1;
    /* Wake the reader when a quarter of the ring is used; the loop also
     * drains on a timer, so a quiet target's records are not held long. */
    attr->watermark = 1;
    attr->wakeup_watermark = (uint32_t)(s->map_len - (size_t)sysconf(_SC_PAGESIZE)) / 4;
    if (side_band) {
        attr->comm = 1;
        attr->comm_exec = 1;
        attr->task = 1;
    }
}

static int remember_event(struct perf_source *s, uint64_t id, uint32_t owner, unsigned tp,
                          bool regs, bool stacks)
{
    if (s->capevents == 0 || (s->nfds + 1) * 2 > s->capevents) {
        size_t cap = s->capevents ? s->capevents * 2 : 1024;
        while (cap < (s->nfds + 1) * 2)
            cap *= 2;
        struct event_info *e = calloc(cap, sizeof *e);
        if (!e)
            return -1;
        for (size_t i = 0; i < s->capevents; i++) {
            if (!s->events[i].id)
                continue;
            size_t k = (size_t)(s->events[i].id * 0x9e3779b97f4a7c15ULL) & (cap - 1);
            while (e[k].id)
                k = (k + 1) & (cap - 1);
            e[k] = s->events[i];
        }
        free(s->events);
        s->events = e;
        s->capevents = cap;
    }
    size_t k = (size_t)(id * 0x9e3779b97f4a7c15ULL) & (s->capevents - 1);
    while (s->events[k].id)
        k = (k + 1) & (s->capevents - 1);
    s->events[k] = (struct event_info){id, owner, (uint16_t)tp, regs, stacks};
    return 0;
}

const struct event_info *perf_source_find_event(const struct perf_source *s, uint64_t id)
{
    if (!s->capevents || !id)
        return NULL;
    size_t k = (size_t)(id * 0x9e3779b97f4a7c15ULL) & (s->capevents - 1);
    while (s->events[k].id) {
        if (s->events[k].id == id)
            return &s->events[k];
        k = (k + 1) & (s->capevents - 1);
    }
    return NULL;
}

static int keep_fd(struct perf_source *s, int fd, unsigned cpu_index)
{
    if (s->nfds == s->capfds) {
        size_t cap = s->capfds ? s->capfds * 2 : 256;
        int *f = realloc(s->fds, cap * sizeof *f);
        if (!f)
            return -1;
        s->fds = f;
        uint16_t *c = realloc(s->fd_cpu, cap * sizeof *c);
        if (!c)
            return -1;
        s->fd_cpu = c;
        s->capfds = cap;
    }
    s->fd_cpu[s->nfds] = (uint16_t)cpu_index;
    s->fds[s->nfds++] = fd;
    return 0;
}

static const char *open_error_reason(int err)
{
    switch (err) {
    case EACCES:
    case EPERM: {
        static char buf[256];
        char level[16] = "?";
        if (procfs_read_file("/proc/sys/kernel/perf_event_paranoid", level, sizeof level) > 0)
            level[strcspn(level, "\n")] = '\0';
        snprintf(buf, sizeof buf,
                 "perf_event_open was refused: it needs root, CAP_PERFMON or CAP_SYS_ADMIN "
                 "(kernel.perf_event_paranoid is %s); use --source ptrace", level);
        return buf;
    }
    case ENOENT:
    case ENODEV:
    case EOPNOTSUPP:
        return "this kernel cannot open syscall tracepoints as perf events; "
               "use --source ptrace";
    case EMFILE:
    case ENFILE:
        return "out of file descriptors (one per thread, CPU and tracepoint): raise "
               "the limit (ulimit -n) or use --source ptrace";
    default:
        return NULL;
    }
}

/* The ring of cpu index c, on first use: mapped from this event. */
static int make_ring(struct perf_source *s, unsigned c, int fd)
{
    void *m = mmap(NULL, s->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return -1;
    if (perf_ring_init(&s->rings[c], m, (size_t)sysconf(_SC_PAGESIZE),
                       s->map_len - (size_t)sysconf(_SC_PAGESIZE)) < 0) {
        munmap(m, s->map_len);
        return -1;
    }
    s->maps[c] = m;
    s->ring_fds[c] = fd;
    return 0;
}

/* Opens every (CPU, tracepoint) event of target: a thread (inherited by
 * what it creates), or with PERF_FLAG_PID_CGROUP a cgroup directory's
 * descriptor. 0; 1 when the thread is gone (nothing kept); -1 with errno. */
static int open_events(struct perf_source *s, int target, unsigned long flags, uint32_t owner)
{
    size_t first = s->nfds;
    for (unsigned c = 0; c < s->ncpus; c++) {
        for (unsigned t = 0; t < s->ntps; t++) {
            struct perf_event_attr attr;
            /* One event per (thread, CPU) carries the comm/fork/exit records. */
            make_attr(s, &s->tps[t], t == 0, &attr);
            /* A cgroup's events see its processes on their CPU: nothing to inherit. */
            attr.inherit = !(flags & PERF_FLAG_PID_CGROUP);
            int fd = sys_perf_event_open(&attr, target, s->cpus[c], -1,
                                         PERF_FLAG_FD_CLOEXEC | flags);
            if (fd < 0)
                goto fail;
            if (keep_fd(s, fd, c) < 0) {
                close(fd);
                errno = ENOMEM;
                goto fail;
            }
            if (s->ring_fds[c] < 0) {
                if (make_ring(s, c, fd) < 0)
                    goto fail;
            } else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, s->ring_fds[c]) != 0) {
                goto fail;
            }
            char filter[512];
            int filtered = perf_source_tp_filter(s, &s->tps[t], filter, sizeof filter);
            if (filtered < 0)
                errno = EINVAL;
            if (filtered < 0 || (filtered && ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter) != 0))
                goto fail;
            uint64_t id;
            if (ioctl(fd, PERF_EVENT_IOC_ID, &id) != 0 ||
                remember_event(s, id, owner, t, attr.sample_regs_user != 0,
                               attr.sample_stack_user != 0) < 0)
                goto fail;
        }
    }
    /* The first target's events stay open until the end. */
    for (unsigned t = 0; t < s->ntps && first == 0; t++)
        s->tp_probe_fd[t] = s->fds[t];
    return 0;
fail:;
    int err = errno;
    /* A ring made from this thread's events stays usable only while its
     * fd is open: undo the thread whole, rings included. */
    for (size_t i = first; i < s->nfds; i++) {
        for (unsigned c = 0; c < s->ncpus; c++) {
            if (s->ring_fds[c] == s->fds[i]) {
                perf_ring_release(&s->rings[c]);
                munmap(s->maps[c], s->map_len);
                s->maps[c] = NULL;
                s->ring_fds[c] = -1;
            }
        }
        close(s->fds[i]);
    }
    s->nfds = first;
    errno = err;
    return err == ESRCH ? 1 : -1;
}

static bool have_thread(const struct perf_source *s, pid_t tid)
{
    size_t lo = 0, hi = s->nthreads;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->threads[mid] == tid)
            return true;
        if (s->threads[mid] < tid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static int add_thread(struct perf_source *s, pid_t tid)
{
    if (s->nthreads == s->capthreads) {
        size_t cap = s->capthreads ? s->capthreads * 2 : 64;
        pid_t *t = realloc(s->threads, cap * sizeof *t);
        if (!t)
            return -1;
        s->threads = t;
        s->capthreads = cap;
    }
    size_t i = s->nthreads;
    while (i > 0 && s->threads[i - 1] > tid) {
        s->threads[i] = s->threads[i - 1];
        i--;
    }
    s->threads[i] = tid;
    s->nthreads++;
    return 0;
}

struct scan {
    struct perf_source *s;
    unsigned added;
    unsigned covered;  /* threads listed in this pass that are followed */
    int err;
};

static int scan_one(pid_t tid, void *ctx)
{
    struct scan *sc = ctx;
    if (have_thread(sc->s, tid)) {
        sc->covered++;
        return 0;
    }
    int rc = open_events(sc->s, tid, 0, (uint32_t)tid);
    if (rc < 0) {
        sc->err = errno;
        return 1;
    }
    if (rc == 0) {
        if (add_thread(sc->s, tid) < 0) {
            sc->err = ENOMEM;
            return 1;
        }
        sc->added++;
        sc->covered++;
    } else {
        /* Gone before its events were open: if it made a successor
         * first, that one is not covered by inheritance either, and only
         * another pass finds it. */
        sc->added++;
    }
    return 0;
}

/* Whether this process may open t's event (on itself, disabled). */
static bool may_open(const struct perf_source *s, const struct tp_info *t)
{
    struct perf_event_attr attr;
    make_attr(s, t, false, &attr);
    attr.disabled = 1;
    attr.inherit = 0;
    int fd = sys_perf_event_open(&attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* The tracepoints of s->opt's layout of calls; the raw ones need kernel
 * samples (see make_attr): where those are not allowed (perf_event_paranoid
 * 2 without CAP_PERFMON), the per-call ones, which do not. */
static int load_usable_tracepoints(struct perf_source *s, bool *private_mount, char *why,
                                   size_t size)
{
    if (perf_source_load_tracepoints(s, private_mount, why, size) < 0)
        return -1;
    if (s->per_call || may_open(s, &s->tps[0]))
        return 0;
    s->per_call = true;
    s->stats.per_call_fallback = true;
    return perf_source_load_tracepoints(s, private_mount, why, size);
}

/* task_newtask (the clone flags of a new process) fires in the kernel's
 * context: where kernel samples are not allowed (perf_event_paranoid 2
 * without CAP_PERFMON) it is left out, and a new process's sharing of its
 * parent's memory is asked of kcmp instead (perf_events_source.c). */
static void drop_kernel_only_tracepoints(struct perf_source *s)
{
    for (unsigned t = 0; t < s->ntps; t++) {
        if (s->tps[t].spec->role != TP_NEWTASK || may_open(s, &s->tps[t]))
            continue;
        memmove(&s->tps[t], &s->tps[t + 1], (s->ntps - t - 1) * sizeof s->tps[0]);
        s->ntps--;
        /* The moved ones point into their own format: resolve them again. */
        for (unsigned k = t; k < s->ntps; k++) {
            s->tps[k].nargs = 0;
            perf_source_tp_resolve(&s->tps[k]);
        }
        t--;
    }
}

/* Whether the calls are to be read by BPF programs: asked for, or by
 * default where no layout of perf events is asked for (with -k, their
 * stacks come from the stack watch's per-CPU events). */
static bool want_bpf(struct perf_source_options o)
{
    return o.calls == PERF_CALLS_BPF || (o.calls == PERF_CALLS_AUTO && o.layout == PERF_LAYOUT_AUTO);
}

/* perf_pair's output: in the cgroup layout, only the followed processes'. */
static void scoped_emit(const struct perf_ev *ev, void *ctx)
{
    struct perf_source *s = ctx;
    if (s->layout == PERF_LAYOUT_CGROUP && !perf_follow_pass(s->follow, ev)) {
        s->stats.filtered++;
        return;
    }
    s->emit(ev, s->emit_ctx);
}

/* ---- public: setting up ------------------------------------------------------------- */

struct perf_source *perf_source_new(const struct perf_source_options *options,
                                    perf_emit_fn emit, void *emit_ctx, char *why,
                                    size_t why_size)
{
    struct perf_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    s->opt = *options;
    if (!s->opt.stack_bytes)
        s->opt.stack_bytes = DEFAULT_STACK_BYTES;
    s->opt.stack_bytes &= ~7u; /* the kernel wants a multiple of 8 */
    unsigned pages = s->opt.ring_pages;
    if (!pages)
        pages = s->opt.stacks ? DEFAULT_STACK_RING_PAGES : DEFAULT_RING_PAGES;
    if (pages & (pages - 1)) {
        snprintf(why, why_size, "ring size %u pages is not a power of two", pages);
        free(s);
        return NULL;
    }
    if (!s->opt.order_window_ns)
        s->opt.order_window_ns = DEFAULT_ORDER_WINDOW_NS;
    s->map_len = (size_t)(pages + 1) * (size_t)sysconf(_SC_PAGESIZE);
    for (unsigned c = 0; c < MAX_CPUS; c++)
        s->ring_fds[c] = -1;
    for (unsigned t = 0; t < NTP; t++)
        s->tp_probe_fd[t] = -1;
    s->per_call = s->opt.calls == PERF_CALLS_SYSCALLS;
    bool private_mount = false;
    if (read_cpus(s) < 0) {
        snprintf(why, why_size, "cannot read the online CPUs (/sys/devices/system/cpu/online)");
        free(s);
        return NULL;
    }
    if (want_bpf(s->opt)) {
        /* One ring for every CPU: as much room as the perf rings would have
         * without stacks (the stacks have rings of their own, per CPU). */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned record_pages = s->opt.ring_pages ? s->opt.ring_pages : DEFAULT_RING_PAGES;
        struct perf_bpf_options bo = {
            .min_size = s->opt.min_size,
            .ring_bytes = (uint64_t)record_pages * (uint64_t)sysconf(_SC_PAGESIZE) *
                          (uint64_t)(cpus > 0 ? cpus : 1),
            .cpus = s->cpus,
            .ncpus = s->ncpus,
            .followed_max = s->opt.bpf_followed_max,
            .stacks = s->opt.stacks,
            .stack_bytes = s->opt.stack_bytes,
            .stack_ring_pages = pages};
        char refused[sizeof s->stats.bpf_refused] = "";
        s->bpf = perf_bpf_open(&bo, refused, sizeof refused);
        if (!s->bpf && s->opt.calls == PERF_CALLS_BPF) {
            snprintf(why, why_size, "BPF programs cannot be used: %s; --perf-calls raw "
                                    "reads the calls without them", refused);
            free(s);
            return NULL;
        }
        snprintf(s->stats.bpf_refused, sizeof s->stats.bpf_refused, "%s", refused);
    }
    if (!s->bpf && load_usable_tracepoints(s, &private_mount, why, why_size) < 0) {
        free(s);
        return NULL;
    }
    s->emit = emit;
    s->emit_ctx = emit_ctx;
    s->pair = perf_pair_new(scoped_emit, s);
    s->follow = perf_follow_new();
    if (!s->pair || !s->follow) {
        perf_pair_free(s->pair);
        perf_follow_free(s->follow);
        snprintf(why, why_size, "out of memory");
        free(s);
        return NULL;
    }
    s->stats.cpus = s->ncpus;
    if (s->bpf) {
        s->stats.bpf = true;
        s->stats.clone_flags = true; /* the newtask program writes them */
        s->stats.tracepoints = perf_bpf_stats(s->bpf)->tracepoints;
        s->stats.bpf_stacks = perf_bpf_stats(s->bpf)->stacks;
        s->stats.ring_bytes = perf_bpf_stats(s->bpf)->ring_bytes;
        s->stats.tracefs_private = perf_bpf_stats(s->bpf)->tracefs_private;
        return s;
    }
    s->stats.ring_bytes = (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
    s->stats.tracefs_private = private_mount;
    drop_kernel_only_tracepoints(s);
    s->stats.tracepoints = s->ntps;
    s->stats.per_call = s->per_call;
    for (unsigned t = 0; t < s->ntps; t++)
        s->stats.clone_flags |= s->tps[t].spec->role == TP_NEWTASK;
    return s;
}

static int count_task(pid_t tid, void *ctx)
{
    (void)tid;
    (void)ctx;
    return 0;
}

/* Every event is a descriptor: make the soft limit the hard one (or more,
 * when allowed), and say before opening anything when even that is too
 * few for `more` descriptors. */
static int check_fd_limit(struct perf_source *s, uint64_t more, const char *what, char *why,
                          size_t size)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    uint64_t need = s->nfds + more + 64;
    if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur) {
        /* With CAP_SYS_RESOURCE the hard limit may be raised (up to
         * fs.nr_open); without, this fails and the reason below stands. */
        struct rlimit raised = {.rlim_cur = need * 2, .rlim_max = need * 2};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur) {
        snprintf(why, size,
                 "following %s needs %" PRIu64 " file descriptors, the limit is %llu: raise "
                 "it (ulimit -n) or use --source ptrace",
                 what, need, (unsigned long long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

/* The cgroup layout's scope for cg: an index into s->cgroups, opening
 * its events when it is new (a cgroup below one already open is covered
 * by that one). -1 with a reason. */
static int open_cgroup(struct perf_source *s, const struct perf_cgroup *cg, char *why,
                       size_t size)
{
    for (unsigned i = 0; i < s->ncgroups; i++) {
        size_t n = strlen(s->cgroups[i].name);
        if (s->cgroups[i].version == cg->version && strncmp(cg->name, s->cgroups[i].name, n) == 0 &&
            (cg->name[n] == '\0' || cg->name[n] == '/'))
            return (int)i;
    }
    if (s->ncgroups == MAX_CGROUPS) {
        snprintf(why, size, "the targets are in more than %d cgroups: use --perf-layout thread "
                            "or --source ptrace", MAX_CGROUPS);
        return -1;
    }
    int dir = perf_cgroup_open(cg);
    if (dir < 0) {
        snprintf(why, size, "cannot open cgroup directory '%s': %s", cg->dir, strerror(errno));
        return -1;
    }
    /* The events hold the cgroup: the directory's descriptor can go. */
    int rc = open_events(s, dir, PERF_FLAG_PID_CGROUP, CGROUP_OWNER(s->ncgroups));
    int err = errno;
    close(dir);
    if (rc != 0) {
        const char *r = open_error_reason(err);
        if (r)
            snprintf(why, size, "%s", r);
        else
            snprintf(why, size, "perf_event_open for cgroup '%s' failed: %s", cg->name,
                     strerror(err));
        return -1;
    }
    s->cgroups[s->ncgroups] = *cg;
    return (int)s->ncgroups++;
}

/* Which layout follows pid (see perf_source.h), into *cg for the cgroup
 * one; the layout of the first target is every later target's. Checks
 * the descriptor limit. PERF_LAYOUT_AUTO (none) with a reason in why. */
static enum perf_layout choose_layout(struct perf_source *s, pid_t pid, struct perf_cgroup *cg,
                                      char *why, size_t size)
{
    enum perf_layout want = s->layout != PERF_LAYOUT_AUTO ? s->layout : s->opt.layout;
    int threads = procfs_foreach_task(pid, count_task, NULL);
    uint64_t per_thread = threads > 0 ? (uint64_t)threads * s->ncpus * s->ntps : 0;
    char what[128], cg_why[256] = "";
    snprintf(what, sizeof what, "%d threads on %u CPUs (one per thread, CPU and tracepoint)",
             threads, s->ncpus);
    if (want == PERF_LAYOUT_THREAD)
        return check_fd_limit(s, per_thread, what, why, size) == 0 ? PERF_LAYOUT_THREAD
                                                                    : PERF_LAYOUT_AUTO;
    bool cg_ok = perf_cgroup_of(pid, cg, cg_why, sizeof cg_why) == 0;
    if (want == PERF_LAYOUT_AUTO && (!cg_ok || (per_thread <= THREAD_LAYOUT_MAX_FDS &&
                                                !perf_cgroup_alone(cg, pid)))) {
        if (check_fd_limit(s, per_thread, what, why, size) == 0)
            return PERF_LAYOUT_THREAD;
        if (!cg_ok) {
            size_t used = strlen(why);
            snprintf(why + used, size - used, " (per CPU for its cgroup: %s)", cg_why);
            return PERF_LAYOUT_AUTO;
        }
    }
    if (!cg_ok) {
        snprintf(why, size, "%s", cg_why);
        return PERF_LAYOUT_AUTO;
    }
    snprintf(what, sizeof what, "%u CPUs for its cgroup (one per CPU and tracepoint)", s->ncpus);
    return check_fd_limit(s, (uint64_t)s->ncpus * s->ntps, what, why, size) == 0
               ? PERF_LAYOUT_CGROUP
               : PERF_LAYOUT_AUTO;
}

/* The thread layout's attach: every thread's events, until a pass over
 * /proc/PID/task finds no new thread. */
static int attach_threads(struct perf_source *s, pid_t pid, char *why, size_t why_size)
{
    struct scan sc = {s, 0, 0, 0};
    unsigned passes = 0, recounts = 0;
    for (;;) {
        sc.added = 0;
        sc.covered = 0;
        passes++;
        int n = procfs_foreach_task(pid, scan_one, &sc);
        if (sc.err) {
            const char *r = open_error_reason(sc.err);
            if (r)
                snprintf(why, why_size, "%s", r);
            else
                snprintf(why, why_size, "perf_event_open on process %d failed: %s", (int)pid,
                         strerror(sc.err));
            return -1;
        }
        if (n < 0) {
            snprintf(why, why_size, "cannot list the threads of process %d: %s", (int)pid,
                     strerror(errno));
            return -1;
        }
        if (sc.added && passes < MAX_ATTACH_PASSES)
            continue;
        /* A pass can end early: the kernel lists /proc/PID/task from the
         * thread it listed last and stops when that one has died, so a
         * thread made by a thread not yet followed may be left out. Fewer
         * followed than the process counts (Threads:) means another look. */
        long threads = procfs_status_number(pid, "Threads");
        if (sc.added || threads <= 0 || (unsigned long)threads <= sc.covered ||
            ++recounts > MAX_ATTACH_PASSES) {
            /* Given up while threads were still being born faster than their
             * events could be opened (each new one made by a thread not yet
             * followed): those are not followed, and the caller says so. */
            unsigned long behind = threads > 0 && (unsigned long)threads > sc.covered
                                       ? (unsigned long)threads - sc.covered
                                       : 0;
            s->stats.threads_behind = (unsigned)(behind ? behind : sc.added ? 1 : 0);
            break;
        }
    }
    s->stats.attach_passes = passes;
    if (s->nthreads == 0) {
        snprintf(why, why_size, "process %d is gone", (int)pid);
        return -1;
    }
    return 0;
}

/* BPF: the process joins the programs' map; its threads, those to come
 * and its children to come are covered from then on. */
static int attach_bpf(struct perf_source *s, pid_t pid, uint64_t start, char *why,
                      size_t why_size)
{
    int threads = procfs_foreach_task(pid, count_task, NULL);
    if (threads <= 0) {
        snprintf(why, why_size, "process %d is gone", (int)pid);
        return -1;
    }
    if (perf_bpf_follow(s->bpf, pid, why, why_size) < 0)
        return -1;
    uint64_t done = monotonic_ns();
    if (perf_bpf_runs_32bit(pid)) {
        struct perf_item said = {.kind = PERF_ITEM_ENTER, .time = done, .pid = pid, .tid = pid,
                                 .nr = -1, .not_native = true};
        perf_pair_push(s->pair, &said);
    }
    if (!s->attached)
        s->attach_time = done;
    s->attached = true;
    s->layout = PERF_LAYOUT_BPF;
    s->stats.layout = PERF_LAYOUT_BPF;
    s->stats.threads += (unsigned)threads;
    s->stats.event_fds = perf_bpf_stats(s->bpf)->fds;
    s->stats.attach_passes = 1;
    s->stats.attach_ns = done - start;
    return 0;
}

int perf_source_attach(struct perf_source *s, pid_t pid, char *why, size_t why_size)
{
    uint64_t start = monotonic_ns();
    if (s->bpf)
        return attach_bpf(s, pid, start, why, why_size);
    struct perf_cgroup cg;
    enum perf_layout layout = choose_layout(s, pid, &cg, why, why_size);
    if (layout == PERF_LAYOUT_AUTO)
        return -1;
    if (layout == PERF_LAYOUT_THREAD) {
        if (attach_threads(s, pid, why, why_size) < 0)
            return -1;
    } else {
        /* Followed before its events open: its records are read only later. */
        if (perf_follow_add(s->follow, pid) < 0) {
            snprintf(why, why_size, "out of memory");
            return -1;
        }
        int i = open_cgroup(s, &cg, why, why_size);
        if (i < 0)
            return -1;
        s->stats.cgroup = s->cgroups[i].name;
        s->stats.attach_passes = 1;
    }
    s->layout = layout;
    s->stats.layout = layout;
    uint64_t done = monotonic_ns();
    if (!s->attached) {
        s->attach_time = done;
        for (unsigned c = 0; c < s->ncpus; c++)
            s->ring_last_time[c] = done;
    }
    s->attached = true;
    s->stats.threads = (unsigned)s->nthreads;
    s->stats.event_fds = (unsigned)s->nfds;
    s->stats.attach_ns = done - start;
    return 0;
}

int perf_source_in_scope(const struct perf_source *s, pid_t pid)
{
    if (s->layout != PERF_LAYOUT_CGROUP)
        return 1;
    int rc = -1;
    for (unsigned c = 0; c < s->ncgroups && rc != 1; c++) {
        int r = perf_cgroup_holds(&s->cgroups[c], pid);
        if (r >= 0)
            rc = r;
    }
    return rc;
}

const int *perf_source_poll_fds(const struct perf_source *s, size_t *n)
{
    if (s->bpf)
        return perf_bpf_poll_fds(s->bpf, n);
    *n = s->ncpus;
    return s->ring_fds;
}

int perf_source_drain_interval_ms(const struct perf_source *s)
{
    int ms = (int)(s->opt.order_window_ns / 1000000ULL);
    return ms < 1 ? 1 : ms;
}

const struct perf_source_stats *perf_source_stats(const struct perf_source *s)
{
    return &s->stats;
}

const struct perf_pair_stats *perf_source_pair_stats(const struct perf_source *s)
{
    return perf_pair_stats(s->pair);
}

void perf_source_free(struct perf_source *s)
{
    if (!s)
        return;
    perf_bpf_close(s->bpf);
    for (unsigned c = 0; c < s->ncpus; c++) {
        if (s->maps[c]) {
            perf_ring_release(&s->rings[c]);
            munmap(s->maps[c], s->map_len);
        }
    }
    for (size_t i = 0; i < s->nfds; i++)
        close(s->fds[i]);
    perf_pair_free(s->pair);
    free(s->fds);
    free(s->fd_cpu);
    free(s->events);
    free(s->threads);
    perf_follow_free(s->follow);
    free(s);
}

/* ---- probe ------------------------------------------------------------------------------ */

/* The layout pid would be followed with, tried with one event. 0 with
 * its description in why, or -1 with a reason. */
static int probe_layout(struct perf_source *s, pid_t pid, char *why, size_t why_size)
{
    struct perf_cgroup cg;
    enum perf_layout layout = choose_layout(s, pid, &cg, why, why_size);
    if (layout == PERF_LAYOUT_AUTO)
        return -1;
    uint64_t fds = (uint64_t)s->ncpus * s->ntps;
    if (layout == PERF_LAYOUT_CGROUP) {
        struct perf_event_attr attr;
        make_attr(s, &s->tps[0], false, &attr);
        attr.disabled = 1;
        attr.inherit = 0;
        int dir = perf_cgroup_open(&cg);
        int fd = dir < 0 ? -1
                         : sys_perf_event_open(&attr, dir, s->cpus[0], -1,
                                               PERF_FLAG_FD_CLOEXEC | PERF_FLAG_PID_CGROUP);
        int err = errno;
        if (dir >= 0)
            close(dir);
        if (fd < 0) {
            const char *r = open_error_reason(err);
            snprintf(why, why_size, "perf events for cgroup '%s' cannot be opened: %s", cg.name,
                     r ? r : strerror(err));
            return -1;
        }
        close(fd);
    } else {
        int threads = procfs_foreach_task(pid, count_task, NULL);
        fds *= threads > 0 ? (uint64_t)threads : 1;
    }
    perf_source_describe(layout, cg.name, false, fds, why, why_size);
    return 0;
}

void perf_source_describe(enum perf_layout layout, const char *cgroup, bool stacks,
                          uint64_t fds, char *out, size_t size)
{
    if (layout == PERF_LAYOUT_BPF)
        snprintf(out, size, "BPF programs on the calls' tracepoints for every process of the "
                            "machine, one ring%s, %" PRIu64 " descriptors",
                 stacks ? ", stack samples per CPU that the programs gate" : "", fds);
    else if (layout == PERF_LAYOUT_CGROUP)
        snprintf(out, size,
                 "events per CPU for cgroup '%s', %" PRIu64 " descriptors; its other "
                 "processes' records are read and dropped", cgroup, fds);
    else
        snprintf(out, size, "events per thread, %" PRIu64 " descriptors", fds);
}

int perf_source_probe(pid_t pid, const struct perf_source_options *options, char *why,
                      size_t why_size)
{
    enum perf_layout layout = options->layout;
    if (want_bpf(*options)) {
        char refused[256] = "";
        unsigned fds;
        struct perf_source *cpus = calloc(1, sizeof *cpus); /* large: not on the stack */
        if (!cpus || read_cpus(cpus) < 0) {
            free(cpus);
            snprintf(why, why_size, "cannot read the online CPUs "
                                    "(/sys/devices/system/cpu/online)");
            return -1;
        }
        int probed = perf_bpf_probe(cpus->cpus, cpus->ncpus, options->stacks, &fds, refused,
                                    sizeof refused);
        free(cpus);
        if (probed == 0) {
            if (pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH) {
                snprintf(why, why_size, "process %d is gone", (int)pid);
                return -1;
            }
            perf_source_describe(PERF_LAYOUT_BPF, NULL, options->stacks, fds, why, why_size);
            return 0;
        }
        if (options->calls == PERF_CALLS_BPF) {
            snprintf(why, why_size, "BPF programs cannot be used: %s", refused);
            return -1;
        }
    }
    struct perf_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    s->opt.layout = layout;
    s->map_len = (size_t)(DEFAULT_RING_PAGES + 1) * (size_t)sysconf(_SC_PAGESIZE);
    bool private_mount;
    int rc = load_usable_tracepoints(s, &private_mount, why, why_size);
    if (rc == 0) {
        struct perf_event_attr attr;
        make_attr(s, &s->tps[0], false, &attr);
        attr.disabled = 1;
        int fd = sys_perf_event_open(&attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            const char *r = open_error_reason(err);
            if (err == ESRCH)
                snprintf(why, why_size, "process %d is gone", (int)pid);
            else if (r)
                snprintf(why, why_size, "%s", r);
            else
                snprintf(why, why_size, "perf_event_open on process %d failed: %s", (int)pid,
                         strerror(err));
            rc = -1;
        } else {
            close(fd);
            /* A target of many threads on many CPUs may need more
             * descriptors than this process can have, or a cgroup's
             * events may be refused: say so now, while --source auto
             * can still take ptrace instead. */
            if (pid != getpid() && read_cpus(s) == 0)
                rc = probe_layout(s, pid, why, why_size);
            else
                why[0] = '\0';
        }
    }
    free(s);
    return rc;
}
