/*
 * regions: the set of reported regions of one address space, as a treap
 * keyed by start address.
 *
 * A treap keeps every operation a split into "before / inside / after" a
 * range plus a merge back, each O(log n) expected, with no rebalancing
 * cases to get wrong. Since regions never overlap, ordering by start also
 * orders by end, so the only region that can reach into a range from the
 * left is the last one that starts before it.
 *
 * Every modifying operation allocates the nodes it will need (at most
 * three) before touching the tree, so running out of memory leaves the
 * set exactly as it was.
 */
#include "regions.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct node {
    struct region r;
    uint64_t prio;
    struct node *left, *right;
};

struct region_set {
    struct node *root;
    size_t count;
    uint64_t bytes;
    uint64_t rng; /* priorities: splitmix64 state, per set so no globals */
};

/* The most nodes any single operation creates: mremap may split a region
 * around the old range, split another around the new range, and add the
 * moved region itself. */
#define SPARE_MAX 3

struct spares {
    struct node *node[SPARE_MAX];
    int n;
};

static uint64_t next_prio(struct region_set *set)
{
    uint64_t z = (set->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int spares_get(struct spares *sp, int n)
{
    sp->n = 0;
    for (int i = 0; i < n; i++) {
        struct node *nd = malloc(sizeof *nd);
        if (!nd) {
            while (sp->n > 0)
                free(sp->node[--sp->n]);
            errno = ENOMEM;
            return -1;
        }
        sp->node[sp->n++] = nd;
    }
    return 0;
}

static void spares_put(struct spares *sp)
{
    while (sp->n > 0)
        free(sp->node[--sp->n]);
}

static struct node *spare_take(struct region_set *set, struct spares *sp,
                               const struct region *r)
{
    /* The operations size their reservations so this cannot run dry. */
    assert(sp->n > 0);
    struct node *nd = sp->node[--sp->n];
    nd->r = *r;
    nd->prio = next_prio(set);
    nd->left = nd->right = NULL;
    return nd;
}

/* *lo gets the keys < key, *hi the keys >= key. */
static void split(struct node *t, uint64_t key, struct node **lo, struct node **hi)
{
    if (!t) {
        *lo = *hi = NULL;
    } else if (t->r.start < key) {
        split(t->right, key, &t->right, hi);
        *lo = t;
    } else {
        split(t->left, key, lo, &t->left);
        *hi = t;
    }
}

/* Every key in a is below every key in b. */
static struct node *merge(struct node *a, struct node *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    if (a->prio > b->prio) {
        a->right = merge(a->right, b);
        return a;
    }
    b->left = merge(a, b->left);
    return b;
}

static struct node *rightmost(struct node *t)
{
    if (t)
        while (t->right)
            t = t->right;
    return t;
}

/* The region with the greatest start strictly below key. */
static const struct node *last_before(const struct node *t, uint64_t key)
{
    const struct node *best = NULL;
    while (t) {
        if (t->r.start < key) {
            best = t;
            t = t->right;
        } else {
            t = t->left;
        }
    }
    return best;
}

/* The piece of r that starts at new_start: the file offset follows. */
static void move_start(struct region *r, uint64_t new_start)
{
    r->offset += new_start - r->start;
    r->start = new_start;
}

/* Whether removing [start, end) cuts a hole in one region, which takes a
 * node for the far piece. Trims and whole deletions need none, so the
 * common munmap does not allocate. */
static bool remove_splits(const struct region_set *set, uint64_t start, uint64_t end)
{
    const struct region *r = region_set_find(set, start);
    return r && r->start < start && r->end > end;
}

/* How many new pieces mprotect on [start, end) creates: one per boundary
 * that falls strictly inside a region. */
static int protect_splits(const struct region_set *set, uint64_t start, uint64_t end)
{
    const struct region *a = region_set_find(set, start);
    const struct region *b = region_set_find(set, end);
    return (a && a->start < start) + (b && b->start < end);
}

static void free_tree(struct node *t)
{
    while (t) {
        /* Rotating the left child up turns the tree into a list without
         * recursion, so a degenerate shape cannot exhaust the stack. */
        if (t->left) {
            struct node *l = t->left;
            t->left = l->right;
            l->right = t;
            t = l;
        } else {
            struct node *next = t->right;
            free(t);
            t = next;
        }
    }
}

struct region_set *region_set_new(void)
{
    struct region_set *set = calloc(1, sizeof *set);
    if (!set)
        errno = ENOMEM;
    return set;
}

void region_set_free(struct region_set *set)
{
    if (!set)
        return;
    free_tree(set->root);
    free(set);
}

static struct node *clone_tree(const struct node *t, int *failed)
{
    if (!t || *failed)
        return NULL;
    struct node *c = malloc(sizeof *c);
    if (!c) {
        *failed = 1;
        return NULL;
    }
    *c = *t;
    c->left = clone_tree(t->left, failed);
    c->right = clone_tree(t->right, failed);
    return c;
}

struct region_set *region_set_clone(const struct region_set *set)
{
    struct region_set *copy = region_set_new();
    if (!copy)
        return NULL;
    int failed = 0;
    *copy = *set;
    copy->root = clone_tree(set->root, &failed);
    if (failed) {
        region_set_free(copy);
        errno = ENOMEM;
        return NULL;
    }
    return copy;
}

/* Frees every node of the subtree (all of which lie inside the removed
 * range) except keep, adding the bytes inside [start, end) to *removed. */
static void drop_inside(struct region_set *set, struct node *t, struct node *keep,
                        uint64_t end, uint64_t *removed, int *touched)
{
    while (t) {
        struct node *l = t->left, *r = t->right;
        (*touched)++;
        if (t == keep) {
            *removed += end - t->r.start;
        } else {
            *removed += t->r.end - t->r.start;
            set->count--;
            free(t);
        }
        drop_inside(set, l, keep, end, removed, touched);
        t = r;
    }
}

/* Removes [start, end) using at most one spare node. Returns the number
 * of regions touched. */
static int remove_range(struct region_set *set, struct spares *sp, uint64_t start,
                        uint64_t end, uint64_t *removed_out)
{
    uint64_t removed = 0;
    int touched = 0;
    if (start >= end) {
        if (removed_out)
            *removed_out = 0;
        return 0;
    }

    struct node *before, *inside, *after;
    split(set->root, start, &before, &inside);
    split(inside, end, &inside, &after);

    /* A region starting before the range may reach into it or across it. */
    struct node *left = rightmost(before);
    if (left && left->r.end > start) {
        touched++;
        if (left->r.end > end) {
            struct region tail = left->r;
            move_start(&tail, end);
            after = merge(spare_take(set, sp, &tail), after);
            set->count++;
            removed += end - start;
        } else {
            removed += left->r.end - start;
        }
        left->r.end = start;
    }

    /* Only the last region starting inside can outlive the range. */
    struct node *last = rightmost(inside);
    struct node *keep = (last && last->r.end > end) ? last : NULL;
    drop_inside(set, inside, keep, end, &removed, &touched);
    if (keep) {
        move_start(&keep->r, end);
        keep->left = keep->right = NULL;
        after = merge(keep, after);
    }

    set->root = merge(before, after);
    set->bytes -= removed;
    if (removed_out)
        *removed_out = removed;
    return touched;
}

static void insert_node(struct region_set *set, struct node *nd)
{
    struct node *lo, *hi;
    split(set->root, nd->r.start, &lo, &hi);
    set->root = merge(merge(lo, nd), hi);
    set->count++;
    set->bytes += nd->r.end - nd->r.start;
}

int region_set_remove(struct region_set *set, uint64_t start, uint64_t end, uint64_t *removed)
{
    struct spares sp;
    if (spares_get(&sp, start < end && remove_splits(set, start, end)) < 0)
        return -1;
    int touched = remove_range(set, &sp, start, end, removed);
    spares_put(&sp);
    return touched;
}

int region_set_insert(struct region_set *set, const struct region *r)
{
    if (r->start >= r->end)
        return 0;
    struct spares sp;
    if (spares_get(&sp, 1 + remove_splits(set, r->start, r->end)) < 0)
        return -1;
    remove_range(set, &sp, r->start, r->end, NULL);
    insert_node(set, spare_take(set, &sp, r));
    spares_put(&sp);
    return 0;
}

static void set_prot(struct node *t, int prot, int *touched)
{
    while (t) {
        t->r.prot = prot;
        (*touched)++;
        set_prot(t->left, prot, touched);
        t = t->right;
    }
}

int region_set_protect(struct region_set *set, uint64_t start, uint64_t end, int prot)
{
    if (start >= end)
        return 0;
    struct spares sp;
    if (spares_get(&sp, protect_splits(set, start, end)) < 0)
        return -1;

    int touched = 0;
    struct node *before, *inside, *after;
    split(set->root, start, &before, &inside);
    split(inside, end, &inside, &after);

    /* The region that reaches in from the left keeps its head and gives
     * the part from start on to a new node that joins the inside. */
    struct node *left = rightmost(before);
    if (left && left->r.end > start) {
        struct region mid = left->r;
        move_start(&mid, start);
        left->r.end = start;
        inside = merge(spare_take(set, &sp, &mid), inside);
        set->count++;
    }

    /* The last region inside may stick out past end: cut the tail off. */
    struct node *last = rightmost(inside);
    if (last && last->r.end > end) {
        struct region tail = last->r;
        move_start(&tail, end);
        last->r.end = end;
        after = merge(spare_take(set, &sp, &tail), after);
        set->count++;
    }

    set_prot(inside, prot, &touched);
    set->root = merge(merge(before, inside), after);
    spares_put(&sp);
    return touched;
}

int region_set_move(struct region_set *set, uint64_t old_start, uint64_t old_len,
                    uint64_t new_start, uint64_t new_len)
{
    const struct region *src = region_set_find(set, old_start);
    if (!src)
        return 0;

    struct region moved = *src;
    moved.offset += old_start - src->start;
    moved.start = new_start;
    /* Saturate rather than wrap: a wrapped end would sort before start. */
    moved.end = (new_len > UINT64_MAX - new_start) ? UINT64_MAX : new_start + new_len;
    uint64_t old_end = (old_len > UINT64_MAX - old_start) ? UINT64_MAX : old_start + old_len;

    /* Whether the second removal splits depends on the first; mremap is
     * rare enough to simply reserve the worst case. */
    struct spares sp;
    if (spares_get(&sp, 3) < 0)
        return -1;
    remove_range(set, &sp, old_start, old_end, NULL);
    if (moved.start < moved.end) {
        remove_range(set, &sp, moved.start, moved.end, NULL);
        insert_node(set, spare_take(set, &sp, &moved));
    }
    spares_put(&sp);
    return 1;
}

const struct region *region_set_find(const struct region_set *set, uint64_t addr)
{
    /* The candidate is the last region starting at or before addr. */
    const struct node *t = set->root, *best = NULL;
    while (t) {
        if (t->r.start <= addr) {
            best = t;
            t = t->right;
        } else {
            t = t->left;
        }
    }
    return (best && addr < best->r.end) ? &best->r : NULL;
}

bool region_set_overlaps(const struct region_set *set, uint64_t start, uint64_t end)
{
    if (start >= end)
        return false;
    /* Regions are disjoint and sorted, so if the last one starting before
     * end does not reach past start, no earlier one does either. */
    const struct node *last = last_before(set->root, end);
    return last && last->r.end > start;
}

size_t region_set_count(const struct region_set *set) { return set->count; }

static void mark_tree(struct node *t)
{
    for (; t; t = t->right) {
        t->r.uncertain = true;
        mark_tree(t->left);
    }
}

size_t region_set_mark_uncertain(struct region_set *set)
{
    mark_tree(set->root);
    return set->count;
}

uint64_t region_set_bytes(const struct region_set *set) { return set->bytes; }

/* Regions are disjoint and ordered by start: a subtree entirely before or
 * after the range is skipped, so a visit costs O(log n + k). */
static int walk_range(const struct node *t, uint64_t start, uint64_t end,
                      int (*fn)(const struct region *r, void *ctx), void *ctx)
{
    while (t) {
        if (t->r.start >= end) {
            t = t->left;
            continue;
        }
        if (t->r.end <= start) {
            t = t->right;
            continue;
        }
        int rc = walk_range(t->left, start, end, fn, ctx);
        if (rc)
            return rc;
        rc = fn(&t->r, ctx);
        if (rc)
            return rc;
        t = t->right;
    }
    return 0;
}

int region_set_foreach_in(const struct region_set *set, uint64_t start, uint64_t end,
                          int (*fn)(const struct region *r, void *ctx), void *ctx)
{
    return start < end ? walk_range(set->root, start, end, fn, ctx) : 0;
}

int region_set_foreach(const struct region_set *set,
                       int (*fn)(const struct region *r, void *ctx), void *ctx)
{
    /* Every region ends after 0 and starts before the last address. */
    return walk_range(set->root, 0, UINT64_MAX, fn, ctx);
}
