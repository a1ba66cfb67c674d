/*
 * options: the command line turned into struct options, the pid parsers
 * and the help text.
 *
 * getopt_long does the splitting (with "+" so the traced command's own
 * options are never taken for ours); every diagnosis is ours, so each
 * usage error is exactly one line that quotes what the user typed.
 * Sizes and durations are parsed by units.c.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define VERSION_TEXT "mmapwatch 0.1.0"

enum {
    OPT_FAILED = 256, /* long-only options get values no char can take */
    OPT_DELAY,
    OPT_DUMP_DIR,
    OPT_NO_DUMP,
    OPT_NO_DUMP_ON_UNMAP,
    OPT_REDUMP,
    OPT_STRINGS,
    OPT_MAX_DUMP_BYTES,
    OPT_MAX_DUMPS,
    OPT_EXIT_DUMP_TIMEOUT,
    OPT_STACK_DEPTH,
    OPT_COMM,
    OPT_MATCH,
    OPT_WAIT,
    OPT_CGROUP_THRESHOLD,
    OPT_DUMP_ON_THRESHOLD,
    OPT_ATTACH_ABOVE,
    OPT_DETACH_BELOW,
    OPT_ADOPT,
    OPT_MAX_SIZE,
    OPT_SOURCE,
    OPT_PERF_PAGES,
    OPT_CGROUP,
    OPT_CONTAINER,
    OPT_POD,
    OPT_PERF_LAYOUT,
    OPT_PERF_CALLS,
};

static const struct option long_options[] = {
    {"pid", required_argument, NULL, 'p'},
    {"min-size", required_argument, NULL, 'm'},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"failed", no_argument, NULL, OPT_FAILED},
    {"output", required_argument, NULL, 'o'},
    {"json", no_argument, NULL, 'j'},
    {"duration", required_argument, NULL, 'd'},
    {"verbose", no_argument, NULL, 'v'},
    {"delay", required_argument, NULL, OPT_DELAY},
    {"dump-dir", required_argument, NULL, OPT_DUMP_DIR},
    {"no-dump", no_argument, NULL, OPT_NO_DUMP},
    {"no-dump-on-unmap", no_argument, NULL, OPT_NO_DUMP_ON_UNMAP},
    {"redump", required_argument, NULL, OPT_REDUMP},
    {"strings", optional_argument, NULL, OPT_STRINGS},
    {"max-dump-bytes", required_argument, NULL, OPT_MAX_DUMP_BYTES},
    {"max-dumps", required_argument, NULL, OPT_MAX_DUMPS},
    {"exit-dump-timeout", required_argument, NULL, OPT_EXIT_DUMP_TIMEOUT},
    {"stack", no_argument, NULL, 'k'},
    {"stack-depth", required_argument, NULL, OPT_STACK_DEPTH},
    {"summary", no_argument, NULL, 'c'},
    {"comm", required_argument, NULL, OPT_COMM},
    {"match", required_argument, NULL, OPT_MATCH},
    {"wait", no_argument, NULL, OPT_WAIT},
    {"cgroup", required_argument, NULL, OPT_CGROUP},
    {"container", required_argument, NULL, OPT_CONTAINER},
    {"pod", required_argument, NULL, OPT_POD},
    {"cgroup-threshold", required_argument, NULL, OPT_CGROUP_THRESHOLD},
    {"dump-on-threshold", no_argument, NULL, OPT_DUMP_ON_THRESHOLD},
    {"attach-above", required_argument, NULL, OPT_ATTACH_ABOVE},
    {"detach-below", required_argument, NULL, OPT_DETACH_BELOW},
    {"adopt", no_argument, NULL, OPT_ADOPT},
    {"source", required_argument, NULL, OPT_SOURCE},
    {"perf-pages", required_argument, NULL, OPT_PERF_PAGES},
    {"perf-layout", required_argument, NULL, OPT_PERF_LAYOUT},
    {"perf-calls", required_argument, NULL, OPT_PERF_CALLS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* "+": stop at the first non-option, the command. ":": report a missing
 * argument as ':' so it gets its own message. */
static const char short_options[] = "+:p:m:o:jd:vkchVfts:ye:T";

static void print_usage(FILE *out)
{
    fputs(
        "Usage: mmapwatch [options] -p PID[,PID...] [-p PID ...]\n"
        "       mmapwatch [options] [--] COMMAND [ARGS...]\n"
        "       mmapwatch maps [-p] PID [options]     mappings and their memory, like pmap -x\n"
        "       mmapwatch read -p PID --region ADDR   read a region's bytes or strings\n"
        "       mmapwatch report EVENTS.jsonl         an HTML page of who grew memory, when\n"
        "       (mmapwatch maps --help, read --help, report --help for theirs)\n"
        "\n"
        "Reports every mmap of a process, of all its threads and of its children,\n"
        "and what later happens to each reported region: munmap, mremap, mprotect,\n"
        "and its end at exec or exit. Attach to running processes with -p (they keep\n"
        "running after mmapwatch detaches), or give a command to launch and trace\n"
        "until it exits. Each event is one strace-like line on stderr, or a JSON\n"
        "object per line with --json.\n"
        "\n"
        "Dumps are on by default: each reported region's contents are written to\n"
        "./mmapwatch-dumps (files 0600, directory 0700) 5 s after its mmap, or\n"
        "before it goes away; --dump-dir DIR to put them elsewhere, --no-dump for\n"
        "none, --min-size 16M to report (and dump) only the large ones.\n"
        "\n"
        "OPTIONS\n"
        "  -p, --pid PID        attach to process PID and all its threads; repeat,\n"
        "                       or list them (1234,5678), for more processes, up\n"
        "                       to 64 (default: none, launch COMMAND instead)\n"
        "  -m, --min-size SIZE  report only mmaps of at least SIZE bytes, and what\n"
        "                       later happens to them (default: 0, every mmap)\n"
        "      --max-size SIZE  report and dump only regions of at most SIZE bytes\n"
        "                       (e.g. to leave out a JVM's 1 GiB heap reservation;\n"
        "                       default: no limit)\n"
        "      --failed         also report mmaps that failed, with the errno name\n"
        "                       (default: off)\n"
        "  -o, --output FILE    write events to FILE, \"-\" for stdout (default: stderr)\n"
        "  -j, --json           write events as JSON Lines (default: text)\n"
        "  -d, --duration DUR   attach mode only: detach after DUR (default: until\n"
        "                       the targets exit or SIGINT, SIGTERM or SIGHUP)\n"
        "  -v, --verbose        also print diagnostics about mmapwatch itself\n"
        "                       (default: off)\n"
        "  -t, -tt, -ttt        text time stamps: 14:03:07, 14:03:07.123456 (the\n"
        "                       default), or seconds since 1970 (1764684187.123456)\n"
        "\n"
        "STRACE HABITS (accepted, same meaning)\n"
        "  -f                   follow threads and children: always done, a no-op\n"
        "  -y                   paths of file-backed mmaps: always shown, a no-op\n"
        "  -e trace=mmap,munmap,mremap,mprotect  the calls mmapwatch follows: all\n"
        "                       are always reported, a no-op; other names refused\n"
        "  -s N                 as --strings=N: printable runs of at least N bytes\n"
        "                       (strace's -s caps the length shown instead)\n"
        "  -T and -ff are refused: no per-call duration, one output stream\n"
        "\n"
        "TARGETS BY NAME (a sidecar does not know the pid)\n"
        "      --comm NAME      attach to every process named NAME (/proc/PID/comm);\n"
        "                       repeatable, up to 16 (default: none)\n"
        "      --match REGEX    attach to every process whose command line matches\n"
        "                       the extended regular expression REGEX (default: none)\n"
        "      --wait           wait for such a process to appear, and after it\n"
        "                       exits wait for the next one (default: attach to\n"
        "                       those running now, fail if there are none)\n"
        "\n"
        "TARGETS BY CONTAINER (node-wide: a DaemonSet, kubectl debug node/...)\n"
        "      --container ID   attach to every process of the container ID (its\n"
        "                       hex id, at least 12 digits, or containerd://ID)\n"
        "      --pod UID        ... of every container of the pod UID (its\n"
        "                       metadata.uid; kept when the pod's containers restart)\n"
        "      --cgroup PATH    ... in cgroup PATH or below it, as /proc/PID/cgroup\n"
        "                       shows it (e.g. /kubepods/burstable/podUID)\n"
        "                       Each repeatable (16 in all; any of them selects);\n"
        "                       with --comm or --match, a process must match both.\n"
        "                       --wait takes new processes of the container too\n"
        "                       (default: none)\n"
        "\n"
        "CALL STACKS\n"
        "  -k, --stack          show the call stack of the thread at each reported\n"
        "                       mmap (default: off)\n"
        "      --stack-depth N  at most N frames, 1 to 256 (default: 32)\n"
        "  -c, --summary        at the end, a table of reported mmaps by call site\n"
        "                       and thread, and a histogram of their sizes\n"
        "                       (default: off)\n"
        "\n"
        "EVENT SOURCE\n"
        "      --source perf|ptrace|auto  how threads are followed: perf reads the\n"
        "                       kernel's syscall tracepoints and never stops the\n"
        "                       target (it may lose events, said as \"lost\", and\n"
        "                       cannot hold a thread to dump a region before its\n"
        "                       unmap); ptrace stops each thread at its map calls\n"
        "                       and can hold it (default: auto, perf in attach\n"
        "                       mode where it can, else ptrace; ptrace in launch\n"
        "                       mode)\n"
        "      --perf-pages N   perf ring buffer pages per CPU, a power of two\n"
        "                       (BPF: one ring of N pages per CPU); raise it\n"
        "                       when events are lost (default: 128, 1024 with -k)\n"
        "      --perf-layout thread|cgroup|auto  perf events per thread of the\n"
        "                       target, or per CPU for its cgroup (its other\n"
        "                       processes' records dropped; never the root\n"
        "                       cgroup); auto: per thread unless that needs over\n"
        "                       4096 descriptors or more than the limit, or the\n"
        "                       target is alone in its cgroup (default: auto)\n"
        "      --perf-calls bpf|raw|syscalls|auto  read the calls with BPF programs\n"
        "                       on the calls' tracepoints (machine-wide, one ring;\n"
        "                       -k stacks from per-CPU samples), through raw_syscalls\n"
        "                       (3 events per thread or CPU, 4 with -k) or the\n"
        "                       syscalls: pair of each call (16); auto: bpf where\n"
        "                       it loads, without --perf-layout; raw otherwise\n"
        "                       (default: auto)\n"
        "\n"
        "MEMORY CGROUP\n"
        "      --cgroup-threshold SIZE|PCT  report when the target's memory cgroup\n"
        "                       uses more than SIZE bytes or PCT% of its limit,\n"
        "                       e.g. 2G or 90% (default: off); cgroup OOM kills\n"
        "                       are reported too\n"
        "      --dump-on-threshold  then dump every reported region still mapped\n"
        "                       (default: off)\n"
        "      --attach-above SIZE|PCT  trace nothing until the target's memory\n"
        "                       cgroup uses SIZE or PCT% of its limit; attach\n"
        "                       then, detach when usage falls below the lower\n"
        "                       mark or after --duration, and watch on for the\n"
        "                       next crossing (implies --adopt)\n"
        "      --detach-below SIZE|PCT  the lower mark of --attach-above\n"
        "                       (default: 90% of the attach mark)\n"
        "      --adopt          at each attach, report the anonymous mappings\n"
        "                       already there (--min-size..--max-size) as\n"
        "                       \"existing\" regions, then follow and dump them\n"
        "\n"
        "DUMPS (on by default: each reported region's contents go to ./mmapwatch-dumps)\n"
        "      --delay DUR      dump a region DUR after its mmap (default: 5s;\n"
        "                       0 = at once)\n"
        "      --dump-dir DIR   where dumps go, created mode 0700 (default:\n"
        "                       ./mmapwatch-dumps)\n"
        "      --no-dump        do not dump (default: dump)\n"
        "      --no-dump-on-unmap  do not dump a region that is unmapped, moved,\n"
        "                       or ends with its process before its delay\n"
        "                       (default: dump it then, holding that thread)\n"
        "      --redump DUR     dump still-mapped regions again every DUR\n"
        "                       (default: once)\n"
        "  -s, --strings[=MIN]  also write the printable runs of at least MIN\n"
        "                       bytes (default MIN: 6) and show the 10 most common\n"
        "      --max-dump-bytes SIZE  stop dumping after SIZE bytes written\n"
        "                       (default: 1G)\n"
        "      --max-dumps N    stop dumping after N dumps (default: no limit, but\n"
        "                       100 dumps of regions of 1 MiB or less)\n"
        "      --exit-dump-timeout DUR  at SIGINT/SIGTERM, time allowed to finish\n"
        "                       pending dumps before detaching (default: 10s)\n"
        "  -h, --help           print this help and exit\n"
        "  -V, --version        print the version and exit\n"
        "\n"
        "SIZE AND DURATION\n"
        "  SIZE is a number of bytes with an optional suffix k, M, G or T in powers\n"
        "  of 1024 (KiB, MiB, GiB, TiB also work), fractions allowed: 4096, 4k, 4KiB,\n"
        "  16M, 1.5M, 1G.\n"
        "  DUR is a number with an optional unit us, ms, s, m (minutes) or h; a bare\n"
        "  number is seconds: 0, 500ms, 2s, 1.5s, 1m, 1h.\n"
        "\n"
        "EXIT STATUS\n"
        "  0    attach mode: the targets exited, or mmapwatch detached (SIGINT,\n"
        "       SIGTERM, SIGHUP or --duration)\n"
        "  N    launch mode: the command's exit status, 128+N if signal N killed it\n"
        "  1    runtime failure (no such process, permission denied, already traced)\n"
        "  2    usage error\n"
        "\n"
        "EXAMPLES\n"
        "  mmapwatch -p 1234 --min-size 16M\n"
        "      show mmaps of 16 MiB or more in process 1234 and all its threads\n"
        "  mmapwatch --json -o events.jsonl -p 1234\n"
        "      record every event of process 1234 as JSON Lines in events.jsonl\n"
        "  mmapwatch -m 1M -- java -jar app.jar\n"
        "      run a command and show its mmaps of 1 MiB or more until it exits\n"
        "  mmapwatch -k -c -m 16M --no-dump -p 1234\n"
        "      show who maps 16 MiB or more (call stacks), and a table by call site\n"
        "      when mmapwatch stops\n"
        "  mmapwatch --duration 30s -p 1234\n"
        "      watch process 1234 for 30 seconds, then detach and let it run on\n",
        out);
}

static const struct option *option_by_val(int val)
{
    for (const struct option *o = long_options; o->name; o++)
        if (o->val == val)
            return o;
    return NULL;
}

/* How the user spelled the option with value val: the long name if they
 * typed a long option (maybe abbreviated), else the short one. */
static const char *spelled(int val, bool typed_long, char *buf, size_t size)
{
    const struct option *o = option_by_val(val);
    if (typed_long && o)
        snprintf(buf, size, "--%s", o->name);
    else if (val > 0 && val < 256)
        snprintf(buf, size, "-%c", val);
    else if (o)
        snprintf(buf, size, "--%s", o->name);
    else
        snprintf(buf, size, "?");
    return buf;
}

/* getopt_long says only "not recognized"; tell the three cases apart. */
static void report_bad_long(const char *word, int opt_val)
{
    const char *name = word + 2;
    size_t len = strcspn(name, "=");

    if (opt_val != 0) {
        /* glibc sets optopt to the option's value when a "=value" was
         * given to an option that takes none. */
        const struct option *o = option_by_val(opt_val);
        log_error("option '--%s' takes no argument (got '%s')", o ? o->name : "?", word);
        return;
    }

    char candidates[128] = "";
    size_t used = 0;
    int matches = 0;
    for (const struct option *o = long_options; o->name; o++) {
        if (len > 0 && strncmp(o->name, name, len) == 0) {
            int n = snprintf(candidates + used, sizeof candidates - used, "%s--%s",
                             matches ? ", " : "", o->name);
            if (n > 0 && (size_t)n < sizeof candidates - used)
                used += (size_t)n;
            matches++;
        }
    }
    if (matches > 1)
        log_error("ambiguous option '%.*s': could be %s", (int)(len + 2), word, candidates);
    else
        log_error("unknown option '%.*s'; see mmapwatch --help", (int)(len + 2), word);
}

bool parse_pid(const char *text, pid_t *pid)
{
    /* strtol alone would take " 12", "+12" and "0x" prefixes. */
    if (text[0] < '0' || text[0] > '9')
        return false;
    errno = 0;
    char *end;
    long v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0 || v > INT_MAX)
        return false;
    *pid = (pid_t)v;
    return true;
}

bool parse_pid_list(const char *text, pid_t *pids, unsigned *npids, unsigned max,
                    bool *too_many, char *bad, size_t badsize)
{
    const char *p = text;
    bool any = false;
    *too_many = false;
    for (;;) {
        size_t len = strcspn(p, ", \t");
        char word[16];
        pid_t pid;
        bool ok = len > 0 && len < sizeof word;
        if (ok) {
            memcpy(word, p, len);
            word[len] = '\0';
            ok = parse_pid(word, &pid);
        }
        if (!ok) {
            /* An empty word (",5", "5,,6", "") is shown as the whole text. */
            snprintf(bad, badsize, "%.*s", len > 0 ? (int)len : (int)strlen(text),
                     len > 0 ? p : text);
            return false;
        }
        bool seen = false;
        for (unsigned i = 0; i < *npids; i++)
            seen |= pids[i] == pid;
        if (!seen) {
            if (*npids == max) {
                *too_many = true;
                snprintf(bad, badsize, "%s", word);
                return false;
            }
            pids[(*npids)++] = pid;
        }
        any = true;
        p += len;
        if (*p == '\0')
            return any;
        /* One separator: "5, 6" is a habit, "5,,6" a typo. */
        if (*p == ',' && (p[1] == ' ' || p[1] == '\t'))
            p++;
        p++;
    }
}

/* --cgroup, --container, --pod: one more selector, or one line saying why
 * not. */
static bool cgroup_selector(enum cgroup_sel_kind kind, const char *text, struct options *opts)
{
    const char *name = cgroup_sel_name(kind);
    if (opts->ncgroup_sels == OPTIONS_MAX_CGROUP_SELS) {
        log_error("too many --cgroup, --container and --pod options at --%s '%s': at most %d",
                  name, text, OPTIONS_MAX_CGROUP_SELS);
        return false;
    }
    char why[256];
    if (!cgroup_sel_parse(kind, text, &opts->cgroup_sels[opts->ncgroup_sels], why,
                          sizeof why)) {
        log_error("invalid %s '%s' for --%s: %s",
                  kind == CGROUP_SEL_PATH        ? "cgroup path"
                  : kind == CGROUP_SEL_CONTAINER ? "container id"
                                                 : "pod UID",
                  text, name, why);
        return false;
    }
    opts->ncgroup_sels++;
    return true;
}

static bool number_option(const char *text, const char *option, bool is_size, uint64_t *out)
{
    enum units_error err = is_size ? units_size(text, out) : units_duration(text, out);
    const char *what = is_size ? "size" : "duration";
    const char *hint = is_size
                           ? "use a number with an optional k, M, G suffix (powers of 1024)"
                           : "use a number with an optional unit ms, s, m or h (e.g. 500ms, "
                             "30s, 1.5m)";
    switch (err) {
    case UNITS_OK:
        return true;
    case UNITS_NEGATIVE:
        log_error("negative %s '%s' for %s: %s", what, text, option, hint);
        return false;
    case UNITS_TOO_LARGE:
        log_error("%s '%s' for %s is too large: %s", what, text, option,
                  is_size ? "the limit is 16 EiB" : "the limit is 876000h (100 years)");
        return false;
    case UNITS_MALFORMED:
        break;
    }
    log_error("invalid %s '%s' for %s: %s", what, text, option, hint);
    return false;
}

/* A whole number from min to max, digits only; one line when it is not. */
static bool count_option(const char *text, const char *option, const char *what, uint64_t min,
                         uint64_t max, uint64_t *out)
{
    uint64_t value = 0;
    bool ok = text[0] != '\0';
    for (const char *d = text; *d && ok; d++) {
        unsigned digit = (unsigned)(*d - '0');
        ok = *d >= '0' && *d <= '9' && value <= (UINT64_MAX - digit) / 10;
        value = value * 10 + digit;
    }
    if (!ok || value < min || value > max) {
        if (max == UINT64_MAX)
            log_error("invalid %s '%s' for %s: use a whole number of at least %" PRIu64, what,
                      text, option, min);
        else
            log_error("invalid %s '%s' for %s: use a whole number from %" PRIu64 " to %" PRIu64,
                      what, text, option, min, max);
        return false;
    }
    *out = value;
    return true;
}

/* The system calls mmapwatch follows, as strace's -e trace= names them. */
static const char *const followed_calls[] = {"mmap", "mmap2", "munmap", "mremap", "mprotect",
                                             "pkey_mprotect"};

/* strace's -e [trace=]NAME[,NAME...]: accepted when every NAME is a call
 * mmapwatch follows (it follows them all anyway); anything else is
 * refused naming what mmapwatch does instead. */
static bool trace_expression(const char *text)
{
    const char *list = text;
    const char *eq = strchr(text, '=');
    if (eq) {
        size_t qlen = (size_t)(eq - text);
        if (!((qlen == 5 && strncmp(text, "trace", 5) == 0) ||
              (qlen == 1 && text[0] == 't'))) {
            log_error("-e '%s': only -e trace=mmap,munmap,mremap,mprotect is understood; "
                      "mmapwatch selects what it reports with --min-size SIZE and --failed",
                      text);
            return false;
        }
        list = eq + 1;
    }
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        bool followed = false;
        for (size_t i = 0; i < sizeof followed_calls / sizeof followed_calls[0]; i++)
            followed |= strlen(followed_calls[i]) == len && strncmp(p, followed_calls[i], len) == 0;
        if (!followed) {
            log_error("-e '%s': mmapwatch follows only mmap, munmap, mremap and mprotect, not "
                      "'%.*s'; for brk heaps see 'mmapwatch maps PID --watch 10s', for "
                      "other calls strace",
                      text, (int)len, p);
            return false;
        }
        if (p[len] == '\0')
            return true;
        p += len + 1;
    }
}

/* --cgroup-threshold: a SIZE, or a percentage of the cgroup's limit. */
static bool parse_threshold(const char *text, struct options *opts)
{
    size_t len = strlen(text);
    if (len > 1 && text[len - 1] == '%') {
        char digits[8];
        uint64_t pct = 0;
        bool ok = len - 1 < sizeof digits;
        if (ok) {
            memcpy(digits, text, len - 1);
            digits[len - 1] = '\0';
            for (const char *d = digits; *d && ok; d++)
                ok = *d >= '0' && *d <= '9';
            pct = ok ? strtoull(digits, NULL, 10) : 0;
        }
        if (!ok || pct == 0 || pct > 100) {
            log_error("invalid percentage '%s' for --cgroup-threshold: use 1%% to 100%% of "
                      "the cgroup's limit, or a SIZE such as 2G", text);
            return false;
        }
        opts->cgroup_threshold_pct = (unsigned)pct;
        return true;
    }
    if (!number_option(text, "--cgroup-threshold", true, &opts->cgroup_threshold))
        return false;
    if (opts->cgroup_threshold == 0) {
        log_error("invalid size '%s' for --cgroup-threshold: use a positive SIZE or PCT%%",
                  text);
        return false;
    }
    opts->cgroup_threshold_pct = 0;
    return true;
}

enum options_result options_parse(int argc, char **argv, struct options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->command = NULL;
    opts->output_path = NULL;
    opts->dump = true;
    opts->dump_dir = "mmapwatch-dumps";
    opts->dump_delay_ns = 5000000000ULL;
    opts->dump_on_unmap = true;
    opts->max_dump_bytes = 1ULL << 30;
    opts->exit_dump_timeout_ns = 10000000000ULL;
    opts->stack_depth = 32;

    unsigned follow_flags = 0, time_flags = 0;
    bool decode_fds_flag = false, trace_flag = false;

    /* 0, not 1, makes glibc reset its internal state too (a half-parsed
     * "-jv" cluster), so repeated calls, as in the unit tests, work. */
    optind = 0;
    opterr = 0;

    for (;;) {
        /* The word getopt is about to look at; with "+" it never permutes,
         * so this is the one any error is about. */
        int idx = optind > 0 ? optind : 1;
        const char *word = idx < argc ? argv[idx] : "";
        bool typed_long = word[0] == '-' && word[1] == '-' && word[2] != '\0';

        int c = getopt_long(argc, argv, short_options, long_options, NULL);
        if (c == -1)
            break;

        char name[40];
        switch (c) {
        case 'p': {
            char bad[32];
            bool too_many;
            if (!parse_pid_list(optarg, opts->pids, &opts->npids, OPTIONS_MAX_PIDS, &too_many,
                                bad, sizeof bad)) {
                if (too_many)
                    log_error("too many -p options at '%s': at most %d processes", optarg,
                              OPTIONS_MAX_PIDS);
                else
                    log_error("invalid PID '%s' for --pid: use a positive process id, or a "
                              "list such as 1234,5678",
                              bad);
                return OPTIONS_USAGE_ERROR;
            }
            break;
        }
        case 'm':
            if (!number_option(optarg, "--min-size", true, &opts->min_size))
                return OPTIONS_USAGE_ERROR;
            break;
        case OPT_MAX_SIZE:
            if (!number_option(optarg, "--max-size", true, &opts->max_size))
                return OPTIONS_USAGE_ERROR;
            if (opts->max_size == 0) {
                log_error("--max-size 0 would report nothing: give a size above --min-size");
                return OPTIONS_USAGE_ERROR;
            }
            break;
        case OPT_FAILED:
            opts->report_failed = true;
            break;
        case 'o':
            if (optarg[0] == '\0') {
                log_error("empty file name for --output: give a path, or '-' for stdout");
                return OPTIONS_USAGE_ERROR;
            }
            opts->output_path = optarg;
            break;
        case 'j':
            opts->json = true;
            break;
        case 'd':
            if (!number_option(optarg, "--duration", false, &opts->duration_ns))
                return OPTIONS_USAGE_ERROR;
            opts->has_duration = true;
            break;
        case 'v':
            opts->verbose++;
            break;
        case OPT_DELAY:
            if (!number_option(optarg, "--delay", false, &opts->dump_delay_ns))
                return OPTIONS_USAGE_ERROR;
            break;
        case OPT_DUMP_DIR:
            if (optarg[0] == '\0') {
                log_error("empty directory name for --dump-dir");
                return OPTIONS_USAGE_ERROR;
            }
            opts->dump_dir = optarg;
            break;
        case OPT_NO_DUMP:
            opts->dump = false;
            break;
        case OPT_NO_DUMP_ON_UNMAP:
            opts->dump_on_unmap = false;
            break;
        case OPT_REDUMP:
            if (!number_option(optarg, "--redump", false, &opts->redump_ns))
                return OPTIONS_USAGE_ERROR;
            if (opts->redump_ns == 0) {
                log_error("invalid duration '%s' for --redump: use a positive interval such as 10s",
                          optarg);
                return OPTIONS_USAGE_ERROR;
            }
            break;
        case OPT_STRINGS:
        case 's': { /* strace's -s N: here the shortest run kept, as --strings=N */
            uint64_t min = 6;
            if (optarg && !count_option(optarg, c == 's' ? "-s" : "--strings", "length", 1,
                                        OPTIONS_STRINGS_MIN_MAX, &min))
                return OPTIONS_USAGE_ERROR;
            opts->strings_min = (unsigned)min;
            break;
        }
        case 'f': /* strace's -f: always so here; -ff cannot be */
            if (++follow_flags > 1) {
                log_error("-ff (one output file per process) is not supported: events go to "
                          "one stream (-o FILE) and each names its pid and tid; use --json "
                          "and split by pid");
                return OPTIONS_USAGE_ERROR;
            }
            break;
        case 't':
            if (++time_flags > 3) {
                log_error("-tttt is not supported: use -t (seconds), -tt (microseconds, the "
                          "default) or -ttt (seconds since 1970)");
                return OPTIONS_USAGE_ERROR;
            }
            opts->time_format = time_flags == 1   ? OPTIONS_TIME_CLOCK_S
                                : time_flags == 2 ? OPTIONS_TIME_CLOCK_US
                                                  : OPTIONS_TIME_EPOCH_US;
            break;
        case 'y': /* strace's -y: the paths are always shown */
            decode_fds_flag = true;
            break;
        case 'e':
            if (!trace_expression(optarg))
                return OPTIONS_USAGE_ERROR;
            trace_flag = true;
            break;
        case 'T':
            log_error("-T (time spent in each call) is not measured: mmapwatch reports each "
                      "call when it returns, with its time (-t, -tt, -ttt, or ts in --json)");
            return OPTIONS_USAGE_ERROR;
        case OPT_MAX_DUMP_BYTES:
            if (!number_option(optarg, "--max-dump-bytes", true, &opts->max_dump_bytes))
                return OPTIONS_USAGE_ERROR;
            break;
        case OPT_MAX_DUMPS:
            if (!count_option(optarg, "--max-dumps", "count", 1, UINT64_MAX, &opts->max_dumps))
                return OPTIONS_USAGE_ERROR;
            break;
        case OPT_EXIT_DUMP_TIMEOUT:
            if (!number_option(optarg, "--exit-dump-timeout", false,
                               &opts->exit_dump_timeout_ns))
                return OPTIONS_USAGE_ERROR;
            break;
        case 'k':
            opts->stack = true;
            break;
        case OPT_STACK_DEPTH: {
            uint64_t depth;
            if (!count_option(optarg, "--stack-depth", "depth", 1, OPTIONS_STACK_DEPTH_MAX,
                              &depth))
                return OPTIONS_USAGE_ERROR;
            opts->stack_depth = (unsigned)depth;
            break;
        }
        case 'c':
            opts->summary = true;
            break;
        case OPT_COMM:
            /* The kernel keeps 15 bytes of a name: a longer NAME can never match. */
            if (optarg[0] == '\0' || strlen(optarg) > 15) {
                log_error("invalid name '%s' for --comm: use 1 to 15 characters, as in "
                          "/proc/PID/comm", optarg);
                return OPTIONS_USAGE_ERROR;
            }
            if (opts->ncomms == OPTIONS_MAX_COMMS) {
                log_error("too many --comm options at '%s': at most %d names", optarg,
                          OPTIONS_MAX_COMMS);
                return OPTIONS_USAGE_ERROR;
            }
            opts->comms[opts->ncomms++] = optarg;
            break;
        case OPT_MATCH: {
            regex_t re;
            int err = regcomp(&re, optarg, REG_EXTENDED | REG_NOSUB);
            if (err != 0) {
                char why[128];
                regerror(err, &re, why, sizeof why);
                log_error("invalid regular expression '%s' for --match: %s", optarg, why);
                return OPTIONS_USAGE_ERROR;
            }
            regfree(&re);
            opts->match_regex = optarg;
            break;
        }
        case OPT_WAIT:
            opts->wait_for_target = true;
            break;
        case OPT_CGROUP:
        case OPT_CONTAINER:
        case OPT_POD:
            if (!cgroup_selector(c == OPT_CGROUP      ? CGROUP_SEL_PATH
                                 : c == OPT_CONTAINER ? CGROUP_SEL_CONTAINER
                                                      : CGROUP_SEL_POD,
                                 optarg, opts))
                return OPTIONS_USAGE_ERROR;
            break;
        case OPT_CGROUP_THRESHOLD:
            if (!parse_threshold(optarg, opts))
                return OPTIONS_USAGE_ERROR;
            opts->has_cgroup_threshold = true;
            break;
        case OPT_DUMP_ON_THRESHOLD:
            opts->dump_on_threshold = true;
            break;
        case OPT_ATTACH_ABOVE:
            if (!mark_parse(optarg, "--attach-above", &opts->attach_above))
                return OPTIONS_USAGE_ERROR;
            opts->has_attach_above = true;
            opts->adopt_existing = true;
            break;
        case OPT_DETACH_BELOW:
            if (!mark_parse(optarg, "--detach-below", &opts->detach_below))
                return OPTIONS_USAGE_ERROR;
            opts->has_detach_below = true;
            break;
        case OPT_ADOPT:
            opts->adopt_existing = true;
            break;
        case OPT_SOURCE:
            if (strcmp(optarg, "perf") == 0) {
                opts->source = OPTIONS_SOURCE_PERF;
            } else if (strcmp(optarg, "ptrace") == 0) {
                opts->source = OPTIONS_SOURCE_PTRACE;
            } else if (strcmp(optarg, "auto") == 0) {
                opts->source = OPTIONS_SOURCE_AUTO;
            } else {
                log_error("invalid value '%s' for --source: use perf, ptrace or auto", optarg);
                return OPTIONS_USAGE_ERROR;
            }
            break;
        case OPT_PERF_LAYOUT:
            if (strcmp(optarg, "auto") == 0) {
                opts->perf_layout = 0;
            } else if (strcmp(optarg, "thread") == 0) {
                opts->perf_layout = 1;
            } else if (strcmp(optarg, "cgroup") == 0) {
                opts->perf_layout = 2;
            } else {
                log_error("invalid value '%s' for --perf-layout: use thread, cgroup or auto",
                          optarg);
                return OPTIONS_USAGE_ERROR;
            }
            break;
        case OPT_PERF_CALLS:
            if (strcmp(optarg, "auto") == 0) {
                opts->perf_calls = 0;
            } else if (strcmp(optarg, "bpf") == 0) {
                opts->perf_calls = 1;
            } else if (strcmp(optarg, "raw") == 0) {
                opts->perf_calls = 2;
            } else if (strcmp(optarg, "syscalls") == 0) {
                opts->perf_calls = 3;
            } else {
                log_error("invalid value '%s' for --perf-calls: use bpf, raw, syscalls or auto",
                          optarg);
                return OPTIONS_USAGE_ERROR;
            }
            break;
        case OPT_PERF_PAGES: {
            uint64_t pages;
            if (!count_option(optarg, "--perf-pages", "page count", 1, OPTIONS_PERF_PAGES_MAX,
                              &pages))
                return OPTIONS_USAGE_ERROR;
            if (pages & (pages - 1)) {
                log_error("invalid page count '%s' for --perf-pages: use a power of two, "
                          "such as 256 or 1024", optarg);
                return OPTIONS_USAGE_ERROR;
            }
            opts->perf_pages = (unsigned)pages;
            break;
        }
        case 'h':
            print_usage(stdout);
            fflush(stdout);
            return OPTIONS_DONE;
        case 'V':
            puts(VERSION_TEXT);
            fflush(stdout);
            return OPTIONS_DONE;
        case ':': {
            const struct option *o = option_by_val(optopt);
            const char *meta = !o                    ? "a value"
                               : optopt == 'p'       ? "a PID"
                               : optopt == 'm'       ? "a SIZE such as 16M"
                               : optopt == 'o'       ? "a FILE"
                               : optopt == 'd'       ? "a DURATION such as 30s"
                                                     : "a value";
            log_error("option '%s' needs an argument: %s",
                      spelled(optopt, typed_long, name, sizeof name), meta);
            return OPTIONS_USAGE_ERROR;
        }
        case '?':
        default:
            if (typed_long)
                report_bad_long(word, optopt);
            else
                log_error("unknown option '%s'; see mmapwatch --help",
                          spelled(optopt, false, name, sizeof name));
            return OPTIONS_USAGE_ERROR;
        }
    }

    if (optind < argc)
        opts->command = &argv[optind];

    /* The strace flags that change nothing here say so with -v, so that a
     * habit costs nothing and a question has an answer. */
    log_set_verbose(opts->verbose);
    if (follow_flags)
        log_info("-f: threads and children are always followed; -f changes nothing");
    if (decode_fds_flag)
        log_info("-y: file-backed mmaps always show their path; -y changes nothing");
    if (trace_flag)
        log_info("-e trace=: mmap, munmap, mremap and mprotect of the reported regions are "
                 "always all reported; -e changes nothing");

    if (OPTIONS_ATTACH_MODE(opts) && opts->command) {
        log_error("use either -p PID, --comm, --match, --container, --pod or --cgroup, or a "
                  "command, not both (got "
                  "command '%s')", opts->command[0]);
        return OPTIONS_USAGE_ERROR;
    }
    if (!OPTIONS_ATTACH_MODE(opts) && !opts->command) {
        log_error("no target: give -p PID, --comm NAME, --match REGEX, --container ID, --pod "
                  "UID, --cgroup PATH or a command to run; see mmapwatch --help");
        return OPTIONS_USAGE_ERROR;
    }
    if (opts->wait_for_target && !OPTIONS_SELECTS(opts)) {
        log_error("--wait needs --comm NAME, --match REGEX, --container ID, --pod UID or "
                  "--cgroup PATH: it waits for a process they select");
        return OPTIONS_USAGE_ERROR;
    }
    if (opts->dump_on_threshold && !opts->has_cgroup_threshold) {
        log_error("--dump-on-threshold needs --cgroup-threshold SIZE|PCT");
        return OPTIONS_USAGE_ERROR;
    }
    if (opts->dump_on_threshold && !opts->dump) {
        log_error("--dump-on-threshold and --no-dump contradict each other");
        return OPTIONS_USAGE_ERROR;
    }
    if (opts->has_attach_above && opts->command) {
        log_error("--attach-above applies to attach mode (-p, --comm, --match): a launched "
                  "command is traced from its first instruction");
        return OPTIONS_USAGE_ERROR;
    }
    if (opts->adopt_existing && opts->command) {
        log_error("--adopt applies to attach mode (-p, --comm, --match): a launched command "
                  "has nothing mapped before it is traced");
        return OPTIONS_USAGE_ERROR;
    }
    if (opts->has_detach_below && !opts->has_attach_above) {
        log_error("--detach-below needs --attach-above SIZE|PCT");
        return OPTIONS_USAGE_ERROR;
    }
    if (opts->has_detach_below && !opts->detach_below.pct == !opts->attach_above.pct &&
        (opts->detach_below.pct > opts->attach_above.pct ||
         opts->detach_below.bytes > opts->attach_above.bytes)) {
        log_error("--detach-below is above --attach-above: give a lower mark at or below "
                  "the attach mark");
        return OPTIONS_USAGE_ERROR;
    }
    if (opts->has_duration && opts->command) {
        log_error("--duration applies to attach mode (-p); a launched command is traced "
                  "until it exits");
        return OPTIONS_USAGE_ERROR;
    }
    if (opts->perf_calls == 1 && opts->perf_layout) {
        log_error("--perf-layout places perf events per thread or per CPU; --perf-calls bpf "
                  "uses none of them: give one or the other");
        return OPTIONS_USAGE_ERROR;
    }
    if (opts->max_size && opts->max_size < opts->min_size) {
        log_error("--max-size %" PRIu64 " is below --min-size %" PRIu64
                  ": nothing could be reported; give a --max-size of at least --min-size",
                  opts->max_size, opts->min_size);
        return OPTIONS_USAGE_ERROR;
    }
    return OPTIONS_OK;
}
