/*
 * Unit tests for perf_pair.c with synthetic records, pushed in ring order
 * as the perf source reads them: time order across rings, the release
 * watermark, entry/exit pairs (also across CPUs), exits with no entry,
 * losses voiding waiting entries, duplicate copies dropped, and the thread
 * named by a non-leader exec; and the BPF reader's loss item
 * (perf_bpf_drops_item) among the records it reads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include "perf_bpf.h"
#include "perf_pair.h"
#include "unit.h"

#define MAX_EVS 32

/* Events but entries (CALL_ENTER), which are counted apart. */
struct got {
    size_t nenter;
    uint64_t enter_times[MAX_EVS];
    size_t n;
    struct perf_ev ev[MAX_EVS];
    uint64_t stack_size[MAX_EVS]; /* read during the callback; UINT64_MAX: none */
};

static void collect(const struct perf_ev *ev, void *ctx)
{
    struct got *g = ctx;
    if (ev->kind == PERF_EV_CALL_ENTER) {
        if (g->nenter < MAX_EVS)
            g->enter_times[g->nenter] = ev->time;
        g->nenter++;
        return;
    }
    if (g->n < MAX_EVS) {
        g->ev[g->n] = *ev;
        g->stack_size[g->n] = ev->stack ? ev->stack->size : UINT64_MAX;
    }
    g->n++;
}

static struct perf_item enter(pid_t tid, uint64_t t, int nr, uint64_t len, uint32_t owner)
{
    struct perf_item it = {.kind = PERF_ITEM_ENTER, .time = t, .owner = owner, .pid = 1000,
                           .tid = tid, .tp = (uint32_t)nr + 1000, .nr = nr};
    it.args[1] = len;
    it.content = len * 31 + (uint64_t)tid;
    return it;
}

static struct perf_item leave(pid_t tid, uint64_t t, int nr, int64_t ret, uint32_t owner)
{
    struct perf_item it = {.kind = PERF_ITEM_EXIT, .time = t, .owner = owner, .pid = 1000,
                           .tid = tid, .tp = (uint32_t)nr + 2000, .nr = nr, .ret = ret};
    it.content = (uint64_t)ret * 17 + (uint64_t)tid;
    return it;
}

static struct perf_item lost(uint64_t t, uint64_t count, uint64_t from)
{
    return (struct perf_item){.kind = PERF_ITEM_LOST, .time = t, .lost = count,
                              .lost_from = from, .cpu = 1};
}

static void push(struct perf_pair *p, struct perf_item it) { perf_pair_push(p, &it); }

/* What came out, counted by kind, and where the last loss is in g->ev. */
struct tally {
    size_t calls, unfinished, losses, last_loss;
};

static struct tally tally_of(const struct got *g)
{
    struct tally n = {0};
    for (size_t i = 0; i < g->n && i < MAX_EVS; i++) {
        n.calls += g->ev[i].kind == PERF_EV_MAP_CALL;
        n.unfinished += g->ev[i].kind == PERF_EV_MAP_UNFINISHED;
        if (g->ev[i].kind == PERF_EV_LOST) {
            n.losses++;
            n.last_loss = i;
        }
    }
    return n;
}

/* it as the BPF reader makes it: with its thread's drop mark. */
static struct perf_item marked(struct perf_item it, uint64_t mark)
{
    it.marked = true;
    it.drop_mark = mark;
    return it;
}

TEST(pairs_across_rings_in_time_order)
{
    struct got g = {0};
    struct perf_pair *p = perf_pair_new(collect, &g);
    CHECK(p != NULL);
    /* Ring of CPU 1 is read first: thread 11's exit, and thread 10's exit
     * after it migrated; then CPU 0's: both entries. */
    push(p, leave(11, 150, SYS_mmap, 0x7000, 11));
    push(p, leave(10, 200, SYS_mmap, 0x9000, 10));
    push(p, enter(10, 100, SYS_mmap, 4 << 20, 10));
    push(p, enter(11, 120, SYS_mmap, 8 << 20, 11));
    perf_pair_release(p, UINT64_MAX);
    CHECK_U64(g.n, 2);
    CHECK(g.ev[0].kind == PERF_EV_MAP_CALL && g.ev[0].tid == 11);
    CHECK_U64(g.ev[0].args[1], 8 << 20);
    CHECK_U64(g.ev[0].ret, 0x7000);
    CHECK_U64(g.ev[0].enter_time, 120);
    CHECK_U64(g.ev[0].time, 150);
    CHECK(g.ev[1].tid == 10 && g.ev[1].args[1] == 4 << 20 && g.ev[1].ret == 0x9000);
    CHECK_U64(perf_pair_stats(p)->unpaired_exits, 0);
    /* The entries were said too, at their own times, in order. */
    CHECK_U64(g.nenter, 2);
    CHECK(g.enter_times[0] == 100 && g.enter_times[1] == 120);
    perf_pair_free(p);
}

TEST(holds_what_is_past_the_watermark)
{
    struct got g = {0};
    struct perf_pair *p = perf_pair_new(collect, &g);
    push(p, enter(10, 100, SYS_munmap, 4096, 10));
    push(p, leave(10, 140, SYS_munmap, 0, 10));
    push(p, enter(11, 150, SYS_munmap, 8192, 11));
    perf_pair_release(p, 130);
    CHECK_U64(g.n, 0);
    CHECK_U64(perf_pair_queued(p), 2);
    perf_pair_release(p, 145);
    CHECK_U64(g.n, 1);
    /* An exit older than the next release's items, pushed later. */
    push(p, leave(11, 160, SYS_munmap, 0, 11));
    perf_pair_release(p, UINT64_MAX);
    CHECK_U64(g.n, 2);
    CHECK(g.ev[1].tid == 11 && g.ev[1].args[1] == 8192);
    CHECK_U64(perf_pair_queued(p), 0);
    perf_pair_free(p);
}

TEST(exit_without_its_entry_is_dropped)
{
    struct got g = {0};
    struct perf_pair *p = perf_pair_new(collect, &g);
    push(p, leave(10, 100, SYS_mmap, 0x1000, 10));           /* entry filtered */
    push(p, enter(11, 110, SYS_mprotect, 4096, 11));
    push(p, leave(11, 120, SYS_mmap, 0x2000, 11));           /* another call's exit */
    push(p, leave(11, 130, SYS_mprotect, 0, 11));            /* its entry was taken */
    perf_pair_release(p, UINT64_MAX);
    CHECK_U64(g.n, 0);
    CHECK_U64(perf_pair_stats(p)->unpaired_exits, 3);
    perf_pair_free(p);
}

TEST(loss_voids_waiting_entries)
{
    struct got g = {0};
    struct perf_pair *p = perf_pair_new(collect, &g);
    /* CPU 0's ring: thread 10 enters mmap at 90 and migrates; CPU 1's
     * ring: its last record before a gap at 95, the LOST record (stamped
     * 150, after the record that follows it), thread 10's exit of a later
     * mmap whose entry was lost (140). Then thread 12's entry at 145 on
     * CPU 0, in the loss's window: void too. */
    push(p, enter(10, 90, SYS_mmap, 4 << 20, 10));
    push(p, enter(12, 145, SYS_mmap, 1 << 20, 12));
    push(p, leave(13, 95, SYS_munmap, 0, 13));
    push(p, lost(150, 7, 95));
    push(p, leave(10, 140, SYS_mmap, 0x5000, 10));   /* another call's exit */
    push(p, enter(12, 160, SYS_mmap, 2 << 20, 12));  /* after the loss: kept */
    push(p, leave(12, 210, SYS_mmap, 0x6000, 12));
    perf_pair_release(p, 220);
    CHECK_U64(g.n, 4);
    CHECK(g.ev[0].kind == PERF_EV_MAP_UNFINISHED && g.ev[0].tid == 10);
    CHECK_U64(g.ev[0].enter_time, 90);
    CHECK_U64(g.ev[0].time, 96);
    CHECK(g.ev[1].kind == PERF_EV_MAP_UNFINISHED && g.ev[1].tid == 12);
    CHECK_U64(g.ev[1].enter_time, 145);
    /* The loss is said once its window has passed, counting both. */
    CHECK(g.ev[2].kind == PERF_EV_LOST);
    CHECK(g.ev[2].lost == 7 && g.ev[2].lost_from == 95 && g.ev[2].lost_to == 150);
    CHECK_U64(g.ev[2].calls_voided, 2);
    CHECK_U64(g.ev[2].time, 150);
    CHECK(g.ev[3].kind == PERF_EV_MAP_CALL && g.ev[3].tid == 12 && g.ev[3].ret == 0x6000);
    CHECK_U64(g.ev[3].args[1], 2 << 20);
    const struct perf_pair_stats *st = perf_pair_stats(p);
    CHECK(st->voided == 2 && st->lost == 7 && st->unpaired_exits == 2);
    /* A loss found by the counters (a full ring), then the ring's own LOST
     * record for it, which adds no count but voids an entry in its window:
     * a second event says that. */
    push(p, enter(13, 300, SYS_munmap, 4096, 13));
    struct perf_item found = lost(400, 5, 250);
    found.by_counter = true;
    push(p, found);
    push(p, enter(14, 420, SYS_munmap, 4096, 14));
    push(p, lost(450, 0, 410));
    push(p, leave(14, 440, SYS_munmap, 0, 14));
    perf_pair_release(p, UINT64_MAX);
    CHECK_U64(g.n, 8);
    CHECK(g.ev[4].kind == PERF_EV_MAP_UNFINISHED && g.ev[4].tid == 13);
    CHECK(g.ev[5].kind == PERF_EV_LOST && g.ev[5].lost_by_counter && g.ev[5].lost == 5);
    CHECK_U64(g.ev[5].lost_from, 250);
    CHECK_U64(g.ev[5].calls_voided, 1);
    CHECK(g.ev[6].kind == PERF_EV_MAP_UNFINISHED && g.ev[6].tid == 14);
    CHECK(g.ev[7].kind == PERF_EV_LOST && g.ev[7].lost == 0 && !g.ev[7].lost_by_counter);
    CHECK_U64(g.ev[7].calls_voided, 1);
    CHECK_U64(perf_pair_stats(p)->lost, 12);
    perf_pair_free(p);
}

TEST(loss_is_said_when_its_window_has_passed)
{
    struct got g = {0};
    struct perf_pair *p = perf_pair_new(collect, &g);
    push(p, lost(150, 3, 95));
    perf_pair_release(p, 150); /* a record stamped 150 may still come */
    CHECK_U64(g.n, 0);
    perf_pair_release(p, 151);
    CHECK_U64(g.n, 1);
    CHECK(g.ev[0].kind == PERF_EV_LOST && g.ev[0].lost == 3 && g.ev[0].calls_voided == 0);
    /* Losses already counted that void nothing say nothing. */
    push(p, lost(300, 0, 200));
    perf_pair_release(p, UINT64_MAX);
    CHECK_U64(g.n, 1);
    perf_pair_free(p);
}

/* An entry stamped inside a loss's window that comes only after the loss
 * was said (late past the watermark) is void too, and said: a loss of its
 * own, no record lost, one call voided. */
TEST(entry_late_after_its_loss_was_said_is_counted)
{
    struct got g = {0};
    struct perf_pair *p = perf_pair_new(collect, &g);
    push(p, lost(150, 3, 95));
    perf_pair_release(p, 200);
    CHECK_U64(g.n, 1);
    CHECK(g.ev[0].kind == PERF_EV_LOST && g.ev[0].calls_voided == 0);
    push(p, enter(21, 120, SYS_mmap, 1 << 20, 21));
    push(p, leave(21, 210, SYS_mmap, 0x9000, 21));
    perf_pair_release(p, 300);
    CHECK_U64(g.n, 3);
    CHECK(g.ev[1].kind == PERF_EV_MAP_UNFINISHED && g.ev[1].tid == 21);
    CHECK(g.ev[2].kind == PERF_EV_LOST && g.ev[2].lost == 0);
    CHECK_U64(g.ev[2].calls_voided, 1);
    CHECK_U64(perf_pair_stats(p)->lost, 3);
    perf_pair_free(p);
}

TEST(second_copy_of_a_record_is_dropped)
{
    struct got g = {0};
    struct perf_pair *p = perf_pair_new(collect, &g);
    /* Thread 20 is covered by its own events (owner 20) and by events
     * inherited from thread 5: each record comes twice. */
    push(p, enter(20, 100, SYS_mmap, 4 << 20, 20));
    push(p, enter(20, 101, SYS_mmap, 4 << 20, 5));
    push(p, leave(20, 200, SYS_mmap, 0x7000, 5));
    push(p, leave(20, 201, SYS_mmap, 0x7000, 20));
    /* The same call again later, from one owner: a real second call. */
    push(p, enter(20, 300, SYS_mmap, 4 << 20, 20));
    push(p, leave(20, 301, SYS_mmap, 0x7000, 20));
    perf_pair_release(p, UINT64_MAX);
    CHECK_U64(g.n, 2);
    CHECK(g.ev[0].kind == PERF_EV_MAP_CALL && g.ev[1].kind == PERF_EV_MAP_CALL);
    CHECK_U64(g.ev[1].enter_time, 300);
    CHECK_U64(perf_pair_stats(p)->duplicates, 2);
    perf_pair_free(p);
}

TEST(exec_names_the_calling_thread)
{
    struct got g = {0};
    struct perf_pair *p = perf_pair_new(collect, &g);
    struct perf_item ex = enter(21, 100, SYS_execve, 0, 21);
    ex.is_exec_call = true;
    push(p, ex);
    /* A failed execve of another thread, earlier: not the one. */
    struct perf_item failed = enter(22, 50, SYS_execve, 0, 22);
    failed.is_exec_call = true;
    push(p, failed);
    push(p, (struct perf_item){.kind = PERF_ITEM_TASK_EXIT, .time = 110, .owner = 1000,
                               .pid = 1000, .tid = 1000});
    struct perf_item comm = {.kind = PERF_ITEM_COMM, .time = 120, .owner = 21, .pid = 1000,
                             .tid = 1000, .exec = true, .comm = "trace_map", .content = 9};
    push(p, comm);
    /* The new image's calls come from the leader's tid, through the
     * execing thread's events. */
    push(p, enter(1000, 130, SYS_mmap, 5 << 20, 21));
    push(p, leave(1000, 140, SYS_mmap, 0x8000, 21));
    perf_pair_release(p, UINT64_MAX);
    CHECK_U64(g.n, 3);
    CHECK(g.ev[0].kind == PERF_EV_THREAD_EXIT && g.ev[0].tid == 1000);
    CHECK(g.ev[1].kind == PERF_EV_EXEC && g.ev[1].tid == 1000 && g.ev[1].former_tid == 21);
    CHECK_STR(g.ev[1].comm, "trace_map");
    CHECK(g.ev[2].kind == PERF_EV_MAP_CALL && g.ev[2].tid == 1000 && g.ev[2].ret == 0x8000);
    perf_pair_free(p);
}

TEST(spawn_and_reused_tid)
{
    struct got g = {0};
    struct perf_pair *p = perf_pair_new(collect, &g);
    struct perf_item ex = {.kind = PERF_ITEM_TASK_EXIT, .time = 100, .owner = 5, .pid = 1000,
                           .tid = 30, .content = 77};
    push(p, ex);
    push(p, (struct perf_item){.kind = PERF_ITEM_FORK, .time = 101, .owner = 5, .pid = 1000,
                               .tid = 30, .ppid = 1000, .ptid = 1000, .content = 78});
    /* The new thread 30 ends at once, its record from another owner with
     * the same content: not a copy of the old thread's. */
    ex.time = 102;
    ex.owner = 6;
    push(p, ex);
    perf_pair_release(p, UINT64_MAX);
    CHECK_U64(g.n, 3);
    CHECK(g.ev[1].kind == PERF_EV_SPAWN && g.ev[1].tid == 30 && g.ev[1].parent_tid == 1000);
    CHECK(g.ev[2].kind == PERF_EV_THREAD_EXIT && g.ev[2].tid == 30);
    perf_pair_free(p);
}

TEST(stacks_are_owned_and_freed)
{
    struct got g = {0};
    struct perf_pair *p = perf_pair_new(collect, &g);
    struct perf_item it = enter(40, 100, SYS_mmap, 1 << 20, 40);
    it.stack = calloc(1, sizeof *it.stack + 64);
    it.stack->size = 64;
    push(p, it);
    struct perf_item dup = enter(40, 101, SYS_mmap, 1 << 20, 41);
    dup.stack = calloc(1, sizeof *dup.stack + 64);
    push(p, dup);
    push(p, leave(40, 110, SYS_mmap, 0x1000, 40));
    struct perf_item never = enter(41, 120, SYS_mmap, 1 << 20, 41);
    never.stack = calloc(1, sizeof *never.stack);
    push(p, never); /* still waiting when freed */
    perf_pair_release(p, UINT64_MAX);
    CHECK_U64(g.n, 1);
    CHECK_U64(g.stack_size[0], 64); /* the kept copy's, not the duplicate's */
    perf_pair_free(p); /* ASan: no leak, no double free */
    perf_pair_free(NULL);
}

/* The BPF reader's ring is read, then the programs' drop count: records
 * written after a drop, while the ring was being read, come before the
 * LOST. Thread 50: mmap A's entry read at one read; A's exit and mmap B's
 * entry dropped; B's exit read at the next read, with the count. B's exit
 * must not be paired with A's entry. */
TEST(bpf_loss_comes_before_what_was_written_after_it)
{
    struct got g = {0};
    struct perf_pair *p = perf_pair_new(collect, &g);
    struct perf_bpf_drops drops = {.seen = 0, .read_at = 5};
    struct perf_item lost_item;
    push(p, marked(enter(50, 10, SYS_mmap, 1 << 20, 0), 0));
    CHECK(!perf_bpf_drops_item(&drops, 0, 15, 16, &lost_item)); /* nothing dropped yet */
    perf_pair_release(p, 5);
    /* A's exit (t 30) and B's entry (t 40) were dropped; B's exit, written
     * at 60 while the reader was on its way, is read (its mark says two of
     * its thread's records were dropped before it); then the count. */
    push(p, marked(leave(50, 60, SYS_mmap, 0x7000, 0), 2));
    CHECK(perf_bpf_drops_item(&drops, 2, 99, 100, &lost_item));
    push(p, lost_item);
    perf_pair_release(p, UINT64_MAX);
    struct tally n = tally_of(&g);
    CHECK_U64(n.calls, 0);      /* no call made of A's entry and B's exit */
    CHECK_U64(n.unfinished, 1); /* A: its exit may be among the lost */
    CHECK_U64(perf_pair_stats(p)->unpaired_exits, 1);
    CHECK_U64(n.losses, 1);
    CHECK_U64(g.ev[n.last_loss].lost, 2);
    CHECK_U64(g.ev[n.last_loss].lost_from, 15); /* the count's last read, not 60 */
    CHECK_U64(g.ev[n.last_loss].lost_to, 100);
    /* The next read starts its window where this one looked. */
    CHECK(!perf_bpf_drops_item(&drops, 2, 130, 131, &lost_item));
    CHECK(perf_bpf_drops_item(&drops, 3, 160, 161, &lost_item));
    CHECK_U64(lost_item.lost, 1);
    CHECK_U64(lost_item.lost_from, 130);
    perf_pair_free(p);
}

/* Marked records (the BPF reader's) pair across a loss when their marks
 * say no record of the thread was dropped in between; an exit whose mark
 * moved voids its entry, counted in the open loss, or in a loss of its
 * own once that was said. */
TEST(marked_calls_pair_across_a_loss_unless_their_thread_lost_a_record)
{
    struct got g = {0};
    struct perf_pair *p = perf_pair_new(collect, &g);
    push(p, marked(enter(60, 10, SYS_mmap, 1 << 20, 0), 3));
    push(p, marked(enter(61, 12, SYS_munmap, 4096, 0), 0));
    push(p, marked(enter(62, 14, SYS_mmap, 2 << 20, 0), 5));
    struct perf_item drop = lost(50, 4, 11);
    drop.by_counter = drop.marked = true;
    push(p, drop);
    push(p, marked(leave(60, 30, SYS_mmap, 0x7000, 0), 3)); /* same mark: its own exit */
    push(p, marked(leave(61, 40, SYS_munmap, 0, 0), 2));    /* its thread lost records */
    perf_pair_release(p, 100);
    struct tally n = tally_of(&g);
    CHECK_U64(n.calls, 1);
    CHECK(g.ev[0].kind == PERF_EV_MAP_CALL && g.ev[0].tid == 60 && g.ev[0].ret == 0x7000);
    CHECK_U64(n.unfinished, 1);
    CHECK_U64(n.losses, 1);
    CHECK_U64(g.ev[n.last_loss].lost, 4);
    CHECK_U64(g.ev[n.last_loss].calls_voided, 1);
    /* Thread 62's exit, long after the loss was said, with a moved mark. */
    push(p, marked(leave(62, 400, SYS_mmap, 0x9000, 0), 6));
    perf_pair_release(p, 500);
    CHECK(g.ev[g.n - 2].kind == PERF_EV_MAP_UNFINISHED && g.ev[g.n - 2].tid == 62);
    CHECK(g.ev[g.n - 1].kind == PERF_EV_LOST && g.ev[g.n - 1].lost == 0);
    CHECK_U64(g.ev[g.n - 1].calls_voided, 1);
    CHECK_U64(perf_pair_stats(p)->voided, 2);
    perf_pair_free(p);
}

static struct perf_item wanting(struct perf_item it)
{
    it.wants_stack = true;
    return it;
}

static struct perf_item stack_sample(pid_t tid, uint64_t t, uint64_t size)
{
    struct perf_item it = {.kind = PERF_ITEM_STACK, .time = t, .pid = 1000, .tid = tid};
    it.stack = calloc(1, sizeof *it.stack + size);
    it.stack->size = size;
    return it;
}

/* The BPF reader's stacks come apart from their calls' records: each joins
 * the entry its thread has waiting when that entry wants one and began no
 * later; the rest are counted and freed (ASan: no leak), and an entry that
 * reaches its exit without its stack is counted. Pushed out of time order,
 * as two rings are read. */
TEST(a_stack_sample_joins_its_threads_waiting_entry)
{
    struct got g = {0};
    struct perf_pair *p = perf_pair_new(collect, &g);
    push(p, stack_sample(70, 11, 96));  /* thread 70's mmap, sampled after its entry */
    push(p, stack_sample(71, 19, 32));  /* before thread 71's entry: nothing waits yet */
    push(p, stack_sample(72, 31, 48));  /* thread 72's munmap wants none */
    push(p, stack_sample(74, 33, 40));  /* thread 74 has no entry (its record dropped) */
    push(p, marked(wanting(enter(70, 10, SYS_mmap, 1 << 20, 0)), 0));
    push(p, marked(wanting(enter(71, 20, SYS_mmap, 1 << 20, 0)), 0));
    push(p, marked(enter(72, 30, SYS_munmap, 4096, 0), 0));
    push(p, marked(wanting(enter(73, 32, SYS_mmap, 1 << 20, 0)), 0));
    push(p, marked(leave(70, 40, SYS_mmap, 0x7000, 0), 0));
    push(p, marked(leave(71, 41, SYS_mmap, 0x8000, 0), 0));
    push(p, marked(leave(72, 42, SYS_munmap, 0, 0), 0));
    perf_pair_release(p, 50);
    CHECK_U64(g.n, 3);
    CHECK(g.ev[0].tid == 70 && g.stack_size[0] == 96);
    CHECK(g.ev[1].tid == 71 && g.stack_size[1] == UINT64_MAX);
    CHECK(g.ev[2].tid == 72 && g.stack_size[2] == UINT64_MAX);
    CHECK_U64(perf_pair_stats(p)->stray_stacks, 3);
    CHECK_U64(perf_pair_stats(p)->stacks_missing, 1);
    /* A second sample for an entry that has one already is stray too, and
     * an entry still waiting at the end frees its stack with perf_pair. */
    push(p, stack_sample(73, 60, 16));
    push(p, stack_sample(73, 61, 16));
    perf_pair_release(p, 70);
    CHECK_U64(perf_pair_stats(p)->stray_stacks, 4);
    perf_pair_free(p);
}

UNIT_MAIN(UNIT_CASE(pairs_across_rings_in_time_order), UNIT_CASE(holds_what_is_past_the_watermark),
          UNIT_CASE(exit_without_its_entry_is_dropped), UNIT_CASE(loss_voids_waiting_entries),
          UNIT_CASE(loss_is_said_when_its_window_has_passed),
          UNIT_CASE(entry_late_after_its_loss_was_said_is_counted),
          UNIT_CASE(second_copy_of_a_record_is_dropped), UNIT_CASE(exec_names_the_calling_thread),
          UNIT_CASE(spawn_and_reused_tid), UNIT_CASE(stacks_are_owned_and_freed),
          UNIT_CASE(bpf_loss_comes_before_what_was_written_after_it),
          UNIT_CASE(marked_calls_pair_across_a_loss_unless_their_thread_lost_a_record),
          UNIT_CASE(a_stack_sample_joins_its_threads_waiting_entry))
