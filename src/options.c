/*
 * options: the command line turned into struct options, plus the strict
 * parsers for sizes and durations and the help text.
 *
 * getopt_long does the splitting (with "+" so the traced command's own
 * options are never taken for ours); every diagnosis is ours, so each
 * usage error is exactly one line that quotes what the user typed.
 * Numbers are parsed by hand: sscanf/strtod would accept whitespace, signs,
 * hex and exponents, and binary floating point cannot give 1.5M exactly.
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
#include <strings.h>

#include "log.h"

#define VERSION_TEXT "mmapwatch 0.1.0"

enum num_error {
    NUM_OK,
    NUM_MALFORMED,
    NUM_NEGATIVE,
    NUM_TOO_LARGE,
};

/* More fractional digits than this would overflow the arithmetic below;
 * nobody types them, so they are refused rather than silently dropped. */
#define FRAC_DIGITS_MAX 18

struct decimal {
    uint64_t whole;
    uint64_t frac;  /* the digits after the point, as an integer */
    uint64_t scale; /* 10^(number of those digits); 1 when there are none */
};

/* digits [ "." digits ] at *p, advancing *p past them. */
static enum num_error parse_decimal(const char **p, struct decimal *d)
{
    const char *s = *p;
    d->whole = 0;
    d->frac = 0;
    d->scale = 1;

    if (*s == '-')
        return NUM_NEGATIVE;
    if (*s < '0' || *s > '9')
        return NUM_MALFORMED;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned digit = (unsigned)(*s - '0');
        if (d->whole > (UINT64_MAX - digit) / 10)
            return NUM_TOO_LARGE;
        d->whole = d->whole * 10 + digit;
    }
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return NUM_MALFORMED;
        for (int n = 0; *s >= '0' && *s <= '9'; s++, n++) {
            if (n == FRAC_DIGITS_MAX)
                return NUM_MALFORMED;
            d->frac = d->frac * 10 + (uint64_t)(*s - '0');
            d->scale *= 10;
        }
    }
    *p = s;
    return NUM_OK;
}

/* floor(frac * mult / scale) for frac < scale <= 10^18, exact in 64 bits:
 * long multiplication over the bits of mult keeping the remainder below
 * scale, so no intermediate exceeds 2 * 10^18. */
static uint64_t frac_times(uint64_t frac, uint64_t mult, uint64_t scale)
{
    uint64_t q = 0, r = 0;
    for (int bit = 63; bit >= 0; bit--) {
        q <<= 1;
        r <<= 1;
        if (r >= scale) {
            r -= scale;
            q++;
        }
        if ((mult >> bit) & 1) {
            r += frac;
            if (r >= scale) {
                r -= scale;
                q++;
            }
        }
    }
    return q;
}

static enum num_error scale_decimal(const struct decimal *d, uint64_t mult, uint64_t *out)
{
    if (mult != 0 && d->whole > UINT64_MAX / mult)
        return NUM_TOO_LARGE;
    uint64_t total = d->whole * mult;
    uint64_t part = frac_times(d->frac, mult, d->scale);
    if (part > UINT64_MAX - total)
        return NUM_TOO_LARGE;
    *out = total + part;
    return NUM_OK;
}

struct unit {
    const char *suffix;
    uint64_t mult;
};

/* Matched case-insensitively: "4k" and "4K", "16M" and "16m" all mean the
 * same, since a size has no milli- to be confused with. */
static const struct unit size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1ULL << 10}, {"kb", 1ULL << 10}, {"kib", 1ULL << 10},
    {"m", 1ULL << 20}, {"mb", 1ULL << 20}, {"mib", 1ULL << 20},
    {"g", 1ULL << 30}, {"gb", 1ULL << 30}, {"gib", 1ULL << 30},
    {"t", 1ULL << 40}, {"tb", 1ULL << 40}, {"tib", 1ULL << 40},
};

/* Matched exactly: "m" is minutes and "ms" milliseconds. */
static const struct unit duration_units[] = {
    {"", 1000000000ULL},
    {"ns", 1},
    {"us", 1000ULL},
    {"ms", 1000000ULL},
    {"s", 1000000000ULL},
    {"m", 60ULL * 1000000000ULL},
    {"h", 3600ULL * 1000000000ULL},
};

static enum num_error parse_with_units(const char *text, const struct unit *units,
                                       size_t nunits, bool ignore_case, uint64_t *out)
{
    if (!text)
        return NUM_MALFORMED;
    const char *p = text;
    struct decimal d;
    enum num_error err = parse_decimal(&p, &d);
    if (err != NUM_OK)
        return err;
    for (size_t i = 0; i < nunits; i++) {
        bool same = ignore_case ? strcasecmp(p, units[i].suffix) == 0
                                : strcmp(p, units[i].suffix) == 0;
        if (same)
            return scale_decimal(&d, units[i].mult, out);
    }
    return NUM_MALFORMED;
}

static enum num_error size_error(const char *text, uint64_t *bytes)
{
    return parse_with_units(text, size_units, sizeof size_units / sizeof size_units[0],
                            true, bytes);
}

static enum num_error duration_error(const char *text, uint64_t *ns)
{
    return parse_with_units(text, duration_units,
                            sizeof duration_units / sizeof duration_units[0], false, ns);
}

int parse_size(const char *text, uint64_t *bytes)
{
    uint64_t v;
    if (size_error(text, &v) != NUM_OK)
        return -1;
    *bytes = v;
    return 0;
}

int parse_duration(const char *text, uint64_t *nanoseconds)
{
    uint64_t v;
    if (duration_error(text, &v) != NUM_OK)
        return -1;
    *nanoseconds = v;
    return 0;
}

const char *format_size(uint64_t bytes, char *buf, unsigned size)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (!buf || size == 0)
        return buf;
    if (bytes < 1024) {
        snprintf(buf, size, "%u B", (unsigned)bytes);
        return buf;
    }
    unsigned u = 0;
    uint64_t unit = 1024;
    while (u + 1 < sizeof units / sizeof units[0] && bytes / unit >= 1024) {
        unit <<= 10;
        u++;
    }
    /* Round to the nearest tenth in integers; rem * 10 cannot overflow
     * because rem < unit <= 2^60. */
    uint64_t whole = bytes / unit;
    uint64_t tenths = ((bytes % unit) * 10 + unit / 2) / unit;
    if (tenths == 10) {
        whole++;
        tenths = 0;
    }
    /* 1023.96 KiB rounds to 1024.0 KiB: say 1.0 MiB instead. */
    if (whole == 1024 && u + 1 < sizeof units / sizeof units[0]) {
        whole = 1;
        u++;
    }
    snprintf(buf, size, "%u.%u %s", (unsigned)whole, (unsigned)tenths, units[u]);
    return buf;
}

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
    OPT_MAX_SIZE,
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
    {"cgroup-threshold", required_argument, NULL, OPT_CGROUP_THRESHOLD},
    {"dump-on-threshold", no_argument, NULL, OPT_DUMP_ON_THRESHOLD},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* "+": stop at the first non-option, the command. ":": report a missing
 * argument as ':' so it gets its own message. */
static const char short_options[] = "+:p:m:o:jd:vkchV";

static void print_usage(FILE *out)
{
    fputs(
        "Usage: mmapwatch [options] -p PID [-p PID ...]\n"
        "       mmapwatch [options] [--] COMMAND [ARGS...]\n"
        "\n"
        "Reports every mmap of a process, of all its threads and of its children,\n"
        "and what later happens to each reported region: munmap, mremap, mprotect,\n"
        "and its end at exec or exit. Attach to running processes with -p (they keep\n"
        "running after mmapwatch detaches), or give a command to launch and trace\n"
        "until it exits. Each event is one strace-like line on stderr, or a JSON\n"
        "object per line with --json.\n"
        "\n"
        "OPTIONS\n"
        "  -p, --pid PID        attach to process PID and all its threads; repeat\n"
        "                       for more processes, up to 64 (default: none, launch\n"
        "                       COMMAND instead)\n"
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
        "CALL STACKS\n"
        "  -k, --stack          show the call stack of the thread at each reported\n"
        "                       mmap (default: off)\n"
        "      --stack-depth N  at most N frames, 1 to 256 (default: 32)\n"
        "  -c, --summary        at the end, a table of reported mmaps by call site\n"
        "                       and thread, and a histogram of their sizes\n"
        "                       (default: off)\n"
        "\n"
        "MEMORY CGROUP\n"
        "      --cgroup-threshold SIZE|PCT  report when the target's memory cgroup\n"
        "                       uses more than SIZE bytes or PCT% of its limit,\n"
        "                       e.g. 2G or 90% (default: off); cgroup OOM kills\n"
        "                       are reported too\n"
        "      --dump-on-threshold  then dump every reported region still mapped\n"
        "                       (default: off)\n"
        "\n"
        "DUMPS (each reported region's contents, written while the target runs)\n"
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
        "      --strings[=MIN]  also write the printable runs of at least MIN\n"
        "                       bytes (default MIN: 6) and show the 10 most common\n"
        "      --max-dump-bytes SIZE  stop dumping after SIZE bytes written\n"
        "                       (default: 1G)\n"
        "      --max-dumps N    stop dumping after N dumps (default: no limit)\n"
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

static bool number_option(const char *text, const char *option, bool is_size, uint64_t *out)
{
    enum num_error err = is_size ? size_error(text, out) : duration_error(text, out);
    const char *what = is_size ? "size" : "duration";
    const char *hint = is_size
                           ? "use a number with an optional k, M, G suffix (powers of 1024)"
                           : "use a number with an optional unit ms, s, m or h (e.g. 500ms, "
                             "30s, 1.5m)";
    switch (err) {
    case NUM_OK:
        return true;
    case NUM_NEGATIVE:
        log_error("negative %s '%s' for %s: %s", what, text, option, hint);
        return false;
    case NUM_TOO_LARGE:
        log_error("%s '%s' for %s is too large: %s", what, text, option,
                  is_size ? "the limit is 16 EiB" : "the limit is about 584 years");
        return false;
    case NUM_MALFORMED:
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
            pid_t pid;
            if (!parse_pid(optarg, &pid)) {
                log_error("invalid PID '%s' for --pid: use a positive process id", optarg);
                return OPTIONS_USAGE_ERROR;
            }
            bool seen = false;
            for (unsigned i = 0; i < opts->npids; i++)
                seen |= opts->pids[i] == pid;
            if (seen) /* attaching twice would only fail with EPERM */
                break;
            if (opts->npids == OPTIONS_MAX_PIDS) {
                log_error("too many -p options at '%s': at most %d processes", optarg,
                          OPTIONS_MAX_PIDS);
                return OPTIONS_USAGE_ERROR;
            }
            opts->pids[opts->npids++] = pid;
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
        case OPT_STRINGS: {
            uint64_t min = 6;
            if (optarg && !count_option(optarg, "--strings", "length", 1, 256, &min))
                return OPTIONS_USAGE_ERROR;
            opts->strings_min = (unsigned)min;
            break;
        }
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
        case OPT_CGROUP_THRESHOLD:
            if (!parse_threshold(optarg, opts))
                return OPTIONS_USAGE_ERROR;
            opts->has_cgroup_threshold = true;
            break;
        case OPT_DUMP_ON_THRESHOLD:
            opts->dump_on_threshold = true;
            break;
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

    if (OPTIONS_ATTACH_MODE(opts) && opts->command) {
        log_error("use either -p PID, --comm or --match, or a command, not both (got "
                  "command '%s')", opts->command[0]);
        return OPTIONS_USAGE_ERROR;
    }
    if (!OPTIONS_ATTACH_MODE(opts) && !opts->command) {
        log_error("no target: give -p PID, --comm NAME, --match REGEX or a command to run; "
                  "see mmapwatch --help");
        return OPTIONS_USAGE_ERROR;
    }
    if (opts->wait_for_target && opts->ncomms == 0 && !opts->match_regex) {
        log_error("--wait needs --comm NAME or --match REGEX: it waits for a process by name");
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
    if (opts->has_duration && opts->command) {
        log_error("--duration applies to attach mode (-p); a launched command is traced "
                  "until it exits");
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
