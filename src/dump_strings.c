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
#include "memread.h"

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
    /* Two bits per key counted (from its hash), both in one 64-bit word
     * so that a look-up is one cache line; 256 KiB: once the table is
     * full, most runs that are not in it (memory full of distinct tokens)
     * are known absent here, without a cache miss in the big table. */
    uint64_t bloom[DC_BLOOM_BITS / 64];
};

#define DC_INITIAL_SLOTS 1024u

static inline uint64_t load64(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t dc_mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    return h ^ (h >> 32);
}

/* Eight bytes per multiply (a byte-at-a-time FNV-1a was most of the cost
 * of --strings on text-heavy memory), the length mixed in so that a key
 * and its zero-padded prefix differ; a final avalanche spreads the bits
 * for linear probing on the low ones. The last word is read ending at the
 * key's last byte (it may overlap the one before): no byte-wise copy of a
 * tail, which showed in profiles of memory full of short distinct runs. */
static uint64_t dc_hash(const char *s, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
    if (len >= 8) {
        size_t i = 0;
        for (; i + 8 < len; i += 8)
            h = dc_mix(h, load64(s + i));
        h = dc_mix(h, load64(s + len - 8));
    } else if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + len - 4, 4);
        h = dc_mix(h, (uint64_t)a << 32 | b);
    } else if (len > 0) {
        uint64_t w = (uint64_t)(unsigned char)s[0] << 16 |
                     (uint64_t)(unsigned char)s[len / 2] << 8 | (unsigned char)s[len - 1];
        h = dc_mix(h, w);
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

/* Where a look-up of hash h will go first: the bloom word once the table
 * is full, else the table slot. */
static inline void dc_prefetch(const struct dump_counter *c, uint64_t h)
{
    if (c->used >= DUMP_STRINGS_DISTINCT_MAX)
        __builtin_prefetch(&c->bloom[(h >> 32) & (DC_BLOOM_BITS / 64 - 1)]);
    else
        __builtin_prefetch(&c->slots[h & (c->nslots - 1)]);
}

static void dc_add_hashed(struct dump_counter *c, const char *s, size_t len, uint64_t h);

void dump_counter_add(struct dump_counter *c, const char *s, size_t len)
{
    if (len == 0 || len > DUMP_STRINGS_KEY_MAX)
        return;
    dc_add_hashed(c, s, len, dc_hash(s, len));
}

static void dc_add_hashed(struct dump_counter *c, const char *s, size_t len, uint64_t h)
{
    uint64_t *bloom_word = &c->bloom[(h >> 32) & (DC_BLOOM_BITS / 64 - 1)];
    uint64_t bloom_bits = (1ULL << ((h >> 11) & 63)) | (1ULL << ((h >> 17) & 63));
    bool full = c->used >= DUMP_STRINGS_DISTINCT_MAX;
    if (full && (*bloom_word & bloom_bits) != bloom_bits) {
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
    *bloom_word |= bloom_bits;
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

/* The byte classes of strings(1) (its default, ASCII): 1 for the bytes a
 * run is made of, 0 for the ones that end it. The tail of a buffer (its
 * last len % 64 bytes) and machines without SSE2 read this table; the
 * rest goes 64 bytes at a time. */
static const unsigned char printable_class[256] = {
    ['\t'] = 1,
#define P4(x) [x] = 1, [x + 1] = 1, [x + 2] = 1, [x + 3] = 1
#define P16(x) P4(x), P4(x + 4), P4(x + 8), P4(x + 12)
    P16(0x20), P16(0x30), P16(0x40), P16(0x50), P16(0x60), P4(0x70), P4(0x74), P4(0x78),
    [0x7c] = 1, [0x7d] = 1, [0x7e] = 1,
#undef P16
#undef P4
};

/* Output goes through the scanner's own buffer: a run is one memcpy, and
 * the stream sees a write per SCANNER_OUT_SIZE bytes. */
static void out_flush(struct dump_scanner *s)
{
    if (s->out && s->out_len)
        fwrite_unlocked(s->out_buf, 1, s->out_len, s->out);
    s->out_len = 0;
}

static inline void out_put(struct dump_scanner *s, const void *p, size_t n)
{
    if (!s->out)
        return;
    if (s->out_len + n > sizeof s->out_buf) {
        out_flush(s);
        if (n > sizeof s->out_buf) {
            fwrite_unlocked(p, 1, n, s->out);
            return;
        }
    }
    memcpy(s->out_buf + s->out_len, p, n);
    s->out_len += n;
}

static inline void out_newline(struct dump_scanner *s)
{
    if (!s->out)
        return;
    if (s->out_len == sizeof s->out_buf)
        out_flush(s);
    s->out_buf[s->out_len++] = '\n';
}

/* Counts the runs waiting in s->pending, in the order they were found
 * (the order decides which runs get into a full table). */
static void count_pending(struct dump_scanner *s)
{
    for (unsigned i = 0; i < s->npending; i++)
        dc_add_hashed(s->counter, s->pending[i].text, s->pending[i].len, s->pending[i].hash);
    s->npending = 0;
}

/* A whole run, seen at once, printed and counted when long enough. The
 * count waits in s->pending with its table line prefetched, so that
 * the cache misses of a run of distinct strings overlap instead of adding
 * up; text must stay valid until count_pending (the end of the feed, or
 * before anything else is counted). */
static inline void emit_run(struct dump_scanner *s, const unsigned char *p, size_t n)
{
    if (n < s->min)
        return;
    if (s->out) {
        if (s->out_len + n + 1 > sizeof s->out_buf)
            out_flush(s);
        memcpy(s->out_buf + s->out_len, p, n);
        s->out_buf[s->out_len + n] = '\n';
        s->out_len += n + 1;
    }
    if (s->counter && n <= DUMP_STRINGS_KEY_MAX) {
        uint64_t h = dc_hash((const char *)p, n);
        dc_prefetch(s->counter, h);
        s->pending[s->npending].text = (const char *)p;
        s->pending[s->npending].len = n;
        s->pending[s->npending].hash = h;
        if (++s->npending == DUMP_SCANNER_PENDING)
            count_pending(s);
    }
}

void dump_scanner_init(struct dump_scanner *s, unsigned min, FILE *out,
                       struct dump_counter *counter)
{
    s->min = min;
    s->out = out;
    s->counter = counter;
    s->run_len = 0;
    s->flushed = false;
    s->out_len = 0;
    s->npending = 0;
}

void dump_scanner_break(struct dump_scanner *s)
{
    if (s->run_len == 0)
        return;
    if (s->flushed) {
        out_newline(s);
    } else {
        emit_run(s, (const unsigned char *)s->head, (size_t)s->run_len);
        if (s->npending)
            count_pending(s); /* the head is about to be reused */
    }
    s->run_len = 0;
    s->flushed = false;
}

void dump_scanner_finish(struct dump_scanner *s)
{
    dump_scanner_break(s);
    out_flush(s);
}

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
        out_put(s, s->head, (size_t)s->run_len);
        s->flushed = true;
    }
    out_put(s, p, n);
    s->run_len += n;
}

/* Bit i set when p[i] is printable, for 64 bytes. SSE2 (every x86-64 has
 * it) classifies 16 bytes per compare; signed compares make bytes
 * 0x80..0xff negative, so "> 0x1f and < 0x7f" is exactly 0x20..0x7e. */
static inline uint64_t printable64(const unsigned char *p)
{
#ifdef __SSE2__
    uint64_t m = 0;
    const __m128i lo = _mm_set1_epi8(0x1f), hi = _mm_set1_epi8(0x7f), tab = _mm_set1_epi8('\t');
    for (unsigned k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        __m128i text = _mm_and_si128(_mm_cmpgt_epi8(v, lo), _mm_cmplt_epi8(v, hi));
        m |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(text, _mm_cmpeq_epi8(v, tab)))
             << (16 * k);
    }
    return m;
#else
    uint64_t m = 0;
    for (unsigned i = 0; i < 64; i++)
        m |= (uint64_t)printable_class[p[i]] << i;
    return m;
#endif
}

/* Bit i set when bits i .. i+min-1 of m are all set: where a run of at
 * least min bytes starts (or goes on), within the word (bits past 63 count
 * as clear). log2(min) steps. */
static inline uint64_t long_runs(uint64_t m, unsigned min)
{
    if (min > 64)
        return 0;
    uint64_t x = m;
    for (unsigned have = 1; have < min && x;) {
        unsigned step = have <= min - have ? have : min - have;
        x &= x >> step;
        have += step;
    }
    return x;
}

/* One block of 64 bytes. The runs inside it are found on its mask: the
 * run carried in from before ends at the first clear bit (or goes on
 * through the block), a run reaching the block's end is carried out, and
 * runs wholly inside it are picked out with long_runs, so a block of
 * zeros, binary or text shorter than min costs a few instructions. */
static inline void feed_block(struct dump_scanner *s, const unsigned char *p, uint64_t m)
{
    if (s->run_len) {
        unsigned lead = m == ~0ULL ? 64 : (unsigned)__builtin_ctzll(~m);
        if (lead)
            scanner_span(s, p, lead);
        if (lead == 64)
            return;
        dump_scanner_break(s);
        m &= ~0ULL << lead; /* bit lead is clear: the carried run is done */
    }
    if (!m)
        return;
    unsigned tail = m == ~0ULL ? 64 : (unsigned)__builtin_clzll(~m);
    uint64_t inner = tail == 64 ? 0 : tail ? m & (~0ULL >> tail) : m;
    for (uint64_t x = long_runs(inner, s->min); x;) {
        unsigned start = (unsigned)__builtin_ctzll(x);
        unsigned end = start + (unsigned)__builtin_ctzll(~(inner >> start)); /* < 64 */
        emit_run(s, p + start, end - start);
        x &= ~0ULL << end;
    }
    if (tail)
        scanner_span(s, p + 64 - tail, tail);
}

/* What is left after the blocks: by the class table, a byte at a time
 * but a run at a time into the scanner. */
static void feed_tail(struct dump_scanner *s, const unsigned char *buf, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && printable_class[buf[j]])
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

void dump_scanner_feed(struct dump_scanner *s, const unsigned char *buf, size_t len)
{
    size_t i = 0;
    for (; i + 64 <= len; i += 64)
        feed_block(s, buf + i, printable64(buf + i));
    feed_tail(s, buf + i, len - i);
    if (s->npending)
        count_pending(s); /* buf is the caller's only until we return */
}

/* The pass reads the .bin in pieces this large: they stay in the CPU's
 * own cache between the read and the scan (measured on a 256 MiB dump of
 * heap-like memory: 1 MiB pieces 280 to 320 ms, 64 KiB 230 to 260). */
#define STRINGS_READ_SIZE (64u << 10)

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
                     size_t buf_size, const atomic_bool *cancel)
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
            if (cancel && atomic_load(cancel)) {
                errno = ECANCELED;
                return -1;
            }
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

int dump_strings(int dir_fd, const char *bin_name, unsigned min, const atomic_bool *cancel,
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
    buf = memread_buf_new(STRINGS_READ_SIZE);
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
    if (scan_file(in, (uint64_t)st.st_size, &sc, buf, STRINGS_READ_SIZE, cancel) < 0) {
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
