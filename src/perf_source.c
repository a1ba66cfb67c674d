/*
 * perf_source: syscall tracepoints through perf_event_open, one ring per
 * CPU. See include/perf_source.h; the layout's reasons are in
 * docs/performance.md ("perf source (standalone)").
 */
#include "perf_source.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "perf_ring.h"
#include "procfs.h"
#include "tracefs.h"

#define DEFAULT_RING_PAGES 128        /* 512 KiB per CPU */
#define DEFAULT_STACK_RING_PAGES 1024 /* 4 MiB per CPU: a 16 KiB stack per entry */
#define DEFAULT_STACK_BYTES 16384
#define DEFAULT_ORDER_WINDOW_NS 10000000ULL
#define MAX_CPUS 1024
#define MAX_ATTACH_PASSES 100

/* The registers a stack walk needs on x86_64 (perf_pair.h). */
#define STACK_REGS_MASK PERF_STACK_REGS_MASK

/* The tracepoints read, and what each is. */
enum tp_role { TP_ENTER, TP_EXIT };
static const struct tp_spec {
    const char *path; /* under events/ */
    enum tp_role role;
    bool exec_call;   /* execve entries: only to name an exec's thread */
    bool size_filter; /* takes --min-size */
    bool stackless;   /* entries never reported with -k's stack: none copied */
} TRACEPOINTS[] = {
    {"syscalls/sys_enter_mmap", TP_ENTER, false, true, false},
    {"syscalls/sys_exit_mmap", TP_EXIT, false, false, false},
    {"syscalls/sys_enter_munmap", TP_ENTER, false, false, true},
    {"syscalls/sys_exit_munmap", TP_EXIT, false, false, false},
    {"syscalls/sys_enter_mremap", TP_ENTER, false, false, false},
    {"syscalls/sys_exit_mremap", TP_EXIT, false, false, false},
    {"syscalls/sys_enter_mprotect", TP_ENTER, false, false, false},
    {"syscalls/sys_exit_mprotect", TP_EXIT, false, false, false},
    {"syscalls/sys_enter_pkey_mprotect", TP_ENTER, false, false, false},
    {"syscalls/sys_exit_pkey_mprotect", TP_EXIT, false, false, false},
    {"syscalls/sys_enter_brk", TP_ENTER, false, false, false},
    {"syscalls/sys_exit_brk", TP_EXIT, false, false, false},
    {"syscalls/sys_enter_execve", TP_ENTER, true, false, false},
    {"syscalls/sys_enter_execveat", TP_ENTER, true, false, false},
    /* the exit status of a process reaped before its last exit record is
     * read (a parent waiting for it) */
    {"syscalls/sys_enter_exit_group", TP_ENTER, false, false, true},
};
#define NTP (sizeof TRACEPOINTS / sizeof TRACEPOINTS[0])

/* A tracepoint as this kernel has it: where its fields are. */
struct tp_info {
    const struct tp_spec *spec;
    struct tp_format fmt;
    const struct tp_field *nr;      /* __syscall_nr */
    const struct tp_field *args[6]; /* entries: the fields after nr, in order */
    unsigned nargs;
    const struct tp_field *ret;     /* exits */
};

/* What an opened event's id tells a record's reader. */
struct event_info {
    uint64_t id; /* 0: free slot */
    uint32_t owner;
    uint16_t tp;  /* index into s->tps */
    bool stacks;
};

struct perf_source {
    struct perf_source_options opt;
    struct tp_info tps[NTP];
    unsigned ntps;
    unsigned ncpus;
    int cpus[MAX_CPUS];
    int ring_fds[MAX_CPUS];   /* the event each CPU's ring belongs to */
    void *maps[MAX_CPUS];
    size_t map_len;
    struct perf_ring rings[MAX_CPUS];
    uint64_t ring_last_time[MAX_CPUS]; /* for a LOST record's window */
    int *fds;                 /* every event */
    uint16_t *fd_cpu;         /* parallel to fds: the CPU index of each */
    size_t nfds, capfds;
    /* Losses of each ring: reported (LOST records and counter finds), and
     * how much of that was found by the counters before the ring's own
     * LOST record came (that record is then not counted again). */
    uint64_t lost_reported[MAX_CPUS];
    uint64_t lost_credit[MAX_CPUS];
    struct event_info *events; /* open addressing on id */
    size_t capevents;
    pid_t *threads;           /* tids we opened events for, sorted */
    size_t nthreads, capthreads;
    struct perf_pair *pair;
    struct perf_source_stats stats;
    uint64_t attach_time;
    bool attached;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group,
                               unsigned long flags)
{
    return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group, flags);
}

/* ---- tracepoints ------------------------------------------------------------------ */

/* Finds the fields a record is read with, from the parsed format. */
static int tp_resolve(struct tp_info *t)
{
    t->nr = tp_format_field(&t->fmt, "__syscall_nr");
    if (!t->nr)
        return -1;
    if (t->spec->role == TP_EXIT) {
        t->ret = tp_format_field(&t->fmt, "ret");
        return t->ret ? 0 : -1;
    }
    /* The arguments are the fields after the number, in offset order. */
    for (size_t i = 0; i < t->fmt.nfields && t->nargs < 6; i++)
        if (t->fmt.fields[i].offset > t->nr->offset)
            t->args[t->nargs++] = &t->fmt.fields[i];
    return 0;
}

static int load_tracepoints(struct perf_source *s, bool *private_mount, char *why, size_t size)
{
    const char *names[NTP];
    static struct tp_format fmts[NTP];
    for (size_t i = 0; i < NTP; i++)
        names[i] = TRACEPOINTS[i].path;
    if (tracefs_load(names, NTP, fmts, private_mount, why, size) < 0)
        return -1;
    s->ntps = 0;
    for (size_t i = 0; i < NTP; i++) {
        if (fmts[i].id == 0)
            continue; /* not on this kernel (pkey_mprotect on old ones) */
        struct tp_info *t = &s->tps[s->ntps];
        memset(t, 0, sizeof *t);
        t->spec = &TRACEPOINTS[i];
        t->fmt = fmts[i];
        if (tp_resolve(t) < 0) {
            snprintf(why, size, "tracepoint '%s' has no __syscall_nr or ret field",
                     TRACEPOINTS[i].path);
            return -1;
        }
        s->ntps++;
    }
    if (s->ntps == 0 || s->tps[0].spec != &TRACEPOINTS[0]) {
        snprintf(why, size, "this kernel has no syscall tracepoints "
                            "(CONFIG_FTRACE_SYSCALLS): use --source ptrace");
        return -1;
    }
    return 0;
}

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

static uint64_t sample_type_of(bool stacks)
{
    uint64_t st = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
                  PERF_SAMPLE_CPU | PERF_SAMPLE_RAW;
    if (stacks)
        st |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
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
    attr->sample_type = sample_type_of(stacks);
    if (stacks) {
        attr->sample_regs_user = STACK_REGS_MASK;
        attr->sample_stack_user = s->opt.stack_bytes;
    }
    attr->read_format = PERF_FORMAT_LOST;
    attr->inherit = 1;
    /* Syscall tracepoints fire with the user's registers: excluding the
     * kernel loses nothing, and lets perf_event_paranoid 2 allow it. */
    attr->exclude_kernel = 1;
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
                          bool stacks)
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
    s->events[k] = (struct event_info){id, owner, (uint16_t)tp, stacks};
    return 0;
}

static const struct event_info *find_event(const struct perf_source *s, uint64_t id)
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

/* Opens every (CPU, tracepoint) event of thread tid. 0; 1 when the thread
 * is gone (nothing kept); -1 with errno. */
static int open_thread(struct perf_source *s, pid_t tid)
{
    size_t first = s->nfds;
    for (unsigned c = 0; c < s->ncpus; c++) {
        for (unsigned t = 0; t < s->ntps; t++) {
            struct perf_event_attr attr;
            /* One event per (thread, CPU) carries the comm/fork/exit records. */
            make_attr(s, &s->tps[t], t == 0, &attr);
            int fd = sys_perf_event_open(&attr, tid, s->cpus[c], -1, PERF_FLAG_FD_CLOEXEC);
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
            if (s->tps[t].spec->size_filter && s->opt.min_size) {
                /* MAP_FIXED (0x10) mmaps pass whatever their size: they
                 * can replace part of a region already reported. */
                char filter[96];
                snprintf(filter, sizeof filter, "len >= %" PRIu64 " || flags & 16",
                         s->opt.min_size);
                if (ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter) != 0)
                    goto fail;
            }
            uint64_t id;
            if (ioctl(fd, PERF_EVENT_IOC_ID, &id) != 0 ||
                remember_event(s, id, (uint32_t)tid, t, attr.sample_stack_user != 0) < 0)
                goto fail;
        }
    }
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
    int rc = open_thread(sc->s, tid);
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
    bool private_mount = false;
    if (load_tracepoints(s, &private_mount, why, why_size) < 0) {
        free(s);
        return NULL;
    }
    if (read_cpus(s) < 0) {
        snprintf(why, why_size, "cannot read the online CPUs (/sys/devices/system/cpu/online)");
        free(s);
        return NULL;
    }
    s->pair = perf_pair_new(emit, emit_ctx);
    if (!s->pair) {
        snprintf(why, why_size, "out of memory");
        free(s);
        return NULL;
    }
    s->stats.cpus = s->ncpus;
    s->stats.tracepoints = s->ntps;
    s->stats.ring_bytes = (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
    s->stats.tracefs_private = private_mount;
    return s;
}

static int count_task(pid_t tid, void *ctx)
{
    (void)tid;
    (void)ctx;
    return 0;
}

/* Every event is a descriptor: make the soft limit the hard one, and say
 * before opening anything when even that is too few. */
static int check_fd_limit(struct perf_source *s, pid_t pid, char *why, size_t size)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int threads = procfs_foreach_task(pid, count_task, NULL);
    if (threads < 0)
        return 0; /* said by the attach itself */
    uint64_t need = s->nfds + (uint64_t)threads * s->ncpus * s->ntps + 64;
    if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur) {
        /* With CAP_SYS_RESOURCE the hard limit may be raised (up to
         * fs.nr_open); without, this fails and the reason below stands. */
        struct rlimit more = {.rlim_cur = need * 2, .rlim_max = need * 2};
        if (setrlimit(RLIMIT_NOFILE, &more) == 0)
            rl = more;
    }
    if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur) {
        snprintf(why, size,
                 "following %d threads on %u CPUs needs %" PRIu64 " file descriptors "
                 "(one per thread, CPU and tracepoint), the limit is %llu: raise it "
                 "(ulimit -n) or use --source ptrace",
                 threads, s->ncpus, need, (unsigned long long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

int perf_source_attach(struct perf_source *s, pid_t pid, char *why, size_t why_size)
{
    uint64_t start = now_ns();
    if (check_fd_limit(s, pid, why, why_size) < 0)
        return -1;
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
            ++recounts > MAX_ATTACH_PASSES)
            break;
    }
    if (s->nthreads == 0) {
        snprintf(why, why_size, "process %d is gone", (int)pid);
        return -1;
    }
    uint64_t done = now_ns();
    if (!s->attached) {
        s->attach_time = done;
        for (unsigned c = 0; c < s->ncpus; c++)
            s->ring_last_time[c] = done;
    }
    s->attached = true;
    s->stats.threads = (unsigned)s->nthreads;
    s->stats.event_fds = (unsigned)s->nfds;
    s->stats.attach_passes = passes;
    s->stats.attach_ns = done - start;
    return 0;
}

const int *perf_source_poll_fds(const struct perf_source *s, size_t *n)
{
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

/* ---- reading records ------------------------------------------------------------------ */

/* FNV-1a: the duplicate check compares what two records say. */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}
#define HASH_SEED 0xcbf29ce484222325ULL

static struct perf_stack *copy_stack(const struct perf_rec *r)
{
    struct perf_stack *st = malloc(sizeof *st + r->stack_size);
    if (!st)
        return NULL;
    st->abi = r->regs_abi;
    st->regs_mask = STACK_REGS_MASK;
    st->nregs = r->nregs;
    memcpy(st->regs, r->regs, sizeof st->regs);
    st->size = r->stack_size;
    if (r->stack_size)
        memcpy(st->data, r->stack, r->stack_size);
    return st;
}

static int sample_item(struct perf_source *s, const struct event_info *ev,
                       const struct perf_rec *r, struct perf_item *it)
{
    const struct tp_info *t = &s->tps[ev->tp];
    uint64_t v;
    it->tp = t->fmt.id;
    it->content = hash_bytes(HASH_SEED, r->raw, r->raw_size);
    if (!tp_field_get(t->nr, r->raw, r->raw_size, &v))
        return -1;
    it->nr = (int)(int64_t)v;
    if (t->spec->role == TP_EXIT) {
        it->kind = PERF_ITEM_EXIT;
        if (!tp_field_get(t->ret, r->raw, r->raw_size, &v))
            return -1;
        it->ret = (int64_t)v;
        return 0;
    }
    it->kind = PERF_ITEM_ENTER;
    it->is_exec_call = t->spec->exec_call;
    for (unsigned i = 0; i < t->nargs; i++)
        if (!tp_field_get(t->args[i], r->raw, r->raw_size, &it->args[i]))
            return -1;
    if (ev->stacks && r->regs_abi) {
        it->stack = copy_stack(r);
        /* Without memory for the copy the call is still reported, stackless. */
    }
    return 0;
}

struct drain_ctx {
    struct perf_source *s;
    unsigned c;
};

static int on_record(const void *rec, size_t size, void *ctx)
{
    struct drain_ctx *d = ctx;
    struct perf_source *s = d->s;
    s->stats.records++;
    uint64_t id;
    /* Every event shares the identifier/tid/time/cpu part of the layout;
     * the rest depends on the event, found by its id. */
    if (!perf_rec_identifier(sample_type_of(false), rec, size, &id)) {
        s->stats.bad_records++;
        return 0;
    }
    const struct event_info *ev = find_event(s, id);
    const struct perf_event_header *h = rec;
    if (!ev && h->type != PERF_RECORD_LOST) {
        s->stats.bad_records++;
        return 0;
    }
    struct perf_rec r;
    bool stacks = ev && ev->stacks;
    if (perf_rec_decode(sample_type_of(stacks), stacks ? __builtin_popcountll(STACK_REGS_MASK) : 0,
                        rec, size, &r) < 0) {
        s->stats.bad_records++;
        return 0;
    }
    struct perf_item it = {.time = r.time, .owner = ev ? ev->owner : 0, .cpu = r.cpu,
                           .pid = (pid_t)r.pid, .tid = (pid_t)r.tid};
    switch (r.kind) {
    case PERF_REC_SAMPLE:
        if (sample_item(s, ev, &r, &it) < 0) {
            free(it.stack);
            s->stats.bad_records++;
            return 0;
        }
        break;
    case PERF_REC_COMM:
        it.kind = PERF_ITEM_COMM;
        it.exec = (r.misc & PERF_RECORD_MISC_COMM_EXEC) != 0;
        memcpy(it.comm, r.comm, sizeof it.comm);
        it.content = hash_bytes(HASH_SEED, r.comm, strlen(r.comm));
        it.content = hash_bytes(it.content, &it.exec, sizeof it.exec);
        break;
    case PERF_REC_FORK:
    case PERF_REC_EXIT:
        it.kind = r.kind == PERF_REC_FORK ? PERF_ITEM_FORK : PERF_ITEM_TASK_EXIT;
        it.ppid = (pid_t)r.ppid;
        it.ptid = (pid_t)r.ptid;
        it.content = hash_bytes(HASH_SEED, &r.pid, sizeof r.pid);
        it.content = hash_bytes(it.content, &r.tid, sizeof r.tid);
        break;
    case PERF_REC_LOST:
    case PERF_REC_LOST_SAMPLES: {
        it.kind = PERF_ITEM_LOST;
        /* Losses the counters already reported are not counted twice. */
        uint64_t known = r.lost < s->lost_credit[d->c] ? r.lost : s->lost_credit[d->c];
        s->lost_credit[d->c] -= known;
        it.lost = r.lost - known;
        s->lost_reported[d->c] += it.lost;
        it.cpu = (uint32_t)s->cpus[d->c];
        it.lost_from = s->ring_last_time[d->c];
        break;
    }
    default:
        return 0;
    }
    if (r.time > s->ring_last_time[d->c])
        s->ring_last_time[d->c] = r.time;
    perf_pair_push(s->pair, &it);
    return 0;
}

/* The losses the kernel counted for ring c's events (PERF_FORMAT_LOST;
 * an inherited event's losses are counted on the event we opened). */
static uint64_t counted_losses(const struct perf_source *s, unsigned c)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < s->nfds; i++) {
        uint64_t v[2];
        if (s->fd_cpu[i] == c && read(s->fds[i], v, sizeof v) == (ssize_t)sizeof v)
            sum += v[1];
    }
    return sum;
}

/* Reports what the counters say ring c lost beyond what was reported. A
 * ring's LOST record only comes with the first record that fits again,
 * maybe long after the loss, and another ring's records must not be
 * paired across the loss meanwhile. */
static void check_losses(struct perf_source *s, unsigned c, uint64_t now)
{
    uint64_t counted = counted_losses(s, c);
    if (counted <= s->lost_reported[c])
        return;
    uint64_t delta = counted - s->lost_reported[c];
    s->lost_reported[c] += delta;
    s->lost_credit[c] += delta;
    struct perf_item it = {.kind = PERF_ITEM_LOST, .time = now, .cpu = (uint32_t)s->cpus[c],
                           .lost = delta, .lost_from = s->ring_last_time[c],
                           .by_counter = true};
    perf_pair_push(s->pair, &it);
}

/* A ring with less room than one more record may have lost some. */
static bool ring_was_full(const struct perf_source *s, unsigned c)
{
    uint64_t largest = s->opt.stacks ? s->opt.stack_bytes + 1024 : 512;
    return perf_ring_pending(&s->rings[c]) + largest > s->rings[c].data_size;
}

static int read_rings(struct perf_source *s, char *why, size_t why_size)
{
    for (unsigned c = 0; c < s->ncpus; c++) {
        if (!s->maps[c])
            continue;
        bool full = ring_was_full(s, c);
        uint64_t now = now_ns();
        struct drain_ctx d = {s, c};
        if (perf_ring_drain(&s->rings[c], on_record, &d) < 0) {
            snprintf(why, why_size, "the perf ring buffer of CPU %d holds a record that "
                                    "does not parse", s->cpus[c]);
            return -1;
        }
        if (full)
            check_losses(s, c, now);
    }
    return 0;
}

int perf_source_drain(struct perf_source *s, char *why, size_t why_size)
{
    /* Taken before the rings are read: a record stamped more than the
     * order window before it is in what we read (records are visible
     * microseconds after their time stamp). */
    uint64_t now = now_ns();
    if (read_rings(s, why, why_size) < 0)
        return -1;
    if (now > s->opt.order_window_ns)
        perf_pair_release(s->pair, now - s->opt.order_window_ns);
    return 0;
}

void perf_source_finish(struct perf_source *s)
{
    char why[256];
    if (read_rings(s, why, sizeof why) < 0)
        s->stats.bad_records++;
    /* A ring that stayed full until the end carries no LOST record: the
     * events' own counters (PERF_FORMAT_LOST, inherited children's losses
     * included) are the only trace of it. */
    for (unsigned c = 0; c < s->ncpus; c++)
        if (s->maps[c])
            check_losses(s, c, now_ns());
    perf_pair_release(s->pair, UINT64_MAX);
}

void perf_source_free(struct perf_source *s)
{
    if (!s)
        return;
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
    free(s);
}

/* ---- probe ------------------------------------------------------------------------------ */

int perf_source_probe(pid_t pid, char *why, size_t why_size)
{
    struct perf_source_options o = {0};
    struct perf_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    s->opt = o;
    s->map_len = (size_t)(DEFAULT_RING_PAGES + 1) * (size_t)sysconf(_SC_PAGESIZE);
    bool private_mount;
    int rc = load_tracepoints(s, &private_mount, why, why_size);
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
             * descriptors than this process can have: say so now, while
             * --source auto can still take ptrace instead. */
            if (pid != getpid() && read_cpus(s) == 0)
                rc = check_fd_limit(s, pid, why, why_size);
        }
    }
    free(s);
    return rc;
}
