/*
 * Unit tests for options.c: size and duration parsing, format_size, and
 * options_parse on argv arrays, including the exact one-line diagnostics
 * (stderr and stdout are captured into temporary files around each call).
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "options.h"
#include "unit.h"

struct run {
    enum options_result rc;
    struct options o;
    char err[4096];
    char out[16384];
};

static void slurp(FILE *f, char *buf, size_t size)
{
    rewind(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* argv must be NULL-terminated. */
static void run_argv(struct run *r, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;

    fflush(stdout);
    fflush(stderr);
    FILE *ef = tmpfile(), *of = tmpfile();
    if (!ef || !of)
        abort();
    int saved_err = dup(2), saved_out = dup(1);
    dup2(fileno(ef), 2);
    dup2(fileno(of), 1);
    r->rc = options_parse(argc, argv, &r->o);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_err, 2);
    dup2(saved_out, 1);
    close(saved_err);
    close(saved_out);
    slurp(ef, r->err, sizeof r->err);
    slurp(of, r->out, sizeof r->out);
}

#define RUN(r, ...) run_argv(&(r), (char *[]){"mmapwatch", __VA_ARGS__, NULL})

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

/* A usage error: one line, our prefix, naming `quoted` in quotes. */
static int usage_error_names(const struct run *r, const char *quoted)
{
    char want[256];
    snprintf(want, sizeof want, "'%s'", quoted);
    return r->rc == OPTIONS_USAGE_ERROR && strncmp(r->err, "mmapwatch: ", 11) == 0 &&
           count_char(r->err, '\n') == 1 && r->err[strlen(r->err) - 1] == '\n' &&
           strstr(r->err, want) != NULL && r->out[0] == '\0';
}

/* A usage error: exactly one line, our prefix, nothing on stdout. */
static int usage_error_line(const struct run *r)
{
    return r->rc == OPTIONS_USAGE_ERROR && strncmp(r->err, "mmapwatch: ", 11) == 0 &&
           count_char(r->err, '\n') == 1 && r->out[0] == '\0';
}

static uint64_t size_of(const char *text)
{
    uint64_t v = 0xdeadbeef;
    if (!parse_size(text, &v))
        return 0xbad;
    return v;
}

static int size_rejected(const char *text)
{
    uint64_t v = 77;
    return !parse_size(text, &v) && v == 77;
}

static uint64_t duration_of(const char *text)
{
    uint64_t v = 0xdeadbeef;
    if (!parse_duration(text, &v))
        return 0xbad;
    return v;
}

static int duration_rejected(const char *text)
{
    uint64_t v = 77;
    return !parse_duration(text, &v) && v == 77;
}

TEST(size_plain_and_suffixes)
{
    CHECK_U64(size_of("0"), 0);
    CHECK_U64(size_of("4096"), 4096);
    CHECK_U64(size_of("4k"), 4096);
    CHECK_U64(size_of("4K"), 4096);
    CHECK_U64(size_of("4KiB"), 4096);
    CHECK_U64(size_of("4kb"), 4096);
    CHECK_U64(size_of("512B"), 512);
    CHECK_U64(size_of("16M"), 16777216);
    CHECK_U64(size_of("16MiB"), 16777216);
    CHECK_U64(size_of("1G"), 1073741824);
    CHECK_U64(size_of("1GiB"), 1073741824);
    CHECK_U64(size_of("2T"), 2ULL << 40);
    CHECK_U64(size_of("1TiB"), 1ULL << 40);
    CHECK_U64(size_of("007"), 7);
}

TEST(size_fractions_exact)
{
    CHECK_U64(size_of("1.5M"), 1572864);
    CHECK_U64(size_of("0.5k"), 512);
    CHECK_U64(size_of("1.25G"), 1342177280);
    CHECK_U64(size_of("0.1k"), 102);  /* 102.4 rounds down */
    CHECK_U64(size_of("1.0001k"), 1024);  /* 1024.1024 */
    CHECK_U64(size_of("2.9999k"), 3071);  /* 3071.8976 */
    /* 18 nines: one part in 10^18 short of 3 KiB must still round down. */
    CHECK_U64(size_of("2.999999999999999999k"), 3071);
    CHECK_U64(size_of("1.5"), 1);
    CHECK_U64(size_of("0.999999999999999999T"), (1ULL << 40) - 1);
}

TEST(size_limits)
{
    CHECK_U64(size_of("18446744073709551615"), UINT64_MAX);
    CHECK(size_rejected("18446744073709551616"));
    CHECK(size_rejected("99999999999999999999999"));
    CHECK_U64(size_of("16777215T"), 16777215ULL << 40);
    CHECK(size_rejected("16777216T")); /* exactly 2^64 */
    /* Whole part fits, the fraction pushes it over. */
    CHECK_U64(size_of("17179869183G"), 17179869183ULL << 30);
    CHECK(size_rejected("17179869184G"));
    /* With a power-of-two unit the fraction can take the total up to, but
     * never past, UINT64_MAX. */
    CHECK_U64(size_of("17179869183.99999999G"), (17179869183ULL << 30) + 1073741813);
    CHECK_U64(size_of("16777215.999999999999999999T"), UINT64_MAX);
}

TEST(size_rejects_malformed)
{
    CHECK(size_rejected(""));
    CHECK(size_rejected(NULL));
    CHECK(size_rejected("-1"));
    CHECK(size_rejected("-0"));
    CHECK(size_rejected("+4"));
    CHECK(size_rejected("1.5.5"));
    CHECK(size_rejected("16Q"));
    CHECK(size_rejected(" 4k"));
    CHECK(size_rejected("4k "));
    CHECK(size_rejected("4 k"));
    CHECK(size_rejected("0x10"));
    CHECK(size_rejected(".5M"));
    CHECK(size_rejected("1."));
    CHECK(size_rejected("1.M"));
    CHECK(size_rejected("1e3"));
    CHECK(size_rejected("4kk"));
    CHECK(size_rejected("4KiBB"));
    CHECK(size_rejected("k"));
    CHECK(size_rejected("4ms"));
    CHECK(size_rejected("1.0000000000000000001M")); /* 19 fractional digits */
}

TEST(durations)
{
    CHECK_U64(duration_of("0"), 0);
    CHECK_U64(duration_of("500ms"), 500000000ULL);
    CHECK_U64(duration_of("2s"), 2000000000ULL);
    CHECK_U64(duration_of("1.5s"), 1500000000ULL);
    CHECK_U64(duration_of("1m"), 60000000000ULL);
    CHECK_U64(duration_of("1h"), 3600000000000ULL);
    CHECK_U64(duration_of("1.5h"), 5400000000000ULL);
    CHECK_U64(duration_of("250us"), 250000ULL);
    CHECK_U64(duration_of("10ns"), 10);
    CHECK_U64(duration_of("3"), 3000000000ULL);
    CHECK_U64(duration_of("0.25"), 250000000ULL);
    CHECK_U64(duration_of("0.1ms"), 100000ULL);
    CHECK_U64(duration_of("0.0000000015s"), 1); /* 1.5 ns rounds down */
    CHECK_U64(duration_of("876000h"), UNITS_DURATION_MAX_NS); /* 100 years, the limit */
    CHECK_U64(duration_of("3153600000s"), UNITS_DURATION_MAX_NS);
}

TEST(durations_reject)
{
    CHECK(duration_rejected(""));
    CHECK(duration_rejected(NULL));
    CHECK(duration_rejected("-1"));
    CHECK(duration_rejected("-1s"));
    CHECK(duration_rejected("5x"));
    CHECK(duration_rejected("s"));
    CHECK(duration_rejected("1.5.5s"));
    CHECK(duration_rejected("1 s"));
    CHECK(duration_rejected(" 1s"));
    CHECK(duration_rejected("1S")); /* units are case-sensitive: M is not m */
    CHECK(duration_rejected("1sec"));
    CHECK(duration_rejected("1k"));
    CHECK(duration_rejected("18446744074s"));
    /* Fit in 64 bits, but now + DUR would wrap: a deadline in the past. */
    CHECK(duration_rejected("18446742450s"));
    CHECK(duration_rejected("18446744073.709551615s"));
    CHECK(duration_rejected("876000.000001h"));
    CHECK(duration_rejected("3153600000.000000001s"));
    CHECK(duration_rejected("18446744073.709551616s")); /* the fraction overflows */
    CHECK(duration_rejected("5124096h"));
}

TEST(format_sizes)
{
    char buf[32];
    CHECK_STR(format_size(0, buf, sizeof buf), "0 B");
    CHECK_STR(format_size(512, buf, sizeof buf), "512 B");
    CHECK_STR(format_size(1023, buf, sizeof buf), "1023 B");
    CHECK_STR(format_size(1024, buf, sizeof buf), "1.0 KiB");
    CHECK_STR(format_size(1536, buf, sizeof buf), "1.5 KiB");
    CHECK_STR(format_size(4096, buf, sizeof buf), "4.0 KiB");
    CHECK_STR(format_size(16781312, buf, sizeof buf), "16.0 MiB");
    CHECK_STR(format_size(16777216, buf, sizeof buf), "16.0 MiB");
    CHECK_STR(format_size(1610612736, buf, sizeof buf), "1.5 GiB");
    CHECK_STR(format_size(1ULL << 40, buf, sizeof buf), "1.0 TiB");
    CHECK_STR(format_size(1048575, buf, sizeof buf), "1.0 MiB"); /* not 1024.0 KiB */
    CHECK_STR(format_size(1996, buf, sizeof buf), "1.9 KiB");   /* 1.949 */
    CHECK_STR(format_size(2000, buf, sizeof buf), "2.0 KiB");   /* 1.953 */
    CHECK_STR(format_size(UINT64_MAX, buf, sizeof buf), "16.0 EiB");
    char small[5];
    CHECK_STR(format_size(16781312, small, sizeof small), "16.0");
}

TEST(defaults_with_pid)
{
    struct run r;
    RUN(r, "-p", "1234");
    CHECK(r.rc == OPTIONS_OK);
    CHECK(r.o.npids == 1);
    CHECK(r.o.pids[0] == 1234);
    CHECK(r.o.command == NULL);
    CHECK_U64(r.o.min_size, 0);
    CHECK(!r.o.report_failed);
    CHECK(!r.o.json);
    CHECK(r.o.output_path == NULL);
    CHECK(!r.o.has_duration);
    CHECK(r.o.verbose == 0);
    CHECK(r.err[0] == '\0' && r.out[0] == '\0');
}

TEST(every_option)
{
    struct run r;
    RUN(r, "-p", "1", "--pid", "2", "--pid=3", "-p4", "-m", "16M", "--failed", "-o",
        "events.jsonl", "-j", "-d", "30s", "-vv", "--verbose");
    CHECK(r.rc == OPTIONS_OK);
    CHECK(r.o.npids == 4);
    CHECK(r.o.pids[0] == 1 && r.o.pids[1] == 2 && r.o.pids[2] == 3 && r.o.pids[3] == 4);
    CHECK_U64(r.o.min_size, 16ULL << 20);
    CHECK(r.o.report_failed);
    CHECK_STR(r.o.output_path, "events.jsonl");
    CHECK(r.o.json);
    CHECK(r.o.has_duration);
    CHECK_U64(r.o.duration_ns, 30000000000ULL);
    CHECK(r.o.verbose == 3);
    CHECK(r.o.command == NULL);

    RUN(r, "--min-size=1.5M", "--output=-", "--json", "--duration=0", "--pid", "9");
    CHECK(r.rc == OPTIONS_OK);
    CHECK_U64(r.o.min_size, 1572864);
    CHECK_STR(r.o.output_path, "-");
    CHECK(r.o.has_duration && r.o.duration_ns == 0);
}

TEST(long_option_abbreviation)
{
    struct run r;
    RUN(r, "--verb", "--fail", "-p", "1");
    CHECK(r.rc == OPTIONS_OK);
    CHECK(r.o.verbose == 1);
    CHECK(r.o.report_failed);
}

TEST(launch_command)
{
    struct run r;
    RUN(r, "-m", "1M", "--", "java", "-jar", "app.jar");
    CHECK(r.rc == OPTIONS_OK);
    CHECK(r.o.npids == 0);
    CHECK(r.o.command != NULL);
    CHECK_STR(r.o.command[0], "java");
    CHECK_STR(r.o.command[1], "-jar");
    CHECK_STR(r.o.command[2], "app.jar");
    CHECK(r.o.command[3] == NULL);
    CHECK_U64(r.o.min_size, 1 << 20);

    /* Without "--", parsing stops at the command: its -v is its own. */
    RUN(r, "-j", "sleep", "-v", "--help");
    CHECK(r.rc == OPTIONS_OK);
    CHECK(r.o.json);
    CHECK(r.o.verbose == 0);
    CHECK_STR(r.o.command[0], "sleep");
    CHECK_STR(r.o.command[1], "-v");
    CHECK_STR(r.o.command[2], "--help");
    CHECK(r.out[0] == '\0');

    /* A command that itself looks like "--" after ours. */
    RUN(r, "--", "--", "x");
    CHECK(r.rc == OPTIONS_OK);
    CHECK_STR(r.o.command[0], "--");
}

TEST(pid_lists)
{
    struct run r;
    RUN(r, "-p", "1,2", "-p", "3 4", "-p", "5, 6", "-p", "2");
    CHECK(r.rc == OPTIONS_OK);
    CHECK(r.o.npids == 6);
    for (unsigned i = 0; i < 6; i++)
        CHECK(r.o.pids[i] == (pid_t)(i + 1));
    const char *bad[][2] = {{"1,,2", "1,,2"}, {"1,", "1,"}, {",1", ",1"}, {"1,x", "x"},
                            {"1;2", "1;2"},   {"1,-2", "-2"}, {"", ""}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        RUN(r, "-p", (char *)bad[i][0]);
        CHECK(usage_error_names(&r, bad[i][1]));
    }

    pid_t pids[3];
    unsigned n = 0;
    char why[16] = "unset";
    bool too_many = true;
    CHECK(parse_pid_list("7,8,9", pids, &n, 3, &too_many, why, sizeof why) && n == 3);
    CHECK(!too_many);
    CHECK(!parse_pid_list("9,10", pids, &n, 3, &too_many, why, sizeof why) && too_many &&
          strcmp(why, "10") == 0 && n == 3);
    CHECK(parse_pid_list("9,8", pids, &n, 3, &too_many, why, sizeof why) && n == 3);
    CHECK(!parse_pid_list("", pids, &n, 3, &too_many, why, sizeof why) && !too_many);
}

TEST(strace_habits)
{
    struct run r;
    RUN(r, "-f", "-y", "-e", "trace=mmap,munmap,mremap,mprotect,pkey_mprotect", "-e", "mmap2",
        "-e", "t=mmap", "-p", "1");
    CHECK(r.rc == OPTIONS_OK && r.err[0] == '\0');
    CHECK(r.o.time_format == OPTIONS_TIME_CLOCK_US);

    RUN(r, "-v", "-f", "-y", "-e", "trace=mmap", "-p", "1");
    CHECK(r.rc == OPTIONS_OK);
    CHECK(strstr(r.err, "-f: threads and children are always followed") != NULL);
    CHECK(strstr(r.err, "-y:") != NULL && strstr(r.err, "-e trace=") != NULL);

    RUN(r, "-t", "-p", "1");
    CHECK(r.rc == OPTIONS_OK && r.o.time_format == OPTIONS_TIME_CLOCK_S);
    RUN(r, "-tt", "-p", "1");
    CHECK(r.rc == OPTIONS_OK && r.o.time_format == OPTIONS_TIME_CLOCK_US);
    RUN(r, "-ttt", "-p", "1");
    CHECK(r.rc == OPTIONS_OK && r.o.time_format == OPTIONS_TIME_EPOCH_US);
    RUN(r, "-t", "-t", "-t", "-p", "1");
    CHECK(r.rc == OPTIONS_OK && r.o.time_format == OPTIONS_TIME_EPOCH_US);
    RUN(r, "-tttt", "-p", "1");
    CHECK(usage_error_line(&r) && strstr(r.err, "-tttt") && strstr(r.err, "-ttt"));

    RUN(r, "-s", "32", "-p", "1");
    CHECK(r.rc == OPTIONS_OK && r.o.strings_min == 32);
    RUN(r, "-s", "0", "-p", "1");
    CHECK(usage_error_names(&r, "0") && strstr(r.err, "-s"));
    RUN(r, "-s", "257", "-p", "1");
    CHECK(usage_error_names(&r, "257"));

    /* What mmapwatch cannot do: refused, naming its own way. */
    RUN(r, "-e", "trace=brk", "-p", "1");
    CHECK(usage_error_names(&r, "brk") && strstr(r.err, "mmapwatch maps"));
    RUN(r, "-e", "trace=mmap,open", "-p", "1");
    CHECK(usage_error_names(&r, "open"));
    RUN(r, "-e", "trace=%memory", "-p", "1");
    CHECK(usage_error_names(&r, "%memory"));
    RUN(r, "-e", "trace=!mmap", "-p", "1");
    CHECK(usage_error_names(&r, "!mmap"));
    RUN(r, "-e", "signal=none", "-p", "1");
    CHECK(usage_error_names(&r, "signal=none") && strstr(r.err, "--min-size"));
    RUN(r, "-T", "-p", "1");
    CHECK(usage_error_line(&r) && strstr(r.err, "-T ") && strstr(r.err, "-tt"));
    RUN(r, "-ff", "-p", "1");
    CHECK(usage_error_line(&r) && strstr(r.err, "-ff") && strstr(r.err, "--json"));
    RUN(r, "-c", "-p", "1"); /* strace's -c: a summary here too, kept */
    CHECK(r.rc == OPTIONS_OK && r.o.summary);
}

TEST(duplicate_pid_counted_once)
{
    struct run r;
    RUN(r, "-p", "5", "-p", "5", "-p", "6");
    CHECK(r.rc == OPTIONS_OK);
    CHECK(r.o.npids == 2);
    CHECK(r.o.pids[0] == 5 && r.o.pids[1] == 6);
}

TEST(pid_limit)
{
    static char *argv[2 + 2 * (OPTIONS_MAX_PIDS + 1)];
    static char text[OPTIONS_MAX_PIDS + 1][16];
    struct run r;

    argv[0] = "mmapwatch";
    for (int i = 0; i <= OPTIONS_MAX_PIDS; i++) {
        snprintf(text[i], sizeof text[i], "%d", 100 + i);
        argv[1 + 2 * i] = "-p";
        argv[2 + 2 * i] = text[i];
    }
    argv[1 + 2 * OPTIONS_MAX_PIDS] = NULL; /* exactly the limit */
    run_argv(&r, argv);
    CHECK(r.rc == OPTIONS_OK);
    CHECK(r.o.npids == OPTIONS_MAX_PIDS);
    CHECK(r.o.pids[OPTIONS_MAX_PIDS - 1] == 100 + OPTIONS_MAX_PIDS - 1);

    argv[1 + 2 * OPTIONS_MAX_PIDS] = "-p"; /* one more */
    argv[2 + 2 * OPTIONS_MAX_PIDS] = text[OPTIONS_MAX_PIDS];
    argv[3 + 2 * OPTIONS_MAX_PIDS] = NULL;
    run_argv(&r, argv);
    CHECK(usage_error_names(&r, "164"));
    CHECK(strstr(r.err, "too many") != NULL);
}

TEST(help_and_version)
{
    struct run r;
    RUN(r, "--help");
    CHECK(r.rc == OPTIONS_DONE);
    CHECK(r.err[0] == '\0');
    CHECK(strstr(r.out, "Usage: mmapwatch") == r.out);
    CHECK(strstr(r.out, "EXAMPLES") != NULL);
    CHECK(strstr(r.out, "mmapwatch -p 1234 --min-size 16M\n") != NULL);
    CHECK(strstr(r.out, "mmapwatch --json -o events.jsonl -p 1234\n") != NULL);
    CHECK(strstr(r.out, "mmapwatch -m 1M -- java -jar app.jar\n") != NULL);
    CHECK(strstr(r.out, "mmapwatch --duration 30s -p 1234\n") != NULL);
    const char *flags[] = {"--pid",     "--min-size", "--failed",  "--output", "--json",
                           "--duration", "--verbose", "--help",    "--version"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        CHECK(strstr(r.out, flags[i]) != NULL);
    CHECK(strstr(r.out, "EXIT STATUS") != NULL);
    CHECK(strstr(r.out, "default: stderr") != NULL);

    RUN(r, "-h");
    CHECK(r.rc == OPTIONS_DONE);
    CHECK(strstr(r.out, "EXAMPLES") != NULL);

    RUN(r, "-V");
    CHECK(r.rc == OPTIONS_DONE);
    CHECK_STR(r.out, "mmapwatch 0.1.0\n");
    RUN(r, "--version");
    CHECK_STR(r.out, "mmapwatch 0.1.0\n");
}

TEST(unknown_options)
{
    struct run r;
    RUN(r, "-x", "-p", "1");
    CHECK(usage_error_names(&r, "-x"));
    RUN(r, "-jx", "-p", "1"); /* inside a cluster */
    CHECK(usage_error_names(&r, "-x"));
    RUN(r, "--bogus", "-p", "1");
    CHECK(usage_error_names(&r, "--bogus"));
    RUN(r, "--bogus=3", "-p", "1");
    CHECK(usage_error_names(&r, "--bogus"));
    RUN(r, "--ver", "-p", "1");
    CHECK(usage_error_names(&r, "--ver"));
    CHECK(strstr(r.err, "ambiguous") && strstr(r.err, "--verbose") &&
          strstr(r.err, "--version"));
    RUN(r, "--json=yes", "-p", "1");
    CHECK(usage_error_names(&r, "--json"));
    CHECK(strstr(r.err, "takes no argument") != NULL);
    RUN(r, "--failed=1", "-p", "1");
    CHECK(usage_error_names(&r, "--failed"));
}

TEST(missing_arguments)
{
    struct run r;
    RUN(r, "-p");
    CHECK(usage_error_names(&r, "-p"));
    RUN(r, "--min-size");
    CHECK(usage_error_names(&r, "--min-size"));
    RUN(r, "-p", "1", "-d");
    CHECK(usage_error_names(&r, "-d"));
    RUN(r, "-p", "1", "--output");
    CHECK(usage_error_names(&r, "--output"));
    RUN(r, "-p", "1", "-o", "");
    CHECK(r.rc == OPTIONS_USAGE_ERROR && count_char(r.err, '\n') == 1);
}

TEST(bad_numbers)
{
    struct run r;
    RUN(r, "-m", "16Q", "-p", "1");
    CHECK(r.rc == OPTIONS_USAGE_ERROR);
    CHECK_STR(r.err, "mmapwatch: invalid size '16Q' for --min-size: use a number with an "
                     "optional k, M, G suffix (powers of 1024)\n");
    RUN(r, "-m", "-1", "-p", "1");
    CHECK(usage_error_names(&r, "-1"));
    CHECK(strstr(r.err, "negative") != NULL);
    RUN(r, "-m", "99999999999999999999", "-p", "1");
    CHECK(usage_error_names(&r, "99999999999999999999"));
    RUN(r, "-p", "1", "-d", "5x");
    CHECK(usage_error_names(&r, "5x"));
    CHECK(strstr(r.err, "--duration") != NULL);
    RUN(r, "-p", "1", "-d", "-1s");
    CHECK(usage_error_names(&r, "-1s"));

    const char *bad_pids[] = {"abc", "0", "-5", "12x", " 12", "+12", "", "99999999999",
                              "0x10"};
    for (size_t i = 0; i < sizeof bad_pids / sizeof bad_pids[0]; i++) {
        RUN(r, "-p", (char *)bad_pids[i]);
        CHECK(usage_error_names(&r, bad_pids[i]));
        CHECK(strstr(r.err, "PID") != NULL);
    }
}

TEST(stack_summary_options)
{
    struct run r;
    RUN(r, "-p", "1");
    CHECK(r.rc == OPTIONS_OK && !r.o.stack && !r.o.summary && r.o.stack_depth == 32);
    RUN(r, "-k", "-c", "--stack-depth", "5", "-p", "1");
    CHECK(r.rc == OPTIONS_OK && r.o.stack && r.o.summary && r.o.stack_depth == 5);
    RUN(r, "--stack", "--summary", "ls");
    CHECK(r.rc == OPTIONS_OK && r.o.stack && r.o.summary);
    const char *bad[] = {"0", "257", "-1", "x", "3.5k"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        RUN(r, "--stack-depth", (char *)bad[i], "-p", "1");
        CHECK(usage_error_names(&r, bad[i]));
    }
}

TEST(name_target_options)
{
    struct run r;
    RUN(r, "--comm", "java", "--comm", "envoy", "--wait");
    CHECK(r.rc == OPTIONS_OK && r.o.ncomms == 2 && r.o.wait_for_target);
    CHECK_STR(r.o.comms[1], "envoy");
    RUN(r, "--match", "java .*-jar app\\.jar");
    CHECK(r.rc == OPTIONS_OK && r.o.match_regex && r.o.ncomms == 0);
    RUN(r, "--comm", "0123456789abcdef");
    CHECK(usage_error_names(&r, "0123456789abcdef"));
    RUN(r, "--comm", "");
    CHECK(r.rc == OPTIONS_USAGE_ERROR);
    RUN(r, "--match", "a(b");
    CHECK(usage_error_names(&r, "a(b"));
    RUN(r, "--wait", "-p", "1");
    CHECK(r.rc == OPTIONS_USAGE_ERROR && strstr(r.err, "--wait needs") != NULL);
    RUN(r, "--comm", "java", "ls");
    CHECK(r.rc == OPTIONS_USAGE_ERROR && strstr(r.err, "not both") != NULL);
}

TEST(cgroup_options)
{
    struct run r;
    RUN(r, "--cgroup-threshold", "90%", "-p", "1");
    CHECK(r.rc == OPTIONS_OK && r.o.has_cgroup_threshold && r.o.cgroup_threshold_pct == 90);
    RUN(r, "--cgroup-threshold", "1.5G", "--dump-on-threshold", "-p", "1");
    CHECK(r.rc == OPTIONS_OK && r.o.cgroup_threshold == (3ULL << 29) &&
          r.o.cgroup_threshold_pct == 0 && r.o.dump_on_threshold);
    const char *bad[] = {"0%", "101%", "%", "x%", "0", "-1G", "9999999999%"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        RUN(r, "--cgroup-threshold", (char *)bad[i], "-p", "1");
        CHECK(usage_error_names(&r, bad[i]));
    }
    RUN(r, "--dump-on-threshold", "-p", "1");
    CHECK(r.rc == OPTIONS_USAGE_ERROR && strstr(r.err, "needs --cgroup-threshold") != NULL);
    RUN(r, "--cgroup-threshold", "1G", "--dump-on-threshold", "--no-dump", "-p", "1");
    CHECK(r.rc == OPTIONS_USAGE_ERROR);
}

/* --cgroup, --container, --pod: parsed by cgroup_match.c (its own unit
 * test has the forms), refused in one line naming the option and text. */
TEST(cgroup_selector_options)
{
    struct run r;
    const char *id = "4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29180706f5e4d3c2b1a09";
    RUN(r, "--container", (char *)id, "--pod", "0b5d8f6e-2c1a-4e3b-9f7d-6a5c4b3e2d1f",
        "--cgroup", "/kubepods/burstable/", "--comm", "java", "--wait");
    CHECK(r.rc == OPTIONS_OK && r.o.ncgroup_sels == 3 && r.o.wait_for_target);
    CHECK(r.o.cgroup_sels[0].kind == CGROUP_SEL_CONTAINER && r.o.cgroup_sels[0].ndigits == 64);
    CHECK_STR(r.o.cgroup_sels[1].digits, "0b5d8f6e2c1a4e3b9f7d6a5c4b3e2d1f");
    CHECK(r.o.cgroup_sels[2].path_len == strlen("/kubepods/burstable"));
    CHECK(OPTIONS_ATTACH_MODE(&r.o) && r.o.command == NULL);
    /* Alone they select, and --wait may wait for them. */
    RUN(r, "--container", "4F3C2B1A09E8", "--wait");
    CHECK(r.rc == OPTIONS_OK && r.o.ncgroup_sels == 1);
    CHECK_STR(r.o.cgroup_sels[0].digits, "4f3c2b1a09e8");
    RUN(r, "--container=containerd://4f3c2b1a09e8d7");
    CHECK(r.rc == OPTIONS_OK && r.o.cgroup_sels[0].ndigits == 14);
    const struct {
        const char *opt, *text;
    } bad[] = {
        {"--container", "4f3c2b1a09e"},  /* 11 digits: could be several */
        {"--container", ""},
        {"--container", "app-1"},
        {"--container", "docker://"},
        {"--pod", "0b5d8f6e-2c1a-4e3b-9f7d-6a5c4b3e2d1"},
        {"--pod", "0b5d8f6e2c1a-4e3b-9f7d-6a5c4b3e2d1f0"},
        {"--pod", "shop-api-7d9f"},
        {"--cgroup", "kubepods"},
        {"--cgroup", "/"},
        {"--cgroup", "///"},
        {"--cgroup", "80%"},
        {"--cgroup", "/sys/fs/cgroup/memory/docker"},
        {"--cgroup", "/a//b"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        RUN(r, (char *)bad[i].opt, (char *)bad[i].text);
        CHECK(r.rc == OPTIONS_USAGE_ERROR);
        CHECK(strstr(r.err, bad[i].opt) != NULL);
        CHECK(usage_error_names(&r, bad[i].text));
    }
    /* Not with a command; 16 at most. */
    RUN(r, "--pod", "0b5d8f6e2c1a4e3b9f7d6a5c4b3e2d1f", "ls");
    CHECK(r.rc == OPTIONS_USAGE_ERROR && strstr(r.err, "not both") != NULL);
    char *many[40] = {"mmapwatch"};
    int n = 1;
    for (int i = 0; i < 17; i++) {
        many[n++] = "--cgroup";
        many[n++] = "/kubepods";
    }
    many[n] = NULL;
    run_argv(&r, many);
    CHECK(r.rc == OPTIONS_USAGE_ERROR && strstr(r.err, "at most 16") != NULL);
    /* --cgroup is its own option, --cgroup-threshold still the threshold. */
    RUN(r, "--cgroup-threshold", "90%", "--cgroup", "/docker", "--wait");
    CHECK(r.rc == OPTIONS_OK && r.o.cgroup_threshold_pct == 90 && r.o.ncgroup_sels == 1);
}

TEST(attach_above_options)
{
    struct run r;
    RUN(r, "--attach-above", "60%", "-p", "1");
    CHECK(r.rc == OPTIONS_OK && r.o.has_attach_above && r.o.attach_above.pct == 60);
    CHECK(r.o.adopt_existing && !r.o.has_detach_below);
    RUN(r, "--attach-above", "2G", "--detach-below", "1.5G", "--comm", "java");
    CHECK(r.rc == OPTIONS_OK && r.o.attach_above.bytes == 2048ULL << 20 &&
          r.o.detach_below.bytes == 1536ULL << 20 && r.o.has_detach_below);
    RUN(r, "--attach-above", "60%", "--detach-below", "50%", "-p", "1");
    CHECK(r.rc == OPTIONS_OK && r.o.detach_below.pct == 50);
    RUN(r, "--attach-above", "60%", "--detach-below", "1G", "-p", "1");
    CHECK(r.rc == OPTIONS_OK); /* mixed: checked against the cgroup's limit */
    RUN(r, "--adopt", "-p", "1");
    CHECK(r.rc == OPTIONS_OK && r.o.adopt_existing && !r.o.has_attach_above);
    RUN(r, "-p", "1");
    CHECK(r.rc == OPTIONS_OK && !r.o.adopt_existing);
    const char *bad[] = {"0%", "101%", "0", "-1G", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        RUN(r, "--attach-above", (char *)bad[i], "-p", "1");
        CHECK(usage_error_names(&r, bad[i]));
    }
    RUN(r, "--attach-above", "1G", "--detach-below", "2G", "-p", "1");
    CHECK(r.rc == OPTIONS_USAGE_ERROR && strstr(r.err, "is above") && usage_error_line(&r));
    RUN(r, "--attach-above", "50%", "--detach-below", "51%", "-p", "1");
    CHECK(r.rc == OPTIONS_USAGE_ERROR && strstr(r.err, "is above"));
    RUN(r, "--detach-below", "1G", "-p", "1");
    CHECK(r.rc == OPTIONS_USAGE_ERROR && strstr(r.err, "needs --attach-above"));
    RUN(r, "--attach-above", "1G", "sleep", "1");
    CHECK(r.rc == OPTIONS_USAGE_ERROR && strstr(r.err, "attach mode"));
    RUN(r, "--adopt", "sleep", "1");
    CHECK(r.rc == OPTIONS_USAGE_ERROR && strstr(r.err, "attach mode"));
}

TEST(target_rules)
{
    struct run r;
    RUN(r, "-p", "1", "ls");
    CHECK(usage_error_names(&r, "ls"));
    CHECK(strstr(r.err, "use either -p PID, --comm, --match, --container, --pod or --cgroup, "
                        "or a command, not both") != NULL);

    RUN(r, "-v");
    CHECK(r.rc == OPTIONS_USAGE_ERROR);
    CHECK_STR(r.err, "mmapwatch: no target: give -p PID, --comm NAME, --match REGEX, "
                     "--container ID, --pod UID, --cgroup PATH or a command to run; see "
                     "mmapwatch --help\n");
    run_argv(&r, (char *[]){"mmapwatch", NULL});
    CHECK(r.rc == OPTIONS_USAGE_ERROR);
    CHECK(strstr(r.err, "no target") != NULL);
    RUN(r, "--");
    CHECK(r.rc == OPTIONS_USAGE_ERROR);
    CHECK(strstr(r.err, "no target") != NULL);

    RUN(r, "-d", "1s", "ls");
    CHECK(r.rc == OPTIONS_USAGE_ERROR);
    CHECK_STR(r.err, "mmapwatch: --duration applies to attach mode (-p); a launched "
                     "command is traced until it exits\n");
}

TEST(repeated_parses_are_independent)
{
    struct run r;
    /* An error in the middle of a cluster must not leak into the next
     * parse through getopt's hidden state. */
    RUN(r, "-xj");
    CHECK(r.rc == OPTIONS_USAGE_ERROR);
    RUN(r, "-v", "-p", "7");
    CHECK(r.rc == OPTIONS_OK);
    CHECK(r.o.verbose == 1 && !r.o.json && r.o.npids == 1 && r.o.pids[0] == 7);
    RUN(r, "-Vj"); /* returns before the j */
    CHECK(r.rc == OPTIONS_DONE);
    RUN(r, "-p", "9");
    CHECK(r.rc == OPTIONS_OK && !r.o.json && r.o.pids[0] == 9);
    RUN(r, "-p", "8");
    CHECK(r.rc == OPTIONS_OK && r.o.verbose == 0 && r.o.pids[0] == 8);
}

UNIT_MAIN(UNIT_CASE(size_plain_and_suffixes), UNIT_CASE(size_fractions_exact),
          UNIT_CASE(size_limits), UNIT_CASE(size_rejects_malformed), UNIT_CASE(durations),
          UNIT_CASE(durations_reject), UNIT_CASE(format_sizes), UNIT_CASE(defaults_with_pid),
          UNIT_CASE(every_option), UNIT_CASE(long_option_abbreviation),
          UNIT_CASE(launch_command), UNIT_CASE(pid_lists), UNIT_CASE(strace_habits),
          UNIT_CASE(duplicate_pid_counted_once),
          UNIT_CASE(pid_limit), UNIT_CASE(help_and_version), UNIT_CASE(unknown_options),
          UNIT_CASE(missing_arguments), UNIT_CASE(bad_numbers), UNIT_CASE(target_rules), UNIT_CASE(stack_summary_options),
          UNIT_CASE(name_target_options), UNIT_CASE(cgroup_options),
          UNIT_CASE(cgroup_selector_options),
          UNIT_CASE(attach_above_options),
          UNIT_CASE(repeated_parses_are_independent))
