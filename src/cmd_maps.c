/*
 * mmapwatch maps: a process's mappings with their memory use, from
 * /proc/PID/smaps, the numbers pmap -x shows (one row per mapping, nothing
 * merged), sorted by what matters for "where did the memory go", and with
 * --watch the regions whose RSS grows, round after round (the slowly
 * growing regions of the story in DESIGN.md).
 *
 * Nothing here traces or stops the target: smaps is read like any file,
 * under the kernel's ptrace read-access check.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "json.h"
#include "log.h"
#include "maps.h"
#include "options.h"
#include "procfs.h"

enum sort_key { SORT_RSS, SORT_SIZE, SORT_DIRTY, SORT_SWAP, SORT_ADDR };

static const struct {
    const char *name;
    enum sort_key key;
} sort_names[] = {
    {"rss", SORT_RSS}, {"size", SORT_SIZE}, {"dirty", SORT_DIRTY},
    {"swap", SORT_SWAP}, {"addr", SORT_ADDR},
};

struct maps_opts {
    pid_t pids[OPTIONS_MAX_PIDS]; /* -p PID, PID operands, 1234,5678 lists */
    unsigned npids;
    pid_t pid;                    /* --watch: its one process */
    uint64_t min_size;
    enum sort_key sort;
    bool sort_given;
    uint64_t top;          /* 0: all */
    bool json;
    bool watch;
    const char *interval_text; /* as typed, for the baseline line */
    uint64_t interval_ns;
    uint64_t rounds;       /* 0: until a signal or the process exits */
};

enum {
    OPT_TOP = 256,
    OPT_ROUNDS,
};

static const struct option long_options[] = {
    {"pid", required_argument, NULL, 'p'},
    {"min-size", required_argument, NULL, 'm'},
    {"sort", required_argument, NULL, 's'},
    {"top", required_argument, NULL, OPT_TOP},
    {"json", no_argument, NULL, 'j'},
    {"watch", required_argument, NULL, 'w'},
    {"rounds", required_argument, NULL, OPT_ROUNDS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void print_help(void)
{
    fputs(
        "Usage: mmapwatch maps [-p] PID [PID...] [--min-size SIZE] [--sort KEY] [--top N]\n"
        "                      [--json]\n"
        "       mmapwatch maps [-p] PID --watch INTERVAL [--rounds N] [--min-size SIZE]\n"
        "                      [--top N] [--json]\n"
        "\n"
        "Lists the mappings of process PID with the memory each one uses, read from\n"
        "/proc/PID/smaps: the same rows and numbers as pmap -x (one row per mapping),\n"
        "largest first, then a totals row. The target is not stopped or traced.\n"
        "With several processes, one table each, under a line naming the process.\n"
        "\n"
        "OPTIONS\n"
        "  -p, --pid PID         the process to look at, as with pmap PID; repeat it\n"
        "                        or list them (1234,5678) for several, up to 64\n"
        "                        (--watch: one)\n"
        "  -m, --min-size SIZE   only mappings of at least SIZE bytes (default: 0, all)\n"
        "  -s, --sort KEY        rss, size, dirty or swap (largest first) or addr\n"
        "                        (lowest first) (default: rss)\n"
        "      --top N           only the first N rows after sorting (default: all)\n"
        "  -j, --json            JSON Lines: one object per mapping, exact bytes\n"
        "  -w, --watch INTERVAL  every INTERVAL, list the mappings whose RSS grew\n"
        "                        since the previous round and by how much; the first\n"
        "                        round is the baseline; runs until SIGINT or SIGTERM\n"
        "                        or until the process exits\n"
        "      --rounds N        with --watch: stop after N rounds, the baseline\n"
        "                        included (default: no limit)\n"
        "  -h, --help            print this help and exit\n"
        "\n"
        "COLUMNS\n"
        "  Address  Size  RSS  Dirty  Swap  Mode  Mapping\n"
        "  Sizes are in KiB/MiB/GiB (--json gives bytes). Dirty is Private_Dirty plus\n"
        "  Shared_Dirty. Mode is the kernel's rwxp (p: private, s: shared). Mapping\n"
        "  is the file, [heap], [stack], [anon], or [anon:NAME] when the program\n"
        "  named the region; \" (deleted)\" marks a file that was removed.\n"
        "\n"
        "JSON FIELDS\n"
        "  pid, addr (\"0x7f...\"), len, rss, pss, dirty, swap (bytes), prot (\"rw-\"),\n"
        "  shared (bool), offset, path. --watch writes {\"event\":\"baseline\",...}\n"
        "  first, then {\"event\":\"grow\",...,\"growth\":BYTES,...} per grown region,\n"
        "  and {\"event\":\"exit\",...} if the process exits.\n"
        "\n"
        "EXIT STATUS\n"
        "  0 done (also --watch stopped by a signal or by the process exiting),\n"
        "  1 runtime failure (no such process, permission denied), 2 usage error.\n"
        "\n"
        "EXAMPLES\n"
        "  mmapwatch maps 1234 --top 10\n"
        "      the ten mappings of process 1234 with the most resident memory\n"
        "  mmapwatch maps -p 1234 --min-size 16M --sort dirty\n"
        "      mappings of 16 MiB or more, most dirty memory first\n"
        "  mmapwatch maps -p 1234 --json | jq 'select(.path == \"[anon]\") | .rss'\n"
        "      resident bytes of each anonymous mapping\n"
        "  mmapwatch maps -p 1234 --watch 10s\n"
        "      every 10 seconds, the regions that grew and by how much\n",
        stdout);
}

/* A positive decimal count, nothing else. */
static bool parse_count(const char *text, uint64_t *out)
{
    uint64_t v = 0;
    if (!text || !*text)
        return false;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v == 0)
        return false;
    *out = v;
    return true;
}

/* -p's argument or an operand: one pid or a list; false after one line. */
static bool add_pids(struct maps_opts *o, const char *text)
{
    char bad[32];
    bool too_many;
    if (parse_pid_list(text, o->pids, &o->npids, OPTIONS_MAX_PIDS, &too_many, bad, sizeof bad))
        return true;
    if (too_many)
        log_error("maps: too many processes at '%s': at most %d", text, OPTIONS_MAX_PIDS);
    else
        log_error("maps: invalid PID '%s': use a positive process id, or a list such as "
                  "1234,5678",
                  bad);
    return false;
}

/* 0 parsed, 2 usage error (reported), -1 --help printed. */
static int parse_args(int argc, char **argv, struct maps_opts *o)
{
    memset(o, 0, sizeof *o);
    o->sort = SORT_RSS;
    uint64_t rounds = 0;
    bool rounds_given = false;

    optind = 0; /* 0 also resets glibc's state from any earlier parse */
    opterr = 0;
    for (;;) {
        int idx = optind > 0 ? optind : 1;
        const char *word = idx < argc ? argv[idx] : "";
        int c = getopt_long(argc, argv, "+:p:m:s:jw:h", long_options, NULL);
        if (c == -1 && optind < argc && argv[optind][0] != '-') {
            /* pmap's form, "maps 1234 --top 5": a pid, then more options.
             * ("+" keeps getopt from permuting, so errors name the word.) */
            if (!add_pids(o, argv[optind]))
                return 2;
            optind++;
            continue;
        }
        if (c == -1)
            break;
        switch (c) {
        case 'p':
            if (!add_pids(o, optarg))
                return 2;
            break;
        case 'm':
            if (!parse_size(optarg, &o->min_size)) {
                log_error("maps: invalid size '%s' for --min-size: use a number with an "
                          "optional k, M, G suffix (powers of 1024)",
                          optarg);
                return 2;
            }
            break;
        case 's': {
            bool found = false;
            for (size_t i = 0; i < sizeof sort_names / sizeof sort_names[0]; i++) {
                if (strcmp(optarg, sort_names[i].name) == 0) {
                    o->sort = sort_names[i].key;
                    found = true;
                }
            }
            if (!found) {
                log_error("maps: invalid sort key '%s' for --sort: use rss, size, dirty, swap "
                          "or addr",
                          optarg);
                return 2;
            }
            o->sort_given = true;
            break;
        }
        case OPT_TOP:
            if (!parse_count(optarg, &o->top)) {
                log_error("maps: invalid count '%s' for --top: use a positive number", optarg);
                return 2;
            }
            break;
        case 'j':
            o->json = true;
            break;
        case 'w':
            if (!parse_duration(optarg, &o->interval_ns) || o->interval_ns < 1000000) {
                log_error("maps: invalid interval '%s' for --watch: use a duration of at least "
                          "1ms such as 500ms, 10s or 1m",
                          optarg);
                return 2;
            }
            o->watch = true;
            o->interval_text = optarg;
            break;
        case OPT_ROUNDS:
            if (!parse_count(optarg, &rounds)) {
                log_error("maps: invalid count '%s' for --rounds: use a positive number",
                          optarg);
                return 2;
            }
            rounds_given = true;
            break;
        case 'h':
            print_help();
            fflush(stdout);
            return -1;
        default:
            cmd_option_error("maps", c, word, long_options);
            return 2;
        }
    }
    /* pmap's form: the pids as operands. */
    for (; optind < argc; optind++)
        if (!add_pids(o, argv[optind]))
            return 2;
    if (!cmd_check_operands("maps", argc, argv, o->npids > 0))
        return 2;
    if (o->watch && o->npids > 1) {
        log_error("maps: --watch follows one process, got %u: run one mmapwatch maps --watch "
                  "per process",
                  o->npids);
        return 2;
    }
    o->pid = o->pids[0];
    if (rounds_given && !o->watch) {
        log_error("maps: --rounds goes with --watch INTERVAL");
        return 2;
    }
    if (o->watch && o->sort_given) {
        log_error("maps: --sort does not apply to --watch, which lists the largest growth "
                  "first");
        return 2;
    }
    o->rounds = rounds;
    return 0;
}

static uint64_t sort_value(const struct map_entry *e, enum sort_key key)
{
    switch (key) {
    case SORT_RSS:
        return e->rss;
    case SORT_SIZE:
        return e->end - e->start;
    case SORT_DIRTY:
        return e->dirty;
    case SORT_SWAP:
        return e->swap;
    case SORT_ADDR:
        break;
    }
    return e->start;
}

/* Largest first, then by address, so equal rows come in a stable order. */
static int compare_entries(const void *a, const void *b, void *ctx)
{
    const struct map_entry *x = *(const struct map_entry *const *)a;
    const struct map_entry *y = *(const struct map_entry *const *)b;
    enum sort_key key = *(const enum sort_key *)ctx;
    if (key != SORT_ADDR) {
        uint64_t vx = sort_value(x, key), vy = sort_value(y, key);
        if (vx != vy)
            return vx > vy ? -1 : 1;
    }
    return x->start < y->start ? -1 : x->start > y->start;
}

static void short_prot(const struct map_entry *e, char out[4])
{
    memcpy(out, e->prot, 3);
    out[3] = '\0';
}

/* Adds the fields that describe a mapping to a JSON line. */
static void json_mapping(struct json_line *j, const struct map_entry *e)
{
    char prot[4];
    short_prot(e, prot);
    json_add_hex(j, "addr", e->start);
    json_add_uint(j, "len", e->end - e->start);
    json_add_uint(j, "rss", e->rss);
    json_add_uint(j, "pss", e->pss);
    json_add_uint(j, "dirty", e->dirty);
    json_add_uint(j, "swap", e->swap);
    json_add_str(j, "prot", prot);
    json_add_bool(j, "shared", e->prot[3] == 's');
    json_add_uint(j, "offset", e->offset);
    json_add_str(j, "path", maps_label(e));
}

/* Prints a finished JSON line, or says which mapping did not fit (a path
 * of thousands of escaped bytes) rather than print half an object. */
static void put_json(struct json_line *j, const struct map_entry *e)
{
    const char *line = json_end(j);
    if (line)
        printf("%s\n", line);
    else
        log_warn("maps: the mapping at 0x%" PRIx64 " does not fit in a JSON line; left out",
                 e ? e->start : 0);
}

static void text_row(const char *addr, uint64_t size, uint64_t rss, uint64_t dirty,
                     uint64_t swap, const char *mode, const char *label)
{
    char s[4][32];
    printf("%-18s %10s %10s %10s %10s %-4s  %s\n", addr, format_size(size, s[0], sizeof s[0]),
           format_size(rss, s[1], sizeof s[1]), format_size(dirty, s[2], sizeof s[2]),
           format_size(swap, s[3], sizeof s[3]), mode, label);
}

static int finish_output(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        log_error("maps: cannot write the listing: %s", strerror(errno));
        return 1;
    }
    return 0;
}

static int read_smaps(pid_t pid, struct maps_list *list)
{
    if (maps_read(pid, true, list) == 0)
        return 0;
    if (errno == EINVAL)
        log_error("maps: cannot parse /proc/%d/smaps at line %zu", (int)pid, list->bad_line);
    else
        cmd_pid_error("maps", pid, errno, "reading the mappings of");
    return -1;
}

static int list_maps(const struct maps_opts *o, pid_t pid)
{
    struct maps_list list = {0};
    if (read_smaps(pid, &list) < 0)
        return 1;
    if (list.count == 0) {
        /* A kernel thread, or a process that has exited and not been reaped. */
        log_error("maps: process %d has no user-space mappings (a kernel thread, or exited)",
                  (int)pid);
        maps_release(&list);
        return 1;
    }
    const struct map_entry **rows = malloc(list.count * sizeof *rows);
    if (!rows) {
        log_error("maps: out of memory for %zu mappings", list.count);
        maps_release(&list);
        return 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < list.count; i++)
        if (list.entries[i].end - list.entries[i].start >= o->min_size)
            rows[n++] = &list.entries[i];
    enum sort_key key = o->sort;
    qsort_r(rows, n, sizeof *rows, compare_entries, &key);
    if (o->top && o->top < n)
        n = (size_t)o->top;

    uint64_t size = 0, rss = 0, dirty = 0, swap = 0;
    if (!o->json)
        printf("%-18s %10s %10s %10s %10s %-4s  %s\n", "Address", "Size", "RSS", "Dirty", "Swap",
               "Mode", "Mapping");
    for (size_t i = 0; i < n; i++) {
        const struct map_entry *e = rows[i];
        size += e->end - e->start;
        rss += e->rss;
        dirty += e->dirty;
        swap += e->swap;
        if (o->json) {
            struct json_line j;
            json_begin(&j);
            json_add_int(&j, "pid", pid);
            json_mapping(&j, e);
            put_json(&j, e);
        } else {
            char addr[24];
            snprintf(addr, sizeof addr, "0x%" PRIx64, e->start);
            text_row(addr, e->end - e->start, e->rss, e->dirty, e->swap, e->prot,
                     maps_label(e));
        }
    }
    if (!o->json) {
        /* The totals are of the rows shown; when some were left out the
         * label says so, so nobody takes them for the whole process. */
        char what[64];
        if (n == list.count)
            snprintf(what, sizeof what, "%zu mappings", n);
        else
            snprintf(what, sizeof what, "%zu of %zu mappings", n, list.count);
        text_row("total", size, rss, dirty, swap, "", what);
    }
    free(rows);
    maps_release(&list);
    return finish_output();
}

/* --watch */

static void timestamps(char *local, size_t lsize, char *utc, size_t usize)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t secs = ts.tv_sec;
    localtime_r(&secs, &tm);
    snprintf(local, lsize, "%02d:%02d:%02d.%06ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec / 1000);
    gmtime_r(&secs, &tm);
    snprintf(utc, usize, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}

static void json_event_head(struct json_line *j, const char *event, const char *ts, pid_t pid,
                            uint64_t round)
{
    json_begin(j);
    json_add_str(j, "event", event);
    json_add_str(j, "ts", ts);
    json_add_int(j, "pid", pid);
    json_add_uint(j, "round", round);
}

/* The previous round's version of mapping e: the one that starts where it
 * starts, or else (a region that grew downwards, or an adjacent mmap the
 * kernel merged in below it) the one that ends where it ends. */
static const struct map_entry *previous_of(const struct maps_list *prev,
                                           const struct map_entry *e)
{
    const struct map_entry *p = maps_lookup(prev, e->start);
    if (p && p->start == e->start)
        return p;
    p = maps_lookup(prev, e->end - 1);
    if (p && p->end == e->end)
        return p;
    return NULL;
}

struct growth {
    const struct map_entry *e;
    uint64_t bytes;
};

static int compare_growth(const void *a, const void *b)
{
    const struct growth *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return x->e->start < y->e->start ? -1 : x->e->start > y->e->start;
}

static int report_growth(const struct maps_opts *o, const struct maps_list *prev,
                         const struct maps_list *cur, uint64_t round)
{
    struct growth *grown = malloc((cur->count ? cur->count : 1) * sizeof *grown);
    if (!grown) {
        log_error("maps: out of memory comparing %zu mappings", cur->count);
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < cur->count; i++) {
        const struct map_entry *e = &cur->entries[i];
        if (e->end - e->start < o->min_size)
            continue;
        const struct map_entry *p = previous_of(prev, e);
        uint64_t before = p ? p->rss : 0;
        if (e->rss > before)
            grown[n++] = (struct growth){e, e->rss - before};
    }
    qsort(grown, n, sizeof *grown, compare_growth);
    if (o->top && o->top < n)
        n = (size_t)o->top;
    char local[96], utc[96];
    timestamps(local, sizeof local, utc, sizeof utc);
    for (size_t i = 0; i < n; i++) {
        const struct map_entry *e = grown[i].e;
        if (o->json) {
            struct json_line j;
            json_event_head(&j, "grow", utc, o->pid, round);
            json_add_uint(&j, "growth", grown[i].bytes);
            json_mapping(&j, e);
            put_json(&j, e);
        } else {
            char s[3][32], addr[24];
            snprintf(addr, sizeof addr, "0x%" PRIx64, e->start);
            printf("%s %-18s +%s (+%" PRIu64 " bytes)  rss %s of %s  %s  %s\n", local, addr,
                   format_size(grown[i].bytes, s[0], sizeof s[0]), grown[i].bytes,
                   format_size(e->rss, s[1], sizeof s[1]),
                   format_size(e->end - e->start, s[2], sizeof s[2]), e->prot, maps_label(e));
        }
    }
    free(grown);
    return finish_output() ? -1 : 0;
}

static uint64_t total_rss(const struct maps_list *l)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < l->count; i++)
        sum += l->entries[i].rss;
    return sum;
}

static void report_exit(const struct maps_opts *o, uint64_t round)
{
    char local[96], utc[96];
    timestamps(local, sizeof local, utc, sizeof utc);
    if (o->json) {
        struct json_line j;
        json_event_head(&j, "exit", utc, o->pid, round);
        put_json(&j, NULL);
    } else {
        printf("%s process %d exited\n", local, (int)o->pid);
    }
}

/* Sleeps until the monotonic deadline; true if a stop signal came first.
 * The stop signals are blocked and taken here with sigtimedwait, so one
 * that arrives while we read smaps is not lost or fatal: it ends the
 * next wait at once. */
static bool wait_until(const struct timespec *deadline, const sigset_t *stopset)
{
    for (;;) {
        struct timespec now, left;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > deadline->tv_sec ||
            (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec))
            left = (struct timespec){0, 0};
        else {
            left.tv_sec = deadline->tv_sec - now.tv_sec;
            left.tv_nsec = deadline->tv_nsec - now.tv_nsec;
            if (left.tv_nsec < 0) {
                left.tv_sec--;
                left.tv_nsec += 1000000000L;
            }
        }
        int sig = sigtimedwait(stopset, NULL, &left);
        if (sig > 0)
            return true;
        if (errno == EAGAIN)
            return false;
        /* EINTR: some other signal's handler ran; keep waiting. */
    }
}

static void add_ns(struct timespec *t, uint64_t ns)
{
    uint64_t total = (uint64_t)t->tv_nsec + ns % 1000000000ULL;
    t->tv_sec += (time_t)(ns / 1000000000ULL + total / 1000000000ULL);
    t->tv_nsec = (long)(total % 1000000000ULL);
}

static int watch_maps(const struct maps_opts *o)
{
    /* Blocked for the rest of the process's life, on purpose: a signal that
     * comes after the last round must not turn a clean exit 0 into death
     * by SIGINT; we are about to exit anyway. */
    sigset_t stopset;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGINT);
    sigaddset(&stopset, SIGTERM);
    sigaddset(&stopset, SIGHUP);
    sigprocmask(SIG_BLOCK, &stopset, NULL);

    struct maps_list prev = {0}, cur = {0};
    if (read_smaps(o->pid, &prev) < 0)
        return 1;
    if (prev.count == 0) {
        log_error("maps: process %d has no user-space mappings to watch (a kernel thread, or "
                  "exited)",
                  (int)o->pid);
        return 1;
    }
    uint64_t round = 1;
    char local[96], utc[96];
    timestamps(local, sizeof local, utc, sizeof utc);
    if (o->json) {
        struct json_line j;
        json_event_head(&j, "baseline", utc, o->pid, round);
        json_add_uint(&j, "mappings", prev.count);
        json_add_uint(&j, "rss", total_rss(&prev));
        put_json(&j, NULL);
    } else {
        char rss[32];
        printf("%s watching process %d every %s: %zu mappings, %s resident (baseline); "
               "growing regions follow\n",
               local, (int)o->pid, o->interval_text, prev.count,
               format_size(total_rss(&prev), rss, sizeof rss));
    }
    int status = finish_output();

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    while (status == 0 && (o->rounds == 0 || round < o->rounds)) {
        add_ns(&deadline, o->interval_ns);
        if (wait_until(&deadline, &stopset))
            break;
        round++;
        /* A round that took longer than the interval must not make the
         * next ones come back to back to catch up. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > deadline.tv_sec ||
            (now.tv_sec == deadline.tv_sec && now.tv_nsec > deadline.tv_nsec))
            deadline = now;

        int read_rc = maps_read(o->pid, true, &cur);
        int err = read_rc < 0 ? errno : 0;
        /* Gone (ENOENT, ESRCH), or a zombie not yet reaped, whose smaps
         * is empty: the process exited, which ends the watch normally. */
        if ((read_rc == 0 && cur.count == 0) || err == ENOENT || err == ESRCH) {
            report_exit(o, round);
            status = finish_output();
            break;
        }
        if (read_rc < 0) {
            if (err == EINVAL)
                log_error("maps: cannot parse /proc/%d/smaps at line %zu", (int)o->pid,
                          cur.bad_line);
            else
                cmd_pid_error("maps", o->pid, err, "reading the mappings of");
            status = 1;
            break;
        }
        if (report_growth(o, &prev, &cur, round) < 0)
            status = 1;
        maps_release(&prev);
        prev = cur;
        cur = (struct maps_list){0};
    }
    maps_release(&prev);
    maps_release(&cur);
    return status;
}

int cmd_maps_main(int argc, char **argv)
{
    struct maps_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc < 0)
        return 0;
    if (rc > 0)
        return rc;
    if (o.watch)
        return watch_maps(&o);
    /* Several processes: each table under its process's name; one that
     * cannot be read is said and the others are still listed. */
    int status = 0;
    for (unsigned i = 0; i < o.npids; i++) {
        if (o.npids > 1 && !o.json) {
            char comm[PROCFS_COMM_MAX] = "?";
            procfs_read_comm(o.pids[i], o.pids[i], comm);
            printf("%sprocess %d (", i ? "\n" : "", (int)o.pids[i]);
            /* The program chose its name: no raw control bytes to a terminal. */
            for (const unsigned char *c = (const unsigned char *)comm; *c; c++)
                printf(*c < 0x20 || *c >= 0x7f || *c == '\\' ? "\\x%02x" : "%c", *c);
            printf(")\n");
        }
        if (list_maps(&o, o.pids[i]) != 0)
            status = 1;
    }
    return status;
}
