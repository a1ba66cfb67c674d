/*
 * growth: the areas of one address space that grow in place, and when
 * their growth is worth reporting. Part of the model (track.c drives it).
 *
 * Memory does not only come in new mmaps: the brk heap moves its end, and
 * a reservation (an anonymous PROT_NONE mapping: glibc's per-thread arena
 * heaps, 64 MiB each, the JVM's heap and metaspace) is committed piece by
 * piece by mprotect (or by a MAP_FIXED mmap over it). Each such area is
 * watched here: its reserved range, its pieces with their protection, and
 * the bytes committed (accessible) in it.
 *
 * The rule: an area is reported each time its committed size, at its
 * highest, passes a multiple of the step (--min-size) upward while traced:
 * at 16, 32, 48 MiB... with --min-size 16M, so a report says "grew to
 * 48 MiB" and reports come one step of growth apart. What an area had
 * committed when first seen (adopted at an attach) is its baseline: the
 * steps below it are not reported, and "gained" counts from it. (Steps
 * counted from the baseline instead would miss growth by whole chunks in
 * attach mode: a 16 MiB malloc commits 16 MiB less glibc's slack at the
 * top.) A call that crosses one or more steps gives one growth_step,
 * with the range committed since the last report (what is new to dump).
 *
 * Pure: no system calls; unit-tested through the model
 * (tests/unit/test_model.c). Ownership: growth_new allocates, growth_free
 * frees (NULL ok). Threads: the loop's thread only.
 */
#ifndef MMAPWATCH_GROWTH_H
#define MMAPWATCH_GROWTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum growth_kind {
    GROWTH_BRK_HEAP,    /* the process's brk heap: glibc's main arena */
    GROWTH_RESERVATION, /* an anonymous mapping with PROT_NONE parts */
    GROWTH_MALLOC_HEAP, /* a reservation that is a glibc arena heap */
};

/* "brk heap", "reservation", "malloc heap". */
const char *growth_kind_name(enum growth_kind kind);

struct growth_area {
    uint64_t id;                 /* unique for the run */
    enum growth_kind kind;
    uint64_t start, end;         /* reserved [start, end); brk heap: up to its end */
    uint64_t baseline;           /* committed bytes when first seen */
    uint64_t committed;          /* now */
    uint64_t peak;               /* the most committed so far */
    uint64_t steps;              /* steps reported */
    uint64_t new_lo, new_hi;     /* hull of what was committed since the last
                                    report (new_lo == new_hi: nothing) */
    bool label_checked;          /* malloc heap or not: decided (growth_label) */
};

/* A call crossed a step: the area (valid until the next change of the
 * set), its growth since tracing began, and the range it committed since
 * the last report. */
struct growth_step {
    const struct growth_area *area;
    uint64_t gained;
    uint64_t new_lo, new_hi;
};

#define GROWTH_STEPS_MAX 4

struct growth;

/* NULL on ENOMEM. The calls that may cross a step take it: step is the
 * reporting step in bytes (--min-size; 0 reports every gain). */
struct growth *growth_new(void);
void growth_free(struct growth *g);
/* A copy for a forked child. NULL on ENOMEM. */
struct growth *growth_clone(const struct growth *g);

/* Whether [start, end) overlaps a watched area (the brk heap included):
 * a call there may commit, so its result is wanted. */
bool growth_overlaps(const struct growth *g, uint64_t start, uint64_t end);

/* The calls, applied after they succeeded. Each returns the number of
 * steps crossed (filled into steps[0..GROWTH_STEPS_MAX)). */

/* A new mapping [start, end) with prot and flags (MAP_*). An anonymous
 * PROT_NONE one at least min_len long becomes a reservation; one placed
 * over watched pieces (MAP_FIXED) commits or uncommits them. */
size_t growth_mmap(struct growth *g, uint64_t start, uint64_t end, int prot, int flags,
                   uint64_t min_len, uint64_t step, struct growth_step *steps);
size_t growth_protect(struct growth *g, uint64_t start, uint64_t end, int prot,
                      uint64_t step, struct growth_step *steps);
void growth_unmap(struct growth *g, uint64_t start, uint64_t end);
/* mremap: pieces of [old, old + old_len) move to [new, new + new_len) (a
 * grown tail keeps the last piece's protection). */
size_t growth_remap(struct growth *g, uint64_t old_start, uint64_t old_len, uint64_t new_start,
                    uint64_t new_len, uint64_t step, struct growth_step *steps);
/* brk returned end (the heap's end now). The first one seen starts the
 * heap at end, unless growth_adopt_heap said where it starts. */
size_t growth_brk(struct growth *g, uint64_t end, uint64_t step, struct growth_step *steps);
/* The brk heap's end as last seen (by growth_brk or the adoption); false
 * when none was seen. Every part of the heap reported so far lies below
 * it (a result below it removes the parts above: track.c). */
bool growth_brk_end(const struct growth *g, uint64_t *end);

/* At a brk's entry, before its result: whether the result is needed.
 * arg is the call's argument rounded up to a page. brk(arg) either moves
 * the end to arg or fails and leaves it, and a result that is not seen
 * changes nothing here. So the result is needed only for the first brk
 * (where the heap starts), for one below the end last seen (a shrink that
 * may end reported parts: they are removed at its result, and dumped
 * before it: model.c; a query, brk(0), is one too), and for one whose
 * arg would take the heap past its next step. Any other brk's result
 * changes no report: the step a later call crosses is seen at that call's
 * own result, with its thread and stack, the same step, size and new
 * range as if every brk had been seen (the range is a hull from the top
 * last reported). What is not exact meanwhile: the heap's end and
 * committed size here lag behind calls not seen (no report shows them). */
bool growth_brk_want_result(const struct growth *g, uint64_t arg, uint64_t step);

/* Adoption (attach): areas that existed before tracing. Their committed
 * bytes now are their baseline, and the steps below it are passed. */
void growth_adopt_heap(struct growth *g, uint64_t start, uint64_t end, uint64_t step);
/* One piece of a reservation being adopted: pieces of one reservation
 * come in address order, the first with first true. */
int growth_adopt_piece(struct growth *g, uint64_t start, uint64_t end, int prot, bool first,
                       uint64_t step);

/* Labels an area a malloc heap (or not, once checked). */
void growth_label(struct growth *g, uint64_t id, bool malloc_heap);

/* Calls fn for each area (for tests and the summary). */
void growth_foreach(const struct growth *g, void (*fn)(const struct growth_area *a, void *ctx),
                    void *ctx);

#endif
