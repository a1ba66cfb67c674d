/*
 * perf_bpf: loading the BPF reader's programs (perf_bpf_prog.c) and maps,
 * attaching them, following processes, and reading their ring and the
 * exec watch. See include/perf_bpf.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "monotonic.h"
#include "perf_bpf.h"
#include "perf_bpf_prog.h"
#include "perf_cpu_samples.h"
#include "perf_ring.h"
#include "perf_stack_watch.h"
#include "procfs.h"
#include "tracefs.h"

#define FOLLOWED_MAX 16384       /* processes followed at once, unless options say */
#define PROG_LICENSE "unspecified" /* the project's; no GPL-only helper is called */
#define X86_NR_EXECVE 59
#define X86_NR_EXECVEAT 322
#define CLONE_THREAD_FLAG 0x10000

/* The exec watch: a perf event per CPU on sched:sched_process_exec
 * sampling the user registers' ABI (the new image's). */
#define EXEC_RING_PAGES 8
#define EXEC_SAMPLE_TYPE (PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_REGS_USER)

struct perf_bpf {
    struct perf_bpf_options opt;
    int followed_fd, ring_fd, drops_fd;
    int prog_fds[PERF_BPF_PLANS_MAX];
    int event_fds[PERF_BPF_PLANS_MAX];
    void *consumer;      /* the consumer position page (ours to write) */
    void *producer;      /* the producer page, then the data twice */
    size_t page;
    pid_t *ending;            /* leaders exited, their process maybe not (watch_end) */
    size_t nending, capending;
    struct perf_cpu_samples *execs;
    bool exec_loss_said;
    /* Every followed exec the exec program wrote a record of is sampled by
     * the exec watch right after it, unless another BPF program on that
     * tracepoint answers 0 (the kernel then drops the samples of every
     * perf event there): the counts tell, one read later (a sample may
     * come after its record was read). */
    uint64_t exec_records, exec_samples, exec_records_before;
    bool exec_samples_missing_said;
    struct perf_stack_watch *stacks; /* -k: the stacked entries' samples */
    unsigned stack_fds;              /* the stack watch's descriptors (CPUs x entries) */
    int *poll_fds;                   /* the ring's, then the stack watch's */
    size_t npoll;
    struct perf_bpf_drops drops; /* the programs' drop count, as last read */
    struct perf_bpf_stats stats;
};

static long sys_bpf(int cmd, union bpf_attr *attr)
{
    return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

/* ---- loading ------------------------------------------------------------------------ */

static int create_map(enum bpf_map_type type, unsigned key, unsigned value, unsigned entries,
                      const char *name)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = type;
    a.key_size = key;
    a.value_size = value;
    a.max_entries = entries;
    snprintf(a.map_name, sizeof a.map_name, "%s", name);
    return (int)sys_bpf(BPF_MAP_CREATE, &a);
}

static int load_prog(const struct perf_bpf_insns *p, const char *name, char *why,
                     size_t why_size)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_TRACEPOINT;
    a.insns = (uint64_t)(uintptr_t)p->insn;
    a.insn_cnt = p->n;
    a.license = (uint64_t)(uintptr_t)PROG_LICENSE;
    snprintf(a.prog_name, sizeof a.prog_name, "%s", name);
    int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
    if (fd >= 0 || errno != EACCES || !why)
        return fd;
    /* The verifier refused it: its last line says why. */
    static char log[16384];
    log[0] = '\0';
    a.log_level = 1;
    a.log_buf = (uint64_t)(uintptr_t)log;
    a.log_size = sizeof log;
    fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
    if (fd >= 0)
        return fd;
    size_t len = strlen(log);
    while (len && log[len - 1] == '\n')
        log[--len] = '\0';
    const char *last = strrchr(log, '\n');
    snprintf(why, why_size, "the kernel's verifier refused program %s: %s", name,
             last ? last + 1 : log);
    errno = EACCES;
    return -1;
}

/* The event that holds a program on tracepoint tp_id (hold_prog). */
static int open_holder(uint32_t tp_id, int cpu)
{
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.type = PERF_TYPE_TRACEPOINT;
    attr.size = sizeof attr;
    attr.config = tp_id;
    /* The program runs wherever the tracepoint fires; the event itself,
     * on one CPU, only holds it there: a counting event (sample_period 0)
     * writes no sample. */
    return (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static int hold_prog(int fd, int prog_fd)
{
    if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog_fd) < 0 || ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) < 0)
        return -1;
    return 0;
}

static const char *denied(int err)
{
    if (err == EPERM || err == EACCES)
        return "not allowed (root, or CAP_BPF with CAP_PERFMON, is needed)";
    if (err == ENOSYS)
        return "this kernel has no bpf()";
    return strerror(err);
}

/* BPF sees the initial pid namespace's ids; ours must be that one. */
static bool in_initial_pid_namespace(void)
{
    char link[64];
    ssize_t n = readlink("/proc/self/ns/pid", link, sizeof link - 1);
    if (n <= 0)
        return false;
    link[n] = '\0';
    return strcmp(link, "pid:[4026531836]") == 0; /* PROC_PID_INIT_INO */
}

static uint64_t round_ring(uint64_t bytes)
{
    uint64_t r = (uint64_t)sysconf(_SC_PAGESIZE);
    while (r < bytes && r < (1ULL << 30))
        r <<= 1;
    return r;
}

static int map_ring(struct perf_bpf *b)
{
    b->page = (size_t)sysconf(_SC_PAGESIZE);
    b->consumer = mmap(NULL, b->page, PROT_READ | PROT_WRITE, MAP_SHARED, b->ring_fd, 0);
    if (b->consumer == MAP_FAILED) {
        b->consumer = NULL;
        return -1;
    }
    b->producer = mmap(NULL, b->page + 2 * b->stats.ring_bytes, PROT_READ, MAP_SHARED,
                       b->ring_fd, (off_t)b->page);
    if (b->producer == MAP_FAILED) {
        b->producer = NULL;
        return -1;
    }
    return 0;
}

static int open_exec_watch(struct perf_bpf *b, uint32_t tp_id, char *why, size_t why_size)
{
    struct perf_cpu_samples_options o = {
        .what = "execs", .cpus = b->opt.cpus, .ncpus = b->opt.probe_only ? 1 : b->opt.ncpus,
        .tp_ids = &tp_id, .ntps = 1, .sample_type = EXEC_SAMPLE_TYPE,
        .regs_mask = 1ULL << 8, /* PERF_REG_X86_IP: one register is enough for the ABI */
        .ring_pages = EXEC_RING_PAGES};
    return (b->execs = perf_cpu_samples_open(&o, why, why_size)) ? 0 : -1;
}

/* The stack watch on the stacked entries' tracepoints (those of this
 * kernel), opened before the programs that gate it. */
static int open_stack_watch(struct perf_bpf *b, const struct tp_format *fmts, char *why,
                            size_t why_size)
{
    uint32_t ids[PERF_BPF_PLANS_MAX];
    unsigned n = 0;
    for (size_t i = 0; i < PERF_BPF_NPLANS; i++)
        if (PERF_BPF_PLANS[i].stacked && fmts[i].id)
            ids[n++] = fmts[i].id;
    b->stack_fds = n * b->opt.ncpus;
    bool probe = b->opt.probe_only; /* sys_enter_mmap (plans[0]) on one CPU */
    struct perf_stack_watch_options o = {.cpus = b->opt.cpus, .ncpus = probe ? 1 : b->opt.ncpus,
                                         .tp_ids = ids, .ntps = probe ? 1 : n,
                                         .stack_bytes = b->opt.stack_bytes,
                                         .ring_pages = b->opt.stack_ring_pages};
    if (!(b->stacks = perf_stack_watch_open(&o, why, why_size)))
        return -1;
    b->stats.stacks = true;
    return 0;
}

/* The id (and name) of the program prog_fd; 0 when unknown. */
static uint32_t prog_id(int prog_fd, char name[BPF_OBJ_NAME_LEN])
{
    struct bpf_prog_info info;
    memset(&info, 0, sizeof info);
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.info.bpf_fd = (uint32_t)prog_fd;
    a.info.info_len = sizeof info;
    a.info.info = (uint64_t)(uintptr_t)&info;
    if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) < 0)
        return 0;
    if (name)
        memcpy(name, info.name, BPF_OBJ_NAME_LEN);
    return info.id;
}

unsigned perf_bpf_programs_on(int event_fd, char *names, size_t size)
{
    enum { MAX_IDS = 64 };
    struct {
        struct perf_event_query_bpf q;
        uint32_t ids[MAX_IDS];
    } query;
    memset(&query, 0, sizeof query);
    query.q.ids_len = MAX_IDS;
    if (size)
        names[0] = '\0';
    if (ioctl(event_fd, PERF_EVENT_IOC_QUERY_BPF, &query.q) < 0)
        return 0;
    unsigned others = 0;
    size_t used = 0;
    for (uint32_t i = 0; i < query.q.prog_cnt && i < MAX_IDS; i++) {
        others++;
        char name[BPF_OBJ_NAME_LEN] = "?";
        union bpf_attr a;
        memset(&a, 0, sizeof a);
        a.prog_id = query.ids[i];
        int fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
        if (fd >= 0) {
            if (!prog_id(fd, name) || !name[0])
                snprintf(name, sizeof name, "?");
            name[BPF_OBJ_NAME_LEN - 1] = '\0';
            close(fd);
        }
        if (used < size) {
            int n = snprintf(names + used, size - used, "%s%s", others > 1 ? ", " : "", name);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    return others + (query.q.prog_cnt > MAX_IDS ? query.q.prog_cnt - MAX_IDS : 0);
}

/* With stacks, before our program is attached to a stacked entry's
 * tracepoint (holder: an event on it): whether another program sits
 * there (see perf_bpf.h); -1 with the reason then. */
static int stacked_entry_alone(int holder, const char *path, char *why, size_t why_size)
{
    char names[128];
    unsigned n = perf_bpf_programs_on(holder, names, sizeof names);
    if (!n)
        return 0;
    snprintf(why, why_size, "%u other BPF program%s (%s) on %s: gated stack samples could "
                            "drop each other's (a second mmapwatch -k does)",
             n, n == 1 ? "" : "s", names, path);
    errno = EBUSY;
    return -1;
}

static int set_poll_fds(struct perf_bpf *b)
{
    size_t nstack = 0;
    const int *stack_fds = b->stacks ? perf_stack_watch_fds(b->stacks, &nstack) : NULL;
    if (!(b->poll_fds = malloc((1 + nstack) * sizeof *b->poll_fds)))
        return -1;
    b->poll_fds[0] = b->ring_fd;
    for (size_t i = 0; i < nstack; i++)
        b->poll_fds[1 + i] = stack_fds[i];
    b->npoll = 1 + nstack;
    return 0;
}

struct perf_bpf *perf_bpf_open(const struct perf_bpf_options *options, char *why,
                               size_t why_size)
{
    if (!in_initial_pid_namespace()) {
        snprintf(why, why_size, "mmapwatch runs in a pid namespace of its own, and BPF "
                                "programs see the host's process ids");
        return NULL;
    }
    const char *names[PERF_BPF_PLANS_MAX];
    static struct tp_format fmts[PERF_BPF_PLANS_MAX];
    for (size_t i = 0; i < PERF_BPF_NPLANS; i++)
        names[i] = PERF_BPF_PLANS[i].path;
    bool private_mount;
    if (tracefs_load(names, PERF_BPF_NPLANS, fmts, &private_mount, why, why_size) < 0)
        return NULL;
    struct perf_bpf *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    b->opt = *options;
    if (!b->opt.followed_max)
        b->opt.followed_max = FOLLOWED_MAX;
    b->drops.read_at = monotonic_ns(); /* nothing can be dropped before the programs exist */
    b->stats.tracefs_private = private_mount;
    b->stats.ring_bytes = round_ring(options->ring_bytes);
    for (size_t i = 0; i < PERF_BPF_NPLANS; i++)
        b->prog_fds[i] = b->event_fds[i] = -1;
    b->followed_fd = create_map(BPF_MAP_TYPE_HASH, 4, 4, b->opt.followed_max, "mmapwatch_procs");
    b->ring_fd = b->followed_fd < 0 ? -1
                                    : create_map(BPF_MAP_TYPE_RINGBUF, 0, 0,
                                                 (unsigned)b->stats.ring_bytes, "mmapwatch_ring");
    b->drops_fd = b->ring_fd < 0 ? -1 : create_map(BPF_MAP_TYPE_ARRAY, 4, 8, PERF_BPF_DROP_ENTRIES,
                                                            "mmapwatch_lost");
    if (b->drops_fd < 0) {
        snprintf(why, why_size, "cannot create BPF maps: %s", denied(errno));
        goto fail;
    }
    if (map_ring(b) < 0) {
        snprintf(why, why_size, "cannot map the BPF ring: %s", strerror(errno));
        goto fail;
    }
    uint32_t exec_id = 0;
    for (size_t i = 0; i < PERF_BPF_NPLANS; i++)
        if (PERF_BPF_PLANS[i].kind == PERF_BPF_EXEC)
            exec_id = fmts[i].id;
    if (open_exec_watch(b, exec_id, why, why_size) < 0) {
        snprintf(why, why_size, "cannot sample the execs of this machine (to tell 32-bit "
                                "programs): %s", denied(errno));
        goto fail;
    }
    if (b->opt.stacks && open_stack_watch(b, fmts, why, why_size) < 0)
        goto fail;
    if (set_poll_fds(b) < 0) {
        snprintf(why, why_size, "out of memory");
        goto fail;
    }
    int cpu = b->opt.cpus[0]; /* the holding events' CPU: any online one */
    struct perf_bpf_refs refs = {.followed_fd = b->followed_fd, .ring_fd = b->ring_fd,
                                 .drops_fd = b->drops_fd, .ring_bytes = b->stats.ring_bytes,
                                 .min_size = b->opt.min_size, .stack_gate = b->opt.stacks};
    static struct perf_bpf_insns prog;
    for (size_t i = 0; i < PERF_BPF_NPLANS; i++) {
        if (fmts[i].id == 0)
            continue; /* not on this kernel (pkey_mprotect on old ones) */
        if (perf_bpf_assemble(&PERF_BPF_PLANS[i], &fmts[i], &refs, &prog) < 0) {
            snprintf(why, why_size, "tracepoint '%s' has not the fields this version reads",
                     PERF_BPF_PLANS[i].path);
            goto fail;
        }
        /* "mmapwatch_NN": whose programs these are, in bpftool's list */
        char name[16] = "mmapwatch_";
        name[10] = (char)('0' + i / 10 % 10);
        name[11] = (char)('0' + i % 10);
        name[12] = '\0';
        if ((b->prog_fds[i] = load_prog(&prog, name, why, why_size)) < 0) {
            if (errno != EACCES || !why[0])
                snprintf(why, why_size, "cannot load a BPF program: %s", denied(errno));
            goto fail;
        }
        b->stats.tracepoints++;
        if (b->opt.probe_only && i > 0)
            continue; /* loaded: the verifier took it; attaching is checked once */
        if ((b->event_fds[i] = open_holder(fmts[i].id, cpu)) < 0 ||
            (b->opt.stacks && PERF_BPF_PLANS[i].stacked &&
             stacked_entry_alone(b->event_fds[i], PERF_BPF_PLANS[i].path, why, why_size) < 0) ||
            hold_prog(b->event_fds[i], b->prog_fds[i]) < 0) {
            if (errno != EBUSY)
                snprintf(why, why_size, "cannot attach a BPF program to '%s': %s",
                         PERF_BPF_PLANS[i].path, denied(errno));
            goto fail;
        }
    }
    if (fmts[0].id == 0) {
        snprintf(why, why_size, "this kernel has no syscall tracepoints (CONFIG_FTRACE_SYSCALLS)");
        goto fail;
    }
    if (b->stacks && perf_stack_watch_enable(b->stacks, why, why_size) < 0)
        goto fail;
    b->stats.fds = 3 + 2 * b->stats.tracepoints + b->opt.ncpus + (b->stacks ? b->stack_fds : 0);
    return b;
fail:
    perf_bpf_close(b);
    return NULL;
}

int perf_bpf_probe(const int *cpus, unsigned ncpus, bool stacks, unsigned *fds, char *why,
                   size_t why_size)
{
    struct perf_bpf_options o = {.ring_bytes = 0, /* the smallest */
                                 .cpus = cpus, .ncpus = ncpus, .stacks = stacks,
                                 .stack_bytes = 4096, .stack_ring_pages = 1, .probe_only = true};
    struct perf_bpf *b = perf_bpf_open(&o, why, why_size);
    if (!b)
        return -1;
    *fds = b->stats.fds;
    perf_bpf_close(b);
    return 0;
}

int perf_bpf_follow(struct perf_bpf *b, pid_t tgid, char *why, size_t why_size)
{
    uint32_t key = (uint32_t)tgid, value = 1;
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)b->followed_fd;
    a.key = (uint64_t)(uintptr_t)&key;
    a.value = (uint64_t)(uintptr_t)&value;
    a.flags = BPF_ANY;
    if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a) < 0) {
        snprintf(why, why_size, "cannot add process %d to the BPF map of followed processes: %s",
                 (int)tgid, errno == E2BIG || errno == ENOMEM ? "it is full" : strerror(errno));
        return -1;
    }
    return 0;
}

static void forget(struct perf_bpf *b, pid_t tgid)
{
    uint32_t key = (uint32_t)tgid;
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)b->followed_fd;
    a.key = (uint64_t)(uintptr_t)&key;
    sys_bpf(BPF_MAP_DELETE_ELEM, &a);
}

const int *perf_bpf_poll_fds(const struct perf_bpf *b, size_t *n)
{
    *n = b->npoll;
    return b->poll_fds;
}

/* ---- reading ------------------------------------------------------------------------ */

/* Kernels without sched_process_exit's group_dead: a process whose leader
 * has exited leaves the map once it is gone or a zombie (its other threads
 * may run on after the leader). */
static void watch_end(struct perf_bpf *b, pid_t tgid)
{
    if (b->nending == b->capending) {
        size_t cap = b->capending ? 2 * b->capending : 16;
        pid_t *more = realloc(b->ending, cap * sizeof *more);
        if (!more)
            return; /* stays in the map: only costs records of a pid reused later */
        b->ending = more;
        b->capending = cap;
    }
    b->ending[b->nending++] = tgid;
}

/* Gone, or a zombie: none of its threads runs any more. */
static bool ended(pid_t pid)
{
    char state = procfs_state(pid);
    return state == 0 || state == 'Z' || state == 'X';
}

static void forget_ended(struct perf_bpf *b)
{
    for (size_t i = 0; i < b->nending;) {
        if (ended(b->ending[i])) {
            forget(b, b->ending[i]);
            b->ending[i] = b->ending[--b->nending];
        } else {
            i++;
        }
    }
}

static void name_of(const struct perf_bpf_rec *r, char out[PERF_COMM_MAX])
{
    memcpy(out, &r->word[1], PERF_COMM_MAX);
    out[PERF_COMM_MAX - 1] = '\0';
}

static void decode(struct perf_bpf *b, const struct perf_bpf_rec *r, perf_bpf_push_fn push,
                   void *ctx)
{
    struct perf_item it = {.time = r->time, .pid = (pid_t)(r->pid_tgid >> 32),
                           .tid = (pid_t)(uint32_t)r->pid_tgid, .marked = true,
                           .drop_mark = r->drop_mark};
    switch (r->kind & ~PERF_BPF_REC_STACKED) {
    case PERF_BPF_ENTER:
        it.kind = PERF_ITEM_ENTER;
        it.wants_stack = (r->kind & PERF_BPF_REC_STACKED) != 0;
        it.nr = r->nr;
        it.tp = (uint32_t)r->nr;
        it.is_exec_call = r->nr == X86_NR_EXECVE || r->nr == X86_NR_EXECVEAT;
        memcpy(it.args, r->word, sizeof it.args);
        break;
    case PERF_BPF_EXIT:
        it.kind = PERF_ITEM_EXIT;
        it.nr = r->nr;
        it.tp = (uint32_t)r->nr;
        it.ret = (int64_t)r->word[0];
        break;
    case PERF_BPF_NEWTASK: {
        bool thread = (r->word[0] & CLONE_THREAD_FLAG) != 0;
        struct perf_item fork = {.kind = PERF_ITEM_FORK, .time = r->time,
                                 .pid = thread ? it.pid : r->nr, .tid = r->nr,
                                 .ppid = it.pid, .ptid = it.tid};
        push(&fork, ctx);
        it.kind = PERF_ITEM_NEWTASK;
        it.time = r->time + 1; /* after its FORK, before anything the child does */
        it.child = r->nr;
        it.clone_flags = r->word[0];
        if (!thread && r->word[3] != 0) {
            b->stats.unfollowed++;
            log_warn("process %d, created by followed process %d, is not followed: the BPF "
                     "map of followed processes is full (%d); its maps are not reported",
                     (int)r->nr, (int)it.pid, b->opt.followed_max);
        }
        break;
    }
    case PERF_BPF_TASK_EXIT:
        it.kind = PERF_ITEM_TASK_EXIT;
        if (r->nr == 1)
            forget(b, it.pid);
        else if (r->nr < 0 && it.tid == it.pid)
            watch_end(b, it.pid); /* no group_dead here: asked of /proc instead */
        break;
    case PERF_BPF_EXEC:
        b->exec_records++;
        it.kind = PERF_ITEM_COMM;
        it.exec = true;
        name_of(r, it.comm);
        break;
    case PERF_BPF_RENAME:
        it.kind = PERF_ITEM_COMM;
        it.tid = r->nr;
        name_of(r, it.comm);
        break;
    default:
        b->stats.bad_records++;
        return;
    }
    push(&it, ctx);
}

bool perf_bpf_runs_32bit(pid_t pid)
{
    char path[64];
    unsigned char ident[5];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, ident, sizeof ident);
    close(fd);
    return n == (ssize_t)sizeof ident && memcmp(ident, "\177ELF", 4) == 0 && ident[4] == 1;
}

/* Exec samples that never came for records read before the last read. */
static void check_exec_samples(struct perf_bpf *b)
{
    if (b->exec_samples + b->stats.execs_lost < b->exec_records_before &&
        !b->exec_samples_missing_said) {
        log_warn("the kernel took no sample of some execs of the followed processes: "
                 "another BPF program on sched:sched_process_exec turns them down; a "
                 "32-bit program exec'd then may go unsaid");
        b->exec_samples_missing_said = true;
    }
    b->exec_records_before = b->exec_records;
}

static uint64_t programs_dropped(const struct perf_bpf *b)
{
    uint32_t key = 0;
    uint64_t value = 0;
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)b->drops_fd;
    a.key = (uint64_t)(uintptr_t)&key;
    a.value = (uint64_t)(uintptr_t)&value;
    if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) < 0)
        return b->drops.seen;
    return value;
}

static bool followed(const struct perf_bpf *b, pid_t tgid)
{
    uint32_t key = (uint32_t)tgid, value;
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)b->followed_fd;
    a.key = (uint64_t)(uintptr_t)&key;
    a.value = (uint64_t)(uintptr_t)&value;
    return sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) == 0;
}

struct exec_read {
    struct perf_bpf *b;
    perf_bpf_push_fn push;
    void *ctx;
};

/* An exec: a followed process's new image that runs in 32-bit mode is
 * said. */
static void on_exec_sample(const struct perf_rec *r, void *ctx)
{
    struct exec_read *x = ctx;
    if (r->kind == PERF_REC_LOST) {
        x->b->stats.execs_lost += r->lost;
        if (!x->b->exec_loss_said)
            log_warn("%" PRIu64 " execs of this machine were not sampled (the exec watch's "
                     "ring was full): a followed process that exec'd a 32-bit program then "
                     "may have gone unsaid (its calls are not seen)", r->lost);
        x->b->exec_loss_said = true;
        return;
    }
    /* Every exec of the machine: ours are those of followed processes (an
     * exec sample is read before anything its process does later, its end
     * included, which takes it out of the map). */
    if (r->kind != PERF_REC_SAMPLE || !followed(x->b, (pid_t)r->pid))
        return;
    x->b->exec_samples++;
    if (r->regs_abi != PERF_SAMPLE_REGS_ABI_32)
        return;
    struct perf_item said = {.kind = PERF_ITEM_ENTER, .time = r->time, .pid = (pid_t)r->pid,
                             .tid = (pid_t)r->tid, .nr = -1, .not_native = true};
    x->push(&said, x->ctx);
}

void perf_bpf_read(struct perf_bpf *b, perf_bpf_push_fn push, void *ctx)
{
    /* The stacks before the records: a sample read now had its entry's
     * record written before it, so this read finds that record too. */
    if (b->stacks) {
        perf_stack_watch_read(b->stacks, push, ctx);
        b->stats.stack_samples = perf_stack_watch_stats(b->stacks)->samples;
        b->stats.stacks_lost = perf_stack_watch_stats(b->stacks)->lost;
    }
    /* Then the execs, before the records: a process's exec sample is
     * written before anything that process does later. */
    struct exec_read x = {b, push, ctx};
    if (b->execs)
        b->stats.bad_records += perf_cpu_samples_drain(b->execs, on_exec_sample, &x);
    uint64_t *consumer = b->consumer;
    const uint64_t *producer = b->producer;
    const unsigned char *data = (const unsigned char *)b->producer + b->page;
    uint64_t mask = b->stats.ring_bytes - 1;
    uint64_t cons = __atomic_load_n(consumer, __ATOMIC_RELAXED);
    uint64_t prod = __atomic_load_n(producer, __ATOMIC_ACQUIRE);
    while (cons < prod) {
        const uint32_t *hdr = (const uint32_t *)(data + (cons & mask));
        uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
        if (len & BPF_RINGBUF_BUSY_BIT)
            break; /* still being written: the next read takes it */
        uint32_t size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
        if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
            b->stats.records++;
            if (size == sizeof(struct perf_bpf_rec)) {
                struct perf_bpf_rec r;
                memcpy(&r, hdr + 2, sizeof r); /* the data is mapped twice: never split */
                decode(b, &r, push, ctx);
            } else {
                b->stats.bad_records++;
            }
        }
        cons += (size + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL;
        __atomic_store_n(consumer, cons, __ATOMIC_RELEASE);
        if (cons >= prod)
            prod = __atomic_load_n(producer, __ATOMIC_ACQUIRE);
    }
    check_exec_samples(b);
    if (b->nending)
        forget_ended(b);
    /* The count is read between two clock readings: a drop it misses
     * happened after the first, a drop it counts before the second. */
    uint64_t before = monotonic_ns();
    uint64_t count = programs_dropped(b);
    struct perf_item lost;
    if (perf_bpf_drops_item(&b->drops, count, before, monotonic_ns(), &lost)) {
        b->stats.dropped = b->drops.seen;
        push(&lost, ctx);
    }
}

bool perf_bpf_drops_item(struct perf_bpf_drops *d, uint64_t count, uint64_t before,
                         uint64_t after, struct perf_item *out)
{
    uint64_t window_from = d->read_at;
    d->read_at = before;
    if (count <= d->seen)
        return false;
    /* perf_pair handles a LOST right after its lost_from: before every
     * record written after the drop, so that the regions it makes
     * uncertain are those the loss may have touched. It voids nothing
     * itself (marked): the records' drop marks say which calls a drop split. */
    *out = (struct perf_item){.kind = PERF_ITEM_LOST, .time = after, .lost = count - d->seen,
                              .lost_from = window_from, .by_counter = true, .marked = true};
    d->seen = count;
    return true;
}

const struct perf_bpf_stats *perf_bpf_stats(const struct perf_bpf *b)
{
    return &b->stats;
}

static void *close_one(void *fd)
{
    close((int)(intptr_t)fd);
    return NULL;
}

/* Closes the descriptors of fds (-1: none), each from a thread of its own.
 * The last perf event of a tracepoint waits, in close, for an RCU grace
 * period (tens of ms here) before it returns: one after the other, the 19
 * tracepoints took 1.3 s at every detach; side by side the waits overlap.
 * A thread that cannot be started closes its descriptor from here. */
static void close_at_once(int *fds, size_t n)
{
    pthread_t threads[PERF_BPF_PLANS_MAX];
    bool started[PERF_BPF_PLANS_MAX] = {false};
    for (size_t i = 0; i < n && i < PERF_BPF_PLANS_MAX; i++) {
        if (fds[i] < 0)
            continue;
        started[i] = pthread_create(&threads[i], NULL, close_one, (void *)(intptr_t)fds[i]) == 0;
        if (!started[i])
            close(fds[i]);
        fds[i] = -1;
    }
    for (size_t i = 0; i < n && i < PERF_BPF_PLANS_MAX; i++)
        if (started[i])
            pthread_join(threads[i], NULL);
}

void perf_bpf_close(struct perf_bpf *b)
{
    if (!b)
        return;
    /* The stack watch before the programs that gate it (without them it
     * would sample every process's calls); then the events: nothing runs
     * the programs once they are closed. */
    perf_stack_watch_close(b->stacks);
    free(b->poll_fds);
    close_at_once(b->event_fds, PERF_BPF_NPLANS);
    for (size_t i = 0; i < PERF_BPF_NPLANS; i++)
        if (b->prog_fds[i] >= 0)
            close(b->prog_fds[i]);
    perf_cpu_samples_close(b->execs);
    free(b->ending);
    if (b->consumer)
        munmap(b->consumer, b->page);
    if (b->producer)
        munmap(b->producer, b->page + 2 * b->stats.ring_bytes);
    if (b->followed_fd >= 0)
        close(b->followed_fd);
    if (b->ring_fd >= 0)
        close(b->ring_fd);
    if (b->drops_fd >= 0)
        close(b->drops_fd);
    free(b);
}
