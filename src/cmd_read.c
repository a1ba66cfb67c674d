/*
 * mmapwatch read: bytes of a running process's memory, raw or as the
 * printable strings in them (the story's "read the region, pipe it
 * through strings", in one safe step).
 *
 * By default the target keeps running: memread reads with
 * process_vm_readv and /proc/PID/mem, which need the ptrace permission but
 * no stop. --stop asks for a consistent snapshot: every thread is seized
 * and interrupted, the range is copied into our memory, every thread is
 * detached (re-injecting a signal it was about to receive), and only then
 * is anything written, so a slow reader of our output never keeps the
 * target stopped. While threads are held, the signals that would end us
 * are blocked, so we cannot die between seize and detach and leave a
 * thread stopped with its signal lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "log.h"
#include "maps.h"
#include "memread.h"
#include "monotonic.h"
#include "options.h"
#include "procfs.h"

/* How much is read per round when streaming (without --stop). */
#define STREAM_CHUNK (1u << 20)
#define STRINGS_DEFAULT_MIN 6
#define STRINGS_MAX_MIN 65536
/* A thread that does not reach its stop in this time (uninterruptible
 * sleep on a hung NFS server, say) is not worth holding every other
 * thread stopped for: give up and let them all go. */
#define STOP_DEADLINE_NS (2ULL * 1000000000ULL)

struct read_opts {
    pid_t pid;
    bool have_address;
    uint64_t address;
    const char *address_text;
    bool have_length;
    uint64_t length;
    bool have_region;
    uint64_t region;
    const char *output; /* NULL: stdout, refused on a terminal; "-": stdout anyway */
    bool strings;
    size_t strings_min;
    bool stop;
};

enum {
    OPT_STOP = 256,
};

static const struct option long_options[] = {
    {"pid", required_argument, NULL, 'p'},
    {"address", required_argument, NULL, 'a'},
    {"length", required_argument, NULL, 'n'},
    {"region", required_argument, NULL, 'r'},
    {"output", required_argument, NULL, 'o'},
    {"strings", optional_argument, NULL, 's'},
    {"stop", no_argument, NULL, OPT_STOP},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void print_help(void)
{
    fputs(
        "Usage: mmapwatch read -p PID --address ADDR -n LEN [-o FILE] [--strings[=MIN]] [--stop]\n"
        "       mmapwatch read -p PID --region ADDR [-o FILE] [--strings[=MIN]] [--stop]\n"
        "\n"
        "Reads memory of running process PID: LEN bytes at ADDR, or with --region the\n"
        "whole mapping that holds ADDR (see mmapwatch maps -p PID). Bytes go to\n"
        "standard output or FILE as they are, or with --strings as the printable\n"
        "text in them, one string a line, like strings(1). The target keeps running\n"
        "unless --stop is given; pages it cannot read itself (PROT_NONE) are read\n"
        "through /proc/PID/mem.\n"
        "\n"
        "OPTIONS\n"
        "  -p, --pid PID          the process to read (required)\n"
        "  -a, --address ADDR     where to start: hex as pmap or /proc/PID/maps print it\n"
        "                         (0x7f3a5c000000, 00007f3a5c000000, 7f3a5c000000) or\n"
        "                         decimal without leading zeros\n"
        "  -n, --length LEN       how many bytes, with an optional k, M, G suffix (powers\n"
        "                         of 1024): 4096, 64k, 16M\n"
        "  -r, --region ADDR      the whole mapping that holds ADDR, instead of -a and -n\n"
        "  -o, --output FILE      write to FILE, created with mode 0600 (memory holds\n"
        "                         secrets); a symbolic link is refused; \"-\" is standard\n"
        "                         output, even a terminal (default: standard output,\n"
        "                         refused if it is a terminal unless --strings)\n"
        "  -s, --strings[=MIN]    print the runs of at least MIN printable characters\n"
        "                         (ASCII and tab) instead of the bytes (default MIN: 6)\n"
        "      --stop             stop every thread of PID while its memory is copied, for\n"
        "                         a consistent snapshot; LEN bytes are buffered in memory\n"
        "                         and written after the target runs again. Fails if\n"
        "                         another tracer (strace, gdb) has the process\n"
        "  -h, --help             print this help and exit\n"
        "\n"
        "An address that cannot be read ends the read: with nothing read, the error\n"
        "names it; otherwise what was read is written and the error says how much.\n"
        "\n"
        "EXIT STATUS\n"
        "  0 everything read and written; 1 runtime failure (no such process,\n"
        "  permission denied, unreadable address, short read, raw bytes refused on a\n"
        "  terminal, already traced with --stop); 2 usage error.\n"
        "\n"
        "EXAMPLES\n"
        "  mmapwatch read -p 1234 --address 0x7fbebeafe000 -n 16M --strings\n"
        "      the text in 16 MiB of process 1234 from 0x7fbebeafe000\n"
        "  mmapwatch read -p 1234 --region 0x7fbebeafe000 -o arena.bin\n"
        "      the whole mapping holding that address into arena.bin (mode 0600)\n"
        "  mmapwatch read -p 1234 -a 0x7fbebeafe000 -n 4k -o - | xxd | head\n"
        "      a hex dump of its first 4 KiB\n"
        "  mmapwatch read -p 1234 --region 0x7fbebeafe000 --stop -o snap.bin\n"
        "      a consistent copy, taken with every thread of 1234 stopped\n",
        stdout);
}

/* 0 parsed, 2 usage error (reported), -1 --help printed. */
static int parse_args(int argc, char **argv, struct read_opts *o)
{
    memset(o, 0, sizeof *o);
    o->strings_min = STRINGS_DEFAULT_MIN;
    bool have_pid = false;
    const char *why;

    optind = 0; /* 0 also resets glibc's state from any earlier parse */
    opterr = 0;
    for (;;) {
        int idx = optind > 0 ? optind : 1;
        const char *word = idx < argc ? argv[idx] : "";
        int c = getopt_long(argc, argv, "+:p:a:n:r:o:s::h", long_options, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'p':
            if (!parse_pid(optarg, &o->pid)) {
                log_error("read: invalid PID '%s' for --pid: use a positive process id", optarg);
                return 2;
            }
            have_pid = true;
            break;
        case 'a':
            if (!maps_parse_address(optarg, &o->address, &why)) {
                log_error("read: invalid address '%s' for --address: %s", optarg, why);
                return 2;
            }
            o->have_address = true;
            o->address_text = optarg;
            break;
        case 'r':
            if (!maps_parse_address(optarg, &o->region, &why)) {
                log_error("read: invalid address '%s' for --region: %s", optarg, why);
                return 2;
            }
            o->have_region = true;
            break;
        case 'n':
            if (!parse_size(optarg, &o->length) || o->length == 0) {
                log_error("read: invalid length '%s' for -n: use a positive number of bytes "
                          "with an optional k, M, G suffix (powers of 1024)",
                          optarg);
                return 2;
            }
            o->have_length = true;
            break;
        case 'o':
            if (optarg[0] == '\0') {
                log_error("read: empty file name for --output: give a path, or '-' for "
                          "standard output");
                return 2;
            }
            o->output = optarg;
            break;
        case 's':
            o->strings = true;
            if (optarg) {
                char *end;
                errno = 0;
                long v = optarg[0] >= '0' && optarg[0] <= '9' ? strtol(optarg, &end, 10) : -1;
                if (v < 1 || v > STRINGS_MAX_MIN || errno || *end) {
                    log_error("read: invalid minimum '%s' for --strings: use a number from 1 "
                              "to %d",
                              optarg, STRINGS_MAX_MIN);
                    return 2;
                }
                o->strings_min = (size_t)v;
            }
            break;
        case OPT_STOP:
            o->stop = true;
            break;
        case 'h':
            print_help();
            fflush(stdout);
            return -1;
        default:
            cmd_option_error("read", c, word, long_options);
            return 2;
        }
    }
    if (!cmd_check_operands("read", argc, argv, have_pid))
        return 2;
    if (o->have_address && o->have_region) {
        log_error("read: use either --address ADDR -n LEN or --region ADDR, not both");
        return 2;
    }
    if (!o->have_address && !o->have_region) {
        log_error("read: nothing to read: give --address ADDR -n LEN, or --region ADDR");
        return 2;
    }
    if (o->have_address && !o->have_length) {
        log_error("read: --address needs -n LEN, the number of bytes to read");
        return 2;
    }
    if (o->have_region && o->have_length) {
        log_error("read: -n goes with --address; --region reads the whole mapping");
        return 2;
    }
    if (o->length > UINT64_MAX - o->address) {
        log_error("read: --address %s with -n %" PRIu64 " runs past the end of the address "
                  "space; give a smaller -n",
                  o->address_text, o->length);
        return 2;
    }
    return 0;
}

/* ------------------------------------------------------------------ output */

struct sink {
    int fd;
    const char *name;    /* for messages */
    bool strings;
    size_t min;
    char *run;           /* the current printable run while shorter than min */
    size_t run_len;      /* its length; == min once it is being written out */
    char buf[64 * 1024]; /* output buffer, so strings are not one write each */
    size_t len;
    int err;             /* first write error */
};

static void write_all(struct sink *s, const char *p, size_t n)
{
    while (n > 0 && !s->err) {
        ssize_t w = write(s->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            s->err = errno;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void sink_flush(struct sink *s)
{
    write_all(s, s->buf, s->len);
    s->len = 0;
}

static void sink_put(struct sink *s, const char *p, size_t n)
{
    if (s->len + n > sizeof s->buf) {
        sink_flush(s);
        if (n > sizeof s->buf) {
            write_all(s, p, n);
            return;
        }
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

/* strings(1)'s notion of text: printable ASCII and tab. */
static bool printable(unsigned char c) { return (c >= 0x20 && c <= 0x7e) || c == '\t'; }

/* A run that started in one chunk goes on in the next: the state lives in
 * the sink, so where the chunks are cut never splits or drops a string. */
static void sink_bytes(struct sink *s, const unsigned char *p, size_t n)
{
    if (!s->strings) {
        sink_put(s, (const char *)p, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (printable(p[i])) {
            if (s->run_len < s->min) {
                s->run[s->run_len++] = (char)p[i];
                if (s->run_len == s->min)
                    sink_put(s, s->run, s->min);
            } else {
                sink_put(s, (const char *)&p[i], 1);
            }
        } else {
            if (s->run_len == s->min)
                sink_put(s, "\n", 1);
            s->run_len = 0;
        }
    }
}

static void sink_end(struct sink *s)
{
    if (s->strings && s->run_len == s->min)
        sink_put(s, "\n", 1);
    s->run_len = 0;
    sink_flush(s);
}

/* -o FILE: created 0600 whatever the umask lets through, never through a
 * symbolic link (a planted link could send the target's secrets anywhere
 * we can write), and an existing regular file of ours loses any group or
 * other access before the first byte goes in. */
static int open_output(const struct read_opts *o, struct sink *s)
{
    if (!o->output || strcmp(o->output, "-") == 0) {
        s->fd = STDOUT_FILENO;
        s->name = "standard output";
        return 0;
    }
    s->name = o->output;
    s->fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        if (errno == ELOOP)
            log_error("read: refusing to write to '%s': it is a symbolic link", o->output);
        else
            log_error("read: cannot create '%s': %s", o->output, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077)) {
        if (fchmod(s->fd, st.st_mode & 0700) < 0) {
            log_error("read: '%s' is readable by others and its mode cannot be changed: %s",
                      o->output, strerror(errno));
            close(s->fd);
            s->fd = -1;
            return -1;
        }
    }
    return 0;
}

static int close_output(struct sink *s)
{
    if (s->fd < 0)
        return 0;
    bool is_stdout = s->fd == STDOUT_FILENO;
    sink_end(s);
    if (!is_stdout && close(s->fd) < 0 && !s->err)
        s->err = errno;
    s->fd = -1;
    if (s->err) {
        if (is_stdout)
            log_error("read: cannot write to standard output: %s", strerror(s->err));
        else
            log_error("read: cannot write to '%s': %s", s->name, strerror(s->err));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ --stop */

struct held {
    pid_t tid;
    int sig;      /* signal to re-inject at detach: the one its stop was delivering */
    bool stopped; /* in a ptrace stop we saw: detach it */
    bool gone;    /* exited while we held it */
};

struct freezer {
    pid_t pid;
    struct held *t;
    size_t n, cap;
    int failed_errno; /* from a seize that failed */
    pid_t failed_tid;
    bool found_new;
};

static struct held *held_find(struct freezer *f, pid_t tid)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->t[i].tid == tid)
            return &f->t[i];
    return NULL;
}

static int seize_one(pid_t tid, void *ctx)
{
    struct freezer *f = ctx;
    if (held_find(f, tid))
        return 0;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        struct held *grown = realloc(f->t, cap * sizeof *grown);
        if (!grown) {
            f->failed_errno = ENOMEM;
            f->failed_tid = tid;
            return -1;
        }
        f->t = grown;
        f->cap = cap;
    }
    f->found_new = true;
    if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) < 0) {
        int err = errno;
        /* Exited since the directory was read (ESRCH), or a zombie (a
         * leader whose other threads run on) that cannot be seized and
         * has nothing to stop: remembered as gone, so that the rescan
         * does not take it for a new thread again and again. */
        if (err == ESRCH || (err == EPERM && procfs_state(tid) == 'Z')) {
            f->t[f->n++] = (struct held){.tid = tid, .gone = true};
            return 0;
        }
        f->failed_errno = err;
        f->failed_tid = tid;
        return -1;
    }
    f->t[f->n++] = (struct held){.tid = tid};
    /* Without INTERRUPT a seized thread runs on; this makes it stop at the
     * next chance, reporting PTRACE_EVENT_STOP (or a signal-delivery stop
     * first, if a signal is on its way). */
    if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0 && errno == ESRCH)
        f->t[f->n - 1].gone = true;
    return 0;
}

/* Collects the stop of every held thread. SIGCHLD is blocked by the caller
 * and waited for with sigtimedwait: every ptrace stop and every death of a
 * tracee raises it, so no stop can slip between a WNOHANG poll and the
 * wait. 0, or -1 with the tid that did not stop by the deadline. */
static int collect_stops(struct freezer *f, uint64_t deadline, pid_t *late)
{
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    for (;;) {
        pid_t waiting = 0;
        for (size_t i = 0; i < f->n; i++) {
            struct held *h = &f->t[i];
            if (h->stopped || h->gone)
                continue;
            int status;
            pid_t r;
            do
                r = waitpid(h->tid, &status, WNOHANG | __WALL);
            while (r < 0 && errno == EINTR);
            if (r < 0) { /* ECHILD: not ours any more, it died */
                h->gone = true;
                continue;
            }
            if (r == 0) {
                waiting = h->tid;
                continue;
            }
            if (WIFEXITED(status) || WIFSIGNALED(status)) {
                h->gone = true;
            } else if (WIFSTOPPED(status)) {
                h->stopped = true;
                /* status>>16 == 0: a signal-delivery stop, the signal about
                 * to be delivered; it must go back at detach or it is lost.
                 * PTRACE_EVENT_STOP (interrupt or group stop) carries none. */
                h->sig = (status >> 16) == 0 ? WSTOPSIG(status) : 0;
            }
        }
        if (!waiting)
            return 0;
        uint64_t now = monotonic_ns();
        if (now >= deadline) {
            *late = waiting;
            return -1;
        }
        /* Capped, so that even a lost notification costs only latency. */
        uint64_t left = deadline - now < 50000000ULL ? deadline - now : 50000000ULL;
        struct timespec ts = {(time_t)(left / 1000000000ULL), (long)(left % 1000000000ULL)};
        sigtimedwait(&chld, NULL, &ts);
    }
}

static void thaw(struct freezer *f)
{
    for (size_t i = 0; i < f->n; i++) {
        struct held *h = &f->t[i];
        if (h->gone)
            continue;
        if (!h->stopped) {
            /* Seized but never stopped (the deadline passed): it cannot be
             * detached while running; it is let go when we exit, and the
             * kernel then drops its pending interrupt. */
            continue;
        }
        if (ptrace(PTRACE_DETACH, h->tid, NULL, (void *)(long)h->sig) < 0) {
            if (errno == ESRCH) {
                /* Killed while held (SIGKILL does not wait for us): take its
                 * exit report so its parent gets it now, not when we exit. */
                int status;
                waitpid(h->tid, &status, WNOHANG | __WALL);
            } else {
                log_warn("read: could not detach thread %d of process %d: %s", (int)h->tid,
                         (int)f->pid, strerror(errno));
            }
        }
    }
    free(f->t);
    f->t = NULL;
    f->n = f->cap = 0;
}

/* Seizes and stops every thread of f->pid, rescanning /proc/PID/task until
 * a pass finds no thread it does not already hold (a thread not yet
 * stopped can still create one). 0, or -1 after logging why, with
 * everything already let go. */
static int freeze(struct freezer *f)
{
    long tracer = procfs_status_number(f->pid, "TracerPid");
    if (tracer > 0) {
        log_error("read: process %d is already traced by process %ld: --stop cannot stop it; "
                  "read without --stop, or end the other tracer first",
                  (int)f->pid, tracer);
        return -1;
    }
    uint64_t deadline = monotonic_ns() + STOP_DEADLINE_NS;
    for (;;) {
        f->found_new = false;
        int n = procfs_foreach_task(f->pid, seize_one, f);
        if (n < 0 && f->failed_errno == 0) {
            int err = errno;
            thaw(f);
            cmd_pid_error("read", f->pid, err, "listing the threads of");
            return -1;
        }
        if (n < 0) {
            int err = f->failed_errno;
            long t = procfs_status_number(f->failed_tid, "TracerPid");
            thaw(f);
            if (err == EPERM && t > 0 && t != (long)getpid())
                log_error("read: process %d is already traced by process %ld: --stop cannot "
                          "stop it; read without --stop, or end the other tracer first",
                          (int)f->pid, t);
            else if (err == EPERM || err == EACCES)
                log_error("read: permission denied stopping process %d: run as root or add "
                          "CAP_SYS_PTRACE",
                          (int)f->pid);
            else
                log_error("read: cannot stop thread %d of process %d: %s", (int)f->failed_tid,
                          (int)f->pid, strerror(err));
            return -1;
        }
        pid_t late = 0;
        if (collect_stops(f, deadline, &late) < 0) {
            thaw(f);
            log_error("read: thread %d of process %d did not stop within %llu s (blocked in the "
                      "kernel?); read without --stop",
                      (int)late, (int)f->pid, STOP_DEADLINE_NS / 1000000000ULL);
            return -1;
        }
        if (!f->found_new)
            break;
    }
    bool any = false;
    for (size_t i = 0; i < f->n; i++)
        any |= f->t[i].stopped;
    if (!any) {
        thaw(f);
        log_error("read: no such process %d (it exited)", (int)f->pid);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ reading */

/* Why addr cannot be read, for the error line. */
static void describe(pid_t pid, uint64_t addr, char *buf, size_t size)
{
    struct maps_list list = {0};
    if (maps_read(pid, false, &list) < 0) {
        snprintf(buf, size, "0x%" PRIx64 " cannot be read", addr);
        return;
    }
    const struct map_entry *e = maps_lookup(&list, addr);
    if (!e)
        snprintf(buf, size, "nothing is mapped at 0x%" PRIx64, addr);
    else
        snprintf(buf, size, "0x%" PRIx64 " cannot be read (mapping 0x%" PRIx64 "-0x%" PRIx64
                 " %s %.200s)",
                 addr, e->start, e->end, e->prot, maps_label(e));
    maps_release(&list);
}

/* Reports a read that ended early: at `at` after `done` of `want` bytes.
 * err is memread's errno when nothing at all could be read. */
static void report_short(pid_t pid, uint64_t start, uint64_t done, uint64_t want, int err)
{
    if (err == ESRCH) {
        /* No memory to read: gone, or there but without a user address
         * space (a kernel thread, a zombie). */
        char path[32];
        snprintf(path, sizeof path, "/proc/%d", (int)pid);
        if (done)
            log_error("read: read only %" PRIu64 " of %" PRIu64 " bytes: process %d exited",
                      done, want, (int)pid);
        else if (access(path, F_OK) == 0)
            log_error("read: process %d has no user memory to read (a kernel thread, or "
                      "exited)",
                      (int)pid);
        else
            log_error("read: no such process %d (it exited)", (int)pid);
        return;
    }
    if (err == EPERM || err == EACCES) {
        log_error("read: permission denied reading process %d: run as root or add "
                  "CAP_SYS_PTRACE",
                  (int)pid);
        return;
    }
    char why[512];
    describe(pid, start + done, why, sizeof why);
    if (done == 0)
        log_error("read: cannot read process %d: %s", (int)pid, why);
    else
        log_error("read: read only %" PRIu64 " of %" PRIu64 " bytes from process %d: %s",
                  done, want, (int)pid, why);
}

/* The range to read: --address/-n as given, or the mapping around
 * --region. 0, or -1 after logging why. */
static int resolve_range(const struct read_opts *o, uint64_t *start, uint64_t *len)
{
    if (!o->have_region) {
        *start = o->address;
        *len = o->length;
        return 0;
    }
    struct maps_list list = {0};
    if (maps_read(o->pid, false, &list) < 0) {
        if (errno == EINVAL)
            log_error("read: cannot parse /proc/%d/maps at line %zu", (int)o->pid,
                      list.bad_line);
        else
            cmd_pid_error("read", o->pid, errno, "reading the mappings of");
        return -1;
    }
    const struct map_entry *e = maps_lookup(&list, o->region);
    if (!e) {
        log_error("read: no mapping of process %d holds 0x%" PRIx64
                  "; see mmapwatch maps -p %d --sort addr",
                  (int)o->pid, o->region, (int)o->pid);
        maps_release(&list);
        return -1;
    }
    *start = e->start;
    *len = e->end - e->start;
    maps_release(&list);
    return 0;
}

/* Without --stop: read and write a chunk at a time, so memory use stays
 * small whatever LEN is. Returns bytes read; *err as memread left it. */
static uint64_t stream(pid_t pid, uint64_t start, uint64_t len, struct sink *s, int *err)
{
    unsigned char *chunk = memread_buf_new(STREAM_CHUNK);
    uint64_t done = 0;
    *err = 0;
    if (!chunk) {
        *err = ENOMEM;
        return 0;
    }
    while (done < len && !s->err) {
        size_t want = len - done < STREAM_CHUNK ? (size_t)(len - done) : STREAM_CHUNK;
        ssize_t n = memread_read(pid, start + done, chunk, want);
        if (n < 0) {
            *err = errno;
            break;
        }
        sink_bytes(s, chunk, (size_t)n);
        done += (uint64_t)n;
        if ((size_t)n < want)
            break;
    }
    free(chunk);
    return done;
}

/* SIGCHLD must be neither ignored nor SA_NOCLDSTOP while we wait for
 * stops: with either, the kernel sends no SIGCHLD for a tracee's stop
 * (and a parent may well have left it ignored across exec). */
static void default_sigchld(struct sigaction *old)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, old);
}

static int block_signals(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    /* Everything that would end or suspend us while threads are held, and
     * SIGCHLD, which collect_stops waits for. */
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU,
                               SIGCHLD};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&set, sigs[i]);
    return sigprocmask(SIG_BLOCK, &set, old);
}

static int run(const struct read_opts *o)
{
    /* Everything that can be refused is refused before the target is
     * touched. */
    if (!o->output && !o->strings && isatty(STDOUT_FILENO)) {
        log_error("refusing to write raw memory to a terminal; use -o FILE, -o -, or "
                  "--strings");
        return 1;
    }
    char proc_dir[32];
    snprintf(proc_dir, sizeof proc_dir, "/proc/%d", (int)o->pid);
    if (access(proc_dir, F_OK) < 0) {
        log_error("read: no such process %d", (int)o->pid);
        return 1;
    }

    struct sink *s = calloc(1, sizeof *s);
    char *run_buf = o->strings ? malloc(o->strings_min) : NULL;
    if (!s || (o->strings && !run_buf)) {
        log_error("read: out of memory");
        free(s);
        free(run_buf);
        return 1;
    }
    s->strings = o->strings;
    s->min = o->strings_min;
    s->run = run_buf;
    int status = 0;
    if (open_output(o, s) < 0) {
        status = 1;
        goto out;
    }

    uint64_t start = 0, len = 0, done = 0;
    int err = 0;
    if (!o->stop) {
        if (resolve_range(o, &start, &len) < 0) {
            status = 1;
            goto close;
        }
        done = stream(o->pid, start, len, s, &err);
    } else {
        sigset_t old;
        struct sigaction old_chld;
        block_signals(&old);
        default_sigchld(&old_chld);
        struct freezer f = {.pid = o->pid};
        struct maps_list probe = {0};
        if (maps_read(o->pid, false, &probe) == 0 && probe.count == 0) {
            /* Nothing to stop for: a kernel thread (which cannot be seized
             * and would read as "permission denied") or a zombie. */
            sigaction(SIGCHLD, &old_chld, NULL);
            sigprocmask(SIG_SETMASK, &old, NULL);
            log_error("read: process %d has no user memory to read (a kernel thread, or "
                      "exited)",
                      (int)o->pid);
            status = 1;
            goto close;
        }
        maps_release(&probe);
        if (freeze(&f) < 0) {
            sigaction(SIGCHLD, &old_chld, NULL);
            sigprocmask(SIG_SETMASK, &old, NULL);
            status = 1;
            goto close;
        }
        /* Held: resolve the range now, so it is the mapping as it is in the
         * snapshot, and copy it out as fast as memory goes. */
        unsigned char *copy = MAP_FAILED;
        if (resolve_range(o, &start, &len) == 0) {
            copy = len > SIZE_MAX ? MAP_FAILED
                                  : mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (copy != MAP_FAILED) {
                ssize_t n = memread_read(o->pid, start, copy, (size_t)len);
                if (n < 0)
                    err = errno;
                else
                    done = (uint64_t)n;
            } else {
                err = errno;
            }
        } else {
            status = 1;
        }
        thaw(&f);
        sigaction(SIGCHLD, &old_chld, NULL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (status == 0 && copy == MAP_FAILED) {
            log_error("read: cannot buffer %" PRIu64 " bytes for --stop: %s", len,
                      strerror(err));
            status = 1;
        }
        if (copy != MAP_FAILED) {
            sink_bytes(s, copy, (size_t)done);
            munmap(copy, (size_t)len);
        }
        if (status)
            goto close;
    }
    /* What was read is written out before the line that says the read
     * was short: a reader of both sees the data complete first. */
    if (close_output(s) < 0) {
        status = 1;
    } else if (err == ENOMEM && done == 0 && !o->stop) {
        log_error("read: out of memory");
        status = 1;
    } else if (done < len) {
        if (err == 0) {
            /* A short count carries no errno: ask again at the address
             * that stopped it, for the reason. */
            unsigned char byte;
            if (memread_read(o->pid, start + done, &byte, 1) < 0)
                err = errno;
        }
        report_short(o->pid, start, done, len, err);
        status = 1;
    }
    goto out;
close:
    if (close_output(s) < 0)
        status = 1;
out:
    free(run_buf);
    free(s);
    return status;
}

int cmd_read_main(int argc, char **argv)
{
    struct read_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc < 0)
        return 0;
    if (rc > 0)
        return rc;
    return run(&o);
}
