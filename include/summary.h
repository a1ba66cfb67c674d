/*
 * summary: -c, what the run saw, at its end.
 *
 * Reported mmaps (and regions born of an mremap) grouped by call site and
 * thread name: how many, how many bytes, how many of those bytes were
 * still mapped when tracing ended, and how many dumps were made of them;
 * then the sizes that came most often and a histogram by powers of two,
 * which is what tells the user which --min-size to use next time.
 *
 * The call site is the first frame of the stack outside the C library,
 * the dynamic loader and the allocators (malloc and its kin, the JVM's
 * os::malloc): the code that asked for the memory. Without -k there is no
 * stack and rows are by thread only.
 *
 * Ownership: the summary copies what it keeps (names, call sites). The
 * view returned by summary_view() belongs to the summary and lives until
 * summary_free().
 */
#ifndef MMAPWATCH_SUMMARY_H
#define MMAPWATCH_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stack;
struct summary;

struct summary_row {
    const char *site;   /* call site, NULL without a stack */
    const char *comm;   /* thread name */
    uint64_t count, bytes, mapped, dumps;
    uint64_t gained;    /* memory gained: readable-writable mmaps and growth
                           in place (not PROT_NONE reservations) */
    uint64_t resident;  /* of its regions still mapped at the end, bytes resident */
    uint64_t growths;   /* growth events among count */
};

struct summary_size {
    uint64_t size, count;
};

/* Reported mmaps of [low, 2 * low) bytes (low a power of two). */
struct summary_bucket {
    uint64_t low, count, bytes;
};

struct summary_view {
    const struct summary_row *rows;       /* most bytes gained first, then most
                                             resident, then most virtual bytes */
    size_t nrows;
    const struct summary_size *sizes;     /* most frequent first, at most SUMMARY_TOP_SIZES */
    size_t nsizes;
    const struct summary_bucket *buckets; /* ascending, empty ones left out */
    size_t nbuckets;
    uint64_t count, bytes, mapped, dumps; /* totals */
    uint64_t gained, resident;            /* totals */
    uint64_t growths;                     /* growth events (count, bytes: mmaps
                                             and growth parts together) */
    uint64_t malloc_growth;               /* gained by growth of malloc's heaps
                                             (the brk heap, glibc arena heaps) */
    uint64_t other_growth;                /* by growth of other reservations */
    uint64_t lost;                        /* events the source dropped (lossy sources) */
    bool lossy;                           /* the source may drop events: say how many */
    bool have_stacks;                     /* rows have call sites (-k) */
    uint64_t suggested_min_size;          /* 0: no suggestion */
    uint64_t suggested_for_size;          /* the size it is for: of the sizes mapped
                                             read-write at least twice, the one
                                             that brought the most bytes */
};

#define SUMMARY_TOP_SIZES 10

/* NULL on ENOMEM. */
struct summary *summary_new(void);
void summary_free(struct summary *s);

/* A reported region was born: id (unique for the run), its length,
 * whether it was mapped readable and writable (memory, not a reservation),
 * the name of the thread that made it and its stack (NULL without -k). */
void summary_add_region(struct summary *s, uint64_t id, uint64_t len, bool writable,
                        const char *comm, const struct stack *stack);

/* An area that grows in place (growth.h) passed a step: the part it
 * committed since its last report is region id (len bytes); malloc_heap
 * when the area is the brk heap or a glibc arena heap. */
void summary_add_growth(struct summary *s, uint64_t id, uint64_t len, bool malloc_heap,
                        const char *comm, const struct stack *stack);

/* At the end: bytes of region id resident now (called once per piece). */
void summary_add_resident(struct summary *s, uint64_t id, uint64_t bytes);

/* The source dropped count events (count 0: an unknown number; the
 * source is lossy either way). */
void summary_add_lost(struct summary *s, uint64_t count);

/* The source may drop events: the summary says how many it did, 0 too. */
void summary_set_lossy(struct summary *s);

/* A dump of region id was written. */
void summary_add_dump(struct summary *s, uint64_t id);

/* At the end: bytes of region id still mapped (called once per piece). */
void summary_add_mapped(struct summary *s, uint64_t id, uint64_t bytes);

/* The table, sorted, with totals and the --min-size suggestion. */
const struct summary_view *summary_view(struct summary *s);

/* The call site of a stack as shown in the table ("name (module)",
 * "module+0xOFF" or "0xIP"), malloc'd; NULL for an empty stack. */
char *summary_call_site(const struct stack *stack);

#endif
