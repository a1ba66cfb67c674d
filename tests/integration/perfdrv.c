/*
 * perfdrv: drives the perf source (perf_source.c) against a real process
 * for tests/integration/test_perf_source.py, outside the tracer.
 *
 *   perfdrv PID [--min-size N] [-k] [--per-call|--raw|--bpf] [--ring-pages N] [--stall-ms N]
 *           [--followed-max N]
 *   perfdrv --probe PID
 *
 * Attaches to every thread of PID and prints one JSON line per event on
 * stdout, in the kernel's time order: "attach" (with the fd count and the
 * attach time) once every thread is covered, then "enter" (a call's entry),
 * "map" (the call, paired with its exit), "unfinished", "comm", "exec", "spawn", "thread_exit", "lost", and
 * at the end "end" with the counters. Runs until PID has exited (then a
 * last drain, and the events' lost counters) or SIGINT/SIGTERM.
 * --per-call, --raw, --bpf: how the calls are read (enum perf_calls,
 *   perf_source.h); default: as mmapwatch chooses (BPF where it loads).
 * --stall-ms N: sleep N ms before every drain (a slow consumer, so that
 * tests can make the kernel lose records). --followed-max N: the BPF
 * reader's map follows N processes at most (a test fills it). A pid written as a line on
 * stdin is attached too (another "attach" line; the counts are totals).
 * --probe: one "probe" line
 * saying whether the source can follow PID here and why not.
 *
 *   perfdrv --answer-zero GROUP/NAME
 *
 * Attaches a BPF program that answers 0 to tracepoint GROUP/NAME (as
 * another tool's may: the kernel then takes no perf sample there), prints
 * "ready", and keeps it there until stdin ends.
 * Exit 0; 1 when the source cannot be used (its one-line reason on stderr
 * as "perfdrv: ..."); 2 on usage errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>

#include "json.h"
#include "perf_source.h"
#include "tracefs.h"

static int usage(void)
{
    fprintf(stderr, "usage: perfdrv PID [--min-size N] [-k] [--per-call|--raw|--bpf] [--ring-pages N] [--stall-ms N]\n"
                    "               [--followed-max N]\n"
                    "       perfdrv --probe PID\n"
                    "       perfdrv --answer-zero GROUP/NAME\n");
    return 2;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || *s == '-')
        return -1;
    *out = v;
    return 0;
}

static const char *call_name(int nr)
{
    switch (nr) {
    case SYS_mmap: return "mmap";
    case SYS_munmap: return "munmap";
    case SYS_mremap: return "mremap";
    case SYS_mprotect: return "mprotect";
    case SYS_pkey_mprotect: return "pkey_mprotect";
    case SYS_brk: return "brk";
    default: return "?";
    }
}

static void print_line(struct json_line *j)
{
    const char *line = json_end(j);
    printf("%s\n", line ? line : "{\"event\":\"error\",\"what\":\"line too long\"}");
    fflush(stdout);
}

static void emit(const struct perf_ev *ev, void *ctx)
{
    (void)ctx;
    struct json_line j;
    json_begin(&j);
    switch (ev->kind) {
    case PERF_EV_CALL_ENTER:
    case PERF_EV_MAP_CALL:
    case PERF_EV_MAP_UNFINISHED: {
        json_add_str(&j, "event", ev->kind == PERF_EV_MAP_CALL     ? "map"
                                  : ev->kind == PERF_EV_CALL_ENTER ? "enter"
                                                                   : "unfinished");
        json_add_str(&j, "call", call_name(ev->nr));
        json_add_int(&j, "nr", ev->nr);
        char args[6 * 24 + 8];
        snprintf(args, sizeof args, "[%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                                    ",%" PRIu64 "]",
                 ev->args[0], ev->args[1], ev->args[2], ev->args[3], ev->args[4], ev->args[5]);
        json_add_raw(&j, "args", args);
        if (ev->kind == PERF_EV_MAP_CALL)
            json_add_int(&j, "ret", ev->ret);
        json_add_uint(&j, "enter_time", ev->enter_time);
        if (ev->stack) {
            json_add_uint(&j, "stack_bytes", ev->stack->size);
            json_add_uint(&j, "nregs", ev->stack->nregs);
            if (ev->stack->nregs == PERF_STACK_NREGS) {
                json_add_hex(&j, "sp", ev->stack->regs[PERF_STACK_SP]);
                json_add_hex(&j, "ip", ev->stack->regs[PERF_STACK_IP]);
            }
        }
        break;
    }
    case PERF_EV_COMM:
    case PERF_EV_EXEC:
        json_add_str(&j, "event", ev->kind == PERF_EV_COMM ? "comm" : "exec");
        json_add_str(&j, "comm", ev->comm);
        if (ev->kind == PERF_EV_EXEC)
            json_add_int(&j, "former_tid", ev->former_tid);
        break;
    case PERF_EV_SPAWN:
        json_add_str(&j, "event", "spawn");
        json_add_int(&j, "parent_pid", ev->parent_pid);
        json_add_int(&j, "parent_tid", ev->parent_tid);
        break;
    case PERF_EV_THREAD_EXIT:
        json_add_str(&j, "event", "thread_exit");
        break;
    case PERF_EV_NOT_NATIVE:
        json_add_str(&j, "event", "not_native");
        json_add_int(&j, "nr", ev->nr);
        json_add_bool(&j, "unsure", ev->abi_unsure);
        break;
    case PERF_EV_NEWTASK:
        return; /* the spawn says enough here */
    case PERF_EV_LOST:
        json_add_str(&j, "event", "lost");
        json_add_uint(&j, "count", ev->lost);
        json_add_uint(&j, "from", ev->lost_from);
        json_add_uint(&j, "to", ev->lost_to);
        json_add_bool(&j, "by_counter", ev->lost_by_counter);
        break;
    }
    json_add_int(&j, "pid", ev->pid);
    json_add_int(&j, "tid", ev->tid);
    json_add_uint(&j, "time", ev->time);
    if (ev->cpu != UINT32_MAX)
        json_add_uint(&j, "cpu", ev->cpu);
    print_line(&j);
}

static void print_attach(pid_t pid, const struct perf_source_stats *st)
{
    struct json_line j;
    json_begin(&j);
    json_add_str(&j, "event", "attach");
    json_add_int(&j, "pid", pid);
    json_add_uint(&j, "threads", st->threads);
    json_add_uint(&j, "cpus", st->cpus);
    json_add_uint(&j, "tracepoints", st->tracepoints);
    json_add_uint(&j, "fds", st->event_fds);
    json_add_uint(&j, "passes", st->attach_passes);
    json_add_uint(&j, "attach_ns", st->attach_ns);
    json_add_uint(&j, "ring_bytes", st->ring_bytes);
    json_add_bool(&j, "tracefs_private", st->tracefs_private);
    print_line(&j);
}

/* A pid line on stdin: attach it too. false at EOF or on error. */
static bool attach_from_stdin(struct perf_source *s)
{
    char line[32];
    ssize_t n = read(0, line, sizeof line - 1);
    if (n <= 0)
        return false;
    line[n] = '\0';
    line[strcspn(line, "\n")] = '\0';
    uint64_t pid;
    char why[512] = "";
    if (parse_u64(line, &pid) < 0 || pid == 0 || pid > INT32_MAX) {
        fprintf(stderr, "perfdrv: not a pid on stdin: '%s'\n", line);
        return false;
    }
    if (perf_source_attach(s, (pid_t)pid, why, sizeof why) < 0) {
        fprintf(stderr, "perfdrv: %s\n", why);
        return false;
    }
    print_attach((pid_t)pid, perf_source_stats(s));
    return true;
}

static int probe(const char *arg)
{
    uint64_t pid;
    if (parse_u64(arg, &pid) < 0 || pid == 0 || pid > INT32_MAX)
        return usage();
    char why[512] = "";
    /* perf events at all (the raw layout): BPF, where refused, falls back to it */
    struct perf_source_options opt = {.calls = PERF_CALLS_RAW};
    int rc = perf_source_probe((pid_t)pid, &opt, why, sizeof why);
    struct json_line j;
    json_begin(&j);
    json_add_str(&j, "event", "probe");
    json_add_bool(&j, "ok", rc == 0);
    json_add_str(&j, "why", rc == 0 ? NULL : why);
    print_line(&j);
    return rc == 0 ? 0 : 1;
}

/* --answer-zero: r0 = 0; exit, on one event of the tracepoint (its
 * programs run wherever it fires). */
static int answer_zero(const char *tracepoint)
{
    struct tp_format fmt;
    bool private_mount;
    char why[256];
    if (tracefs_load(&tracepoint, 1, &fmt, &private_mount, why, sizeof why) < 0 || !fmt.id) {
        fprintf(stderr, "perfdrv: %s\n", fmt.id ? why : "no such tracepoint");
        return 1;
    }
    struct bpf_insn prog[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT},
    };
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_TRACEPOINT;
    a.insns = (uint64_t)(uintptr_t)prog;
    a.insn_cnt = 2;
    a.license = (uint64_t)(uintptr_t)"unspecified";
    int prog_fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
    struct perf_event_attr attr = {.type = PERF_TYPE_TRACEPOINT, .size = sizeof attr,
                                   .config = fmt.id};
    int fd = prog_fd < 0 ? -1
                         : (int)syscall(SYS_perf_event_open, &attr, -1, 0, -1,
                                        PERF_FLAG_FD_CLOEXEC);
    if (fd < 0 || ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog_fd) < 0 ||
        ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
        fprintf(stderr, "perfdrv: cannot attach a program to %s: %s\n", tracepoint,
                strerror(errno));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(STDIN_FILENO, &c, 1) > 0)
        ;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--probe") == 0)
        return probe(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--answer-zero") == 0)
        return answer_zero(argv[2]);
    if (argc < 2)
        return usage();
    uint64_t pid, ring_pages = 0, stall_ms = 0, followed_max = 0;
    struct perf_source_options opt = {0};
    if (parse_u64(argv[1], &pid) < 0 || pid == 0 || pid > INT32_MAX)
        return usage();
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--per-call") == 0) {
            opt.calls = PERF_CALLS_SYSCALLS;
        } else if (strcmp(argv[i], "--raw") == 0) {
            opt.calls = PERF_CALLS_RAW;
        } else if (strcmp(argv[i], "--bpf") == 0) {
            opt.calls = PERF_CALLS_BPF;
        } else if (strcmp(argv[i], "-k") == 0) {
            opt.stacks = true;
        } else if (i + 1 < argc && strcmp(argv[i], "--min-size") == 0) {
            if (parse_u64(argv[++i], &opt.min_size) < 0)
                return usage();
        } else if (i + 1 < argc && strcmp(argv[i], "--ring-pages") == 0) {
            if (parse_u64(argv[++i], &ring_pages) < 0 || ring_pages > 1u << 20)
                return usage();
        } else if (i + 1 < argc && strcmp(argv[i], "--followed-max") == 0) {
            if (parse_u64(argv[++i], &followed_max) < 0 || followed_max == 0 ||
                followed_max > 1u << 20)
                return usage();
        } else if (i + 1 < argc && strcmp(argv[i], "--stall-ms") == 0) {
            if (parse_u64(argv[++i], &stall_ms) < 0 || stall_ms > 60000)
                return usage();
        } else {
            return usage();
        }
    }
    opt.ring_pages = (unsigned)ring_pages;
    opt.bpf_followed_max = (unsigned)followed_max;

    /* SIGINT/SIGTERM end the run through a signalfd; the target's exit is
     * seen on its pidfd. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (sfd < 0 || pidfd < 0) {
        fprintf(stderr, "perfdrv: process %" PRIu64 ": %s\n", pid, strerror(errno));
        return 1;
    }

    char why[512] = "";
    struct perf_source *s = perf_source_new(&opt, emit, NULL, why, sizeof why);
    if (!s || perf_source_attach(s, (pid_t)pid, why, sizeof why) < 0) {
        fprintf(stderr, "perfdrv: %s\n", why);
        perf_source_free(s);
        return 1;
    }
    const struct perf_source_stats *st = perf_source_stats(s);
    print_attach((pid_t)pid, st);

    size_t nrings;
    const int *rings = perf_source_poll_fds(s, &nrings);
    struct pollfd *pfd = calloc(nrings + 3, sizeof *pfd);
    if (!pfd) {
        perf_source_free(s);
        return 1;
    }
    for (size_t i = 0; i < nrings; i++)
        pfd[i] = (struct pollfd){.fd = rings[i], .events = POLLIN};
    pfd[nrings] = (struct pollfd){.fd = sfd, .events = POLLIN};
    pfd[nrings + 1] = (struct pollfd){.fd = pidfd, .events = POLLIN};
    pfd[nrings + 2] = (struct pollfd){.fd = 0, .events = POLLIN};
    int rc = 0;
    for (;;) {
        int n = poll(pfd, nrings + 3, perf_source_drain_interval_ms(s));
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "perfdrv: poll: %s\n", strerror(errno));
            rc = 1;
            break;
        }
        if (stall_ms) {
            struct timespec ts = {(time_t)(stall_ms / 1000), (long)(stall_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (perf_source_drain(s, why, sizeof why) < 0) {
            fprintf(stderr, "perfdrv: %s\n", why);
            rc = 1;
            break;
        }
        if (pfd[nrings].revents || pfd[nrings + 1].revents)
            break;
        if (pfd[nrings + 2].revents && !attach_from_stdin(s))
            pfd[nrings + 2].fd = -1; /* EOF: stop reading stdin */
    }
    perf_source_finish(s);
    const struct perf_pair_stats *ps = perf_source_pair_stats(s);
    struct json_line j;
    json_begin(&j);
    json_add_str(&j, "event", "end");
    json_add_uint(&j, "records", st->records);
    json_add_uint(&j, "bad_records", st->bad_records);
    json_add_uint(&j, "duplicates", ps->duplicates);
    json_add_uint(&j, "unpaired_exits", ps->unpaired_exits);
    json_add_uint(&j, "voided", ps->voided);
    json_add_uint(&j, "left_out", st->left_out);
    json_add_uint(&j, "not_native", ps->not_native);
    json_add_uint(&j, "lost", ps->lost);
    json_add_uint(&j, "bpf_unfollowed", st->bpf_unfollowed);
    print_line(&j);
    perf_source_free(s);
    free(pfd);
    close(pidfd);
    close(sfd);
    return rc;
}
