/*
 * summary: -c, counts by call site and thread, sizes, histogram. See
 * include/summary.h.
 */
#include "summary.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack.h"

struct row_entry {
    struct summary_row row; /* site and comm owned (char * behind the const) */
};

struct size_entry {
    uint64_t size, count;
    uint64_t writable;  /* of those, mapped readable and writable */
};

struct summary {
    struct row_entry *rows;
    size_t nrows, rows_cap;
    uint32_t *row_of;       /* region id -> row index + 1 (0: not ours) */
    uint64_t row_of_cap;
    struct size_entry *sizes; /* open addressing on size; size 0 = empty */
    size_t sizes_cap, nsizes;
    struct summary_bucket buckets[64];
    bool have_stacks;
    uint64_t malloc_growth, other_growth;
    uint64_t lost;
    bool lossy;

    /* summary_view's results */
    struct summary_row *sorted_rows;
    struct summary_size top[SUMMARY_TOP_SIZES];
    struct summary_bucket used_buckets[64];
    struct summary_view view;
};

struct summary *summary_new(void) { return calloc(1, sizeof(struct summary)); }

void summary_free(struct summary *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nrows; i++) {
        free((char *)s->rows[i].row.site);
        free((char *)s->rows[i].row.comm);
    }
    free(s->rows);
    free(s->row_of);
    free(s->sizes);
    free(s->sorted_rows);
    free(s);
}

/* ---- call sites ------------------------------------------------------------------ */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Libraries whose frames are the plumbing of an allocation, not its cause. */
static bool plumbing_module(const char *module)
{
    static const char *const prefixes[] = {
        "libc.so", "libc-", "ld-linux", "ld-musl", "libpthread", "libjemalloc", "libtcmalloc",
        "libmimalloc",
    };
    const char *name = base_name(module);
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (starts_with(name, prefixes[i]))
            return true;
    return false;
}

/* Allocator entry points found outside those libraries: a program's own
 * malloc wrappers are part of the answer, but these never are. */
static bool plumbing_symbol(const char *symbol)
{
    static const char *const names[] = {
        "malloc+",        "calloc+",  "realloc+", "posix_memalign+", "aligned_alloc+",
        "memalign+",      "valloc+",  "mmap+",    "mmap64+",         "__mmap+",
        "__mmap64+",      "operator new(", "os::malloc(", "os::realloc(", "os::reserve_memory(",
        "os::pd_reserve_memory(",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (starts_with(symbol, names[i]))
            return true;
    return false;
}

char *summary_call_site(const struct stack *stack)
{
    if (!stack || stack->depth == 0)
        return NULL;
    const struct stack_frame *site = &stack->frames[0];
    for (unsigned i = 0; i < stack->depth; i++) {
        const struct stack_frame *f = &stack->frames[i];
        if ((f->module && plumbing_module(f->module)) || (f->symbol && plumbing_symbol(f->symbol)))
            continue;
        site = f;
        break;
    }
    char *out = NULL;
    int rc;
    if (site->symbol) {
        /* The function, not the offset: every call from it is one site. */
        const char *plus = strrchr(site->symbol, '+');
        int len = plus ? (int)(plus - site->symbol) : (int)strlen(site->symbol);
        rc = site->module
                 ? asprintf(&out, "%.*s (%s)", len, site->symbol, base_name(site->module))
                 : asprintf(&out, "%.*s", len, site->symbol);
    } else if (site->module) {
        rc = asprintf(&out, "0x%" PRIx64 " (%s)", site->ip, base_name(site->module));
    } else {
        rc = asprintf(&out, "0x%" PRIx64, site->ip);
    }
    return rc < 0 ? NULL : out;
}

/* ---- recording ---------------------------------------------------------------------- */

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The row for (site, comm), created if new; takes site. -1 on ENOMEM. */
static long row_for(struct summary *s, char *site, const char *comm)
{
    for (size_t i = 0; i < s->nrows; i++) {
        if (same(s->rows[i].row.site, site) && strcmp(s->rows[i].row.comm, comm) == 0) {
            free(site);
            return (long)i;
        }
    }
    if (s->nrows == s->rows_cap) {
        size_t cap = s->rows_cap ? s->rows_cap * 2 : 16;
        struct row_entry *grown = realloc(s->rows, cap * sizeof *grown);
        if (!grown) {
            free(site);
            return -1;
        }
        s->rows = grown;
        s->rows_cap = cap;
    }
    char *name = strdup(comm);
    if (!name) {
        free(site);
        return -1;
    }
    s->rows[s->nrows] = (struct row_entry){.row = {.site = site, .comm = name}};
    return (long)s->nrows++;
}

static void count_size(struct summary *s, uint64_t size, bool writable)
{
    if (size == 0)
        return;
    if (s->nsizes * 2 >= s->sizes_cap) {
        size_t cap = s->sizes_cap ? s->sizes_cap * 2 : 64;
        struct size_entry *table = calloc(cap, sizeof *table);
        if (!table)
            return;
        for (size_t i = 0; i < s->sizes_cap; i++) {
            if (!s->sizes[i].size)
                continue;
            size_t j = (size_t)(s->sizes[i].size * 0x9E3779B97F4A7C15ULL >> 7) % cap;
            while (table[j].size)
                j = (j + 1) % cap;
            table[j] = s->sizes[i];
        }
        free(s->sizes);
        s->sizes = table;
        s->sizes_cap = cap;
    }
    size_t j = (size_t)(size * 0x9E3779B97F4A7C15ULL >> 7) % s->sizes_cap;
    while (s->sizes[j].size && s->sizes[j].size != size)
        j = (j + 1) % s->sizes_cap;
    if (!s->sizes[j].size) {
        s->sizes[j].size = size;
        s->nsizes++;
    }
    s->sizes[j].count++;
    s->sizes[j].writable += writable;
}

/* The row of a new region id; NULL on ENOMEM. */
static struct summary_row *add_to_row(struct summary *s, uint64_t id, const char *comm,
                                      const struct stack *stack)
{
    if (stack)
        s->have_stacks = true;
    long row = row_for(s, summary_call_site(stack), comm);
    if (row < 0)
        return NULL;
    if (id >= s->row_of_cap) {
        uint64_t cap = s->row_of_cap ? s->row_of_cap : 256;
        while (cap <= id)
            cap *= 2;
        uint32_t *grown = realloc(s->row_of, cap * sizeof *grown);
        if (!grown)
            return NULL;
        memset(grown + s->row_of_cap, 0, (cap - s->row_of_cap) * sizeof *grown);
        s->row_of = grown;
        s->row_of_cap = cap;
    }
    s->row_of[id] = (uint32_t)row + 1;
    return &s->rows[row].row;
}

void summary_add_growth(struct summary *s, uint64_t id, uint64_t len, bool malloc_heap,
                        const char *comm, const struct stack *stack)
{
    if (!s || id == 0 || id > UINT32_MAX * 16ULL)
        return;
    struct summary_row *r = add_to_row(s, id, comm, stack);
    if (!r)
        return;
    r->count++;
    r->growths++;
    r->bytes += len;
    r->gained += len;
    if (malloc_heap)
        s->malloc_growth += len;
    else
        s->other_growth += len;
}

void summary_add_resident(struct summary *s, uint64_t id, uint64_t bytes)
{
    struct summary_row *r = s && id < s->row_of_cap && s->row_of[id]
                                ? &s->rows[s->row_of[id] - 1].row
                                : NULL;
    if (r)
        r->resident += bytes;
}

void summary_add_region(struct summary *s, uint64_t id, uint64_t len, bool writable,
                        const char *comm, const struct stack *stack)
{
    if (!s || id == 0 || id > UINT32_MAX * 16ULL)
        return;
    struct summary_row *r = add_to_row(s, id, comm, stack);
    if (!r)
        return;
    r->count++;
    r->bytes += len;
    r->gained += writable ? len : 0;
    count_size(s, len, writable);
    unsigned k = 63 - (unsigned)__builtin_clzll(len ? len : 1);
    s->buckets[k].low = 1ULL << k;
    s->buckets[k].count++;
    s->buckets[k].bytes += len;
}

static struct summary_row *row_of_region(struct summary *s, uint64_t id)
{
    if (!s || id >= s->row_of_cap || s->row_of[id] == 0)
        return NULL;
    return &s->rows[s->row_of[id] - 1].row;
}

void summary_add_lost(struct summary *s, uint64_t count)
{
    if (!s)
        return;
    s->lost += count;
    s->lossy = true;
}

void summary_set_lossy(struct summary *s)
{
    if (s)
        s->lossy = true;
}

void summary_add_dump(struct summary *s, uint64_t id)
{
    struct summary_row *r = row_of_region(s, id);
    if (r)
        r->dumps++;
}

void summary_add_mapped(struct summary *s, uint64_t id, uint64_t bytes)
{
    struct summary_row *r = row_of_region(s, id);
    if (r)
        r->mapped += bytes;
}

/* ---- the view ---------------------------------------------------------------------- */

/* What grows the process first: memory gained, then resident now; the
 * address space (virtual bytes) last. */
static int by_bytes(const void *a, const void *b)
{
    const struct summary_row *x = a, *y = b;
    if (x->gained != y->gained)
        return x->gained > y->gained ? -1 : 1;
    if (x->resident != y->resident)
        return x->resident > y->resident ? -1 : 1;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->comm, y->comm);
}

static int by_count(const void *a, const void *b)
{
    const struct size_entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->size > y->size ? -1 : x->size < y->size;
}

const struct summary_view *summary_view(struct summary *s)
{
    struct summary_view *v = &s->view;
    memset(v, 0, sizeof *v);
    v->lost = s->lost;
    v->lossy = s->lossy;
    free(s->sorted_rows);
    s->sorted_rows = calloc(s->nrows ? s->nrows : 1, sizeof *s->sorted_rows);
    if (s->sorted_rows) {
        for (size_t i = 0; i < s->nrows; i++) {
            s->sorted_rows[i] = s->rows[i].row;
            v->count += s->rows[i].row.count;
            v->bytes += s->rows[i].row.bytes;
            v->mapped += s->rows[i].row.mapped;
            v->dumps += s->rows[i].row.dumps;
            v->gained += s->rows[i].row.gained;
            v->growths += s->rows[i].row.growths;
            v->resident += s->rows[i].row.resident;
        }
        qsort(s->sorted_rows, s->nrows, sizeof *s->sorted_rows, by_bytes);
        v->rows = s->sorted_rows;
        v->nrows = s->nrows;
    }

    /* Sizes: the most frequent; and for the advice, among sizes mapped
     * writable more than once, the one that brought the most bytes. A
     * size seen once is a set-up (a heap reservation, a code cache), and
     * a PROT_NONE reservation is address space, not memory: neither is
     * what grows. */
    struct size_entry *all = calloc(s->nsizes ? s->nsizes : 1, sizeof *all);
    size_t n = 0;
    uint64_t best_bytes = 0;
    for (size_t i = 0; all && i < s->sizes_cap; i++) {
        if (!s->sizes[i].size)
            continue;
        all[n++] = s->sizes[i];
        uint64_t bytes = s->sizes[i].size * s->sizes[i].writable;
        if (s->sizes[i].writable < 2)
            continue;
        if (bytes > best_bytes || (bytes == best_bytes && s->sizes[i].size > v->suggested_for_size)) {
            best_bytes = bytes;
            v->suggested_for_size = s->sizes[i].size;
        }
    }
    if (all) {
        qsort(all, n, sizeof *all, by_count);
        for (size_t i = 0; i < n && i < SUMMARY_TOP_SIZES; i++) {
            s->top[i].size = all[i].size;
            s->top[i].count = all[i].count;
        }
        v->sizes = s->top;
        v->nsizes = n < SUMMARY_TOP_SIZES ? n : SUMMARY_TOP_SIZES;
        free(all);
    }
    /* The largest power of two not above that size: it keeps those mmaps
     * (16 MiB + 4 KiB needs 16M) and drops everything much smaller. */
    if (v->suggested_for_size)
        v->suggested_min_size = 1ULL << (63 - __builtin_clzll(v->suggested_for_size));
    /* Advice about mmap sizes must not contradict a table led by growth
     * in place: when growth brought more than those mmaps, no size
     * advice (the summary says what grew instead). */
    v->malloc_growth = s->malloc_growth;
    v->other_growth = s->other_growth;
    if (v->suggested_for_size && s->malloc_growth + s->other_growth >= best_bytes) {
        v->suggested_for_size = 0;
        v->suggested_min_size = 0;
    }

    for (unsigned k = 0; k < 64; k++)
        if (s->buckets[k].count)
            s->used_buckets[v->nbuckets++] = s->buckets[k];
    v->buckets = s->used_buckets;
    v->have_stacks = s->have_stacks;
    return v;
}
