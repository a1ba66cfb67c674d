/*
 * perf_pair: time order, duplicates, entry/exit pairs, losses and execs of
 * the perf source's records. See include/perf_pair.h.
 */
#include "perf_pair.h"

#include <stdlib.h>
#include <string.h>

/* Two copies of one record are written by the same kernel call, one right
 * after the other: a few microseconds apart at most. */
#define DUPLICATE_WINDOW_NS 1000000ULL

/* What is known about one thread. */
struct thread_state {
    pid_t tid;            /* 0: free slot */
    /* the last record seen from it, for the duplicate check */
    uint32_t last_owner;
    uint32_t last_kind;
    uint64_t last_content;
    uint64_t last_time;
    /* the entry waiting for its exit */
    bool pending;
    struct perf_item enter;
};

struct perf_pair {
    perf_emit_fn emit;
    void *ctx;
    struct perf_item *queue; /* pushed, not yet released */
    size_t nqueue, capqueue;
    uint64_t next_seq;
    uint64_t *seqs;          /* parallel to queue: push order, for a stable sort */
    uint64_t released;       /* the last watermark: everything up to it handled */
    uint64_t void_until;     /* entries up to this time are void (a loss ended then) */
    /* The loss being said: held until its window has passed, so that its
     * event counts the entries voided in the window too (they are handled
     * after it) and no call that began after it is thought voided. */
    bool loss_open;
    struct perf_ev loss;
    struct thread_state *threads; /* open addressing on tid */
    size_t nthreads, capthreads;
    struct perf_pair_stats stats;
};

struct perf_pair *perf_pair_new(perf_emit_fn emit, void *ctx)
{
    struct perf_pair *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->emit = emit;
    p->ctx = ctx;
    p->capthreads = 256;
    p->threads = calloc(p->capthreads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    return p;
}

void perf_pair_free(struct perf_pair *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nqueue; i++)
        free(p->queue[i].stack);
    for (size_t i = 0; i < p->capthreads; i++)
        if (p->threads[i].tid && p->threads[i].pending)
            free(p->threads[i].enter.stack);
    free(p->queue);
    free(p->seqs);
    free(p->threads);
    free(p);
}

size_t perf_pair_queued(const struct perf_pair *p) { return p->nqueue; }

const struct perf_pair_stats *perf_pair_stats(const struct perf_pair *p) { return &p->stats; }

int perf_pair_push(struct perf_pair *p, const struct perf_item *item)
{
    if (p->nqueue == p->capqueue) {
        size_t cap = p->capqueue ? p->capqueue * 2 : 1024;
        struct perf_item *q = realloc(p->queue, cap * sizeof *q);
        if (!q) {
            free(item->stack);
            return -1;
        }
        p->queue = q;
        uint64_t *s = realloc(p->seqs, cap * sizeof *s);
        if (!s) {
            free(item->stack);
            return -1;
        }
        p->seqs = s;
        p->capqueue = cap;
    }
    p->queue[p->nqueue] = *item;
    if (item->kind == PERF_ITEM_LOST) {
        /* Handled right after the ring's last record before the gap (and
         * never before what was already handed on), not at its own time
         * stamp, which is later than the record written after it. */
        struct perf_item *it = &p->queue[p->nqueue];
        it->lost_to = item->time;
        uint64_t after = item->lost_from > p->released ? item->lost_from : p->released;
        it->time = after < item->time ? after + 1 : item->time;
    }
    p->seqs[p->nqueue] = p->next_seq++;
    p->nqueue++;
    return 0;
}

/* ---- threads ------------------------------------------------------------------ */

static size_t slot_of(pid_t tid, size_t cap) { return ((size_t)tid * 2654435761u) & (cap - 1); }

static int grow_threads(struct perf_pair *p)
{
    size_t cap = p->capthreads * 2;
    struct thread_state *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < p->capthreads; i++) {
        if (!p->threads[i].tid)
            continue;
        size_t s = slot_of(p->threads[i].tid, cap);
        while (t[s].tid)
            s = (s + 1) & (cap - 1);
        t[s] = p->threads[i];
    }
    free(p->threads);
    p->threads = t;
    p->capthreads = cap;
    return 0;
}

/* The state of tid, created when new; NULL on allocation failure. Entries
 * are never removed (a reused tid takes its slot back). */
static struct thread_state *thread_get(struct perf_pair *p, pid_t tid)
{
    if (p->nthreads * 2 >= p->capthreads && grow_threads(p) < 0)
        return NULL;
    size_t s = slot_of(tid, p->capthreads);
    while (p->threads[s].tid && p->threads[s].tid != tid)
        s = (s + 1) & (p->capthreads - 1);
    if (!p->threads[s].tid) {
        memset(&p->threads[s], 0, sizeof p->threads[s]);
        p->threads[s].tid = tid;
        p->nthreads++;
    }
    return &p->threads[s];
}

static void drop_pending(struct thread_state *t)
{
    if (t->pending)
        free(t->enter.stack);
    t->pending = false;
    t->enter.stack = NULL;
}

/* ---- handling, in time order ------------------------------------------------------ */

/* A map call: its entry (kind CALL_ENTER), its entry with its exit, or
 * (exit_item NULL) an entry made void at time `when` by a loss. */
static void emit_map(struct perf_pair *p, enum perf_ev_kind kind, const struct perf_item *enter,
                     const struct perf_item *exit_item, uint64_t when)
{
    struct perf_ev ev = {
        .kind = kind,
        .time = exit_item ? exit_item->time : when,
        .pid = enter->pid,
        .tid = enter->tid,
        .cpu = exit_item ? exit_item->cpu : enter->cpu,
        .nr = enter->nr,
        .ret = exit_item ? exit_item->ret : 0,
        .enter_time = enter->time,
        .stack = enter->stack,
        .abi_unsure = enter->abi_unsure,
    };
    memcpy(ev.args, enter->args, sizeof ev.args);
    p->emit(&ev, p->ctx);
}

/* Whether item is the second copy of the record last seen from its
 * thread (see the header). Remembers it otherwise. */
static bool is_duplicate(struct thread_state *t, const struct perf_item *item)
{
    uint32_t kind = (uint32_t)item->kind << 24 ^ item->tp;
    bool dup = t->last_time && t->last_owner != item->owner && t->last_kind == kind &&
               t->last_content == item->content &&
               item->time - t->last_time <= DUPLICATE_WINDOW_NS;
    if (!dup) {
        t->last_owner = item->owner;
        t->last_kind = kind;
        t->last_content = item->content;
        t->last_time = item->time ? item->time : 1;
    }
    return dup;
}

/* Says the open loss, once its window has passed. A LOST record for
 * losses the counters reported already says something only when it voided
 * a call. */
static void say_loss(struct perf_pair *p)
{
    p->loss_open = false;
    if (p->loss.lost || p->loss.calls_voided)
        p->emit(&p->loss, p->ctx);
}

/* Opens a loss, or widens the open one. */
static void add_loss(struct perf_pair *p, const struct perf_item *it, uint64_t voided)
{
    if (it->lost_to > p->void_until)
        p->void_until = it->lost_to;
    struct perf_ev *l = &p->loss;
    if (!p->loss_open) {
        *l = (struct perf_ev){.kind = PERF_EV_LOST, .cpu = it->cpu, .lost_from = it->lost_from,
                              .lost_by_counter = it->by_counter};
        p->loss_open = true;
    }
    l->lost += it->lost;
    l->calls_voided += voided;
    if (it->lost_from < l->lost_from)
        l->lost_from = it->lost_from;
    if (it->lost_to > l->lost_to)
        l->lost_to = it->lost_to;
    l->lost_by_counter = l->lost_by_counter && it->by_counter;
    l->time = p->void_until;
}

/* A call voided after its loss was handled (an entry in the loss's window,
 * or a marked exit that says its thread lost a record) counts in the open
 * loss, open until void_until. One that comes after the loss was said (a
 * record late past the watermark, or a marked exit long after the loss)
 * opens a loss of its own, no record lost and one call voided, so that it
 * is still said. */
static void count_void(struct perf_pair *p, const struct perf_item *enter, uint64_t when)
{
    if (p->loss_open) {
        p->loss.calls_voided++;
        return;
    }
    struct perf_item none = {.kind = PERF_ITEM_LOST, .cpu = enter->cpu, .lost = 0,
                             .lost_from = enter->time, .lost_to = when,
                             .by_counter = true};
    add_loss(p, &none, 1);
}

/* A call whose result a loss may have taken: said (MAP_UNFINISHED at
 * `when`) and counted in a loss. */
static void void_call(struct perf_pair *p, const struct perf_item *enter, uint64_t when)
{
    emit_map(p, PERF_EV_MAP_UNFINISHED, enter, NULL, when);
    p->stats.voided++;
    count_void(p, enter, when);
}

/* An unmarked loss, just opened: every entry waiting is void; the events
 * say so at time `when` (the loss's place in the order). */
static void void_pending(struct perf_pair *p, uint64_t when)
{
    for (size_t i = 0; i < p->capthreads; i++) {
        struct thread_state *t = &p->threads[i];
        if (!t->tid || !t->pending)
            continue;
        if (!t->enter.is_exec_call)
            void_call(p, &t->enter, when);
        drop_pending(t);
    }
}

/* The thread of pid whose execve entry is waiting, latest first; its
 * entry is consumed. 0 when none. */
static pid_t take_exec_caller(struct perf_pair *p, pid_t pid, uint64_t before)
{
    struct thread_state *best = NULL;
    for (size_t i = 0; i < p->capthreads; i++) {
        struct thread_state *t = &p->threads[i];
        if (t->tid && t->pending && t->enter.is_exec_call && t->enter.pid == pid &&
            t->enter.time <= before && (!best || t->enter.time > best->enter.time))
            best = t;
    }
    if (!best)
        return 0;
    pid_t tid = best->tid;
    drop_pending(best);
    return tid;
}

/* A stack sample joins the entry its thread has waiting (see the header).
 * It has no copies to check (one sampling event per CPU) and is not a
 * record of the call's own stream, so the duplicate check never sees it. */
static void take_stack(struct perf_pair *p, struct perf_item *it)
{
    struct thread_state *t = thread_get(p, it->tid);
    if (t && t->pending && t->enter.wants_stack && !t->enter.stack) {
        t->enter.stack = it->stack;
        return;
    }
    p->stats.stray_stacks++;
    free(it->stack);
}

static void handle(struct perf_pair *p, struct perf_item *it)
{
    if (p->loss_open && it->time > p->void_until)
        say_loss(p);
    if (it->kind == PERF_ITEM_STACK) {
        take_stack(p, it);
        return;
    }
    if (it->kind == PERF_ITEM_LOST) {
        p->stats.lost += it->lost;
        add_loss(p, it, 0);
        if (!it->marked)
            void_pending(p, it->time);
        return;
    }
    /* A fork record is written by the creating thread. */
    pid_t writer = it->kind == PERF_ITEM_FORK ? it->ptid : it->tid;
    struct thread_state *t = thread_get(p, writer);
    if (!t) {
        free(it->stack);
        return;
    }
    if (is_duplicate(t, it)) {
        p->stats.duplicates++;
        free(it->stack);
        return;
    }
    struct perf_ev ev = {.time = it->time, .pid = it->pid, .tid = it->tid, .cpu = it->cpu};
    switch (it->kind) {
    case PERF_ITEM_NEWTASK:
        ev.kind = PERF_EV_NEWTASK;
        ev.child = it->child;
        ev.clone_flags = it->clone_flags;
        p->emit(&ev, p->ctx);
        return;
    case PERF_ITEM_ENTER:
        /* A thread makes one syscall at a time: an entry still waiting is
         * one whose exit we never saw (execve that succeeded in another
         * way, or a call cut short): it is dropped. */
        drop_pending(t);
        if (it->not_native) {
            p->stats.not_native++;
            emit_map(p, PERF_EV_NOT_NATIVE, it, NULL, it->time);
            free(it->stack);
            return;
        }
        if (!it->is_exec_call)
            emit_map(p, PERF_EV_CALL_ENTER, it, NULL, it->time);
        if (!it->marked && it->time <= p->void_until) {
            /* Began before a loss ended: its exit may be lost. */
            if (!it->is_exec_call)
                void_call(p, it, it->time);
            free(it->stack);
            return;
        }
        t->pending = true;
        t->enter = *it;
        return;
    case PERF_ITEM_EXIT:
        if (!t->pending || t->enter.is_exec_call) {
            p->stats.unpaired_exits++;
            drop_pending(t);
            return;
        }
        if (t->enter.marked && it->drop_mark != t->enter.drop_mark) {
            /* A record of this thread (or its bucket) was dropped in
             * between: the entry's own exit may be among them, and this a
             * later call's. */
            void_call(p, &t->enter, it->time);
            p->stats.unpaired_exits++;
            drop_pending(t);
            return;
        }
        if (t->enter.nr != it->nr) {
            p->stats.unpaired_exits++;
            drop_pending(t);
            return;
        }
        if (t->enter.wants_stack && !t->enter.stack)
            p->stats.stacks_missing++;
        emit_map(p, PERF_EV_MAP_CALL, &t->enter, it, it->time);
        drop_pending(t);
        return;
    case PERF_ITEM_COMM:
        ev.kind = it->exec ? PERF_EV_EXEC : PERF_EV_COMM;
        memcpy(ev.comm, it->comm, sizeof ev.comm);
        if (it->exec)
            ev.former_tid = take_exec_caller(p, it->pid, it->time);
        p->emit(&ev, p->ctx);
        return;
    case PERF_ITEM_FORK: {
        ev.kind = PERF_EV_SPAWN;
        ev.parent_pid = it->ppid;
        ev.parent_tid = it->ptid;
        /* A reused tid starts clean. */
        struct thread_state *child = thread_get(p, it->tid);
        if (child) {
            drop_pending(child);
            child->last_time = 0;
        }
        p->emit(&ev, p->ctx);
        return;
    }
    case PERF_ITEM_TASK_EXIT:
        ev.kind = PERF_EV_THREAD_EXIT;
        /* An execve entry stays: the exec's COMM record, written after the
         * old leader's exit, looks for it. */
        if (t->pending && !t->enter.is_exec_call)
            drop_pending(t);
        p->emit(&ev, p->ctx);
        return;
    case PERF_ITEM_LOST:
    case PERF_ITEM_STACK:
        return;
    }
}

/* Sort keys: time order, and push order among equal times (one ring's
 * order, or a record's two copies). */
struct sort_key {
    uint64_t time, seq;
    size_t index;
};

static int by_time_then_seq(const void *a, const void *b)
{
    const struct sort_key *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The open loss is said once nothing from its window can come. */
static void say_loss_passed(struct perf_pair *p, uint64_t watermark)
{
    if (p->loss_open && (watermark == UINT64_MAX || watermark > p->void_until))
        say_loss(p);
}

void perf_pair_release(struct perf_pair *p, uint64_t watermark)
{
    if (p->nqueue == 0) {
        say_loss_passed(p, watermark);
        return;
    }
    struct sort_key *keys = malloc(p->nqueue * sizeof *keys);
    if (!keys)
        return; /* retried at the next release */
    for (size_t i = 0; i < p->nqueue; i++)
        keys[i] = (struct sort_key){p->queue[i].time, p->seqs[i], i};
    qsort(keys, p->nqueue, sizeof *keys, by_time_then_seq);
    size_t n = 0;
    while (n < p->nqueue && keys[n].time <= watermark)
        n++;
    if (watermark > p->released)
        p->released = watermark;
    /* Handle the released ones in order, then keep the rest in order. */
    struct perf_item *rest = malloc((p->nqueue - n + 1) * sizeof *rest);
    uint64_t *rest_seq = malloc((p->nqueue - n + 1) * sizeof *rest_seq);
    if (!rest || !rest_seq) {
        free(rest);
        free(rest_seq);
        free(keys);
        return;
    }
    for (size_t i = 0; i < n; i++)
        handle(p, &p->queue[keys[i].index]);
    for (size_t i = n; i < p->nqueue; i++) {
        rest[i - n] = p->queue[keys[i].index];
        rest_seq[i - n] = keys[i].seq;
    }
    size_t left = p->nqueue - n;
    memcpy(p->queue, rest, left * sizeof *rest);
    memcpy(p->seqs, rest_seq, left * sizeof *rest_seq);
    p->nqueue = left;
    say_loss_passed(p, watermark);
    free(rest);
    free(rest_seq);
    free(keys);
}
