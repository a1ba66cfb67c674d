/*
 * prio_queue: a binary heap of pointers, best first, by a caller's order.
 * Base layer: no system calls, no locking (the caller's lock guards it).
 *
 * Ownership: the queue owns its array, not the items; prio_queue_release
 * frees the array (items still queued are the caller's to free first).
 */
#ifndef MMAPWATCH_PRIO_QUEUE_H
#define MMAPWATCH_PRIO_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

struct prio_queue {
    void **items;                          /* a heap: items[0] is the best */
    size_t n, cap;
    bool (*before)(const void *a, const void *b); /* whether a goes before b */
};

/* An empty queue ordered by before. */
void prio_queue_init(struct prio_queue *q, bool (*before)(const void *a, const void *b));
void prio_queue_release(struct prio_queue *q);

/* false when out of memory (item not queued). */
bool prio_queue_push(struct prio_queue *q, void *item);

/* The best item, taken out; NULL when empty. */
void *prio_queue_pop(struct prio_queue *q);

#endif
