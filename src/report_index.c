/*
 * report_index: the report model's small containers. See
 * include/report_index.h.
 */
#include "report_index.h"

#include <stdlib.h>
#include <string.h>

/* Grows *arr (of *cap elements of size each) to hold n + 1. */
int rindex_grow(void *arr, size_t *cap, size_t n, size_t each)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c <= n)
        c *= 2;
    void *p = reallocarray(*(void **)arr, c, each);
    if (!p)
        return -1;
    *(void **)arr = p;
    *cap = c;
    return 0;
}


uint64_t rindex_hash(const void *p, size_t len, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

void rindex_strings_free(struct rindex_strings *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->strs[i]);
    free(t->strs);
    free(t->slots);
}

/* Index of s (created if new), or -1 on ENOMEM. */
long rindex_intern(struct rindex_strings *t, const char *s)
{
    if (2 * (t->n + 1) > t->nslots) {
        size_t ns = t->nslots ? t->nslots * 2 : 64;
        size_t *slots = calloc(ns, sizeof *slots);
        if (!slots)
            return -1;
        for (size_t i = 0; i < t->n; i++) {
            size_t h = rindex_hash(t->strs[i], strlen(t->strs[i]), 14695981039346656037ULL) % ns;
            while (slots[h])
                h = (h + 1) % ns;
            slots[h] = i + 1;
        }
        free(t->slots);
        t->slots = slots;
        t->nslots = ns;
    }
    size_t h = rindex_hash(s, strlen(s), 14695981039346656037ULL) % t->nslots;
    while (t->slots[h]) {
        if (strcmp(t->strs[t->slots[h] - 1], s) == 0)
            return (long)(t->slots[h] - 1);
        h = (h + 1) % t->nslots;
    }
    char *copy = strdup(s);
    if (!copy || rindex_grow(&t->strs, &t->cap, t->n, sizeof *t->strs) < 0) {
        free(copy);
        return -1;
    }
    t->strs[t->n] = copy;
    t->slots[h] = ++t->n;
    return (long)(t->n - 1);
}


int rindex_pairs_put(struct rindex_pairs *p, uint64_t pid, uint64_t key, size_t value)
{
    if (2 * (p->n + 1) > p->nslots) {
        size_t ns = p->nslots ? p->nslots * 2 : 64;
        struct rindex_pair_slot *s = calloc(ns, sizeof *s);
        if (!s)
            return -1;
        for (size_t i = 0; i < p->nslots; i++) {
            if (!p->slots[i].value)
                continue;
            size_t h = rindex_hash(&p->slots[i].key, 8, p->slots[i].pid * 31 + 7) % ns;
            while (s[h].value)
                h = (h + 1) % ns;
            s[h] = p->slots[i];
        }
        free(p->slots);
        p->slots = s;
        p->nslots = ns;
    }
    size_t h = rindex_hash(&key, 8, pid * 31 + 7) % p->nslots;
    while (p->slots[h].value && !(p->slots[h].pid == pid && p->slots[h].key == key))
        h = (h + 1) % p->nslots;
    if (!p->slots[h].value)
        p->n++;
    p->slots[h] = (struct rindex_pair_slot){pid, key, value + 1};
    return 0;
}

long rindex_pairs_get(const struct rindex_pairs *p, uint64_t pid, uint64_t key)
{
    if (!p->nslots)
        return -1;
    size_t h = rindex_hash(&key, 8, pid * 31 + 7) % p->nslots;
    while (p->slots[h].value) {
        if (p->slots[h].pid == pid && p->slots[h].key == key)
            return (long)p->slots[h].value - 1;
        h = (h + 1) % p->nslots;
    }
    return -1;
}
