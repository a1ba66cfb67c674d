/* prio_queue: items come out best first, whatever order they went in. */
#include "prio_queue.h"

#include <stdlib.h>

#include "unit.h"

static bool less(const void *a, const void *b) { return *(const int *)a < *(const int *)b; }

TEST(pops_in_order)
{
    struct prio_queue q;
    prio_queue_init(&q, less);
    int v[500];
    srand(7);
    for (int i = 0; i < 500; i++) {
        v[i] = rand() % 1000;
        CHECK(prio_queue_push(&q, &v[i]));
    }
    int last = -1, n = 0;
    int *x;
    while ((x = prio_queue_pop(&q))) {
        CHECK(*x >= last);
        last = *x;
        n++;
    }
    CHECK(n == 500);
    CHECK(prio_queue_pop(&q) == NULL);
    prio_queue_release(&q);
}

TEST(interleaved)
{
    struct prio_queue q;
    prio_queue_init(&q, less);
    int v[] = {5, 1, 4};
    CHECK(prio_queue_push(&q, &v[0]) && prio_queue_push(&q, &v[1]));
    CHECK(*(int *)prio_queue_pop(&q) == 1);
    CHECK(prio_queue_push(&q, &v[2]));
    CHECK(*(int *)prio_queue_pop(&q) == 4);
    CHECK(*(int *)prio_queue_pop(&q) == 5);
    prio_queue_release(&q);
}

UNIT_MAIN(UNIT_CASE(pops_in_order), UNIT_CASE(interleaved))
