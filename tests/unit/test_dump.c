/*
 * Unit tests for dump.c: file names, range merging and its cap, time
 * format, the strings scanner and counter, and dump_region()'s algorithm
 * against a fake process (the dump_source seam): which pages are read,
 * which become holes or unreadable ranges, and that every failure leaves
 * no file behind. Real processes are in tests/integration/test_dump.py.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump.h"
#include "dump_copy.h"
#include "dump_strings.h"
#include "memread.h"
#include "unit.h"

#define PG DUMP_PAGE_SIZE

/* ---- helpers ------------------------------------------------------------ */

/* A fresh empty directory under /tmp; the path is static per call site
 * order, good until the next call. */
static const char *make_dir(void)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/mmapwatch-unit-XXXXXX");
    return mkdtemp(path);
}

/* Removes a test directory and everything in it (one level). */
static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char p[512];
                snprintf(p, sizeof p, "%s/%s", path, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(path);
}

/* Number of entries in a directory, "." and ".." aside. */
static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static char *read_all(int dir_fd, const char *name, size_t *len)
{
    int fd = openat(dir_fd, name, O_RDONLY);
    if (fd < 0)
        return NULL;
    struct stat st;
    fstat(fd, &st);
    char *buf = malloc((size_t)st.st_size + 1);
    ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
    close(fd);
    if (n != st.st_size) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* Captures stderr around calls that log by design: quiet_end() returns
 * what was written (static, up to 4 KiB). */
static int quiet_begin(void)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    dup2(fileno(tmp), 2);
    fclose(tmp); /* fd 2 keeps the file open */
    return saved;
}

static const char *quiet_end(int saved)
{
    static char text[4096];
    fflush(stderr);
    ssize_t n = pread(2, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    dup2(saved, 2);
    close(saved);
    return text;
}

/* One "mmapwatch: " line holding every word given. */
static int one_line_with(const char *text, const char *w1, const char *w2)
{
    const char *nl = strchr(text, '\n');
    return strncmp(text, "mmapwatch: ", 11) == 0 && nl && nl[1] == '\0' &&
           strstr(text, w1) && strstr(text, w2);
}

/* ---- the fake process --------------------------------------------------- */

/* A region of FAKE_PAGES pages at FAKE_BASE whose page i holds bytes
 * fake_byte(offset); fake_state[i] says what pagemap and reads see. */
#define FAKE_BASE 0x7f0000000000ULL
#define FAKE_PAGES 64
enum { ABSENT, PRESENT, SWAPPED, FAULTS, SHORT_HALF };
static int fake_state[FAKE_PAGES];
static int fake_pagemap_errno;   /* non-zero: page_flags fails for fake_bad_pid */
static pid_t fake_bad_pid;
static int fake_read_errno_at;   /* page index whose read fails with fake_read_errno */
static int fake_read_errno;
static unsigned fake_reads, fake_pagemap_calls;
static uint64_t fake_read_absent;  /* bytes of absent pages asked for: must stay 0 */

static unsigned char fake_byte(uint64_t off) { return (unsigned char)((off * 131 + (off >> 12) * 7 + 1) & 0xff); }

static void fake_reset(void)
{
    for (int i = 0; i < FAKE_PAGES; i++)
        fake_state[i] = PRESENT;
    fake_pagemap_errno = 0;
    fake_bad_pid = 0;
    fake_read_errno_at = -1;
    fake_read_errno = 0;
    fake_reads = fake_pagemap_calls = 0;
    fake_read_absent = 0;
}

static int fake_page_flags(pid_t pid, uint64_t addr, size_t npages, uint64_t *flags)
{
    fake_pagemap_calls++;
    if (fake_pagemap_errno && pid == fake_bad_pid) {
        errno = fake_pagemap_errno;
        return -1;
    }
    for (size_t i = 0; i < npages; i++) {
        uint64_t a = addr + i * PG;
        flags[i] = 0;
        if (a < FAKE_BASE || a >= FAKE_BASE + FAKE_PAGES * (uint64_t)PG)
            continue;
        int st = fake_state[(a - FAKE_BASE) / PG];
        if (st == SWAPPED)
            flags[i] = MEMREAD_PAGE_SWAPPED;
        else if (st != ABSENT)
            flags[i] = MEMREAD_PAGE_PRESENT | 0x1234; /* a frame number */
    }
    return 0;
}

/* Follows memread_read's contract: stops at the first unreadable byte. */
static ssize_t fake_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
    (void)pid;
    fake_reads++;
    size_t done = 0;
    while (done < len) {
        uint64_t a = addr + done;
        if (a < FAKE_BASE || a >= FAKE_BASE + FAKE_PAGES * (uint64_t)PG)
            break;
        uint64_t off = a - FAKE_BASE;
        int page = (int)(off / PG);
        int st = fake_state[page];
        if (page == fake_read_errno_at) {
            if (done == 0) {
                errno = fake_read_errno;
                return -1;
            }
            break;
        }
        if (st == ABSENT)
            fake_read_absent++;
        if (st == FAULTS)
            break;
        if (st == SHORT_HALF && off % PG >= PG / 2)
            break;
        ((unsigned char *)buf)[done++] = fake_byte(off);
    }
    if (done == 0) {
        errno = EFAULT;
        return -1;
    }
    return (ssize_t)done;
}

static const struct dump_source fake_source = {.read = fake_read, .page_flags = fake_page_flags};

static struct dump_request fake_request(uint64_t off, uint64_t len)
{
    struct dump_request r = {
        .pid = 4242,
        .tid = 4243,
        .comm = "java\xe2\x82",  /* cut mid-character: must still make valid JSON */
        .addr = FAKE_BASE + off,
        .len = len,
        .prot = 3,
        .flags = 0x22,
        .mapped_at = {1700000000, 123456789},
        .reason = "delay",
        .seq = 7,
    };
    return r;
}

/* ---- pure parts --------------------------------------------------------- */

TEST(file_names)
{
    char buf[DUMP_NAME_MAX];
    CHECK(dump_file_name(buf, sizeof buf, 1234, 0x7f3a00001000ULL, 16781312, 0, ".bin") == 0);
    CHECK_STR(buf, "1234-7f3a00001000-16781312-0.bin");
    CHECK(dump_file_name(buf, sizeof buf, 2147483647, UINT64_MAX, UINT64_MAX, 4294967295u,
                         ".strings") == 0);
    CHECK_STR(buf, "2147483647-ffffffffffffffff-18446744073709551615-4294967295.strings");
    CHECK(dump_file_name(buf, 10, 1234, 0x1000, 4096, 0, ".bin") == -1);
}

TEST(ranges_merge)
{
    struct dump_ranges r = {0};
    CHECK(dump_ranges_add(&r, 0, 4096) == 0);
    CHECK(dump_ranges_add(&r, 4096, 8192) == 0);   /* adjacent: merged */
    CHECK(dump_ranges_add(&r, 8192, 8192) == 0);   /* empty: ignored */
    CHECK(dump_ranges_add(&r, 12288, 12300) == 0); /* gap: new range */
    CHECK(r.n == 2);
    CHECK_U64(r.v[0].start, 0);
    CHECK_U64(r.v[0].end, 8192);
    CHECK_U64(r.v[1].start, 12288);
    CHECK_U64(r.v[1].end, 12300);
    CHECK_U64(r.bytes, 8192 + 12);
    CHECK(!r.truncated);
    dump_ranges_release(&r);
    CHECK(r.v == NULL && r.n == 0 && r.bytes == 0);
    dump_ranges_release(NULL);
}

TEST(ranges_cap)
{
    struct dump_ranges r = {0};
    for (uint64_t i = 0; i < DUMP_MAX_RANGES + 5; i++)
        CHECK(dump_ranges_add(&r, i * 2 * PG, i * 2 * PG + PG) == 0);
    CHECK(r.n == DUMP_MAX_RANGES);
    CHECK(r.truncated);
    CHECK_U64(r.bytes, (DUMP_MAX_RANGES + 5) * (uint64_t)PG); /* totals stay exact */
    CHECK_U64(r.v[r.n - 1].start, (DUMP_MAX_RANGES - 1) * 2 * (uint64_t)PG);
    dump_ranges_release(&r);
}

TEST(time_format)
{
    char buf[32];
    struct timespec t0 = {0, 0}, t1 = {1700000000, 123456789}, t2 = {951782400, 999999999};
    CHECK_STR(dump_format_time(&t0, buf), "1970-01-01T00:00:00.000000Z");
    CHECK_STR(dump_format_time(&t1, buf), "2023-11-14T22:13:20.123456Z");
    CHECK_STR(dump_format_time(&t2, buf), "2000-02-29T00:00:00.999999Z"); /* leap day */
}

/* Runs the scanner over pieces of one input, as a file read in chunks
 * would; returns what it printed (static). */
static const char *scan(unsigned min, const char *in, size_t len, size_t piece,
                        struct dump_counter *counter)
{
    static char *out;
    static size_t out_len;
    free(out);
    out = NULL;
    FILE *f = open_memstream(&out, &out_len);
    struct dump_scanner s;
    dump_scanner_init(&s, min, f, counter);
    for (size_t i = 0; i < len; i += piece)
        dump_scanner_feed(&s, (const unsigned char *)in + i, len - i < piece ? len - i : piece);
    dump_scanner_finish(&s);
    fclose(f);
    return out;
}

TEST(strings_scanner)
{
    static const char in[] = "abc\0exact6\x7fleft\tside\x80\xff"
                             "five5\n"
                             "at-the-end";
    size_t len = sizeof in - 1;
    /* The same output whatever the read size: runs span chunk borders. */
    for (size_t piece = 1; piece <= len; piece++)
        CHECK_STR(scan(6, in, len, piece, NULL), "exact6\nleft\tside\nat-the-end\n");
    CHECK_STR(scan(1, in, len, 4, NULL), "abc\nexact6\nleft\tside\nfive5\nat-the-end\n");
    CHECK_STR(scan(11, in, len, 4, NULL), "");
    CHECK_STR(scan(6, "", 0, 1, NULL), "");

    /* A break (a hole in the file) ends a run like a NUL. */
    char *out = NULL;
    size_t out_len;
    FILE *f = open_memstream(&out, &out_len);
    struct dump_scanner s;
    dump_scanner_init(&s, 4, f, NULL);
    dump_scanner_feed(&s, (const unsigned char *)"before", 6);
    dump_scanner_break(&s);
    dump_scanner_feed(&s, (const unsigned char *)"after", 5);
    dump_scanner_finish(&s);
    fclose(f);
    CHECK_STR(out, "before\nafter\n");
    free(out);
}

TEST(strings_long_runs)
{
    /* Longer than the key: printed whole, across pieces, never counted. */
    static char in[1000];
    memset(in, 'Z', 600);
    in[600] = '\0';
    memcpy(in + 601, "tail-run", 8);
    struct dump_counter *c = dump_counter_new();
    CHECK(c != NULL);
    for (size_t piece = 7; piece <= 700; piece += 131) {
        const char *out = scan(6, in, 609, piece, c);
        CHECK(strlen(out) == 600 + 1 + 8 + 1);
        CHECK(strspn(out, "Z") == 600);
        CHECK(strcmp(out + 600, "\ntail-run\n") == 0);
    }
    struct string_count top[DUMP_STRINGS_TOP];
    size_t n = dump_counter_top(c, top);
    CHECK(n == 1);
    CHECK_STR(top[0].text, "tail-run");
    CHECK(top[0].count == 6);

    /* Exactly the key length still counts. */
    memset(in, 'Y', DUMP_STRINGS_KEY_MAX);
    scan(6, in, DUMP_STRINGS_KEY_MAX, 100, c);
    n = dump_counter_top(c, top);
    CHECK(n == 2);
    CHECK(top[1].len == DUMP_STRINGS_KEY_MAX && top[1].text[0] == 'Y');
    dump_counter_free(c);
}

TEST(counter_top)
{
    struct dump_counter *c = dump_counter_new();
    CHECK(c != NULL);
    static const char *const words[] = {"delta", "alpha", "charlie", "bravo", "echo",
                                        "foxtrot", "golf", "hotel", "india", "juliet",
                                        "kilo", "lima"};
    /* word i is added i % 3 + 1 times: ties everywhere. */
    for (size_t i = 0; i < 12; i++)
        for (size_t k = 0; k <= i % 3; k++)
            dump_counter_add(c, words[i], strlen(words[i]));
    dump_counter_add(c, "alph", 4); /* a prefix is another string */
    struct string_count top[DUMP_STRINGS_TOP];
    size_t n = dump_counter_top(c, top);
    CHECK(n == 10);
    /* count 3: charlie(2) foxtrot(5) india(8) lima(11); count 2: alpha(1)
     * echo(4) hotel(7) kilo(10); count 1: alph delta ... */
    static const char *const want[] = {"charlie", "foxtrot", "india", "lima", "alpha",
                                       "echo",    "hotel",   "kilo",  "alph", "bravo"};
    static const uint64_t want_n[] = {3, 3, 3, 3, 2, 2, 2, 2, 1, 1};
    for (size_t i = 0; i < 10; i++) {
        CHECK_STR(top[i].text, want[i]);
        CHECK_U64(top[i].count, want_n[i]);
        CHECK(top[i].len == strlen(want[i]));
    }
    CHECK(dump_counter_dropped(c) == 0);
    dump_counter_free(c);
    dump_counter_free(NULL);
}

TEST(counter_bounded)
{
    struct dump_counter *c = dump_counter_new();
    CHECK(c != NULL);
    char s[32];
    for (unsigned i = 0; i < DUMP_STRINGS_DISTINCT_MAX + 5; i++) {
        int n = snprintf(s, sizeof s, "distinct-%u", i);
        dump_counter_add(c, s, (size_t)n);
    }
    CHECK_U64(dump_counter_dropped(c), 5);
    /* Strings already in the table still count once it is full. */
    dump_counter_add(c, "distinct-7", 10);
    dump_counter_add(c, "distinct-7", 10);
    CHECK_U64(dump_counter_dropped(c), 5);
    struct string_count top[DUMP_STRINGS_TOP];
    CHECK(dump_counter_top(c, top) == 10);
    CHECK_STR(top[0].text, "distinct-7");
    CHECK_U64(top[0].count, 3);
    dump_counter_free(c);
}

/* ---- dump_region against the fake process -------------------------------- */

/* Checks the .bin: its size, and each byte is the fake's where expected
 * or zero where a hole or unreadable range is. */
static int check_bin(int dir_fd, const struct dump_result *res, uint64_t off, uint64_t len,
                     const struct dump_ranges *zero1, const struct dump_ranges *zero2)
{
    size_t n;
    unsigned char *bin = (unsigned char *)read_all(dir_fd, res->name, &n);
    if (!bin || n != len) {
        free(bin);
        return 0;
    }
    int ok = 1;
    for (uint64_t i = 0; i < len && ok; i++) {
        int zero = 0;
        for (size_t k = 0; k < zero1->n; k++)
            zero |= i >= zero1->v[k].start && i < zero1->v[k].end;
        for (size_t k = 0; k < zero2->n; k++)
            zero |= i >= zero2->v[k].start && i < zero2->v[k].end;
        ok = bin[i] == (zero ? 0 : fake_byte(off + i));
    }
    free(bin);
    return ok;
}

static int file_mode(int dir_fd, const char *name)
{
    struct stat st;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    return (int)(st.st_mode & 07777);
}

/* The fake's layout for region_pages: holes at pages 0-1, 40-49, 51-63;
 * page 5 swapped (read like present), pages 10-11 unreadable, page 20
 * readable only in its first half. */
static void layout_mixed(void)
{
    fake_reset();
    fake_state[0] = fake_state[1] = ABSENT;
    fake_state[5] = SWAPPED;
    fake_state[10] = fake_state[11] = FAULTS;
    fake_state[20] = SHORT_HALF;
    for (int i = 40; i < FAKE_PAGES; i++)
        fake_state[i] = i == 50 ? PRESENT : ABSENT;
}

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* The mixed layout dumped (through pipe when not NULL: with no --strings,
 * its two copiers share the runs) and every byte, range and field of the
 * result checked. */
static void check_region_pages(int *unit_failed_, struct dump_copier *copier)
{
    layout_mixed();
    const char *dir = make_dir();
    CHECK(dir != NULL);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    /* Not page aligned at either end: starts 1000 bytes into page 0, ends
     * 100 bytes into page 63. A 3-page buffer makes runs span reads. */
    const uint64_t p = PG, off = 1000, len = 63 * p + 100 - off;
    struct dump_request req = fake_request(off, len);
    struct dump_options opt = {.buf_size = 3 * PG, .source = &fake_source, .copier = copier};
    struct dump_result res;
    int rc = dump_region(dfd, &req, &opt, &res);
    CHECK(rc == 0);
    CHECK(res.error == 0 && res.error_op == NULL);
    CHECK_STR(res.name, "4242-7f00000003e8-257148-7.bin");
    CHECK_STR(res.meta_name, "4242-7f00000003e8-257148-7.json");
    CHECK(fake_read_absent == 0); /* never asked for a page that is not there */
    CHECK(fake_pagemap_calls == 1); /* counted once (the quota), the count's runs copied */

    /* Offsets are from addr, i.e. page 0 + 1000. */
    CHECK(res.holes.n == 3 && !res.holes.truncated);
    CHECK_U64(res.holes.v[0].start, 0);
    CHECK_U64(res.holes.v[0].end, 2 * p - off);
    CHECK_U64(res.holes.v[1].start, 40 * p - off);
    CHECK_U64(res.holes.v[1].end, 50 * p - off);
    CHECK_U64(res.holes.v[2].start, 51 * p - off);
    CHECK_U64(res.holes.v[2].end, len);
    CHECK_U64(res.holes.bytes, len - 39 * p);
    CHECK(res.unreadable.n == 2);
    CHECK_U64(res.unreadable.v[0].start, 10 * p - off);
    CHECK_U64(res.unreadable.v[0].end, 12 * p - off);
    CHECK_U64(res.unreadable.v[1].start, 20 * p + p / 2 - off);
    CHECK_U64(res.unreadable.v[1].end, 21 * p - off);
    CHECK_U64(res.resident_bytes, 39 * p);
    CHECK_U64(res.bytes_read, 39 * p - 2 * p - p / 2);
    CHECK(check_bin(dfd, &res, off, len, &res.holes, &res.unreadable));

    size_t mlen;
    char *meta = read_all(dfd, res.meta_name, &mlen);
    CHECK(meta != NULL);
    CHECK_U64(res.meta_bytes, mlen);
    char want[512];
    snprintf(want, sizeof want,
             "{\"file\":\"4242-7f00000003e8-257148-7.bin\",\"pid\":4242,\"tid\":4243,"
             "\"comm\":\"java\xef\xbf\xbd\",\"addr\":\"0x7f00000003e8\",\"len\":257148,"
             "\"prot\":\"rw-\",\"flags\":\"MAP_PRIVATE|MAP_ANONYMOUS\",\"seq\":7,"
             "\"mapped_at\":\"2023-11-14T22:13:20.123456Z\",\"dumped_at\":\"");
    int ok = strncmp(meta, want, strlen(want)) == 0;
    snprintf(want, sizeof want,
             "\",\"reason\":\"delay\",\"page_size\":4096,\"bytes_read\":%u,"
             "\"resident_bytes\":%u,\"hole_bytes\":%u,\"unreadable_bytes\":%u,"
             "\"holes\":[[0,7192],[162840,203800],[207896,257148]],\"holes_truncated\":false,"
             "\"unreadable\":[[39960,48152],[82968,85016]],\"unreadable_truncated\":false,"
             "\"stack\":null}\n",
             37 * PG - PG / 2, 39 * PG, 257148 - 39 * PG, 2 * PG + PG / 2);
    ok = ok && contains(meta, want) && meta[mlen - 1] == '\n' && strlen(meta) == mlen;
    if (!ok)
        printf("  metadata: %s", meta ? meta : "(none)\n");
    free(meta);
    CHECK(ok);

    CHECK(file_mode(dfd, res.name) == 0600);
    CHECK(file_mode(dfd, res.meta_name) == 0600);
    CHECK(count_entries(dir) == 2); /* no temporary left */
    dump_result_release(&res);
    dump_result_release(&res); /* twice is fine */
    close(dfd);
    remove_dir(dir);
}

TEST(region_pages) { check_region_pages(unit_failed_, NULL); }

/* The same with a second copier of 2-page buffers: the runs are cut into
 * many chunks that the worker and the copier's thread copy in turn, the
 * short read of page 20 and the faults of pages 10-11 among them. */
TEST(region_pages_two_copiers)
{
    struct dump_copier *copier = dump_copier_new(2 * PG);
    CHECK(copier != NULL);
    for (int round = 0; round < 20 && !*unit_failed_; round++)
        check_region_pages(unit_failed_, copier);
    dump_copier_free(copier);
}

/* A copy taken before an unmap, into a buffer lent by the caller when it
 * is large enough (else one of its own): the dump made from it is the
 * same, the lent buffer is written and never freed by the snapshot (ASan
 * would see the double free below), a too small one is left alone. */
TEST(snapshot_into_lent_buffer)
{
    const uint64_t off = 1000, len = 63 * PG + 100 - off;
    const size_t size = 64 * PG;
    char *buf = malloc(size);
    CHECK(buf != NULL);
    for (int lent = 1; lent >= 0 && !*unit_failed_; lent--) {
        fake_reset();
        layout_mixed();
        memset(buf, 0xee, size);
        const char *dir = make_dir();
        CHECK(dir != NULL);
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        struct dump_request req = fake_request(off, len);
        struct dump_snapshot *snap =
            dump_snapshot_take(&req, &fake_source, buf, lent ? size : 8 * PG);
        CHECK(snap != NULL);
        bool untouched = true;
        for (size_t i = 0; i < size; i++)
            untouched = untouched && (unsigned char)buf[i] == 0xee;
        CHECK(untouched == !lent);
        req.snapshot = snap;
        struct dump_options opt = {.source = &fake_source};
        struct dump_result res;
        CHECK(dump_region(dfd, &req, &opt, &res) == 0);
        CHECK(res.resident_bytes == 39 * PG && res.unreadable.n == 2);
        CHECK(check_bin(dfd, &res, off, len, &res.holes, &res.unreadable));
        dump_result_release(&res);
        dump_snapshot_free(snap);
        close(dfd);
        remove_dir(dir);
    }
    free(buf);
}

TEST(region_options)
{
    /* A caller's buffer (a worker's, reused) and fields left null. */
    fake_reset();
    const char *dir = make_dir();
    CHECK(dir != NULL);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    static char buf[2 * PG + 123]; /* rounded down to whole pages */
    struct dump_request req = fake_request(0, 8 * PG);
    req.reason = NULL;
    req.mapped_at = (struct timespec){0, 0};
    req.stack_json = "[\"0x1\",\"0x2\"]";
    struct dump_options opt = {.buf = buf, .buf_size = sizeof buf, .sync = true,
                               .source = &fake_source};
    struct dump_result res;
    CHECK(dump_region(dfd, &req, &opt, &res) == 0);
    CHECK(fake_reads == 4);
    CHECK(res.holes.n == 0 && res.unreadable.n == 0);
    CHECK_U64(res.bytes_read, 8 * PG);
    struct dump_ranges none = {0};
    CHECK(check_bin(dfd, &res, 0, 8 * PG, &none, &none));
    size_t mlen;
    char *meta = read_all(dfd, res.meta_name, &mlen);
    int ok = contains(meta, "\"mapped_at\":null,") && contains(meta, "\"reason\":null,") &&
             contains(meta, "\"holes\":[],") && contains(meta, "\"stack\":[\"0x1\",\"0x2\"]}");
    free(meta);
    CHECK(ok);
    dump_result_release(&res);
    close(dfd);
    remove_dir(dir);
}

/* Runs one failing dump and checks that it fails as expected and leaves
 * the directory as it found it. */
static int fails_cleanly(const struct dump_request *req, const struct dump_options *opt,
                         int want_errno, const char *want_op)
{
    const char *dir = make_dir();
    if (!dir)
        return 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    struct dump_result res;
    int rc = dump_region(dfd, req, opt, &res);
    int saved_errno = errno;
    int ok = rc == -1 && res.error == want_errno && saved_errno == want_errno &&
             res.error_op && strcmp(res.error_op, want_op) == 0 && count_entries(dir) == 0;
    if (!ok)
        printf("  rc=%d error=%d (%s) op=%s entries=%d\n", rc, res.error, strerror(res.error),
               res.error_op ? res.error_op : "-", count_entries(dir));
    dump_result_release(&res);
    close(dfd);
    remove_dir(dir);
    return ok;
}

TEST(region_failures)
{
    struct dump_options opt = {.buf_size = 4 * PG, .source = &fake_source};
    struct dump_request req = fake_request(0, 32 * PG);

    /* The process is gone before its pages could be listed. */
    fake_reset();
    fake_pagemap_errno = ESRCH;
    fake_bad_pid = 4242;
    req.tid = 4242;
    CHECK(fails_cleanly(&req, &opt, ESRCH, "read pagemap"));
    fake_pagemap_errno = ENOENT; /* /proc/PID vanished: reported as ESRCH */
    CHECK(fails_cleanly(&req, &opt, ESRCH, "read pagemap"));
    req.tid = 4243;

    /* Gone in the middle of reading: no half dump is kept. */
    fake_reset();
    fake_read_errno_at = 20;
    fake_read_errno = ESRCH;
    CHECK(fails_cleanly(&req, &opt, ESRCH, "read memory"));

    /* No permission at all. */
    fake_reset();
    fake_read_errno_at = 0;
    fake_read_errno = EPERM;
    CHECK(fails_cleanly(&req, &opt, EPERM, "read memory"));

    /* Cancelled (exit-dump timeout). */
    fake_reset();
    atomic_bool cancel = true;
    struct dump_options copt = opt;
    copt.cancel = &cancel;
    CHECK(fails_cleanly(&req, &copt, ECANCELED, "dump cancelled"));

    /* Invalid requests. */
    struct dump_request bad = req;
    bad.len = 0;
    CHECK(fails_cleanly(&bad, &opt, EINVAL, "invalid dump request"));
    bad = req;
    bad.addr = UINT64_MAX - PG;
    bad.len = 2 * PG;
    CHECK(fails_cleanly(&bad, &opt, EINVAL, "invalid dump request"));
    bad = req;
    bad.pid = 0;
    CHECK(fails_cleanly(&bad, &opt, EINVAL, "invalid dump request"));
    struct dump_options small = {.buf = (char[16]){0}, .buf_size = 16, .source = &fake_source};
    CHECK(fails_cleanly(&req, &small, EINVAL, "invalid dump request"));
}

TEST(region_read_fallbacks)
{
    const char *dir = make_dir();
    CHECK(dir != NULL);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    struct dump_options opt = {.buf_size = 4 * PG, .source = &fake_source};
    struct dump_request req = fake_request(0, 32 * PG);
    struct dump_result res;

    /* The leader's /proc entry has no memory any more: read through the
     * thread that mapped the region. */
    fake_reset();
    fake_pagemap_errno = EIO;
    fake_bad_pid = 4242;
    CHECK(dump_region(dfd, &req, &opt, &res) == 0);
    CHECK(fake_pagemap_calls == 2); /* refused, then through the mapper */
    CHECK_U64(res.bytes_read, 32 * PG);
    dump_result_release(&res);

    /* A page refused after others were read is one unreadable page
     * (PROT_NONE that /proc/PID/mem may not read), not a failed dump. */
    fake_reset();
    fake_read_errno_at = 9;
    fake_read_errno = EPERM;
    req.seq++;
    CHECK(dump_region(dfd, &req, &opt, &res) == 0);
    CHECK(res.unreadable.n == 1);
    CHECK_U64(res.unreadable.v[0].start, 9 * PG);
    CHECK_U64(res.unreadable.v[0].end, 10 * PG);
    CHECK_U64(res.bytes_read, 31 * PG);
    dump_result_release(&res);
    close(dfd);
    remove_dir(dir);
}

/* Whether name in dir_fd is a regular file holding exactly text. */
static int holds(int dir_fd, const char *name, const char *text)
{
    size_t len;
    char *got = read_all(dir_fd, name, &len);
    int ok = got && len == strlen(text) && memcmp(got, text, len) == 0;
    free(got);
    return ok;
}

TEST(region_never_clobbers)
{
    fake_reset();
    const char *dir = make_dir();
    CHECK(dir != NULL);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    struct dump_options opt = {.source = &fake_source};
    struct dump_request req = fake_request(0, 4 * PG);
    struct dump_result res;
    CHECK(dump_region(dfd, &req, &opt, &res) == 0);
    CHECK(res.seq == 7);
    dump_result_release(&res);

    /* Same name again (a pid reused by a later run): the next free seq,
     * the first dump intact. */
    fake_state[0] = ABSENT;
    CHECK(dump_region(dfd, &req, &opt, &res) == 0);
    CHECK(res.seq == 8);
    CHECK_STR(res.name, "4242-7f0000000000-16384-8.bin");
    CHECK_STR(res.meta_name, "4242-7f0000000000-16384-8.json");
    CHECK(count_entries(dir) == 4);
    dump_result_release(&res);
    fake_state[0] = PRESENT;
    CHECK(dump_region(dfd, &(struct dump_request){.pid = 0}, &opt, &res) == -1);
    dump_result_release(&res);

    /* Planted names, each of one file of a dump: a .json alone (seq 10), a
     * symbolic link as the .bin (11, pointing at a file that must stay as
     * it is), a .strings (12, with --strings), and the hidden temporary
     * names of 13. None fails the dump, none is written or removed. */
    static const char planted[] = "planted";
    const char *const names[] = {"4242-7f0000000000-16384-10.json",
                                 "4242-7f0000000000-16384-12.strings",
                                 ".4242-7f0000000000-16384-13.bin.tmp",
                                 ".4242-7f0000000000-16384-13.json.tmp",
                                 ".4242-7f0000000000-16384-13.strings.tmp", "victim"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        int fd = openat(dfd, names[i], O_CREAT | O_WRONLY, 0600);
        CHECK(fd >= 0 && write(fd, planted, strlen(planted)) == (ssize_t)strlen(planted));
        close(fd);
    }
    CHECK(symlinkat("victim", dfd, "4242-7f0000000000-16384-11.bin") == 0);
    int before = count_entries(dir);
    struct dump_options sopt = {.source = &fake_source, .strings = true};
    for (unsigned seq = 10; seq <= 13; seq++) {
        req.seq = seq;
        CHECK(dump_region(dfd, &req, &sopt, &res) == 0);
        /* 10, 11 and 12 have a name taken: the first seq with all three
         * free is 13 (its temporaries are someone else's: others used). */
        CHECK(res.seq == 13 + (seq - 10));
        CHECK(res.strings_name[0] != '\0');
        CHECK(check_bin(dfd, &res, 0, 4 * PG, &(struct dump_ranges){0},
                        &(struct dump_ranges){0}));
        dump_result_release(&res);
    }
    /* .bin and .json: the .strings is the strings pass's to write. */
    CHECK(count_entries(dir) == before + 4 * 2);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        CHECK(holds(dfd, names[i], planted));
    char target[16] = "";
    CHECK(readlinkat(dfd, "4242-7f0000000000-16384-11.bin", target, sizeof target) == 6);
    CHECK(memcmp(target, "victim", 6) == 0);
    close(dfd);
    remove_dir(dir);
}

/* The quota hook: asked once with the bytes that exist, before any file;
 * a refusal is EDQUOT with its reason and leaves nothing. */
static uint64_t reserve_asked;
static bool reserve_allow;

static bool test_reserve(void *ctx, uint64_t resident, char *why, size_t size)
{
    (void)ctx;
    reserve_asked = resident;
    if (!reserve_allow)
        snprintf(why, size, "over by %u", 7u);
    return reserve_allow;
}

TEST(region_reserve)
{
    layout_mixed();
    const char *dir = make_dir();
    CHECK(dir != NULL);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    struct dump_request req = fake_request(0, 64 * PG);
    struct dump_options opt = {.source = &fake_source, .reserve = test_reserve};
    struct dump_result res;
    reserve_allow = false;
    CHECK(dump_region(dfd, &req, &opt, &res) == -1);
    CHECK(res.error == EDQUOT);
    CHECK_STR(res.error_op, "quota");
    CHECK_STR(res.refused, "over by 7");
    CHECK(count_entries(dir) == 0);
    uint64_t refused_at = reserve_asked;
    dump_result_release(&res);
    reserve_allow = true;
    CHECK(dump_region(dfd, &req, &opt, &res) == 0);
    CHECK_U64(reserve_asked, res.resident_bytes);
    CHECK_U64(refused_at, res.resident_bytes);
    CHECK(res.resident_bytes > 0 && res.resident_bytes < 64 * PG);
    dump_result_release(&res);
    close(dfd);
    remove_dir(dir);
}

TEST(region_write_error)
{
    /* A file size limit makes pwrite fail with EFBIG, like a full disk
     * would with ENOSPC, without needing root or a small file system. */
    fake_reset();
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGXFSZ, &ign, &old);
    struct rlimit saved, lim;
    getrlimit(RLIMIT_FSIZE, &saved);
    lim = saved;
    lim.rlim_cur = 5 * PG;
    setrlimit(RLIMIT_FSIZE, &lim);
    struct dump_options opt = {.buf_size = 4 * PG, .source = &fake_source};
    struct dump_request req = fake_request(0, 32 * PG);
    int ok = fails_cleanly(&req, &opt, EFBIG, "write");
    /* ftruncate past the limit fails too, with nothing resident. */
    for (int i = 0; i < FAKE_PAGES; i++)
        fake_state[i] = ABSENT;
    int ok2 = fails_cleanly(&req, &opt, EFBIG, "write");
    setrlimit(RLIMIT_FSIZE, &saved);
    sigaction(SIGXFSZ, &old, NULL);
    CHECK(ok);
    CHECK(ok2);
}

TEST(dir_open)
{
    const char *base = make_dir();
    CHECK(base != NULL);
    char path[128], link[128], file[512];
    int fd = -1, saved;

    /* Created private whatever the umask. */
    snprintf(path, sizeof path, "%s/dumps", base);
    mode_t old_mask = umask(0777);
    int rc = dump_dir_open(path, &fd);
    umask(old_mask);
    CHECK(rc == 0 && fd >= 0);
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
    CHECK(count_entries(path) == 0); /* the probe is gone */
    close(fd);

    /* An existing directory is used as it is, stale probes or not. */
    chmod(path, 0750);
    char probe[300];
    snprintf(probe, sizeof probe, "%s/.mmapwatch-probe-%d-0", path, (int)getpid());
    close(open(probe, O_CREAT | O_WRONLY, 0600));
    snprintf(file, sizeof file, "%s///", path);
    CHECK(dump_dir_open(file, &fd) == 0);
    CHECK(fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0750);
    CHECK(count_entries(path) == 1);
    unlink(probe);
    close(fd);

    /* Refused, with fd left at -1: a symlink (also with a trailing
     * slash, which would otherwise follow it), a file, a missing parent,
     * an empty path. */
    snprintf(link, sizeof link, "%s/link", base);
    CHECK(symlink(path, link) == 0);
    saved = quiet_begin();
    rc = dump_dir_open(link, &fd);
    const char *err = quiet_end(saved);
    CHECK(rc == -1 && fd == -1);
    CHECK(one_line_with(err, link, "is a symbolic link, refused"));
    snprintf(file, sizeof file, "%s/", link);
    saved = quiet_begin();
    rc = dump_dir_open(file, &fd);
    err = quiet_end(saved);
    CHECK(rc == -1 && fd == -1);
    CHECK(one_line_with(err, file, "is a symbolic link, refused"));
    snprintf(file, sizeof file, "%s/file", base);
    close(open(file, O_CREAT | O_WRONLY, 0600));
    saved = quiet_begin();
    rc = dump_dir_open(file, &fd);
    err = quiet_end(saved);
    CHECK(rc == -1 && fd == -1);
    CHECK(one_line_with(err, file, "is not a directory"));
    snprintf(file, sizeof file, "%s/no/such/dir", base);
    saved = quiet_begin();
    rc = dump_dir_open(file, &fd);
    err = quiet_end(saved);
    CHECK(rc == -1 && fd == -1);
    CHECK(one_line_with(err, file, "cannot create dump directory"));
    saved = quiet_begin();
    rc = dump_dir_open("", &fd);
    err = quiet_end(saved);
    CHECK(rc == -1 && fd == -1);
    CHECK(one_line_with(err, "empty", "--dump-dir"));

    unlink(link);
    snprintf(file, sizeof file, "%s/file", base);
    unlink(file);
    rmdir(path);
    rmdir(base);
}

/* ---- the scanner against its oracle --------------------------------------
 * The scanner as it was before it went 16 bytes at a time: one byte at a
 * time. The fast one must print and count exactly what this one does. */

static int oracle_printable(unsigned char ch) { return (ch >= 0x20 && ch <= 0x7e) || ch == '\t'; }

static void oracle_break(struct dump_scanner *s)
{
    if (s->run_len == 0)
        return;
    if (s->flushed) {
        if (s->out)
            fputc('\n', s->out);
    } else if (s->run_len >= s->min) {
        if (s->out) {
            fwrite(s->head, 1, (size_t)s->run_len, s->out);
            fputc('\n', s->out);
        }
        if (s->counter)
            dump_counter_add(s->counter, s->head, (size_t)s->run_len);
    }
    s->run_len = 0;
    s->flushed = false;
}

static void oracle_span(struct dump_scanner *s, const unsigned char *p, size_t n)
{
    if (!s->flushed && s->run_len + n <= DUMP_STRINGS_KEY_MAX) {
        memcpy(s->head + s->run_len, p, n);
        s->run_len += n;
        return;
    }
    if (!s->flushed) {
        if (s->out)
            fwrite(s->head, 1, (size_t)s->run_len, s->out);
        s->flushed = true;
    }
    if (s->out)
        fwrite(p, 1, n, s->out);
    s->run_len += n;
}

static void oracle_feed(struct dump_scanner *s, const unsigned char *buf, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && oracle_printable(buf[j]))
            j++;
        if (j > i)
            oracle_span(s, buf + i, j - i);
        if (j < len) {
            oracle_break(s);
            j++;
        }
        i = j;
    }
}

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Memory as dumps see it: zeros, binary, text runs short and long (past
 * DUMP_STRINGS_KEY_MAX), tabs, DEL and high bytes at run edges. */
static size_t random_memory(unsigned char *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap) {
        size_t seg = 1 + rng() % 700;
        if (seg > cap - n)
            seg = cap - n;
        unsigned kind = (unsigned)(rng() % 6);
        for (size_t i = 0; i < seg; i++) {
            unsigned char b;
            switch (kind) {
            case 0: b = 0; break;
            case 1: b = (unsigned char)rng(); break;
            case 2: b = (unsigned char)(0x20 + rng() % 95); break;
            case 3: b = rng() % 9 ? (unsigned char)('a' + rng() % 26) : "\t\x7f\x80\x1f\xff"[rng() % 5]; break;
            case 4: b = rng() % 3 ? 'x' : 0; break;
            default: b = (unsigned char)(0x1e + rng() % 0x64); break; /* around both edges */
            }
            buf[n + i] = b;
        }
        n += seg;
    }
    return n;
}

TEST(strings_scanner_matches_oracle)
{
    static unsigned char mem[20000];
    for (unsigned iter = 0; iter < 400; iter++) {
        size_t len = random_memory(mem, 1 + rng() % sizeof mem);
        unsigned min = 1 + (unsigned)(rng() % 12);
        if (iter % 50 == 0)
            min = DUMP_STRINGS_KEY_MAX;
        char *outs[2] = {NULL, NULL};
        size_t out_lens[2];
        struct dump_counter *counters[2] = {dump_counter_new(), dump_counter_new()};
        for (int which = 0; which < 2; which++) {
            FILE *f = open_memstream(&outs[which], &out_lens[which]);
            struct dump_scanner sc;
            dump_scanner_init(&sc, min, f, counters[which]);
            uint64_t pieces = rng_state; /* the same pieces and breaks for both */
            size_t i = 0;
            while (i < len) {
                pieces = pieces * 6364136223846793005ULL + 1442695040888963407ULL;
                size_t piece = 1 + (size_t)((pieces >> 33) % 3000);
                if (piece > len - i)
                    piece = len - i;
                if (which)
                    oracle_feed(&sc, mem + i, piece);
                else
                    dump_scanner_feed(&sc, mem + i, piece);
                if ((pieces >> 20) % 7 == 0) { /* a hole between two reads */
                    if (which)
                        oracle_break(&sc);
                    else
                        dump_scanner_break(&sc);
                }
                i += piece;
            }
            if (which)
                oracle_break(&sc);
            else
                dump_scanner_finish(&sc);
            fclose(f);
        }
        CHECK(out_lens[0] == out_lens[1] && memcmp(outs[0], outs[1], out_lens[0]) == 0);
        struct string_count top[2][DUMP_STRINGS_TOP];
        size_t n0 = dump_counter_top(counters[0], top[0]);
        size_t n1 = dump_counter_top(counters[1], top[1]);
        CHECK(n0 == n1);
        for (size_t k = 0; k < n0 && k < n1; k++)
            CHECK(top[0][k].count == top[1][k].count && top[0][k].len == top[1][k].len &&
                  memcmp(top[0][k].text, top[1][k].text, top[0][k].len) == 0);
        free(outs[0]);
        free(outs[1]);
        dump_counter_free(counters[0]);
        dump_counter_free(counters[1]);
        if (*unit_failed_)
            return;
    }
}

/* --strings: the dump keeps a free name for the .strings and writes no
 * such file; the pass over the finished .bin writes it there, and stops
 * when cancelled (ECANCELED, nothing left). */
TEST(strings_name_kept_for_the_pass)
{
    fake_reset();
    layout_mixed();
    const char *dir = make_dir();
    CHECK(dir != NULL);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    struct dump_request req = fake_request(1000, 63 * PG);
    struct dump_options opt = {.buf_size = 3 * PG, .source = &fake_source, .strings = true};
    struct dump_result res;
    CHECK(dump_region(dfd, &req, &opt, &res) == 0);
    size_t base = strlen(res.name) - strlen(".bin");
    CHECK(strncmp(res.strings_name, res.name, base) == 0 &&
          strcmp(res.strings_name + base, ".strings") == 0);
    CHECK(faccessat(dfd, res.strings_name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT);
    int before = count_entries(dir);
    struct string_count top[DUMP_STRINGS_TOP];
    size_t n = 0;
    atomic_bool cancel = true;
    CHECK(dump_strings(dfd, res.name, 1, &cancel, top, &n) == -1 && errno == ECANCELED);
    CHECK(count_entries(dir) == before);
    CHECK(dump_strings(dfd, res.name, 1, NULL, top, &n) == 0);
    CHECK(faccessat(dfd, res.strings_name, F_OK, AT_SYMLINK_NOFOLLOW) == 0);
    CHECK(count_entries(dir) == before + 1);
    dump_result_release(&res);
    close(dfd);
    remove_dir(dir);
}

TEST(strings_file)
{
    const char *dir = make_dir();
    CHECK(dir != NULL);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    int fd = openat(dfd, "1-1000-65536-0.bin", O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0);
    /* "tail-of-data" ends exactly where a hole starts and "head-of-data"
     * starts where it ends: the scan must not join them across the hole
     * it skips. */
    static const char a[] = "\0\0abc\0repeat\0repeat\0repeat\0two-two\0two-two\0tail-of-data";
    static const char b[] = "head-of-data\0repeat\x01\x02single\t1";
    CHECK(pwrite(fd, a, sizeof a - 1, 4 * PG - (sizeof a - 1)) == (ssize_t)(sizeof a - 1));
    CHECK(pwrite(fd, b, sizeof b - 1, 12 * PG) == (ssize_t)(sizeof b - 1));
    CHECK(ftruncate(fd, 16 * PG) == 0);
    close(fd);

    struct string_count top[DUMP_STRINGS_TOP];
    size_t n = 99;
    CHECK(dump_strings(dfd, "1-1000-65536-0.bin", 6, NULL, top, &n) == 0);
    size_t len;
    char *out = read_all(dfd, "1-1000-65536-0.strings", &len);
    CHECK_STR(out, "repeat\nrepeat\nrepeat\ntwo-two\ntwo-two\ntail-of-data\nhead-of-data\n"
                   "repeat\nsingle\t1\n");
    free(out);
    CHECK(n == 5);
    CHECK_STR(top[0].text, "repeat");
    CHECK_U64(top[0].count, 4);
    CHECK_STR(top[1].text, "two-two");
    CHECK_U64(top[1].count, 2);
    CHECK_STR(top[2].text, "head-of-data");
    CHECK_STR(top[3].text, "single\t1");
    CHECK_STR(top[4].text, "tail-of-data");
    CHECK(file_mode(dfd, "1-1000-65536-0.strings") == 0600);
    CHECK(count_entries(dir) == 2);

    /* Again: the .strings exists, never clobbered, no temporary left. */
    CHECK(dump_strings(dfd, "1-1000-65536-0.bin", 6, NULL, top, &n) == -1 && errno == EEXIST);
    CHECK(n == 0);
    CHECK(count_entries(dir) == 2);
    CHECK(dump_strings(dfd, "1-1000-65536-0.bin", 0, NULL, top, &n) == -1 && errno == EINVAL);
    CHECK(dump_strings(dfd, "1-1000-65536-0.bin", DUMP_STRINGS_KEY_MAX + 1, NULL, top, &n) == -1 &&
          errno == EINVAL);
    CHECK(dump_strings(dfd, "missing.bin", 6, NULL, top, &n) == -1 && errno == ENOENT);
    CHECK(count_entries(dir) == 2);
    close(dfd);
    remove_dir(dir);
}

UNIT_MAIN(UNIT_CASE(file_names), UNIT_CASE(ranges_merge), UNIT_CASE(ranges_cap),
          UNIT_CASE(time_format), UNIT_CASE(strings_scanner), UNIT_CASE(strings_long_runs),
          UNIT_CASE(counter_top), UNIT_CASE(counter_bounded), UNIT_CASE(region_pages),
          UNIT_CASE(region_pages_two_copiers),
          UNIT_CASE(snapshot_into_lent_buffer), UNIT_CASE(region_options), UNIT_CASE(region_failures),
          UNIT_CASE(region_read_fallbacks), UNIT_CASE(region_never_clobbers), UNIT_CASE(region_reserve),
          UNIT_CASE(region_write_error), UNIT_CASE(dir_open), UNIT_CASE(strings_file),
          UNIT_CASE(strings_scanner_matches_oracle), UNIT_CASE(strings_name_kept_for_the_pass))
