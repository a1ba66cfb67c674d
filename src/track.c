/*
 * track: decoded map calls -> region model updates and reported events.
 * See include/track.h for the reporting rules.
 */
#include "track.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dumper.h"
#include "json.h"
#include "maps.h"
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

/* Writes the event of call; with want_stack and -k, unwinds the thread
 * first (it is in its syscall-exit stop: held only for this). */
static void report_call(const struct track_policy *policy, struct task *task,
                        const struct map_call *call, bool want_stack, struct report *r)
{
    memset(r, 0, sizeof *r);
    r->origin.pid = task->pid;
    r->origin.tid = task->tid;
    clock_gettime(CLOCK_REALTIME, &r->origin.ts);
    task_read_comm(task, r->origin.comm);
    if (want_stack && policy->unwinder) {
        unwind_stack(policy->unwinder, &task->as->unwind, task->pid, task->tid, task->arch,
                     &r->stack);
        r->has_stack = true;
        bool complete = true;
        r->stack_json = stack_to_json(&r->stack, JSON_STACK_MAX, &complete);
        if (!complete)
            r->stack.truncated = true;
    }
    output_map_call(&r->origin, call, r->has_stack ? &r->stack : NULL, r->stack_json);
}

static void report_done(struct report *r)
{
    stack_release(&r->stack);
    free(r->stack_json);
}

static void report(const struct track_policy *policy, struct task *task,
                   const struct map_call *call)
{
    struct report r;
    report_call(policy, task, call, false, &r);
    report_done(&r);
}

/* A new reported region: its event (with its stack), its row in the
 * summary, then its dump. */
static void report_new_region(const struct track_policy *policy, struct task *task,
                              const struct map_call *call, const struct region *region)
{
    struct report r;
    report_call(policy, task, call, true, &r);
    bool writable = (region->prot & (PROT_READ | PROT_WRITE)) == (PROT_READ | PROT_WRITE);
    summary_add_region(policy->summary, region->id, region->end - region->start, writable,
                       r.origin.comm, r.has_stack ? &r.stack : NULL);
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
            .stack_json = r.stack_json,
        };
        memcpy(target.comm, r.origin.comm, sizeof target.comm);
        dumper_schedule(policy->dumper, &target);
    }
    report_done(&r);
}

static bool track_mmap(const struct track_policy *policy, struct task *task,
                       const struct map_call *call)
{
    struct region_set *regions = task->as->regions;
    bool large = call->len >= policy->min_size;
    if (call->failed) {
        if (!policy->report_failed || !large)
            return false;
        struct report r;
        report_call(policy, task, call, true, &r);
        report_done(&r);
        return true;
    }
    uint64_t start = call->result, end = range_end(start, call->len);
    if (large) {
        struct region r = {
            .start = start,
            .end = end,
            .prot = (int)call->prot,
            .flags = (int)call->flags,
            .fd = (int)call->fd,
            .offset = call->offset,
            .tid = task->tid,
        };
        clock_gettime(CLOCK_REALTIME, &r.mapped_at);
        r.id = ++last_region_id;
        if (region_set_insert(regions, &r) == 0) {
            report_new_region(policy, task, call, &r);
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
    report(policy, task, call);
    return true;
}

static bool track_munmap(const struct track_policy *policy, struct task *task,
                         const struct map_call *call)
{
    if (call->failed)
        return false;
    int touched = region_set_remove(task->as->regions, call->addr,
                                    range_end(call->addr, call->len), NULL);
    if (touched <= 0 && policy->min_size > 0)
        return false;
    report(policy, task, call);
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

static bool track_mremap(const struct track_policy *policy, struct task *task,
                         const struct map_call *call)
{
    if (call->failed)
        return false;
    struct region_set *regions = task->as->regions;
    uint64_t old_start = call->addr, new_start = call->result;
    bool was_reported = region_set_overlaps(regions, old_start, range_end(old_start, call->len));
    bool large = call->new_len >= policy->min_size;
    if (!was_reported && !large)
        return false;

    if (was_reported && (call->flags & MREMAP_DONTUNMAP)) {
        /* The old range stays mapped (emptied): copy, don't move. */
        const struct region *old = region_set_find(regions, old_start);
        if (old) {
            struct region copy = *old;
            copy.start = new_start;
            copy.end = range_end(new_start, call->new_len);
            region_set_insert(regions, &copy);
        }
    } else if (!was_reported || region_set_move(regions, old_start, call->len, new_start,
                                                call->new_len) == 0) {
        /* Grown past --min-size, or its first page was not ours: a region
         * from now on, with what attributes we can know. */
        struct region r = {
            .start = new_start,
            .end = range_end(new_start, call->new_len),
            .fd = -1,
            .tid = task->tid,
            .id = ++last_region_id,
        };
        attributes_from_maps(task->pid, new_start, &r);
        clock_gettime(CLOCK_REALTIME, &r.mapped_at);
        region_set_remove(regions, old_start, range_end(old_start, call->len), NULL);
        if (region_set_insert(regions, &r) == 0) {
            report_new_region(policy, task, call, &r);
            return true;
        }
    }
    report(policy, task, call);
    return true;
}

static bool track_mprotect(const struct track_policy *policy, struct task *task,
                           const struct map_call *call)
{
    if (call->failed)
        return false;
    int touched = region_set_protect(task->as->regions, call->addr,
                                     range_end(call->addr, call->len), (int)call->prot);
    if (touched <= 0 && policy->min_size > 0)
        return false;
    report(policy, task, call);
    return true;
}

bool track_may_report(const struct track_policy *policy, const struct task *task)
{
    switch (syscall_report_need(syscall_lookup(task->arch, task->nr), task->args,
                                policy->min_size)) {
    case REPORT_YES:
        return true;
    case REPORT_IF_TOUCHES: /* every map call has its range in args 0 and 1 */
        return region_set_overlaps(task->as->regions, task->args[0],
                                   range_end(task->args[0], task->args[1]));
    case REPORT_NEVER:
        break;
    }
    return false;
}

bool track_map_call(const struct track_policy *policy, struct task *task,
                    const struct map_call *call)
{
    switch (call->kind) {
    case MAP_CALL_MMAP:
        return track_mmap(policy, task, call);
    case MAP_CALL_MUNMAP:
        return track_munmap(policy, task, call);
    case MAP_CALL_MREMAP:
        return track_mremap(policy, task, call);
    case MAP_CALL_MPROTECT:
        return track_mprotect(policy, task, call);
    case MAP_CALL_NONE:
        break;
    }
    return false;
}
