/*
 * Unit tests for --strings (dump_strings.h) against a reference written
 * here, as plainly as strings(1) is specified: a byte at a time, every run
 * of at least MIN bytes of 0x20..0x7e or tab printed on its own line, the
 * runs of at most DUMP_STRINGS_KEY_MAX bytes counted, the top ten by count
 * then byte order. The product's scanner goes 64 bytes at a time, buffers
 * its output and defers its counting; whatever the pieces it is fed in,
 * the breaks (holes) between them and the thread it runs on (dump_copy.h's
 * pipe), it must print and count exactly what the reference does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump.h"
#include "dump_copy.h"
#include "dump_strings.h"
#include "memread.h"
#include "unit.h"

/* ---- the reference --------------------------------------------------------- */

struct ref_entry {
    const unsigned char *text;
    size_t len;
    uint64_t count;
};

struct ref {
    char *out;
    size_t out_len, out_cap;
    struct ref_entry *v;
    size_t n, cap;
};

static void ref_put(struct ref *r, const void *p, size_t n)
{
    if (r->out_len + n + 1 > r->out_cap) {
        r->out_cap = (r->out_len + n + 1) * 2;
        r->out = realloc(r->out, r->out_cap);
    }
    memcpy(r->out + r->out_len, p, n);
    r->out_len += n;
    r->out[r->out_len] = '\0';
}

static void ref_count(struct ref *r, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].len == n && memcmp(r->v[i].text, p, n) == 0) {
            r->v[i].count++;
            return;
        }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n++] = (struct ref_entry){p, n, 1};
}

static int ref_order(const void *pa, const void *pb)
{
    const struct ref_entry *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int m = memcmp(a->text, b->text, n);
    if (m)
        return m;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* mem[0..len) with a hole (a run break) before every offset in breaks
 * (sorted). */
static void ref_strings(struct ref *r, const unsigned char *mem, size_t len,
                        const size_t *breaks, size_t nbreaks, unsigned min)
{
    memset(r, 0, sizeof *r);
    ref_put(r, "", 0);
    size_t start = 0, b = 0;
    for (size_t i = 0; i <= len; i++) {
        bool hole = b < nbreaks && breaks[b] == i;
        while (b < nbreaks && breaks[b] == i)
            b++;
        bool text = i < len && !hole && ((mem[i] >= 0x20 && mem[i] <= 0x7e) || mem[i] == '\t');
        if (text)
            continue;
        if (hole && i < len && ((mem[i] >= 0x20 && mem[i] <= 0x7e) || mem[i] == '\t')) {
            /* the run before the hole ends; mem[i] starts the next one */
            if (i - start >= min) {
                ref_put(r, mem + start, i - start);
                ref_put(r, "\n", 1);
                if (i - start <= DUMP_STRINGS_KEY_MAX)
                    ref_count(r, mem + start, i - start);
            }
            start = i;
            continue;
        }
        if (i - start >= min) {
            ref_put(r, mem + start, i - start);
            ref_put(r, "\n", 1);
            if (i - start <= DUMP_STRINGS_KEY_MAX)
                ref_count(r, mem + start, i - start);
        }
        start = i + 1;
    }
    if (r->n)
        qsort(r->v, r->n, sizeof *r->v, ref_order);
}

static void ref_free(struct ref *r)
{
    free(r->out);
    free(r->v);
}

/* ---- inputs ---------------------------------------------------------------- */

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Segments chosen to be hard: runs of exactly min - 1, min, min + 1, 63,
 * 64, 65 and DUMP_STRINGS_KEY_MAX (+1) bytes, runs far longer than the
 * scanner's output buffer, tokens repeated (so counts tie and differ),
 * NUL-separated words, the bytes just outside the class (0x1f, 0x7f,
 * 0x80, 0xff) and tabs, random binary, zeros. */
static size_t tricky_memory(unsigned char *buf, size_t cap, unsigned min)
{
    static const char *const words[] = {"alpha", "bravo-bravo", "Content-Type: text/plain",
                                        "x", "tab\tinside", "0123456789"};
    size_t n = 0;
    while (n < cap) {
        size_t want;
        unsigned kind = (unsigned)(rng() % 9);
        switch (kind) {
        case 0: {
            static const size_t lens[] = {0, 0, 1, 63, 64, 65, 127, 128, 129,
                                          DUMP_STRINGS_KEY_MAX, DUMP_STRINGS_KEY_MAX + 1};
            size_t k = rng() % (sizeof lens / sizeof lens[0] + 3);
            want = k < 3 ? min + k - 1 : lens[k - 3]; /* min - 1, min, min + 1 */
            break;
        }
        case 1: want = 20000 + rng() % 30000; break; /* longer than the output buffer */
        default: want = 1 + rng() % 300; break;
        }
        if (want > cap - n)
            want = cap - n;
        unsigned char *p = buf + n;
        for (size_t i = 0; i < want; i++) {
            switch (kind) {
            case 0:
            case 1: p[i] = (unsigned char)('a' + (i + n) % 26); break;
            case 2: p[i] = 0; break;
            case 3: p[i] = (unsigned char)rng(); break;
            case 4: p[i] = "\x1f\x7f\x80\xff\t "[rng() % 6]; break;
            case 5: p[i] = (unsigned char)(0x20 + rng() % 95); break;
            default: {
                /* NUL-separated repeated words */
                const char *w = words[rng() % 6];
                size_t wl = strlen(w);
                if (i + wl + 1 > want) {
                    p[i] = 0;
                    continue;
                }
                memcpy(p + i, w, wl);
                p[i + wl] = 0;
                i += wl;
            }
            }
        }
        /* the run just written ends here, whatever comes next */
        if (kind <= 1 && n + want < cap) {
            buf[n + want] = (unsigned char)"\0\x7f\x80\n"[rng() % 4];
            want++;
        }
        n += want;
    }
    return n;
}

/* ---- the product, fed in pieces -------------------------------------------- */

struct scanned {
    char *out;
    size_t out_len;
    struct string_count top[DUMP_STRINGS_TOP];
    size_t ntop;
};

/* Feeds mem in pieces of random sizes (1 to max_piece), with a break at
 * every offset in breaks, which must fall on piece borders (they do: the
 * pieces are cut there). */
static void product_strings(struct scanned *got, const unsigned char *mem, size_t len,
                            const size_t *breaks, size_t nbreaks, unsigned min,
                            size_t max_piece)
{
    FILE *f = open_memstream(&got->out, &got->out_len);
    struct dump_counter *c = dump_counter_new();
    struct dump_scanner *s = malloc(sizeof *s);
    dump_scanner_init(s, min, f, c);
    size_t i = 0, b = 0;
    while (i < len) {
        while (b < nbreaks && breaks[b] <= i) {
            if (breaks[b] == i && i > 0)
                dump_scanner_break(s);
            b++;
        }
        size_t piece = 1 + rng() % max_piece;
        if (piece > len - i)
            piece = len - i;
        if (b < nbreaks && breaks[b] < i + piece)
            piece = breaks[b] - i;
        /* a copy, scribbled over after the feed: nothing may be kept */
        unsigned char *copy = malloc(piece);
        memcpy(copy, mem + i, piece);
        dump_scanner_feed(s, copy, piece);
        memset(copy, 'Q', piece);
        free(copy);
        i += piece;
    }
    dump_scanner_finish(s);
    fclose(f);
    got->ntop = dump_counter_top(c, got->top);
    dump_counter_free(c);
    free(s);
}

static bool same_top(const struct scanned *got, const struct ref *want)
{
    size_t n = want->n < DUMP_STRINGS_TOP ? want->n : DUMP_STRINGS_TOP;
    if (got->ntop != n)
        return false;
    for (size_t k = 0; k < n; k++)
        if (got->top[k].count != want->v[k].count || got->top[k].len != want->v[k].len ||
            memcmp(got->top[k].text, want->v[k].text, want->v[k].len) != 0 ||
            got->top[k].text[want->v[k].len] != '\0')
            return false;
    return true;
}

TEST(scanner_matches_reference)
{
    enum { CAP = 200000 };
    unsigned char *mem = malloc(CAP);
    size_t breaks[64];
    for (unsigned iter = 0; iter < 150; iter++) {
        unsigned min = 1 + (unsigned)(rng() % 12);
        if (iter % 10 == 1)
            min = 63 + (unsigned)(rng() % 3); /* about one block */
        if (iter % 25 == 2)
            min = DUMP_STRINGS_KEY_MAX;
        size_t len = tricky_memory(mem, 1 + rng() % CAP, min);
        size_t nbreaks = rng() % 8;
        for (size_t k = 0; k < nbreaks; k++)
            breaks[k] = rng() % (len + 1);
        for (size_t k = 1; k < nbreaks; k++) /* sorted */
            for (size_t j = k; j > 0 && breaks[j - 1] > breaks[j]; j--) {
                size_t t = breaks[j];
                breaks[j] = breaks[j - 1];
                breaks[j - 1] = t;
            }
        struct ref want;
        ref_strings(&want, mem, len, breaks, nbreaks, min);
        static const size_t max_pieces[] = {1, 7, 64, 65, 4096, 1 << 20};
        struct scanned got = {0};
        product_strings(&got, mem, len, breaks, nbreaks, min, max_pieces[iter % 6]);
        bool same_out = got.out_len == want.out_len && memcmp(got.out, want.out, want.out_len) == 0;
        bool top_ok = same_top(&got, &want);
        free(got.out);
        ref_free(&want);
        if (!same_out || !top_ok)
            printf("iteration %u, min %u, length %zu, %zu breaks\n", iter, min, len, nbreaks);
        CHECK(same_out);
        CHECK(top_ok);
    }
    free(mem);
}

/* Exact cases a reader can check by eye. */
TEST(scanner_edges)
{
    struct {
        const char *in;
        size_t len;
        unsigned min;
        const char *want;
    } cases[] = {
        {"abcdef\0abcde\0", 13, 6, "abcdef\n"},                /* exactly min, min - 1 */
        {"\x80hello\xffworld\x7f", 13, 5, "hello\nworld\n"},   /* high bytes and DEL end runs */
        {"tab\there\x1f", 9, 4, "tab\there\n"},                /* tab is in, 0x1f out */
        {"no-end-at-all", 13, 4, "no-end-at-all\n"},            /* the last run, at finish */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct scanned got = {0};
        product_strings(&got, (const unsigned char *)cases[i].in, cases[i].len, NULL, 0,
                        cases[i].min, 3);
        bool ok = got.out && strcmp(got.out, cases[i].want) == 0;
        free(got.out);
        CHECK(ok);
    }
}

/* ---- after a dump by two copiers ------------------------------------------- */

/* A process of npages pages, every one present, read from mem. */
static const unsigned char *fake_mem;
static size_t fake_npages;
#define FAKE_ADDR 0x7f0000000000ULL

static int fake_flags(pid_t pid, uint64_t addr, size_t npages, uint64_t *flags)
{
    (void)pid;
    for (size_t i = 0; i < npages; i++) {
        uint64_t page = (addr - FAKE_ADDR) / DUMP_PAGE_SIZE + i;
        /* every seventh page absent: a hole, which ends a run */
        flags[i] = page < fake_npages && page % 7 != 3 ? MEMREAD_PAGE_PRESENT : 0;
    }
    return 0;
}

static ssize_t fake_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
    (void)pid;
    memcpy(buf, fake_mem + (addr - FAKE_ADDR), len);
    return (ssize_t)len;
}

static const struct dump_source fake_source = {.read = fake_read, .page_flags = fake_flags};

static char *read_file(int dfd, const char *name, size_t *len)
{
    int fd = openat(dfd, name, O_RDONLY);
    if (fd < 0)
        return NULL;
    struct stat st;
    fstat(fd, &st);
    char *buf = malloc((size_t)st.st_size + 1);
    *len = (size_t)pread(fd, buf, (size_t)st.st_size, 0);
    buf[*len] = '\0';
    close(fd);
    return buf;
}

/* A dump with --strings made by two copiers (chunks of one page, taken
 * in turn hundreds of times), then the strings pass over its .bin, as the
 * dumper makes them: the .strings lands on the name the dump kept free,
 * and it and the top are the reference's on the region's bytes with a
 * break at every hole. A chunk written at the wrong offset, or a hole
 * scanned as data, shows here. */
TEST(strings_after_dump_match_reference)
{
    enum { NPAGES = 600 };
    unsigned char *mem = malloc(NPAGES * DUMP_PAGE_SIZE);
    size_t len = tricky_memory(mem, NPAGES * DUMP_PAGE_SIZE, 6);
    CHECK(len == NPAGES * DUMP_PAGE_SIZE);
    fake_mem = mem;
    fake_npages = NPAGES;
    /* What the .bin holds: the holes are zeros (and breaks). */
    unsigned char *bin = malloc(len);
    size_t breaks[NPAGES];
    size_t nbreaks = 0;
    for (size_t p = 0; p < NPAGES; p++) {
        bool hole = p % 7 == 3;
        if (hole)
            memset(bin + p * DUMP_PAGE_SIZE, 0, DUMP_PAGE_SIZE);
        else
            memcpy(bin + p * DUMP_PAGE_SIZE, mem + p * DUMP_PAGE_SIZE, DUMP_PAGE_SIZE);
        if (hole)
            breaks[nbreaks++] = p * DUMP_PAGE_SIZE;
    }
    struct ref want;
    ref_strings(&want, bin, len, breaks, nbreaks, 6);

    char dir[] = "/tmp/mmapwatch-unit-strings-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    struct dump_copier *copier = dump_copier_new(DUMP_PAGE_SIZE);
    CHECK(dfd >= 0 && copier != NULL);
    bool all_ok = true;
    for (unsigned round = 0; round < 3 && all_ok; round++) {
        struct dump_request req = {.pid = 4242, .tid = 4242, .addr = FAKE_ADDR,
                                   .len = NPAGES * DUMP_PAGE_SIZE, .prot = 3, .flags = 0x22,
                                   .seq = round + 1};
        struct dump_options opt = {.buf_size = DUMP_PAGE_SIZE, .source = &fake_source,
                                   .strings = round != 1, .copier = copier};
        struct dump_result res;
        int rc = dump_region(dfd, &req, &opt, &res);
        /* round 1 has no --strings: no name kept for one */
        if (rc != 0 || (round != 1) != (res.strings_name[0] != '\0') ||
            faccessat(dfd, res.strings_name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
            all_ok = false;
        } else if (round != 1) {
            struct scanned s = {0};
            size_t got_len = 0;
            char *got = NULL;
            if (dump_strings(dfd, res.name, 6, NULL, s.top, &s.ntop) == 0)
                got = read_file(dfd, res.strings_name, &got_len);
            all_ok = got && got_len == want.out_len && memcmp(got, want.out, got_len) == 0 &&
                     same_top(&s, &want);
            free(got);
            unlinkat(dfd, res.strings_name, 0);
        }
        if (rc == 0) {
            unlinkat(dfd, res.name, 0);
            unlinkat(dfd, res.meta_name, 0);
        }
        dump_result_release(&res);
    }
    dump_copier_free(copier);
    close(dfd);
    rmdir(dir);
    ref_free(&want);
    free(bin);
    free(mem);
    CHECK(all_ok);
}

UNIT_MAIN(UNIT_CASE(scanner_matches_reference), UNIT_CASE(scanner_edges),
          UNIT_CASE(strings_after_dump_match_reference))
