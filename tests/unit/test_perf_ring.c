/*
 * Unit tests for perf_ring.c on byte buffers: draining a ring (records in
 * order, one that wraps the end copied whole, the tail given back, a
 * corrupt size refused) and decoding every record kind the perf source
 * uses, including records cut short.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "perf_ring.h"
#include "unit.h"

#define ST_BASE (PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | \
                 PERF_SAMPLE_CPU | PERF_SAMPLE_RAW)
#define ST_STACK (ST_BASE | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)

/* A record under construction. */
struct rec {
    unsigned char b[1024];
    size_t n;
};

static void put(struct rec *r, const void *p, size_t n)
{
    memcpy(r->b + r->n, p, n);
    r->n += n;
}

static void put64(struct rec *r, uint64_t v) { put(r, &v, 8); }

static void header(struct rec *r, uint32_t type, uint16_t misc)
{
    struct perf_event_header h = {.type = type, .misc = misc, .size = 0};
    r->n = 0;
    put(r, &h, sizeof h);
}

static void finish(struct rec *r)
{
    struct perf_event_header *h = (void *)r->b;
    h->size = (uint16_t)r->n;
}

/* sample_id_all's trailer: pid/tid, time, cpu, identifier. */
static void trailer(struct rec *r, uint32_t pid, uint32_t tid, uint64_t time, uint64_t id)
{
    put64(r, (uint64_t)tid << 32 | pid);
    put64(r, time);
    put64(r, 1); /* cpu 1 */
    put64(r, id);
}

/* A sample with raw data of raw_len bytes (filled with 0xab), and with
 * stacks: 3 registers and a stack of stack_len bytes. */
static void sample(struct rec *r, bool stacks, uint32_t raw_len, uint64_t stack_len)
{
    header(r, PERF_RECORD_SAMPLE, 0);
    put64(r, 77);                          /* identifier */
    put64(r, (uint64_t)1235 << 32 | 1234); /* pid 1234, tid 1235 */
    put64(r, 5000);                        /* time */
    put64(r, 1);                           /* cpu */
    put(r, &raw_len, 4);
    unsigned char raw[256];
    memset(raw, 0xab, sizeof raw);
    put(r, raw, raw_len);
    if (stacks) {
        put64(r, PERF_SAMPLE_REGS_ABI_64);
        put64(r, 0x11);
        put64(r, 0x22);
        put64(r, 0x33);
        put64(r, stack_len);
        unsigned char st[256];
        for (size_t i = 0; i < sizeof st; i++)
            st[i] = (unsigned char)i;
        put(r, st, stack_len);
        put64(r, stack_len - 8); /* dynamic size: what was really copied */
    }
    finish(r);
}

TEST(decodes_sample_with_raw)
{
    struct rec r;
    sample(&r, false, 28, 0); /* 4 + 28 = 32: aligned */
    struct perf_rec out;
    CHECK(perf_rec_decode(ST_BASE, 0, r.b, r.n, &out) == 0);
    CHECK(out.kind == PERF_REC_SAMPLE);
    CHECK_U64(out.id, 77);
    CHECK_U64(out.pid, 1234);
    CHECK_U64(out.tid, 1235);
    CHECK_U64(out.time, 5000);
    CHECK_U64(out.cpu, 1);
    CHECK_U64(out.raw_size, 28);
    CHECK(out.raw[0] == 0xab && out.raw[27] == 0xab);
    CHECK(out.stack == NULL && out.regs_abi == 0);
    uint64_t id;
    CHECK(perf_rec_identifier(ST_BASE, r.b, r.n, &id) && id == 77);
}

TEST(decodes_sample_with_stack)
{
    struct rec r;
    sample(&r, true, 28, 64);
    struct perf_rec out;
    CHECK(perf_rec_decode(ST_STACK, 3, r.b, r.n, &out) == 0);
    CHECK_U64(out.regs_abi, PERF_SAMPLE_REGS_ABI_64);
    CHECK_U64(out.nregs, 3);
    CHECK_U64(out.regs[0], 0x11);
    CHECK_U64(out.regs[2], 0x33);
    CHECK_U64(out.stack_size, 56);
    CHECK(out.stack[0] == 0 && out.stack[55] == 55);
}

TEST(rejects_cut_samples)
{
    struct rec r;
    sample(&r, true, 28, 64);
    struct perf_rec out;
    /* Every shorter record with a size saying so: none decodes. */
    for (size_t n = 8; n < r.n; n += 8) {
        struct perf_event_header *h = (void *)r.b;
        h->size = (uint16_t)n;
        CHECK(perf_rec_decode(ST_STACK, 3, r.b, n, &out) < 0);
    }
    /* A raw size beyond the record. */
    sample(&r, false, 28, 0);
    uint32_t big = 4000;
    memcpy(r.b + 8 + 32, &big, 4);
    CHECK(perf_rec_decode(ST_BASE, 0, r.b, r.n, &out) < 0);
    /* A dynamic stack size above the copied size. */
    sample(&r, true, 28, 64);
    uint64_t dyn = 65;
    memcpy(r.b + r.n - 8, &dyn, 8);
    CHECK(perf_rec_decode(ST_STACK, 3, r.b, r.n, &out) < 0);
    /* The size given and the header's disagree. */
    sample(&r, false, 28, 0);
    CHECK(perf_rec_decode(ST_BASE, 0, r.b, r.n - 8, &out) < 0);
    /* A sample_type the decoder does not know. */
    CHECK(perf_rec_decode(ST_BASE | PERF_SAMPLE_CALLCHAIN, 0, r.b, r.n, &out) < 0);
    CHECK(errno == EINVAL);
}

TEST(decodes_comm_exec)
{
    struct rec r;
    header(&r, PERF_RECORD_COMM, PERF_RECORD_MISC_COMM_EXEC);
    put64(&r, (uint64_t)500 << 32 | 500);
    put(&r, "trace_map\0\0\0\0\0\0\0", 16);
    trailer(&r, 500, 500, 9000, 42);
    finish(&r);
    struct perf_rec out;
    CHECK(perf_rec_decode(ST_BASE, 0, r.b, r.n, &out) == 0);
    CHECK(out.kind == PERF_REC_COMM);
    CHECK(out.misc & PERF_RECORD_MISC_COMM_EXEC);
    CHECK_STR(out.comm, "trace_map");
    CHECK_U64(out.time, 9000);
    CHECK_U64(out.id, 42);
    uint64_t id;
    CHECK(perf_rec_identifier(ST_BASE, r.b, r.n, &id) && id == 42);

    /* A name with no NUL inside the record is cut, not read past. */
    header(&r, PERF_RECORD_COMM, 0);
    put64(&r, (uint64_t)501 << 32 | 500);
    put(&r, "abcdefghijklmnopqrstuvwx", 24);
    trailer(&r, 500, 501, 9001, 42);
    finish(&r);
    CHECK(perf_rec_decode(ST_BASE, 0, r.b, r.n, &out) == 0);
    CHECK(!(out.misc & PERF_RECORD_MISC_COMM_EXEC));
    CHECK_STR(out.comm, "abcdefghijklmno");
    CHECK_U64(out.tid, 501);
}

TEST(decodes_fork_exit_lost)
{
    struct rec r;
    header(&r, PERF_RECORD_FORK, 0);
    put64(&r, (uint64_t)100 << 32 | 600); /* pid 600, ppid 100 */
    put64(&r, (uint64_t)101 << 32 | 601); /* tid 601, ptid 101 */
    put64(&r, 7000);
    trailer(&r, 100, 101, 7001, 3);
    finish(&r);
    struct perf_rec out;
    CHECK(perf_rec_decode(ST_BASE, 0, r.b, r.n, &out) == 0);
    CHECK(out.kind == PERF_REC_FORK);
    CHECK(out.pid == 600 && out.ppid == 100 && out.tid == 601 && out.ptid == 101);
    CHECK_U64(out.time, 7001);

    header(&r, PERF_RECORD_EXIT, 0);
    put64(&r, (uint64_t)100 << 32 | 600);
    put64(&r, (uint64_t)101 << 32 | 601);
    put64(&r, 8000);
    trailer(&r, 600, 601, 8001, 3);
    finish(&r);
    CHECK(perf_rec_decode(ST_BASE, 0, r.b, r.n, &out) == 0);
    CHECK(out.kind == PERF_REC_EXIT && out.tid == 601);

    header(&r, PERF_RECORD_LOST, 0);
    put64(&r, 3);   /* id */
    put64(&r, 123); /* lost */
    trailer(&r, 0, 0, 8500, 3);
    finish(&r);
    CHECK(perf_rec_decode(ST_BASE, 0, r.b, r.n, &out) == 0);
    CHECK(out.kind == PERF_REC_LOST);
    CHECK_U64(out.lost, 123);
    CHECK_U64(out.time, 8500);

    /* A FORK too short for its body. */
    header(&r, PERF_RECORD_FORK, 0);
    put64(&r, 1);
    trailer(&r, 100, 101, 7001, 3);
    finish(&r);
    CHECK(perf_rec_decode(ST_BASE, 0, r.b, r.n, &out) < 0);
}

/* ---- the ring ---- */

struct seen {
    size_t n;
    size_t bad; /* records that did not decode, or whose raw data is not intact */
    uint64_t times[16];
    size_t sizes[16];
};

static int collect(const void *rec, size_t size, void *ctx)
{
    struct seen *s = ctx;
    struct perf_rec out;
    if (perf_rec_decode(ST_BASE, 0, rec, size, &out) == 0 && s->n < 16) {
        s->times[s->n] = out.time;
        s->sizes[s->n] = size;
        for (uint32_t i = 0; i < out.raw_size; i++)
            if (out.raw[i] != 0xab)
                s->bad++;
    } else {
        s->bad++;
    }
    s->n++;
    return 0;
}

/* A ring of one meta page and 256 data bytes, its tail at `start`, the
 * records of rs written from there on (wrapping). */
static void fill_ring(unsigned char *mem, uint64_t start, struct rec *rs, size_t n)
{
    struct perf_event_mmap_page *meta = (void *)mem;
    memset(mem, 0, 4096 + 256);
    meta->data_tail = start;
    uint64_t head = start;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < rs[i].n; k++)
            mem[4096 + ((head + k) & 255)] = rs[i].b[k];
        head += rs[i].n;
    }
    meta->data_head = head;
}

TEST(drains_in_order_across_the_wrap)
{
    static unsigned char mem[4096 + 256] __attribute__((aligned(8)));
    struct rec rs[3];
    for (int i = 0; i < 3; i++) {
        sample(&rs[i], false, 28, 0); /* 72 bytes */
        uint64_t t = 100 + (uint64_t)i;
        memcpy(rs[i].b + 8 + 16, &t, 8);
    }
    /* 72-byte records from 200: the first straddles the end (272 > 256). */
    fill_ring(mem, 200, rs, 3);
    struct perf_ring ring;
    CHECK(perf_ring_init(&ring, mem, 4096, 256) == 0);
    CHECK_U64(perf_ring_pending(&ring), 3 * rs[0].n);
    struct seen s = {0};
    CHECK(perf_ring_drain(&ring, collect, &s) == 3);
    CHECK_U64(s.n, 3);
    CHECK_U64(s.bad, 0);
    CHECK(s.times[0] == 100 && s.times[1] == 101 && s.times[2] == 102);
    CHECK_U64(s.sizes[0], rs[0].n);
    struct perf_event_mmap_page *meta = (void *)mem;
    CHECK_U64(meta->data_tail, 200 + 3 * rs[0].n);
    CHECK_U64(perf_ring_pending(&ring), 0);
    /* Nothing new: nothing handed out. */
    CHECK(perf_ring_drain(&ring, collect, &s) == 0);
    perf_ring_release(&ring);
}

TEST(refuses_impossible_sizes)
{
    static unsigned char mem[4096 + 256] __attribute__((aligned(8)));
    struct rec r;
    sample(&r, false, 28, 0);
    fill_ring(mem, 0, &r, 1);
    struct perf_event_header *h = (void *)(mem + 4096);
    h->size = 4; /* smaller than a header */
    struct perf_ring ring;
    CHECK(perf_ring_init(&ring, mem, 4096, 256) == 0);
    struct seen s = {0};
    CHECK(perf_ring_drain(&ring, collect, &s) < 0 && errno == EBADMSG);
    h->size = 200; /* beyond head */
    CHECK(perf_ring_drain(&ring, collect, &s) < 0);
    CHECK_U64(s.n, 0);
    perf_ring_release(&ring);
    CHECK(perf_ring_init(&ring, mem, 4096, 200) < 0); /* not a power of two */
}

UNIT_MAIN(UNIT_CASE(decodes_sample_with_raw), UNIT_CASE(decodes_sample_with_stack),
          UNIT_CASE(rejects_cut_samples), UNIT_CASE(decodes_comm_exec),
          UNIT_CASE(decodes_fork_exit_lost), UNIT_CASE(drains_in_order_across_the_wrap),
          UNIT_CASE(refuses_impossible_sizes))
