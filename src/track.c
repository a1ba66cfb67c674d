/*
 * track: decoded map calls -> region model updates and reported events.
 * See include/track.h for the reporting rules.
 */
#include "track.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dumper.h"
#include "growth.h"
#include "json.h"
#include "log.h"
#include "maps.h"
#include "memread.h"
#include "output.h"
#include "summary.h"
#include "unwind.h"

/* Region ids are unique for the whole run, so a dump scheduled for one
 * region can never be taken for a later region at the same address. */
static uint64_t last_region_id;

static uint64_t range_end(uint64_t start, uint64_t len)
{
    uint64_t aligned = decode_page_align(len);
    return start > UINT64_MAX - aligned ? UINT64_MAX : start + aligned;
}

/* One event being reported: who, and with -k the caller's stack. */
struct report {
    struct event_origin origin;
    struct stack stack;
    bool has_stack;
    char *stack_json;
};

static void thread_name(const struct track_policy *policy, const struct task *task,
                        const struct track_when *when, char out[PROCFS_COMM_MAX])
{
    if (when->comm) {
        snprintf(out, PROCFS_COMM_MAX, "%s", when->comm);
        return;
    }
    if (policy->thread_name) {
        policy->thread_name(policy->ctx, task->pid, task->tid, out);
        return;
    }
    snprintf(out, PROCFS_COMM_MAX, "?");
}

/* -k: the stack of the thread that made the call, walked over a snapshot:
 * the source's own, or one captured now from the thread the source holds
 * stopped. Empty when neither can be had. */
static void take_stack(const struct track_policy *policy, struct task *task,
                       const struct track_when *when, struct stack *out)
{
    struct stack_snapshot captured;
    const struct stack_snapshot *snap = when->stack;
    struct stack_regs regs;
    if (!snap && when->stopped && task->call.arch == SYSCALL_ARCH_X86_64 &&
        policy->capture_regs && policy->capture_regs(policy->ctx, task->tid, &regs) &&
        unwind_capture(policy->unwinder, &task->as->unwind, task->pid, task->tid, &regs,
                       &captured) == 0)
        snap = &captured;
    memset(out, 0, sizeof *out);
    if (snap)
        unwind_walk(policy->unwinder, &task->as->unwind, task->pid, task->tid, task->call.arch,
                    snap, out);
}

/* Who made the call and, with want_stack and -k, its stack (the thread
 * is unwound when the source holds it stopped: only for this). */
static void report_begin(const struct track_policy *policy, struct task *task,
                         const struct track_when *when, bool want_stack, struct report *r)
{
    memset(r, 0, sizeof *r);
    task->as->reported++;
    r->origin.pid = task->pid;
    r->origin.tid = task->tid;
    r->origin.ts = when->ts;
    thread_name(policy, task, when, r->origin.comm);
    if (want_stack && policy->unwinder) {
        take_stack(policy, task, when, &r->stack);
        r->has_stack = true;
        bool complete = true;
        r->stack_json = stack_to_json(&r->stack, JSON_STACK_MAX, &complete);
        if (!complete)
            r->stack.truncated = true;
    }
}

/* Writes the event of call (see report_begin). */
static void report_call(const struct track_policy *policy, struct task *task,
                        const struct map_call *call, const struct track_when *when,
                        bool want_stack, struct report *r)
{
    report_begin(policy, task, when, want_stack, r);
    output_map_call(&r->origin, call, r->has_stack ? &r->stack : NULL, r->stack_json,
                    when->stopped);
}

static void report_done(struct report *r)
{
    stack_release(&r->stack);
    free(r->stack_json);
}

static void report(const struct track_policy *policy, struct task *task,
                   const struct map_call *call, const struct track_when *when)
{
    struct report r;
    report_call(policy, task, call, when, false, &r);
    report_done(&r);
}

/* A new reported region's row in the summary (a part grown in place,
 * grew != NULL, counts as growth of its area), then its dump. */
static void region_born(const struct track_policy *policy, struct task *task,
                        const struct region *region, const struct report *r,
                        const struct growth_area *grew)
{
    bool writable = (region->prot & (PROT_READ | PROT_WRITE)) == (PROT_READ | PROT_WRITE);
    if (grew)
        summary_add_growth(policy->summary, region->id, region->end - region->start,
                           grew->kind != GROWTH_RESERVATION, r->origin.comm,
                           r->has_stack ? &r->stack : NULL);
    else
        summary_add_region(policy->summary, region->id, region->end - region->start, writable,
                           r->origin.comm, r->has_stack ? &r->stack : NULL);
    if (policy->dumper) {
        struct dump_target target = {
            .id = region->id,
            .pid = task->pid,
            .tid = task->tid,
            .addr = region->start,
            .len = region->end - region->start,
            .prot = region->prot,
            .flags = region->flags,
            .mapped_at = region->mapped_at,
            .stack_json = r->stack_json,
        };
        memcpy(target.comm, r->origin.comm, sizeof target.comm);
        dumper_schedule(policy->dumper, &target);
    }
}

/* A new reported region: its event (with its stack), its row in the
 * summary, then its dump. */
static void report_new_region(const struct track_policy *policy, struct task *task,
                              const struct map_call *call, const struct track_when *when,
                              const struct region *region)
{
    struct report r;
    report_call(policy, task, call, when, true, &r);
    region_born(policy, task, region, &r, NULL);
    report_done(&r);
}

/* ---- regions mapped before the attach (adopt.h) ----------------------------- */

bool track_adopt_region(const struct track_policy *policy, struct task *leader, uint64_t start,
                        uint64_t end, int prot, bool shared, const struct track_when *when)
{
    struct region region = {
        .start = start,
        .end = end,
        .prot = prot,
        .flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS,
        .fd = -1,
        .tid = leader->tid,
        .mapped_at = when->ts,
        .born_ns = when->done_ns,
        .id = ++last_region_id,
    };
    if (region_set_insert(leader->as->regions, &region) < 0)
        return false;
    struct report r;
    report_begin(policy, leader, when, false, &r);
    struct existing_view x = {.addr = start, .len = end - start, .id = region.id, .prot = prot,
                              .shared = shared};
    output_existing(&r.origin, &x);
    region_born(policy, leader, &region, &r, NULL);
    report_done(&r);
    return true;
}

/* ---- only what existed when the call entered ------------------------------ */

/* The parts of [start, end) covered by regions born at or before a time. */
struct older_parts {
    uint64_t start, end, born_limit;
    uint64_t (*parts)[2];
    size_t n, cap;
    bool newer;      /* a region born later overlaps the range */
    bool short_of_memory;
};

static int collect_older(const struct region *r, void *ctx)
{
    struct older_parts *o = ctx;
    if (r->born_ns > o->born_limit) {
        o->newer = true;
        return 0;
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        uint64_t(*grown)[2] = realloc(o->parts, cap * sizeof *grown);
        if (!grown) {
            o->short_of_memory = true;
            return 1;
        }
        o->parts = grown;
        o->cap = cap;
    }
    o->parts[o->n][0] = r->start > o->start ? r->start : o->start;
    o->parts[o->n][1] = r->end < o->end ? r->end : o->end;
    o->n++;
    return 0;
}

enum older_op { OLDER_COUNT, OLDER_REMOVE, OLDER_PROTECT };

/* Applies op to the regions within [start, end) that existed at
 * born_limit, leaving any born later alone. Returns the number of regions
 * touched. */
static int apply_to_older(struct region_set *regions, uint64_t start, uint64_t end,
                          uint64_t born_limit, enum older_op op, int prot)
{
    struct older_parts o = {.start = start, .end = end, .born_limit = born_limit};
    region_set_foreach_in(regions, start, end, collect_older, &o);
    int touched = 0;
    if (op == OLDER_COUNT || o.n == 0) {
        touched = (int)o.n;
    } else if (!o.newer) {
        /* The common case: the whole range at once, as the kernel did. */
        touched = op == OLDER_REMOVE ? region_set_remove(regions, start, end, NULL)
                                     : region_set_protect(regions, start, end, prot);
    } else {
        for (size_t i = 0; i < o.n; i++) {
            int rc = op == OLDER_REMOVE
                         ? region_set_remove(regions, o.parts[i][0], o.parts[i][1], NULL)
                         : region_set_protect(regions, o.parts[i][0], o.parts[i][1], prot);
            touched += rc > 0 ? rc : 0;
        }
    }
    free(o.parts);
    return touched;
}

/* The threads of as whose munmap or mremap, in flight now (events come in
 * time order, so it entered before the mmap returned), removes part of
 * [start, end). */
#define REMOVERS_MAX 16

struct remover_search {
    const struct addr_space *as;
    uint64_t start, end;
    struct task *found[REMOVERS_MAX];
    size_t n;
};

static void find_remover(struct task *t, void *ctx)
{
    struct remover_search *s = ctx;
    if (s->n == REMOVERS_MAX || t->as != s->as || !t->call.active)
        return;
    enum syscall_id id = syscall_lookup(t->call.arch, t->call.nr);
    if (id != SC_MUNMAP && id != SC_MREMAP)
        return;
    uint64_t start = t->call.args[0], end = range_end(start, t->call.args[1]);
    if (start < s->end && end > s->start)
        s->found[s->n++] = t;
}

static int is_certain(const struct region *r, void *ctx)
{
    (void)ctx;
    return !r->uncertain;
}

/* A successful mmap without MAP_FIXED returned [start, end), which
 * overlaps regions: they are gone already, removed by a call of another
 * thread whose result has not come yet. Ends them now on its behalf; its
 * own result reports them. */
static void end_reused(const struct track_policy *policy, struct task *task, uint64_t start,
                       uint64_t end)
{
    struct region_set *regions = task->as->regions;
    struct remover_search s = {.as = task->as, .start = start, .end = end};
    task_foreach(policy->tasks, find_remover, &s);
    for (size_t i = 0; i < s.n && region_set_overlaps(regions, start, end); i++) {
        struct in_flight *c = &s.found[i]->call;
        uint64_t c_start = c->args[0], c_end = range_end(c_start, c->args[1]);
        if (syscall_lookup(c->arch, c->nr) == SC_MREMAP && !c->has_moved) {
            /* Moved, not ended: its result puts it at its new address. */
            const struct region *old = region_set_find(regions, c_start);
            if (old && old->born_ns <= c->entered_ns) {
                c->moved = *old;
                c->has_moved = true;
            }
        }
        int n = apply_to_older(regions, c_start, c_end, c->entered_ns, OLDER_REMOVE, 0);
        c->ended_early += n > 0 ? (unsigned)n : 0;
    }
    if (!region_set_overlaps(regions, start, end))
        return;
    /* No call in flight explains it: an unmap we never saw. Said, and the
     * region ends here rather than lying about the new mapping. A region
     * marked uncertain by lost records was already said to be in doubt (the
     * lost event counts it): its unmap was most likely among them. */
    if (region_set_foreach_in(regions, start, end, is_certain, NULL))
        log_warn("process %d: thread %d's mmap got 0x%" PRIx64 "-0x%" PRIx64
                 ", part of a region whose unmap was not seen; that region ends here",
                 (int)task->pid, (int)task->tid, start, end);
    else
        log_info("process %d: thread %d's mmap got 0x%" PRIx64 "-0x%" PRIx64
                 ", part of a region made uncertain by lost records; that region ends here",
                 (int)task->pid, (int)task->tid, start, end);
    region_set_remove(regions, start, end, NULL);
}

/* ---- the calls ---------------------------------------------------------------- */

static bool track_mmap(const struct track_policy *policy, struct task *task,
                       const struct map_call *call, const struct track_when *when)
{
    struct region_set *regions = task->as->regions;
    bool large = call->len >= policy->min_size &&
                 (policy->max_size == 0 || call->len <= policy->max_size);
    if (call->failed) {
        if (!policy->report_failed || !large)
            return false;
        struct report r;
        report_call(policy, task, call, when, true, &r);
        report_done(&r);
        return true;
    }
    uint64_t start = call->result, end = range_end(start, call->len);
    if (!(call->flags & MAP_FIXED) && region_set_overlaps(regions, start, end))
        end_reused(policy, task, start, end);
    if (large) {
        struct region r = {
            .start = start,
            .end = end,
            .prot = (int)call->prot,
            .flags = (int)call->flags,
            .fd = (int)call->fd,
            .offset = call->offset,
            .tid = task->tid,
            .mapped_at = when->ts,
            .born_ns = when->done_ns,
        };
        r.id = ++last_region_id;
        if (region_set_insert(regions, &r) == 0) {
            report_new_region(policy, task, call, when, &r);
            return true;
        }
    } else if (region_set_overlaps(regions, start, end)) {
        /* A small MAP_FIXED mapping inside a reported region is how JVMs
         * commit reserved memory: it stays part of that region, with the
         * new protection. */
        region_set_protect(regions, start, end, (int)call->prot);
    } else {
        return false;
    }
    report(policy, task, call, when);
    return true;
}

static bool track_munmap(const struct track_policy *policy, struct task *task,
                         const struct map_call *call, const struct track_when *when)
{
    unsigned early = task->call.ended_early;
    if (call->failed && early == 0)
        return false;
    int touched = apply_to_older(task->as->regions, call->addr, range_end(call->addr, call->len),
                                 task->call.entered_ns, OLDER_REMOVE, 0);
    if (touched <= 0 && early == 0 && policy->min_size > 0)
        return false;
    report(policy, task, call, when);
    return true;
}

/* A region that becomes reported by growing (mremap) was mapped before
 * we cared: its protection and sharing come from /proc/PID/maps (rare:
 * only when a region grows past --min-size). */
static void attributes_from_maps(pid_t pid, uint64_t addr, struct region *r)
{
    r->prot = PROT_READ | PROT_WRITE;
    r->flags = MAP_PRIVATE | MAP_ANONYMOUS;
    struct maps_list list = {0}; /* maps_read reuses what it is given */
    if (maps_read(pid, false, &list) < 0)
        return;
    const struct map_entry *e = maps_lookup(&list, addr);
    if (e) {
        r->prot = (e->prot[0] == 'r' ? PROT_READ : 0) | (e->prot[1] == 'w' ? PROT_WRITE : 0) |
                  (e->prot[2] == 'x' ? PROT_EXEC : 0);
        r->flags = (e->prot[3] == 's' ? MAP_SHARED : MAP_PRIVATE) |
                   (e->path[0] == '\0' ? MAP_ANONYMOUS : 0);
        r->offset = e->offset;
    }
    maps_release(&list);
}

/* The mremap's region was taken out early (end_reused): it lands at its
 * new address now. */
static void land_moved(struct region_set *regions, const struct in_flight *c,
                       const struct map_call *call, uint64_t born_ns)
{
    struct region r = c->moved;
    if ((r.flags & MAP_ANONYMOUS) == 0 && call->addr > r.start)
        r.offset += call->addr - r.start;
    r.start = call->result;
    r.end = range_end(call->result, call->new_len);
    r.born_ns = born_ns;
    region_set_insert(regions, &r);
}

static bool track_mremap(const struct track_policy *policy, struct task *task,
                         const struct map_call *call, const struct track_when *when)
{
    if (call->failed)
        return false;
    struct region_set *regions = task->as->regions;
    const struct in_flight *c = &task->call;
    uint64_t old_start = call->addr, new_start = call->result;
    uint64_t old_end = range_end(old_start, call->len);
    bool was_reported =
        c->has_moved ||
        apply_to_older(regions, old_start, old_end, c->entered_ns, OLDER_COUNT, 0) > 0;
    const struct region *at_old = region_set_find(regions, old_start);
    bool old_first_page = at_old && at_old->born_ns <= c->entered_ns;
    bool large = call->new_len >= policy->min_size &&
                 (policy->max_size == 0 || call->new_len <= policy->max_size);
    if (!was_reported && !large)
        return false;

    if (was_reported && (call->flags & MREMAP_DONTUNMAP)) {
        /* The old range stays mapped (emptied): copy, don't move. */
        if (c->has_moved || old_first_page) {
            struct region copy = c->has_moved ? c->moved : *at_old;
            copy.start = new_start;
            copy.end = range_end(new_start, call->new_len);
            copy.born_ns = when->done_ns;
            region_set_insert(regions, &copy);
        }
    } else if (was_reported && c->has_moved) {
        land_moved(regions, c, call, when->done_ns);
    } else if (!was_reported || !old_first_page ||
               region_set_move(regions, old_start, call->len, new_start, call->new_len) == 0) {
        /* Grown past --min-size, or its first page was not ours: a region
         * from now on, with what attributes we can know. */
        struct region r = {
            .start = new_start,
            .end = range_end(new_start, call->new_len),
            .fd = -1,
            .tid = task->tid,
            .id = ++last_region_id,
            .mapped_at = when->ts,
            .born_ns = when->done_ns,
        };
        attributes_from_maps(task->pid, new_start, &r);
        apply_to_older(regions, old_start, old_end, c->entered_ns, OLDER_REMOVE, 0);
        if (region_set_insert(regions, &r) == 0) {
            report_new_region(policy, task, call, when, &r);
            return true;
        }
    }
    report(policy, task, call, when);
    return true;
}

static bool track_mprotect(const struct track_policy *policy, struct task *task,
                           const struct map_call *call, const struct track_when *when)
{
    if (call->failed)
        return false;
    int touched = apply_to_older(task->as->regions, call->addr, range_end(call->addr, call->len),
                                 task->call.entered_ns, OLDER_PROTECT, (int)call->prot);
    if (touched <= 0 && policy->min_size > 0)
        return false;
    report(policy, task, call, when);
    return true;
}

/* ---- growth in place (growth.h) ------------------------------------------------ */

/* glibc's arena heaps (arena.c): HEAP_MAX_SIZE on 64-bit, each heap
 * aligned to it, its first bytes a heap_info: the arena, the previous
 * heap, the size in use and the size made accessible. */
#define MALLOC_HEAP_MAX (64ULL << 20)

struct malloc_heap_info {
    uint64_t arena, prev, size, mprotect_size;
};

/* Whether area a of process pid is a glibc arena heap: its shape, then
 * its header, read only if its page is present (reading a swapped-out or
 * untouched page would grow the target). */
static bool is_malloc_heap(pid_t pid, const struct growth_area *a)
{
    if (a->start % MALLOC_HEAP_MAX != 0 || a->end - a->start > MALLOC_HEAP_MAX)
        return false;
    uint64_t flags = 0;
    if (memread_page_flags(pid, a->start, 1, &flags) < 0 || !(flags & MEMREAD_PAGE_PRESENT))
        return false;
    struct malloc_heap_info h;
    if (memread_read(pid, a->start, &h, sizeof h) != (ssize_t)sizeof h)
        return false;
    uint64_t reserved = a->end - a->start;
    return h.arena != 0 && h.size != 0 && h.size <= reserved && h.mprotect_size <= reserved &&
           (h.prev == 0 || h.prev % MALLOC_HEAP_MAX == 0);
}

bool track_label_area(pid_t pid, struct growth *g, const struct growth_area *a)
{
    if (a->label_checked || a->kind != GROWTH_RESERVATION)
        return a->kind == GROWTH_MALLOC_HEAP;
    bool yes = is_malloc_heap(pid, a);
    /* A header not written yet (a heap whose first commit this is) is
     * looked for again at the next report. */
    if (yes || a->committed > 0)
        growth_label(g, a->id, yes);
    return yes;
}

/* One step crossed: the growth event (with the stack of the call that
 * crossed it), and the part committed since the last report becomes a
 * reported region: summary row and dump, as a new mmap's. */
static void report_growth(const struct track_policy *policy, struct task *task,
                          const struct track_when *when, const struct growth_step *step,
                          const char *call_name)
{
    const struct growth_area *a = step->area;
    track_label_area(task->pid, task->as->growth, a);
    struct growth_view view = {
        .kind = growth_kind_name(a->kind),
        .call = call_name,
        .start = a->start,
        .reserved = a->end - a->start,
        .committed = a->committed,
        .gained = step->gained,
        .new_addr = step->new_lo,
        .new_len = step->new_hi - step->new_lo,
    };
    struct report r;
    report_begin(policy, task, when, true, &r);
    output_growth(&r.origin, &view, r.has_stack ? &r.stack : NULL, r.stack_json);
    if (step->new_hi > step->new_lo) {
        struct region part = {
            .start = step->new_lo,
            .end = step->new_hi,
            .prot = PROT_READ | PROT_WRITE,
            .flags = MAP_PRIVATE | MAP_ANONYMOUS,
            .fd = -1,
            .tid = task->tid,
            .mapped_at = when->ts,
            .born_ns = when->done_ns,
            .id = ++last_region_id,
        };
        if (region_set_insert(task->as->regions, &part) == 0)
            region_born(policy, task, &part, &r, a);
    }
    report_done(&r);
}

/* Applies a successful call to the areas watched for growth; reports the
 * steps it crossed. */
static bool track_growth(const struct track_policy *policy, struct task *task,
                         const struct map_call *call, const struct track_when *when)
{
    if (call->failed)
        return false;
    struct growth *g = task->as->growth;
    struct growth_step steps[GROWTH_STEPS_MAX];
    uint64_t step = policy->min_size;
    size_t n = 0;
    const char *name = "?";
    switch (call->kind) {
    case MAP_CALL_MMAP:
        name = "mmap";
        /* --max-size leaves larger reservations unwatched. */
        n = growth_mmap(g, call->result, range_end(call->result, call->len), (int)call->prot,
                        (int)call->flags,
                        policy->max_size && call->len > policy->max_size ? UINT64_MAX : step,
                        step, steps);
        break;
    case MAP_CALL_MUNMAP:
        growth_unmap(g, call->addr, range_end(call->addr, call->len));
        break;
    case MAP_CALL_MREMAP:
        name = "mremap";
        n = growth_remap(g, call->addr, decode_page_align(call->len), call->result,
                         decode_page_align(call->new_len), step, steps);
        break;
    case MAP_CALL_MPROTECT:
        name = "mprotect";
        n = growth_protect(g, call->addr, range_end(call->addr, call->len), (int)call->prot,
                           step, steps);
        break;
    case MAP_CALL_BRK: {
        name = "brk";
        uint64_t old_end;
        uint64_t new_end = decode_page_align(call->result);
        if (growth_brk_end(g, &old_end) && new_end < old_end) /* shrunk: those parts are gone */
            region_set_remove(task->as->regions, new_end, decode_page_align(old_end), NULL);
        n = growth_brk(g, new_end, step, steps); /* the heap's mapping ends on a page */
        break;
    }
    case MAP_CALL_NONE:
        break;
    }
    for (size_t i = 0; i < n; i++)
        report_growth(policy, task, when, &steps[i], name);
    return n > 0;
}

bool track_may_report(const struct track_policy *policy, const struct task *task)
{
    const struct in_flight *c = &task->call;
    enum syscall_id id = syscall_lookup(c->arch, c->nr);
    if (syscall_desc(id)->rule.grows) /* brk: unless it can neither shrink nor cross a step */
        return growth_brk_want_result(task->as->growth, decode_page_align(c->args[0]),
                                      policy->min_size);
    switch (syscall_report_need(id, c->args, policy->min_size, policy->max_size)) {
    case REPORT_YES:
        return true;
    case REPORT_IF_TOUCHES: /* every map call has its range in args 0 and 1 */
        return region_set_overlaps(task->as->regions, c->args[0],
                                   range_end(c->args[0], c->args[1])) ||
               growth_overlaps(task->as->growth, c->args[0], range_end(c->args[0], c->args[1]));
    case REPORT_NEVER:
        break;
    }
    return false;
}

bool track_map_call(const struct track_policy *policy, struct task *task,
                    const struct map_call *call, const struct track_when *when)
{
    bool reported = false;
    switch (call->kind) {
    case MAP_CALL_MMAP:
        reported = track_mmap(policy, task, call, when);
        break;
    case MAP_CALL_MUNMAP:
        reported = track_munmap(policy, task, call, when);
        break;
    case MAP_CALL_MREMAP:
        reported = track_mremap(policy, task, call, when);
        break;
    case MAP_CALL_MPROTECT:
        reported = track_mprotect(policy, task, call, when);
        break;
    case MAP_CALL_BRK:
    case MAP_CALL_NONE:
        break;
    }
    return track_growth(policy, task, call, when) || reported;
}
