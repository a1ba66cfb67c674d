/*
 * options: argv -> one immutable struct options.
 *
 * Parsing is strict: a number with trailing junk, a negative or overflowing
 * size or duration, an unknown flag, or a missing target is a usage error.
 * options_parse() prints exactly one line for it ("mmapwatch: ...") and
 * returns OPTIONS_USAGE_ERROR; main() exits 2.
 *
 * Ownership: struct options holds pointers into argv (command, output_path,
 * the cgroup selectors' text);
 * argv outlives it. Nothing in it is heap-allocated, nothing to free.
 */
#ifndef MMAPWATCH_OPTIONS_H
#define MMAPWATCH_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup_match.h"
#include "marks.h"
#include "units.h"

#define OPTIONS_MAX_PIDS 64
#define OPTIONS_MAX_COMMS 16
#define OPTIONS_MAX_CGROUP_SELS 16 /* --cgroup, --container and --pod together */
#define OPTIONS_STACK_DEPTH_MAX 256
#define OPTIONS_STRINGS_MIN_MAX 256 /* --strings=MIN, -s MIN */

/* How text events show their time (strace's -t, -tt, -ttt). */
enum options_time_format {
    OPTIONS_TIME_CLOCK_US, /* 14:03:07.123456, local time (default; -tt) */
    OPTIONS_TIME_CLOCK_S,  /* 14:03:07 (-t) */
    OPTIONS_TIME_EPOCH_US, /* 1764684187.123456, seconds since 1970 (-ttt) */
};

/* --source: which event source follows the targets (source.h). */
enum options_source {
    OPTIONS_SOURCE_AUTO,   /* attach: perf where it can, else ptrace; launch: ptrace */
    OPTIONS_SOURCE_PTRACE, /* stops threads; can hold them for dumps */
    OPTIONS_SOURCE_PERF,   /* perf_event tracepoints; never stops anyone, may lose */
};
#define OPTIONS_PERF_PAGES_MAX (1u << 16)

/* Targets found by scanning /proc: --comm, --match, --cgroup, --container,
 * --pod. */
#define OPTIONS_SELECTS(o) ((o)->ncomms > 0 || (o)->match_regex || (o)->ncgroup_sels > 0)
/* Attach mode: -p, or targets found by scanning. */
#define OPTIONS_ATTACH_MODE(o) ((o)->npids > 0 || OPTIONS_SELECTS(o))

struct options {
    pid_t pids[OPTIONS_MAX_PIDS]; /* -p PID, repeatable; attach mode */
    unsigned npids;
    char **command;          /* launch mode: NULL-terminated argv; NULL in attach mode */
    uint64_t min_size;       /* --min-size: report mmaps of at least this many bytes (0) */
    uint64_t max_size;       /* --max-size: and of at most this many (0: no limit) */
    bool report_failed;      /* --failed: also report mmaps that failed */
    bool json;               /* --json: JSON Lines instead of text */
    const char *output_path; /* -o FILE; NULL = stderr; "-" = stdout */
    bool has_duration;       /* --duration given */
    uint64_t duration_ns;    /* --duration: detach after this long (attach mode) */
    int verbose;             /* -v: diagnostics about the tracer itself */
    enum options_time_format time_format; /* -t, -tt, -ttt */

    /* Auto-dump of reported regions (see dumper.h). */
    bool dump;               /* on unless --no-dump */
    const char *dump_dir;    /* --dump-dir (default "mmapwatch-dumps") */
    uint64_t dump_delay_ns;  /* --delay: dump this long after the mmap (5 s) */
    bool dump_on_unmap;      /* dump before munmap/mremap/exit/exec (on unless --no-dump-on-unmap) */
    uint64_t redump_ns;      /* --redump: dump again every this long (0 = never) */
    unsigned strings_min;    /* --strings[=MIN]: 0 = off, else minimum run length (6) */
    uint64_t max_dump_bytes; /* --max-dump-bytes: total written (1 GiB) */
    uint64_t max_dumps;      /* --max-dumps: 0 = no limit */
    uint64_t exit_dump_timeout_ns; /* --exit-dump-timeout: finishing dumps at exit (10 s) */

    /* Call stacks and the summary (see unwind.h, summary.h). */
    bool stack;              /* -k/--stack: unwind the caller of each reported mmap */
    unsigned stack_depth;    /* --stack-depth: at most this many frames (32) */
    bool summary;            /* -c/--summary: a table by call site and thread at the end */

    /* Targets by name (sidecar use): attach to every process whose comm is
     * one of comms[] or whose command line matches match_regex. */
    const char *comms[OPTIONS_MAX_COMMS]; /* --comm NAME, repeatable */
    unsigned ncomms;
    const char *match_regex; /* --match REGEX (POSIX extended, checked here) */
    bool wait_for_target;    /* --wait: wait for such a process, and the next one */

    /* Targets by cgroup (node-wide use, cgroup_match.h): a process is
     * selected when any of these matches it, and, when names are given
     * too, its name or command line matches. */
    struct cgroup_sel cgroup_sels[OPTIONS_MAX_CGROUP_SELS]; /* --cgroup, --container, --pod */
    unsigned ncgroup_sels;

    /* Memory cgroup watch (see cgroup.h). */
    bool has_cgroup_threshold;  /* --cgroup-threshold given */
    uint64_t cgroup_threshold;  /* bytes, when cgroup_threshold_pct is 0 */
    unsigned cgroup_threshold_pct; /* 1..100: percent of the cgroup's limit; 0 = bytes */
    bool dump_on_threshold;     /* --dump-on-threshold */

    /* Tracing only while it matters (see above.h). */
    bool has_attach_above;      /* --attach-above given */
    struct mark attach_above;   /* attach when the cgroup's usage reaches it */
    bool has_detach_below;      /* --detach-below given */
    struct mark detach_below;   /* detach below it (default: MARKS_LOW_PERCENT
                                   of the attach mark) */
    bool adopt_existing;        /* --adopt, or implied by --attach-above: the
                                   anonymous mappings there at the attach
                                   become regions (adopt.h) */

    /* The event source (see source.h, perf_events_source.h). */
    enum options_source source; /* --source perf|ptrace|auto (auto) */
    unsigned perf_pages;        /* --perf-pages N: ring data pages per CPU, a power
                                   of two; 0 = the perf source's default */
    unsigned perf_layout;       /* --perf-layout: 0 auto, 1 thread, 2 cgroup (the
                                   values of enum perf_layout, perf_source.h) */
    unsigned perf_calls;        /* --perf-calls: 0 auto, 1 bpf, 2 raw, 3 syscalls
                                   (the values of enum perf_calls, perf_source.h) */
};

enum options_result {
    OPTIONS_OK,             /* run */
    OPTIONS_DONE,           /* --help or --version printed: exit 0 */
    OPTIONS_USAGE_ERROR,    /* one line printed: exit 2 */
};

/* Fills *opts from argv. Parsing stops at "--" or at the first non-option
 * word: the rest is the command to launch. */
enum options_result options_parse(int argc, char **argv, struct options *opts);

/* The pid parsers are pure like units.h's: they print nothing, and give
 * true with *out set, or false with *out untouched. */

/* A positive decimal pid, nothing else: no sign, space or 0x prefix
 * (strtol alone would take them). */
bool parse_pid(const char *text, pid_t *pid);

/* strace's -p forms: "1234", "1234,5678", "1234 5678", appended to
 * pids[*npids] (a pid already there is skipped: attaching twice would only
 * fail). false if a word is not a pid, or if there would be more than max
 * (*too_many); *bad is then that word (cut to badsize). */
bool parse_pid_list(const char *text, pid_t *pids, unsigned *npids, unsigned max,
                    bool *too_many, char *bad, size_t badsize);


#endif
