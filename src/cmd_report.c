/*
 * mmapwatch report: an events file (--json) and, optionally, the dumps'
 * metadata turned into one self-contained HTML page (report_html.c) or
 * collapsed stacks for flame graph tools (--folded).
 *
 * Reads only files, never a process: it works on a laptop with files
 * copied out of a pod. Those files hold what a traced program put in its
 * thread names and memory, so everything read is untrusted: parsed
 * strictly (jsonread.c), escaped on output. A line that is not an
 * mmapwatch event is a usage error naming the line; a last line cut short
 * (the run was killed while writing it) is tolerated and said.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "log.h"
#include "report_html.h"
#include "report_model.h"

/* One line of an events file: far above the writer's JSON_LINE_MAX. */
#define REPORT_LINE_MAX (4u << 20)
/* A dump's metadata: its hole list is bounded (dump.h). */
#define REPORT_META_MAX (16u << 20)
#define REPORT_POINTS 400
#define REPORT_BANDS 12
#define REPORT_TABLE_ROWS 200

enum folded_mode { FOLDED_NONE, FOLDED_HELD, FOLDED_EVER };

struct report_opts {
    const char *events;
    const char *dumps;
    const char *output; /* NULL: report.html for HTML, stdout for --folded */
    enum folded_mode folded;
};

static const struct option long_options[] = {
    {"dumps", required_argument, NULL, 'd'},
    {"output", required_argument, NULL, 'o'},
    {"folded", optional_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void print_help(void)
{
    fputs(
        "Usage: mmapwatch report EVENTS.jsonl [--dumps DIR] [-o FILE]\n"
        "       mmapwatch report EVENTS.jsonl --folded[=held|ever] [-o FILE]\n"
        "\n"
        "Turns an events file written by mmapwatch --json -o EVENTS.jsonl (with -k for\n"
        "call stacks) into one self-contained HTML page: the run's header (target,\n"
        "duration, what was lost or skipped), a timeline of mapped and resident bytes\n"
        "stacked by call site or by thread with threshold, oom, exec, exit and detach\n"
        "marks, a flame graph of the bytes held at the end or ever mapped by call\n"
        "stack (click to zoom), the call sites, and a table of the largest regions\n"
        "with their dumps and top strings. The page loads nothing from the network.\n"
        "Reads only files (\"-\" is standard input): copy them out of a pod and run it\n"
        "anywhere.\n"
        "\n"
        "OPTIONS\n"
        "  -d, --dumps DIR        the --dump-dir of the run: read each dump's .json for\n"
        "                         resident bytes and link the dumps from the page\n"
        "  -o, --output FILE      write here (mode 0600: the page quotes memory);\n"
        "                         default report.html, or standard output with --folded;\n"
        "                         \"-\" is standard output\n"
        "      --folded[=WHAT]    instead of the page, collapsed stacks, one\n"
        "                         \"frame;frame;frame bytes\" line per stack, outermost\n"
        "                         frame first, for flamegraph.pl, speedscope or\n"
        "                         Grafana's flame graph panel: WHAT is held (bytes still\n"
        "                         mapped at the end, the default) or ever (every byte\n"
        "                         mapped)\n"
        "  -h, --help             print this help and exit\n"
        "\n"
        "Bytes held at the end are those no munmap released before the process exited,\n"
        "mmapwatch detached or the file ended; an exec releases them. Resident bytes\n"
        "are known only from dumps.\n"
        "\n"
        "EXIT STATUS\n"
        "  0 written; 1 cannot write the output; 2 usage error or a file that is not\n"
        "  what mmapwatch writes (one line names the file and line).\n"
        "\n"
        "EXAMPLES\n"
        "  mmapwatch -p 1234 --min-size 16M -k --json -o events.jsonl --dump-dir dumps\n"
        "  mmapwatch report events.jsonl --dumps dumps -o report.html\n"
        "  mmapwatch report events.jsonl --folded | flamegraph.pl >held.svg\n",
        stdout);
}

static int parse_args(int argc, char **argv, struct report_opts *o)
{
    int c;
    optind = 1;
    opterr = 0;
    /* "+": no permuting, so the word getopt looked at is argv[optind - 1];
     * the one operand may come before, between or after the options. */
    for (;;) {
        c = getopt_long(argc, argv, "+:d:o:h", long_options, NULL);
        if (c == -1) {
            if (optind >= argc)
                break;
            if (o->events) {
                log_error("report: unexpected argument '%s'; see mmapwatch report --help",
                          argv[optind]);
                return 2;
            }
            o->events = argv[optind++];
            continue;
        }
        switch (c) {
        case 'd':
            o->dumps = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'f':
            if (!optarg || strcmp(optarg, "held") == 0) {
                o->folded = FOLDED_HELD;
            } else if (strcmp(optarg, "ever") == 0) {
                o->folded = FOLDED_EVER;
            } else {
                log_error("report: --folded takes held or ever, not '%s'", optarg);
                return 2;
            }
            break;
        case 'h':
            print_help();
            return 0;
        default:
            cmd_option_error("report", c, argv[optind - 1], long_options);
            return 2;
        }
    }
    if (!o->events) {
        log_error("report: no events file given; see mmapwatch report --help");
        return 2;
    }
    return -1;
}

/* Feeds every line of the events file to the model. 0, or the exit code. */
static int read_events(struct report_model *m, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        log_error("report: cannot open events file '%s': %s", path, strerror(errno));
        return 2;
    }
    char *line = NULL, err[256];
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        bool complete = line[n - 1] == '\n';
        if (complete)
            line[--n] = '\0';
        if (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        if ((size_t)n > REPORT_LINE_MAX) {
            log_error("report: '%s' line %lu: longer than %u bytes: not an mmapwatch event",
                      path, lineno, REPORT_LINE_MAX);
            rc = 2;
            break;
        }
        if (n == 0)
            continue;
        if (report_model_add_line(m, line, (size_t)n, err, sizeof err) == 0)
            continue;
        if (!complete && getc(f) == EOF) {
            /* The last line, with no newline: the run ended mid-write. */
            if (report_model_note(m, "last line of the events file cut short (the run was "
                                     "killed?): ignored", 1) < 0)
                rc = 1;
            break;
        }
        if (strcmp(err, "out of memory") == 0) {
            log_error("report: out of memory reading '%s' at line %lu", path, lineno);
            rc = 1;
        } else {
            log_error("report: '%s' line %lu: %s; expected what mmapwatch --json writes", path,
                      lineno, err);
            rc = 2;
        }
        break;
    }
    if (rc == 0 && ferror(f)) {
        log_error("report: cannot read events file '%s': %s", path, strerror(errno));
        rc = 2;
    }
    if (rc == 0 && lineno == 0) {
        log_error("report: events file '%s' is empty", path);
        rc = 2;
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* Reads name in dir (a regular file, no symlink followed) into a new
 * buffer. NULL with errno set. */
static char *read_small_file(int dir_fd, const char *name, size_t max, size_t *len)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        int err = errno;
        if (err == 0 || fstat(fd, &st) == 0)
            err = S_ISREG(st.st_mode) ? EFBIG : EINVAL; /* not a file, or too big */
        close(fd);
        errno = err;
        return NULL;
    }
    buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r <= 0) {
            free(buf);
            buf = NULL;
            errno = r == 0 ? EIO : errno;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (buf) {
        buf[got] = '\0';
        *len = got;
    }
    return buf;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Every *.json in the dump directory. 0, or the exit code. */
static int read_dump_metas(struct report_model *m, const char *dir)
{
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dir_fd >= 0 ? fdopendir(dir_fd) : NULL;
    if (!d) {
        log_error("report: cannot open dump directory '%s': %s", dir, strerror(errno));
        if (dir_fd >= 0)
            close(dir_fd);
        return 2;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".json"))
            continue;
        size_t len = 0;
        char err[256];
        char *text = read_small_file(dir_fd, e->d_name, REPORT_META_MAX, &len);
        if (!text) {
            log_error("report: cannot read dump metadata '%s/%s': %s", dir, e->d_name,
                      strerror(errno));
            rc = 2;
        } else if (report_model_add_dump_meta(m, text, len, err, sizeof err) < 0) {
            log_error("report: '%s/%s': %s; expected a dump's metadata as mmapwatch writes it",
                      dir, e->d_name, err);
            rc = 2;
        }
        free(text);
    }
    closedir(d);
    return rc;
}

/* Collapsed stacks: "frame;frame;frame bytes", outermost first. */
static void write_folded(FILE *out, const struct report_view *v, enum folded_mode mode)
{
    for (size_t i = 0; i < v->nstacks; i++) {
        const struct report_stack *s = &v->stacks[i];
        uint64_t bytes = mode == FOLDED_EVER ? s->ever : s->held;
        if (bytes == 0)
            continue;
        for (size_t d = 0; d < s->depth; d++) {
            if (d)
                fputc(';', out);
            fputs(s->frames[d], out);
        }
        fprintf(out, " %" PRIu64 "\n", bytes);
    }
}

/* Writes to path through a 0600 temporary file renamed over it, or to
 * stdout for "-". 0, or 1 after logging. */
static int write_output(const char *path, const struct report_view *v,
                        const struct report_opts *o, const char *dumps_abs)
{
    struct report_html_options ho = {.events_path = o->events, .dumps_dir = dumps_abs,
                                     .max_regions = REPORT_TABLE_ROWS};
    if (strcmp(path, "-") == 0) {
        int rc = 0;
        if (o->folded)
            write_folded(stdout, v, o->folded);
        else
            rc = report_html_write(stdout, v, &ho);
        if (rc < 0 || fflush(stdout) == EOF || ferror(stdout)) {
            log_error("report: cannot write to standard output: %s", strerror(errno));
            return 1;
        }
        return 0;
    }
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp) {
        log_error("report: output name too long: '%s'", path);
        return 1;
    }
    int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!out) {
        log_error("report: cannot create '%s': %s; check the directory exists and is writable",
                  tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return 1;
    }
    int rc = 0;
    if (o->folded)
        write_folded(out, v, o->folded);
    else
        rc = report_html_write(out, v, &ho);
    int err = errno;
    if (fclose(out) != 0 && rc == 0) {
        rc = -1;
        err = errno;
    }
    if (rc == 0 && rename(tmp, path) < 0) {
        rc = -1;
        err = errno;
    }
    if (rc < 0) {
        unlink(tmp);
        log_error("report: cannot write '%s': %s", path, strerror(err));
        return 1;
    }
    return 0;
}

int cmd_report_main(int argc, char **argv)
{
    struct report_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    char *dumps_abs = NULL;
    if (o.dumps && !(dumps_abs = realpath(o.dumps, NULL))) {
        log_error("report: cannot use dump directory '%s': %s", o.dumps, strerror(errno));
        return 2;
    }
    struct report_model *m = report_model_new();
    if (!m) {
        free(dumps_abs);
        log_error("report: out of memory");
        return 1;
    }
    rc = read_events(m, o.events);
    if (rc == 0 && dumps_abs)
        rc = read_dump_metas(m, dumps_abs);
    const struct report_view *v = rc == 0 ? report_model_finish(m, REPORT_POINTS, REPORT_BANDS) : NULL;
    if (rc == 0 && !v) {
        log_error("report: out of memory");
        rc = 1;
    }
    const char *path = o.output ? o.output : o.folded ? "-" : "report.html";
    if (rc == 0)
        rc = write_output(path, v, &o, dumps_abs);
    if (rc == 0 && strcmp(path, "-") != 0 && !o.folded)
        printf("report: %s (%" PRIu64 " regions from %" PRIu64 " events); open it in a browser\n",
               path, v->count, v->events);
    report_model_free(m);
    free(dumps_abs);
    return rc;
}
