/*
 * Unit tests for regions.c: the interval-set contract case by case (insert
 * over overlaps, munmap trimming and splitting, mprotect splitting, mremap
 * moves, clones, ordering), then thousands of random operations checked
 * against a page-array model after every step.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "regions.h"
#include "unit.h"

#define PG 0x1000ULL

static struct region mk(uint64_t start, uint64_t end, uint64_t id)
{
    struct region r;
    memset(&r, 0, sizeof r);
    r.start = start;
    r.end = end;
    r.prot = 1;
    r.flags = 0x22;
    r.fd = -1;
    r.offset = 0;
    r.tid = (pid_t)(1000 + id);
    r.mapped_at.tv_sec = (time_t)id;
    r.mapped_at.tv_nsec = 5;
    r.id = id;
    return r;
}

#define MAXR 4096

struct list {
    size_t n;
    struct region r[MAXR];
    int stop_after; /* 0: never stop */
};

static int collect(const struct region *r, void *ctx)
{
    struct list *l = ctx;
    if (l->n < MAXR)
        l->r[l->n] = *r;
    l->n++;
    if (l->stop_after && (int)l->n == l->stop_after)
        return 42;
    return 0;
}

static struct list *list_of(const struct region_set *set)
{
    static struct list l;
    memset(&l, 0, sizeof l);
    region_set_foreach(set, collect, &l);
    return &l;
}

/* Compares the whole set with the expected {start, end, id, offset, prot}. */
struct want {
    uint64_t start, end, id, offset;
    int prot;
};

static bool same(const struct region_set *set, const struct want *w, size_t n)
{
    struct list *l = list_of(set);
    if (l->n != n || region_set_count(set) != n)
        return false;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const struct region *r = &l->r[i];
        if (r->start != w[i].start || r->end != w[i].end || r->id != w[i].id ||
            r->offset != w[i].offset || r->prot != w[i].prot)
            return false;
        /* Pieces keep everything else of the region they came from. */
        if (r->tid != (pid_t)(1000 + r->id) || r->mapped_at.tv_sec != (time_t)r->id ||
            r->mapped_at.tv_nsec != 5 || r->fd != -1 || r->flags != 0x22)
            return false;
        bytes += r->end - r->start;
    }
    return region_set_bytes(set) == bytes;
}

#define SAME(set, ...)                                                   \
    same(set, (const struct want[]){__VA_ARGS__},                        \
         sizeof((const struct want[]){__VA_ARGS__}) / sizeof(struct want))

static int insert(struct region_set *s, uint64_t start, uint64_t end, uint64_t id,
                  uint64_t offset)
{
    struct region r = mk(start, end, id);
    r.offset = offset;
    return region_set_insert(s, &r);
}

TEST(empty_set)
{
    region_set_free(NULL);
    struct region_set *s = region_set_new();
    CHECK(s != NULL);
    CHECK(region_set_count(s) == 0);
    CHECK_U64(region_set_bytes(s), 0);
    CHECK(region_set_find(s, 0) == NULL);
    CHECK(region_set_find(s, UINT64_MAX) == NULL);
    CHECK(!region_set_overlaps(s, 0, UINT64_MAX));
    CHECK(list_of(s)->n == 0);
    uint64_t removed = 99;
    CHECK(region_set_remove(s, 0, UINT64_MAX, &removed) == 0);
    CHECK_U64(removed, 0);
    CHECK(region_set_protect(s, 0, UINT64_MAX, 7) == 0);
    CHECK(region_set_move(s, 0x1000, 0x1000, 0x5000, 0x1000) == 0);
    CHECK(region_set_count(s) == 0);
    struct region_set *c = region_set_clone(s);
    CHECK(c != NULL && region_set_count(c) == 0);
    region_set_free(c);
    region_set_free(s);
}

TEST(insert_and_find)
{
    struct region_set *s = region_set_new();
    CHECK(insert(s, 0x5000, 0x6000, 2, 0) == 0);
    CHECK(insert(s, 0x1000, 0x3000, 1, 0x7000) == 0);
    CHECK(SAME(s, {0x1000, 0x3000, 1, 0x7000, 1}, {0x5000, 0x6000, 2, 0, 1}));

    CHECK(region_set_find(s, 0xfff) == NULL);
    CHECK(region_set_find(s, 0x1000) && region_set_find(s, 0x1000)->id == 1);
    CHECK(region_set_find(s, 0x2fff) && region_set_find(s, 0x2fff)->id == 1);
    CHECK(region_set_find(s, 0x3000) == NULL);
    CHECK(region_set_find(s, 0x4fff) == NULL);
    CHECK(region_set_find(s, 0x5000) && region_set_find(s, 0x5000)->id == 2);
    CHECK(region_set_find(s, 0x5fff) && region_set_find(s, 0x5fff)->id == 2);
    CHECK(region_set_find(s, 0x6000) == NULL);

    CHECK(!region_set_overlaps(s, 0, 0x1000));
    CHECK(region_set_overlaps(s, 0, 0x1001));
    CHECK(region_set_overlaps(s, 0x2fff, 0x3000));
    CHECK(!region_set_overlaps(s, 0x3000, 0x5000));
    CHECK(region_set_overlaps(s, 0x3000, 0x5001));
    CHECK(region_set_overlaps(s, 0x1800, 0x1900));
    CHECK(!region_set_overlaps(s, 0x6000, UINT64_MAX));
    CHECK(region_set_overlaps(s, 0, UINT64_MAX));
    CHECK(!region_set_overlaps(s, 0x1800, 0x1800)); /* empty range */

    /* An empty region is not stored. */
    CHECK(insert(s, 0x9000, 0x9000, 3, 0) == 0);
    CHECK(region_set_count(s) == 2);
    region_set_free(s);
}

TEST(insert_replaces_overlaps)
{
    struct region_set *s = region_set_new();
    insert(s, 0x1000, 0x4000, 1, 0x10000);
    insert(s, 0x5000, 0x8000, 2, 0x20000);
    insert(s, 0x9000, 0xa000, 3, 0);
    /* MAP_FIXED over the tail of 1, the gap, and the head of 2. */
    CHECK(insert(s, 0x3000, 0x6000, 4, 0) == 0);
    CHECK(SAME(s, {0x1000, 0x3000, 1, 0x10000, 1}, {0x3000, 0x6000, 4, 0, 1},
               {0x6000, 0x8000, 2, 0x21000, 1}, {0x9000, 0xa000, 3, 0, 1}));

    /* Into the middle of one region: it splits around the new one. */
    CHECK(insert(s, 0x1400, 0x1800, 5, 0) == 0);
    CHECK(SAME(s, {0x1000, 0x1400, 1, 0x10000, 1}, {0x1400, 0x1800, 5, 0, 1},
               {0x1800, 0x3000, 1, 0x10800, 1}, {0x3000, 0x6000, 4, 0, 1},
               {0x6000, 0x8000, 2, 0x21000, 1}, {0x9000, 0xa000, 3, 0, 1}));

    /* Exactly over an existing one. */
    CHECK(insert(s, 0x9000, 0xa000, 6, 0) == 0);
    CHECK(region_set_find(s, 0x9000)->id == 6);
    CHECK(region_set_count(s) == 6);

    /* Over everything. */
    CHECK(insert(s, 0, 0x100000, 7, 0) == 0);
    CHECK(SAME(s, {0, 0x100000, 7, 0, 1}));
    region_set_free(s);
}

TEST(remove_trims_head_and_tail)
{
    struct region_set *s = region_set_new();
    uint64_t removed = 0;
    insert(s, 0x10000, 0x20000, 1, 0x100);

    CHECK(region_set_remove(s, 0x10000, 0x12000, &removed) == 1);
    CHECK_U64(removed, 0x2000);
    CHECK(SAME(s, {0x12000, 0x20000, 1, 0x2100, 1}));

    /* A range reaching past the end removes only what overlaps. */
    CHECK(region_set_remove(s, 0x1e000, 0x30000, &removed) == 1);
    CHECK_U64(removed, 0x2000);
    CHECK(SAME(s, {0x12000, 0x1e000, 1, 0x2100, 1}));

    /* Starting before the region. */
    CHECK(region_set_remove(s, 0x8000, 0x13000, &removed) == 1);
    CHECK_U64(removed, 0x1000);
    CHECK(SAME(s, {0x13000, 0x1e000, 1, 0x3100, 1}));

    /* In a gap: nothing. */
    CHECK(region_set_remove(s, 0x1e000, 0x40000, &removed) == 0);
    CHECK_U64(removed, 0);
    CHECK(region_set_remove(s, 0, 0x13000, NULL) == 0);
    CHECK(SAME(s, {0x13000, 0x1e000, 1, 0x3100, 1}));

    /* The whole region, exactly. */
    CHECK(region_set_remove(s, 0x13000, 0x1e000, &removed) == 1);
    CHECK_U64(removed, 0xb000);
    CHECK(region_set_count(s) == 0 && region_set_bytes(s) == 0);
    region_set_free(s);
}

TEST(remove_splits_middle)
{
    struct region_set *s = region_set_new();
    uint64_t removed = 0;
    insert(s, 0x10000, 0x20000, 1, 0x100000);
    CHECK(region_set_remove(s, 0x14000, 0x15000, &removed) == 1);
    CHECK_U64(removed, 0x1000);
    CHECK(SAME(s, {0x10000, 0x14000, 1, 0x100000, 1}, {0x15000, 0x20000, 1, 0x105000, 1}));
    CHECK(region_set_find(s, 0x14800) == NULL);
    CHECK(region_set_find(s, 0x15000)->offset == 0x105000);

    /* One munmap across several regions: both ends trimmed, middle gone. */
    insert(s, 0x22000, 0x24000, 2, 0);
    insert(s, 0x24000, 0x30000, 3, 0);
    CHECK(region_set_remove(s, 0x12000, 0x26000, &removed) == 4);
    CHECK_U64(removed, 0x2000 + 0xb000 + 0x2000 + 0x2000);
    CHECK(SAME(s, {0x10000, 0x12000, 1, 0x100000, 1}, {0x26000, 0x30000, 3, 0x2000, 1}));
    region_set_free(s);
}

TEST(protect_splits)
{
    struct region_set *s = region_set_new();
    insert(s, 0x1000, 0x5000, 1, 0x40000);
    CHECK(region_set_protect(s, 0x2000, 0x3000, 3) == 1);
    CHECK(SAME(s, {0x1000, 0x2000, 1, 0x40000, 1}, {0x2000, 0x3000, 1, 0x41000, 3},
               {0x3000, 0x5000, 1, 0x42000, 1}));

    /* Across two pieces and a gap, partially covering both ends. */
    insert(s, 0x8000, 0xa000, 2, 0);
    CHECK(region_set_protect(s, 0x4000, 0x9000, 0) == 2);
    CHECK(SAME(s, {0x1000, 0x2000, 1, 0x40000, 1}, {0x2000, 0x3000, 1, 0x41000, 3},
               {0x3000, 0x4000, 1, 0x42000, 1}, {0x4000, 0x5000, 1, 0x43000, 0},
               {0x8000, 0x9000, 2, 0, 0}, {0x9000, 0xa000, 2, 0x1000, 1}));

    /* Exactly on boundaries: no new pieces. */
    CHECK(region_set_protect(s, 0x1000, 0x3000, 7) == 2);
    CHECK(region_set_count(s) == 6);
    CHECK(region_set_find(s, 0x1000)->prot == 7 && region_set_find(s, 0x2000)->prot == 7);
    CHECK(region_set_find(s, 0x3000)->prot == 1);

    /* A gap, and an empty range. */
    CHECK(region_set_protect(s, 0x5000, 0x8000, 7) == 0);
    CHECK(region_set_protect(s, 0x1000, 0x1000, 5) == 0);
    CHECK(region_set_find(s, 0x1000)->prot == 7);
    CHECK_U64(region_set_bytes(s), 0x6000);
    region_set_free(s);
}

TEST(move_grow_shrink)
{
    struct region_set *s = region_set_new();
    insert(s, 0x10000, 0x20000, 7, 0x3000);

    /* MREMAP_MAYMOVE growing to a new place. */
    CHECK(region_set_move(s, 0x10000, 0x10000, 0x50000, 0x20000) == 1);
    CHECK(SAME(s, {0x50000, 0x70000, 7, 0x3000, 1}));

    /* Shrink in place, then grow in place. */
    CHECK(region_set_move(s, 0x50000, 0x20000, 0x50000, 0x8000) == 1);
    CHECK(SAME(s, {0x50000, 0x58000, 7, 0x3000, 1}));
    CHECK(region_set_move(s, 0x50000, 0x8000, 0x50000, 0x10000) == 1);
    CHECK(SAME(s, {0x50000, 0x60000, 7, 0x3000, 1}));

    /* Part of a region moves out: the rest stays split, the moved part's
     * file offset follows it. */
    CHECK(region_set_move(s, 0x54000, 0x2000, 0x90000, 0x2000) == 1);
    CHECK(SAME(s, {0x50000, 0x54000, 7, 0x3000, 1}, {0x56000, 0x60000, 7, 0x9000, 1},
               {0x90000, 0x92000, 7, 0x7000, 1}));

    /* Growing in place over a neighbour replaces the neighbour's head. */
    insert(s, 0x94000, 0x98000, 8, 0);
    CHECK(region_set_move(s, 0x90000, 0x2000, 0x90000, 0x6000) == 1);
    CHECK(SAME(s, {0x50000, 0x54000, 7, 0x3000, 1}, {0x56000, 0x60000, 7, 0x9000, 1},
               {0x90000, 0x96000, 7, 0x7000, 1}, {0x96000, 0x98000, 8, 0x2000, 1}));

    /* old_start outside every region: nothing changes. */
    CHECK(region_set_move(s, 0x54000, 0x1000, 0x0, 0x1000) == 0);
    CHECK(region_set_count(s) == 4);
    CHECK_U64(region_set_bytes(s), 0x4000 + 0xa000 + 0x6000 + 0x2000);
    region_set_free(s);
}

TEST(clone_is_independent)
{
    struct region_set *a = region_set_new();
    for (uint64_t i = 0; i < 50; i++)
        insert(a, 0x100000 + i * 0x10000, 0x100000 + i * 0x10000 + 0x8000, i + 1, i);
    struct region_set *b = region_set_clone(a);
    CHECK(b != NULL);
    CHECK(region_set_count(b) == 50);

    region_set_remove(a, 0x100000, 0x200000, NULL);
    region_set_protect(a, 0, UINT64_MAX, 0);
    insert(a, 0x900000, 0x910000, 99, 0);

    struct list *lb = list_of(b);
    CHECK(lb->n == 50);
    for (uint64_t i = 0; i < 50; i++) {
        CHECK(lb->r[i].start == 0x100000 + i * 0x10000);
        CHECK(lb->r[i].end == lb->r[i].start + 0x8000);
        CHECK(lb->r[i].id == i + 1 && lb->r[i].prot == 1 && lb->r[i].offset == i);
    }
    CHECK_U64(region_set_bytes(b), 50 * 0x8000);
    CHECK(region_set_find(b, 0x900000) == NULL);

    /* And the other way round. */
    size_t count_a = region_set_count(a);
    uint64_t bytes_a = region_set_bytes(a);
    region_set_remove(b, 0, UINT64_MAX, NULL);
    CHECK(region_set_count(b) == 0);
    CHECK(region_set_count(a) == count_a && region_set_bytes(a) == bytes_a);
    CHECK(region_set_find(a, 0x900000) && region_set_find(a, 0x900000)->id == 99);
    region_set_free(a);
    region_set_free(b);
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n) { return rnd() % n; }

TEST(foreach_in_order_and_stops)
{
    enum { N = 1000 };
    static uint64_t order[N];
    for (uint64_t i = 0; i < N; i++)
        order[i] = i;
    rng_state = 12345;
    for (uint64_t i = N - 1; i > 0; i--) {
        uint64_t k = below(i + 1), t = order[i];
        order[i] = order[k];
        order[k] = t;
    }
    struct region_set *s = region_set_new();
    for (uint64_t i = 0; i < N; i++)
        CHECK(insert(s, order[i] * 0x2000, order[i] * 0x2000 + 0x1000, order[i], 0) == 0);
    struct list *l = list_of(s);
    CHECK(l->n == N);
    for (uint64_t i = 0; i < N; i++)
        CHECK(l->r[i].start == i * 0x2000 && l->r[i].id == i);

    static struct list partial;
    memset(&partial, 0, sizeof partial);
    partial.stop_after = 10;
    CHECK(region_set_foreach(s, collect, &partial) == 42);
    CHECK(partial.n == 10);
    CHECK(partial.r[9].id == 9);
    region_set_free(s);
}

TEST(many_regions)
{
    /* Ascending inserts are a sorted-list worst case for naive trees; a
     * deep recursion or quadratic walk would show up here. */
    enum { N = 200000 };
    struct region_set *s = region_set_new();
    for (uint64_t i = 0; i < N; i++) {
        struct region r = mk(i * 2 * PG, i * 2 * PG + PG, i);
        CHECK(region_set_insert(s, &r) == 0);
    }
    CHECK(region_set_count(s) == N);
    CHECK_U64(region_set_bytes(s), N * PG);
    CHECK(region_set_find(s, (N - 1) * 2 * PG)->id == N - 1);
    CHECK(region_set_find(s, (N - 1) * 2 * PG + PG) == NULL);
    uint64_t removed = 0;
    CHECK(region_set_remove(s, PG / 2, (N - 1) * 2 * PG + PG / 2, &removed) == N);
    CHECK_U64(removed, (N - 1) * PG);
    CHECK(region_set_count(s) == 2);
    region_set_free(s);
}

/* The model: one slot per page. label identifies the region a page is in
 * (0: none); a region is a maximal run of pages with one label, because
 * every operation that makes a new region or piece draws a fresh label. */
enum { NPAGES = 96 };
#define BASE 0x7f0000000000ULL

struct page {
    uint64_t label, id, offset;
    int prot;
};

static struct page model[NPAGES];
static uint64_t next_label, next_id;

static uint64_t addr(int page) { return BASE + (uint64_t)page * PG; }

/* Runs (regions) with a page in [lo, hi). */
static int runs_in(int lo, int hi)
{
    int n = 0;
    for (int p = lo; p < hi; p++)
        if (model[p].label && (p == lo || model[p - 1].label != model[p].label))
            n++;
    return n;
}

static void model_set(int p, uint64_t label, uint64_t id, uint64_t offset, int prot)
{
    model[p].label = label;
    model[p].id = id;
    model[p].offset = offset;
    model[p].prot = prot;
}

struct check_ctx {
    uint64_t prev_end;
    size_t regions;
    uint64_t bytes;
    bool ok;
};

static int check_region(const struct region *r, void *ctx)
{
    struct check_ctx *c = ctx;
    if (r->start >= r->end || r->start < c->prev_end || r->start < BASE ||
        r->end > addr(NPAGES) || (r->start - BASE) % PG || (r->end - BASE) % PG) {
        c->ok = false;
        return 1;
    }
    int first = (int)((r->start - BASE) / PG), last = (int)((r->end - BASE) / PG);
    uint64_t label = model[first].label;
    if (label == 0 || (first > 0 && model[first - 1].label == label) ||
        (last < NPAGES && model[last].label == label))
        c->ok = false; /* not exactly one maximal run */
    for (int p = first; p < last; p++) {
        if (model[p].label != label || model[p].id != r->id || model[p].prot != r->prot ||
            model[p].offset != r->offset + (addr(p) - r->start) ||
            r->tid != (pid_t)(1000 + r->id))
            c->ok = false;
    }
    c->prev_end = r->end;
    c->regions++;
    c->bytes += r->end - r->start;
    return c->ok ? 0 : 1;
}

static bool matches_model(const struct region_set *s)
{
    struct check_ctx c = {0, 0, 0, true};
    region_set_foreach(s, check_region, &c);
    if (!c.ok)
        return false;
    int pages = 0;
    for (int p = 0; p < NPAGES; p++)
        pages += model[p].label != 0;
    if (c.regions != (size_t)runs_in(0, NPAGES) || c.bytes != (uint64_t)pages * PG ||
        region_set_count(s) != c.regions || region_set_bytes(s) != c.bytes)
        return false;
    /* Point and range queries against the model. */
    for (int p = 0; p < NPAGES; p++) {
        const struct region *r = region_set_find(s, addr(p) + below(PG));
        if (model[p].label ? (!r || r->id != model[p].id) : r != NULL)
            return false;
    }
    for (int k = 0; k < 8; k++) {
        int lo = (int)below(NPAGES), hi = lo + 1 + (int)below(12);
        if (hi > NPAGES)
            hi = NPAGES;
        bool want = runs_in(lo, hi) > 0;
        if (region_set_overlaps(s, addr(lo), addr(hi)) != want)
            return false;
    }
    return true;
}

static void random_range(int *lo, int *hi, int maxlen)
{
    *lo = (int)below(NPAGES);
    *hi = *lo + 1 + (int)below((uint64_t)maxlen);
    if (*hi > NPAGES)
        *hi = NPAGES;
}

static bool random_step(struct region_set *s)
{
    int lo, hi;
    switch (below(4)) {
    case 0: { /* mmap */
        random_range(&lo, &hi, 16);
        uint64_t label = ++next_label, id = ++next_id, off = below(64) * PG;
        int prot = (int)below(8);
        struct region r = mk(addr(lo), addr(hi), id);
        r.offset = off;
        r.prot = prot;
        if (region_set_insert(s, &r) != 0)
            return false;
        for (int p = lo; p < hi; p++)
            model_set(p, label, id, off + (uint64_t)(p - lo) * PG, prot);
        return true;
    }
    case 1: { /* munmap */
        random_range(&lo, &hi, 24);
        int want = runs_in(lo, hi);
        uint64_t want_bytes = 0;
        for (int p = lo; p < hi; p++)
            want_bytes += model[p].label ? PG : 0;
        uint64_t removed = ~0ULL;
        if (region_set_remove(s, addr(lo), addr(hi), &removed) != want ||
            removed != want_bytes)
            return false;
        for (int p = lo; p < hi; p++)
            model[p].label = 0;
        return true;
    }
    case 2: { /* mprotect */
        random_range(&lo, &hi, 24);
        int want = runs_in(lo, hi), prot = (int)below(8);
        if (region_set_protect(s, addr(lo), addr(hi), prot) != want)
            return false;
        uint64_t prev_old = 0, fresh = 0;
        for (int p = lo; p < hi; p++) {
            if (!model[p].label)
                continue;
            if (model[p].label != prev_old) {
                prev_old = model[p].label;
                fresh = ++next_label;
            }
            model[p].label = fresh;
            model[p].prot = prot;
        }
        return true;
    }
    default: { /* mremap */
        int old = (int)below(NPAGES), old_len = (int)below(9);
        if (old + old_len > NPAGES)
            old_len = NPAGES - old;
        random_range(&lo, &hi, 16);
        struct page src = model[old];
        int rc = region_set_move(s, addr(old), (uint64_t)old_len * PG, addr(lo),
                                 (uint64_t)(hi - lo) * PG);
        if (rc != (src.label ? 1 : 0))
            return false;
        if (!src.label)
            return true;
        for (int p = old; p < old + old_len; p++)
            model[p].label = 0;
        uint64_t label = ++next_label;
        for (int p = lo; p < hi; p++)
            model_set(p, label, src.id, src.offset + (uint64_t)(p - lo) * PG, src.prot);
        return true;
    }
    }
}

struct range_list {
    uint64_t start, end; /* the query: 0, 0 for "all" */
    uint64_t got[2 * NPAGES];
    size_t n;
};

static int collect_range(const struct region *r, void *ctx)
{
    struct range_list *l = ctx;
    if (l->end && (r->end <= l->start || r->start >= l->end))
        return 0;
    if (l->n + 2 <= sizeof l->got / sizeof l->got[0]) {
        l->got[l->n++] = r->start;
        l->got[l->n++] = r->end;
    }
    return 0;
}

/* region_set_foreach_in visits exactly the regions a full walk finds
 * overlapping [lo, hi) pages, in the same order. */
static bool range_walk_agrees(const struct region_set *s, int lo, int hi)
{
    static struct range_list all, in;
    all.n = in.n = 0;
    all.start = in.start = BASE + (uint64_t)lo * PG;
    all.end = in.end = BASE + (uint64_t)hi * PG;
    region_set_foreach(s, collect_range, &all);
    in.end = 0; /* the walk itself must do the filtering */
    region_set_foreach_in(s, all.start, all.end, collect_range, &in);
    return all.n == in.n && memcmp(all.got, in.got, all.n * sizeof all.got[0]) == 0;
}

TEST(random_against_page_model)
{
    for (uint64_t seed = 1; seed <= 8; seed++) {
        rng_state = seed * 0x9e3779b97f4a7c15ULL;
        memset(model, 0, sizeof model);
        next_label = next_id = 0;
        struct region_set *s = region_set_new();
        struct region_set *snapshot = NULL;
        static struct page snap_model[NPAGES];
        for (int step = 0; step < 2500; step++) {
            if (!random_step(s)) {
                printf("  seed %" PRIu64 " step %d: operation result differs\n", seed, step);
                CHECK(0);
            }
            if (!matches_model(s)) {
                printf("  seed %" PRIu64 " step %d: set differs from model\n", seed, step);
                CHECK(0);
            }
            if (step % 10 == 0) {
                int lo, hi;
                random_range(&lo, &hi, 40);
                if (!range_walk_agrees(s, lo, hi)) {
                    printf("  seed %" PRIu64 " step %d: range walk [%d, %d) differs\n", seed,
                           step, lo, hi);
                    CHECK(0);
                }
            }
            /* Now and then, a clone must keep the state it was taken in. */
            if (step % 500 == 100) {
                region_set_free(snapshot);
                snapshot = region_set_clone(s);
                CHECK(snapshot != NULL);
                memcpy(snap_model, model, sizeof model);
            }
            if (step % 500 == 400) {
                static struct page cur[NPAGES];
                memcpy(cur, model, sizeof model);
                memcpy(model, snap_model, sizeof model);
                bool ok = matches_model(snapshot);
                memcpy(model, cur, sizeof model);
                CHECK(ok);
            }
        }
        region_set_free(snapshot);
        region_set_free(s);
    }
}

UNIT_MAIN(UNIT_CASE(empty_set), UNIT_CASE(insert_and_find), UNIT_CASE(insert_replaces_overlaps),
          UNIT_CASE(remove_trims_head_and_tail), UNIT_CASE(remove_splits_middle),
          UNIT_CASE(protect_splits), UNIT_CASE(move_grow_shrink),
          UNIT_CASE(clone_is_independent), UNIT_CASE(foreach_in_order_and_stops),
          UNIT_CASE(many_regions), UNIT_CASE(random_against_page_model))
