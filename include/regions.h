/*
 * regions: the ordered set of reported regions of one address space.
 *
 * A region is a half-open byte range [start, end) that mmapwatch reported
 * (an mmap at or above --min-size, or a region that an mremap grew past it),
 * with the attributes it was mapped with. Regions in one set never overlap:
 * inserting over existing ones replaces the overlapped parts, exactly as the
 * kernel's MAP_FIXED does. Partial munmap trims or splits a region; mprotect
 * on part of one splits it so each piece carries its own prot; mremap moves
 * a region's attributes to its new range.
 *
 * Every operation is O(log n + k) for n regions and k regions touched.
 * Pure: no system calls, no globals; unit-tested in tests/unit.
 *
 * Ownership: region_set_new() allocates, region_set_free() frees (NULL ok).
 * Pointers returned by lookups stay valid until the next modification.
 * Functions that may allocate return -1 with errno ENOMEM on failure and
 * leave the set as it was.
 */
#ifndef MMAPWATCH_REGIONS_H
#define MMAPWATCH_REGIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct region {
    uint64_t start, end;        /* [start, end), page-aligned by the caller */
    int prot;                   /* PROT_* now (mprotect updates it) */
    int flags;                  /* MAP_* at mmap time */
    int fd;                     /* fd at mmap time, -1 for anonymous */
    uint64_t offset;            /* file offset of start */
    pid_t tid;                  /* thread that mapped it */
    struct timespec mapped_at;  /* CLOCK_REALTIME of the mmap */
    uint64_t id;                /* caller's id; pieces of a split region keep it */
    uint64_t born_ns;           /* CLOCK_MONOTONIC of the call's result that made it */
    bool uncertain;             /* events were lost since: it may have ended unseen */
};

struct region_set;

struct region_set *region_set_new(void);
void region_set_free(struct region_set *set);

/* A deep copy (fork copies the address space). NULL on ENOMEM. */
struct region_set *region_set_clone(const struct region_set *set);

/* Inserts *r (copied), first removing whatever overlaps [r->start, r->end).
 * 0, or -1 (ENOMEM). */
int region_set_insert(struct region_set *set, const struct region *r);

/* Removes [start, end) from every region it overlaps (trim, split or
 * delete). Returns the number of regions touched (0 if none), or -1
 * (ENOMEM: a split needed memory) with the set unchanged. When removed is
 * not NULL, *removed gets the number of bytes removed. */
int region_set_remove(struct region_set *set, uint64_t start, uint64_t end, uint64_t *removed);

/* Sets prot on the parts of regions inside [start, end), splitting regions
 * at the boundaries. Returns the number of regions touched, or -1 (ENOMEM)
 * with the set unchanged. */
int region_set_protect(struct region_set *set, uint64_t start, uint64_t end, int prot);

/* mremap: the region that contains old_start gives its attributes to a new
 * region [new_start, new_start + new_len) (offset adjusted for the move);
 * [old_start, old_start + old_len) is removed first, then whatever overlaps
 * the new range. Returns 1 if a region was moved, 0 if old_start is not in
 * a region (nothing changed), -1 on ENOMEM (set unchanged). */
int region_set_move(struct region_set *set, uint64_t old_start, uint64_t old_len,
                    uint64_t new_start, uint64_t new_len);

/* The region containing addr, or NULL. */
const struct region *region_set_find(const struct region_set *set, uint64_t addr);

/* Whether any region overlaps [start, end). */
bool region_set_overlaps(const struct region_set *set, uint64_t start, uint64_t end);

size_t region_set_count(const struct region_set *set);

/* Marks every region uncertain (events were lost). Returns how many. */
size_t region_set_mark_uncertain(struct region_set *set);
uint64_t region_set_bytes(const struct region_set *set);

/* Calls fn for each region in address order; stops early when fn returns
 * non-zero and returns that value. fn must not modify the set. */
int region_set_foreach(const struct region_set *set,
                       int (*fn)(const struct region *r, void *ctx), void *ctx);

/* Like region_set_foreach, for the regions overlapping [start, end) only,
 * in address order, in O(log n + k). */
int region_set_foreach_in(const struct region_set *set, uint64_t start, uint64_t end,
                          int (*fn)(const struct region *r, void *ctx), void *ctx);

#endif
