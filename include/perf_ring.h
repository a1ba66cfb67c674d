/*
 * perf_ring: reading a perf_event ring buffer and decoding its records
 * (source layer, used by perf_source only).
 *
 * The kernel writes records at data_head; we read from data_tail and give
 * the space back by storing data_tail. head is loaded with acquire order
 * (the records before it are then visible) and tail stored with release
 * order (our reads are done before the kernel may overwrite them). A record
 * that wraps around the end of the data area is copied whole into the
 * ring's own buffer, so a caller always sees one contiguous record.
 *
 * The decoder is pure: it turns the bytes of one record into a struct
 * perf_rec, given the sample_type of the event that wrote it. Every length
 * is checked against the record's size; a record that does not fit its
 * declared layout is rejected, never read past.
 *
 * Not thread-safe: one ring is drained by one thread (the loop's).
 */
#ifndef MMAPWATCH_PERF_RING_H
#define MMAPWATCH_PERF_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/perf_event.h>

#include "perf_pair.h"

/* The largest record: its header's size is 16 bits. */
#define PERF_RING_RECORD_MAX 65536

struct perf_ring {
    struct perf_event_mmap_page *meta; /* the first page of the mapping */
    unsigned char *data;               /* data_size bytes after it */
    uint64_t data_size;                /* a power of two */
    unsigned char *wrap_copy;          /* PERF_RING_RECORD_MAX bytes, owned */
};

/* Sets up r over a mapping of 1 + 2^n pages at base (base NULL: fails).
 * 0, or -1 with errno (ENOMEM for the copy buffer, EINVAL for a size that
 * is not a power of two). */
int perf_ring_init(struct perf_ring *r, void *base, size_t page_size, uint64_t data_size);

/* Frees the copy buffer (not the mapping). Accepts a zeroed ring. */
void perf_ring_release(struct perf_ring *r);

/* Calls fn(rec, size, ctx) for every whole record between tail and head,
 * in ring order, then gives the space back. rec is 8-byte aligned and
 * valid only during the call. Stops early (giving back what was handed
 * out) when fn returns non-zero. Returns the number of records handed out,
 * or -1 (errno EBADMSG) when the ring holds a record with an impossible
 * size: the ring is then unusable. */
long perf_ring_drain(struct perf_ring *r, int (*fn)(const void *rec, size_t size, void *ctx),
                     void *ctx);

/* Bytes written and not yet read. */
uint64_t perf_ring_pending(const struct perf_ring *r);

/* ---- records ------------------------------------------------------------- */

enum perf_rec_kind {
    PERF_REC_SAMPLE,       /* a tracepoint hit: raw data, maybe regs and stack */
    PERF_REC_COMM,         /* a thread's name set; misc tells exec */
    PERF_REC_FORK,         /* a thread or process created */
    PERF_REC_EXIT,         /* a thread ended */
    PERF_REC_LOST,         /* records the kernel could not write */
    PERF_REC_LOST_SAMPLES, /* samples the kernel dropped */
    PERF_REC_THROTTLE,     /* the event was throttled (or unthrottled) */
    PERF_REC_OTHER,        /* a kind we do not use: skipped */
};

#define PERF_REC_COMM_MAX 16
/* The user registers asked for stacks (x86_64's perf_regs numbering). */
#define PERF_REC_REGS_MAX 24

struct perf_rec {
    enum perf_rec_kind kind;
    uint16_t misc;         /* header.misc (PERF_RECORD_MISC_COMM_EXEC ...) */
    /* Who and when (the sample, or sample_id_all's trailer). */
    uint64_t id;           /* PERF_SAMPLE_IDENTIFIER: the event's id */
    uint32_t pid, tid;
    uint64_t time;         /* the event's clock (CLOCK_MONOTONIC here) */
    uint32_t cpu;
    /* SAMPLE */
    const unsigned char *raw; /* points into the record */
    uint32_t raw_size;
    uint64_t regs_abi;        /* PERF_SAMPLE_REGS_ABI_*; 0: no registers */
    unsigned nregs;
    uint64_t regs[PERF_REC_REGS_MAX];
    const unsigned char *stack; /* the copied user stack, in the record */
    uint64_t stack_size;        /* bytes valid at stack (the dynamic size) */
    /* COMM */
    char comm[PERF_REC_COMM_MAX];
    /* FORK, EXIT: pid/tid above are the body's (the new or ended thread) */
    uint32_t ppid, ptid;
    /* LOST, LOST_SAMPLES */
    uint64_t lost;
};

/* The sample_type bits this decoder understands. Every event sharing a
 * ring must have the same of PERF_SAMPLE_IDENTIFIER|TID|TIME|CPU (the
 * trailer of non-sample records depends on them). */
#define PERF_RING_SAMPLE_TYPES_KNOWN                                                 \
    (PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | \
     PERF_SAMPLE_RAW | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)

/* The identifier of a record (first word of a sample, last of others), for
 * finding the sample_type of the event that wrote it. false if too short
 * or the type has no PERF_SAMPLE_IDENTIFIER. Pure. */
bool perf_rec_identifier(uint64_t sample_type, const void *rec, size_t size, uint64_t *id);

/* Decodes one record. sample_type is the writing event's; nregs the
 * number of bits in its sample_regs_user. 0, or -1 when the record does
 * not fit that layout (errno EBADMSG) or sample_type has bits this decoder
 * does not know (EINVAL). Pure. */
int perf_rec_decode(uint64_t sample_type, unsigned nregs, const void *rec, size_t size,
                    struct perf_rec *out);

/* The registers and stack copy of a decoded sample taken with
 * sample_regs_user PERF_STACK_REGS_MASK, as a malloc'd snapshot (the
 * caller's to free, or perf_pair's once pushed). NULL when the sample has
 * no registers, or on ENOMEM. */
struct perf_stack *perf_rec_stack(const struct perf_rec *r);

#endif
