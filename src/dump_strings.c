/*
 * dump_strings: the --strings scanner, its bounded counting table, and the
 * pass over a finished .bin. See include/dump_strings.h.
 */
#include "dump_strings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "dump.h"
#include "dump_file.h"

/* ---- --strings ---------------------------------------------------------- */

struct dc_entry {
    uint64_t hash;
    uint64_t count; /* 0 = empty slot */
    uint32_t off;   /* into the arena */
    uint16_t len;
};

#define DC_BLOOM_BITS (1u << 21)

struct dump_counter {
    struct dc_entry *slots;
    size_t nslots; /* a power of two */
    size_t used;
    char *arena;
    size_t arena_len, arena_cap;
    uint64_t dropped;
    /* Two bits per key counted (from its hash), 256 KiB: once the table is
     * full, most runs that are not in it (memory full of distinct tokens)
     * are known absent here, without a cache miss in the big table. */
    uint64_t bloom[DC_BLOOM_BITS / 64];
};

#define DC_INITIAL_SLOTS 1024u

/* Eight bytes per multiply (a byte-at-a-time FNV-1a was most of the cost
 * of --strings on text-heavy memory), the length mixed in so that a key
 * and its zero-padded prefix differ; a final avalanche spreads the bits
 * for linear probing on the low ones. */
static uint64_t dc_hash(const char *s, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    if (i < len) {
        uint64_t w = 0;
        memcpy(&w, s + i, len - i);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
    }
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

struct dump_counter *dump_counter_new(void)
{
    struct dump_counter *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->slots = calloc(DC_INITIAL_SLOTS, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    c->nslots = DC_INITIAL_SLOTS;
    return c;
}

void dump_counter_free(struct dump_counter *c)
{
    if (!c)
        return;
    free(c->slots);
    free(c->arena);
    free(c);
}

uint64_t dump_counter_dropped(const struct dump_counter *c) { return c->dropped; }

static int dc_grow(struct dump_counter *c)
{
    size_t n = c->nslots * 2;
    struct dc_entry *s = calloc(n, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < c->nslots; i++) {
        if (!c->slots[i].count)
            continue;
        size_t k = c->slots[i].hash & (n - 1);
        while (s[k].count)
            k = (k + 1) & (n - 1);
        s[k] = c->slots[i];
    }
    free(c->slots);
    c->slots = s;
    c->nslots = n;
    return 0;
}

void dump_counter_add(struct dump_counter *c, const char *s, size_t len)
{
    if (len == 0 || len > DUMP_STRINGS_KEY_MAX)
        return;
    uint64_t h = dc_hash(s, len);
    uint64_t b1 = (h >> 32) & (DC_BLOOM_BITS - 1), b2 = (h >> 11) & (DC_BLOOM_BITS - 1);
    bool full = c->used >= DUMP_STRINGS_DISTINCT_MAX;
    if (full && !((c->bloom[b1 / 64] >> (b1 % 64)) & (c->bloom[b2 / 64] >> (b2 % 64)) & 1)) {
        c->dropped++; /* not in the table, and no room for it */
        return;
    }
    size_t k = h & (c->nslots - 1);
    for (; c->slots[k].count; k = (k + 1) & (c->nslots - 1)) {
        struct dc_entry *e = &c->slots[k];
        if (e->hash == h && e->len == len && memcmp(c->arena + e->off, s, len) == 0) {
            e->count++;
            return;
        }
    }
    if (c->used >= DUMP_STRINGS_DISTINCT_MAX || c->arena_len + len > DUMP_STRINGS_ARENA_MAX) {
        c->dropped++;
        return;
    }
    if (c->arena_len + len > c->arena_cap) {
        size_t cap = c->arena_cap ? c->arena_cap * 2 : 64 * 1024;
        while (cap < c->arena_len + len)
            cap *= 2;
        if (cap > DUMP_STRINGS_ARENA_MAX)
            cap = DUMP_STRINGS_ARENA_MAX;
        char *a = realloc(c->arena, cap);
        if (!a) {
            c->dropped++;
            return;
        }
        c->arena = a;
        c->arena_cap = cap;
    }
    /* Keep the load at most one half so probes stay short; grow before
     * inserting, then find the free slot again in the new table. */
    if ((c->used + 1) * 2 > c->nslots) {
        if (dc_grow(c) < 0) {
            c->dropped++;
            return;
        }
        k = h & (c->nslots - 1);
        while (c->slots[k].count)
            k = (k + 1) & (c->nslots - 1);
    }
    memcpy(c->arena + c->arena_len, s, len);
    c->slots[k] = (struct dc_entry){
        .hash = h, .count = 1, .off = (uint32_t)c->arena_len, .len = (uint16_t)len};
    c->arena_len += len;
    c->used++;
    c->bloom[b1 / 64] |= 1ULL << (b1 % 64);
    c->bloom[b2 / 64] |= 1ULL << (b2 % 64);
}

/* Most frequent first; equal counts in byte order so output is stable. */
static int dc_before(uint64_t ca, const char *a, size_t la, uint64_t cb, const char *b, size_t lb)
{
    if (ca != cb)
        return ca > cb;
    size_t n = la < lb ? la : lb;
    int m = memcmp(a, b, n);
    return m != 0 ? m < 0 : la < lb;
}

size_t dump_counter_top(const struct dump_counter *c, struct string_count top[DUMP_STRINGS_TOP])
{
    size_t n = 0;
    for (size_t i = 0; i < c->nslots; i++) {
        const struct dc_entry *e = &c->slots[i];
        if (!e->count)
            continue;
        const char *s = c->arena + e->off;
        /* Insertion into a sorted array of ten: cheaper than sorting the
         * whole table, and the table may hold 100k entries. */
        size_t pos = n;
        while (pos > 0 && dc_before(e->count, s, e->len, top[pos - 1].count, top[pos - 1].text,
                                    top[pos - 1].len))
            pos--;
        if (pos >= DUMP_STRINGS_TOP)
            continue;
        size_t last = n < DUMP_STRINGS_TOP ? n : DUMP_STRINGS_TOP - 1;
        memmove(&top[pos + 1], &top[pos], (last - pos) * sizeof *top);
        memcpy(top[pos].text, s, e->len);
        top[pos].text[e->len] = '\0';
        top[pos].len = e->len;
        top[pos].count = e->count;
        if (n < DUMP_STRINGS_TOP)
            n++;
    }
    return n;
}

static bool printable(unsigned char ch) { return (ch >= 0x20 && ch <= 0x7e) || ch == '\t'; }

void dump_scanner_init(struct dump_scanner *s, unsigned min, FILE *out,
                       struct dump_counter *counter)
{
    memset(s, 0, sizeof *s);
    s->min = min;
    s->out = out;
    s->counter = counter;
}

void dump_scanner_break(struct dump_scanner *s)
{
    if (s->run_len == 0)
        return;
    if (s->flushed) {
        if (s->out)
            fputc_unlocked('\n', s->out);
    } else if (s->run_len >= s->min) {
        if (s->out) {
            fwrite_unlocked(s->head, 1, (size_t)s->run_len, s->out);
            fputc_unlocked('\n', s->out);
        }
        if (s->counter)
            dump_counter_add(s->counter, s->head, (size_t)s->run_len);
    }
    s->run_len = 0;
    s->flushed = false;
}

void dump_scanner_finish(struct dump_scanner *s) { dump_scanner_break(s); }

/* A span of printable bytes continuing the current run. Runs that fit the
 * head are held until they end (their length decides whether they print);
 * a longer run is already past min (min <= DUMP_STRINGS_KEY_MAX), so it is
 * streamed out and not counted. */
static void scanner_span(struct dump_scanner *s, const unsigned char *p, size_t n)
{
    if (!s->flushed && s->run_len + n <= DUMP_STRINGS_KEY_MAX) {
        memcpy(s->head + s->run_len, p, n);
        s->run_len += n;
        return;
    }
    if (!s->flushed) {
        if (s->out)
            fwrite_unlocked(s->head, 1, (size_t)s->run_len, s->out);
        s->flushed = true;
    }
    if (s->out)
        fwrite_unlocked(p, 1, n, s->out);
    s->run_len += n;
}

/* Bit i set when p[i] is printable, for 16 bytes: SSE2 (every x86-64
 * has it) compares 16 bytes at once, so a page of zeros or of binary data
 * costs a few instructions per 16 bytes, and only the edges of runs cost
 * more. Signed compares: bytes 0x80..0xff are negative, so "> 0x1f and
 * < 0x7f" is exactly 0x20..0x7e. */
static inline unsigned printable16(const unsigned char *p)
{
#ifdef __SSE2__
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i text = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f)),
                                 _mm_cmplt_epi8(v, _mm_set1_epi8(0x7f)));
    __m128i tab = _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(text, tab));
#else
    unsigned m = 0;
    for (unsigned i = 0; i < 16; i++)
        m |= (unsigned)printable(p[i]) << i;
    return m;
#endif
}

/* One byte at a time, for what is left after the blocks of 16. */
static void feed_bytes(struct dump_scanner *s, const unsigned char *buf, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && printable(buf[j]))
            j++;
        if (j > i)
            scanner_span(s, buf + i, j - i);
        if (j < len) {
            dump_scanner_break(s);
            j++;
        }
        i = j;
    }
}

/* Whether the 16-bit mask holds min set bits in a row. */
static inline bool has_run(unsigned m, unsigned min)
{
    if (min > 16)
        return false;
    unsigned x = m;
    for (unsigned k = 1; k < min && x; k++)
        x &= m >> k;
    return x != 0;
}

void dump_scanner_feed(struct dump_scanner *s, const unsigned char *buf, size_t len)
{
    size_t i = 0;
    for (; i + 16 <= len; i += 16) {
        unsigned m = printable16(buf + i);
        if (s->run_len && !(m & 1))
            dump_scanner_break(s); /* the current run ends before this block */
        /* No run continues in or out, none is long enough to print:
         * nothing to do (zeros, and most binary data). */
        if (s->run_len == 0 && !(m & 0x8000) && !has_run(m, s->min))
            continue;
        if (m == 0)
            continue;
        if (m == 0xffff) {
            scanner_span(s, buf + i, 16);
            continue;
        }
        /* Alternating runs within the block: a printable run is a span, a
         * non-printable one a break (once: a second would find no run). */
        for (unsigned j = 0; j < 16;) {
            unsigned rest = m >> j;
            if (rest & 1) {
                unsigned n = (unsigned)__builtin_ctz(~rest); /* bits past 15 - j are 0 */
                /* A run that starts and ends inside this block, shorter
                 * than min, prints and counts nothing: binary data is
                 * mostly such runs, so they cost no call at all. */
                if (s->run_len == 0 && j + n < 16 && n < s->min) {
                    j += n;
                    continue;
                }
                scanner_span(s, buf + i + j, n);
                j += n;
            } else {
                dump_scanner_break(s);
                j = rest ? j + (unsigned)__builtin_ctz(rest) : 16;
            }
        }
    }
    feed_bytes(s, buf + i, len - i);
}

/* "<base>.strings" for "<base>.bin" (any other name: name + ".strings"). */
static int strings_name(char *buf, size_t size, const char *bin_name)
{
    size_t len = strlen(bin_name);
    if (len > 4 && strcmp(bin_name + len - 4, ".bin") == 0)
        len -= 4;
    int n = snprintf(buf, size, "%.*s.strings", (int)len, bin_name);
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* Feeds the scanner the file's data segments; holes are runs of zeros, so
 * skipping them with SEEK_DATA/SEEK_HOLE changes nothing but the time (a
 * 1 GiB reservation with 16 MiB touched reads 16 MiB). */
static int scan_file(int in, uint64_t size, struct dump_scanner *sc, unsigned char *buf,
                     size_t buf_size)
{
    uint64_t off = 0;
    while (off < size) {
        off_t data = lseek(in, (off_t)off, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO)
                break; /* only a hole is left */
            if (errno != EINVAL)
                return -1;
            data = (off_t)off; /* no SEEK_DATA here: everything is data */
        }
        if ((uint64_t)data > off) {
            dump_scanner_break(sc);
            off = (uint64_t)data;
        }
        off_t hole = lseek(in, (off_t)off, SEEK_HOLE);
        uint64_t stop = (hole < 0 || (uint64_t)hole > size) ? size : (uint64_t)hole;
        if (stop <= off)
            stop = size; /* defensive: always make progress */
        while (off < stop) {
            size_t want = (stop - off < buf_size) ? (size_t)(stop - off) : buf_size;
            ssize_t n = pread(in, buf, want, (off_t)off);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            if (n == 0)
                return 0; /* the file shrank under us: scan what was there */
            dump_scanner_feed(sc, buf, (size_t)n);
            off += (uint64_t)n;
        }
    }
    return 0;
}

int dump_strings(int dir_fd, const char *bin_name, unsigned min,
                 struct string_count top[DUMP_STRINGS_TOP], size_t *ntop)
{
    char name[DUMP_NAME_MAX], tmp[DUMP_NAME_MAX + 16];
    int in = -1, err = 0;
    bool tmp_created = false;
    FILE *out = NULL;
    struct dump_counter *counter = NULL;
    unsigned char *buf = NULL;

    *ntop = 0;
    if (min == 0 || min > DUMP_STRINGS_KEY_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (strings_name(name, sizeof name, bin_name) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }

    in = openat(dir_fd, bin_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0) {
        err = errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err = EINVAL;
        goto out;
    }
    counter = dump_counter_new();
    buf = malloc(DUMP_BUF_DEFAULT);
    if (!counter || !buf) {
        err = ENOMEM;
        goto out;
    }
    int ofd = dump_file_create_temp(dir_fd, name, tmp, sizeof tmp);
    if (ofd < 0) {
        err = errno;
        goto out;
    }
    tmp_created = true;
    out = fdopen(ofd, "w");
    if (!out) {
        err = errno;
        close(ofd);
        goto out;
    }

    struct dump_scanner sc;
    dump_scanner_init(&sc, min, out, counter);
    if (scan_file(in, (uint64_t)st.st_size, &sc, buf, DUMP_BUF_DEFAULT) < 0) {
        err = errno;
        goto out;
    }
    dump_scanner_finish(&sc);
    FILE *f = out;
    out = NULL;
    if (dump_file_finish_stream(f, false) < 0 || dump_file_publish(dir_fd, tmp, name) < 0) {
        err = errno;
        goto out;
    }
    tmp_created = false;
    *ntop = dump_counter_top(counter, top);

out:
    if (out)
        fclose(out);
    if (tmp_created)
        unlinkat(dir_fd, tmp, 0);
    if (in >= 0)
        close(in);
    dump_counter_free(counter);
    free(buf);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}
