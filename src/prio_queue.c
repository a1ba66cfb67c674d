/*
 * prio_queue: a binary heap of pointers. See include/prio_queue.h.
 */
#include "prio_queue.h"

#include <stdlib.h>

void prio_queue_init(struct prio_queue *q, bool (*before)(const void *a, const void *b))
{
    *q = (struct prio_queue){.before = before};
}

void prio_queue_release(struct prio_queue *q)
{
    free(q->items);
    q->items = NULL;
    q->n = q->cap = 0;
}

static void swap(void **v, size_t i, size_t j)
{
    void *t = v[i];
    v[i] = v[j];
    v[j] = t;
}

bool prio_queue_push(struct prio_queue *q, void *item)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        void **grown = realloc(q->items, cap * sizeof *grown);
        if (!grown)
            return false;
        q->items = grown;
        q->cap = cap;
    }
    size_t i = q->n++;
    q->items[i] = item;
    while (i > 0 && q->before(q->items[i], q->items[(i - 1) / 2])) {
        swap(q->items, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return true;
}

void *prio_queue_pop(struct prio_queue *q)
{
    if (q->n == 0)
        return NULL;
    void *top = q->items[0];
    q->items[0] = q->items[--q->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < q->n && q->before(q->items[l], q->items[best]))
            best = l;
        if (r < q->n && q->before(q->items[r], q->items[best]))
            best = r;
        if (best == i)
            break;
        swap(q->items, i, best);
        i = best;
    }
    return top;
}
