/*
 * perf_ring: ring buffer reading and record decoding. See include/perf_ring.h.
 */
#include "perf_ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int perf_ring_init(struct perf_ring *r, void *base, size_t page_size, uint64_t data_size)
{
    memset(r, 0, sizeof *r);
    if (!base || data_size == 0 || (data_size & (data_size - 1)) != 0) {
        errno = EINVAL;
        return -1;
    }
    r->wrap_copy = malloc(PERF_RING_RECORD_MAX);
    if (!r->wrap_copy)
        return -1;
    r->meta = base;
    r->data = (unsigned char *)base + page_size;
    r->data_size = data_size;
    return 0;
}

void perf_ring_release(struct perf_ring *r)
{
    free(r->wrap_copy);
    r->wrap_copy = NULL;
}

uint64_t perf_ring_pending(const struct perf_ring *r)
{
    uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
    return head - r->meta->data_tail;
}

long perf_ring_drain(struct perf_ring *r, int (*fn)(const void *rec, size_t size, void *ctx),
                     void *ctx)
{
    /* Acquire: every record written before head is visible after this. */
    uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = r->meta->data_tail;
    uint64_t mask = r->data_size - 1;
    long count = 0;
    int rc = 0;
    while (tail < head && rc == 0) {
        uint64_t off = tail & mask;
        /* Records are 8-byte aligned and the data size is a multiple of 8,
         * so the 8-byte header itself never wraps. */
        struct perf_event_header hdr;
        memcpy(&hdr, r->data + off, sizeof hdr);
        if (hdr.size < sizeof hdr || hdr.size > head - tail || (hdr.size & 7) != 0) {
            __atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
            errno = EBADMSG;
            return -1;
        }
        const void *rec = r->data + off;
        if (off + hdr.size > r->data_size) {
            uint64_t first = r->data_size - off;
            memcpy(r->wrap_copy, r->data + off, first);
            memcpy(r->wrap_copy + first, r->data, hdr.size - first);
            rec = r->wrap_copy;
        }
        rc = fn(rec, hdr.size, ctx);
        tail += hdr.size;
        count++;
    }
    /* Release: our reads of the records are done before the kernel may
     * write over them. */
    __atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
    return count;
}

/* ---- decoding ----------------------------------------------------------------- */

/* A bounded reader over one record. */
struct cursor {
    const unsigned char *p;
    size_t left;
    bool bad;
};

static uint64_t take_u64(struct cursor *c)
{
    uint64_t v = 0;
    if (c->left < 8) {
        c->bad = true;
        return 0;
    }
    memcpy(&v, c->p, 8);
    c->p += 8;
    c->left -= 8;
    return v;
}

static const unsigned char *take_bytes(struct cursor *c, uint64_t n)
{
    if (c->left < n) {
        c->bad = true;
        return NULL;
    }
    const unsigned char *p = c->p;
    c->p += n;
    c->left -= (size_t)n;
    return p;
}

/* The sample_id_all trailer's size for sample_type. */
static size_t trailer_size(uint64_t st)
{
    size_t n = 0;
    n += (st & PERF_SAMPLE_TID) ? 8 : 0;
    n += (st & PERF_SAMPLE_TIME) ? 8 : 0;
    n += (st & PERF_SAMPLE_ID) ? 8 : 0;
    n += (st & PERF_SAMPLE_STREAM_ID) ? 8 : 0;
    n += (st & PERF_SAMPLE_CPU) ? 8 : 0;
    n += (st & PERF_SAMPLE_IDENTIFIER) ? 8 : 0;
    return n;
}

/* Reads the trailer (pid/tid, time, cpu, identifier) into out. */
static void read_trailer(uint64_t st, struct cursor *c, struct perf_rec *out)
{
    if (st & PERF_SAMPLE_TID) {
        uint64_t v = take_u64(c);
        out->pid = (uint32_t)v;
        out->tid = (uint32_t)(v >> 32);
    }
    if (st & PERF_SAMPLE_TIME)
        out->time = take_u64(c);
    if (st & PERF_SAMPLE_CPU)
        out->cpu = (uint32_t)take_u64(c);
    if (st & PERF_SAMPLE_IDENTIFIER)
        out->id = take_u64(c);
}

bool perf_rec_identifier(uint64_t sample_type, const void *rec, size_t size, uint64_t *id)
{
    if (!(sample_type & PERF_SAMPLE_IDENTIFIER) || size < sizeof(struct perf_event_header) + 8)
        return false;
    const struct perf_event_header *h = rec;
    const unsigned char *p = rec;
    memcpy(id, h->type == PERF_RECORD_SAMPLE ? p + sizeof *h : p + size - 8, 8);
    return true;
}

static int decode_sample(uint64_t st, unsigned nregs, struct cursor *c, struct perf_rec *out)
{
    out->kind = PERF_REC_SAMPLE;
    /* The order of perf_event_open(2)'s PERF_RECORD_SAMPLE. */
    if (st & PERF_SAMPLE_IDENTIFIER)
        out->id = take_u64(c);
    if (st & PERF_SAMPLE_TID) {
        uint64_t v = take_u64(c);
        out->pid = (uint32_t)v;
        out->tid = (uint32_t)(v >> 32);
    }
    if (st & PERF_SAMPLE_TIME)
        out->time = take_u64(c);
    if (st & PERF_SAMPLE_CPU)
        out->cpu = (uint32_t)take_u64(c);
    if (st & PERF_SAMPLE_RAW) {
        /* u32 size, then size bytes; the two together are 8-aligned. */
        if (c->left < 4)
            return -1;
        uint32_t size;
        memcpy(&size, c->p, 4);
        c->p += 4;
        c->left -= 4;
        out->raw = take_bytes(c, size);
        out->raw_size = size;
        if (c->bad)
            return -1;
    }
    if (st & PERF_SAMPLE_REGS_USER) {
        out->regs_abi = take_u64(c);
        if (out->regs_abi) {
            if (nregs > PERF_REC_REGS_MAX)
                return -1;
            out->nregs = nregs;
            for (unsigned i = 0; i < nregs; i++)
                out->regs[i] = take_u64(c);
        }
    }
    if (st & PERF_SAMPLE_STACK_USER) {
        uint64_t size = take_u64(c);
        if (size) {
            const unsigned char *data = take_bytes(c, size);
            uint64_t dyn = take_u64(c);
            if (c->bad || dyn > size)
                return -1;
            out->stack = data;
            out->stack_size = dyn;
        }
    }
    return c->bad ? -1 : 0;
}

int perf_rec_decode(uint64_t sample_type, unsigned nregs, const void *rec, size_t size,
                    struct perf_rec *out)
{
    memset(out, 0, sizeof *out);
    if (sample_type & ~(uint64_t)PERF_RING_SAMPLE_TYPES_KNOWN) {
        errno = EINVAL;
        return -1;
    }
    const struct perf_event_header *h = rec;
    if (size < sizeof *h || h->size != size) {
        errno = EBADMSG;
        return -1;
    }
    out->misc = h->misc;
    struct cursor c = {(const unsigned char *)rec + sizeof *h, size - sizeof *h, false};
    if (h->type == PERF_RECORD_SAMPLE) {
        if (decode_sample(sample_type, nregs, &c, out) < 0) {
            errno = EBADMSG;
            return -1;
        }
        return 0;
    }

    /* Other records: a body, then the trailer at the end of the record. */
    size_t tsize = trailer_size(sample_type);
    if (c.left < tsize) {
        errno = EBADMSG;
        return -1;
    }
    struct cursor trailer = {c.p + c.left - tsize, tsize, false};
    c.left -= tsize;
    read_trailer(sample_type, &trailer, out);

    switch (h->type) {
    case PERF_RECORD_COMM: {
        out->kind = PERF_REC_COMM;
        uint64_t v = take_u64(&c);
        out->pid = (uint32_t)v;
        out->tid = (uint32_t)(v >> 32);
        /* The name, NUL-terminated and padded to 8 bytes; a name that is
         * not terminated inside the record is cut, never read past. */
        size_t n = 0;
        while (n < c.left && n < PERF_REC_COMM_MAX - 1 && c.p[n])
            n++;
        memcpy(out->comm, c.p, n);
        out->comm[n] = '\0';
        break;
    }
    case PERF_RECORD_FORK:
    case PERF_RECORD_EXIT: {
        out->kind = h->type == PERF_RECORD_FORK ? PERF_REC_FORK : PERF_REC_EXIT;
        /* u32 pid, ppid, tid, ptid; u64 time */
        uint64_t a = take_u64(&c), b = take_u64(&c);
        out->pid = (uint32_t)a;
        out->ppid = (uint32_t)(a >> 32);
        out->tid = (uint32_t)b;
        out->ptid = (uint32_t)(b >> 32);
        uint64_t t = take_u64(&c);
        if (!out->time)
            out->time = t;
        break;
    }
    case PERF_RECORD_LOST:
        out->kind = PERF_REC_LOST;
        (void)take_u64(&c); /* the id of the event whose ring it is */
        out->lost = take_u64(&c);
        break;
    case PERF_RECORD_LOST_SAMPLES:
        out->kind = PERF_REC_LOST_SAMPLES;
        out->lost = take_u64(&c);
        break;
    case PERF_RECORD_THROTTLE:
    case PERF_RECORD_UNTHROTTLE:
        out->kind = PERF_REC_THROTTLE;
        break;
    default:
        out->kind = PERF_REC_OTHER;
        return 0;
    }
    if (c.bad || trailer.bad) {
        errno = EBADMSG;
        return -1;
    }
    return 0;
}

struct perf_stack *perf_rec_stack(const struct perf_rec *r)
{
    if (!r->regs_abi)
        return NULL;
    struct perf_stack *st = malloc(sizeof *st + r->stack_size);
    if (!st)
        return NULL;
    st->abi = r->regs_abi;
    st->regs_mask = PERF_STACK_REGS_MASK;
    st->nregs = r->nregs;
    memcpy(st->regs, r->regs, sizeof st->regs);
    st->size = r->stack_size;
    if (r->stack_size)
        memcpy(st->data, r->stack, r->stack_size);
    return st;
}
