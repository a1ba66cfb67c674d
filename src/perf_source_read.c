/*
 * perf_source_read: the perf source's reading half: records from the
 * per-CPU rings decoded into perf_pair items, losses found by the rings'
 * LOST records and by the events' own counters. See include/perf_source.h
 * (perf_source_drain, perf_source_finish).
 */
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "monotonic.h"
#include "perf_source_internal.h"

/* FNV-1a: the duplicate check compares what two records say. */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}
#define HASH_SEED 0xcbf29ce484222325ULL

/* A raw entry (perf_rawsys.h): 0 to push it, 1 to leave it out (a call
 * not followed: shorter than --min-size, or not one of ours). An i386
 * call, or one that could be, is pushed as such for perf_pair to drop. */
static int raw_entry(struct perf_source *s, const struct perf_rec *r, struct perf_item *it)
{
    enum rawsys_abi abi = perf_rawsys_abi(r->regs_abi, r->regs, r->nregs, it->args);
    if (abi != RAWSYS_NATIVE) {
        it->not_native = true;
        it->abi_unsure = abi == RAWSYS_UNSURE;
        return 0;
    }
    enum syscall_id id;
    if (!perf_rawsys_wanted(it->nr, it->args, s->opt.min_size, &id))
        return 1;
    it->is_exec_call = id == SC_EXECVE || id == SC_EXECVEAT;
    return 0;
}

/* 0 with *it filled, 1 for a record left out, -1 for one that does not
 * decode. */
static int sample_item(struct perf_source *s, const struct event_info *ev,
                       const struct perf_rec *r, struct perf_item *it)
{
    const struct tp_info *t = &s->tps[ev->tp];
    uint64_t v;
    it->tp = t->fmt.id;
    it->content = hash_bytes(HASH_SEED, r->raw, r->raw_size);
    if (t->spec->role == TP_NEWTASK) {
        it->kind = PERF_ITEM_NEWTASK;
        if (!tp_field_get(t->child, r->raw, r->raw_size, &v))
            return -1;
        it->child = (pid_t)v;
        return tp_field_get(t->clone_flags, r->raw, r->raw_size, &it->clone_flags) ? 0 : -1;
    }
    if (!tp_field_get(t->nr, r->raw, r->raw_size, &v))
        return -1;
    it->nr = (int)(int64_t)v;
    if (t->spec->raw) {
        /* One raw event serves several calls: the duplicate check tells
         * them apart by number as the per-call events did by id. */
        it->tp = t->fmt.id ^ (uint32_t)it->nr << 12;
    }
    if (t->spec->role == TP_EXIT) {
        it->kind = PERF_ITEM_EXIT;
        if (!tp_field_get(t->ret, r->raw, r->raw_size, &v))
            return -1;
        it->ret = (int64_t)v;
        return 0;
    }
    it->kind = PERF_ITEM_ENTER;
    it->is_exec_call = t->spec->exec_call;
    for (unsigned i = 0; i < t->nargs; i++)
        if (!tp_field_get(t->args[i], r->raw, r->raw_size, &it->args[i]))
            return -1;
    if (t->spec->raw) {
        int rc = raw_entry(s, r, it);
        if (rc != 0 || it->not_native)
            return rc; /* no stack: nothing will be reported of it */
    }
    if (ev->stacks && r->regs_abi) {
        it->stack = perf_rec_stack(r);
        /* Without memory for the copy the call is still reported, stackless. */
    }
    return 0;
}

struct drain_ctx {
    struct perf_source *s;
    unsigned c;
};

static int on_record(const void *rec, size_t size, void *ctx)
{
    struct drain_ctx *d = ctx;
    struct perf_source *s = d->s;
    s->stats.records++;
    uint64_t id;
    /* Every event shares the identifier/tid/time/cpu part of the layout;
     * the rest depends on the event, found by its id. */
    if (!perf_rec_identifier(perf_source_sample_type(false, false), rec, size, &id)) {
        s->stats.bad_records++;
        return 0;
    }
    const struct event_info *ev = perf_source_find_event(s, id);
    const struct perf_event_header *h = rec;
    if (!ev && h->type != PERF_RECORD_LOST) {
        s->stats.bad_records++;
        return 0;
    }
    struct perf_rec r;
    bool stacks = ev && ev->stacks, regs = ev && (ev->regs || ev->stacks);
    if (perf_rec_decode(perf_source_sample_type(regs, stacks),
                        regs ? __builtin_popcountll(STACK_REGS_MASK) : 0, rec, size, &r) < 0) {
        s->stats.bad_records++;
        return 0;
    }
    struct perf_item it = {.time = r.time, .owner = ev ? ev->owner : 0, .cpu = r.cpu,
                           .pid = (pid_t)r.pid, .tid = (pid_t)r.tid};
    switch (r.kind) {
    case PERF_REC_SAMPLE: {
        int rc = sample_item(s, ev, &r, &it);
        if (rc != 0) {
            free(it.stack);
            if (rc < 0)
                s->stats.bad_records++;
            else
                s->stats.left_out++;
            return 0;
        }
        break;
    }
    case PERF_REC_COMM:
        it.kind = PERF_ITEM_COMM;
        it.exec = (r.misc & PERF_RECORD_MISC_COMM_EXEC) != 0;
        memcpy(it.comm, r.comm, sizeof it.comm);
        it.content = hash_bytes(HASH_SEED, r.comm, strlen(r.comm));
        it.content = hash_bytes(it.content, &it.exec, sizeof it.exec);
        break;
    case PERF_REC_FORK:
    case PERF_REC_EXIT:
        it.kind = r.kind == PERF_REC_FORK ? PERF_ITEM_FORK : PERF_ITEM_TASK_EXIT;
        it.ppid = (pid_t)r.ppid;
        it.ptid = (pid_t)r.ptid;
        it.content = hash_bytes(HASH_SEED, &r.pid, sizeof r.pid);
        it.content = hash_bytes(it.content, &r.tid, sizeof r.tid);
        break;
    case PERF_REC_LOST:
    case PERF_REC_LOST_SAMPLES: {
        it.kind = PERF_ITEM_LOST;
        /* Losses the counters already reported are not counted twice. */
        uint64_t known = r.lost < s->lost_credit[d->c] ? r.lost : s->lost_credit[d->c];
        s->lost_credit[d->c] -= known;
        it.lost = r.lost - known;
        if (!it.lost)
            return 0; /* all of it said already, with a window that covers this one */
        s->lost_reported[d->c] += it.lost;
        it.cpu = (uint32_t)s->cpus[d->c];
        it.lost_from = s->ring_last_time[d->c];
        break;
    }
    default:
        return 0;
    }
    if (r.time > s->ring_last_time[d->c])
        s->ring_last_time[d->c] = r.time;
    perf_pair_push(s->pair, &it);
    return 0;
}

/* The losses the kernel counted for ring c's events (PERF_FORMAT_LOST;
 * an inherited event's losses are counted on the event we opened). */
static uint64_t counted_losses(const struct perf_source *s, unsigned c)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < s->nfds; i++) {
        uint64_t v[2];
        if (s->fd_cpu[i] == c && read(s->fds[i], v, sizeof v) == (ssize_t)sizeof v)
            sum += v[1];
    }
    return sum;
}

/* Reports what the counters say ring c lost beyond what was reported. A
 * ring's LOST record only comes with the first record that fits again,
 * maybe long after the loss, and another ring's records must not be
 * paired across the loss meanwhile. */
static void check_losses(struct perf_source *s, unsigned c, uint64_t now)
{
    uint64_t counted = counted_losses(s, c);
    if (counted <= s->lost_reported[c])
        return;
    uint64_t delta = counted - s->lost_reported[c];
    s->lost_reported[c] += delta;
    s->lost_credit[c] += delta;
    struct perf_item it = {.kind = PERF_ITEM_LOST, .time = now, .cpu = (uint32_t)s->cpus[c],
                           .lost = delta, .lost_from = s->ring_last_time[c],
                           .by_counter = true};
    perf_pair_push(s->pair, &it);
}

/* A ring with less room than one more record may have lost some. */
static bool ring_was_full(const struct perf_source *s, unsigned c)
{
    uint64_t largest = s->opt.stacks ? s->opt.stack_bytes + 1024 : 512;
    return perf_ring_pending(&s->rings[c]) + largest > s->rings[c].data_size;
}

static void push_bpf_item(const struct perf_item *item, void *ctx)
{
    struct perf_source *s = ctx;
    perf_pair_push(s->pair, item);
}

static int read_rings(struct perf_source *s, char *why, size_t why_size)
{
    if (s->bpf) {
        perf_bpf_read(s->bpf, push_bpf_item, s);
        const struct perf_bpf_stats *bs = perf_bpf_stats(s->bpf);
        s->stats.records = bs->records;
        s->stats.bad_records = bs->bad_records;
        s->stats.bpf_unfollowed = bs->unfollowed;
        s->stats.stack_samples = bs->stack_samples;
        s->stats.stacks_lost = bs->stacks_lost;
        return 0;
    }
    for (unsigned c = 0; c < s->ncpus; c++) {
        if (!s->maps[c])
            continue;
        bool full = ring_was_full(s, c);
        uint64_t now = monotonic_ns();
        struct drain_ctx d = {s, c};
        if (perf_ring_drain(&s->rings[c], on_record, &d) < 0) {
            snprintf(why, why_size, "the perf ring buffer of CPU %d holds a record that "
                                    "does not parse", s->cpus[c]);
            return -1;
        }
        if (full)
            check_losses(s, c, now);
    }
    return 0;
}

#define PROGRAMS_CHECK_NS 1000000000ULL

/* Once a second: a BPF program on one of our tracepoints that answers 0
 * (a mmapwatch -k's do, for the calls of processes it does not follow)
 * makes the kernel drop our samples there, unseen by us: said once. */
static void check_programs(struct perf_source *s, uint64_t now)
{
    if (s->programs_said || now - s->programs_checked_at < PROGRAMS_CHECK_NS)
        return;
    s->programs_checked_at = now;
    for (unsigned t = 0; t < s->ntps; t++) {
        char names[128];
        unsigned n = s->tp_probe_fd[t] >= 0
                         ? perf_bpf_programs_on(s->tp_probe_fd[t], names, sizeof names)
                         : 0;
        if (!n)
            continue;
        log_warn("%u BPF program%s (%s) on tracepoint %s: one that answers 0 (a mmapwatch -k "
                 "does, for the processes it does not follow) makes the kernel drop this "
                 "reader's records there, and the calls they stand for go unseen%s",
                 n, n == 1 ? "" : "s", names, s->tps[t].spec->path,
                 s->tps[t].spec->raw ? "" : "; --perf-calls raw reads them elsewhere");
        s->programs_said = true;
        return;
    }
}

int perf_source_drain(struct perf_source *s, char *why, size_t why_size)
{
    /* Taken before the rings are read: a record stamped more than the
     * order window before it is in what we read (records are visible
     * microseconds after their time stamp). */
    uint64_t now = monotonic_ns();
    if (read_rings(s, why, why_size) < 0)
        return -1;
    if (!s->bpf)
        check_programs(s, now);
    if (now > s->opt.order_window_ns)
        perf_pair_release(s->pair, now - s->opt.order_window_ns);
    return 0;
}

int perf_source_catch_up(struct perf_source *s, char *why, size_t why_size)
{
    uint64_t now = monotonic_ns();
    if (read_rings(s, why, why_size) < 0)
        return -1;
    perf_pair_release(s->pair, now);
    return 0;
}

void perf_source_finish(struct perf_source *s)
{
    char why[256];
    if (read_rings(s, why, sizeof why) < 0)
        s->stats.bad_records++;
    /* A ring that stayed full until the end carries no LOST record: the
     * events' own counters (PERF_FORMAT_LOST, inherited children's losses
     * included) are the only trace of it. */
    for (unsigned c = 0; c < s->ncpus; c++)
        if (s->maps[c])
            check_losses(s, c, monotonic_ns());
    perf_pair_release(s->pair, UINT64_MAX);
}

