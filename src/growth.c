/*
 * growth: areas that grow in place (brk heap, reservations) and their
 * reporting steps. See include/growth.h.
 */
#include "growth.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "regions.h"

/* Area ids are unique for the run (a freed area's id is never reused). */
static uint64_t last_area_id;

struct growth {
    struct region_set *pieces;  /* every reservation's pieces, id = its area's */
    struct growth_area *areas;  /* reservations */
    size_t n, cap;
    struct growth_area heap;    /* the brk heap, when heap_known */
    bool heap_known;
};

const char *growth_kind_name(enum growth_kind kind)
{
    switch (kind) {
    case GROWTH_BRK_HEAP:
        return "brk heap";
    case GROWTH_MALLOC_HEAP:
        return "malloc heap";
    case GROWTH_RESERVATION:
        break;
    }
    return "reservation";
}

struct growth *growth_new(void)
{
    struct growth *g = calloc(1, sizeof *g);
    if (!g || !(g->pieces = region_set_new())) {
        free(g);
        return NULL;
    }
    return g;
}

void growth_free(struct growth *g)
{
    if (!g)
        return;
    region_set_free(g->pieces);
    free(g->areas);
    free(g);
}

struct growth *growth_clone(const struct growth *g)
{
    struct growth *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = *g;
    c->pieces = region_set_clone(g->pieces);
    c->areas = g->cap ? malloc(g->cap * sizeof *c->areas) : NULL;
    if (!c->pieces || (g->cap && !c->areas)) {
        region_set_free(c->pieces);
        free(c->areas);
        free(c);
        return NULL;
    }
    if (g->n)
        memcpy(c->areas, g->areas, g->n * sizeof *c->areas);
    return c;
}

bool growth_overlaps(const struct growth *g, uint64_t start, uint64_t end)
{
    return region_set_overlaps(g->pieces, start, end);
}

bool growth_brk_end(const struct growth *g, uint64_t *end)
{
    if (g->heap_known)
        *end = g->heap.end;
    return g->heap_known;
}

static struct growth_area *area_of(struct growth *g, uint64_t id)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->areas[i].id == id)
            return &g->areas[i];
    return NULL;
}

static struct growth_area *new_area(struct growth *g, enum growth_kind kind)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        struct growth_area *grown = realloc(g->areas, cap * sizeof *grown);
        if (!grown)
            return NULL;
        g->areas = grown;
        g->cap = cap;
    }
    struct growth_area *a = &g->areas[g->n++];
    *a = (struct growth_area){.id = ++last_area_id, .kind = kind};
    return a;
}

/* ---- the step rule ---------------------------------------------------------- */

static void note_new(struct growth_area *a, uint64_t lo, uint64_t hi)
{
    if (lo >= hi)
        return;
    if (a->new_lo == a->new_hi) {
        a->new_lo = lo;
        a->new_hi = hi;
        return;
    }
    a->new_lo = lo < a->new_lo ? lo : a->new_lo;
    a->new_hi = hi > a->new_hi ? hi : a->new_hi;
}

/* Whether a's growth crossed a step it had not reported: then one step
 * out, and the "new since the last report" range starts over. */
static size_t check_step(uint64_t step, struct growth_area *a, struct growth_step *steps,
                         size_t n)
{
    if (a->committed > a->peak)
        a->peak = a->committed;
    uint64_t gained = a->peak > a->baseline ? a->peak - a->baseline : 0;
    uint64_t reached = step ? a->peak / step : a->peak;
    if (reached <= a->steps || n >= GROWTH_STEPS_MAX)
        return n;
    a->steps = reached;
    steps[n] = (struct growth_step){.area = a, .gained = gained, .new_lo = a->new_lo,
                                    .new_hi = a->new_hi};
    a->new_lo = a->new_hi = 0;
    return n + 1;
}

/* ---- reservations ------------------------------------------------------------ */

struct recount {
    uint64_t id, committed, start, end;
    bool found;
};

static int add_piece(const struct region *r, void *ctx)
{
    struct recount *c = ctx;
    if (r->id != c->id)
        return 0;
    if (!c->found)
        c->start = r->start;
    c->found = true;
    c->end = r->end;
    if (r->prot != PROT_NONE)
        c->committed += r->end - r->start;
    return 0;
}

/* Recounts area a from its pieces. Returns false (and drops it) when it
 * has none left. */
static bool recount(struct growth *g, struct growth_area *a)
{
    struct recount c = {.id = a->id};
    region_set_foreach_in(g->pieces, a->start, a->end, add_piece, &c);
    if (!c.found) {
        *a = g->areas[--g->n];
        return false;
    }
    a->start = c.start;
    a->end = c.end;
    a->committed = c.committed;
    if (a->new_hi > a->end)
        a->new_hi = a->end;
    if (a->new_lo < a->start)
        a->new_lo = a->start;
    if (a->new_lo >= a->new_hi)
        a->new_lo = a->new_hi = 0;
    return true;
}

#define IDS_MAX 64

struct id_scan {
    uint64_t ids[IDS_MAX];
    size_t n;
};

static int collect(const struct region *r, void *ctx)
{
    struct id_scan *s = ctx;
    for (size_t i = 0; i < s->n; i++)
        if (s->ids[i] == r->id)
            return 0;
    if (s->n == IDS_MAX)
        return 1;
    s->ids[s->n++] = r->id;
    return 0;
}

/* Sets prot on the watched pieces in [start, end), then recounts the
 * areas touched: what became accessible is new. */
static size_t set_prot(struct growth *g, uint64_t start, uint64_t end, int prot,
                       uint64_t step, struct growth_step *steps)
{
    struct id_scan s = {0};
    region_set_foreach_in(g->pieces, start, end, collect, &s);
    if (s.n == 0)
        return 0;
    region_set_protect(g->pieces, start, end, prot);
    size_t n = 0;
    for (size_t i = 0; i < s.n; i++) {
        struct growth_area *a = area_of(g, s.ids[i]);
        if (!a)
            continue;
        uint64_t before = a->committed;
        if (!recount(g, a))
            continue;
        if (a->committed > before)
            note_new(a, start > a->start ? start : a->start, end < a->end ? end : a->end);
        n = check_step(step, a, steps, n);
    }
    return n;
}

size_t growth_protect(struct growth *g, uint64_t start, uint64_t end, int prot,
                      uint64_t step, struct growth_step *steps)
{
    return set_prot(g, start, end, prot, step, steps);
}

void growth_unmap(struct growth *g, uint64_t start, uint64_t end)
{
    struct id_scan s = {0};
    region_set_foreach_in(g->pieces, start, end, collect, &s);
    if (s.n == 0)
        return;
    region_set_remove(g->pieces, start, end, NULL);
    for (size_t i = 0; i < s.n; i++) {
        struct growth_area *a = area_of(g, s.ids[i]);
        if (a)
            recount(g, a);
    }
}

size_t growth_mmap(struct growth *g, uint64_t start, uint64_t end, int prot, int flags,
                   uint64_t min_len, uint64_t step, struct growth_step *steps)
{
    if (flags & MAP_FIXED) {
        /* Over a reservation: how the JVM commits (and uncommits) memory. */
        size_t n = set_prot(g, start, end, (flags & MAP_ANONYMOUS) ? prot : PROT_READ, step, steps);
        if (n || region_set_overlaps(g->pieces, start, end))
            return n;
    } else {
        growth_unmap(g, start, end); /* the kernel reused it: those are gone */
    }
    if (prot != PROT_NONE || !(flags & MAP_ANONYMOUS) || end - start < min_len)
        return 0;
    struct growth_area *a = new_area(g, GROWTH_RESERVATION);
    if (!a)
        return 0;
    struct region piece = {.start = start, .end = end, .prot = PROT_NONE, .fd = -1, .id = a->id};
    if (region_set_insert(g->pieces, &piece) < 0) {
        g->n--;
        return 0;
    }
    a->start = start;
    a->end = end;
    return 0;
}

size_t growth_remap(struct growth *g, uint64_t old_start, uint64_t old_len, uint64_t new_start,
                    uint64_t new_len, uint64_t step, struct growth_step *steps)
{
    const struct region *piece = region_set_find(g->pieces, old_start);
    if (!piece)
        return 0;
    uint64_t id = piece->id;
    int prot = piece->prot;
    if (region_set_move(g->pieces, old_start, old_len, new_start, new_len) <= 0)
        return 0;
    struct growth_area *a = area_of(g, id);
    if (!a)
        return 0;
    /* The area now spans wherever its pieces are. */
    a->start = a->start < new_start ? a->start : new_start;
    a->end = a->end > new_start + new_len ? a->end : new_start + new_len;
    uint64_t before = a->committed;
    if (!recount(g, a))
        return 0;
    if (a->committed > before && prot != PROT_NONE && new_len > old_len)
        note_new(a, new_start + old_len, new_start + new_len);
    return check_step(step, a, steps, 0);
}

/* ---- the brk heap ------------------------------------------------------------- */

/* Whether the heap's committed size reaching len would report a step:
 * the rule of check_step, asked before the call. */
static bool would_step(const struct growth_area *h, uint64_t len, uint64_t step)
{
    uint64_t peak = len > h->peak ? len : h->peak;
    return (step ? peak / step : peak) > h->steps;
}

bool growth_brk_want_result(const struct growth *g, uint64_t arg, uint64_t step)
{
    const struct growth_area *h = &g->heap;
    /* The heap's start; a shrink below the end last seen, where the parts
     * reported so far lie; a query (arg 0) goes below it too. */
    if (!g->heap_known || arg < h->end)
        return true;
    return would_step(h, arg - h->start, step);
}

size_t growth_brk(struct growth *g, uint64_t end, uint64_t step, struct growth_step *steps)
{
    struct growth_area *h = &g->heap;
    if (!g->heap_known) {
        *h = (struct growth_area){.id = ++last_area_id, .kind = GROWTH_BRK_HEAP, .start = end,
                                  .end = end, .label_checked = true};
        g->heap_known = true;
        return 0;
    }
    uint64_t top = h->start + h->peak; /* new only above its highest */
    h->end = end < h->start ? h->start : end;
    h->committed = h->end - h->start;
    if (h->end > top)
        note_new(h, top, h->end);
    else if (h->new_hi > h->end)
        h->new_hi = h->end < h->new_lo ? h->new_lo : h->end;
    return check_step(step, h, steps, 0);
}

void growth_adopt_heap(struct growth *g, uint64_t start, uint64_t end, uint64_t step)
{
    uint64_t size = end > start ? end - start : 0;
    g->heap = (struct growth_area){.id = ++last_area_id, .kind = GROWTH_BRK_HEAP,
                                   .start = start, .end = start + size, .baseline = size,
                                   .committed = size, .peak = size, .label_checked = true,
                                   .steps = step ? size / step : size};
    g->heap_known = true;
}

int growth_adopt_piece(struct growth *g, uint64_t start, uint64_t end, int prot, bool first,
                       uint64_t step)
{
    struct growth_area *a = first || g->n == 0 ? new_area(g, GROWTH_RESERVATION)
                                               : &g->areas[g->n - 1];
    if (!a)
        return -1;
    struct region piece = {.start = start, .end = end, .prot = prot, .fd = -1, .id = a->id};
    if (region_set_insert(g->pieces, &piece) < 0) {
        if (first)
            g->n--;
        return -1;
    }
    if (first)
        a->start = start;
    a->end = end;
    if (prot != PROT_NONE)
        a->committed += end - start;
    a->baseline = a->peak = a->committed;
    a->steps = step ? a->committed / step : a->committed;
    return 0;
}

void growth_label(struct growth *g, uint64_t id, bool malloc_heap)
{
    struct growth_area *a = area_of(g, id);
    if (!a)
        return;
    a->label_checked = true;
    if (malloc_heap)
        a->kind = GROWTH_MALLOC_HEAP;
}

void growth_foreach(const struct growth *g, void (*fn)(const struct growth_area *a, void *ctx),
                    void *ctx)
{
    if (g->heap_known)
        fn(&g->heap, ctx);
    for (size_t i = 0; i < g->n; i++)
        fn(&g->areas[i], ctx);
}
