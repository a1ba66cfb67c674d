/*
 * report_index: small containers for the report model (report_model.c):
 * a growable array helper, a table of interned strings (index by
 * content) and a map from (pid, key) to an index. Open addressing, FNV-1a.
 *
 * Ownership: the caller owns the structs (zero-initialized to start);
 * rindex_strings_free() frees what a table holds; a pair map's slots are
 * freed with free(map.slots). Interned strings are copies owned by the
 * table and never move. Pure; one thread.
 */
#ifndef MMAPWATCH_REPORT_INDEX_H
#define MMAPWATCH_REPORT_INDEX_H

#include <stddef.h>
#include <stdint.h>

/* Interned strings: index by content, open addressing. */
struct rindex_strings {
    char **strs;
    size_t n, cap;
    size_t *slots; /* index + 1, 0 empty */
    size_t nslots;
};

/* (pid, key) -> an index; the latest insert wins. */
struct rindex_pairs {
    struct rindex_pair_slot {
        uint64_t pid, key;
        size_t value; /* index + 1, 0 empty */
    } *slots;
    size_t n, nslots;
};

/* Grows *arr (of *cap elements of size each, arr a pointer to the array
 * pointer) so that it holds n + 1 elements. 0, or -1 (ENOMEM) unchanged. */
int rindex_grow(void *arr, size_t *cap, size_t n, size_t each);

/* FNV-1a of p[0..len) continuing from h. */
uint64_t rindex_hash(const void *p, size_t len, uint64_t h);

void rindex_strings_free(struct rindex_strings *t);

/* Index of s in t (copied in when new), or -1 on ENOMEM. */
long rindex_intern(struct rindex_strings *t, const char *s);

/* Sets (pid, key) -> value (the latest wins). 0, or -1 on ENOMEM. */
int rindex_pairs_put(struct rindex_pairs *p, uint64_t pid, uint64_t key, size_t value);

/* The value of (pid, key), or -1 when absent. */
long rindex_pairs_get(const struct rindex_pairs *p, uint64_t pid, uint64_t key);

#endif
